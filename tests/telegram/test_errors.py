"""PTB exceptions map to bot.connectors.errors in one place, by whether the send may have happened."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from telegram import error as tg

from bot.connectors.telegram.errors import ChatMoved, platform_error
from bot.connectors.errors import PermanentFailure, RateLimited, TransientFailure, UnknownOutcome


def caused(error: tg.TelegramError, cause: Exception) -> tg.TelegramError:
    try:
        raise error from cause
    except tg.TelegramError as raised:
        return raised


REQUEST = httpx.Request("POST", "http://127.0.0.1/bot/sendMessage")


@pytest.mark.parametrize(("error", "kind", "code"), [
    (lambda: tg.RetryAfter(5), RateLimited, "rate-limited"),  # made in the test: PTB warns when it is made
    (tg.BadRequest("Bad Request: chat not found"), PermanentFailure, "bad-request"),
    (tg.Forbidden("Forbidden: bot was blocked by the user"), PermanentFailure, "forbidden"),
    (tg.InvalidToken(), TransientFailure, "invalid-token"),
    (tg.Conflict("Conflict: terminated by other getUpdates request"), TransientFailure, "conflict"),
    (tg.NetworkError("Internal Server Error"), TransientFailure, "server-error"),
    (caused(tg.TimedOut(), httpx.ReadTimeout("", request=REQUEST)), UnknownOutcome, "timed-out"),
    (caused(tg.NetworkError("x"), httpx.RemoteProtocolError("", request=REQUEST)), UnknownOutcome, "connection-lost"),
    (caused(tg.TimedOut(), httpx.PoolTimeout("")), TransientFailure, "not-sent"),
    (caused(tg.TimedOut(), httpx.ConnectTimeout("")), TransientFailure, "not-sent"),
    (caused(tg.NetworkError("x"), httpx.ConnectError("refused")), TransientFailure, "not-sent"),
])
def test_mapping(error, kind: type, code: str) -> None:  # noqa: ANN001
    mapped = platform_error(error() if callable(error) else error)
    assert type(mapped) is kind and mapped.code == code


def test_not_sent_is_not_an_unknown_outcome() -> None:
    assert not isinstance(platform_error(caused(tg.TimedOut(), httpx.PoolTimeout(""))), UnknownOutcome)


def test_retry_after_in_either_form() -> None:
    assert platform_error(tg.RetryAfter(5)).retry_after == 5.0
    assert platform_error(tg.RetryAfter(timedelta(seconds=2.5))).retry_after == 2.5


def test_a_migrated_chat_names_its_new_id() -> None:
    moved = platform_error(tg.ChatMigrated(-1001234))
    assert isinstance(moved, ChatMoved) and moved.new_chat_id == -1001234 and moved.retryable
