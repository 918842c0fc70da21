"""Sealed content columns: JSON sealed with the row's identity as associated data.

The associated data names the table and the row's natural key, so a blob copied into another
row, or another table, does not open.
"""

from __future__ import annotations

import json
from typing import Any

from storage.sealing import ContentSealer


# json.dumps with these options would build an encoder on every call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def json_plaintext(data: dict[str, Any]) -> bytes:
    """What seal_json seals: canonical JSON (keys sorted, no spaces), UTF-8."""
    return _CANONICAL.encode(data).encode()


def seal_json(sealer: ContentSealer, data: dict[str, Any], *, aad: bytes, case: str | None = None) -> bytes:
    return sealer.seal(json_plaintext(data), aad=aad, case=case)


def open_json(sealer: ContentSealer, blob: bytes, *, aad: bytes, case: str | None = None) -> dict[str, Any]:
    return json.loads(sealer.open(bytes(blob), aad=aad, case=case))


def item_aad(reference: str) -> bytes:
    return b"items|" + reference.encode()


def inbox_aad(platform: str, event_id: str) -> bytes:
    return b"inbox|" + platform.encode() + b"|" + event_id.encode()


def outbox_aad(key: str) -> bytes:
    return b"outbox|" + key.encode()


def attachment_aad(reference: str, ident: str) -> bytes:
    return b"attachments|" + reference.encode() + b"|" + ident.encode()


def outbox_file_aad(key: str, position: int) -> bytes:
    return b"outbox_files|" + key.encode() + b"|" + str(position).encode()
