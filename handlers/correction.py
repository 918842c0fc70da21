"""/correct REF [fields] [text]: the next revision of an item (`A-2026-0042 rev 2`).

By its originator, on an open item. The fields given and/or the new text replace the current
revision's; the result is routed afresh, as /alert routes a draft, and in the command's transaction:
- the new revision goes to the new route, each copy queued anew with due times from now, so every
  recipient acknowledges again (their copy changed: its revision, and whatever was corrected);
- the earlier revision's copies not yet sent, and its pending reminders and escalations, are
  cancelled (code `superseded`); each delivered copy is edited in place to say it is superseded (an
  outbox row of kind SUPERSEDE, alerts.supersede, carried out by bot/actions/supersede.py: a Matrix
  edit, a Telegram editMessageText or editMessageCaption), and where it cannot be edited it is
  followed by a one-line notice in the same chat instead; a delivered copy of a recipient
  the new route leaves out gets the withdrawal treatment (handlers.withdrawal.withdrawn_copy): its
  removal where the platform allows, and one line saying the item now goes elsewhere;
- the earlier revision's deliveries are kept apart (ItemRepository.revise), and the audit log
  records the correction with the new revision's route;
- a TLP:RED correction typed in a shared chat is planned for removal from it, as post_item does.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from alerts.audit import AuditAction
from alerts.errors import InvalidValue, RouteRefused
from alerts.lifecycle import Withdrawal
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import reachable, why_unreachable
from alerts.render import render_delivery, render_superseded_copy, render_superseded_notice
from alerts.supersede import Supersession, supersede_message
from alerts.times import zone_at
from alerts.routing import Destination
from handlers.answer_place import attention_of, placed_answer
from handlers.commands import CorrectCommand
from handlers.context import CommandContext
from handlers.followup import find_item, refuse, sender_of
from handlers.post_item import PostingPolicy, _notice, plan_removal, refusal_answer
from handlers.values import check_due
from handlers.withdrawal import CANCELLED_KINDS, delivered, originator_place, withdrawn_copy

# The error code of the messages a correction cancels before they were sent.
SUPERSEDED = "superseded"


def correct(ctx: CommandContext, command: CorrectCommand, policy: PostingPolicy) -> None:
    reference = command.reference
    record = find_item(ctx, reference, "correct")
    if record is None:
        return
    item, sender = record.item, sender_of(ctx)
    if sender.id != item.originator:
        refuse(ctx, record, "correct", f"Only the originator of {reference} can correct it. "
                                       f"A coordinator can take it back: /withdraw {reference} reason")
        return
    if record.closure is not None:
        refuse(ctx, record, "correct", f"{reference} is closed, so nobody acts on it any more. To take its copies "
                                       f"back: /withdraw {reference} reason")
        return
    draft = command.correction.apply(item.draft)
    tlps = {item.caveat.tlp, draft.caveat.tlp}
    try:
        check_due(draft.due, ctx.now)
        route = policy.router(ctx.directory).route(draft, sender, confirmed=command.confirmed)
    except InvalidValue as error:
        ctx.answer(str(error))
        return
    except RouteRefused as refused:
        ctx.audit(AuditAction.REFUSAL, reference=str(reference), caveat=draft.caveat.label(), purpose=draft.purpose,
                  detail={"command": "correct", "reason": str(refused)})
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, f"{refusal_answer(refused)} {reference} stays as it was.",
                                                  tlps))
        return
    unreachable = {d.contact: why_unreachable(d.destination) for d in route.deliveries
                   if not reachable(d.destination, policy.platforms)}
    if len(unreachable) == len(route.deliveries):
        ctx.uow.outbox.enqueue_many(placed_answer(
            ctx, f"Not corrected: nobody the corrected {item.kind.noun.lower()} is for can be reached. "
                 f"{reference} stays as it was.", tlps))
        return
    ack_due, feedback_due = policy.due.due_times(draft, ctx.now)
    revised = replace(item, draft=draft, ack_due=ack_due, feedback_due=feedback_due, revision=item.revision + 1,
                      revised_at=ctx.now)
    ref = str(reference)
    cancelled = set(ctx.uow.outbox.cancel(ref, CANCELLED_KINDS, SUPERSEDED))
    staying = set(route.recipients)
    dropped = replace(record, withdrawal=Withdrawal(
        ctx.now, sender.id, f"corrected as {revised.label}, which no longer goes to you"))
    place = originator_place(ctx, sender.id, record)
    rows: list[OutboundMessage] = []
    marked = taken_back = 0
    for delivery in record.deliveries:
        if delivery.outbox_key in cancelled or not delivered(delivery):
            continue
        if delivery.contact in staying:
            destination = Destination.parse(delivery.destination)
            notice = render_superseded_notice(revised, item.revision)
            protect = draft.caveat.protect_content or item.caveat.protect_content
            if delivery.platform_message_id is not None:  # edited in place where the platform allows
                rows.append(supersede_message(Supersession(
                    delivery.platform_message_id, ref, revised.revision,
                    render_superseded_copy(item, revised, ctx.directory), notice, delivery.contact, protect),
                    destination))
            else:  # sent, but its message unknown: the line after it is all that can be done
                digest = hashlib.sha256(f"superseded|{ref}|{item.revision}|{destination}".encode()).hexdigest()
                rows.append(OutboundMessage(
                    key=f"sup-{digest[:48]}", kind=MessageKind.NOTICE, destination=destination, text=notice,
                    reference=ref, contact=delivery.contact, protect_content=protect))
            marked += 1
        else:
            rows += withdrawn_copy(dropped, delivery, ctx.directory, ctx.now, place)
            taken_back += 1
    rows = list({m.key: m for m in rows}.values())  # recipients sharing a chat: one edit or line there
    keys = {delivery.contact: ctx.new_key() for delivery in route.deliveries}
    ctx.uow.items.revise(revised, route, keys, ctx.now)
    for contact in unreachable:
        ctx.uow.items.mark_delivery(keys[contact], "failed", ctx.now)
    files = ctx.uow.items.attachment_ids(reference)  # the item's photos and files go with each revision
    rows += [OutboundMessage(key=keys[d.contact], kind=MessageKind.DELIVERY, destination=d.destination,
                             text=render_delivery(revised, ctx.directory,
                                                  zone=zone_at(ctx.directory, d.contact, d.destination)),
                             reference=ref, contact=d.contact, protect_content=draft.caveat.protect_content,
                             attention=attention_of(ctx.directory, d.contact), attachments=files)
             for d in route.deliveries if d.contact not in unreachable]
    rows += [_notice(ctx, revised, notice) for notice in route.notices]
    # A TLP:RED correction typed in a shared chat leaves it, as a TLP:RED alert typed there does.
    removal = plan_removal(ctx, draft, ref)
    ctx.audit(AuditAction.CORRECTION, recipients=route.recipients, reference=ref, caveat=draft.caveat.label(),
              purpose=draft.purpose,
              detail={"revision": str(revised.revision), "body": draft.body, "topic": draft.topic or "",
                      "priority": draft.priority.value, "grade": draft.grading.code if draft.grading else "",
                      "route": "; ".join(f"{d.contact} via {d.destination} ({d.reason})" for d in route.deliveries),
                      "earlier_marked": str(marked), "earlier_taken_back": str(taken_back),
                      "cancelled": str(len(cancelled)), **removal})
    names = [ctx.directory.contacts[c].title(ctx.directory) for c in route.recipients
             if c in ctx.directory.contacts and c not in unreachable]
    answer = (f"{revised.label} accepted ({draft.caveat.label()}). Sending to {', '.join(names) or 'nobody'}. "
              f"Earlier copies: {marked} marked superseded, {taken_back} taken back, "
              f"{sum(d.outbox_key in cancelled for d in record.deliveries)} unsent cancelled. "
              f"Track it with /status {ref}.")
    rows += placed_answer(ctx, answer, tlps, kind=MessageKind.RECEIPT, reference=ref)
    ctx.uow.outbox.enqueue_many(rows)
