"""/ack, /reply, /close, /status and /mine: closing the loop on an item.

Who may do what (anyone else is refused, and the refusal is audited):
  /ack     a recipient: a contact with a delivery of the item
  /reply   a recipient (feedback, relayed to the originator) or the originator (an update, relayed
           to every recipient); both under the item's caveat
  /close   the originator or a coordinator
  /status  the originator, coordinators and auditors see every recipient; a recipient sees only
           their own line (who else received an item is not theirs to know); a delegate sent a copy
           for someone away sees that copy's line (handlers/visibility.py)
  /mine    anyone, about themselves

/status and /mine about AMBER+STRICT or RED items, asked in a group or room, are answered in the
asker's direct chat; the chat is told where the answer went (handlers/answer_place.py).

A closed item still takes /ack and /reply: late feedback (a hit after the case was closed) is
worth more than a tidy state, so it is relayed, marked as being about a closed item.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime

from alerts.audit import AuditAction
from alerts.caveat_rules import shared_chat
from alerts.caveats import Tlp
from alerts.items import ItemKind, Reference
from alerts.directory import Contact
from alerts.lifecycle import (
    FEEDBACK_TO_ORIGINATOR,
    UPDATE_TO_RECIPIENTS,
    Closure,
    DeliveryState,
    ForwardState,
    delivery_step,
)
from alerts.identity import Platform
from alerts.reachability import reachable, why_unreachable
from alerts.messages import Disclosure, MessageKind, OutboundMessage
from alerts.render import (
    erased_line,
    mine_received_line,
    mine_sent_line,
    render_closure,
    render_decision,
    render_erased,
    render_feedback,
    render_mine,
    render_status,
    render_withdrawn,
)
from alerts.release import ReleaseState
from alerts.reminders import Track
from alerts.roles import Role
from alerts.routing import Destination
from alerts.times import UTC, contact_zone, local_or_none, local_time, zone_at
from handlers.answer_place import answer_placed, answer_zone, messages_about
from handlers.context import CommandContext
from handlers.away import acting_for, divert_delivery, kept_back, note_act, stood_in_for
from handlers.ports import DeliveryRecord, ItemRecord
from handlers.pressed import plan_buttons
from handlers.visibility import ItemView, own_copies, record_view

MINE_LIMIT = 8  # lines; a phone screen without scrolling


# --- shared by the follow-up and forwarding commands --------------------------------------------

def sender_of(ctx: CommandContext) -> Contact:
    assert ctx.sender is not None, "the dispatcher checks senders before commands run"
    return ctx.sender


def may_see(sender: Contact, record: ItemRecord) -> bool:
    """Whether the sender may see the item at all (/status, /find, /mine all, /history): the one rule
    of handlers.visibility, which the web portal applies too."""
    return record_view(sender, record) is not None


def involved(ctx: CommandContext, record: ItemRecord) -> bool:
    """The sender could see the item: its originator, a recipient, a coordinator or an auditor."""
    return may_see(sender_of(ctx), record)


def find_item(ctx: CommandContext, reference: Reference, command: str, *,
              withdrawn: bool = False, for_update: bool = False) -> ItemRecord | None:
    """The item, or None after telling the sender there is no such item, or that it was erased or
    withdrawn (`withdrawn`: a withdrawn item is returned too, for a command that shows its past).

    The command's own text is about the item: it is filed under the item's case (see
    ItemRepository.file_message), so that erasing the case erases it too. `for_update`: the command
    changes the item's copies, so it locks the item (ItemRepository.get)."""
    record = ctx.uow.items.get(reference, for_update=for_update)
    if record is None:
        ctx.answer(f"There is no item {reference}. Check the reference; /mine lists your open items. "
                   f"Example: /{command} A-2026-0042")
        return None
    ctx.uow.items.file_message(reference, ctx.message)
    if record.erasure is not None:
        # Why it was erased is for those who could see the item; when, and that it is gone, for anyone.
        erasure = record.erasure if involved(ctx, record) else replace(record.erasure, reason=None)
        # No reference on the answer: it would be sealed under the erased case's key, which is gone.
        ctx.answer(render_erased(reference, erasure))
        return None
    if record.withdrawal is not None and not withdrawn:
        answer_withdrawn(ctx, record)
        return None
    return record


