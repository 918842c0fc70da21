"""The [attachments] section: how large, and of which types, the photos and files an item may carry are.

    [attachments]
    max_bytes = 10_000_000                                     # each attachment
    types = ["image/jpeg", "image/png", "application/pdf"]     # media types accepted

A command whose attachment is past these limits is refused whole and routes nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from alerts.attachments import DEFAULT_TYPES, AttachmentPolicy
from bot.config.reader import Check, settings
from bot.config.values import Whole

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")


def _types(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError(raw)
    found = []
    for value in raw:
        if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value.strip().lower()):
            raise ValueError(raw)
        found.append(value.strip().lower())
    return tuple(dict.fromkeys(found))


MediaTypes = Annotated[tuple[str, ...], Check(_types, 'a list of media types like ["image/jpeg", "application/pdf"]')]


@settings
class AttachmentSettings:
    max_bytes: Annotated[int, Whole(1)] = 10_000_000
    types: MediaTypes = tuple(sorted(DEFAULT_TYPES))
    max_count: Annotated[int, Whole(1)] = 10  # attachments with one message

    def policy(self) -> AttachmentPolicy:
        return AttachmentPolicy(self.max_bytes, frozenset(self.types), self.max_count)
