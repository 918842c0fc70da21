"""From Telegram updates to what the bot records: inbox messages, form steps, refusals, answers.

Buttons and replies become ordinary commands from the person who pressed or wrote them, recorded
in the same inbox as typed ones, so the dispatcher checks and runs them the same way:

    Acknowledge on a delivery          ->  /ack A-2026-0042
    Snooze…, 4 hours, Checking records ->  /snooze A-2026-0042 4h checking records
    Snooze…, 1 hour, Other, a reply    ->  /snooze A-2026-0042 1h <the reply's text>
    a reply to a delivered message     ->  /reply A-2026-0042 <the reply's text>
    a photo sent as that reply         ->  /reply A-2026-0042 <its caption>, with the photo (no caption:
                                           /reply A-2026-0042, the photo the feedback; an album, one reply)
    Reply, then a reply to the prompt  ->  /reply A-2026-0042 <the reply's text>

A command sent by a button names the message it was on (InboundMessage.pressed), so the command
plans the button's outcome (see buttons.py). A press of a button the message no longer shows (used
on another device) or of an outcome is only answered ("Already done: …"); a second press of the same
button before its outcome arrived is not sent again either.

A plain reply is /reply only on a message that invites one, decided by what the bot recorded it sent
as that message (Outbox.sent_by_message, alerts.messages.reply_reference: any message of a copy sent
as several, its photo or its text's second part, counts as the copy), never by its text: the
replier's own copy of an item, its reminder or escalation, or (to the originator) relayed feedback;
a Reply button's prompt counts as the message it was pressed on. A reply to any other message of
the bot's (a receipt, an answer, an update relayed to recipients) goes nowhere, and its writer is told
how to send feedback or an update: a "thanks" to a receipt must not reach every recipient. Only
commands and replies to the bot are recorded; other chatter never reaches the database (in a
private chat, where only the bot reads it, its writer is told it went nowhere). A request
to join a group is approved only through a link the bot made for that very person and group
(invite_links.py), and declined otherwise.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from html import escape
from typing import Any, Callable

from telegram import CallbackQuery, ChatJoinRequest, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.items import Reference
from alerts.attachments import AttachmentPolicy
from alerts.messages import Attachment, InboundMessage, Mention, no_reply_hint, reply_reference
from bot.connectors.telegram import buttons, media, safety
from bot.connectors.telegram.api import TelegramApi
from bot.connectors.telegram.batch import Batch
from bot.connectors.telegram.chats import MIGRATIONS, ChatMigrations
from bot.connectors.telegram.guided_chat import GuidedChats
from bot.connectors.telegram.invite_links import InviteLinks
from bot.connectors.telegram.sender import TelegramSender
from bot.connectors.telegram.store import Refusal, TelegramStore
from bot.connectors.errors import PermanentFailure, PlatformError
from handlers.command_list import COMMANDS
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)

_QUIET = 60.0  # seconds between two refusal answers in one chat; each refusal is audited regardless
_REPEAT = 120.0  # seconds within which a second press of the same button is the same press
# The prompt for a typed snooze reason; the reply to it becomes /snooze REF SPAN <the reply's text>.
_PROMPTED = "telegram.snooze-prompt."  # "<chat>:<prompt>" -> "<chat>:<message>" whose Snooze asked for it
# The prompt of a Reply button: "<chat>:<prompt>" -> "<chat>:<message>" whose Reply asked for it.
_REPLY_PROMPTED = "telegram.reply-prompt."
_SPAN_WORDS = {"1h": "for 1h", "4h": "for 4h", buttons.TOMORROW: "until tomorrow 09:00"}
_SNOOZE_PROMPT = re.compile(r"^Snooze ([AR]-\d{4}-\d{4,}) (?:for (\d+h)|until (tomorrow) 09:00):")
TG = Platform.TELEGRAM


class Intake:
    def __init__(self, api: TelegramApi, sender: TelegramSender, guided: GuidedChats, store: TelegramStore,
                 directory: DirectorySource, migrations: ChatMigrations, now: Callable[[], datetime],
                 links: InviteLinks | None = None, attachments: AttachmentPolicy | None = None) -> None:
        self._api = api
        self._attachments = attachments or AttachmentPolicy()
        self._links = links
        self._sender = sender
        self._guided = guided
        self._store = store
        self._directory = directory
        self._migrations = migrations
        self._now = now
        self._answered_at: dict[int, float] = {}
        self._hinted_at: dict[int, float] = {}  # chat -> when it was last told a message went nowhere
        self._pressed: dict[str, float] = {}  # "chat:message|data" -> when a command button was last taken
        self.refused = 0
        self._albums: dict[str, list[dict[str, Any]]] = {}  # media_group_id -> its messages in this batch

    async def read(self, raw_updates: list[dict[str, Any]]) -> Batch:
        batch = Batch()
        # An album (several photos sent at once) comes as one message per photo, the caption on one of
        # them: the others go with the captioned one when they arrive in the same batch.
        self._albums = {}
        for raw in raw_updates:
            message = raw.get("message")
            if isinstance(message, dict) and isinstance(message.get("media_group_id"), str):
                self._albums.setdefault(message["media_group_id"], []).append(message)
        for raw in sorted(raw_updates, key=lambda u: u["update_id"]):
            try:
                update = Update.de_json(raw, self._api.bot)
            except Exception:  # never log the update itself: it holds what people wrote
                log.warning("update %s could not be read and is skipped", raw["update_id"])
                continue
            if update.callback_query is not None:
                await self._press(update.update_id, update.callback_query, batch)
            elif update.message is not None:
                await self._message(update.update_id, update.message, batch)
            elif update.edited_message is not None:  # an edit is taken as the message it now is, marked so
                await self._message(update.update_id, update.edited_message, batch, edited=True)
            elif update.chat_join_request is not None:
                await self._join_request(update.update_id, update.chat_join_request)
            else:
                log.info("update %s ignored: not a message or a button press", update.update_id)
        return batch

    async def _join_request(self, update_id: int, request: ChatJoinRequest) -> None:
        """Approve a request through a link the bot made for exactly this person and group; decline the rest.
        Answered before the batch is recorded: a crash re-reads the update, and answering twice is harmless."""
        chat_id, user_id = request.chat.id, request.from_user.id
        link = request.invite_link.invite_link if request.invite_link is not None else None
        made = await self._links.get(link) if link is not None and self._links is not None else None
        approve = made is not None and made.user_id == user_id and (
            made.chat_id == chat_id or self._migrations.outgoing(made.chat_id) == chat_id)
        try:
            await self._api.answer_join_request(chat_id, user_id, approve)
        except PermanentFailure as error:  # answered already (a re-read update), or the request is gone;
            # a network fault or a 429 propagates instead: the batch is read again, and the request answered
            log.info("join request in update %s could not be answered (%s)", update_id, error.code)
            return
        log.info("join request in update %s %s", update_id, "approved" if approve else "declined (not its link)")
        if approve and made is not None and self._links is not None:
            try:  # used: nobody else may even ask through it
                await self._api.revoke_invite_link(chat_id, made.link)
            except PlatformError as error:
                log.info("revoking a used invite link failed (%s)", error.code)
            await self._links.forget(made.link)

    def forget(self) -> None:
        """The batch just read was not recorded: forget the form steps and presses it applied in memory."""
        self._guided.forget()
        self._pressed.clear()

    async def _message(self, update_id: int, msg: Message, batch: Batch, edited: bool = False) -> None:
        if msg.migrate_to_chat_id:
            self.chat_moved(int(msg.chat.id), int(msg.migrate_to_chat_id), batch)
            return
        if msg.migrate_from_chat_id:
            self.chat_moved(int(msg.migrate_from_chat_id), int(msg.chat.id), batch)
            return
        # A photo's or file's caption is its text: a captioned photo is a command with an attachment.
        text, chat_id = (msg.text if msg.text is not None else msg.caption), msg.chat.id
        if not self._leads_album(msg):
            return  # taken with the album's captioned photo (or, with none, its first)
        ours = self._replied_to_us(msg)
        if text is None and ours is not None and media.described(msg):
            text = ""  # a photo without a caption in answer to us: what the reply means (feedback: the photo)
        word = safety.command_word(text, self._api.username)
        private = msg.chat.type == "private"
        if not private and ours is None and (word is None or (
                COMMANDS.spec_for(word) is None and not safety.addressed_to_us(text or "", self._api.username))) \
                and not (word is None and await self._awaits(msg, batch)):
            return  # chatter, or another bot's /command: none of this bot's business, never stored
        reason = safety.untrusted_reason(msg)
        sender = msg.from_user  # None only with a reason (NOT_A_PERSON)
        if reason is None and private and sender is not None and sender.id != chat_id:
            reason = safety.NOT_A_PERSON
        chat = self._chat(chat_id, private)
        if reason is None and chat is None:
            reason = safety.UNREGISTERED
        if reason is not None or chat is None or text is None or sender is None:
            if reason is None and private and text is None:
                self._not_taken(msg, chat_id, batch)  # a sticker, a voice note, a photo without a caption
            elif reason is not None and word is not None:
                self._refuse(update_id, msg, chat_id, reason, word, batch)
            elif reason is not None:
                log.info("update %s from an untrusted source ignored (%s)", update_id, reason)
            return
        meant = await self._reply_meaning(ours, chat_id, sender.id, text, batch) \
            if ours is not None and word is None else None
        # A photo captioned with a bare /alert does not start the guided form (the photo would be lost):
        # it is recorded as typed, and the dispatcher says what the command lacks.
        if private and not edited and not media.described(msg) and await self._form_step(
                update_id, chat_id, word, text, isinstance(meant, tuple), batch):
            return
        if word is None and isinstance(meant, tuple):
            command, pressed = meant
            if command.startswith("/snooze "):
                self._ingest(update_id, sender.id, chat, command, ours, chat_id, batch, f"{chat_id}:{msg.message_id}",
                             pressed=pressed)
                return
            text = command
        elif word is None and (not text or not await self._awaits(msg, batch)):  # a photo alone is no awaited text
            if ours is not None:  # a reply to a message of ours that invites none: it went nowhere
                self._no_reply(chat_id, meant if isinstance(meant, str) else None, batch)
            elif private:
                self._not_taken(msg, chat_id, batch)
            return
        # A text_mention names someone without a username: the entity carries the user.
        mentions = tuple(Mention(words, UserRef(TG, f"user:{entity.user.id}")) for entity, words in
                         sorted(msg.parse_entities(["text_mention"]).items(), key=lambda e: e[0].offset) if entity.user)
        files = await self._files(msg)
        self._ingest(update_id, sender.id, chat, text, ours, chat_id, batch, f"{chat_id}:{msg.message_id}",
                     edited, mentions=mentions, attachments=files)

    async def _awaits(self, msg: Message, batch: Batch) -> bool:
        """Whether a text that is no command may be the text of the sender's command (the dispatcher
        decides): one of theirs in this chat awaits it, or came just before it (an /alert, /request or
        /reply in this batch, or any message not handled yet)."""
        if msg.from_user is None:
            return False
        chat = self._chat(msg.chat.id, msg.chat.type == "private")
        if chat is None:
            return False
        sender = UserRef(TG, f"user:{msg.from_user.id}")
        if any(m.sender == sender and m.chat == chat and COMMANDS.takes_text(m.text) for m in batch.messages):
            return True
        return await self._store.awaits_body(sender, chat)

    def _not_taken(self, msg: Message, chat_id: int, batch: Batch) -> None:
        """Tell someone writing to the bot that a message that is no command went nowhere: in a private
        chat nobody else reads it, so silence would look like a message sent. Not recorded (it is no
        command); said at most once a minute per chat, so that a 'thanks' or two draw one answer."""
        now = self._now().timestamp()
        if now - self._hinted_at.get(chat_id, -_QUIET) < _QUIET:
            return
        self._hinted_at[chat_id] = now
        files = media.described(msg)
        what = ("photo" if msg.photo else "file") if files else "message"
        how = (f"A {what} goes with a command in its caption, such as /alert to:TH tlp:amber Altered passport."
               if files else "To send an alert: /alert to:TH tlp:amber and your text. To answer an item, reply "
               "to its message.")
        self._guided.say(chat_id, f"This {what} was not sent to anyone: I take only commands and replies to my "
                                  f"messages. {how} /help lists the commands.", batch)

    def _album(self, msg: Message) -> list[dict[str, Any]]:
        return self._albums.get(msg.media_group_id, []) if msg.media_group_id else []

    def _leads_album(self, msg: Message) -> bool:
        """Whether the message is taken, not only as part of its album: any with a caption (or in no
        album); of an album with none captioned (photos alone sent as a reply), its first. The album's
        photos without a caption go with it (_files)."""
        album = self._album(msg)
        if msg.caption is not None or not album:
            return True
        if any(other.get("caption") for other in album):
            return False
        return min(int(other.get("message_id") or 0) for other in album) == msg.message_id

    async def _files(self, msg: Message) -> tuple[Attachment, ...]:
        """The message's photos and files, and those of the uncaptioned rest of its album."""
        files = await media.fetch(self._api, msg, self._attachments) if media.described(msg) else ()
        for other in self._album(msg):
            if other.get("message_id") != msg.message_id and not other.get("caption"):
                sibling = Message.de_json(other, self._api.bot)
                if sibling is not None:
                    files += await media.fetch(self._api, sibling, self._attachments)
        return files

    async def _form_step(self, update_id: int, chat_id: int, word: str | None, text: str, replying: bool,
                         batch: Batch) -> bool:
        """True when the message belonged to the guided form (started, answered or cancelled it)."""
        kind = COMMANDS.name_for(word or "")
        if kind in ("alert", "request") and safety.is_bare(text):
            if not self._may_post(chat_id, kind):
                return False  # recorded as typed: the dispatcher refuses it, says why, and audits it
            await self._guided.start(kind, chat_id, update_id, batch)
            return True
        draft = await self._guided.draft(chat_id, batch)
        if kind == "cancel":
            if draft is None:  # recorded: the dispatcher ends a command waiting for its text, or says
                return False   # there is nothing to cancel
            self._guided.cancel(chat_id, batch)
            return True
        if draft is not None and word is None and not replying:
            await self._guided.typed(draft, chat_id, text, update_id, batch)
            return True
        return False

    async def _press(self, update_id: int, query: CallbackQuery, batch: Batch) -> None:
        message = query.message
        user = query.from_user
        chat_id = message.chat.id if message is not None else user.id
        private = chat_id == user.id
        parsed = buttons.parse_callback(query.data)
        if parsed is None:
            batch.answer(query.id, "This button is no longer active.")
            return
        action, value = parsed
        if action == buttons.GUIDED:
            shown = message.text if isinstance(message, Message) else None
            if not private:
                batch.answer(query.id, "This form belongs to a private chat.")
                return
            message_id = message.message_id if message is not None else None
            batch.answer(query.id, await self._guided.pressed(chat_id, message_id, shown or "", value,
                                                              update_id, batch))
            return
        chat = self._chat(chat_id, private)
        reference, _, step = value.partition(":")
        used = action  # the action of the button pressed, or the one an outcome stands for
        if action == buttons.DONE:
            used, reference = reference, step
        if not Reference.looks_like(reference) or chat is None:
            batch.answer(query.id, "This button is no longer active.")
            return
        pressed = message if isinstance(message, Message) else None
        keyboard = buttons.buttons_of(pressed.reply_markup) if pressed is not None else None
        if action == buttons.DONE or (keyboard is not None and query.data not in {d for row in keyboard for _, d in row}):
            batch.answer(query.id, _already(used, reference, keyboard or []))  # used already, maybe on another device
            return
        where = f"{chat_id}:{pressed.message_id}" if pressed is not None else None
        if action == buttons.ACK:
            if self._repeated(where, query.data, user.id):
                batch.answer(query.id, f"Already acknowledging {reference}…")
                return
            self._ingest(update_id, user.id, chat, f"/ack {reference}", pressed, chat_id, batch, pressed=where)
            batch.answer(query.id, f"Acknowledging {reference}…")
        elif action == buttons.APPROVE:  # a release is decided once: a second press is answered by /approve
            self._ingest(update_id, user.id, chat, f"/approve {reference}", pressed, chat_id, batch)
            batch.answer(query.id, f"Approving {reference}…")
        elif action == buttons.SNOOZE:
            self._snooze(update_id, query.id, user.id, chat, pressed, chat_id, reference, step, keyboard or [], batch)
        else:
            batch.answer(query.id, "Write your reply as an answer to my next message.")
            who = "" if private else f'<a href="tg://user?id={user.id}">{escape(user.first_name, quote=False)}</a>, '
            prompt = f"{who}reply to {reference}: write your feedback as a reply to this message."
            markup = ForceReply(selective=True, input_field_placeholder=f"Feedback on {reference}")

            async def ask_feedback() -> None:
                target, prompt_id = await self._sender.post(chat_id, prompt, markup=markup)
                if where is not None:  # a reply to the prompt is judged as a reply to `where`
                    await self._store.save({f"{_REPLY_PROMPTED}{target}:{prompt_id}": where})

            batch.then(chat_id, ask_feedback)

    def _snooze(self, update_id: int, query_id: str, user_id: int, chat: ChatRef, pressed: Message | None,
                chat_id: int, reference: str, step: str, shown: list[list[tuple[str, str]]], batch: Batch) -> None:
        """Snooze in steps on the delivery's own buttons: how long, then why; then the /snooze command."""
        ack_row = [InlineKeyboardButton(label, callback_data=data) for label, data in (shown[0] if shown else [])] \
            or list(buttons.delivery_keyboard(reference).inline_keyboard[0])
        restored = InlineKeyboardMarkup([ack_row, *buttons.delivery_keyboard(reference).inline_keyboard[1:]])
        duration, _, reason = step.partition(":")
        if not step or duration == buttons.BACK:
            markup: InlineKeyboardMarkup = restored if step else buttons.durations_keyboard(reference, ack_row)
            self._edit_buttons(pressed, chat_id, markup, batch)
            batch.answer(query_id, None if step else "For how long?")
            return
        label = buttons.duration_label(duration)
        zone = self._zone_of(user_id)
        span = buttons.snooze_span(duration, self._now(), zone)
        if label is None or span is None:
            batch.answer(query_id, "This button is no longer active.")
            return
        if not reason:
            self._edit_buttons(pressed, chat_id, buttons.reasons_keyboard(reference, duration, ack_row), batch)
            batch.answer(query_id, "Why? The reason is recorded and told to the sender.")
            return
        where = f"{chat_id}:{pressed.message_id}" if pressed is not None else None
        if reason == buttons.OTHER:
            self._edit_buttons(pressed, chat_id, restored, batch)
            batch.answer(query_id, "Write the reason as an answer to my next message.")
            prompt = f"Snooze {reference} {_SPAN_WORDS[duration]}: write the reason as a reply to this message."
            force = ForceReply(selective=True, input_field_placeholder=f"Why hold {reference}?")

            async def ask() -> None:
                target, prompt_id = await self._sender.post(chat_id, prompt, markup=force)
                if where is not None:  # the reply to the prompt will finish the press on `where`
                    await self._store.save({f"{_PROMPTED}{target}:{prompt_id}": where})

            batch.then(chat_id, ask)
            return
        if not reason.isdigit() or int(reason) >= len(buttons.REASONS):
            batch.answer(query_id, "This button is no longer active.")
            return
        if self._repeated(where, f"s:{reference}", user_id):
            batch.answer(query_id, f"Already snoozing {reference}…")
            return
        # The buttons stay as they are until the command's outcome replaces them all (an edit made
        # here could arrive after that one and undo it).
        self._ingest(update_id, user_id, chat, f"/snooze {reference} {span} {buttons.REASONS[int(reason)]}",
                     pressed, chat_id, batch, pressed=where)
        batch.answer(query_id, f"Snoozing {reference} for {label.lower()}…")

    async def _snooze_reason(self, prompt: Message | None, chat_id: int, user_id: int, text: str,
                             batch: Batch) -> tuple[str, str | None] | None:
        """A reply to the prompt for a typed snooze reason: the /snooze command it completes, and the
        message whose Snooze button asked for it (its outcome is shown there), when remembered."""
        found = _SNOOZE_PROMPT.match(prompt.text or "") if prompt is not None else None
        if prompt is None or found is None:
            return None
        span = found[2] or buttons.snooze_span(buttons.TOMORROW, self._now(), self._zone_of(user_id))
        key = f"{_PROMPTED}{chat_id}:{prompt.message_id}"
        pressed = await self._store.load(key) or None
        if pressed is not None:
            batch.saves_after[key] = ""  # used: a second reply to the same prompt changes no button
        return f"/snooze {found[1]} {span} {text}", pressed

    def _edit_buttons(self, pressed: Message | None, chat_id: int, markup: InlineKeyboardMarkup, batch: Batch) -> None:
        if pressed is not None:
            message_id = pressed.message_id
            batch.then(chat_id, lambda: self._sender.edit_markup(chat_id, message_id, markup))

    def _repeated(self, where: str | None, data: str | None, user_id: int) -> bool:
        """A second press of the same button before its outcome reached the message (two devices, two
        taps): not sent again. Remembered in memory only: once the edit is there, the stale button is
        recognised by the message's current buttons."""
        if where is None or data is None:
            return False
        key = f"{where}|{data}|{user_id}"  # in a group, one member's press does not stand for another's
        now = self._now().timestamp()
        fresh = now - self._pressed.get(key, -_REPEAT) >= _REPEAT
        if fresh:
            self._pressed[key] = now
            while len(self._pressed) > 1000:
                self._pressed.pop(next(iter(self._pressed)))
        return not fresh

    def _zone_of(self, user_id: int) -> str:
        directory = self._directory.current()
        return directory.zone_for(directory.contact_for(UserRef(TG, f"user:{user_id}")))

    def _may_post(self, user_id: int, kind: str) -> bool:
        """Only someone the dispatcher would take the finished command from is walked through the form."""
        contact = self._directory.current().contact_for(UserRef(TG, f"user:{user_id}"))
        return contact is not None and COMMANDS.refusal(kind, contact) is None

    def chat_moved(self, old: int, new: int, batch: Batch) -> None:
        if self._migrations.add(old, new):
            batch.saves[MIGRATIONS] = self._migrations.to_json()
            log.warning("Telegram group %s became supergroup %s; it keeps its place in the directory. "
                        'Admins: set chat = "telegram:%s" in its [[network.rooms]] entry when convenient.',
                        old, new, new)

    def _chat(self, chat_id: int, private: bool) -> ChatRef | None:
        """The chat as the directory names it; None for a group the directory does not know."""
        if private:
            return ChatRef(TG, str(chat_id))
        directory = self._directory.current()

        def registered(candidate: int) -> bool:
            return directory.room(ChatRef(TG, str(candidate))) is not None

        named = self._migrations.incoming(chat_id, registered)
        return ChatRef(TG, str(named)) if registered(named) else None

    def _replied_to_us(self, msg: Message) -> Message | None:
        replied = msg.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == self._api.bot_id:
            return replied
        return None

    async def _reply_meaning(self, replied: Message, chat_id: int, user_id: int, text: str,
                             batch: Batch) -> tuple[str, str | None] | str | None:
        """What a plain reply to a message of ours means, by what the bot recorded it sent, never by
        that message's text: (the command, the pressed message whose outcome it shows) when it is one;
        else the item the replied-to message was about (for the answer saying how to reply), or None."""
        snooze = await self._snooze_reason(replied, chat_id, user_id, text, batch)
        if snooze is not None:
            return snooze
        where = f"{chat_id}:{replied.message_id}"
        # The prompt of a Reply button stands for the message whose button was pressed.
        where = await self._store.load(f"{_REPLY_PROMPTED}{where}") or where
        sent = await self._store.sent_message(where)
        contact = self._directory.current().contact_for(UserRef(TG, f"user:{user_id}"))
        reference = reply_reference(sent, contact.id if contact is not None else None)
        if reference is not None:
            return f"/reply {reference} {text}", None
        return sent.reference if sent is not None else None

    def _no_reply(self, chat_id: int, about: str | None, batch: Batch) -> None:
        """Answer a reply to a message of ours that invites none, at most once a minute per chat."""
        now = self._now().timestamp()
        if now - self._hinted_at.get(chat_id, -_QUIET) < _QUIET:
            return
        self._hinted_at[chat_id] = now
        self._guided.say(chat_id, no_reply_hint(about), batch)

    def _ingest(self, update_id: int, user_id: int, chat: ChatRef, text: str, replied: Message | None,
                chat_id: int, batch: Batch, message_id: str | None = None, edited: bool = False,
                pressed: str | None = None, mentions: tuple[Mention, ...] = (),
                attachments: tuple[Attachment, ...] = ()) -> None:
        reply_to = MessageRef(ChatRef(TG, str(chat_id)), f"{chat_id}:{replied.message_id}") if replied else None
        batch.messages.append(InboundMessage(
            event_id=f"telegram:{update_id}", sender=UserRef(TG, f"user:{user_id}"), chat=chat, text=text,
            received_at=self._now(), reply_to=reply_to, message_id=message_id, pressed=pressed,
            attachments=attachments,
            edit_of=message_id if edited else None,  # Telegram keeps the message id through edits
            mentions=mentions,
        ))

    def _refuse(self, update_id: int, msg: Message, chat_id: int, reason: str, word: str, batch: Batch) -> None:
        self.refused += 1
        if msg.sender_chat is not None or msg.from_user is None:
            actor = f"telegram:{msg.sender_chat.id if msg.sender_chat else chat_id}"
        else:
            actor = f"telegram:user:{msg.from_user.id}"
        now = self._now().timestamp()
        answer = None
        if reason in safety.ANSWERS and now - self._answered_at.get(chat_id, -_QUIET) >= _QUIET:
            self._answered_at[chat_id] = now
            answer = safety.ANSWERS[reason]
        batch.refusals.append(Refusal(f"telegram:{update_id}", ChatRef(TG, str(chat_id)), actor, reason, word, answer))
        log.warning("refused /%s in Telegram chat %s: %s (update %s)", word, chat_id, reason, update_id)


def _already(action: str, reference: str, shown: list[list[tuple[str, str]]]) -> str:
    """The answer to a button used already: what it became, where the message shows it."""
    done = [label for row in shown for label, data in row if data == f"{buttons.DONE}:{action}:{reference}"]
    if done:
        return f"Already done: {done[0]}."
    return f"Already pressed: the buttons under {reference} show what is left to do."
