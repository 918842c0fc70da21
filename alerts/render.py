"""Plain-text rendering of deliveries: the caveat banner always comes first, then the body.

Anything that carries an item's content or a person's words about it (feedback, updates, the
outcome, a forward's purpose) opens with the item's banner line, so its caveat is seen first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from alerts.directory import Directory
from alerts.items import Item, ItemKind
from alerts.lifecycle import Closure, DeliveryState, Erasure, ForwardRequest, ForwardState, Progress


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "none"


def banner_line(item: Item) -> str:
    """The first line of the item's banner, which every message about its content starts with."""
    return f"[{item.caveat.tlp.label}] {item.reference} · {item.draft.priority.value.upper()} {item.kind.noun.lower()}"


def banner_lines(item: Item, directory: Directory) -> list[str]:
    draft = item.draft
    caveat = draft.caveat
    originator = directory.contacts.get(item.originator)
    sender = originator.title(directory) if originator else item.originator
    lines = [
        banner_line(item),
        f"{caveat.tlp.label}: {caveat.tlp.meaning}.",
        f"Handling {caveat.handling.value}: {caveat.handling.meaning}.",
    ]
    if caveat.originator_controlled and caveat.handling.value not in ("H2", "H3"):
        lines.append("ORCON: no onward sharing without the originator's consent.")
    if draft.grading is not None:
        lines.append(f"Grade {draft.grading.describe()}")
    else:
        lines.append("Grade: not graded by the originator")
    details = []
    if draft.topic:
        details.append(f"Topic: {draft.topic}")
    details.append(f"Feedback due: {_when(item.feedback_due)}")
    lines.append(" · ".join(details))
    lines.append(f"From: {sender}")
    lines.append("To: " + ", ".join(str(s) for s in draft.recipients) if draft.recipients else "To: by topic")
    if draft.purpose:
        lines.append(f"Purpose: {draft.purpose}")
    if draft.outside_ref:
        lines.append(f"Their ref: {draft.outside_ref}")
    return lines


def render_delivery(item: Item, directory: Directory, forwarded: str | None = None) -> str:
    """What one recipient sees: banner, body, and how to answer; `forwarded` says who passed it on."""
    rule = "─" * 24
    answer = (
        f"Acknowledge: /ack {item.reference} · Feedback: /reply {item.reference} <text>"
        if item.kind is ItemKind.ALERT
        else f"Acknowledge: /ack {item.reference} · Answer: /reply {item.reference} <answer>"
    )
    head = banner_lines(item, directory) + ([forwarded] if forwarded else [])
    incident = item.draft.incident
    if not incident.empty:
        head.append("Incident: " + incident.compact())
    if item.draft.hub:
        head.append(f"Hub: {item.draft.hub}")
    return "\n".join([*head, rule, item.draft.body, rule, answer])


def render_receipt(item: Item, recipients: list[str], unreachable: Sequence[tuple[str, str]] = ()) -> str:
    """What the originator sees at once: the reference number, who it goes to, and who cannot be
    reached (each with why), so nobody believes a copy is on its way that never will be."""
    names = ", ".join(recipients) if recipients else "nobody"
    cannot = "".join(f" Cannot reach: {name} — {why}." for name, why in unreachable)
    return (
        f"{item.kind.noun} {item.reference} accepted ({item.caveat.label()}). "
        f"Sending to {names}.{cannot} Feedback due {_when(item.feedback_due)}. Track it with /status {item.reference}."
    )


# --- follow-up: feedback, closure, consent, /status and /mine ------------------------------------

def short_when(moment: datetime | None) -> str:
    """`23 Nov 09:05`, in UTC: short enough for a phone, unambiguous in every locale."""
    return moment.strftime("%d %b %H:%M") if moment else "none"


def erased_line(reference: object, erasure: Erasure) -> str:
    """`A-2026-0042: content erased on 2026-12-06 (retention period over)`: what every view and command
    says of an erased item in place of its content."""
    why = f" ({erasure.reason})" if erasure.reason else ""
    return f"{reference}: content erased on {erasure.erased_at:%Y-%m-%d}{why}"


def render_erased(reference: object, erasure: Erasure) -> str:
    """The answer to any command about an erased item: nothing can be done with it any more."""
    return (f"{erased_line(reference, erasure)}. It is closed; nothing more can be done with it. "
            "Who received it stays in the audit log.")


def render_feedback(item: Item, author: str, text: str, *, from_originator: bool,
                    closure: Closure | None = None) -> str:
    """A /reply relayed: to the originator from a recipient, or to each recipient from the originator."""
    if from_originator:
        head = f"Update from the originator, {author} · {item.caveat.label()}"
        answer = f"Feedback: /reply {item.reference} <text>"
    else:
        head = f"Feedback from {author} · {item.caveat.label()}"
        answer = f"Answer: /reply {item.reference} <text> · Status: /status {item.reference}"
    lines = [banner_line(item), head]
    if closure is not None:
        lines.append(f"(The item was closed on {short_when(closure.closed_at)} UTC.)")
    return "\n".join([*lines, text, answer])


