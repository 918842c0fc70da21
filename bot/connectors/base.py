"""The port every connector implements for sending; receiving writes to the inbox directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from alerts.identity import MessageRef, Platform, UserRef
from alerts.messages import Attachment, Disclosure, InboundMessage, MessageKind
from alerts.routing import Destination


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbox row as the connector needs it: the key doubles as the platform's de-duplication id."""

    key: str
    kind: MessageKind
    destination: Destination
    text: str
    reference: str | None
    contact: str | None
    protect_content: bool
    reply_to: MessageRef | None
    attempt: int
    possible_repeat: bool = False  # an earlier attempt may have arrived (storage.outbox): say so, or check
    attachments: tuple[Attachment, ...] = ()  # photos and files to send with the text, with their bytes
    attention: tuple[UserRef, ...] = ()  # alerts.messages.OutboundMessage.attention
    disclosure: Disclosure | None = None  # alerts.messages.OutboundMessage.disclosure


# The first line of a send that may repeat an earlier one whose outcome was never recorded.
POSSIBLE_REPEAT = "(possible repeat of an earlier send)"


class Ingest(Protocol):
    """How a connector hands over what it received: the messages go to the inbox and the cursor
    (sync token, update offset) is stored in the same transaction, before the platform is told
    anything; only then are they handled. A message recorded before is not recorded again."""

    async def __call__(self, messages: Sequence[InboundMessage], cursor: tuple[str, str] | None = None) -> None: ...


class Connector(Protocol):
    platform: Platform

    async def send(self, message: Outgoing) -> str:
        """Send and return the platform's message id; raise a bot.connectors.errors.PlatformError on failure."""
        ...


class ReceivingConnector(Connector, Protocol):
    """A connector with a receive loop: `start` returns once it is connected and receiving in the
    background; `stop` ends the loop and closes the session; `connected` is for health checks."""

    @property
    def connected(self) -> bool: ...

    async def start(self, ingest: Ingest, cursor: str | None) -> None: ...

    async def stop(self) -> None: ...
