"""Away and delegation: who stands in for a person while they are away, and what may pass to them.

A person away until a date (on their own clock: through that whole day) has a delegate. New copies
of items for them, and reminders, go to the delegate, who may acknowledge and reply for them. The
caveat still holds, so some things never pass to a delegate:

- TLP:RED is for named people only, and a delegate is not named (as a backup is not, see
  alerts.reminders): a RED item still goes to the person alone, and waits for them.
- A copy posted in a room is not redirected: the room is where the caveat placed it.
- A delegate who may not read the item where the bot would post it (another organisation, under
  AMBER; no channel the caveat allows) is not given it: the person's copy goes to them as usual.

A delegate may go away later themselves. Then the chain is followed (`follow`): A away naming B,
B away naming C, and A's items go to C, the first person on the chain who is here. The walk is
bounded (each person once, at most MAX_HOPS delegates): a circle (A -> B -> A) or a chain too long
reaches nobody, and the person's copy goes to them as usual, to wait and be escalated (to their
backup, the coordinators) by the reminder rounds. /away refuses what would close a circle.

Pure: the clock and the directory are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory
from alerts.errors import DomainError
from alerts.reminder_policy import QuietHours, zone_of

MAX_AHEAD = timedelta(days=366)
# Delegates followed at most from a person away: far beyond any real chain of leave, and a bound on
# the look-ups one delivery costs whatever is stored.
MAX_HOPS = 16


class AwayRefused(DomainError):
    """An /away that cannot be set: what was wrong, what is accepted, an example."""


@dataclass(frozen=True, slots=True)
class Absence:
    """One period away. `until` is the first moment the person is back (midnight after the date,
    on their clock), in UTC. `ended_at` is set by /away off, or by the round that finds `until`
    passed; `summarised_at` once the person was told what arrived."""

    id: str
    person: str
    delegate: str
    until: datetime
    note: str
    set_by: str
    set_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None
    summarised_at: datetime | None = None
    # What the delegate did for the person, in order: "acknowledged A-2026-0001", "replied to A-2026-0001".
    acts: tuple[str, ...] = ()

    def active(self, now: datetime) -> bool:
        return self.ended_at is None and self.set_at <= now < self.until

    def back_at(self) -> datetime:
        """When the person came back: /away off, or the date passed (whichever came first: a new
        /away ends the one before, which may have run out already)."""
        return min(self.ended_at, self.until) if self.ended_at is not None else self.until


@dataclass(frozen=True, slots=True)
class Chain:
    """Who stands in for a person: the absences followed from them, each delegate once.

    `reached` is the first person on the chain who is not away: the person themselves when they are
    not away, else the delegate of the last absence followed. None when nobody on it is here: it
    closes a circle (`circle`), or it is longer than MAX_HOPS."""

    person: str
    absences: tuple[Absence, ...]
    reached: str | None
    circle: bool = False

    @property
    def delegates(self) -> tuple[str, ...]:
        """Everyone named along the chain, in order: those who may act for the person."""
        return tuple(a.delegate for a in self.absences)

    @property
    def away_too(self) -> tuple[Absence, ...]:
        """The absences of delegates passed over because they are away themselves."""
        return self.absences[1:]

    @property
    def away(self) -> Absence | None:
        """The person's own absence; None when they are not away."""
        return self.absences[0] if self.absences else None


def follow(person: str, absence_of: Callable[[str], Absence | None], limit: int = MAX_HOPS) -> Chain:
    """Follow `person`'s delegates while each is away too (`absence_of`: the running absence of a
    person, or None). Bounded: stops at a person seen before (a circle) or after `limit` delegates."""
    seen = {person}
    followed: list[Absence] = []
    at = person
    while True:
        absence = absence_of(at)
        if absence is None:
            return Chain(person, tuple(followed), at)
        followed.append(absence)
        if absence.delegate in seen:
            return Chain(person, tuple(followed), None, circle=True)
        if len(followed) > limit:
            return Chain(person, tuple(followed[:limit]), None)
        seen.add(absence.delegate)
        at = absence.delegate


