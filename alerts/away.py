"""Away and delegation: who stands in for a person while they are away, and what may pass to them.

A person away until a date (on their own clock: through that whole day) has a delegate. New copies
of items for them, and reminders, go to the delegate, who may acknowledge and reply for them. The
caveat still holds, so some things never pass to a delegate:

- TLP:RED is for named people only, and a delegate is not named (as a backup is not, see
  alerts.reminders): a RED item still goes to the person alone, and waits for them.
- A copy posted in a room is not redirected: the room is where the caveat placed it.
- A delegate who may not read the item where the bot would post it (another organisation, under
  AMBER; no channel the caveat allows) is not given it: the person's copy goes to them as usual.

Pure: the clock and the directory are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory
from alerts.errors import DomainError
from alerts.reminder_policy import zone_of

MAX_AHEAD = timedelta(days=366)
NOTE_LIMIT = 200


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
        """When the person came back: /away off, or the date passed."""
        return self.ended_at if self.ended_at is not None else self.until

    @property
    def last_day(self) -> date:
        """The date the person gave (their clock): the day before `until` there."""
        return (self.until - timedelta(seconds=1)).date()


def until_moment(day: date, zone: str) -> datetime:
    """The end of `day` on the clock of `zone`, in UTC: the first moment of the day after there."""
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone_of(zone))
    return local.astimezone(timezone.utc)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(zone_of(zone)).date()


def until_text(absence: Absence, directory: Directory) -> str:
    """`24 Dec 2026`: the person's last day away, on their clock."""
    person = directory.contacts.get(absence.person)
    zone = person.timezone if person else "UTC"
    return f"{local_day(absence.until - timedelta(seconds=1), zone):%d %b %Y}"


EXAMPLE = "/away until:2026-12-24 backup:@th-immigration on leave"


def check_absence(person: Contact, delegate: Contact | None, delegate_word: str, day: date, now: datetime,
                  directory: Directory) -> datetime:
    """The moment the person is back, or AwayRefused saying what was wrong, what is accepted and
    an example (AwayRefused). Fail closed: each doubt refuses."""
    today = local_day(now, person.timezone)
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
    return until_moment(day, person.timezone)


def may_pass(caveat: Caveat) -> bool:
    """Whether an item under `caveat` may pass to someone standing in (a delegate, a backup)."""
    # TLP:RED is for named people only: a delegate or backup is not named, so is not given it.
    return caveat.tlp is not Tlp.RED


def for_line(person: Contact, absence: Absence, directory: Directory) -> str:
    """The line heading what a delegate receives for the person."""
    return f"For {person.title(directory)}, who is away until {until_text(absence, directory)}:"
