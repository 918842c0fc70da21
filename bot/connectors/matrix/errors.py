"""The one place where matrix-nio's error responses and exceptions become the bot's own errors.

    RateLimited        M_LIMIT_EXCEEDED or HTTP 429; retry_after from the Retry-After header and
                       retry_after_ms, whichever asks to wait longer
    TransientFailure   5xx, a refused connection, an expired session (the connector logs in again),
                       an encrypted room whose keys could not be shared yet, an unverified device
                       blocking a send under the "verified" policy (UnverifiedDevices), a member's
                       device the room key could not be given to yet (DevicesWithoutKeys)
    UnknownOutcome     a send that timed out or lost its connection after the request went out:
                       retried with the same transaction id, which the homeserver de-duplicates
    PermanentFailure   any other 4xx (M_FORBIDDEN, M_NOT_FOUND, M_TOO_LARGE, M_BAD_JSON, ...)
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import aiohttp
from nio import ErrorResponse
from nio.exceptions import EncryptionError, LocalProtocolError, OlmUnverifiedDeviceError

from bot.connectors.errors import PermanentFailure, PlatformError, RateLimited, TransientFailure, UnknownOutcome

DEFAULT_RETRY_AFTER = 5.0  # seconds, when a 429 names no time at all
SESSION_CODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})
# 4xx codes that are not about this one request and may heal by themselves.
TRANSIENT_CODES = frozenset({"M_RESOURCE_LIMIT_EXCEEDED", "M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})


class UnverifiedDevices(TransientFailure):
    """Under device_trust = "verified": a recipient's room holds devices nobody has verified yet.

    Retryable: the send waits for an admin to verify or blacklist the devices (the admins are told).
    """

    CODE = "unverified-device"  # what the outbox records for a delivery held back this way

    def __init__(self, devices: list[tuple[str, str]], room_id: str, retry_after: float) -> None:
        self.devices = tuple(devices)
        self.room_id = room_id
        names = ", ".join(f"{user} {device}" for user, device in devices)
        super().__init__(self.CODE, f"in {room_id}: {names}", retry_after=retry_after)


class DevicesWithoutKeys(TransientFailure):
    """An encrypted room holds a member's device the bot could not give the room key to yet (no
    one-time key could be claimed for it: it has just logged in, its keys ran out, or the claim raced
    another client's). A copy sent now could never be read on that device, so the send waits; the
    keeper (trust.DeviceTrustKeeper) holds it back only for a short grace per device, so waiting this
    way never uses up the delivery's attempts."""

    CODE = "devices-without-keys"

    def __init__(self, devices: list[tuple[str, str]], room_id: str, retry_after: float) -> None:
        self.devices = tuple(devices)
        self.room_id = room_id
        names = ", ".join(f"{user} {device}" for user, device in devices)
        super().__init__(self.CODE, f"in {room_id}: {names}", retry_after=retry_after)

    def retried_after(self, attempt: int, max_attempts: int) -> bool:
        return True  # bounded by the keeper's grace, not by the attempts


class SessionExpired(TransientFailure):
    """The homeserver no longer knows our access token: the connector logs in again, then retries."""


def http_status(response: Any) -> int | None:
    transport = getattr(response, "transport_response", None)
    return getattr(transport, "status", None)


def retry_after_seconds(response: Any) -> float | None:
    """The longer of the body's retry_after_ms and the Retry-After header (seconds or an HTTP date)."""
    waits: list[float] = []
    ms = getattr(response, "retry_after_ms", None)
    if isinstance(ms, (int, float)) and ms >= 0:
        waits.append(ms / 1000.0)
    transport = getattr(response, "transport_response", None)
    headers = getattr(transport, "headers", None)
    header = headers.get("Retry-After") if headers is not None else None
    if header:
        header = header.strip()
        if header.isdigit():
            waits.append(float(header))
        else:
            try:
                when = email.utils.parsedate_to_datetime(header)
                waits.append(max(0.0, when.timestamp() - time.time()))
            except (TypeError, ValueError):
                pass
    return max(waits) if waits else None


def is_rate_limited(response: Any) -> bool:
    return isinstance(response, ErrorResponse) and (
        response.status_code == "M_LIMIT_EXCEEDED" or http_status(response) == 429
    )


def from_response(response: ErrorResponse, what: str) -> PlatformError:
    """An error response of any nio call as the bot's error; `what` names the call for the log."""
    code = response.status_code or ""
    status = http_status(response)
    detail = f"{what}: {response.message}" if response.message else what
    if is_rate_limited(response):
        wait = retry_after_seconds(response)
        return RateLimited("M_LIMIT_EXCEEDED", detail, retry_after=DEFAULT_RETRY_AFTER if wait is None else wait)
    if code in SESSION_CODES:
        return SessionExpired(code, detail)
    if status is None or status >= 500 or code in TRANSIENT_CODES:
        return TransientFailure(code or (f"http-{status}" if status else "matrix-error"), detail)
    if status == 408:
        return UnknownOutcome(code or "http-408", detail)
    return PermanentFailure(code or f"http-{status}", detail)


def from_exception(error: BaseException, what: str, *, request_sent: bool = True) -> PlatformError:
    """A transport or crypto exception as the bot's error.

    `request_sent`: whether the homeserver may have acted on the request (a send that timed out
    may have been accepted: UnknownOutcome, retried with the same transaction id).
    """
    if isinstance(error, PlatformError):
        return error
    if isinstance(error, OlmUnverifiedDeviceError):
        device = error.device
        return UnverifiedDevices([(device.user_id, device.id)], "", retry_after=300.0)
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
        cls = UnknownOutcome if request_sent else TransientFailure
        return cls("timeout", what)
    if isinstance(error, aiohttp.ClientConnectorError):
        return TransientFailure("connection-refused", f"{what}: {error}")
    if isinstance(error, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        cls = UnknownOutcome if request_sent else TransientFailure
        return cls("connection-lost", f"{what}: {error}")
    if isinstance(error, aiohttp.ClientError):
        return TransientFailure("http-client", f"{what}: {error}")
    if isinstance(error, EncryptionError):
        return TransientFailure("encryption", f"{what}: {error}")
    if isinstance(error, LocalProtocolError):
        return TransientFailure("matrix-local", f"{what}: {error}")
    return TransientFailure("matrix-error", f"{what}: {type(error).__name__}: {error}")
