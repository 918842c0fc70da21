"""Plain-text rendering of deliveries and of what people read about items.

A delivery leads with what matters, because a phone's notification shows only its first lines: one
banner line (`[TLP:AMBER] URGENT · document-fraud · from Malaysia`), then the body, then a compact
block with the reference, the caveat in full (TLP and handling codes with their meanings, originator
control), the source grading and the due time, and last how to answer. The banner opens with the
TLP label, so no preview and no part of a long message split by a connector shows content without it.

Anything else that carries an item's content or a person's words about it (feedback, updates, the
outcome, a forward's purpose) opens with the item's banner_line, so its caveat is seen first.

Times are on the reader's clock with the zone named (alerts.times): each renderer takes the zone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence, Set
from datetime import datetime

from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.identity import ChatRef
from alerts.items import Item, ItemKind
from alerts.lifecycle import Closure, DeliveryState, Erasure, ForwardRequest, ForwardState, Progress, Withdrawal
from alerts.priority import Priority
from alerts.routing_types import Route
from alerts.times import clock_time, local_or_none, local_time, zone_name

# Between the body and what the bot adds: short, so it never wraps on a phone.
RULE = "───"
# Recipients a receipt names, each with why no room took their copy; the rest are counted.
PLACES_NAMED = 3


def priority_mark(priority: Priority) -> list[str]:
    """The banner's priority word: the one rule every banner follows. Routine says nothing, so that
    only what is worth a glance takes room on a lock screen."""
    return [] if priority is Priority.ROUTINE else [priority.value.upper()]


def reference_banner(tlp: Tlp, label: str, priority: Priority, noun: str) -> str:
    """`[TLP:AMBER] A-2026-0042 · URGENT alert` (routine: `[TLP:AMBER] A-2026-0042 · alert`): the first
    line of every message about an item other than its delivery (alerts.reminder_render too)."""
    return f"[{tlp.label}] {label} · " + " ".join([*priority_mark(priority), noun.lower()])


def banner_line(item: Item) -> str:
    """The first line of every message about the item other than its delivery, which says its number."""
    return reference_banner(item.caveat.tlp, item.label, item.draft.priority, item.kind.noun)


def _origin(item: Item, directory: Directory) -> str:
    originator = directory.contacts.get(item.originator)
    if originator is None:
        return item.originator
    organisation = directory.organisations.get(originator.organisation)
    return organisation.name if organisation else originator.organisation


def delivery_banner(item: Item, directory: Directory) -> str:
    """`[TLP:AMBER] URGENT · document-fraud · from Malaysia`: the caveat, the priority unless routine,
    the topic, and the originating country or organisation; what a notification preview shows first."""
    draft = item.draft
    parts = priority_mark(draft.priority)
    parts += [draft.topic] if draft.topic else []
    parts.append(f"from {_origin(item, directory)}")
    if item.revision > 1:  # a correction: the reader must see at once that it replaces what they had
        parts.append(f"rev {item.revision}")
    return f"[{item.caveat.tlp.label}] " + " · ".join(parts)


def caveat_lines(item: Item) -> list[str]:
    """The caveat in full and the grading, in two lines: the labels, then what they mean."""
    draft = item.draft
    caveat = draft.caveat
    grade = f"Grade {draft.grading.describe()}" if draft.grading is not None else "Not graded by the originator"
    meaning = [f"{caveat.tlp.label}: {caveat.tlp.meaning}.", f"{caveat.handling.value}: {caveat.handling.meaning}."]
    if caveat.originator_controlled and not caveat.handling.implies_orcon:
        meaning.append("ORCON: no onward sharing without the originator's consent.")
    return [f"{caveat.label()} · {grade}", " ".join(meaning)]


def render_delivery(item: Item, directory: Directory, forwarded: str | None = None, *, zone: str,
                    due: str | None = None) -> str:
    """What one recipient sees: the banner, the body, the reference with the caveat, grading and due
    time, and how to answer; `forwarded` says who passed it on; times on the clock of `zone`; `due`
    stands for the due line where none is set yet (an item held for release)."""
    draft = item.draft
    originator = directory.contacts.get(item.originator)
    sender = originator.title(directory) if originator else item.originator
    to = "to " + ", ".join(str(s) for s in draft.recipients) if draft.recipients else "by topic"
    block = [f"{item.label} · {item.kind.noun.lower()} from {sender} · {to}", *caveat_lines(item)]
    block.append(due if due is not None and item.feedback_due is None
                 else f"Feedback due {local_or_none(item.feedback_due, zone)}")
    if draft.purpose:
        block.append(f"Purpose: {draft.purpose}")
    if draft.outside_ref:
        block.append(f"Their ref: {draft.outside_ref}")
    if forwarded:
        block.append(forwarded)
    answer = (
        f"Acknowledge: /ack {item.reference} · Feedback: /reply {item.reference} <text>"
        if item.kind is ItemKind.ALERT
        else f"Acknowledge: /ack {item.reference} · Answer: /reply {item.reference} <answer>"
    )
    if draft.hub:
        block.insert(1, f"Hub: {draft.hub}")
    incident = [] if draft.incident.empty else ["Incident: " + draft.incident.compact()]
    return "\n".join([delivery_banner(item, directory), draft.body, *incident, RULE, *block, answer])


def render_receipt(item: Item, recipients: list[str], unreachable: Sequence[tuple[str, str]] = (), *,
                   zone: str, places: Sequence[str] = ()) -> str:
    """What the originator sees at once: the reference number, who it goes to, where copies meant for
    rooms went (`places`, from render_places), and who cannot be reached (each with why), so nobody
    believes a copy is on its way that never will be, or is in a room it never was."""
    names = receipt_names(recipients)
    where = "".join(f" {sentence}" for sentence in places)
    cannot = "".join(f" Cannot reach: {name} — {why}." for name, why in unreachable)
    return (
        f"{item.kind.noun} {item.reference} accepted ({item.caveat.label()}). "
        f"Sending to {names}.{where}{cannot} Feedback due {local_or_none(item.feedback_due, zone)}. "
        f"Track it with /status {item.reference}."
    )


RECEIPT_NAMES = 6  # a phone shows about this many names without scrolling; /status lists every one


def receipt_names(recipients: Sequence[str]) -> str:
    """Who a receipt says an item goes to: every name for a few, else the first three and a count
    (`to:all` named twenty people in a message a phone screen and a half long)."""
    if not recipients:
        return "nobody"
    if len(recipients) <= RECEIPT_NAMES:
        return ", ".join(recipients)
    return f"{len(recipients)} recipients: {', '.join(recipients[:3])} and {len(recipients) - 3} more"


def render_places(route: Route, directory: Directory, left_out: Set[str] = frozenset()) -> list[str]:
    """The rooms the route posts in, and each recipient whose copy was meant for a room (a hub's, or
    as a rule asks) but went to their direct chat, with why no room could take it. `left_out`: the
    contacts whose delivery no running connector carries (the receipt names them apart)."""
    rooms: dict[str, None] = {}
    for delivery in route.deliveries:
        address = delivery.destination.address
        if isinstance(address, ChatRef) and not address.is_direct and delivery.contact not in left_out:
            room = directory.room(address)
            rooms[room.name if room is not None else str(address)] = None
    sentences = [f"Posted in {', '.join(rooms)}."] if rooms else []
    direct = [(contact_id, why) for contact_id, why in route.not_in_room if contact_id not in left_out]
    for contact_id, why in direct[:PLACES_NAMED]:
        contact = directory.contacts.get(contact_id)
        name = contact.title(directory) if contact is not None else contact_id
        sentences.append(f"Not posted in a room for {name}: {why}; sent to their direct chat instead.")
    if len(direct) > PLACES_NAMED:  # a receipt stays short; the audit entry keeps every copy's reason
        sentences.append(f"{len(direct) - PLACES_NAMED} more went to their direct chats: no room could take them.")
    return sentences


# --- follow-up: feedback, closure, consent, /status and /mine ------------------------------------

def _clock(moment: datetime | None, zone: str) -> str:
    """`23 Nov 16:05` in `zone`, under a heading that names the zone once."""
    return clock_time(moment, zone) if moment else "none"


def erased_line(reference: object, erasure: Erasure) -> str:
    """`A-2026-0042: content erased on 2026-12-06 (retention period over)`: what every view and command
    says of an erased item in place of its content."""
    why = f" ({erasure.reason})" if erasure.reason else ""
    return f"{reference}: content erased on {erasure.erased_at:%Y-%m-%d}{why}"


def render_erased(reference: object, erasure: Erasure) -> str:
    """The answer to any command about an erased item: nothing can be done with it any more."""
    return (f"{erased_line(reference, erasure)}. It is closed; nothing more can be done with it. "
            "Who received it stays in the audit log.")


def withdrawn_line(reference: object, withdrawal: Withdrawal) -> str:
    """`A-2026-0042: withdrawn on 2026-12-06 (sent to the wrong country)`: what every command about a
    withdrawn item says, in the shape of erased_line."""
    why = f" ({withdrawal.reason})" if withdrawal.reason else ""
    return f"{reference}: withdrawn on {withdrawal.withdrawn_at:%Y-%m-%d}{why}"


def render_withdrawn(reference: object, withdrawal: Withdrawal) -> str:
    """The answer to any command about a withdrawn item."""
    return f"{withdrawn_line(reference, withdrawal)}. It is closed; nothing more can be done with it."


def render_superseded_notice(item: Item, earlier: int) -> str:
    """The one line that follows a copy of an earlier revision, where its reader gets the new one."""
    return (f"[{item.caveat.tlp.label}] {item.reference} rev {earlier} is superseded by {item.label}, sent to you "
            "now: acknowledge and act on that one.")


def render_superseded_copy(earlier: Item, revised: Item, directory: Directory) -> str:
    """What a delivered copy of an earlier revision becomes where the platform lets the bot edit it:
    the mark first, then the banner it had. Its content is gone from it: the new copy carries what is
    current."""
    return superseded_mark(delivery_banner(earlier, directory), revised)


def superseded_mark(banner: str, revised: Item) -> str:
    """The edited copy's text from the banner it had: a copy that landed after its item was corrected
    is known by its sent text alone (the earlier revision's draft is not kept)."""
    return f"Superseded by {revised.label} — see the new copy\n{banner}"


def render_withdrawal_notice(item: Item, by: str, withdrawal: Withdrawal, *, removed: bool) -> str:
    """The one line a recipient is told where their copy was; `removed`: the bot removes that copy
    (else they are asked to delete it themselves)."""
    after = ("Disregard it; the bot removes its copy." if removed
             else "Disregard it and delete the copy yourself: the bot can no longer remove it here.")
    return (f"[{item.caveat.tlp.label}] {item.reference} was withdrawn by {by} on "
            f"{withdrawal.withdrawn_at:%Y-%m-%d}: {withdrawal.reason or 'no reason given'}. {after}")


def render_feedback(item: Item, author: str, text: str, *, from_originator: bool,
                    closure: Closure | None = None, zone: str) -> str:
    """A /reply relayed: to the originator from a recipient, or to each recipient from the originator."""
    if from_originator:
        head = f"Update from the originator, {author} · {item.caveat.label()}"
        answer = f"Feedback: /reply {item.reference} <text>"
    else:
        head = f"Feedback from {author} · {item.caveat.label()}"
        answer = f"Answer: /reply {item.reference} <text> · Status: /status {item.reference}"
    lines = [banner_line(item), head]
    if closure is not None:
        lines.append(f"(The item was closed on {local_time(closure.closed_at, zone)}.)")
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


# What /status says of a copy given up on with nothing of it sent, by its outbox row's error code: why,
# and what the originator can do. The codes are the outbox's (storage.outbox; handlers.withdrawal's
# CANCELLED, handlers.correction's SUPERSEDED); a platform's are its connector's.
_NOT_SENT = {
    "withdrawn": "not sent: the item was withdrawn before it went",
    "superseded": "not sent: replaced by a correction before it went",
    "erased": "not sent: its case was erased",
}
_GIVEN_UP = "failed, will not be retried"
_ELSEWHERE = "reach them another way if it is urgent"


def failed_copy(code: str | None) -> str:
    """A copy that failed for good and reached nobody (`code`: its outbox row's last error, if known)."""
    if code is None:
        return f"{_GIVEN_UP}; {_ELSEWHERE}"
    if code in _NOT_SENT:
        return _NOT_SENT[code]
    if code.startswith("set-aside:"):
        return (f"{_GIVEN_UP}: the bot could not send it (error {code.removeprefix('set-aside:')}); quote the "
                f"error to whoever runs the bot, and {_ELSEWHERE}")
    if code.startswith("unknown:"):
        return (f"{_GIVEN_UP}: the platform never confirmed it ({code}), so it may have arrived; ask them, "
                f"or {_ELSEWHERE}")
    return f"{_GIVEN_UP}: the platform refused it or kept failing ({code}); {_ELSEWHERE}, or ask a coordinator " \
        "to check their account"


def _progress_line(name: str, progress: Progress, zone: str, unreachable: str | None = None,
                   partly: bool = False, failed: str | None = None) -> str:
    steps = [("sent", progress.sent_at), ("ack", progress.acknowledged_at), ("answered", progress.answered_at)]
    reached = [f"{label} {_clock(moment, zone)}" for label, moment in steps if moment is not None]
    if progress.state is DeliveryState.FAILED and not reached and unreachable:
        return f"{name}: undeliverable ({unreachable})"
    if progress.state is DeliveryState.FAILED and not reached and partly:
        # Not "not delivered": its reader holds part of it (a photo, the text's first parts).
        return f"{name}: partly delivered (part of it reached them, the rest failed)"
    if progress.state is DeliveryState.FAILED and not reached:  # given up on: nothing retries it
        return f"{name}: {failed_copy(failed)}"
    return f"{name}: " + (" · ".join(reached) if reached else progress.state.value)


def render_status(item: Item, originator: str, recipients: Sequence[tuple[str, Progress]], *,
                  closure: Closure | None = None, closer: str | None = None,
                  pending_forwards: int = 0, summary: bool = True,
                  unreachable: Mapping[str, str] | None = None, partly: Collection[str] = (),
                  failed: Mapping[str, str | None] | None = None, zone: str) -> str:
    """/status: the item's state and due times, then one line per recipient (times on the clock of
    `zone`, named once in the second line);
    `unreachable` gives, by recipient name, why a copy could never be sent; `partly` names those whose
    copy failed after part of it reached them; `failed`, the error code of each copy given up on (failed_copy).

    With summary=False (a recipient asking) `recipients` holds only the asker's own line (a delegate's:
    the lines of the copies they held for someone away), and the
    count of everyone's progress, which is not theirs to know, is left out.
    """
    state = "open" if closure is None else f"closed {_clock(closure.closed_at, zone)} by {closer or closure.closed_by}"
    lines = [
        f"{item.reference} · {item.caveat.label()} · {state}",
        f"{item.kind.noun} from {originator}, {_clock(item.created_at, zone)} (times {zone_name(zone)})",
        f"Ack due {_clock(item.ack_due, zone)} · feedback due {_clock(item.feedback_due, zone)}",
    ]
    if closure is not None and closure.outcome:
        lines.append(f"Outcome: {closure.outcome}")
    if summary:
        progress = [p for _, p in recipients]
        acked = sum(p.state.acknowledged for p in progress)
        answered = sum(p.state.answered for p in progress)
        lines.append(f"Acknowledged {acked} of {len(progress)} · answered {answered} of {len(progress)}")
    lines += [_progress_line(name, p, zone, (unreachable or {}).get(name), name in partly, (failed or {}).get(name))
              for name, p in recipients]
    if pending_forwards:
        lines.append(f"Forward requests waiting for consent: {pending_forwards} (/consent {item.reference} yes|no)")
    return "\n".join(lines)


def mine_sent_line(item: Item, organisations: Sequence[str], progress: Sequence[Progress],
                   pending_forwards: int = 0, *, zone: str) -> str:
    """/mine, an item I sent: reference, caveat, to whom, how far, when feedback is due."""
    acked = sum(p.state.acknowledged for p in progress)
    answered = sum(p.state.answered for p in progress)
    parts = [
        f"{item.reference} {item.caveat.tlp.label}",
        "to " + (", ".join(organisations) or "nobody"),
        f"{acked}/{len(progress)} ack, {answered} answered",
        f"due {_clock(item.feedback_due, zone)}",
    ]
    if pending_forwards:
        parts.append("1 forward awaits your consent" if pending_forwards == 1
                     else f"{pending_forwards} forwards await your consent")
    return " · ".join(parts)


def mine_received_line(item: Item, sender: str, state: DeliveryState, *, zone: str) -> str:
    """/mine, an item I received and is still open: what is still expected of me, and by when (once
    answered, nothing: it stays listed until closed, so "no open items" is never said of it)."""
    if state.answered:
        todo, due = "answered by you, still open", "nothing owed"
    elif state.acknowledged:
        todo, due = "to answer", f"due {_clock(item.feedback_due, zone)}"
    else:
        todo, due = "to acknowledge", f"ack due {_clock(item.ack_due, zone)}"
    return " · ".join([f"{item.reference} {item.caveat.tlp.label}", f"from {sender}", todo, due])


def render_mine(lines: Sequence[str], limit: int, *, zone: str) -> str:
    """The /mine answer: at most `limit` lines, newest first, and how many more there are; the lines'
    times are on the clock of `zone`, named in the heading."""
    if not lines:
        return "You have no open items, sent or received."
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"and {len(lines) - limit} more.")
    return f"Your open items, newest first (times {zone_name(zone)}):\n" + "\n".join(shown)
