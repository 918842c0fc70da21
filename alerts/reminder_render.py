"""Texts of reminders and escalations: the item's banner line first, then what is asked of the reader,
then how to do it. Times are on the reader's clock with the zone named (alerts.times).

They carry no content of the item (no body, purpose or topic): a reminder is sent to people the
caveat may not cover (a backup, the coordinators), so it says only what the banner line says and
who owes what, which is never more than the caveat allows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.away import Chain, away_too_text, chain_text, until_text
from alerts.directory import Directory
from alerts.items import Reference
from alerts.reachability import NO_ACCOUNT
from alerts.render import reference_banner
from alerts.reminders import FollowUp, Reminder, Stage, Track
from alerts.times import contact_zone, local_time


def when_for(moment: datetime, directory: Directory, contact: str) -> str:
    """`23 Nov 16:05 UTC+7`: the moment on the contact's own clock (UTC for someone without a zone)."""
    return local_time(moment, contact_zone(directory, contact))


def duration(span: timedelta) -> str:
    """`2d3h`, `5h10m`, `40m`: at most two units, rounded down."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    return "".join(parts[:2]) or "0m"


def lateness(span: timedelta) -> str:
    """`1h5m late`; `due now` within the first minute, where "0m late" reads like a fault."""
    return "due now" if span < timedelta(minutes=1) else f"{duration(span)} late"


def banner(item: FollowUp) -> str:
    """The item's banner line, as alerts.render.banner_line writes it for the Item itself."""
    return reference_banner(item.caveat.tlp, item.reference, item.priority, Reference.parse(item.reference).kind.noun)


def title(directory: Directory, contact: str) -> str:
    person = directory.contacts.get(contact)
    return person.title(directory) if person else contact


def _what(item: FollowUp, track: Track) -> str:
    if track is Track.ACK:
        return "acknowledgement"
    return "an answer" if item.reference.startswith("R-") else "feedback"


def _owed_on(item: FollowUp, track: Track) -> str:
    """What someone owes on the item, after "whose": `acknowledgement of A-…`, `feedback on A-…`, `answer to R-…`."""
    ref = item.reference
    if track is Track.ACK:
        return f"acknowledgement of {ref}"
    return f"answer to {ref}" if ref.startswith("R-") else f"feedback on {ref}"


def _asked(item: FollowUp, track: Track) -> str:
    """What the reader is asked to do, as a verb: `acknowledge`, `send feedback on`, `answer`."""
    if track is Track.ACK:
        return "acknowledge"
    return "answer" if item.reference.startswith("R-") else "send feedback on"


def _how(item: FollowUp, track: Track) -> str:
    ref = item.reference
    if track is Track.ACK:
        return f"Acknowledge: /ack {ref}"
    return f"{'Answer' if ref.startswith('R-') else 'Feedback'}: /reply {ref} <text>"


def render_reminder(reminder: Reminder, item: FollowUp, directory: Directory, now: datetime, *,
                    may_snooze: bool = True, away: str | None = None) -> str:
    """To the recipient who owes it, or, for an escalation, to their backup or a coordinator.
    `may_snooze`: whether the reader may /snooze it (not someone standing in: it holds one's own
    reminders); `away`: on an escalation, that the recipient is away and who stands in (owed_while_away)."""
    if reminder.stage is Stage.BACKUP:
        return render_backup(reminder, item, directory, now, away)
    if reminder.stage is Stage.COORDINATORS:
        text = render_escalation(item, [(reminder.contact, reminder.track, reminder.due)], directory, now,
                                 target=reminder.target, automatic=True)
        passed = backup_passed_over(reminder, directory)
        lines = text.split("\n")
        if away is not None:
            lines.insert(len(lines) - 1, away)  # before "Follow up": whom to follow up with
        if passed is not None:
            lines.insert(2, passed)  # after the banner and the head line: why it comes now
        return "\n".join(lines)
    ref, asked = item.reference, _asked(item, reminder.track)
    sender = title(directory, item.originator)
    due = when_for(reminder.due, directory, reminder.target)
    if reminder.due > now:
        line = f"Reminder: please {asked} {ref} from {sender} by {due}."
    elif now - reminder.due < timedelta(minutes=1):  # at its due time: "0m ago" would read like a fault
        line = f"Due now: please {asked} {ref} from {sender}, due {due}."
    else:
        count = f" (reminder {reminder.n + 1})" if reminder.stage is Stage.REPEAT else ""
        line = (f"Overdue{count}: please {asked} {ref} from {sender}; it was due {due}, "
                f"{duration(now - reminder.due)} ago.")
    hold = f" · Hold reminders: /snooze {ref} 4h <reason>" if may_snooze else ""
    return "\n".join([banner(item), line, _how(item, reminder.track) + hold])


