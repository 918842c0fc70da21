"""The Bot API calls the connector makes, through python-telegram-bot, each error mapped once.

PTB is driven through Application.initialize/start and stop/shutdown, never run_polling (which
would own the event loop that Matrix shares), and without PTB's Updater: the connector runs its own
getUpdates loop so that an offset is confirmed to Telegram only after the updates it covers are in
the inbox. getUpdates goes through do_api_request and returns plain dicts, so one update that PTB
cannot parse is skipped by itself instead of failing every poll (and PTB never logs its content).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from telegram import InputFile, LinkPreviewOptions, ReplyParameters
from telegram import error as tg
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder

from bot.connectors.telegram.errors import platform_error

TELEGRAM_API = "https://api.telegram.org/bot"
# Bot API method names are case-insensitive. Spelt in lower case, PTB does not take do_api_request
# for a method it wraps and suggest Bot.get_updates, which is avoided here on purpose (see above).
GET_UPDATES = "getupdates"


def quiet_library_logs() -> None:
    """httpx logs each request URL at INFO, and Bot API URLs hold the token; PTB logs request data
    at DEBUG. Neither may reach the log, whatever the root level."""
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING), ("telegram", logging.INFO)):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


def build_application(token: str, api_url: str | None = None, *, timeout: float = 10.0,
                      pool: int = 64) -> Application:
    """A PTB Application with no Updater, no JobQueue, and timeouts fit for a bot that must not hang."""
    base_url = (api_url or TELEGRAM_API).rstrip("/")
    file_url = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url + "/file"
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        .updater(None)
        .job_queue(None)
        .connection_pool_size(pool)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .write_timeout(timeout)
        .pool_timeout(timeout)
        .build()
    )


class TelegramApi:
    def __init__(self, application: Application) -> None:
        self._app = application
        self.bot_id = 0
        self.username = ""

    @property
    def bot(self):  # noqa: ANN201 - telegram.Bot, for Update.de_json
        return self._app.bot

    async def initialize(self) -> None:
        """getMe (PTB's initialize), then start; safe to call again."""
        try:
            await self._app.initialize()  # a no-op once done
            if not self._app.running:
                await self._app.start()
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc
        self.bot_id = self._app.bot.id
        self.username = self._app.bot.username or ""

    async def shutdown(self) -> None:
        if self._app.running:
            await self._app.stop()
        await self._app.shutdown()

    async def get_updates(self, offset: int | None, timeout: int, limit: int,
                          allowed: Sequence[str]) -> list[dict[str, Any]]:
        kwargs = {"timeout": timeout, "limit": limit, "allowed_updates": list(allowed)}
        if offset is not None:
            kwargs["offset"] = offset
        try:
            result = await self._app.bot.do_api_request(GET_UPDATES, api_kwargs=kwargs, read_timeout=timeout + 10.0)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc
        return [update for update in result if isinstance(update, dict) and isinstance(update.get("update_id"), int)]

    async def send_message(self, chat_id: int, html: str, *, protect: bool = False, markup: Any = None,
                           reply_to: int | None = None) -> int:
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        try:
            sent = await self._app.bot.send_message(
                chat_id, html, parse_mode=ParseMode.HTML, protect_content=protect, reply_markup=markup,
                reply_parameters=reply, link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc
        return sent.message_id

    async def download(self, file_id: str) -> bytes:
        """getFile, then the file itself (from the file address build_application set)."""
        try:
            file = await self._app.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def send_file(self, chat_id: int, data: bytes, name: str, *, photo: bool, caption: str | None = None,
                        protect: bool = False, markup: Any = None, reply_to: int | None = None) -> int:
        """sendPhoto or sendDocument (multipart), with an HTML caption of at most 1024 characters."""
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        upload = InputFile(data, filename=name, attach=True)
        options: dict[str, Any] = {"caption": caption, "parse_mode": ParseMode.HTML if caption else None,
                                   "protect_content": protect, "reply_markup": markup, "reply_parameters": reply}
        try:
            if photo:
                sent = await self._app.bot.send_photo(chat_id, upload, **options)
            else:
                sent = await self._app.bot.send_document(chat_id, upload, **options)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc
        return sent.message_id

    async def edit_message(self, chat_id: int, message_id: int, html: str, markup: Any = None) -> None:
        try:
            await self._app.bot.edit_message_text(html, chat_id=chat_id, message_id=message_id,
                                                  parse_mode=ParseMode.HTML, reply_markup=markup)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def edit_caption(self, chat_id: int, message_id: int, html: str, markup: Any = None) -> None:
        """editMessageCaption: the text of a photo or file the bot sent (at most 1024 characters)."""
        try:
            await self._app.bot.edit_message_caption(chat_id=chat_id, message_id=message_id, caption=html,
                                                     parse_mode=ParseMode.HTML, reply_markup=markup)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """deleteMessage: within 48 hours of its sending ("message can't be deleted for everyone" after)."""
        try:
            await self._app.bot.delete_message(chat_id=chat_id, message_id=message_id)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def edit_markup(self, chat_id: int, message_id: int, markup: Any) -> None:
        try:
            await self._app.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=markup)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        try:
            await self._app.bot.answer_callback_query(query_id, text=text)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def answer_join_request(self, chat_id: int, user_id: int, approve: bool) -> None:
        try:
            if approve:
                await self._app.bot.approve_chat_join_request(chat_id, user_id)
            else:
                await self._app.bot.decline_chat_join_request(chat_id, user_id)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def revoke_invite_link(self, chat_id: int, link: str) -> None:
        try:
            await self._app.bot.revoke_chat_invite_link(chat_id, link)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def set_webhook(self, url: str, secret: str, allowed: Sequence[str]) -> None:
        # max_connections=1: Telegram then posts one update at a time, in order.
        try:
            await self._app.bot.set_webhook(url, allowed_updates=list(allowed), max_connections=1,
                                            secret_token=secret)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc

    async def delete_webhook(self) -> None:
        try:
            await self._app.bot.delete_webhook(drop_pending_updates=False)
        except tg.TelegramError as exc:
            raise platform_error(exc) from exc
