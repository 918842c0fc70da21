"""/overdue and the coordinators' daily digest: who owes what on which item, since when.

Lines carry an item's reference, its TLP label, who owes and who sent it: no content. In a group
room (the digest always goes to one) items under TLP:AMBER+STRICT or TLP:RED are counted, not
listed: even their reference and recipients are for their own organisations and named people,
and the coordinators can list them in a direct chat with /overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.reminder_render import lateness, title
from alerts.reminders import Owed, Track
from alerts.times import clock_time, zone_name

LISTED_IN_ROOMS = frozenset({Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER})
OVERDUE_LIMIT = 20  # lines in an /overdue answer: a phone screen or two
DIGEST_LIMIT = 40


def overdue_line(owed: Owed, directory: Directory, now: datetime, zone: str) -> str:
    """One owed step; times on the clock of `zone`, which the heading names."""
    item = owed.item
    what = "acknowledgement" if owed.track is Track.ACK else ("answer" if item.reference.startswith("R-") else "feedback")
    parts = [
        f"{item.reference} {item.caveat.tlp.label}",
        f"{title(directory, owed.contact)} owes {what} since {clock_time(owed.due, zone)} ({lateness(owed.late(now))})",
        f"from {title(directory, item.originator)}",
    ]
    snoozed = item.snoozed_until(owed.contact)
    if snoozed is not None and snoozed > now:
        parts.append(f"snoozed until {clock_time(snoozed, zone)}")
    return " · ".join(parts)


def _listed(owed: Sequence[Owed], in_room: bool) -> tuple[list[Owed], int]:
    if not in_room:
        return list(owed), 0
    shown = [o for o in owed if o.item.caveat.tlp in LISTED_IN_ROOMS]
    return shown, len(owed) - len(shown)


def _lines(owed: Sequence[Owed], directory: Directory, now: datetime, in_room: bool, limit: int,
           zone: str) -> list[str]:
    shown, withheld = _listed(owed, in_room)
    lines = [overdue_line(o, directory, now, zone) for o in shown[:limit]]
    if len(shown) > limit:
        lines.append(f"and {len(shown) - limit} more.")
    if withheld:
        lines.append(f"{withheld} more under TLP:AMBER+STRICT or TLP:RED, not listed in a room: "
                     "ask /overdue in a direct chat.")
    return lines


def render_overdue(owed: Sequence[Owed], directory: Directory, now: datetime, *, in_room: bool,
                   zone: str, scope: str | None = None, limit: int = OVERDUE_LIMIT, shown: str = "") -> str:
    """/overdue, on the asker's clock (`zone`), or UTC when it is read in a room. `shown`: what of the
    list the asker sees when it is not every line (handlers.visibility.overdue_shown), said with it."""
    where = f" for {scope}" if scope else ""
    if not owed:
        return f"Nothing of yours is overdue{where}. {shown}" if shown else f"Nothing is overdue{where}."
    head = f"Overdue{where}: {len(owed)}, most overdue first (times {zone_name(zone)})"
    return "\n".join([head, *_lines(owed, directory, now, in_room, limit, zone), *([shown] if shown else [])])


def render_digest(owed: Sequence[Owed], directory: Directory, now: datetime, *, day: str, new_items: int,
                  zone: str, limit: int = DIGEST_LIMIT) -> str:
    """The daily digest for the coordinators' room; `day` names the local day it is for, in `zone`
    (the digest's configured time zone), on whose clock its times are."""
    acks = sum(o.track is Track.ACK for o in owed)
    head = [f"Daily digest, {day}",
            f"New items in the last 24 hours: {new_items}. Overdue now: {len(owed)} "
            f"({acks} acknowledgement, {len(owed) - acks} feedback)."]
    if not owed:
        return "\n".join(head + ["Nothing is overdue."])
    return "\n".join(head + [f"Most overdue first (times {zone_name(zone)}):"]
                     + _lines(owed, directory, now, True, limit, zone))
