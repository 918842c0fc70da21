"""/find, /mine all and /history: looking back over the items a person may see.

Who may see an item is the rule /status applies (handlers.followup.may_see): its originator,
coordinators and auditors, its recipients, and a delegate who was sent a copy of it for someone away
(also once that person is back). Content is sealed at rest, so a search never reads
more than it must: the repository chooses candidates by what is kept in clear (who sent and received
each item, its topic, when it was made: ItemRepository.find), the country filter reads the
directory, and only then is each candidate opened, newest first, until the page is full (and one
more, to know whether there is a next page). Every search is recorded in the audit log as a
consultation, with the references it showed.

/history reads one item's feedback back from the audit log (AuditLog.feedback, opened under the
item's case key) and shows what handlers.visibility.feedback_for lets the asker read. A withdrawn
item's history is shown too, with the withdrawal (who, when, why), to those who may see it; anyone
else is told only that it was withdrawn, as by every other command.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime, time, timedelta, timezone


from alerts.audit import AuditAction
from alerts.caveat_rules import channel_violation, shared_chat
from alerts.caveats import Tlp
from alerts.routing import Destination
from alerts.items import Reference
from alerts.lifecycle import Feedback
from alerts.render import erased_line
from alerts.times import clock_time, contact_zone, zone_name
from alerts.roles import Role
from handlers.answer_place import answer_in_direct_chat, answer_placed, answer_zone
from handlers.commands import FindCommand
from handlers.context import CommandContext
from handlers.followup import answer_withdrawn, find_item, may_see, sender_of, title
from handlers.ports import DeliveryRecord, ItemRecord
from handlers.visibility import ItemView, feedback_for, own_copies, record_view

PAGE = 8  # lines; a phone screen without scrolling, as /mine
HISTORY_PAGE = 12  # event lines of /history per answer: a phone screen with a short scroll
FEEDBACK_SHOWN = 100  # characters of a feedback text on its /history line (the portal shows it whole)


def _state(record: ItemRecord) -> str:
    if record.withdrawal is not None:
        return f"withdrawn {record.withdrawal.withdrawn_at:%Y-%m-%d}"
    if record.closure is not None:
        return "closed"
    return "open"


def readable_here(ctx: CommandContext, record: ItemRecord) -> bool:
    """The item's text may reach the asker's direct chat (where search answers go): not TLP:RED or
    AMBER+STRICT text over Telegram, which is not end-to-end encrypted. Where it may not, the item is
    neither matched by words nor shown with its text, so a search cannot carry its content there."""
    place = Destination.direct(ctx.message.sender)
    return channel_violation(record.item.caveat, place, ctx.directory, ctx.encrypted_only) is None


def _line(ctx: CommandContext, record: ItemRecord, zone: str) -> str:
    item = record.item
    if record.erasure is not None:
        return erased_line(item.reference, record.erasure)
    originator = ctx.directory.contacts.get(item.originator)
    sender = originator.organisation if originator else item.originator
    first = " ".join(item.draft.body.split())
    snippet = first if len(first) <= 48 else first[:47] + "…"
    if not readable_here(ctx, record):
        snippet = f"(its text only where {item.caveat.tlp.label} may be read: /status {item.reference} there)"
    return (f"{item.label} {item.caveat.tlp.label} · {clock_time(item.created_at, zone)} · "
            f"{item.draft.topic or 'no topic'} · from {sender} · {_state(record)}: {snippet}")


def _organisations(ctx: CommandContext, record: ItemRecord) -> set[str]:
    """The organisations an item went to or came from, as the directory has them now."""
    found = set()
    for contact_id in (record.item.originator, *(d.contact for d in record.deliveries)):
        contact = ctx.directory.contacts.get(contact_id)
        if contact is not None:
            found.add(contact.organisation)
    found.update(s.organisation for s in record.item.draft.recipients if s.organisation)
    return found


def _matches(ctx: CommandContext, command: FindCommand, record: ItemRecord) -> bool:
    """The filters that need the item opened (or the directory): country, ref, words."""
    if command.country is not None and command.country not in _organisations(ctx, record):
        return False
    item = record.item
    if command.reference is not None:
        theirs = (item.draft.outside_ref or "").upper()
        if not str(item.reference).startswith(command.reference) and command.reference not in theirs:
            return False
    if command.words:
        if record.erasure is not None or not readable_here(ctx, record):
            return False
        text = " ".join([item.draft.body, item.draft.purpose or "", item.draft.outside_ref or ""]).lower()
        return all(word in text for word in command.words)
    return True


def _page_of(ctx: CommandContext, references: list[Reference], command: FindCommand | None,
             page: int) -> tuple[list[ItemRecord], bool]:
    """The records of page `page` (of PAGE) among `references`, opened a batch at a time, newest
    first, and whether there are more after it."""
    sender = sender_of(ctx)
    skip, shown = (page - 1) * PAGE, list[ItemRecord]()
    start, batch = 0, page * PAGE + 1
    while start < len(references):
        for record in ctx.uow.items.get_many(references[start:start + batch]):
            if not may_see(sender, record):  # the candidates' rule and /status's must agree
                continue
            if command is not None and not _matches(ctx, command, record):
                continue
            if skip:
                skip -= 1
                continue
            if len(shown) == PAGE:
                return shown, True
            shown.append(record)
        start += batch
        batch = min(batch * 2, 256)  # a search that filters most out reads on in bigger batches
    return shown, False


def _answer(ctx: CommandContext, head: str, records: list[ItemRecord], more: str | None, empty: str,
            command: str) -> None:
    references = [str(r.item.reference) for r in records]
    ctx.audit(AuditAction.CONSULTATION, detail={"command": command, "shown": ", ".join(references)})
    if not records:
        ctx.answer(empty)
        return
    moved = shared_chat(ctx.message.chat, ctx.message.direct) and any(r.item.caveat.tlp is not Tlp.CLEAR for r in records)
    tlps = {r.item.caveat.tlp for r in records}
    zone = contact_zone(ctx.directory, sender_of(ctx).id) if moved else answer_zone(ctx, tlps)
    lines = [head.format(zone=zone_name(zone)), *(_line(ctx, r, zone) for r in records)]
    if more:
        lines.append(f"More: {more}")
    text = "\n".join(lines)
    if moved:
        # The lines carry items' text: only TLP:CLEAR may be read by a whole room.
        answer_in_direct_chat(ctx, text, "the text of items not for everyone here")
        return
    answer_placed(ctx, text, tlps)


def find(ctx: CommandContext, command: FindCommand) -> None:
    sender = sender_of(ctx)
    everything = sender.has(Role.COORDINATOR) or sender.has(Role.AUDITOR)
    since = datetime.combine(command.since, time(), timezone.utc) if command.since else None
    until = datetime.combine(command.until, time(), timezone.utc) + timedelta(days=1) if command.until else None
    candidates = ctx.uow.items.find(None if everything else sender.id, topic=command.topic, since=since, until=until)
    records, more = _page_of(ctx, candidates, command, command.page)
    following = FindCommand(command.words, command.topic, command.country, command.reference, command.since,
                            command.until, command.page + 1).render() if more else None
    _answer(ctx, f"Found, newest first (page {command.page}, times {{zone}}):", records, following,
            "Nothing found among the items you may see." if command.page == 1 else
            f"No page {command.page}: nothing more found.", "find")


def mine_all(ctx: CommandContext, page: int) -> None:
    """Every item the person sent or received, closed ones too (not every item, for a coordinator:
    that is /find)."""
    candidates = ctx.uow.items.find(sender_of(ctx).id)
    records, more = _page_of(ctx, candidates, None, page)
    following = f"/mine all page:{page + 1}" if more else None
    _answer(ctx, f"Your items, open and closed, newest first (page {page}, times {{zone}}):", records, following,
            "You have sent or received no items." if page == 1 else f"No page {page}: nothing more.", "mine all")


def history(ctx: CommandContext, reference: Reference, page: int = 1) -> None:
    record = find_item(ctx, reference, "history", withdrawn=True)
    if record is None:
        return
    sender, item = sender_of(ctx), record.item
    view = record_view(sender, record)
    if view is None and record.withdrawal is not None:
        answer_withdrawn(ctx, record)  # that it was withdrawn, as any command about it answers anyone
        return
    if view is None:
        ctx.audit(AuditAction.REFUSAL, reference=str(reference), caveat=item.caveat.label(),
                  detail={"command": "history", "reason": "not theirs to see"})
        ctx.answer(f"Only the originator, recipients, coordinators and auditors can see {reference}.")
        return
    overseer = view is ItemView.EVERY_RECIPIENT
    # Whose copies are theirs to know: every one for those who oversee it, else their own and those
    # they held as a delegate (as /status).
    copies = own_copies(sender, record)

    def mine(contact: str) -> bool:
        return overseer or contact in copies

    feedback = feedback_for(sender, view, ctx.uow.audit.feedback(reference), copies)
    withdrawal = record.withdrawal
    # Feedback texts and why it was withdrawn are the item's content: not in a shared chat unless
    # TLP:CLEAR (as /find), and not over a chat the caveat keeps its text from (TLP:RED on Telegram):
    # there, who and when only.
    texts = readable_here(ctx, record)
    said = bool(feedback) or (withdrawal is not None and bool(withdrawal.reason))
    moved = (said and texts and item.caveat.tlp is not Tlp.CLEAR
             and shared_chat(ctx.message.chat, ctx.message.direct))
    zone = contact_zone(ctx.directory, sender.id) if moved else answer_zone(ctx, (item.caveat.tlp,))
    events: list[tuple[datetime, str]] = []
    # A copy whose feedback is shown needs no "answered" line of its own: its feedback line says it.
    answered = {f.copy_of for f in feedback if not f.update}
    earlier = ctx.uow.items.earlier_deliveries(reference)
    for revision, delivery in earlier:
        if mine(delivery.contact):
            events += _copy_events(ctx, delivery, f"rev {revision}", answered)
    for delivery in record.deliveries:
        if mine(delivery.contact):
            events += _copy_events(ctx, delivery, f"rev {item.revision}" if item.revision > 1 else "", answered)
    # Each revision ended when the next was made: the revision a feedback answered is the one then in force.
    ends = sorted({(d.superseded_at, n) for n, d in earlier if d.superseded_at is not None})
    for f in feedback:
        revision = next((n for end, n in ends if f.given_at < end), item.revision)
        tag = f" (rev {revision})" if item.revision > 1 else ""
        events.append((f.given_at, _feedback_event(ctx, f, tag, item.caveat.tlp.label if not texts else None)))
    if overseer:
        for request in ctx.uow.items.forwards(reference):
            names = ", ".join(title(ctx, c) for c in request.contacts)
            events.append((request.requested_at, f"forward to {names} asked by {title(ctx, request.asker)}"))
            if request.decided_at is not None:
                events.append((request.decided_at, f"forward to {names} {request.state.value} by "
                                                   f"{title(ctx, request.decided_by or '')}"))
    closure = record.closure
    # A withdrawal closes its item: that closure is the withdrawal, said once (one made before stays).
    if closure is not None and (withdrawal is None or (closure.closed_at, closure.closed_by) != (
            withdrawal.withdrawn_at, withdrawal.withdrawn_by)):
        events.append((closure.closed_at, f"closed by {title(ctx, closure.closed_by)}"))
    if withdrawal is not None:
        events.append((withdrawal.withdrawn_at, f"withdrawn by {title(ctx, withdrawal.withdrawn_by)}"
                       + _reason(withdrawal.reason, item.caveat.tlp.label if not texts else None)))
    events.sort(key=lambda event: event[0])
    pages = max(1, -(-len(events) // HISTORY_PAGE))
    detail = {"command": "history", "view": view.value, "feedback": str(len(feedback))}
    if page > 1:
        detail["page"] = str(page)
    ctx.audit(AuditAction.CONSULTATION, reference=str(reference), caveat=item.caveat.label(), detail=detail)
    if page > pages:
        ctx.answer(f"No page {page}: the history of {reference} has {pages} page{'s' if pages > 1 else ''}. "
                   f"Example: /history {reference}")
        return
    on_page = f", page {page} of {pages}" if pages > 1 else ""
    state = " · withdrawn" if withdrawal is not None else ""
    lines = [f"{reference} · {item.caveat.label()}{state} · history (times {zone_name(zone)}{on_page})"]
    if page == 1:
        lines.append(f"{clock_time(item.created_at, zone)} {item.kind.noun.lower()} sent by {title(ctx, item.originator)}")
        if item.revision > 1:
            revisions = sorted({n for n, _ in earlier})
            lines.append(f"Revisions: {', '.join(f'rev {n}' for n in revisions)} superseded; now {item.label}")
    shown = events[(page - 1) * HISTORY_PAGE:page * HISTORY_PAGE]
    lines += [f"{clock_time(at, zone)} {what}" for at, what in shown]
    if page < pages:
        lines.append(f"More: /history {reference} page:{page + 1}")
    text = "\n".join(lines)
    if moved:
        carries = "the feedback of an item not for everyone here" if feedback else \
            "why an item not for everyone here was withdrawn"
        answer_in_direct_chat(ctx, text, carries, str(reference))
        return
    answer_placed(ctx, text, {item.caveat.tlp}, reference=str(reference))


def _reason(reason: str | None, withheld: str | None) -> str:
    """`: why` of a withdrawal on its /history line, cut short as feedback is; `withheld`: the TLP whose
    text may not be read here, said instead."""
    if not reason:
        return ""
    if withheld is not None:
        return f" (why only where {withheld} may be read)"
    text = " ".join(reason.split())
    return f": {text if len(text) <= FEEDBACK_SHOWN else text[:FEEDBACK_SHOWN - 1] + '…'}"


def _feedback_event(ctx: CommandContext, feedback: Feedback, tag: str, withheld: str | None) -> str:
    """`feedback from X (rev 2): text` (`update from X: text`), one line cut short for a phone;
    `withheld`: the TLP whose text may not be read here, said instead of the text."""
    if feedback.update:
        head = f"update from {title(ctx, feedback.by)}{tag}"
    else:
        behalf = f" for {title(ctx, feedback.on_behalf_of)}" if feedback.on_behalf_of else ""
        head = f"feedback from {title(ctx, feedback.by)}{behalf}{tag}"
    if withheld is not None:
        return f"{head} (its text only where {withheld} may be read)"
    text = " ".join(feedback.text.split())
    return f"{head}: {text if len(text) <= FEEDBACK_SHOWN else text[:FEEDBACK_SHOWN - 1] + '…'}"


def _copy_events(ctx: CommandContext, delivery: DeliveryRecord, revision: str,
                 answered: AbstractSet[str]) -> list[tuple[datetime, str]]:
    who, tag = title(ctx, delivery.contact), f" ({revision})" if revision else ""
    # A copy sent to a delegate for someone away says so: the recipient did not have it themselves.
    held = f" (given to {title(ctx, delivery.held_by)}, standing in)" if delivery.held_by else ""
    steps = [(delivery.sent_at, "delivered to", held), (delivery.acknowledged_at, "acknowledged by", ""),
             (delivery.answered_at if delivery.contact not in answered else None, "answered by", "")]
    return [(at, f"{what} {who}{tag}{extra}") for at, what, extra in steps if at is not None]
