"""What the pages compute: the board's stage of escalation, read from the reminders sent."""

from __future__ import annotations

from datetime import datetime, timezone

from alerts.caveats import Caveat
from alerts.lifecycle import DeliveryState, Progress
from alerts.priority import Priority
from alerts.reminders import FollowUp, Owed, Stage, Track, reminder_key
from bot.portal.views import _stage

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def owed(*done: str, track: Track = Track.FEEDBACK) -> Owed:
    item = FollowUp("A-2026-0001", Priority.URGENT, Caveat(), AT, AT, AT, "my-officer", True,
                    (Progress("th-npoc", DeliveryState.SENT, AT),), frozenset(done))
    return Owed(item, "th-npoc", track, AT)


def test_the_stage_is_the_furthest_reminder_sent_on_that_debt() -> None:
    key = lambda stage, n=1, target="th-npoc", track=Track.FEEDBACK, contact="th-npoc": reminder_key(  # noqa: E731
        "A-2026-0001", contact, track, stage, n, target)
    assert _stage(owed()) == "not reminded yet"
    assert _stage(owed(key(Stage.BEFORE), key(Stage.DUE))) == "reminded at due time"
    assert _stage(owed(key(Stage.DUE), key(Stage.REPEAT, 2), key(Stage.BACKUP, target="th-deputy"))) == \
        "escalated to the backup"
    assert _stage(owed(key(Stage.COORDINATORS, target="rso-coordinator"), key(Stage.DUE))) == \
        "escalated to coordinators"
    # Another track's or another person's reminders are not this debt's.
    assert _stage(owed(key(Stage.COORDINATORS, track=Track.ACK))) == "not reminded yet"
    assert _stage(owed(key(Stage.COORDINATORS, contact="th-immigration"))) == "not reminded yet"


def test_charts_are_svg_images_the_same_for_the_same_numbers_and_drawn_with_no_data() -> None:
    import base64

    from bot.portal.charts import paired_bars, stacked_bars

    first = stacked_bars(["2026-10", "2026-11"], {"maritime": [1, 2], "document-fraud": [3, 0]}, "Items")
    assert first == stacked_bars(["2026-10", "2026-11"], {"maritime": [1, 2], "document-fraud": [3, 0]}, "Items")
    assert first != stacked_bars(["2026-10", "2026-11"], {"maritime": [1, 3], "document-fraud": [3, 0]}, "Items")
    svg = base64.b64decode(first.removeprefix("data:image/svg+xml;base64,")).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<script" not in svg
    for empty in (stacked_bars([], {}, "Items"), paired_bars([], [], [], ("median", "p90"), "Times", "hours")):
        assert empty.startswith("data:image/svg+xml;base64,")
