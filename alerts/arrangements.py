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
4. an explicit arrangement naming both organisations and covering the topic (or every topic), in
   force on the day (its start and end dates, or a coordinator ended it) and, where it goes one
   way only, from the originator's organisation. Dates are days in UTC; the end day is the last
   day in force. Without a time to check against, a dated arrangement authorises nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

# How long before its end an arrangement reminds the coordinators, unless the configuration says.
ENDING_NOTICE = timedelta(days=14)


class WithoutArrangement(enum.Enum):
    """What routing does for a recipient the originator's organisation has no arrangement with."""

    REFUSE = "refuse"    # not sent; the answer names the missing arrangement
    CONFIRM = "confirm"  # not sent unless the originator confirms; the answer names what is missing


@dataclass(frozen=True, slots=True)
class Arrangement:
    """An agreement to share between two or more organisations, for some topics or all of them."""

    kind: str                   # the signed document, as people name it: "MoU MY-TH 2019"
    parties: frozenset[str]     # organisation codes, at least two
    topics: frozenset[str] = frozenset()  # empty: every topic
    starts: date | None = None  # the first day in force (UTC); None: in force from the start
    ends: date | None = None    # the last day in force (UTC); None: open-ended
    giver: str | None = None    # one way only: this party shares with the others, not back; None: both ways
    ended_at: datetime | None = None  # a coordinator ended it early (/arrangement end)
    end_reason: str = ""
    # As /arrangement list shows it; None until it is stored. Storage's bookkeeping, so not compared.
    number: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.parties) < 2:
            raise ValueError("an arrangement needs at least two parties")
        if self.giver is not None and self.giver not in self.parties:
            raise ValueError("a one-way arrangement goes from one of its parties")
        if self.starts is not None and self.ends is not None and self.ends < self.starts:
            raise ValueError("an arrangement cannot end before it starts")

    @property
    def key(self) -> str:
        """A stable identity: the same kind between the same parties is the same arrangement."""
        return f"{'+'.join(sorted(self.parties))}:{self.kind}"

    @property
    def dated(self) -> bool:
        return self.starts is not None or self.ends is not None or self.ended_at is not None

    def covers(self, topic: str | None) -> bool:
        """Every topic, or the item's topic; an item without a topic needs an all-topics arrangement."""
        return not self.topics or (topic is not None and topic in self.topics)

    def allows(self, sender: str) -> bool:
        """Whether `sender` (one of the parties) may share under it: both ways, or it is the giver."""
        return self.giver is None or self.giver == sender

    def scope(self) -> str:
        return "every topic" if not self.topics else ", ".join(sorted(self.topics))

    def label(self, first: str | None = None) -> str:
        """The parties as people write them, `first` first: MY–AU; one way: MY→AU."""
        if self.giver is not None:
            return f"{self.giver}→{'–'.join(sorted(self.parties - {self.giver}))}"
        lead = [first] if first in self.parties else []
        return "–".join(lead + sorted(self.parties - set(lead)))

    def lapse(self, at: datetime | None) -> str | None:
        """Why it is not in force at `at` ("ended on 2026-11-30"); None when it is."""
        if at is None:
            return "has dates that cannot be checked" if self.dated else None
        day = at.astimezone(timezone.utc).date()
        if self.ended_at is not None and at >= self.ended_at:
            why = f" ({self.end_reason})" if self.end_reason else ""
            return f"ended on {self.ended_at.astimezone(timezone.utc):%Y-%m-%d}{why}"
        if self.ends is not None and day > self.ends:
            return f"ended on {self.ends.isoformat()}"
        if self.starts is not None and day < self.starts:
            return f"starts on {self.starts.isoformat()}"
        return None

    def in_force(self, at: datetime | None) -> bool:
        return self.lapse(at) is None

    def ending_within(self, at: datetime, notice: timedelta) -> bool:
        """In force, with its last day at most `notice` away: the coordinators are reminded."""
        if self.ends is None or not self.in_force(at):
            return False
        return self.ends - at.astimezone(timezone.utc).date() <= notice

    def describe(self) -> str:
        """One line for /arrangement list and the reminders."""
        when = []
        if self.starts is not None:
            when.append(f"from {self.starts.isoformat()}")
        if self.ends is not None:
            when.append(f"until {self.ends.isoformat()}")
        dates = f", {' '.join(when)}" if when else ""
        number = f"#{self.number} " if self.number is not None else ""
        return f"{number}{self.label()} {self.kind!r}: {self.scope()}{dates}"


@dataclass(frozen=True, slots=True)
class MissingArrangement:
    """No basis to share: what the refusal names."""

    sender: str        # organisation names, as the answer shows them
    recipient: str
    recipient_code: str
    topic: str | None
    partial: tuple[Arrangement, ...] = ()  # arrangements between the two that do not cover the topic
    # Arrangements that would cover it but are not in force, or go the other way, each as a sentence.
    lapsed: tuple[str, ...] = ()

    def __str__(self) -> str:
        what = f"for {self.topic}" if self.topic else "for items without a topic"
        if self.lapsed:
            return (f"{self.sender} has no sharing arrangement in force with {self.recipient} {what}: "
                    + "; ".join(self.lapsed))
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