def summary_due(absence: Absence, zone: str, quiet: QuietHours | None) -> datetime:
    """When the person is told what happened while they were away: at once when it was ended by
    hand (/back, /away off); when it ran out by its date (midnight on their clock), at the start of
    their working morning, when the quiet hours that hold routine reminders end for them."""
    if absence.ended_at is not None and absence.ended_at < absence.until:
        return absence.ended_at
    return quiet.release(absence.until, zone) if quiet is not None else absence.until


def chain_text(chain: Chain, directory: Directory) -> str:
    """`Th Npoc → Th Immigration → Th Npoc`: the names along the chain."""
    def name(contact_id: str) -> str:
        contact = directory.contacts.get(contact_id)
        return contact.name if contact else contact_id
    return " → ".join(name(c) for c in (chain.person, *chain.delegates))


def until_moment(day: date, zone: str) -> datetime:
    """The end of `day` on the clock of `zone`, in UTC: the first moment of the day after there."""
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone_of(zone))
    return local.astimezone(timezone.utc)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(zone_of(zone)).date()


def until_text(absence: Absence, directory: Directory) -> str:
    """`24 Dec 2026`: the person's last day away, on their clock."""
    zone = directory.zone_for(directory.contacts.get(absence.person))
    return f"{local_day(absence.until - timedelta(seconds=1), zone):%d %b %Y}"


EXAMPLE = "/away until:2026-12-24 backup:@th-immigration on leave"


def check_absence(person: Contact, delegate: Contact | None, delegate_word: str, day: date, now: datetime,
                  directory: Directory) -> datetime:
    """The moment the person is back, or AwayRefused saying what was wrong, what is accepted and
    an example (AwayRefused). Fail closed: each doubt refuses."""
    today = local_day(now, directory.zone_for(person))
    accepted = (f"a date from today ({today:%Y-%m-%d}, your time) to {today + MAX_AHEAD:%Y-%m-%d}, "
                "and a delegate in your organisation")
    if day < today:
        raise AwayRefused(f"until:{day:%Y-%m-%d} is in the past. Give {accepted}. Example: {EXAMPLE}")
    if day > today + MAX_AHEAD:
        raise AwayRefused(f"until:{day:%Y-%m-%d} is more than {MAX_AHEAD.days} days ahead. Give {accepted}. "
                           f"Example: {EXAMPLE}")
    if delegate is None:
        raise AwayRefused(f"No contact '{delegate_word}' in the directory. The backup must be a contact "
                           f"(see /contacts). Example: {EXAMPLE}")
    if delegate.id == person.id:
        raise AwayRefused(f"{person.name} cannot stand in for themselves: name someone else as backup. "
                           f"Example: {EXAMPLE}")
    if delegate.organisation != person.organisation:
        raise AwayRefused(
            f"{delegate.title(directory)} may not receive {person.name}'s items: TLP:AMBER and AMBER+STRICT "
            f"items stay within the recipient organisation ({person.organisation}). Name someone in "
            f"{person.organisation}. Example: {EXAMPLE}")
    if not delegate.identities:
        raise AwayRefused(f"{delegate.title(directory)} has no account the bot can reach. Example: {EXAMPLE}")
    return until_moment(day, directory.zone_for(person))


def may_pass(caveat: Caveat) -> bool:
    """Whether an item under `caveat` may pass to someone standing in (a delegate, a backup)."""
    # TLP:RED is for named people only: a delegate or backup is not named, so is not given it.
    return caveat.tlp is not Tlp.RED


def for_line(person: Contact, absence: Absence, directory: Directory, chain: Chain | None = None) -> str:
    """The line heading what a delegate receives for the person; with who was passed over on the
    way when their delegate is away too."""
    passed = "" if chain is None or not chain.away_too else f" ({away_too_text(chain, directory)})"
    return f"For {person.title(directory)}, who is away until {until_text(absence, directory)}{passed}:"


def away_too_text(chain: Chain, directory: Directory) -> str:
    """`Th Immigration, who stands in for them, is away too until 24 Nov 2026`: the delegates passed over."""
    def name(contact_id: str) -> str:
        contact = directory.contacts.get(contact_id)
        return contact.title(directory) if contact else contact_id
    first, *rest = chain.away_too
    text = f"{name(first.person)}, who stands in for them, is away too until {until_text(first, directory)}"
    return text + "".join(f", then {name(a.person)} until {until_text(a, directory)}" for a in rest)
