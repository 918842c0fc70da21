"""Source grading on the Admiralty scale: reliability A to F, credibility 1 to 6."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.errors import InvalidValue

RELIABILITY = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY = {
    "1": "confirmed by other sources",
    "2": "probably true",
    "3": "possibly true",
    "4": "doubtful",
    "5": "improbable",
    "6": "truth cannot be judged",
}


@dataclass(frozen=True, slots=True)
class Grading:
    reliability: str
    credibility: str

    @classmethod
    def parse(cls, text: str) -> Grading:
        key = text.strip().upper().replace("/", "").replace("-", "").replace(" ", "")
        if len(key) == 2 and key[0] in RELIABILITY and key[1] in CREDIBILITY:
            return cls(key[0], key[1])
        raise InvalidValue(
            "Grade", text, "source reliability A-F then information credibility 1-6", "grade:B2"
        )

    @property
    def code(self) -> str:
        return self.reliability + self.credibility

    def describe(self) -> str:
        return f"{self.code} (source {RELIABILITY[self.reliability]}; information {CREDIBILITY[self.credibility]})"

    def __str__(self) -> str:
        return self.code

