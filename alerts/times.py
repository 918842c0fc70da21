"""Times as people read them: on the reader's own clock, with the zone named.

This is the one place a moment is written for a person. Everything a person reads (deliveries,
receipts, /status, /mine, /overdue, reminders, escalations, digests, the web portal) shows its times
on the clock of whoever reads it: a contact's own `timezone` in the directory, else the configured
`default_timezone`, else UTC (`Directory.zone_for`, the one rule). A message
to a room has several readers with different clocks, so it names UTC; the coordinators' digest is
the exception, on the zone configured for it (the zone that also decides its day and hour). The
audit log and exports stay in UTC and are not written here.

    local_time(moment, "Asia/Bangkok")      '23 Nov 16:05 UTC+7'
    local_time(moment, "Australia/Sydney")  '23 Nov 20:05 AEDT'
    local_time(moment, "UTC")               '23 Nov 09:05 UTC'
    clock_time(moment, zone)                the same without the zone, under a heading that names it
                                            once: f"(times {zone_name(zone)})"
    button_time(moment, now, zone)          '14:02' or 'Sat 09:00' on a button of the person's own
                                            message (alerts.pressed); '14:02 UTC' when UTC is their clock

A zone's own abbreviation is used where the time zone database has a real one (AEDT, CET, IST);
where it only has a number (Bangkok's "+07"), the offset is written as UTC+7. A zone name this
machine does not know is shown as UTC, named as UTC, so that a time is never labelled wrongly.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.directory import Contact, Directory
from alerts.reminder_policy import zone_of
from alerts.routing_types import Destination, DestinationKind
from alerts.zones import UTC as UTC  # re-exported: the name rooms and headings use
from alerts.zones import canonical_zone


def zone_name(zone: str) -> str:
    """The zone as a heading names it: its IANA name as the tz database spells it, or UTC (also for a
    name not taken here, alerts.zones)."""
    name = canonical_zone(zone)
    return UTC if name is None or zone_of(name) is timezone.utc else name


def _offset(span: timedelta | None) -> str:
    minutes = int((span or timedelta()).total_seconds() // 60)
    if minutes == 0:
        return UTC
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _label(local: datetime) -> str:
    """`AEDT`, `UTC`, or `UTC+7` where the database has only a number for the zone."""
    if local.tzinfo is timezone.utc:
        return UTC
    name = local.tzname() or ""
    return name if name.isalpha() else _offset(local.utcoffset())


def clock_time(moment: datetime, zone: str) -> str:
    """`23 Nov 16:05` on the wall clock of `zone`, without naming it (a heading does)."""
    return f"{moment.astimezone(zone_of(zone)):%d %b %H:%M}"


def local_time(moment: datetime, zone: str) -> str:
    """`23 Nov 16:05 UTC+7`: the moment on the wall clock of `zone`, with the zone named."""
    local = moment.astimezone(zone_of(zone))
    return f"{local:%d %b %H:%M} {_label(local)}"


def button_time(moment: datetime, now: datetime, zone: str) -> str:
    """Short enough for a button on the person's own copy: `14:02` today on their clock, `Sat 09:00`
    on another day; "UTC" is said where that is their clock (no zone of their own, or one unknown here)."""
    local, today = moment.astimezone(zone_of(zone)), now.astimezone(zone_of(zone))
    text = f"{local:%H:%M}" if local.date() == today.date() else f"{local:%a %H:%M}"
    return f"{text} {UTC}" if zone_name(zone) == UTC else text


def local_or_none(moment: datetime | None, zone: str) -> str:
    return local_time(moment, zone) if moment is not None else "none"


def contact_zone(directory: Directory, contact_id: str | None) -> str:
    """The contact's clock (Directory.zone_for); the default for someone not (or no longer) in the directory."""
    return directory.zone_for(directory.contacts.get(contact_id) if contact_id else None)


def zone_line(directory: Directory, contact: Contact) -> str:
    """`Asia/Bangkok`, or `Asia/Bangkok (the network's default)` for someone without a zone of their own."""
    zone = zone_name(directory.zone_for(contact))  # the clock their times are shown on
    return zone if contact.timezone else f"{zone} (the network's default)"


def zone_at(directory: Directory, contact_id: str | None, destination: Destination) -> str:
    """The zone of a message for `contact_id` posted at `destination`: theirs in their direct chat,
    UTC in a room or group, where others read it too."""
    if destination.kind is DestinationKind.DIRECT:
        return contact_zone(directory, contact_id)
    return UTC
