"""What /metrics renders (bot.ops.metrics_gather, through prometheus_client) parses strictly, label values
round-trip through their escapes, and the strict reader itself refuses bad input."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.ops.metrics_gather import LATENCY_BOUNDS, Snapshot, render_metrics
from tests.ops.prometheus_text import ExpositionError, parse, value

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


def test_rendered_text_parses_and_label_values_round_trip() -> None:
    odd = 'a "quoted" back\\slash and\nnewline'
    snap = Snapshot(NOW, outbox_counts={(odd, "delivery", "sent"): 3, ("matrix", "reminder", "sent"): 2,
                                        ("matrix", "delivery", "pending"): 4, ("matrix", "notice", "pending"): 1},
                    latency={("matrix", "delivery"): ([1.0] * 4 + [2.0] * (len(LATENCY_BOUNDS) - 4), 9.5, 3.0)},
                    inbox_counts={"pending": 5, "done": 7}, overdue={"ack": 1, "feedback": 2}, audit_entries=11)
    body, content_type = render_metrics(snap, "active", {"matrix": True, odd: False}, True, 0.25)
    assert content_type.startswith("text/plain; version=0.0.4")
    families = parse(body.decode())
    assert value(families, "liaison_deliveries_total", platform=odd, kind="delivery", outcome="sent") == 3
    assert value(families, "liaison_connector_connected", platform=odd) == 0
    assert value(families, "liaison_reminders_sent_total", kind="reminder") == 2
    assert value(families, "liaison_reminders_sent_total", kind="escalation") == 0
    assert value(families, "liaison_outbox_depth", platform="matrix", state="pending") == 5
    le = dict(platform="matrix", kind="delivery")
    assert value(families, "liaison_delivery_latency_seconds_bucket", le="0.1", **le) == 1
    assert value(families, "liaison_delivery_latency_seconds_bucket", le="+Inf", **le) == 3
    assert value(families, "liaison_delivery_latency_seconds_sum", **le) == 9.5
    assert value(families, "liaison_inbox_events_total", outcome="failed") == 0
    assert value(families, "liaison_overdue", track="feedback") == 2
    assert not families["liaison_audit_last_checkpoint_age_seconds"].samples


def test_without_the_database_only_what_the_process_knows() -> None:
    body, _ = render_metrics(None, "standby", {}, False, 0.0)
    families = parse(body.decode())
    assert value(families, "liaison_database_up") == 0 and value(families, "liaison_instance_active") == 0
    assert "liaison_deliveries_total" not in families


def test_an_openmetrics_scraper_gets_openmetrics() -> None:
    body, content_type = render_metrics(None, "active", {}, True, 0.0, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")


@pytest.mark.parametrize("text", [
    "x 1\n",                                                     # no HELP/TYPE
    "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\n# TYPE x gauge\n",  # TYPE after samples
    "# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n",                # bad escape
    "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",          # label twice
    "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",                      # duplicate series
    "# HELP x h\n# TYPE x gauge\nx one\n",                         # not a float
    "# HELP x_total h\n# TYPE x_total counter\nx_total -1\n",      # counter below zero
    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP x h\n# TYPE x gauge\nx 1",                             # no final newline
])
def test_the_strict_reader_refuses_bad_exposition(text: str) -> None:
    with pytest.raises(ExpositionError):
        parse(text)
