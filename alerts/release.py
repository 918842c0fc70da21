"""Two-person release: which items wait for a second person's approval, who may give it, and when
a waiting item is reminded about or expires.

An item that needs release is numbered and stored, but nothing goes to its recipients until an
approver of the originator's own organisation (a contact with the role `approver`) approves it;
where that organisation has no approver other than the originator, a coordinator may. Never the
originator. It is routed again at approval, against the directory as it is then.

A correction (/correct) whose next revision needs release waits the same way: the item stays at its
current revision, its copies as they are, until the next revision is approved (then it is sent, and
the earlier copies are marked superseded, as /correct does), declined or left to expire (then the
item stays as it was).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.caveats import Tlp
from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue
from alerts.items import ItemDraft
from alerts.priority import Priority
from alerts.roles import Role


@dataclass(frozen=True, slots=True)
class ReleaseRule:
    """Items of `tlp` need release: of every priority, or of `priority` only."""

    tlp: Tlp
    priority: Priority | None = None

    @classmethod
    def parse(cls, text: str) -> ReleaseRule:
        """`red` (every priority) or `amber+strict/urgent`."""
        tlp_text, _, priority_text = text.partition("/")
        try:
            return cls(Tlp.parse(tlp_text), Priority.parse(priority_text) if priority_text else None)
        except InvalidValue:
            raise InvalidValue("Release rule", text, "a TLP, or a TLP and a priority", '"red" or "amber/urgent"') from None

    def covers(self, draft: ItemDraft) -> bool:
        return draft.caveat.tlp is self.tlp and self.priority in (None, draft.priority)

    def __str__(self) -> str:
        return self.tlp.value.lower() + (f"/{self.priority.value}" if self.priority else "")


DEFAULT_RULES = (ReleaseRule(Tlp.RED),)


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """Which items need release, how long one may wait, and how often its approvers are reminded."""

    rules: tuple[ReleaseRule, ...] = ()
    expires_after: timedelta = timedelta(hours=24)
    remind_every: timedelta = timedelta(hours=2)

    def needs_release(self, draft: ItemDraft) -> bool:
        return any(rule.covers(draft) for rule in self.rules)


NO_RELEASE = ReleasePolicy()


class ReleaseState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    FAILED = "failed"  # approved, but it no longer routed: nothing was sent


@dataclass(frozen=True, slots=True)
class HeldRelease:
    """An item waiting for (or past) a second person's decision."""

    reference: str
    originator: str
    organisation: str  # the originator's, when the item was held
    confirmed: bool  # the originator confirmed a missing arrangement (confirm:yes); routing again keeps it
    requested_at: datetime
    expires_at: datetime
    state: ReleaseState = ReleaseState.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    # A held correction: the next revision's draft, and its number; None: the item itself waits.
    correction: ItemDraft | None = None
    revision: int = 1

    @property
    def label(self) -> str:
        """How messages name what waits: `A-2026-0042`, or `A-2026-0042 rev 2` for a correction."""
        return self.reference if self.revision <= 1 else f"{self.reference} rev {self.revision}"


def approvers(directory: Directory, originator: str, organisation: str) -> tuple[Contact, ...]:
    """Who may approve: the organisation's approvers other than the originator; where it has none,
    the coordinators other than the originator."""
    own = tuple(c for c in directory.with_role(Role.APPROVER) if c.organisation == organisation and c.id != originator)
    if own:
        return own
    return tuple(c for c in directory.with_role(Role.COORDINATOR) if c.id != originator)


def refusal_to_decide(directory: Directory, held: HeldRelease, person: Contact) -> str | None:
    """Why `person` may not approve or decline the held item; None when they may."""
    if person.id == held.originator:
        return (f"You sent {held.reference}, so you cannot approve or decline it: a second person must. "
                f"{who_may(directory, held)}")
    if person not in approvers(directory, held.originator, held.organisation):
        return f"You may not approve or decline {held.reference}. {who_may(directory, held)}"
    return None


def who_may(directory: Directory, held: HeldRelease) -> str:
    found = approvers(directory, held.originator, held.organisation)
    if not found:
        return "Nobody in the directory may approve it now; ask an admin to give someone the approver role."
    return "It may be approved by " + ", ".join(c.title(directory) for c in found) + "."


def reminder_round(held: HeldRelease, now: datetime, every: timedelta) -> int:
    """Which reminder of the approvers is due by `now` (1 for the first, after `every`); 0 for none yet."""
    if every <= timedelta(0) or now < held.requested_at:
        return 0
    return int((now - held.requested_at) / every)
