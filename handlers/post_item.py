"""/alert and /request: route the draft, number it, and queue every delivery in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from alerts.audit import AuditAction
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.errors import ReferenceUnavailable, RouteRefused
from alerts.items import Item, ItemDraft, Selector
from alerts.messages import MessageKind, OutboundMessage
from alerts.render import render_delivery, render_receipt
from alerts.routing import RouteNeedsConfirmation, Router, RoutingPolicy
from handlers.context import CommandContext


# Numbers an item may skip because their cases were erased before they were issued (a mistyped
# `audit erase`); more than this in a row is not a typo, and the command fails with an error reference.
_NUMBERS_TRIED = 20


@dataclass(frozen=True)
class PostingPolicy:
    """Due times, and how to route: `routing` (rules, arrangements) when given, else the topic defaults alone."""

    due: DuePolicy
    topic_defaults: Mapping[str, tuple[Selector, ...]] = field(default_factory=dict)
    routing: RoutingPolicy | None = None

    def router(self, directory: Directory) -> Router:
        return Router(directory, self.routing if self.routing is not None else self.topic_defaults)


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
        route = policy.router(ctx.directory).route(draft, ctx.sender, confirmed=confirmed)
    except RouteRefused as refused:
        ctx.audit(
            AuditAction.REFUSAL,
            caveat=draft.caveat.label(),
            purpose=draft.purpose,
            recipients=tuple(str(s) for s in draft.recipients),
            detail={"command": draft.kind.noun.lower(), "reason": str(refused)},
        )
        ctx.answer(refusal_answer(refused))
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
            ctx.uow.items.file_message(item.reference, ctx.message)  # its text, under the new case's key
            break
        except ReferenceUnavailable:
            continue  # erased before it was issued: that number stays unused
    else:
        raise RuntimeError(f"{_NUMBERS_TRIED} numbers in a row were erased before they were issued")
    ref = str(item.reference)
    text = render_delivery(item, ctx.directory)
    queued = [
        OutboundMessage(
            key=keys[delivery.contact],
            kind=MessageKind.DELIVERY,
            destination=delivery.destination,
            text=text,
            reference=ref,
            contact=delivery.contact,
            protect_content=draft.caveat.protect_content,
        )
        for delivery in route.deliveries
    ]
    detail = {
        "kind": draft.kind.noun.lower(),
        "body": draft.body,
        "topic": draft.topic or "",
        "priority": draft.priority.value,
        "grade": draft.grading.code if draft.grading else "",
        "route": "; ".join(f"{d.contact} via {d.destination} ({d.reason})" for d in route.deliveries),
    }
    if route.confirmed_without_arrangement:
        detail["confirmed_without_arrangement"] = ", ".join(route.confirmed_without_arrangement)
    ctx.audit(
        AuditAction.ITEM_CREATED,
        recipients=route.recipients,  # with those reached by a room post made for another recipient
        reference=ref,
        caveat=draft.caveat.label(),
        purpose=draft.purpose,
        detail=detail,
    )
    names = [ctx.directory.contacts[c].title(ctx.directory) for c in route.recipients]
    queued.append(ctx.answer_message(render_receipt(item, names), kind=MessageKind.RECEIPT, reference=ref))
    # The deliveries and the receipt in one statement: one round trip on PostgreSQL, not two.
    ctx.uow.outbox.enqueue_many(queued)
    return item