def answer_withdrawn(ctx: CommandContext, record: ItemRecord) -> None:
    """The answer about a withdrawn item: that it was, when and by whom; as for an erased item, why
    only for those who could see it. The answer is sealed under the case key, as the reason it shows is."""
    assert record.withdrawal is not None
    withdrawal = record.withdrawal if involved(ctx, record) else replace(record.withdrawal, reason=None)
    answer_placed(ctx, render_withdrawn(record.item.reference, withdrawal), {record.item.caveat.tlp},
                  reference=str(record.item.reference))


def refuse(ctx: CommandContext, record: ItemRecord, command: str, text: str) -> None:
    """Answer `text` and audit it as a refusal about the item; placed by the item's caveat, as any
    answer about it is (an AMBER+STRICT or RED item is not discussed in a shared chat)."""
    ctx.audit(AuditAction.REFUSAL, reference=str(record.item.reference), caveat=record.item.caveat.label(),
              detail={"command": command, "reason": text})
    answer_placed(ctx, text, (record.item.caveat.tlp,), reference=str(record.item.reference))


def title(ctx: CommandContext, contact_id: str) -> str:
    """`Th Npoc (Thailand)`; the bare id for someone no longer in the directory."""
    contact = ctx.directory.contacts.get(contact_id)
    return contact.title(ctx.directory) if contact else contact_id


def notify(ctx: CommandContext, contact_id: str, kind: MessageKind, record: ItemRecord, text: str,
           *, protect_content: bool = False, attachments: tuple[str, ...] = (),
           disclosure: Disclosure | None = None) -> bool:
    """Queue `text` about the item for the contact's direct chat, where the item's caveat lets it
    go (handlers.answer_place.messages_about); False when they are not (or no longer) reachable."""
    caveat = record.item.caveat
    found = messages_about(ctx.directory, contact_id, caveat, str(record.item.reference), text, ctx.new_key,
                           kind=kind, encrypted_only=ctx.encrypted_only, platforms=ctx.platforms,
                           protect_content=protect_content, attachments=attachments, disclosure=disclosure)
    ctx.uow.outbox.enqueue_many(found)
    return bool(found)


def relay_to_recipients(ctx: CommandContext, record: ItemRecord, kind: MessageKind,
                        text: Callable[[str], str], attachments: tuple[str, ...] = (),
                        disclosure: Disclosure | None = None) -> tuple[str, ...]:
    """Queue `text(zone)` to every recipient where their delivery went (a place the caveat allowed),
    once per place: recipients who share a room get one post there, as with the item itself. The
    zone is the recipient's in their direct chat, UTC in a room (alerts.times)."""
    item = record.item
    places: set[str] = set()
    people = (ctx.directory.contacts.get(c) for c in (item.originator, *(d.contact for d in record.deliveries)))
    audience = frozenset(person.organisation for person in people if person is not None)
    for delivery in record.deliveries:
        if delivery.destination in places:
            continue
        places.add(delivery.destination)
        destination = Destination.parse(delivery.destination)
        message = OutboundMessage(
            key=ctx.new_key(), kind=kind, destination=destination,
            text=text(zone_at(ctx.directory, delivery.contact, destination)),
            reference=str(item.reference), contact=delivery.contact, protect_content=item.caveat.protect_content,
            attachments=attachments, disclosure=disclosure,
        )
        # Someone away reads it where their delegate stands in (handlers/away.py), as with new items.
        ctx.uow.outbox.enqueue(divert_delivery(ctx, item, message, audience)[0])
    return tuple(d.contact for d in record.deliveries)


FOLLOW_UPS = frozenset({MessageKind.REMINDER, MessageKind.ESCALATION})


def drop_waiting_reminders(ctx: CommandContext, reference: str, contact: str | None, tracks: AbstractSet[Track],
                           why: str) -> None:
    """What was asked is done: the item's reminders and escalations about it (what `contact` owes
    on `tracks`; None: anyone) that are queued but not sent yet, because their platform made them
    wait, are not sent at all, nor their content-free notices. The reminder round reads the item
    under lock, so one it makes after this sees what was done; this drops those it made before."""
    keys = frozenset(ctx.uow.reminders.sent_about(reference, contact, tracks))
    if keys:
        ctx.uow.outbox.cancel(reference, FOLLOW_UPS | {MessageKind.NOTICE}, why,
                              only=keys | {f"{key}:notice" for key in keys})


