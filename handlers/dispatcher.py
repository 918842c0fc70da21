"""From an inbound message to its effects: parse, check the sender and role, run the command, each
as the command's declaration in the registry (handlers/command_list.py) says.

Everything a command does is written through the unit of work it is given; the caller commits it
together with marking the inbox row done, so a command runs exactly once.

A conversation, kept in the database (uow.conversations) so that a restart does not lose it:
- a command that lacks only its text (`/alert to:TH`) is answered "Send the text of your alert
  now, or /cancel", and the same person's next message in the same chat, within `body_wait`, is
  its text; /cancel ends the wait, another command replaces it, and a message after the wait is
  answered that it lapsed;
- an edit of a command that was refused, or never taken as one, is taken as a new command; an edit
  of a command that was carried out is answered that it was, and is not run again;
- a /reply that comes with photos or files and no text (a photo sent without a caption in answer to
  one's copy) is feedback of the files alone: its text says so (`without_words`);
- a bare /alert or /request in a direct chat on Matrix or the console starts the guided form
  (handlers/guided.py, its choices numbered: handlers/guided_chat.py); the person's next messages
  there answer it, and on Send its command is run as if typed. Telegram's connector runs the same
  form with buttons.

Someone not in the directory is answered in their direct chat with the bot, never in a shared room:
whoever else reads the room learns nothing from the refusal.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Callable

from alerts.audit import AuditAction
from alerts.caveat_rules import shared_chat
from alerts.identity import Platform
from alerts.items import Item
from alerts.messages import Attachment, InboundMessage, with_mentions
from alerts.routing import Destination
from handlers.command_list import COMMANDS
from handlers.commands import Command, ParseError
from handlers.answer_place import answer_placed
from handlers.context import CommandContext
from handlers.guided import KINDS, Draft, GuidedForm
from handlers.guided_chat import chosen, shown
from handlers.lexer import split_head
from handlers.ports import AwaitedBody, CommandOutcome, DirectorySource, UnitOfWork
from handlers.post_item import PostingPolicy
from handlers.registry import Registry
from handlers.vocabulary import Vocabulary

log = logging.getLogger(__name__)

CARRY_ATTACHMENTS = frozenset({"alert", "request", "reply"})  # the commands a photo or file may come with

UNKNOWN_SENDER = (
    "You are not in this network's directory, so I cannot take commands from you. "
    "Ask an admin to add you (/member add)."
)
BODY_WAIT = timedelta(minutes=5)  # how long a command sent without its text waits for it


def command(message: InboundMessage, word: str) -> str:
    """A command as a hint names it: with `!` on Matrix, where clients take `/word` for their own."""
    return f"{'!' if message.chat.platform is Platform.MATRIX else '/'}{word}"


def without_words(attachments: tuple[Attachment, ...]) -> str:
    """The text of feedback that is photos or files alone: what its reader is shown instead of words."""
    if len(attachments) == 1:
        what = "a photo" if attachments[0].mime.startswith("image/") else "a file"
    else:
        what = f"{len(attachments)} attachments"
    return f"({what}, with no text)"


def _minutes(wait: timedelta) -> str:
    minutes = max(1, round(wait.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class Dispatcher:
    def __init__(
        self,
        directory: DirectorySource,
        policy: PostingPolicy,
        vocabulary: Callable[[], Vocabulary],
        new_key: Callable[[], str],
        commands: Registry = COMMANDS,
        body_wait: timedelta = BODY_WAIT,
    ) -> None:
        self._commands = commands
        self._body_wait = body_wait
        self._directory = directory
        self._policy = policy
        self._vocabulary = vocabulary
        self._new_key = new_key

    def handle(self, uow: UnitOfWork, message: InboundMessage) -> None:
        if message.remark is not None:  # a gesture that does nothing: say why, to a contact (a stranger's is left alone)
            remarked = self._context(uow, message)
            if remarked.sender is not None:
                answer_placed(remarked, message.remark, ())
            return
        if message.mentions:  # a person named by a mention (a Matrix pill shows only a display name) is their account
            message = replace(message, text=with_mentions(message.text, message.mentions), mentions=())
        edited = message.edit_of  # the original's id: what a later edit names it by, too
        if edited is not None:
            if self._edit_was_run(uow, message):
                return
            message = replace(message, edit_of=None)  # taken as the command it now is
        vocabulary = self._vocabulary()
        parsed = self._commands.parse(message.text, vocabulary)
        if isinstance(parsed, ParseError) and message.attachments:
            parsed = self._files_alone(message, parsed, vocabulary)
        # Both in one look: answering a form leaves a command awaiting its text as it was.
        form, awaited = uow.conversations.waiting(message.sender, message.chat)
        if form is not None:
            answered = self._form_answer(uow, message, Draft.from_json(form), parsed, GuidedForm(vocabulary))
            if answered is None:
                return
            if answered is not message:  # Send: the form's command, run as if typed
                message, parsed = answered, self._commands.parse(answered.text, vocabulary)
        header: InboundMessage | None = None
        if awaited is not None:
            uow.conversations.stop_awaiting(message.sender, message.chat)  # whatever this message is, it ends the wait
            if parsed is None:
                header = self._header(uow, message, awaited)
                if header is None:
                    return
                message = replace(message, text=f"{header.text.rstrip()}\n\n{message.text}")
                parsed = self._commands.parse(message.text, vocabulary)
            elif not isinstance(parsed, ParseError) and parsed.name == "cancel":
                self._context(uow, message).answer(f"Cancelled: your {awaited.command} was not sent.")
                return
        if parsed is None:
            return  # ordinary conversation: not ours to answer
        ctx = self._context(uow, message)
        name = parsed.command if isinstance(parsed, ParseError) else parsed.name
        if ctx.sender is None:
            ctx.audit(AuditAction.REFUSAL, detail={"command": name or "", "reason": "unknown sender"})
            self._answer_stranger(ctx)
            return
        if isinstance(parsed, ParseError):
            if not message.attachments and self._starts_form(ctx, parsed):
                started = GuidedForm(vocabulary).start(parsed.command or "", message.received_at.timestamp(), 0)
                assert started.draft is not None
                uow.conversations.keep_form(message.sender, message.chat, started.draft.to_json())
                ctx.answer(shown(started, command(message, "cancel")))
                return
            # A photo's caption is its whole command: its text is not waited for (the photo would be lost).
            spec = self._commands.awaits_text(message.text, vocabulary) if not message.attachments else None
            denied = self._commands.refusal(spec.name, ctx.sender) if spec is not None else None
            if spec is None or denied:
                ctx.answer(denied or str(parsed))
                return
            uow.conversations.await_body(AwaitedBody(message.sender, message.chat, spec.text or spec.name,
                                                     message.sender.platform.value, message.event_id,
                                                     message.received_at))
            ctx.answer(f"Send the text of your {spec.text} now, or {command(message, 'cancel')}. "
                       f"I wait {_minutes(self._body_wait)} for it.")
            return
        ctx.audit(AuditAction.COMMAND, detail={"command": parsed.name, "event": message.event_id})
        denied = self._commands.refusal(parsed.name, ctx.sender)
        if denied:
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": denied})
            ctx.answer(denied)
            return
        if message.attachments and parsed.name not in CARRY_ATTACHMENTS:
            # Fail closed: a file is never dropped silently, nor run with a command that cannot carry it.
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": "attachment with a command "
                                                   "that takes none"})
            how = ("(:attach PATH, then the command), for example :attach page2.jpg then"
                   if message.sender.platform is Platform.CONSOLE else
                   "(the command in the caption), for example a photo captioned")
            ctx.answer(f"Not done: /{parsed.name} takes no attachment. Photos and files go with /alert, "
                       f"/request or /reply {how} /alert to:TH tlp:amber topic:document-fraud Altered passport, "
                       "page 2.")
            return
        # /alert and /request check them in post_item (which also plans a RED message's removal).
        refused = self._policy.attachments.refusal(message.attachments) \
            if message.attachments and parsed.name not in ("alert", "request") else None
        if refused is not None:  # fail closed: the whole command, not its text without the files
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": "attachments: " + refused})
            ctx.answer(refused)
            return
        result = self._run(ctx, parsed)
        if parsed.name in ("alert", "request") and not isinstance(result, Item):
            return  # refused by its handler (routing, caveat): an edit of it is a new command
        outcome = CommandOutcome(message.sender, True, str(result.reference) if isinstance(result, Item) else None)
        platform = message.sender.platform.value
        for sent in {message.message_id, edited, header.message_id if header is not None else None} - {None}:
            assert sent is not None
            uow.conversations.note_outcome(platform, sent, outcome, ctx.now)

    def _starts_form(self, ctx: CommandContext, parsed: ParseError) -> bool:
        """A bare /alert or /request, in a direct chat, from someone who may send it, on a platform
        whose connector does not run the form itself (Telegram does, with buttons)."""
        message, head = ctx.message, split_head(ctx.message.text)
        return (parsed.command in KINDS and head is not None and not head[2].strip()
                and message.chat.platform is not Platform.TELEGRAM and not shared_chat(message.chat, message.direct)
                and ctx.sender is not None and self._commands.refusal(parsed.command, ctx.sender) is None)

    def _form_answer(self, uow: UnitOfWork, message: InboundMessage, draft: Draft,
                     parsed: Command | ParseError | None, form: GuidedForm) -> InboundMessage | None:
        """A message while the sender has a form open in this chat: an answer to its question (None:
        done; on Send, the message carrying the form's command), or a command, which goes on as typed
        (`message` itself; the form stays open, as on Telegram) unless it is /cancel."""
        conversations, cancel = uow.conversations, command(message, "cancel")
        if form.expired(draft, message.received_at.timestamp()):
            conversations.keep_form(message.sender, message.chat, None)
            if parsed is None:
                self._context(uow, message).answer(
                    f"Your {draft.kind} form expired before it was sent. Send {command(message, draft.kind)} "
                    "to start again.")
                return None
            return message
        if parsed is not None and not isinstance(parsed, ParseError) and parsed.name == "cancel":
            conversations.keep_form(message.sender, message.chat, None)
            self._context(uow, message).answer(form.cancel().note or "")
            return None
        if parsed is not None:
            return message
        outcome = form.answer(draft, chosen(form.question(draft), message.text), 0)
        conversations.keep_form(message.sender, message.chat,
                                outcome.draft.to_json() if outcome.draft is not None else None)
        if outcome.command is not None:
            return replace(message, text=outcome.command)
        self._context(uow, message).answer(shown(outcome, cancel))
        return None

    def _context(self, uow: UnitOfWork, message: InboundMessage) -> CommandContext:
        directory = self._directory.current()
        return CommandContext(
            uow=uow,
            message=message,
            sender=directory.contact_for(message.sender),
            directory=directory,
            now=message.received_at,
            new_key=self._new_key,
            platforms=self._policy.platforms,
            encrypted_only=self._policy.encrypted_only,
        )

    def _files_alone(self, message: InboundMessage, parsed: ParseError, vocabulary: Vocabulary) -> Command | ParseError:
        """A /reply whose photos or files are the whole feedback (a photo sent with no caption in answer
        to one's copy: "/reply REF"), with a line saying so as its text; any other mistake as it was."""
        spec = self._commands.awaits_text(message.text, vocabulary)
        if spec is None or spec.name != "reply":
            return parsed
        completed = self._commands.parse(f"{message.text.rstrip()}\n\n{without_words(message.attachments)}", vocabulary)
        return completed if completed is not None else parsed

    def _header(self, uow: UnitOfWork, message: InboundMessage, awaited: AwaitedBody) -> InboundMessage | None:
        """The first message of the command `message` is the text of; None (and the sender told why)
        when the wait is over."""
        header = uow.inbox.get(awaited.platform, awaited.event_id)
        if message.received_at - awaited.since <= self._body_wait and header is not None:
            return header
        again = command(message, awaited.command)
        self._context(uow, message).answer(
            f"Your {awaited.command} waited more than {_minutes(self._body_wait)} for its text and was dropped: "
            f"nothing was sent. Send it again, its text included: {again} to:… your text.")
        return None

    def _edit_was_run(self, uow: UnitOfWork, message: InboundMessage) -> bool:
        """An edit of a command that was carried out is answered so, not run again: True then."""
        assert message.edit_of is not None
        outcome = uow.conversations.outcome(message.sender.platform.value, message.edit_of)
        if outcome is None or not outcome.accepted or outcome.sender != message.sender:
            return False
        ctx = self._context(uow, message)
        if outcome.reference:
            noun = "request" if outcome.reference.startswith("R-") else "alert"
            ctx.answer(f"Your {noun} {outcome.reference} was already sent as you first wrote it; editing your "
                       f"message changes nothing its recipients have. To correct it, ask a coordinator for help, "
                       f"or see {command(message, 'help')} for what you can do about an item you sent.")
        else:
            ctx.answer("That command was already carried out as you first wrote it; editing your message does "
                       "not run it again. Send the corrected command as a new message.")
        return True

    def _answer_stranger(self, ctx: CommandContext) -> None:
        """The refusal goes to the sender's direct chat with the bot; in a shared room, nothing is said
        (a direct chat that cannot be opened fails that answer alone, logged by the delivery worker)."""
        message = ctx.answer_message(UNKNOWN_SENDER)
        if shared_chat(ctx.message.chat, ctx.message.direct):
            message = replace(message, destination=Destination.direct(ctx.message.sender), reply_to=None)
        ctx.uow.outbox.enqueue(message)

    def _run(self, ctx: CommandContext, parsed: Command) -> object:
        spec = self._commands.spec_for(parsed.name)
        assert spec is not None  # whatever the registry parsed, it declared
        return spec.run(ctx, parsed, self._policy)
