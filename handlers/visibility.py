"""Who may see what of an item: the one rule /status, /overdue and the web portal all apply.

  the originator, coordinators and auditors see the whole item, every recipient's line;
  a recipient sees the item and their own delivery only (who else received it is not theirs to know);
  anyone else sees nothing of it, not even that it exists.

Of its feedback (/reply), the same: whoever sees every recipient sees every one; a recipient sees the
feedback on their own copy (theirs, or given for them by a delegate or backup) and the originator's
updates that were sent to them; never another recipient's feedback.

The overdue list is a coordinators' view: coordinators and admins see every line of it (references,
names and times, no content), anyone else the lines they owe or sent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from alerts.directory import Contact
from alerts.lifecycle import Feedback
from alerts.reminders import Owed
from alerts.roles import Role


class ItemView(enum.Enum):
    EVERY_RECIPIENT = "every recipient"
    OWN_DELIVERY = "own delivery"


def item_view(viewer: Contact, originator: str, recipients: Iterable[str]) -> ItemView | None:
    """What `viewer` may see of an item sent by `originator` to `recipients` (contact ids); None: nothing."""
    if viewer.id == originator or viewer.has(Role.COORDINATOR) or viewer.has(Role.AUDITOR):
        return ItemView.EVERY_RECIPIENT
    if viewer.id in set(recipients):
        return ItemView.OWN_DELIVERY
    return None


def feedback_for(viewer: Contact, view: ItemView, feedback: Iterable[Feedback]) -> list[Feedback]:
    """The feedback on an item that `viewer`, who sees it as `view`, may read."""
    if view is ItemView.EVERY_RECIPIENT:
        return list(feedback)
    return [f for f in feedback if (viewer.id in f.recipients if f.update else f.copy_of == viewer.id)]


def sees_all_overdue(viewer: Contact) -> bool:
    return viewer.has(Role.COORDINATOR) or viewer.has(Role.ADMIN)


def overdue_for(viewer: Contact, owed: Iterable[Owed]) -> list[Owed]:
    """The lines of the overdue list `viewer` may see."""
    if sees_all_overdue(viewer):
        return list(owed)
    return [o for o in owed if viewer.id in (o.contact, o.item.originator)]
