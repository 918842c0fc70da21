"""python-telegram-bot's exceptions become the bot's own (bot.connectors.errors), here and nowhere else.

What matters to the delivery worker is whether a send may have happened:

- the request never left (connection refused, connect or pool timeout): TransientFailure, retry freely;
- Telegram answered with an error (4xx, 5xx): the answer says what happened; a 5xx is retried;
- the request left and no answer came (read timeout, connection dropped): UnknownOutcome. Telegram
  cannot de-duplicate a sendMessage, so the sender retries such a send once and counts it.

Descriptions from Telegram ("Bad Request: chat not found") never contain message text; they are kept
as the detail. Tokens never appear: PTB puts the token only in the URL, which is not in the message.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import httpx
from telegram import error as tg
from telegram.warnings import PTBDeprecationWarning

from bot.connectors.errors import PermanentFailure, PlatformError, RateLimited, TransientFailure, UnknownOutcome

# PTB 22 warns whenever a RetryAfter is made that retry_after will become a timedelta; both are handled.
warnings.filterwarnings("ignore", message=".*`retry_after`.*", category=PTBDeprecationWarning)

# httpx errors raised before a single byte of the request was written.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class ChatMoved(TransientFailure):
    """The group became a supergroup; the send may be repeated at once to `new_chat_id`."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__("chat-migrated", f"now {new_chat_id}")
        self.new_chat_id = new_chat_id


def retry_after_seconds(exc: tg.RetryAfter) -> float:
    """PTB 22 gives an int or, with PTB_TIMEDELTA set, a timedelta (and warns about the int form)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def platform_error(exc: tg.TelegramError) -> PlatformError:
    """The bot.connectors.errors exception for a PTB exception (the caller raises it `from exc`)."""
    if isinstance(exc, tg.RetryAfter):
        return RateLimited("rate-limited", "Telegram flood control", retry_after_seconds(exc))
    if isinstance(exc, tg.ChatMigrated):
        return ChatMoved(int(exc.new_chat_id))
    if isinstance(exc, tg.Forbidden):  # blocked by the user, removed from the group, never started
        return PermanentFailure("forbidden", exc.message)
    if isinstance(exc, tg.BadRequest):  # before NetworkError: BadRequest is one of its subclasses
        return PermanentFailure("bad-request", exc.message)
    if isinstance(exc, tg.InvalidToken):
        # Retryable: a wrong token is fixed by an operator, and deliveries should go out then.
        return TransientFailure("invalid-token", "Telegram refused the bot token")
    if isinstance(exc, tg.Conflict):  # another getUpdates or a webhook is active
        return TransientFailure("conflict", exc.message)
    if isinstance(exc, tg.NetworkError):  # TimedOut included
        cause = exc.__cause__
        if isinstance(cause, _NOT_SENT):
            return TransientFailure("not-sent", type(cause).__name__)
        if cause is None and not isinstance(exc, tg.TimedOut):
            return TransientFailure("server-error", exc.message)  # an HTTP 5xx answer: it did not happen
        return UnknownOutcome("timed-out" if isinstance(exc, tg.TimedOut) else "connection-lost",
                              type(cause).__name__ if cause else "")
    return TransientFailure("telegram-error", type(exc).__name__)