# --- the commands -------------------------------------------------------------------------------


def acknowledge(ctx: CommandContext, reference: Reference) -> None:
    record = find_item(ctx, reference, "ack")
    if record is None:
        return
    me = sender_of(ctx).id
    delivery, on_behalf = _own_or_stood_in(ctx, record)
    if delivery is None:
        refuse(ctx, record, "ack", kept_back(ctx, record) or
               f"Only recipients of {reference} can acknowledge it. Your items: /mine")
        return
    if delivery_step(delivery.progress.state, DeliveryState.ACKNOWLEDGED) is None:
        plan_buttons(ctx, record)
        whose = _who(ctx) if on_behalf is None else f"{title(ctx, delivery.contact)}'s copy was"
        when = local_or_none(delivery.acknowledged_at, answer_zone(ctx))
        ctx.answer(f"{whose} already acknowledged {reference} at {when}.")
        return
    ctx.uow.items.mark_delivery(delivery.outbox_key, DeliveryState.ACKNOWLEDGED.value, ctx.now)
    drop_waiting_reminders(ctx, str(reference), delivery.contact, {Track.ACK}, "acknowledged")
    plan_buttons(ctx, record, acknowledged=ctx.now)
    item = record.item
    ctx.audit(AuditAction.ACKNOWLEDGEMENT, recipients=(item.originator,), reference=str(reference),
              caveat=item.caveat.label(), detail={"delivery": delivery.outbox_key, **_behalf_detail(delivery, on_behalf)})
    acked = 1 + sum(d.progress.state.acknowledged for d in record.deliveries if d is not delivery)
    when = local_time(ctx.now, contact_zone(ctx.directory, item.originator))  # notify() goes to a direct chat
    notify(ctx, item.originator, MessageKind.NOTICE, record,
           f"{reference}: acknowledged by {title(ctx, me)}{_for(ctx, delivery, on_behalf)} at {when} "
           f"({acked} of {len(record.deliveries)}).")
    if on_behalf is not None:
        note_act(ctx, delivery.contact, f"acknowledged {reference}")
    done = (f"{title(ctx, me)} acknowledged" if shared_chat(ctx.message.chat, ctx.message.direct)
            else "Acknowledged")  # a room sees who; a direct chat is only theirs
    ctx.answer(f"{done} {reference}{_for(ctx, delivery, on_behalf)}. {_feedback_hint(ctx, record, delivery)}")


def _who(ctx: CommandContext) -> str:
    """Who did it, as a room reads it (it names them); "You" in a direct chat."""
    shared = shared_chat(ctx.message.chat, ctx.message.direct)
    return title(ctx, sender_of(ctx).id) if shared else "You"


def _feedback_hint(ctx: CommandContext, record: ItemRecord, delivery: DeliveryRecord) -> str:
    """How to send feedback next: by a button (Telegram), or typed on Telegram where the copy went
    to Telegram too, replying to the message that carried it, which the connector takes as /reply;
    elsewhere, the command itself."""
    reference = record.item.reference
    on_telegram = (ctx.message.chat.platform is Platform.TELEGRAM
                   and Destination.parse(delivery.destination).platform is Platform.TELEGRAM)
    if ctx.message.pressed is not None or on_telegram:
        noun = record.item.kind.noun.lower()
        what = "your answer" if record.item.kind is ItemKind.REQUEST else "feedback"
        return f"To send {what}, reply to the {noun}'s message."
    return f"Send feedback with /reply {reference} <text>."


def _own_or_stood_in(ctx: CommandContext, record: ItemRecord) -> tuple[DeliveryRecord | None, str | None]:
    """The sender's own copy; else the copy of someone they stand in for (handlers.away.acting_for),
    with how ("delegate", "backup"); (None, None) when neither."""
    own = record.delivery_to(sender_of(ctx).id)
    if own is not None:
        return own, None
    found = acting_for(ctx, record)
    if found is None:
        return None, None
    return record.delivery_to(found[0]), found[1]


