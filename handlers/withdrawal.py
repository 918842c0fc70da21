"""/withdraw REF reason: take an item back.

By its originator or a coordinator. In the command's transaction:
- the item is closed (if open) and marked withdrawn: when, by whom and why (sealed with its content);
- its copies not yet sent, and its reminders and escalations, are cancelled (outbox rows failed with
  the code `withdrawn`); a copy whose send was in flight and lands after all is treated by the
  delivery worker as below, when it records it (withdrawn_copy), and so is one that fails for good
  after part of it went;
- a copy part of which reached its reader before it failed (for good, or cancelled now between two
  attempts: a Telegram copy's photo went, its text did not) is taken back as a delivered one is: it is
  known by the first of its messages, and the removal deletes each of them;
- each delivered copy is removed where the platform allows: a REMOVAL outbox row (alerts.removal,
  carried out by bot/actions/removal.py: a Matrix redaction, a Telegram deletion within Telegram's 48
  hours, counted from its first message, the console prints it), and its reader is told in one line in
  the same chat; a Telegram copy too old to delete (one only partly sent too: dated by its photo) gets
  that line alone, asking its reader to delete it;
- a corrected item is taken back whole (earlier_held): each delivered copy of an earlier revision
  (edited to say it is superseded or not: where the edit failed it reads as it was sent), and each
  line sent in place of such an edit; such a line not sent yet is cancelled (and bot/actions/
  supersede.py tells none once the item is withdrawn), one in flight is removed by the delivery
  worker if it lands (withdrawn_line); one line per chat, whatever it held, under a key of its own
  (alerts.removal.withdrawn_notice_key: not the one a correction told a reader it left out with);
- the audit log records it (what is never sent counted apart from what was in flight), and the
  originator is told when a coordinator withdrew it.

Every later command about the item answers that it was withdrawn, when and why
(handlers.followup.find_item), as for an erased item.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from alerts.audit import AuditAction
from alerts.directory import Directory
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.lifecycle import DeliveryState, Withdrawal
from alerts.release import ReleaseState, approvers
from alerts.messages import MessageKind, OutboundMessage
from alerts.removal import (TELEGRAM_DELETE_MARGIN, TELEGRAM_DELETE_WINDOW, WITHDRAWN, WITHDRAWN_LINE, Removal,
                            dropped_notice_key, removal_message, withdrawn_notice_key)
from alerts.reminders import Track
from alerts.render import render_withdrawal_notice
from alerts.roles import Role
from alerts.routing import Destination
from alerts.routing_places import direct_place
from alerts.routing_types import DestinationKind
from alerts.supersede import notice_key, unknown_copy_line_key
from handlers.answer_place import answer_placed
from handlers.context import CommandContext
from handlers.followup import find_item, notify, refuse, sender_of, title
from handlers.ports import DeliveryRecord, ItemRecord

# The error code of the messages a withdrawal cancels before they were sent.
CANCELLED = "withdrawn"
CANCELLED_KINDS = frozenset({MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION})


def removable(destination: Destination, delivery: DeliveryRecord, now: datetime) -> bool:
    """The bot can still take this delivered copy out: it knows the message, and on Telegram it is
    inside the 48 hours Telegram allows (with a margin for the removal's turn in the queue), counted
    from when its first message went: a copy only partly sent (its photo went, its text did not) has
    no sent time of its own, and the photo is the oldest of it."""
    if delivery.platform_message_id is None:
        return False
    if destination.platform is Platform.TELEGRAM:
        sent = min((t for t in (delivery.first_part_at, delivery.sent_at) if t is not None), default=now)
        return now - sent < TELEGRAM_DELETE_WINDOW - TELEGRAM_DELETE_MARGIN
    return True


def withdrawn_copy(record: ItemRecord, delivery: DeliveryRecord, directory: Directory, now: datetime,
                   withdrawer_account: UserRef | None = None, *, dropped_at: int | None = None) -> list[OutboundMessage]:
    """The outbox rows that take one delivered copy of the withdrawn item back: its removal where the
    platform allows, then the one line its reader is told in the same chat. `dropped_at`: not a
    withdrawal but the revision that no longer goes to this reader (/correct; `record.withdrawal` then
    says so). Keys are made from the item, the copy, and the withdrawal or that revision, so planning
    it twice (the command, then the worker meeting a late send) plans it once."""
    removal = _removal(record, delivery, directory, now, withdrawer_account)
    destination = Destination.parse(delivery.place)
    return [*([removal] if removal else []),
            _told(record, destination, delivery.holder, directory, removed=removal is not None,
                  key=_told_key(record, destination, dropped_at))]


def withdrawn_line(record: ItemRecord, line: DeliveryRecord, directory: Directory, now: datetime,
                   withdrawer_account: UserRef | None = None) -> list[OutboundMessage]:
    """The removal of a line told in place of a superseded copy's edit whose send was in flight when
    the item was withdrawn, and landed (`line`: the copy's chat and holder, with the line's message):
    planned by the delivery worker as it records the send, as /withdraw plans it for a line sent
    before. Nothing is told: the line carries nothing of the item, and its chat was told with the
    copy it followed."""
    removal = _removal(record, line, directory, now, withdrawer_account, WITHDRAWN_LINE)
    return [removal] if removal is not None else []


def _told_key(record: ItemRecord, destination: Destination, dropped_at: int | None) -> str:
    reference = str(record.item.reference)
    return (withdrawn_notice_key(reference, destination) if dropped_at is None
            else dropped_notice_key(reference, dropped_at, destination))


def _withdrawer(record: ItemRecord, directory: Directory) -> str:
    withdrawal = record.withdrawal
    assert withdrawal is not None, "only a withdrawn item's copies are taken back"
    withdrawer = directory.contacts.get(withdrawal.withdrawn_by)
    return withdrawer.title(directory) if withdrawer else withdrawal.withdrawn_by


def _removal(record: ItemRecord, delivery: DeliveryRecord, directory: Directory, now: datetime,
             withdrawer_account: UserRef | None, purpose: str = WITHDRAWN) -> OutboundMessage | None:
    """The REMOVAL row of one message the bot sent about the withdrawn item (a copy of any revision,
    or the line that followed one), keyed by its chat and message; None where it cannot be removed."""
    withdrawal = record.withdrawal
    assert withdrawal is not None, "only a withdrawn item's copies are taken back"
    item, reference = record.item, str(record.item.reference)
    destination = Destination.parse(delivery.place)  # a delegate's chat, where they held it for someone away
    if not removable(destination, delivery, now):
        return None
    assert delivery.platform_message_id is not None
    room = directory.room(destination.address) if isinstance(destination.address, ChatRef) else None
    reader = directory.contacts.get(delivery.holder)
    place = room.name if room else (f"the direct chat of {reader.title(directory)}" if reader else str(destination))
    return removal_message(Removal(
        chat=destination.address if isinstance(destination.address, ChatRef) else None,
        message_id=delivery.platform_message_id, chat_name=place, officer=withdrawal.withdrawn_by,
        officer_account=withdrawer_account, officer_name=_withdrawer(record, directory), tlp=item.caveat.tlp.label,
        noun=item.kind.noun.lower(), reference=reference, purpose=purpose,
        direct_with=destination.address if destination.kind is DestinationKind.DIRECT
        and isinstance(destination.address, UserRef) else None))


def _told(record: ItemRecord, destination: Destination, holder: str, directory: Directory, *,
          removed: bool, key: str) -> OutboundMessage:
    """The one line told in a chat that held copies of the withdrawn item; `removed`: the bot removes
    every one of them there (else its reader is asked to delete what it cannot)."""
    withdrawal = record.withdrawal
    assert withdrawal is not None, "only a withdrawn item's copies are taken back"
    reference = str(record.item.reference)
    return OutboundMessage(
        key=key, kind=MessageKind.NOTICE, destination=destination,
        text=render_withdrawal_notice(record.item, _withdrawer(record, directory), withdrawal, removed=removed),
        reference=reference, contact=holder, protect_content=record.item.caveat.protect_content)


@dataclass(frozen=True, slots=True)
class _Held:
    """A message about the item its reader may still hold, and what it is."""

    delivery: DeliveryRecord  # for a line: the copy it followed, with the line's message
    revision: int  # the copy's (for a line: the revision of the copy it followed)
    earlier: bool = False  # a copy of an earlier revision
    line: bool = False  # the line sent where such a copy could not be edited to say it is superseded


def earlier_held(ctx: CommandContext, record: ItemRecord) -> tuple[list[_Held], frozenset[str]]:
    """What /withdraw takes back besides the current revision's copies: every delivered copy of an
    earlier revision (edited to say it is superseded or not: where the edit failed it still reads as
    sent), and each line sent in place of an edit; and the keys of such lines not sent yet."""
    ref = str(record.item.reference)
    held: list[_Held] = []
    lines: dict[str, tuple[int, DeliveryRecord]] = {}  # the line's key -> the copy it would follow
    for revision, delivery in ctx.uow.items.earlier_deliveries(record.item.reference):
        if not delivered(delivery):  # cancelled by the correction; if in flight, the worker takes it back
            continue
        held.append(_Held(delivery, revision, earlier=True))
        destination = Destination.parse(delivery.place)
        if delivery.platform_message_id is None:
            lines[unknown_copy_line_key(ref, revision, destination)] = revision, delivery
        else:  # marked by the next revision, or (sent late) by a later one
            for later in range(revision + 1, record.item.revision + 1):
                lines[notice_key(destination, delivery.platform_message_id, later)] = revision, delivery
    found = ctx.uow.outbox.entries(frozenset(lines))
    for key, (revision, copy) in lines.items():
        entry = found.get(key)
        if entry is not None and entry.state == "sent":
            held.append(_Held(replace(copy, outbox_key=key, state=DeliveryState.SENT.value,
                                      platform_message_id=entry.platform_message_id, sent_at=entry.sent_at,
                                      first_part_at=None),  # the line is one message, of its own time
                              revision, line=True))
    return held, frozenset(k for k, e in found.items() if e.state in ("pending", "sending"))


def _taking_back(ctx: CommandContext, record: ItemRecord, held: list[_Held],
                 withdrawer_account: UserRef | None) -> tuple[list[OutboundMessage], dict[str, int]]:
    """The rows that take `held` back: each message's removal where the platform allows, then one line
    in each chat that holds a copy, saying whether the bot removes what is there. A copy a correction
    took back already (it left out its recipient: the copy's removal planned, or where it could not
    be removed, its reader told) is neither planned again nor counted, nor is its chat told again on
    its account. How many removals of copies (of them, of earlier revisions), of lines, and chats told."""
    ref, current = str(record.item.reference), record.item.revision
    removals: dict[str, tuple[_Held, OutboundMessage]] = {}
    kept: dict[_Held, list[str]] = {}  # a copy that cannot be removed -> the keys of lines that told of it
    chats: dict[str, tuple[str, bool]] = {}  # the chat -> (whose copy is there, each copy there removed)
    for one in held:
        removal = _removal(record, one.delivery, ctx.directory, ctx.now, withdrawer_account,
                           WITHDRAWN_LINE if one.line else WITHDRAWN)
        if removal is not None:
            removals.setdefault(removal.key, (one, removal))
        if not one.line:  # a line carries nothing of the item: where it stays, nobody need delete it
            holder, removed = chats.get(one.delivery.place, (one.delivery.holder, True))
            chats[one.delivery.place] = (holder, removed and removal is not None)
            if removal is None:
                destination = Destination.parse(one.delivery.place)
                kept[one] = [dropped_notice_key(ref, later, destination) for later in range(one.revision + 1, current + 1)]
    lines = {chat: _told(record, Destination.parse(chat), holder, ctx.directory, removed=removed,
                         key=withdrawn_notice_key(ref, Destination.parse(chat)))
             for chat, (holder, removed) in chats.items()}
    known = ctx.uow.outbox.entries(frozenset([*removals, *(m.key for m in lines.values()),
                                              *(key for keys in kept.values() for key in keys)]))
    fresh = [(one, m) for one, m in removals.values() if m.key not in known]
    news = {one.delivery.place for one, _ in fresh if not one.line} | {
        one.delivery.place for one, keys in kept.items() if not any(key in known for key in keys)}
    told = [m for chat, m in lines.items() if chat in news and m.key not in known]
    counts = {"copies": sum(not one.line for one, _ in fresh), "earlier": sum(one.earlier for one, _ in fresh),
              "lines": sum(one.line for one, _ in fresh), "told": len(told)}
    return [m for _, m in fresh] + told, counts


def delivered(delivery: DeliveryRecord) -> bool:
    """A copy that reached (or may have reached) its reader, whole or in part (a copy that failed after
    its photo went is known by that photo's message)."""
    return delivery.platform_message_id is not None or delivery.progress.state.rank >= DeliveryState.SENT.rank


def withdraw(ctx: CommandContext, reference: Reference, reason: str) -> None:
    # Locked: a send the worker records meanwhile would otherwise be taken back by neither side.
    record = find_item(ctx, reference, "withdraw", for_update=True)
    if record is None:
        return
    item, sender = record.item, sender_of(ctx)
    if sender.id != item.originator and not sender.has(Role.COORDINATOR):
        refuse(ctx, record, "withdraw", f"Only the originator of {reference} or a coordinator can withdraw it.")
        return
    withdrawal = Withdrawal(ctx.now, sender.id, reason)
    if not ctx.uow.items.withdraw(reference, withdrawal):  # withdrawn by someone else a moment ago
        ctx.answer(f"{reference} was withdrawn already. See /status {reference}.")
        return
    stopped = ctx.uow.outbox.cancel(str(reference), CANCELLED_KINDS, CANCELLED)
    cancelled = set(stopped.keys)
    # The content-free notices queued with its reminders and escalations ("a message for you about
    # …, read it in …"): they would point at nothing now.
    follow_ups = set(ctx.uow.reminders.sent_about(str(reference), None, set(Track))) | cancelled
    ctx.uow.outbox.cancel(str(reference), {MessageKind.NOTICE}, CANCELLED,
                          only={f"{key}:notice" for key in follow_ups})
    record = ItemRecord(record.item, record.route, record.deliveries, record.closure, None, withdrawal)
    place = originator_place(ctx, sender.id, record)
    held: list[_Held] = []
    for delivery in record.deliveries:
        if delivery.outbox_key in cancelled:
            reached = stopped.reached.get(delivery.outbox_key)
            ctx.uow.items.mark_delivery(delivery.outbox_key, DeliveryState.FAILED.value, ctx.now, reached)
            if reached is not None:  # part of it went between two attempts (a photo): that is taken back
                held.append(_Held(replace(delivery, state=DeliveryState.FAILED.value, platform_message_id=reached),
                                  item.revision))
            continue
        if delivered(delivery):
            held.append(_Held(delivery, item.revision))
    earlier, lines_unsent = earlier_held(ctx, record)
    held += earlier
    # A line saying an earlier copy is superseded, still to be sent: never sent now.
    lines_stopped = ctx.uow.outbox.cancel(str(reference), {MessageKind.NOTICE}, CANCELLED, only=lines_unsent)
    rows, counts = _taking_back(ctx, record, held, place)
    ctx.uow.outbox.enqueue_many(rows)
    removals, told = counts["copies"], counts["told"]
    # A send in flight cannot be stopped: it lands after all, and a copy (withdrawn_copy) or a line
    # about a superseded copy (withdrawn_line) is then taken back as the worker records it; a reminder
    # stays, as those sent before do. So none of them is counted as cancelled: apart, as in flight.
    flying = sum(d.outbox_key in stopped.in_flight for d in record.deliveries)
    partly = sum(d.outbox_key in stopped.reached for d in record.deliveries)
    unsent = sum(d.outbox_key in cancelled for d in record.deliveries) - flying - partly
    lines_flying = len(lines_stopped.in_flight)
    ctx.audit(AuditAction.WITHDRAWAL, recipients=tuple(d.contact for d in record.deliveries),
              reference=str(reference), caveat=item.caveat.label(),
              detail={"reason": reason, "copies_removed": str(removals), "unsent_cancelled": str(unsent),
                      "in_flight": str(flying), "partly_sent_cancelled": str(partly),
                      # copies, reminders and escalations: never sent, and in flight
                      "messages_cancelled": str(len(cancelled - stopped.in_flight)),
                      "messages_in_flight": str(len(stopped.in_flight)),
                      "recipients_told": str(told),
                      "earlier_copies_removed": str(counts["earlier"]),
                      "superseded_lines_removed": str(counts["lines"]),
                      "superseded_lines_cancelled": str(len(lines_stopped.keys) - lines_flying),
                      "superseded_lines_in_flight": str(lines_flying)})
    if sender.id != item.originator:
        notify(ctx, item.originator, MessageKind.NOTICE, record,
               f"{reference} was withdrawn by {title(ctx, sender.id)}: {reason}.")
    waiting = _end_release(ctx, record, reason)
    earlier_part = f" ({counts['earlier']} of an earlier revision)" if counts["earlier"] else ""
    lines, sending = counts["lines"], flying + lines_flying
    lines_part = (f" and {lines} line{'' if lines == 1 else 's'} saying an earlier copy was superseded"
                  if lines else "")
    answer_placed(ctx, f"Withdrew {reference}. {waiting}{removals} delivered cop{'y' if removals == 1 else 'ies'}"
                       f"{earlier_part}{lines_part} to be removed, {unsent} unsent cancelled, "
                       f"{told} chat{'' if told == 1 else 's'} told."
                       + (f" {sending} being sent: taken back if {'it lands' if sending == 1 else 'they land'}."
                          if sending else ""),
                  {item.caveat.tlp}, reference=str(reference))


def _end_release(ctx: CommandContext, record: ItemRecord, reason: str) -> str:
    """A withdrawn item (or correction) that waited for a second person's approval has nothing left
    to approve: its release ends (no more reminders, no expiry notice), and its approvers are told in
    one line without its content. What the withdrawer's answer begins with ("" when nothing waited)."""
    ref = str(record.item.reference)
    held = ctx.uow.releases.get(ref)
    assert ctx.sender is not None
    why = f"withdrawn by {title(ctx, ctx.sender.id)} before it was released: {reason}"
    if held is None or held.state is not ReleaseState.PENDING or \
            not ctx.uow.releases.decide(ref, ReleaseState.FAILED, ctx.sender.id, ctx.now, why):
        return ""
    who = [c for c in approvers(ctx.directory, held.originator, held.organisation) if c.id != ctx.sender.id]
    for approver in who:
        notify(ctx, approver.id, MessageKind.NOTICE, record,
               f"{held.label} no longer waits for your approval: it was {why}.")
    ctx.audit(AuditAction.RELEASE, reference=ref, caveat=record.item.caveat.label(),
              recipients=tuple(c.id for c in who), detail={"event": "withdrawn", "revision": str(held.revision)})
    told = f" ({', '.join(c.title(ctx.directory) for c in who)} told)" if who else ""
    return f"{held.label} was waiting for approval: it will not be sent{told}. "


def originator_place(ctx: CommandContext, contact_id: str, record: ItemRecord) -> UserRef | None:
    """The account in whose direct chat `contact_id` may be told about the item (None: nowhere)."""
    contact = ctx.directory.contacts.get(contact_id)
    if contact is None:
        return None
    found = direct_place(contact, record.item.caveat, ctx.directory, ctx.encrypted_only, ctx.platforms).destination
    return found.address if found is not None and isinstance(found.address, UserRef) else None