def render_closure(item: Item, closer: str, outcome: str) -> str:
    """What each recipient is told when an item is closed."""
    said = f": {outcome}" if outcome else "."
    return "\n".join([banner_line(item), f"Closed by {closer}{said}", "No further action is needed."])


def render_consent_prompt(item: Item, asker: str, recipients: Sequence[str], purpose: str) -> str:
    """Asks the originator whether a recipient may pass the item on."""
    return "\n".join([
        banner_line(item),
        f"{asker} asks to forward your {item.kind.noun.lower()} {item.reference} to {', '.join(recipients)}.",
        f"Purpose: {purpose or 'not given'}",
        f"It is {item.caveat.label()}: nothing is sent until you answer.",
        f"Answer: /consent {item.reference} yes  or  /consent {item.reference} no <reason>",
    ])


def render_decision(item: Item, request: ForwardRequest, decider: str, recipients: Sequence[str]) -> str:
    """What the asker is told once the originator has answered."""
    granted = request.state is ForwardState.GRANTED
    verb = "agreed to" if granted else "refused"
    why = f" Reason: {request.reason}" if request.reason else ("" if granted else " No reason given.")
    return f"{decider} {verb} your forward of {item.reference} to {', '.join(recipients)}.{why}"


def _progress_line(name: str, progress: Progress, unreachable: str | None = None) -> str:
    steps = [("sent", progress.sent_at), ("ack", progress.acknowledged_at), ("answered", progress.answered_at)]
    reached = [f"{label} {short_when(moment)}" for label, moment in steps if moment is not None]
    if progress.state is DeliveryState.FAILED and not reached and unreachable:
        return f"{name}: undeliverable ({unreachable})"
    if progress.state is DeliveryState.FAILED and not reached:
        return f"{name}: not delivered yet (retrying)"
    return f"{name}: " + (" · ".join(reached) if reached else progress.state.value)


def render_status(item: Item, originator: str, recipients: Sequence[tuple[str, Progress]], *,
                  closure: Closure | None = None, closer: str | None = None,
                  pending_forwards: int = 0, summary: bool = True,
                  unreachable: Mapping[str, str] | None = None) -> str:
    """/status: the item's state and due times, then one line per recipient (times in UTC);
    `unreachable` gives, by recipient name, why a copy could never be sent.

    With summary=False (a recipient asking) `recipients` holds only the asker's own line, and the
    count of everyone's progress, which is not theirs to know, is left out.
    """
    state = "open" if closure is None else f"closed {short_when(closure.closed_at)} by {closer or closure.closed_by}"
    lines = [
        f"{item.reference} · {item.caveat.label()} · {state}",
        f"{item.kind.noun} from {originator}, {short_when(item.created_at)} (times UTC)",
        f"Ack due {short_when(item.ack_due)} · feedback due {short_when(item.feedback_due)}",
    ]
    if closure is not None and closure.outcome:
        lines.append(f"Outcome: {closure.outcome}")
    if summary:
        progress = [p for _, p in recipients]
        acked = sum(p.state.acknowledged for p in progress)
        answered = sum(p.state.answered for p in progress)
        lines.append(f"Acknowledged {acked} of {len(progress)} · answered {answered} of {len(progress)}")
    lines += [_progress_line(name, p, (unreachable or {}).get(name)) for name, p in recipients]
    if pending_forwards:
        lines.append(f"Forward requests waiting for consent: {pending_forwards} (/consent {item.reference} yes|no)")
    return "\n".join(lines)


def mine_sent_line(item: Item, organisations: Sequence[str], progress: Sequence[Progress],
                   pending_forwards: int = 0) -> str:
    """/mine, an item I sent: reference, caveat, to whom, how far, when feedback is due."""
    acked = sum(p.state.acknowledged for p in progress)
    answered = sum(p.state.answered for p in progress)
    parts = [
        f"{item.reference} {item.caveat.tlp.label}",
        "to " + (", ".join(organisations) or "nobody"),
        f"{acked}/{len(progress)} ack, {answered} answered",
        f"due {short_when(item.feedback_due)}",
    ]
    if pending_forwards:
        parts.append("1 forward awaits your consent" if pending_forwards == 1
                     else f"{pending_forwards} forwards await your consent")
    return " · ".join(parts)


def mine_received_line(item: Item, sender: str, state: DeliveryState) -> str:
    """/mine, an item I received and have not answered: what is still expected of me, and by when."""
    if state.acknowledged:
        todo, due = "to answer", f"due {short_when(item.feedback_due)}"
    else:
        todo, due = "to acknowledge", f"ack due {short_when(item.ack_due)}"
    return " · ".join([f"{item.reference} {item.caveat.tlp.label}", f"from {sender}", todo, due])


def render_mine(lines: Sequence[str], limit: int) -> str:
    """The /mine answer: at most `limit` lines, newest first, and how many more there are."""
    if not lines:
        return "You have no open items, sent or received."
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"and {len(lines) - limit} more.")
    return "Your open items, newest first (times UTC):\n" + "\n".join(shown)
