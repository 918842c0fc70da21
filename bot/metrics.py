"""A small metrics registry and the Prometheus text exposition format (version 0.0.4).

    registry = Registry()
    sent = registry.counter("liaison_deliveries_total", "Outbox messages by outcome.", ("platform", "outcome"))
    sent.set(12, platform="matrix", outcome="sent")
    text = registry.render()

Families are declared with their labels and filled at each scrape (bot.metrics_gather reads the
database); nothing here does I/O. Names, label names and HELP text are checked when declared, and
label values are escaped on output, so what is rendered always parses. Label values here come from
fixed vocabularies (platforms, states, kinds): never content, references or people.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("counter", "gauge", "histogram")

LabelValues = tuple[str, ...]


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels_text(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = [f'{n}="{escape_label_value(v)}"' for n, v in zip(names, values)]
    return "{" + ",".join(pairs) + "}" if pairs else ""


@dataclass
class Family:
    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    samples: dict[LabelValues, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not METRIC_NAME.match(self.name):
            raise ValueError(f"not a metric name: {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"not a metric type: {self.kind!r}")
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {self.name!r}")
        for label in self.labels:
            if not LABEL_NAME.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"not a label name: {label!r}")

    def key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labels)

    def set(self, value: float, **labels: str) -> None:
        self.samples[self.key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0 and self.kind == "counter":
            raise ValueError("a counter only goes up")
        key = self.key(labels)
        self.samples[key] = self.samples.get(key, 0.0) + amount

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels_text(self.labels, key)} {format_value(value)}"
                for key, value in sorted(self.samples.items())]


@dataclass
class HistogramSeries:
    buckets: list[float]  # cumulative counts, one per upper bound (the +Inf one is `count`)
    sum: float = 0.0
    count: float = 0.0


@dataclass
class Histogram(Family):
    bounds: tuple[float, ...] = ()
    series: dict[LabelValues, HistogramSeries] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if list(self.bounds) != sorted(set(self.bounds)) or not self.bounds or math.isinf(self.bounds[-1]):
            raise ValueError("histogram bounds must be finite, increasing and distinct")

    def observe(self, value: float, **labels: str) -> None:
        series = self._series(self.key(labels))
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                series.buckets[i] += 1
        series.sum += value
        series.count += 1

    def set_cumulative(self, buckets: list[float], total: float, count: float, **labels: str) -> None:
        """A whole series at once, as a database aggregate gives it: cumulative counts per bound."""
        if len(buckets) != len(self.bounds) or any(a > b for a, b in zip(buckets, buckets[1:])) or \
                (buckets and buckets[-1] > count):
            raise ValueError("bucket counts must be cumulative, one per bound, none above the count")
        self.series[self.key(labels)] = HistogramSeries(list(buckets), total, count)

    def _series(self, key: LabelValues) -> HistogramSeries:
        return self.series.setdefault(key, HistogramSeries([0.0] * len(self.bounds)))

    def lines(self) -> list[str]:
        out = []
        for key, series in sorted(self.series.items()):
            names = (*self.labels, "le")
            for bound, n in zip(self.bounds, series.buckets):
                out.append(f"{self.name}_bucket{_labels_text(names, (*key, format_value(bound)))} {format_value(n)}")
            out.append(f"{self.name}_bucket{_labels_text(names, (*key, '+Inf'))} {format_value(series.count)}")
            out.append(f"{self.name}_sum{_labels_text(self.labels, key)} {format_value(series.sum)}")
            out.append(f"{self.name}_count{_labels_text(self.labels, key)} {format_value(series.count)}")
        return out


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Family:
        return self._add(Family(name, "counter", help, labels))

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Family:
        return self._add(Family(name, "gauge", help, labels))

    def histogram(self, name: str, help: str, labels: tuple[str, ...], bounds: tuple[float, ...]) -> Histogram:
        family = Histogram(name, "histogram", help, labels, bounds=bounds)
        self._add(family)
        return family

    def _add(self, family: Family) -> Family:
        taken = {family.name} | ({f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
                                 if family.kind == "histogram" else set())
        for other in self._families.values():
            other_names = {other.name} | ({f"{other.name}_{s}" for s in ("bucket", "sum", "count")}
                                          if other.kind == "histogram" else set())
            if taken & other_names:
                raise ValueError(f"metric {family.name} is declared twice")
        self._families[family.name] = family
        return family

    def render(self) -> str:
        """Every family with HELP and TYPE, then its samples; a family with no sample is still shown."""
        out = []
        for family in self._families.values():
            out.append(f"# HELP {family.name} {escape_help(family.help)}")
            out.append(f"# TYPE {family.name} {family.kind}")
            out.extend(family.lines())
        return "\n".join(out) + "\n"
