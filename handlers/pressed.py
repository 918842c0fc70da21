"""A command sent by pressing a button plans that message's buttons to show its outcome.

Only where the connector says a button sent it (InboundMessage.pressed): the row of kind BUTTONS is
queued in the command's transaction, after whatever the command itself wrote, so the buttons change
only once the command is done, and a crash can neither lose the change nor make it twice.
"""

from __future__ import annotations

from datetime import datetime

from alerts.messages import MessageKind, OutboundMessage
from alerts.pressed import ButtonState, button_time
from alerts.routing import Destination
from handlers.context import CommandContext
from handlers.ports import ItemRecord


def plan_buttons(ctx: CommandContext, record: ItemRecord, *, acknowledged: datetime | None = None,
                 held_until: datetime | None = None) -> None:
    """The buttons of the pressed message as they now stand for the person who pressed: what the
    command just did (`acknowledged`, `held_until`) and what was true before it."""
    pressed = ctx.message.pressed
    if pressed is None or ctx.sender is None or not ctx.in_chat:
        return
    me = ctx.sender
    delivery = record.delivery_to(me.id)
    if acknowledged is None and delivery is not None and delivery.progress.state.acknowledged:
        acknowledged = delivery.acknowledged_at
    if held_until is None:
        found = ctx.uow.reminders.follow_ups([str(record.item.reference)])
        held_until = found[0].snoozed_until(me.id) if found else None
    if held_until is not None and held_until <= ctx.now:
        held_until = None
    state = ButtonState(
        message_id=pressed, reference=str(record.item.reference),
        acknowledged=button_time(acknowledged, ctx.now, ctx.directory.zone_for(me)) if acknowledged else None,
        held_until=button_time(held_until, ctx.now, ctx.directory.zone_for(me)) if held_until else None)
    ctx.uow.outbox.enqueue(OutboundMessage(
        key=ctx.new_key(), kind=MessageKind.BUTTONS, destination=Destination.chat(ctx.message.chat),
        text=state.to_json(), reference=str(record.item.reference), contact=me.id))