def render_backup(reminder: Reminder, item: FollowUp, directory: Directory, now: datetime,
                  away: str | None = None) -> str:
    who = title(directory, reminder.contact)
    passed = backup_passed_over(reminder, directory)
    return "\n".join([
        *([passed] if passed is not None else []),
        banner(item),
        f"Please check with {who}, whose {_owed_on(item, reminder.track)} was due "
        f"{when_for(reminder.due, directory, reminder.to)}, {duration(now - reminder.due)} ago: "
        f"{'you are their backup' if reminder.via is None else 'you stand in for their backup'}.",
        *([away] if away is not None else []),
        f"Or ask {title(directory, item.originator)}, who sent it.",
    ])


def owed_while_away(contact: str, chain: Chain | None, stand_in: str | None, red: bool,
                    directory: Directory) -> str | None:
    """On an escalation about someone away: that they are, and who has had their reminders meanwhile
    (`stand_in`), or why nobody has. None when they are not away."""
    if chain is None or chain.away is None:
        return None
    head = f"{title(directory, contact)} is away until {until_text(chain.away, directory)}"
    if stand_in is not None:
        return f"{head}; {title(directory, stand_in)} stands in for them and has had their reminders."
    if red:
        return f"{head}; TLP:RED is for named people only, so it waits for them."
    return f"{head}; nobody standing in for them can take it ({chain_text(chain, directory)}), so it waits for them."


def backup_passed_over(reminder: Reminder, directory: Directory) -> str | None:
    """Who was passed over on an escalation and why: the recipient's backup is away, or cannot be
    reached. None when not."""
    if reminder.unreached is not None:
        return (f"{title(directory, reminder.contact)}'s backup {title(directory, reminder.unreached)} cannot be "
                f"reached ({NO_ACCOUNT}), so it comes to the coordinators now.")
    chain = reminder.passed
    if chain is None or chain.away is None:
        return None
    backup = title(directory, chain.person)
    line = f"{title(directory, reminder.contact)}'s backup {backup} is away until {until_text(chain.away, directory)}"
    if reminder.stage is Stage.BACKUP and reminder.via is not None:
        too = f" ({away_too_text(chain, directory)})" if chain.away_too else ""
        return line + f"{too}; sent to {title(directory, reminder.via)}, who stands in for {backup}."
    # The chain named whole says who else is away, and where it leads (a circle, the recipient).
    return line + (f"; nobody standing in for them can take it ({chain_text(chain, directory)}), "
                   "so it comes to the coordinators now.")


def render_escalation(item: FollowUp, owed: list[tuple[str, Track, datetime]], directory: Directory,
                      now: datetime, *, target: str, automatic: bool, asked_by: str | None = None) -> str:
    """To a coordinator (`target`): who owes what on the item, and since when, on their clock."""
    head = "Overdue, escalated automatically" if automatic else f"Escalated by {asked_by}"
    lines = [banner(item), f"{head}: {item.reference} from {title(directory, item.originator)}."]
    for contact, track, due in owed:
        when = when_for(due, directory, target)
        if due <= now:
            lines.append(f"{title(directory, contact)} owes {_what(item, track)} since {when} ({lateness(now - due)}).")
        else:  # /escalate before the due time
            lines.append(f"{title(directory, contact)} owes {_what(item, track)} by {when} (not overdue yet).")
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
        f"{asked_by} asks you to {_asked(item, track)} {item.reference}: it {state}.",
        _how(item, track),
    ])
