"""bot.metrics: what it renders parses strictly, label values round-trip through their escapes,
and what would not parse is refused when declared; the strict reader itself refuses bad input."""

from __future__ import annotations

import pytest

from bot.metrics import Registry, escape_label_value, format_value
from tests.ops.prometheus_text import ExpositionError, parse, value


def test_rendered_text_parses_and_label_values_round_trip() -> None:
    r = Registry()
    odd = 'a "quoted" back\\slash and\nnewline'
    r.counter("x_events_total", "Events.\nSecond line with a \\ backslash.", ("kind",)).set(3, kind=odd)
    r.gauge("x_depth", "Depth.").set(2.5)
    h = r.histogram("x_latency_seconds", "Latency.", ("platform",), (0.5, 1.0))
    for seconds in (0.1, 0.7, 3.0):
        h.observe(seconds, platform="matrix")
    families = parse(r.render())
    assert value(families, "x_events_total", kind=odd) == 3
    assert value(families, "x_depth") == 2.5
    assert value(families, "x_latency_seconds_bucket", platform="matrix", le="0.5") == 1
    assert value(families, "x_latency_seconds_bucket", platform="matrix", le="1") == 2
    assert value(families, "x_latency_seconds_bucket", platform="matrix", le="+Inf") == 3
    assert value(families, "x_latency_seconds_count", platform="matrix") == 3
    assert families["x_events_total"].help == "Events.\nSecond line with a \\ backslash."


def test_declarations_that_would_not_parse_are_refused() -> None:
    r = Registry()
    for bad in (lambda: r.gauge("1bad", "x"), lambda: r.counter("no_suffix", "x"),
                lambda: r.gauge("ok_name", "x", ("le",)), lambda: r.gauge("ok_name", "x", ("bad-label",)),
                lambda: r.histogram("h", "x", (), (1.0, 0.5))):
        with pytest.raises(ValueError):
            bad()
    r.histogram("h_seconds", "x", (), (1.0,))
    with pytest.raises(ValueError):
        r.gauge("h_seconds_count", "clashes with the histogram's own series")
    with pytest.raises(ValueError):
        r.counter("c_total", "x").inc(-1)


def test_values_and_escapes() -> None:
    assert format_value(3.0) == "3" and format_value(0.25) == "0.25"
    assert format_value(float("inf")) == "+Inf" and format_value(float("nan")) == "NaN"
    assert escape_label_value('\\"\n') == '\\\\\\"\\n'


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