def _for(ctx: CommandContext, delivery: DeliveryRecord, on_behalf: str | None) -> str:
    return "" if on_behalf is None else f" for {title(ctx, delivery.contact)}"


def _behalf_detail(delivery: DeliveryRecord, on_behalf: str | None) -> dict[str, str]:
    return {} if on_behalf is None else {"on_behalf_of": delivery.contact, "as": on_behalf}


def reply(ctx: CommandContext, reference: Reference, text: str) -> None:
    record = find_item(ctx, reference, "reply")
    if record is None:
        return
    item = record.item
    me = sender_of(ctx).id
    closed = " It is closed, but they still get it." if record.closure else ""
    files = ctx.message.attachment_ids()  # filed under the item by find_item, with the reply's text
    if me == item.originator:
        contacts = relay_to_recipients(ctx, record, MessageKind.FEEDBACK, lambda zone: render_feedback(
            item, title(ctx, me), text, from_originator=True, closure=record.closure, zone=zone), files,
            Disclosure.UPDATE)
        ctx.audit(AuditAction.FEEDBACK, recipients=contacts, reference=str(reference), caveat=item.caveat.label(),
                  detail={"direction": UPDATE_TO_RECIPIENTS, "text": text})
        ctx.answer(f"Your update on {reference} goes to {_recipients(len(contacts))}.{closed}")
        return
    delivery, on_behalf = _own_or_stood_in(ctx, record)
    if delivery is None:
        refuse(ctx, record, "reply", kept_back(ctx, record) or
               f"Only the originator and recipients of {reference} can reply to it.")
        return
    relayed = render_feedback(item, title(ctx, me) + _for(ctx, delivery, on_behalf), text, from_originator=False,
                              closure=record.closure, zone=contact_zone(ctx.directory, item.originator))
    if not notify(ctx, item.originator, MessageKind.FEEDBACK, record, relayed,
                  protect_content=item.caveat.protect_content, attachments=files, disclosure=Disclosure.FEEDBACK):
        refuse(ctx, record, "reply", f"The originator of {reference} is no longer in the directory, so your "
                                     "feedback cannot be relayed. Tell a coordinator.")
        return
    # Answering implies acknowledging: both times are recorded, the first of each counts.
    for state in (DeliveryState.ACKNOWLEDGED, DeliveryState.ANSWERED):
        ctx.uow.items.mark_delivery(delivery.outbox_key, state.value, ctx.now)
    drop_waiting_reminders(ctx, str(reference), delivery.contact, set(Track), "answered")
    ctx.audit(AuditAction.FEEDBACK, recipients=(item.originator,), reference=str(reference),
              caveat=item.caveat.label(), detail={"direction": FEEDBACK_TO_ORIGINATOR, "text": text,
                                                  **_behalf_detail(delivery, on_behalf)})
    if on_behalf is not None:
        note_act(ctx, delivery.contact, f"replied to {reference}")
    ctx.answer(f"Your feedback on {reference}{_for(ctx, delivery, on_behalf)} goes to "
               f"{title(ctx, item.originator)}.{closed}")


def _recipients(count: int) -> str:
    return f"{count} recipient" if count == 1 else f"{count} recipients"


