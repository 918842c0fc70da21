"""handlers.visibility.feedback_for: the feedback on an item a viewer may read, the one rule /history
and the portal's item page apply."""

from __future__ import annotations

from datetime import datetime, timezone

from alerts.lifecycle import Feedback
from alerts.roles import Role
from handlers.visibility import ItemView, feedback_for, item_view
from tests.sample_network import person

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
THAI = Feedback(AT, "th-npoc", "Thai feedback", False, ("my-officer",))
FOR_SG = Feedback(AT, "th-npoc", "Given for SG by its delegate", False, ("my-officer",), on_behalf_of="sg-npoc")
MALAYSIAN = Feedback(AT, "my-npoc", "Malaysian feedback", False, ("my-officer",))
UPDATE_TH = Feedback(AT, "my-officer", "Update to TH alone", True, ("th-npoc",))
UPDATE_ALL = Feedback(AT, "my-officer", "Update to all", True, ("th-npoc", "my-npoc", "sg-npoc"))
ALL = [THAI, FOR_SG, MALAYSIAN, UPDATE_TH, UPDATE_ALL]
RECIPIENTS = ("th-npoc", "my-npoc", "sg-npoc")


def _seen(viewer_id: str, org: str, *roles: Role) -> list[Feedback]:
    viewer = person(viewer_id, org, *roles)
    view = item_view(viewer, "my-officer", RECIPIENTS)
    return [] if view is None else feedback_for(viewer, view, ALL)


def test_the_originator_coordinators_and_auditors_read_every_feedback() -> None:
    assert _seen("my-officer", "MY") == ALL
    assert _seen("rso-coord", "RSO", Role.COORDINATOR) == ALL
    assert _seen("auditor", "RSO", Role.AUDITOR) == ALL


def test_a_recipient_reads_the_feedback_on_their_own_copy_and_the_updates_sent_to_them() -> None:
    # What they wrote for someone else's copy is about that copy, not theirs.
    assert _seen("th-npoc", "TH") == [THAI, UPDATE_TH, UPDATE_ALL]
    assert _seen("my-npoc", "MY") == [MALAYSIAN, UPDATE_ALL]
    # The delegate's feedback for them is on their own copy.
    assert _seen("sg-npoc", "SG") == [FOR_SG, UPDATE_ALL]


def test_someone_else_reads_nothing() -> None:
    assert _seen("iom-npoc", "IOM") == []
    viewer = person("th-npoc", "TH")
    assert feedback_for(viewer, ItemView.OWN_DELIVERY, []) == []
