"""Photos and documents in Telegram messages, fetched for the inbox within the configured limits.

A photo comes in several sizes: the largest is taken (Telegram sends photos as JPEG). A document
keeps its name and media type. One past the size limit, or of a type not accepted, is not fetched
at all: the message is recorded with the attachment's name, type and size only, and the command
is refused with the limits (alerts.attachments). A file Telegram will not hand out is recorded
likewise; a network fault or a 429 propagates, so the batch is read again and nothing is lost.
"""

from __future__ import annotations

import logging

from telegram import Message

from alerts.attachments import AttachmentPolicy
from alerts.messages import Attachment
from bot.connectors.errors import PermanentFailure
from bot.connectors.telegram.api import TelegramApi

log = logging.getLogger(__name__)


def described(msg: Message) -> list[tuple[str, str, str, int]]:
    """(file id, name, media type, size) of each photo or file in the message, unfetched."""
    found = []
    if msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append((largest.file_id, f"photo-{msg.message_id}.jpg", "image/jpeg", largest.file_size or 0))
    if msg.document is not None:
        document = msg.document
        found.append((document.file_id, document.file_name or f"file-{msg.message_id}",
                      (document.mime_type or "application/octet-stream").lower(), document.file_size or 0))
    return found


async def fetch(api: TelegramApi, msg: Message, policy: AttachmentPolicy) -> tuple[Attachment, ...]:
    attachments = []
    for file_id, name, mime, size in described(msg):
        if not policy.accepts(mime, size):
            attachments.append(Attachment(name, mime, size))
            continue
        try:
            data = await api.download(file_id)
        except PermanentFailure as error:  # never the name in the log: it is content
            log.info("a Telegram file could not be fetched (%s)", error.code)
            attachments.append(Attachment(name, mime, size))
            continue
        attachments.append(Attachment(name, mime, len(data), data))
    return tuple(attachments)
