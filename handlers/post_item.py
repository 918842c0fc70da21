"""/alert and /request: route the draft, number it, and queue every delivery in one transaction."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from alerts.attachments import AttachmentPolicy, size_text
from alerts.audit import AuditAction
from alerts.caveat_rules import ENCRYPTED_ONLY, shared_chat
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.errors import InvalidValue, ReferenceUnavailable, RouteRefused
from alerts.incident import COUNT_MINIMUM
from alerts.items import Item, ItemDraft, Selector
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import reachable, why_unreachable
from alerts.removal import Removal, removal_message
from alerts.render import render_delivery, render_receipt
from alerts.routing import Destination, RouteNeedsConfirmation, Router, RoutingPolicy
from alerts.routing_types import Notice
from handlers.answer_place import attention_of, placed_answer
from handlers.context import CommandContext
from handlers.values import check_due


# Numbers an item may skip because their cases were erased before they were issued (a mistyped
# `audit erase`); more than this in a row is not a typo, and the command fails with an error reference.
_NUMBERS_TRIED = 20


@dataclass(frozen=True)
class PostingPolicy:
    """Due times, and how to route: `routing` (rules, arrangements) when given, else the topic defaults alone.
    `platforms` are those the bot runs connectors for, a live view (None: every platform counts as running)."""

    due: DuePolicy
    topic_defaults: Mapping[str, tuple[Selector, ...]] = field(default_factory=dict)
    routing: RoutingPolicy | None = None
    platforms: AbstractSet[Platform] | None = None
    attachments: AttachmentPolicy = field(default_factory=AttachmentPolicy)
    count_minimum: int = COUNT_MINIMUM  # the smallest count of a harmonised field /stats shows

    @property
    def membership_arrangement(self) -> bool:
        """Whether members share with members without an arrangement (alerts.arrangements)."""
        return self.routing.membership_arrangement if self.routing is not None else True

    @property
    def encrypted_only(self) -> frozenset[Tlp]:
        return self.routing.encrypted_only if self.routing is not None else ENCRYPTED_ONLY

    def router(self, directory: Directory, at: datetime | None = None) -> Router:
        """`at`: the time sharing arrangements' dates are checked against (the command's)."""
        return Router(directory, self.routing if self.routing is not None else self.topic_defaults,
                      platforms=self.platforms, at=at)


def refusal_answer(refused: RouteRefused) -> str:
    if isinstance(refused, RouteNeedsConfirmation):
        names = ", ".join(m.recipient for m in refused.missing)
        return (f"Not sent: {'; '.join(str(m) for m in refused.missing)}. To send anyway, repeat the command "
                f"with confirm:yes (it is recorded); or leave {names} out, or ask a coordinator to record the "
                "arrangement.")
    return f"Not sent: {refused}"


def post_item(ctx: CommandContext, draft: ItemDraft, policy: PostingPolicy, confirmed: bool = False) -> Item | None:
    """Accept the draft or refuse it with the reason; a refusal routes nothing and is audited."""
    assert ctx.sender is not None, "senders are checked before commands run"
    try:
        check_due(draft.due, ctx.now)  # here, where the clock is: the parser has none
    except InvalidValue as error:
        ctx.answer(str(error))
        return None
    attachments = ctx.message.attachments
    refused_files = policy.attachments.refusal(attachments) if attachments else None
    if refused_files is not None:  # fail closed: the whole command, not the text without its files
        ctx.audit(AuditAction.REFUSAL, caveat=draft.caveat.label(), purpose=draft.purpose,
                  recipients=tuple(str(s) for s in draft.recipients),
                  detail={"command": draft.kind.noun.lower(), "reason": "attachments: " + refused_files,
                          **_plan_removal(ctx, draft, None)})
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, refused_files, {draft.caveat.tlp}))
        return None
    try:
        route = policy.router(ctx.directory, ctx.now).route(draft, ctx.sender, confirmed=confirmed)
    except RouteRefused as refused:
        removal = _plan_removal(ctx, draft, None)
        ctx.audit(
            AuditAction.REFUSAL,
            caveat=draft.caveat.label(),
            purpose=draft.purpose,
            recipients=tuple(str(s) for s in draft.recipients),
            detail={"command": draft.kind.noun.lower(), "reason": str(refused), **removal},
        )
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, refusal_answer(refused), {draft.caveat.tlp}))
        return None
    # A copy no running connector can carry is not queued to wait forever: it is recorded as failed
    # and the receipt says at once who cannot be reached; with nobody reachable, nothing is sent.
    unreachable = {d.contact: why_unreachable(d.destination) for d in route.deliveries
                   if not reachable(d.destination, policy.platforms)}
    cut_off = {c: unreachable[d.contact] for d in route.deliveries if d.contact in unreachable
               for c in (d.contact, *d.also)}
    cannot = [(ctx.directory.contacts[c].title(ctx.directory), why) for c, why in cut_off.items()]
    if len(unreachable) == len(route.deliveries):
        reason = "; ".join(f"{name} — {why}" for name, why in cannot)
        ctx.audit(AuditAction.REFUSAL, caveat=draft.caveat.label(), purpose=draft.purpose,
                  recipients=tuple(cut_off), detail={"command": draft.kind.noun.lower(), "reason": f"unreachable: {reason}"})
        ctx.uow.outbox.enqueue_many(placed_answer(
            ctx, f"Not sent: nobody it is for can be reached. Cannot reach: {reason}.", {draft.caveat.tlp}))
        return None

    ack_due, feedback_due = policy.due.due_times(draft, ctx.now)
    keys = {delivery.contact: ctx.new_key() for delivery in route.deliveries}
    for _ in range(_NUMBERS_TRIED):
        item = Item(
            reference=ctx.uow.items.next_reference(draft.kind, ctx.now.year),
            draft=draft,
            originator=ctx.sender.id,
            origin_chat=ctx.message.chat,
            created_at=ctx.now,
            ack_due=ack_due,
            feedback_due=feedback_due,
        )
        try:
            ctx.uow.items.add(item, route, keys)
            ctx.uow.items.file_message(item.reference, ctx.message, origin=True)  # text and files, under its key
            break
        except ReferenceUnavailable:
            continue  # erased before it was issued: that number stays unused
    else:
        raise RuntimeError(f"{_NUMBERS_TRIED} numbers in a row were erased before they were issued")
    ref = str(item.reference)
    text = render_delivery(item, ctx.directory)
    files = ctx.message.attachment_ids()  # filed with the message, under the case key
    for contact in unreachable:
        ctx.uow.items.mark_delivery(keys[contact], "failed", ctx.now)
    queued = [
        OutboundMessage(
            key=keys[delivery.contact],
            kind=MessageKind.DELIVERY,
            destination=delivery.destination,
            text=text,
            reference=ref,
            contact=delivery.contact,
            protect_content=draft.caveat.protect_content,
            attachments=files,  # with the content, under the same caveat; a content-free notice has none
            attention=attention_of(ctx.directory, delivery.contact),
        )
        for delivery in route.deliveries
        if delivery.contact not in unreachable
    ]
    detail = {
        "kind": draft.kind.noun.lower(),
        "body": draft.body,
        "topic": draft.topic or "",
        "priority": draft.priority.value,
        "grade": draft.grading.code if draft.grading else "",
        "route": "; ".join(f"{d.contact} via {d.destination} ({d.reason})" for d in route.deliveries),
    }
    if attachments:
        detail["attachments"] = "; ".join(f"{a.name} ({a.mime}, {size_text(a.size)})" for a in attachments)
    if unreachable:
        detail["unreachable"] = "; ".join(f"{c}: {why}" for c, why in cut_off.items())
    if route.confirmed_without_arrangement:
        detail["confirmed_without_arrangement"] = ", ".join(route.confirmed_without_arrangement)
    if route.notices:
        detail["notices"] = "; ".join(f"{n.contact} via {n.destination} (to read at {n.read_at})" for n in route.notices)
        queued += [_notice(ctx, item, notice) for notice in route.notices]
    detail.update(_plan_removal(ctx, draft, ref))
    ctx.audit(
        AuditAction.ITEM_CREATED,
        recipients=route.recipients,  # with those reached by a room post made for another recipient
        reference=ref,
        caveat=draft.caveat.label(),
        purpose=draft.purpose,
        detail=detail,
    )
    names = [ctx.directory.contacts[c].title(ctx.directory) for c in route.recipients if c not in cut_off]
    queued += placed_answer(ctx, render_receipt(item, names, cannot), {draft.caveat.tlp}, kind=MessageKind.RECEIPT,
                            reference=ref)
    # The deliveries and the receipt in one statement: one round trip on PostgreSQL, not two.
    ctx.uow.outbox.enqueue_many(queued)
    return item


# --- where caveats keep content and facts out of shared chats -----------------------------------

_PLATFORM_NAMES = {Platform.MATRIX: "Matrix", Platform.CONSOLE: "the console", Platform.TELEGRAM: "Telegram"}


def _notice(ctx: CommandContext, item: Item, notice: Notice) -> OutboundMessage:
    """Content-free: the item's caveat, kind, number and origin, and where to read it."""
    tlp = item.caveat.tlp.label
    sender = ctx.directory.organisations.get(ctx.sender.organisation) if ctx.sender else None
    origin = sender.name if sender else item.originator
    where = _PLATFORM_NAMES[notice.read_at.platform]
    return OutboundMessage(
        key=ctx.new_key(), kind=MessageKind.NOTICE, destination=notice.destination, reference=str(item.reference),
        contact=notice.contact,
        text=f"A {tlp} {item.kind.noun.lower()} {item.reference} from {origin} awaits you on {where}, in your "
             f"direct chat with the bot there. {tlp} is sent only over end-to-end encrypted channels, so not here.")


