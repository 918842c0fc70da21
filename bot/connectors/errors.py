"""The bot's own exceptions for platform failures: each connector maps its library's errors here, once."""

from __future__ import annotations


class PlatformError(Exception):
    """A send or a call that a platform refused or failed; `retryable` tells the worker what to do."""

    retryable = False

    def __init__(self, code: str, detail: str = "", retry_after: float | None = None) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__(f"{code}: {detail}" if detail else code)

    def retried_after(self, attempt: int, max_attempts: int) -> bool:
        """Whether the delivery worker tries again after `attempt` of `max_attempts` failed this way."""
        return self.retryable and attempt < max_attempts


class RateLimited(PlatformError):
    """The platform asked us to wait (Telegram 429 retry_after, Matrix M_LIMIT_EXCEEDED)."""

    retryable = True

    def retried_after(self, attempt: int, max_attempts: int) -> bool:
        return True  # a platform that says "wait" is not failing: rate limits never use up the attempts


class TransientFailure(PlatformError):
    """A network fault, a timeout or a 5xx: worth another try after a back-off."""

    retryable = True


class UnknownOutcome(TransientFailure):
    """A send that timed out after the platform may have accepted it; retried with the same key."""


class PermanentFailure(PlatformError):
    """The platform will never accept this send as it is (blocked bot, unknown chat, bad request)."""


class NotConnected(TransientFailure):
    """No connector for the platform is running right now."""
