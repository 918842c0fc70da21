"""The monthly bulletin of what the network shared, in the spirit of the networks' intelligence bulletins.

Counts by topic and by route (originating organisation to receiving organisation) cover every item,
and so do the counts of the harmonised incident fields, each value shown only from a minimum count.
Content is carried only for items whose caveat lets anyone in the network see it: TLP:CLEAR, and
TLP:GREEN where the bulletin is posted in a registered room (whose members are all network), and
only under handling H0 without originator control, since a bulletin is onward sharing. Each item's
content opens with its banner line, and the bulletin's own first line carries the most restrictive
TLP of what it holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.caveats import Caveat, Handling, Tlp
from alerts.incident import COUNT_MINIMUM, Incident, harmonised_counts
from alerts.items import Reference
from alerts.priority import Priority

BODY_LIMIT = 600  # characters of each item's text; the bulletin is a digest, /status has the rest
CONTENT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SharedItem:
    reference: str
    caveat: Caveat
    priority: Priority
    topic: str | None
    originator_org: str
    recipient_orgs: tuple[str, ...]
    created_at: datetime
    body: str | None = None  # set by the caller only where `may_carry` allows it
    incident: Incident = Incident()  # counted only (alerts.incident.harmonised_counts), never shown per item


def may_carry(caveat: Caveat, *, green_allowed: bool) -> bool:
    """Whether the bulletin may carry an item's content."""
    if caveat.handling is not Handling.H0 or caveat.originator_controlled:
        return False
    return caveat.tlp is Tlp.CLEAR or (caveat.tlp is Tlp.GREEN and green_allowed)


def _counts(title: str, counter: Counter[str]) -> list[str]:
    lines = [title]
    lines += [f"  {name}: {count}" for name, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
    return lines


def _entry(item: SharedItem) -> list[str]:
    noun = Reference.parse(item.reference).kind.noun.lower()
    body = item.body or ""
    if len(body) > BODY_LIMIT:
        body = body[:BODY_LIMIT - 1].rstrip() + "…"
    route = f"From {item.originator_org} to {', '.join(item.recipient_orgs) or 'nobody'}"
    topic = f"Topic: {item.topic} · " if item.topic else ""
    return [f"[{item.caveat.tlp.label}] {item.reference} · {item.priority.value.upper()} {noun}",
            f"{topic}{route} · {item.created_at:%d %b %Y}", body, ""]


def render_bulletin(items: Sequence[SharedItem], month: str, *, green_allowed: bool,
                    minimum: int = COUNT_MINIMUM) -> str:
    """`items` are every item of the month; only those with a body (see may_carry) show content. The
    harmonised fields of every item are counted, each value shown only when `minimum` items carry it."""
    carried = [i for i in items if i.body is not None and may_carry(i.caveat, green_allowed=green_allowed)]
    level = Tlp.GREEN if any(i.caveat.tlp is Tlp.GREEN for i in carried) else Tlp.CLEAR
    lines = [f"[{level.label}] Monthly bulletin · {month}",
             f"Items shared: {len(items)} ({sum(i.reference.startswith('A-') for i in items)} alerts, "
             f"{sum(i.reference.startswith('R-') for i in items)} requests)."]
    if not items:
        return "\n".join(lines)
    lines += _counts("By topic:", Counter(i.topic or "no topic" for i in items))
    lines += _counts("By route:", Counter(f"{i.originator_org} → {org}" for i in items for org in i.recipient_orgs))
    lines += _counts("By caveat:", Counter(i.caveat.tlp.label for i in items))
    lines += harmonised_counts((i.incident for i in items), minimum)
    if carried:
        lines += ["", f"Shared content (TLP:CLEAR{' and TLP:GREEN' if green_allowed else ''} items, H0):", ""]
        for item in carried[:CONTENT_LIMIT]:
            lines += _entry(item)
        if len(carried) > CONTENT_LIMIT:
            lines.append(f"and {len(carried) - CONTENT_LIMIT} more items whose content may be shared.")
    else:
        lines.append("No item this month was shared under TLP:CLEAR or TLP:GREEN without restrictions.")
    return "\n".join(lines).rstrip()