def close(ctx: CommandContext, reference: Reference, outcome: str) -> None:
    record = find_item(ctx, reference, "close")
    if record is None:
        return
    item, sender = record.item, sender_of(ctx)
    if sender.id != item.originator and not sender.has(Role.COORDINATOR):
        refuse(ctx, record, "close", f"Only the originator of {reference} or a coordinator can close it.")
        return
    if record.closure is not None or not ctx.uow.items.close(reference, Closure(sender.id, ctx.now, outcome)):
        when = local_time(record.closure.closed_at, answer_zone(ctx)) if record.closure else "earlier"
        ctx.answer(f"{reference} was already closed ({when}). See /status {reference}.")
        return
    ctx.audit(AuditAction.CLOSURE, recipients=tuple(d.contact for d in record.deliveries),
              reference=str(reference), caveat=item.caveat.label(), detail={"outcome": outcome})
    drop_waiting_reminders(ctx, str(reference), None, set(Track), "closed")
    # And those asked for by hand (/remind, /escalate), with their content-free notices.
    by_hand = ctx.uow.outbox.cancel(str(reference), FOLLOW_UPS, "closed")
    ctx.uow.outbox.cancel(str(reference), {MessageKind.NOTICE}, "closed",
                          only={f"{key}:notice" for key in by_hand.keys})
    closed = render_closure(item, title(ctx, sender.id), outcome)
    # The outcome written is what the closer says of the item: audited as it reaches each reader.
    outcome_told = Disclosure.CLOSURE if outcome else None
    told = relay_to_recipients(ctx, record, MessageKind.NOTICE, lambda zone: closed, disclosure=outcome_told)
    if sender.id != item.originator:
        notify(ctx, item.originator, MessageKind.NOTICE, record,
               render_closure(item, title(ctx, sender.id), outcome), protect_content=item.caveat.protect_content,
               disclosure=outcome_told)
    _refuse_pending_forwards(ctx, record)
    ctx.answer(f"Closed {reference}. {_recipients(len(told))} {'is' if len(told) == 1 else 'are'} told.")


def _refuse_pending_forwards(ctx: CommandContext, record: ItemRecord) -> None:
    """A closed item is not forwarded: waiting requests are refused, and each asker told why."""
    me, item, reason = sender_of(ctx).id, record.item, "the item was closed"
    for request in ctx.uow.items.forwards(item.reference):
        if not request.pending:
            continue
        if not ctx.uow.items.decide_forward(request.id, ForwardState.REFUSED, me, ctx.now, reason):
            continue
        ctx.audit(AuditAction.CONSENT, recipients=request.contacts, reference=str(item.reference),
                  caveat=item.caveat.label(), purpose=request.purpose,
                  detail={"request": request.id, "asker": request.asker, "decision": "refused", "reason": reason})
        decided = replace(request, state=ForwardState.REFUSED, decided_by=me, decided_at=ctx.now, reason=reason)
        names = [title(ctx, c) for c in request.contacts]
        notify(ctx, request.asker, MessageKind.NOTICE, record,
               render_decision(item, decided, title(ctx, me), names))


def status(ctx: CommandContext, reference: Reference, platforms: AbstractSet[Platform] | None = None) -> None:
    """`platforms`: those the bot runs on, so a copy for anywhere else shows as undeliverable."""
    record = find_item(ctx, reference, "status")
    if record is None:
        return
    item, sender = record.item, sender_of(ctx)
    view = record_view(sender, record)
    if view is None:
        refuse(ctx, record, "status", f"Only the originator, recipients, coordinators and auditors can see {reference}.")
        return
    overseer = view is ItemView.EVERY_RECIPIENT
    ctx.audit(AuditAction.CONSULTATION, reference=str(reference), caveat=item.caveat.label(),
              detail={"command": "status", "view": view.value})
    # A recipient's own line; a delegate's, the line of each copy they held (named by its recipient).
    copies = own_copies(sender, record)
    shown = record.deliveries if overseer else tuple(d for d in record.deliveries if d.contact in copies)
    pending = sum(f.pending for f in ctx.uow.items.forwards(reference)) if overseer else 0
    closer = title(ctx, record.closure.closed_by) if record.closure else None
    # With the item's reference, so that the answer (it shows the outcome) is sealed under the case key.
    unreachable = {title(ctx, d.contact): why_unreachable(Destination.parse(d.destination)) for d in shown
                   if not reachable(Destination.parse(d.destination), platforms)}
    # A copy that failed yet is known by a message: part of it reached its reader (a photo, not its text).
    partly = {title(ctx, d.contact) for d in shown
              if d.progress.state is DeliveryState.FAILED and d.platform_message_id is not None}
    # A copy given up on with nothing of it sent: why, by its outbox row's error code.
    gone = {d.outbox_key: title(ctx, d.contact) for d in shown
            if d.progress.state is DeliveryState.FAILED and d.platform_message_id is None}
    entries = ctx.uow.outbox.entries(frozenset(gone)) if gone else {}
    failed = {name: entries[key].error if key in entries else None for key, name in gone.items()}
    text = render_status(
        item, title(ctx, item.originator), [(title(ctx, d.contact), d.progress) for d in shown],
        closure=record.closure, closer=closer, pending_forwards=pending, summary=overseer, unreachable=unreachable,
        partly=partly, failed=failed,
        zone=answer_zone(ctx, {item.caveat.tlp}),
    )
    held = ctx.uow.releases.get(str(reference))
    if held is not None and held.state is ReleaseState.PENDING and held.correction is not None:
        text += (f"\nIts correction {held.label} is held for two-person release: it is not sent, and the copies "
                 f"above stay as they are, until it is approved; it expires {local_or_none(held.expires_at, UTC)}.")
    elif held is not None and held.state is ReleaseState.PENDING:  # handlers/release.py
        text += (f"\nHeld for two-person release: nothing is sent until it is approved; it expires "
                 f"{local_or_none(held.expires_at, UTC)}.")
    answer_placed(ctx, text, {item.caveat.tlp}, reference=str(reference))


