"""The guided /alert and /request form (bot.connectors.guided) in Telegram private chats, with buttons.

Drafts are kept per chat in the cursors table ("telegram.guided.<chat id>"), so a restart in the
middle of a form loses nothing. They are sealed (AES-GCM under the master key, bound to the chat) as
everything with content is at rest; a cleared draft is an empty value. A draft that has expired
(bot.connectors.guided.GuidedForm ttl) is dropped the next time its chat writes.

Each answer is applied once: a draft remembers the last update id it applied, and a re-read
update only asks the current question again. On Send, the command is recorded with an event id
made from the draft (not from the button press), so pressing Send twice records one alert.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from html import escape
from typing import Callable

from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.connectors.telegram.batch import Batch
from bot.connectors.telegram.buttons import choice_keyboard
from bot.connectors.telegram.formatting import html_parts, inline_html
from bot.connectors.telegram.sender import TelegramSender
from bot.connectors.telegram.store import TelegramStore
from bot.connectors.guided import Draft, GuidedForm, Outcome
from storage.sealing import ContentSealer, SealError

PREFIX = "telegram.guided."


class GuidedChats:
    def __init__(self, form: GuidedForm, store: TelegramStore, sealer: ContentSealer, sender: TelegramSender,
                 clock: Callable[[], float] = time.time) -> None:
        self._form = form
        self._store = store
        self._sealer = sealer
        self._sender = sender
        self._clock = clock
        self._drafts: dict[int, Draft | None] = {}

    async def draft(self, chat_id: int, batch: Batch, *, announce: bool = True) -> Draft | None:
        """The chat's open draft; an expired one is dropped (and, with `announce`, the chat told)."""
        if chat_id not in self._drafts:
            self._drafts[chat_id] = self._open(chat_id, await self._store.load(PREFIX + str(chat_id)))
        draft = self._drafts[chat_id]
        if draft is not None and self._form.expired(draft, self._clock()):
            self._keep(chat_id, None, batch)
            if announce:
                self.say(chat_id, f"Your /{draft.kind} form expired before it was sent. Send /{draft.kind} "
                                   "to start again.", batch)
            return None
        return draft

    def forget(self) -> None:
        """Drop what is cached: a batch that failed to be recorded is read again against stored drafts."""
        self._drafts.clear()

    async def start(self, kind: str, chat_id: int, update_id: int, batch: Batch) -> None:
        draft = await self.draft(chat_id, batch, announce=False)
        if draft is not None and draft.update >= update_id:  # this /alert was applied before a restart
            self._ask(chat_id, Outcome(draft, self._form.question(draft)), batch)
            return
        outcome = self._form.start(kind, self._clock(), update_id)
        self._keep(chat_id, outcome.draft, batch)
        self._ask(chat_id, outcome, batch)

    def cancel(self, chat_id: int, batch: Batch) -> None:
        self._keep(chat_id, None, batch)
        self._ask(chat_id, self._form.cancel(), batch)

    async def typed(self, draft: Draft, chat_id: int, text: str, update_id: int, batch: Batch) -> None:
        if draft.update >= update_id:
            self._ask(chat_id, Outcome(draft, self._form.question(draft)), batch)
            return
        self._apply(chat_id, self._form.answer(draft, text, update_id), batch)

    async def pressed(self, chat_id: int, message_id: int | None, shown: str, data: str, update_id: int,
                      batch: Batch) -> str:
        """A button of the form; the callback answer's text is returned."""
        draft = await self.draft(chat_id, batch)
        if draft is None:
            return "This form is closed. Send /alert or /request to start one."
        step, _, value = data.partition(":")
        if draft.update >= update_id:
            self._ask(chat_id, Outcome(draft, self._form.question(draft)), batch)
            return "OK"
        outcome = self._form.answer(draft, value, update_id, pressed=step)
        if outcome.chosen and message_id is not None:
            marked = f"{inline_html(shown)}\n→ <b>{escape(outcome.chosen, quote=False)}</b>"
            batch.then(chat_id, lambda: self._sender.edit(chat_id, message_id, marked))
        self._apply(chat_id, outcome, batch)
        return "Sending…" if outcome.command else (outcome.note or "OK")[:190]

    def _apply(self, chat_id: int, outcome: Outcome, batch: Batch) -> None:
        draft = self._drafts.get(chat_id)
        if outcome.command is not None and draft is not None:
            batch.messages.append(InboundMessage(
                event_id=f"telegram:form:{chat_id}:{int(draft.started * 1000)}",
                sender=UserRef(Platform.TELEGRAM, f"user:{chat_id}"),  # a private chat's id is its user's id
                chat=ChatRef(Platform.TELEGRAM, str(chat_id)),
                text=outcome.command,
                received_at=datetime.fromtimestamp(self._clock(), timezone.utc),
            ))
            self._drafts[chat_id] = None
            batch.saves_after[PREFIX + str(chat_id)] = ""
            return
        self._keep(chat_id, outcome.draft, batch)
        self._ask(chat_id, outcome, batch)

    def _keep(self, chat_id: int, draft: Draft | None, batch: Batch) -> None:
        self._drafts[chat_id] = draft
        batch.saves[PREFIX + str(chat_id)] = self._seal(chat_id, draft)

    def _ask(self, chat_id: int, outcome: Outcome, batch: Batch) -> None:
        question = outcome.question
        text = "\n\n".join(part for part in (outcome.note, question.text if question else None) if part)
        if not text:
            return
        markup = choice_keyboard(question.step, question.choices, question.columns) \
            if question is not None and question.choices else None
        parts = html_parts(text)

        async def send() -> None:
            for index, part in enumerate(parts):
                await self._sender.post(chat_id, part, markup=markup if index == len(parts) - 1 else None)

        batch.then(chat_id, send)

    def say(self, chat_id: int, text: str, batch: Batch) -> None:
        self._ask(chat_id, Outcome(None, note=text), batch)

    def _seal(self, chat_id: int, draft: Draft | None) -> str:
        if draft is None:
            return ""
        blob = self._sealer.seal(json.dumps(draft.to_json()).encode(), aad=_aad(chat_id))
        return base64.b64encode(blob).decode("ascii")

    def _open(self, chat_id: int, value: str | None) -> Draft | None:
        if not value:
            return None
        try:
            return Draft.from_json(json.loads(self._sealer.open(base64.b64decode(value), aad=_aad(chat_id))))
        except (SealError, ValueError, TypeError, KeyError):
            return None  # a draft that cannot be opened (a key rotated away) is simply gone


def _aad(chat_id: int) -> bytes:
    return f"{PREFIX}{chat_id}".encode()
