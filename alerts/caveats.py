"""Handling caveats: TLP 2.0, handling codes H0 to H3, and originator control."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from alerts.errors import InvalidValue


class Tlp(enum.Enum):
    """Traffic Light Protocol 2.0, ordered from least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _TLP_ORDER.index(self)

    @property
    def label(self) -> str:
        return f"TLP:{self.value}"

    @property
    def meaning(self) -> str:
        return _TLP_MEANING[self]

    @classmethod
    def parse(cls, text: str) -> Tlp:
        key = text.strip().upper().removeprefix("TLP:").replace(" ", "").replace("_", "+")
        key = {"WHITE": "CLEAR", "AMBER-STRICT": "AMBER+STRICT", "STRICT": "AMBER+STRICT"}.get(key, key)
        for tlp in cls:
            if tlp.value == key:
                return tlp
        raise InvalidValue("TLP", text, "clear, green, amber, amber+strict, red", "tlp:amber")


_TLP_ORDER = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
_TLP_MEANING = {
    Tlp.CLEAR: "no limit on disclosure",
    Tlp.GREEN: "the network's community only",
    Tlp.AMBER: "recipient organisations only, need to know",
    Tlp.AMBER_STRICT: "the recipient organisation only",
    Tlp.RED: "named recipients only, not to be passed on",
}


class Handling(enum.Enum):
    """Handling codes: what the recipient may do with the information beyond the TLP."""

    H0 = "H0"
    H1 = "H1"
    H2 = "H2"
    H3 = "H3"

    @property
    def meaning(self) -> str:
        return _HANDLING_MEANING[self]

    @property
    def implies_orcon(self) -> bool:
        return self in (Handling.H2, Handling.H3)

    @classmethod
    def parse(cls, text: str) -> Handling:
        key = text.strip().upper()
        if key in ("0", "1", "2", "3"):
            key = "H" + key
        try:
            return cls(key)
        except ValueError:
            raise InvalidValue("Handling code", text, "H0, H1, H2, H3", "handling:H2") from None


_HANDLING_MEANING = {
    Handling.H0: "may be shared within law enforcement",
    Handling.H1: "recipient agency only, no onward sharing outside it",
    Handling.H2: "no onward sharing without the originator's consent",
    Handling.H3: "originator's consent for any onward sharing or use in proceedings",
}


@dataclass(frozen=True, slots=True)
class Caveat:
    """The handling caveats an item carries; the router enforces them, every delivery shows them."""

    tlp: Tlp = Tlp.AMBER
    handling: Handling = Handling.H0
    orcon: bool = False

    @property
    def originator_controlled(self) -> bool:
        return self.orcon or self.handling.implies_orcon

    @property
    def protect_content(self) -> bool:
        """Whether platforms that can forbid forwarding and saving should do so."""
        return self.tlp.rank >= Tlp.AMBER.rank or self.originator_controlled

    def label(self) -> str:
        parts = [self.tlp.label, self.handling.value]
        if self.originator_controlled:
            parts.append("ORCON")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.label()
