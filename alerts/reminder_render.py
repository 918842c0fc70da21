"""Texts of reminders and escalations: the item's banner line first, then who owes what by when.

They carry no content of the item (no body, purpose or topic): a reminder is sent to people the
caveat may not cover (a backup, the coordinators), so it says only what the banner line says and
who owes what, which is never more than the caveat allows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.directory import Directory
from alerts.items import Reference
from alerts.reminder_policy import zone_of
from alerts.reminders import FollowUp, Reminder, Stage, Track


def short_utc(moment: datetime) -> str:
    """`23 Nov 09:05 UTC`, as alerts.render.short_when writes times, with the zone said."""
    return f"{moment:%d %b %H:%M} UTC"


def local_time(moment: datetime, zone: str) -> str:
    """`Tue 16:05` on the wall clock of `zone`."""
    return f"{moment.astimezone(zone_of(zone)):%a %H:%M}"


def when_for(moment: datetime, directory: Directory, contact: str) -> str:
    """A moment in UTC, and on the contact's own clock when they are not on UTC."""
    person = directory.contacts.get(contact)
    if person is None or person.timezone.upper() == "UTC":
        return short_utc(moment)
    return f"{short_utc(moment)} ({local_time(moment, person.timezone)} your time)"


def duration(span: timedelta) -> str:
    """`2d3h`, `5h10m`, `40m`: at most two units, rounded down."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    return "".join(parts[:2]) or "0m"


def banner(item: FollowUp) -> str:
    """The item's banner line, as alerts.render.banner_line writes it for the Item itself."""
    noun = Reference.parse(item.reference).kind.noun.lower()
    return f"[{item.caveat.tlp.label}] {item.reference} · {item.priority.value.upper()} {noun}"


def title(directory: Directory, contact: str) -> str:
    person = directory.contacts.get(contact)
    return person.title(directory) if person else contact


def _what(item: FollowUp, track: Track) -> str:
    if track is Track.ACK:
        return "acknowledgement"
    return "an answer" if item.reference.startswith("R-") else "feedback"


def _how(item: FollowUp, track: Track) -> str:
    ref = item.reference
    if track is Track.ACK:
        return f"Acknowledge: /ack {ref}"
    return f"{'Answer' if ref.startswith('R-') else 'Feedback'}: /reply {ref} <text>"


def render_reminder(reminder: Reminder, item: FollowUp, directory: Directory, now: datetime) -> str:
    """To the recipient who owes it, or, for an escalation, to their backup or a coordinator."""
    if reminder.stage is Stage.BACKUP:
        return render_backup(reminder, item, directory, now)
    if reminder.stage is Stage.COORDINATORS:
        return render_escalation(item, [(reminder.contact, reminder.track, reminder.due)], directory, now,
                                 target=reminder.target, automatic=True)
    ref, what = item.reference, _what(item, reminder.track)
    sender = title(directory, item.originator)
    due = when_for(reminder.due, directory, reminder.target)
    if reminder.due > now:
        line = f"Reminder: {what} of {ref} from {sender} is due by {due}."
    else:
        count = f" (reminder {reminder.n + 1})" if reminder.stage is Stage.REPEAT else ""
        line = f"Reminder{count}: {what} of {ref} from {sender} was due {due}, {duration(now - reminder.due)} ago."
    return "\n".join([banner(item), line, f"{_how(item, reminder.track)} · Hold reminders: /snooze {ref} 4h <reason>"])


def render_backup(reminder: Reminder, item: FollowUp, directory: Directory, now: datetime) -> str:
    who = title(directory, reminder.contact)
    return "\n".join([
        banner(item),
        f"You are the backup of {who}: their {_what(item, reminder.track)} of {item.reference} was due "
        f"{when_for(reminder.due, directory, reminder.target)}, {duration(now - reminder.due)} ago.",
        f"Please check with them, or ask {title(directory, item.originator)}, who sent it.",
    ])


def render_escalation(item: FollowUp, owed: list[tuple[str, Track, datetime]], directory: Directory,
                      now: datetime, *, target: str, automatic: bool, asked_by: str | None = None) -> str:
    """To a coordinator: who owes what on the item, and since when."""
    head = "Overdue, escalated automatically" if automatic else f"Escalated by {asked_by}"
    lines = [banner(item), f"{head}: {item.reference} from {title(directory, item.originator)}."]
    for contact, track, due in owed:
        late = f"{duration(now - due)} late" if due <= now else f"due {when_for(due, directory, target)}"
        lines.append(f"{title(directory, contact)} owes {_what(item, track)} since {short_utc(due)} ({late}).")
    if not owed:
        lines.append("Nobody owes anything on it now.")
    lines.append(f"Follow up: /status {item.reference}")
    return "\n".join(lines)


def render_nudge(item: FollowUp, track: Track, due: datetime, asked_by: str, directory: Directory,
                 target: str, now: datetime) -> str:
    """A /remind: sent at once, whatever the stage, because someone asked."""
    state = f"was due {when_for(due, directory, target)}" if due <= now else f"is due by {when_for(due, directory, target)}"
    return "\n".join([
        banner(item),
        f"{asked_by} reminds you: {_what(item, track)} of {item.reference} {state}.",
        _how(item, track),
    ])
