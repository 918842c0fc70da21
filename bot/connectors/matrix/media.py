"""Photos and files on Matrix: m.image and m.file, in and out, encrypted where the room is.

In: an m.image or m.file is read as its caption by sansio/inbound.py, as a text is (a caption that is
a command, or a photo sent in answer to a copy, is that command with an attachment); the Receiver
fetches the file only then. It is fetched from the media repository (the authenticated endpoint)
only within the configured size and types; in an encrypted room the event's `file` object carries
the key, iv and hash, and the bytes are decrypted with nio's attachment crypto (the hash is checked).
Past the limits, the message is recorded with the attachment's name, type and size only, and the
command is refused.

Out: each attachment is uploaded for each recipient's room, encrypted with a new key where the room
is encrypted (`file` object), and posted as m.image or m.file before the text, each with a
transaction id made from the outbox key, so a resend after a crash is de-duplicated like the text.
The text lists their event ids, and each is recorded with the copy's outbox row as it goes (so a copy
whose text then fails for good is known by its first photo); a copy taken back or marked superseded
takes its photos back too (redact_files, or redact_events of what was recorded where its text never
went): the photos of a superseded copy are sent again with the new one.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nio import RoomGetEventResponse, RoomRedactResponse, UploadResponse
from nio.crypto.attachments import decrypt_attachment, encrypt_attachment

from alerts.attachments import AttachmentPolicy
from alerts.messages import Attachment
from bot.connectors.matrix.sansio.inbound import MatrixFile
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure, PlatformError, TransientFailure
from bot.connectors.matrix.sansio.outbound import files_of

if TYPE_CHECKING:
    from nio import AsyncClient


log = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


async def download(client: AsyncClient, mxc: str) -> bytes:
    """The file at `mxc`, from the authenticated media endpoint (Synapse freezes the old one)."""
    server, _, media_id = mxc.removeprefix("mxc://").partition("/")
    url = (f"{client.homeserver}/_matrix/client/v1/media/download/{quote(server, safe='')}/"
           f"{quote(media_id, safe='')}")
    session = client.client_session
    if session is None:
        raise TransientFailure("not-connected", "matrix media")
    async with session.get(url, headers={"Authorization": f"Bearer {client.access_token}"}) as response:
        if response.status == 429 or response.status >= 500:
            raise TransientFailure(f"media-{response.status}", "matrix media download")
        if response.status != 200:
            raise PermanentFailure(f"media-{response.status}", "matrix media download")
        return await response.read()


async def fetch(client: AsyncClient, media: MatrixFile, policy: AttachmentPolicy) -> Attachment:
    """The attachment, fetched and decrypted when within the limits; without bytes otherwise."""
    if not policy.accepts(media.mime, media.size):
        return Attachment(media.name, media.mime, media.size)
    try:
        data = await download(client, media.url)
        if media.encryption is not None:
            keys = media.encryption
            data = decrypt_attachment(data, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"])
    except PermanentFailure as error:  # never the name in the log: it is content
        log.info("a Matrix file could not be fetched (%s)", error.code)
        return Attachment(media.name, media.mime, media.size)
    except (KeyError, TypeError, ValueError) as error:  # a damaged `file` object, or the hash does not match
        log.info("a Matrix file could not be decrypted (%s)", type(error).__name__)
        return Attachment(media.name, media.mime, media.size)
    return Attachment(media.name, media.mime, len(data), data)


async def media_content(sender: Any, attachment: Attachment, encrypted: bool) -> dict[str, Any]:
    """`sender`: the connector's Sender (not imported: it imports this). Upload the attachment (encrypted with a key of its own where the room is) and return the event content."""
    data = attachment.data or b""
    upload = data
    keys: dict[str, Any] | None = None
    if encrypted:
        upload, keys = encrypt_attachment(data)

    async def up(client: AsyncClient) -> Any:
        response, _ = await client.upload(
            io.BytesIO(upload), content_type="application/octet-stream" if encrypted else attachment.mime,
            filename=None if encrypted else attachment.name, filesize=len(upload))
        return response

    session = sender._session  # noqa: SLF001 - the sender's own session: its gate and 429 handling
    response = await session.limited(up, UploadResponse, "upload")
    content: dict[str, Any] = {
        "msgtype": "m.image" if attachment.mime in IMAGE_TYPES else "m.file",
        "body": attachment.name,
        "filename": attachment.name,
        "info": {"mimetype": attachment.mime, "size": len(data)},
    }
    if keys is not None:
        content["file"] = {"url": response.content_uri, **keys, "mimetype": attachment.mime}
    else:
        content["url"] = response.content_uri
    return content


async def send_files(sender: Any, room_id: str, message: Outgoing,
                     record: Callable[[Sequence[str]], Awaitable[None]] | None = None) -> list[str]:
    """Each attachment of `message` into the room, before its text (which the caller sends, listing
    the event ids returned: outbound.FILES_FIELD); `record` is given those sent so far after each,
    so that what reached the room is known if the text never goes. A resend on the same device gets
    the same ids back."""
    client = sender._session.live()  # noqa: SLF001
    room = client.rooms.get(room_id)
    encrypted = room is not None and room.encrypted
    sent: list[str] = []
    for index, attachment in enumerate(message.attachments):
        content = await media_content(sender, attachment, encrypted)
        sent.append(await sender.room_send(room_id, content, f"{message.key}.file{index}"))
        if record is not None:
            await record(tuple(sent))
    return sent


Request = Callable[[Callable[["AsyncClient"], Awaitable[Any]], type, str], Awaitable[Any]]


async def redact_files(request: Request, bot: str, room_id: str, event_id: str, reason: str) -> int:
    """Redact the photos and files the bot sent with its text event `event_id` (listed in it:
    outbound.files_of); how many. `request(make, ok, what)` makes one request and raises a
    PlatformError on an error response. Called before the text itself is redacted or edited, so a
    retry still finds the list; an event or file gone already is not an error."""
    try:
        response = await request(lambda c: c.room_get_event(room_id, event_id), RoomGetEventResponse, "event")
    except PlatformError as error:
        if error.code == "M_NOT_FOUND":
            return 0
        raise
    files = files_of(getattr(response.event, "source", None), bot)

    await redact_events(request, room_id, files, reason)
    return len(files)


async def redact_events(request: Request, room_id: str, events: Sequence[str], reason: str) -> None:
    """Redact each of `events` (the bot's own, as recorded), in order; one gone already is not an error."""
    def redact(event_id: str) -> Callable[["AsyncClient"], Awaitable[Any]]:
        return lambda c: c.room_redact(room_id, event_id, reason=reason)

    for event_id in events:
        try:
            await request(redact(event_id), RoomRedactResponse, "redact")
        except PlatformError as error:
            if error.code != "M_NOT_FOUND":
                raise
