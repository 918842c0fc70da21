"""Charts drawn on the server as SVG (matplotlib, Agg-free SVG backend): no chart library is fetched
by browsers, and the page works without JavaScript. Each chart is an <img> data: URI, which the
portal's Content-Security-Policy allows (img-src 'self' data:) while it forbids inline styles."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# SVG ids from a fixed salt: the same numbers draw the same bytes (no pyplot: figures are thread-safe).
matplotlib.rcParams["svg.hashsalt"] = "liaison-portal"
_COLOURS = ("#1f5f8b", "#e07b39", "#3a9d5d", "#b23a48", "#7b5ea7", "#8c8c8c", "#c9a227", "#2a9d8f")


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    # No date in the file: with the fixed salt above, the same numbers draw the same bytes.
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png(figure: Figure) -> bytes:
    """A chart as PNG bytes, for chat platforms that show images (they do not show SVG)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


def _figure() -> Figure:
    # Small enough that a phone (375 px) shows it near its own size, with labels still 10 px and more; the
    # stylesheet scales the SVG up, sharp, where there is room.
    return Figure(figsize=(5, 3.4), dpi=100)


def stacked_bars(months: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> str:
    return _data_uri(stacked_bars_figure(months, series, title))


def stacked_bars_figure(months: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> Figure:
    """Items per month, one colour per topic."""
    figure = _figure()
    axes = figure.subplots()
    bottoms = [0] * len(months)
    for n, (name, values) in enumerate(series.items()):
        axes.bar(months, values, bottom=bottoms, label=name, color=_COLOURS[n % len(_COLOURS)])
        bottoms = [b + v for b, v in zip(bottoms, values)]
    axes.set_title(title)
    axes.set_ylabel("items")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        axes.legend(fontsize="small", frameon=False)
    axes.tick_params(axis="x", labelrotation=45)
    return figure


def paired_bars(labels: Sequence[str], first: Sequence[float], second: Sequence[float], names: tuple[str, str],
                title: str, unit: str) -> str:
    return _data_uri(paired_bars_figure(labels, first, second, names, title, unit))


def paired_bars_figure(labels: Sequence[str], first: Sequence[float], second: Sequence[float], names: tuple[str, str],
                title: str, unit: str) -> Figure:
    """Two measures per label side by side (median and p90 hours per country)."""
    figure = _figure()
    axes = figure.subplots()
    positions = list(range(len(labels)))
    axes.barh([p - 0.2 for p in positions], first, height=0.4, label=names[0], color=_COLOURS[0])
    axes.barh([p + 0.2 for p in positions], second, height=0.4, label=names[1], color=_COLOURS[1])
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xlabel(unit)
    axes.set_title(title)
    axes.legend(fontsize="small", frameon=False)
    return figure


def line(labels: Sequence[str], values: Sequence[int], title: str, unit: str) -> str:
    return _data_uri(line_figure(labels, values, title, unit))


def line_figure(labels: Sequence[str], values: Sequence[int], title: str, unit: str) -> Figure:
    """One count over time (copies overdue at the end of each day)."""
    figure = _figure()
    axes = figure.subplots()
    axes.plot(list(range(len(labels))), values, color=_COLOURS[3], marker="o" if len(labels) <= 31 else None)
    step = max(1, len(labels) // 10)
    axes.set_xticks(list(range(0, len(labels), step)), [labels[i] for i in range(0, len(labels), step)])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0)
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=45)
    return figure
