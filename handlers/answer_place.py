"""Where an answer goes when it carries facts a shared chat must not see.

An answer about AMBER+STRICT or RED items (who received them, when, how far they got) typed in a
group or room is given in the asker's direct chat with the bot on the same platform (on Matrix the
connector opens one on demand), and the chat is told only where the answer went
(alerts.caveat_rules.private_answer). So is an answer that carries what only the asker should read
(their accounts: /whoami; items' text: /find): answer_in_direct_chat. Everything else is answered
where it was asked.

A message to a person about an item (feedback, a notice, a reminder, a forward) goes where
alerts.routing_places.direct_place says, as the item's own copies do: `messages_about`. Those that ask
the person to act (deliveries, reminders, escalations, approval requests) carry their accounts as `attention`, so that
each platform makes them notify (on Matrix: a mention), whatever the chat's quiet settings for the bot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import replace

from alerts.caveat_rules import ENCRYPTED_ONLY, private_answer, shared_chat
from alerts.caveats import Caveat, Tlp
from alerts.directory import Directory
from alerts.identity import Platform, UserRef
from alerts.messages import Disclosure, MessageKind, OutboundMessage
from alerts.routing import Destination
from alerts.routing_places import direct_place
from alerts.times import UTC, contact_zone
from handlers.context import CommandContext


def answer_zone(ctx: CommandContext, tlps: Iterable[Tlp] = ()) -> str:
    """The time zone of an answer: the asker's where only they read it (their direct chat, or an
    answer placed there because of `tlps`), UTC where others read it too (alerts.times)."""
    chat, direct = ctx.message.chat, ctx.message.direct
    if shared_chat(chat, direct) and not private_answer(chat, set(tlps), direct):
        return UTC
    return contact_zone(ctx.directory, ctx.sender.id if ctx.sender else None)


def placed_answer(ctx: CommandContext, text: str, tlps: Iterable[Tlp], *, kind: MessageKind = MessageKind.ANSWER,
                  reference: str | None = None) -> list[OutboundMessage]:
    """The answer's outbox rows: the answer where it may be read, and a pointer when that is elsewhere."""
    answer = ctx.answer_message(text, kind, reference)
    found = set(tlps)
    if not private_answer(ctx.message.chat, found, ctx.message.direct):
        return [answer]
    strictest = max(found & {Tlp.AMBER_STRICT, Tlp.RED}, key=lambda t: t.rank)
    private = replace(answer, destination=Destination.direct(ctx.message.sender), reply_to=None)
    pointer = ctx.answer_message(f"{_name(ctx)}: answered in your direct chat with the bot, because the answer "
                                 f"is about {strictest.label} items, whose details stay out of shared chats.")
    return [private, pointer]


def answer_placed(ctx: CommandContext, text: str, tlps: Iterable[Tlp], *, kind: MessageKind = MessageKind.ANSWER,
                  reference: str | None = None) -> None:
    """Queue placed_answer()."""
    ctx.uow.outbox.enqueue_many(placed_answer(ctx, text, tlps, kind=kind, reference=reference))


def answer_in_direct_chat(ctx: CommandContext, text: str, carries: str, reference: str | None = None) -> None:
    """Answer `text` in the asker's direct chat with the bot (as a stranger's refusal goes), and tell
    the chat asked in, in one line, where it went and why: what the answer `carries`."""
    answer = ctx.answer_message(text, reference=reference)
    ctx.uow.outbox.enqueue_many([
        replace(answer, destination=Destination.direct(ctx.message.sender)),
        ctx.answer_message(f"{_name(ctx)}: answered in your direct chat with the bot, because the "
                           f"answer carries {carries}.")])


def _name(ctx: CommandContext) -> str:
    return ctx.sender.name if ctx.sender is not None else str(ctx.message.sender)


PLATFORM_NAMES = {Platform.MATRIX: "Matrix", Platform.CONSOLE: "the console", Platform.TELEGRAM: "Telegram"}


# An approval request (and its reminder) waits on one person's decision, as a delivery on its reader.
ASKS_TO_ACT = frozenset({MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION, MessageKind.APPROVAL})


def attention_of(directory: Directory, contact_id: str) -> tuple[UserRef, ...]:
    """The accounts to notify when a message asks the contact to act."""
    contact = directory.contacts.get(contact_id)
    return contact.identities if contact is not None else ()


def messages_about(directory: Directory, contact_id: str, caveat: Caveat, reference: str, text: str,
                   new_key: Callable[[], str], *, kind: MessageKind = MessageKind.NOTICE,
                   encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY,
                   platforms: AbstractSet[Platform] | None = None, protect_content: bool = False,
                   key: str | None = None, attachments: tuple[str, ...] = (),
                   disclosure: Disclosure | None = None) -> list[OutboundMessage]:
    """The outbox rows telling the contact `text` about the item `reference`: `text` in the direct
    chat direct_place allows, and a content-free notice in their usual chat when that is elsewhere,
    or when no chat of theirs may carry it. [] for someone not (or no longer) reachable at all: nothing
    is queued for a platform the bot does not run. `disclosure`: what of the item `text` carries
    (alerts.messages.Disclosure), audited when it is sent; never the notice's."""
    contact = directory.contacts.get(contact_id)
    if contact is None:
        return []
    place = direct_place(contact, caveat, directory, encrypted_only, platforms).running(platforms)
    if place.destination is None and place.notice is None:
        return []
    found: list[OutboundMessage] = []
    if place.destination is not None:
        found.append(OutboundMessage(key=key or new_key(), kind=kind, destination=place.destination, text=text,
                                     reference=reference, contact=contact_id, protect_content=protect_content,
                                     attachments=attachments,  # with the content; never with the notice
                                     disclosure=disclosure,
                                     attention=contact.identities if kind in ASKS_TO_ACT else ()))
    if place.notice is not None:
        found.append(OutboundMessage(
            key=f"{key}:notice" if key else new_key(), kind=MessageKind.NOTICE, destination=place.notice,
            text=content_free_notice(caveat.tlp, reference, place.destination), reference=reference,
            contact=contact_id))
    return found


def content_free_notice(tlp: Tlp, reference: str, read_at: Destination | None) -> str:
    """Where to read a message about an item that this chat may not carry: no content, no facts."""
    if read_at is None:
        return (f"There is a message for you about {reference} ({tlp.label}), but {tlp.label} is sent only "
                "over end-to-end encrypted channels and you have none with the bot. Ask an admin to add a "
                "Matrix account for you (/member add).")
    return (f"A message for you about {reference} ({tlp.label}) awaits you on {PLATFORM_NAMES[read_at.platform]}, "
            f"in your direct chat with the bot there. {tlp.label} is sent only over end-to-end encrypted "
            "channels, so not here.")
