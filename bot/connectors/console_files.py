"""Files the console operator stages with `:attach PATH`, read from the local disk as a terminal chat
client uploads them: the name is the file's, the type is read from its first bytes (else from its
extension), and the [attachments] limits are checked before the file is read whole, in the words the bot
refuses a file with on Matrix and Telegram, said as "Not staged" (nothing is being sent yet) with what
to do here. Every problem with the path is one line, never a traceback.
"""

from __future__ import annotations

import mimetypes
import stat
from collections.abc import Sequence
from pathlib import Path

from alerts.attachments import AttachmentPolicy, AttachmentProblem, size_text
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
# What to do about each refusal on the console, where a chat says to send the file again.
_FIXES = {"type": "Attach one of those instead (a PDF or a photo).",
          "size": "Attach a smaller file (a lower resolution, or fewer pages).",
          "fetch": "Attach it again."}


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
                return not_staged(policy, staged, policy.problem((*staged, unread)), name)
            data = head + stream.read(policy.max_bytes + 1 - len(head))
    except PermissionError:
        return f"Cannot read {raw}: permission denied."
    except OSError as error:
        return f"Cannot read {raw}: {error.strerror or 'read failed'}."
    if not data:
        return f"{raw} is empty: there is nothing to attach."
    attachment = Attachment(name, mime, len(data), data)
    problem = policy.problem((*staged, attachment))  # it changed while read (grew past the limit)
    return attachment if problem is None else not_staged(policy, staged, problem, name)


def not_staged(policy: AttachmentPolicy, staged: Sequence[Attachment], problem: AttachmentProblem | None,
               name: str) -> str:
    """The refusal of a file at :attach: what is wrong and what is accepted as a chat says it, but
    "Not staged" (nothing is sent yet), and what to do on the console, with an example."""
    if problem is None:  # accepts() said no, for a reason problem() does not name: refused all the same
        return f"Not staged: {name} is not accepted; accepted: {policy.describe()}. Example: {EXAMPLE}"
    if problem.kind == "count":
        most, count = policy.max_count, len(staged)
        return (f"Not staged: at most {most} attachment{'s go' if most != 1 else ' goes'} with one message, and "
                f"{count} {'is' if count == 1 else 'are'} staged already. Send your command with "
                f"{'it' if count == 1 else 'them'}, or :detach drops {'it' if count == 1 else 'them'} to choose again.")
    return f"Not staged: {problem.what}. {_FIXES[problem.kind]} Example: {EXAMPLE}"


def describe(attachment: Attachment) -> str:
    return f"{attachment.name} ({attachment.mime}, {size_text(attachment.size)})"
