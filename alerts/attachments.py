"""Which photos and files an item may carry: a size and a list of types, from the configuration.

Fail closed: a command whose attachment is too large, of a type not listed, or was not fetched is
refused whole, with what was wrong and what is accepted; nothing is routed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from alerts.messages import Attachment

DEFAULT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


def size_text(size: int) -> str:
    """1234567 -> "1.2 MB"; what people read, never exact to the byte above a kilobyte."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} kB"
    return f"{size} bytes"


@dataclass(frozen=True, slots=True)
class AttachmentProblem:
    """What is wrong with attachments, for a refusal: `what` (with what is accepted, where a limit was
    passed) and `fix`, what to do about it in a chat. The console says it before anything is sent
    (bot/connectors/console_files.py), in the same words."""

    kind: Literal["count", "type", "size", "fetch"]
    what: str
    fix: str


@dataclass(frozen=True)
class AttachmentPolicy:
    max_bytes: int = 10_000_000
    types: frozenset[str] = field(default=DEFAULT_TYPES)
    max_count: int = 10

    def accepts(self, mime: str, size: int) -> bool:
        return mime in self.types and 0 < size <= self.max_bytes

    def problem(self, attachments: Sequence[Attachment]) -> AttachmentProblem | None:
        """What is wrong with these attachments, or None when they may go."""
        accepted = f"accepted: {self.describe()}"
        if len(attachments) > self.max_count:
            return AttachmentProblem("count", f"{len(attachments)} attachments, at most {self.max_count} go with "
                                              "one message", "")
        for attachment in attachments:
            if attachment.mime not in self.types:
                return AttachmentProblem("type", f"the attachment {attachment.name} is of type "
                                                 f"{attachment.mime or 'unknown'}; {accepted}",
                                         "Send it again as one of those (a PDF or a photo).")
            if attachment.size > self.max_bytes:
                return AttachmentProblem("size", f"the attachment {attachment.name} is {size_text(attachment.size)}; "
                                                 f"{accepted}", "Send a smaller file (a lower resolution, or fewer pages).")
            if attachment.data is None or len(attachment.data) != attachment.size:
                return AttachmentProblem("fetch", f"the attachment {attachment.name} could not be fetched",
                                         "Send it again.")
        return None

    def refusal(self, attachments: Sequence[Attachment]) -> str | None:
        """Why a message's attachments may not go (the answer's text), or None when they may."""
        found = self.problem(attachments)
        return None if found is None else f"Not sent: {found.what}." + (f" {found.fix}" if found.fix else "")

    def describe(self) -> str:
        return f"up to {size_text(self.max_bytes)} each, of type {', '.join(sorted(self.types))}"
