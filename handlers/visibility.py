"""Who may see what of an item: the one rule /status, /overdue and the web portal all apply.

  the originator, coordinators and auditors see the whole item, every recipient's line;
  a recipient sees the item and their own delivery only (who else received it is not theirs to know);
  a delegate who was sent a copy for someone away sees the item as that recipient does, through that
  copy (its line, its feedback, the updates to its recipient), and keeps seeing it once the person is
  back: they held it. A delegate who was sent no copy of an item sees nothing of it;
  anyone else sees nothing of it, not even that it exists.

Of its feedback (/reply), the same: whoever sees every recipient sees every one; a recipient sees the
feedback on their own copy (theirs, or given for them by a delegate or backup) and the originator's
updates that were sent to them; never another recipient's feedback.

The overdue list is a coordinators' view: coordinators and admins see every line of it (references,
names and times, no content), anyone else the lines they owe or sent. A focal point is no exception: they
manage their people's directory entries (alerts/focal.py), not their items, and a country's lines would
name items (a TLP:RED one too) that its focal point may not know exist. Whoever sees only their own
lines is told so with the list (overdue_shown), in chat and on the portal's board alike, so that a short
or empty list is not taken for the whole.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from alerts.directory import Contact
from alerts.focal import FOCAL_POINTS
from alerts.lifecycle import Feedback
from alerts.reminders import Owed
from alerts.roles import Role
from handlers.ports import ItemRecord


class ItemView(enum.Enum):
    EVERY_RECIPIENT = "every recipient"
    OWN_DELIVERY = "own delivery"


def item_view(viewer: Contact, originator: str, recipients: Iterable[str],
              holders: Iterable[str] = ()) -> ItemView | None:
    """What `viewer` may see of an item sent by `originator` to `recipients` (contact ids), copies of
    which were sent to `holders` for recipients away (DeliveryRecord.held_by); None: nothing."""
    if viewer.id == originator or viewer.has(Role.COORDINATOR) or viewer.has(Role.AUDITOR):
        return ItemView.EVERY_RECIPIENT
    if viewer.id in set(recipients) or viewer.id in set(holders):
        return ItemView.OWN_DELIVERY
    return None


def record_view(viewer: Contact, record: ItemRecord) -> ItemView | None:
    """item_view of a stored item: its recipients, and whoever held a copy of it for one of them."""
    return item_view(viewer, record.item.originator, (d.contact for d in record.deliveries),
                     (d.held_by for d in record.deliveries if d.held_by is not None))


def own_copies(viewer: Contact, record: ItemRecord) -> frozenset[str]:
    """The recipients whose copies are the viewer's to see under ItemView.OWN_DELIVERY: their own, and
    those they were sent as a delegate (by recipient: a copy's line and feedback are the recipient's)."""
    return frozenset(d.contact for d in record.deliveries if viewer.id in (d.contact, d.held_by))


def feedback_for(viewer: Contact, view: ItemView, feedback: Iterable[Feedback],
                 copies: AbstractSet[str] | None = None) -> list[Feedback]:
    """The feedback on an item that `viewer`, who sees it as `view`, may read; `copies`: the recipients
    whose copies are theirs (own_copies; by default their own alone)."""
    if view is ItemView.EVERY_RECIPIENT:
        return list(feedback)
    mine = copies if copies is not None else {viewer.id}
    return [f for f in feedback if (not mine.isdisjoint(f.recipients) if f.update else f.copy_of in mine)]


def sees_all_overdue(viewer: Contact) -> bool:
    return viewer.has(Role.COORDINATOR) or viewer.has(Role.ADMIN)


def overdue_for(viewer: Contact, owed: Iterable[Owed]) -> list[Owed]:
    """The lines of the overdue list `viewer` may see."""
    if sees_all_overdue(viewer):
        return list(owed)
    return [o for o in owed if viewer.id in (o.contact, o.item.originator)]


def overdue_shown(viewer: Contact) -> str:
    """What of the overdue list `viewer` sees, said with it (/overdue, the portal's board): "" for those
    who see every line."""
    if sees_all_overdue(viewer):
        return ""
    said = "You see the lines you owe or sent; coordinators and admins see every line."
    if any(viewer.has(role) for role in FOCAL_POINTS):
        said += (" As a focal point you manage your people's entries in the directory, not their items: "
                 "a coordinator follows up what they owe.")
    return said