def _plan_removal(ctx: CommandContext, draft: ItemDraft, reference: str | None) -> dict[str, str]:
    """A TLP:RED item typed in a shared chat: plan its removal from there (an outbox row, in this
    transaction), whatever became of the item. What the audit entry notes about it."""
    chat = ctx.message.chat
    if draft.caveat.tlp is not Tlp.RED or not shared_chat(chat, ctx.message.direct):
        return {}
    assert ctx.sender is not None
    room = ctx.directory.room(chat)
    removal = Removal(chat, ctx.message.message_id or "", room.name if room else str(chat), ctx.sender.id,
                      ctx.message.sender, ctx.sender.title(ctx.directory), draft.caveat.tlp.label,
                      draft.kind.noun.lower(), reference)
    if ctx.message.message_id is None:  # nothing to remove it by: both are asked to, at once
        why = "the platform did not say which message it was"
        ctx.uow.outbox.enqueue_many([
            ctx.answer_message(removal.kept_chat_text(why), MessageKind.NOTICE, reference),
            OutboundMessage(key=ctx.new_key(), kind=MessageKind.NOTICE, destination=Destination.direct(
                ctx.message.sender), text=removal.kept_officer_text(why), reference=reference, contact=ctx.sender.id)])
        return {"removal": "not possible: no message id; the chat and the officer were asked to delete it"}
    ctx.uow.outbox.enqueue(removal_message(removal))
    return {"removal": f"planned from {chat}"}
