"""Where an answer goes when it carries facts a shared chat must not see.

An answer about AMBER+STRICT or RED items (who received them, when, how far they got) typed in a
group or room is given in the asker's direct chat with the bot on the same platform (on Matrix the
connector opens one on demand), and the chat is told only where the answer went
(alerts.caveat_rules.private_answer). Everything else is answered where it was asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from alerts.caveat_rules import private_answer
from alerts.caveats import Tlp
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from handlers.context import CommandContext


def placed_answer(ctx: CommandContext, text: str, tlps: Iterable[Tlp], *, kind: MessageKind = MessageKind.ANSWER,
                  reference: str | None = None) -> list[OutboundMessage]:
    """The answer's outbox rows: the answer where it may be read, and a pointer when that is elsewhere."""
    answer = ctx.answer_message(text, kind, reference)
    found = set(tlps)
    if not private_answer(ctx.message.chat, found, ctx.message.direct):
        return [answer]
    strictest = max(found & {Tlp.AMBER_STRICT, Tlp.RED}, key=lambda t: t.rank)
    private = replace(answer, destination=Destination.direct(ctx.message.sender))
    pointer = ctx.answer_message(f"{_name(ctx)}: answered in your direct chat with the bot, because the answer "
                                 f"is about {strictest.label} items, whose details stay out of shared chats.")
    return [private, pointer]


def answer_placed(ctx: CommandContext, text: str, tlps: Iterable[Tlp], *, kind: MessageKind = MessageKind.ANSWER,
                  reference: str | None = None) -> None:
    """Queue placed_answer()."""
    ctx.uow.outbox.enqueue_many(placed_answer(ctx, text, tlps, kind=kind, reference=reference))


def _name(ctx: CommandContext) -> str:
    return ctx.sender.name if ctx.sender is not None else str(ctx.message.sender)
