"""How an audit entry becomes bytes: the canonical encoding that is hashed, the associated data
that binds each sealed part to its row, and the JSON inside the sealed parts.

The hash covers the ciphertexts, not the plaintexts, so destroying a case key (erasure) leaves
every hash, the chain and the Merkle roots intact.
"""

from __future__ import annotations

import hmac
import json
import struct
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any

from alerts.audit import AuditEvent
from storage.audit.tables import TABLE_NAME

SCHEMA_VERSION = 1
GENESIS_HASH = bytes(32)  # prev_hash of entry 1
HEADER = struct.Struct(">qqhiiiiii")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_TABLE = TABLE_NAME.encode()


def entry_hash(seq: int, recorded_at_us: int, action: str, reference: str | None, key_id: str,
               schema_version: int, case_ref: str | None, sealed_meta: bytes, sealed_detail: bytes | None,
               prev_hash: bytes) -> bytes:
    """SHA-256(0x00 || encoding): the RFC 9162 leaf hash of the entry, so it is also its Merkle leaf.

    The encoding is a fixed header (seq, time, schema version, then the length of each variable
    field, -1 for NULL) followed by the fields and prev_hash, so no two entries encode alike.
    """
    a = action.encode()
    r = reference.encode() if reference is not None else b""
    k = key_id.encode()
    c = case_ref.encode() if case_ref is not None else b""
    d = sealed_detail if sealed_detail is not None else b""
    header = HEADER.pack(
        seq, recorded_at_us, schema_version, len(a), len(r) if reference is not None else -1, len(k),
        len(c) if case_ref is not None else -1, len(sealed_meta), len(d) if sealed_detail is not None else -1,
    )
    return sha256(b"\x00" + header + a + r + k + c + sealed_meta + d + prev_hash).digest()


HEAD_MAC_LABEL = b"audit head MAC v1"
_HEAD_MAC_PREFIX = b"liaison-bot/audit-head\x00"


def head_mac(key: bytes, seq: int, entry_hash: bytes, frontier: bytes) -> bytes:
    """HMAC-SHA-256 over the head (size, last hash, Merkle frontier) under a key derived from the
    key file: the hashes alone are unkeyed, so without this anyone who can write the database could
    cut or rewrite the entries after the last checkpoint and recompute a head that agrees.
    The last hash has a fixed length and the frontier comes last, so no two heads encode alike."""
    return hmac.new(key, _HEAD_MAC_PREFIX + struct.pack(">q", seq) + entry_hash + frontier, sha256).digest()


def part_aad(seq: int, key_id: str, schema_version: int, part: str) -> bytes:
    """The entry's identity as associated data: a sealed part moved to another entry, table or
    part does not open."""
    return b"%s|%d|%s|%d|%s" % (_TABLE, seq, key_id.encode(), schema_version, part.encode())


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the audit log records UTC times")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, timezone.utc).replace(microsecond=micros % 1_000_000)


# json.dumps with these options would build an encoder on every call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dumps(data: Any) -> bytes:
    return _CANONICAL.encode(data).encode()


def meta_plaintext(event: AuditEvent, *, detail_dropped: bool = False) -> bytes:
    meta: dict[str, Any] = {
        "at": event.at.astimezone(timezone.utc).isoformat(),
        "actor": event.actor,
        "recipients": list(event.recipients),
        "channel": event.channel,
        "caveat": event.caveat,
        "purpose": event.purpose,
    }
    if detail_dropped:
        meta["detail_dropped"] = "case erased before this entry"
    return _dumps(meta)


def detail_plaintext(detail: dict[str, str]) -> bytes:
    return _dumps(detail)


def loads(plaintext: bytes) -> dict[str, Any]:
    return json.loads(plaintext)
