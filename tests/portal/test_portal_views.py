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


def test_overdue_over_time_counts_each_copy_while_it_was_overdue() -> None:
    from datetime import timedelta

    from alerts.directory import Directory
    from alerts.stats import ExchangeTimes
    from bot.portal.views import overdue_series
    from tests.sample_network import small_network

    directory: Directory = small_network()
    day = timedelta(days=1)
    rows = [
        # owes feedback from day 2; answers on day 4
        ExchangeTimes("A-2026-0001", "th-npoc", AT, False, sent_at=AT, answered_at=AT + 4 * day,
                      feedback_due=AT + 2 * day),
        # owes an acknowledgement from day 1; never acknowledges; the item is closed on day 3
        ExchangeTimes("A-2026-0002", "my-npoc", AT, False, sent_at=AT, ack_due=AT + day),
        # a coordinator's oversight copy is never overdue
        ExchangeTimes("A-2026-0002", "rso-coord", AT, False, sent_at=AT, ack_due=AT + day),
        # acknowledged in time: its acknowledgement is not overdue
        ExchangeTimes("A-2026-0003", "au-npoc", AT, True, sent_at=AT, acknowledged_at=AT + day / 2, ack_due=AT + day),
    ]
    ends = [AT + n * day for n in range(6)]
    counts = overdue_series(rows, {"A-2026-0002": AT + 3 * day}, directory, ends)
    assert counts == [0, 1, 2, 1, 0, 0]