def mine(ctx: CommandContext) -> None:
    me = sender_of(ctx).id
    records = list(ctx.uow.items.for_contact(me))
    # The answer goes to the asker's direct chat when any item in it must (answer_placed): its zone too.
    zone = answer_zone(ctx, {record.item.caveat.tlp for record in records if record.erasure is not None
                             or record.item.originator == me or record.delivery_to(me) is not None})
    lines: list[tuple[datetime, str, str, Tlp]] = []
    for record in records:
        item = record.item
        if record.erasure is not None:  # an erasure closes its item; one left open says what it is
            lines.append((item.created_at, str(item.reference), erased_line(item.reference, record.erasure),
                          item.caveat.tlp))
            continue
        if item.originator == me:
            organisations = _organisations(ctx, [d.contact for d in record.deliveries])
            pending = sum(f.pending for f in ctx.uow.items.forwards(item.reference))
            line = mine_sent_line(item, organisations, [d.progress for d in record.deliveries], pending, zone=zone)
        else:
            delivery = record.delivery_to(me)
            if delivery is None:
                continue
            originator = ctx.directory.contacts.get(item.originator)
            sender = f"{originator.name} ({originator.organisation})" if originator else item.originator
            line = mine_received_line(item, sender, delivery.progress.state, zone=zone)
        lines.append((item.created_at, str(item.reference), line, item.caveat.tlp))
    lines += _stood_in_lines(ctx, zone)
    lines.sort(key=lambda entry: entry[:2], reverse=True)
    answer_placed(ctx, render_mine([line for _, _, line, _ in lines], MINE_LIMIT, zone=zone),
                  {tlp for *_, tlp in lines})


def _stood_in_lines(ctx: CommandContext, zone: str) -> list[tuple[datetime, str, str, Tlp]]:
    """/mine of a delegate: what the people they stand in for still owe, on items that may pass to
    them (never TLP:RED), marked with whom it is for."""
    lines: list[tuple[datetime, str, str, Tlp]] = []
    for absence in stood_in_for(ctx.uow, sender_of(ctx).id, ctx.now):  # through a delegate away too
        for record in ctx.uow.items.for_contact(absence.person):
            item, delivery = record.item, record.delivery_to(absence.person)
            if (delivery is None or delivery.progress.state.answered or record.erasure is not None
                    or item.caveat.tlp is Tlp.RED):
                continue
            originator = ctx.directory.contacts.get(item.originator)
            sender = f"{originator.name} ({originator.organisation})" if originator else item.originator
            line = f"{mine_received_line(item, sender, delivery.progress.state, zone=zone)} · for {title(ctx, absence.person)}"
            lines.append((item.created_at, str(item.reference), line, item.caveat.tlp))
    return lines


def _organisations(ctx: CommandContext, contacts: list[str]) -> list[str]:
    """The recipients' organisation codes, each once, in route order."""
    codes: list[str] = []
    for contact_id in contacts:
        contact = ctx.directory.contacts.get(contact_id)
        code = contact.organisation if contact else contact_id
        if code not in codes:
            codes.append(code)
    return codes
