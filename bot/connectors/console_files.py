"""Files the console operator stages with `:attach PATH`, read from the local disk as a terminal chat
client uploads them: the name is the file's, the type is read from its first bytes (else from its
extension), and the [attachments] limits are checked before the file is read whole, with the same
refusal the bot gives on Matrix and Telegram. Every problem with the path is one line, never a traceback.
"""

from __future__ import annotations

import mimetypes
import stat
from collections.abc import Sequence
from pathlib import Path

from alerts.attachments import AttachmentPolicy, size_text
from alerts.messages import Attachment

EXAMPLE = ":attach ~/scans/passport-page2.jpg"

# Signatures of the types people send: the content decides where it can, so a renamed file is not
# taken for what its extension claims.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"%PDF-", 0, "application/pdf"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
)
_HEAD = 16


def guess_type(name: str, head: bytes) -> str:
    """The media type of a file from its first bytes, else from its name; application/octet-stream
    when neither tells."""
    for signature, offset, mime in _SIGNATURES:
        if head[offset:offset + len(signature)] == signature and (offset == 0 or head.startswith(b"RIFF")):
            return mime
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return (guessed or "application/octet-stream").lower()


def read_attachment(typed: str, policy: AttachmentPolicy, staged: Sequence[Attachment]) -> Attachment | str:
    """The file at `typed` (as the operator typed it: ~ expanded, surrounding quotes dropped) as an
    attachment to go with the next command, or the one line saying why it cannot."""
    raw = typed.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = raw[1:-1]
    if not raw:
        return f"Say which file to attach. Example: {EXAMPLE}"
    path = Path(raw).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"No file {raw}: check the path. Example: {EXAMPLE}"
    except OSError as error:
        return f"Cannot read {raw}: {error.strerror or 'not accessible'}."
    if stat.S_ISDIR(info.st_mode):
        return f"{raw} is a directory: attach one file at a time. Example: {EXAMPLE}"
    if not stat.S_ISREG(info.st_mode):
        return f"{raw} is not a regular file (a device or a pipe): attach a file. Example: {EXAMPLE}"
    if info.st_size == 0:
        return f"{raw} is empty: there is nothing to attach."
    name = path.name
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEAD)
            mime = guess_type(name, head)
            unread = Attachment(name, mime, info.st_size)
            if len(staged) >= policy.max_count or not policy.accepts(mime, info.st_size):
                # Past the limits: not read whole, and refused as the bot refuses it on every platform.
                return policy.refusal((*staged, unread)) or f"Not sent: the attachment {name} is not accepted."
            data = head + stream.read(policy.max_bytes + 1 - len(head))
    except PermissionError:
        return f"Cannot read {raw}: permission denied."
    except OSError as error:
        return f"Cannot read {raw}: {error.strerror or 'read failed'}."
    if not data:
        return f"{raw} is empty: there is nothing to attach."
    attachment = Attachment(name, mime, len(data), data)
    refused = policy.refusal((*staged, attachment))  # it changed while read (grew past the limit)
    return refused if refused is not None else attachment


def describe(attachment: Attachment) -> str:
    return f"{attachment.name} ({attachment.mime}, {size_text(attachment.size)})"
