"""Sharing arrangements: on what basis one organisation may give an item to another.

Liaison networks share under agreements: a memorandum of understanding between two countries, a
multilateral agreement, or simply the network's terms of reference. The router asks, for every
recipient, whether the originator's organisation has a basis to share with the recipient's on the
item's topic. The bases, in the order they are tried:

1. the same organisation: no arrangement is needed to share inside it;
2. the coordinating office (kind "coordinator"): it takes part in every exchange of the network
   (urgent copies, escalations, oversight), so it needs no arrangement in either direction;
3. network membership: two members (standing "member", countries and international organisations
   alike) share on every topic by being members, unless the network turns this off; observers are
   never covered by it and need an explicit arrangement;
4. an explicit arrangement naming both organisations and covering the topic (or every topic).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable


class WithoutArrangement(enum.Enum):
    """What routing does for a recipient the originator's organisation has no arrangement with."""

    REFUSE = "refuse"    # not sent; the answer names the missing arrangement
    CONFIRM = "confirm"  # not sent unless the originator confirms; the answer names what is missing


@dataclass(frozen=True, slots=True)
class Arrangement:
    """An agreement to share between two or more organisations, for some topics or all of them."""

    kind: str                   # as people name it: "MoU MY-TH 2019", "Bali Process data sharing"
    parties: frozenset[str]     # organisation codes, at least two
    topics: frozenset[str] = frozenset()  # empty: every topic

    def __post_init__(self) -> None:
        if len(self.parties) < 2:
            raise ValueError("an arrangement needs at least two parties")

    @property
    def key(self) -> str:
        """A stable identity: the same kind between the same parties is the same arrangement."""
        return f"{'+'.join(sorted(self.parties))}:{self.kind}"

    def covers(self, topic: str | None) -> bool:
        """Every topic, or the item's topic; an item without a topic needs an all-topics arrangement."""
        return not self.topics or (topic is not None and topic in self.topics)

    def scope(self) -> str:
        return "every topic" if not self.topics else ", ".join(sorted(self.topics))


@dataclass(frozen=True, slots=True)
class MissingArrangement:
    """No basis to share: what the refusal names."""

    sender: str        # organisation names, as the answer shows them
    recipient: str
    recipient_code: str
    topic: str | None
    partial: tuple[Arrangement, ...] = ()  # arrangements between the two that do not cover the topic

    def __str__(self) -> str:
        what = f"for {self.topic}" if self.topic else "for items without a topic"
        text = f"{self.sender} has no sharing arrangement with {self.recipient} {what}"
        if self.partial:
            text += " (" + "; ".join(f"{a.kind} covers {a.scope()} only" for a in self.partial) + ")"
        return text


def pairs(arrangements: Iterable[Arrangement]) -> dict[frozenset[str], tuple[Arrangement, ...]]:
    """Arrangements by each unordered pair of their parties, for lookups in constant time."""
    found: dict[frozenset[str], list[Arrangement]] = {}
    for arrangement in arrangements:
        parties = sorted(arrangement.parties)
        for i, first in enumerate(parties):
            for second in parties[i + 1:]:
                found.setdefault(frozenset((first, second)), []).append(arrangement)
    return {pair: tuple(found_) for pair, found_ in found.items()}
