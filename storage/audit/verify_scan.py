"""The hot loop of verify: one contiguous range of entries (a chunk), checked row by row.

For each entry: its seq follows the previous one, its prev_hash is the previous entry's hash,
its own hash matches its columns, and its sealed parts open (AEAD tag) under the keys its row
names. It also grows the chunk's Merkle frontier, and snapshots it at the sizes verify asks for.

Chunks start at multiples of a power of two, so a chunk's frontier is made of subtrees aligned
in the whole tree and verify can join chunks scanned by different processes (see verify.py).
Rows are read in batches, streamed: this loop runs a million times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, text

from storage.audit.encoding import HEADER
from storage.audit.tables import TABLE_NAME
from storage.keyring import Keyring
from storage.case_keys import CaseKeyError, unwrap
from storage.sealing import CASE_BLOB, MASTER_BLOB

COLUMNS = ("seq, recorded_at_us, action, reference, key_id, schema_version, case_ref, "
           "sealed_meta, sealed_detail, prev_hash, entry_hash")
BATCH = 4096
_TABLE = TABLE_NAME.encode()
_ERASED = object()  # a case key destroyed on purpose


@dataclass(frozen=True)
class Chunk:
    lo: int                   # first seq expected
    hi: int | None            # last seq expected; the last chunk reaches to the highest seq stored
    sizes: frozenset[int]     # tree sizes inside the chunk whose frontier verify wants


@dataclass
class ChunkResult:
    lo: int
    rows: int = 0
    first_prev: bytes | None = None   # the first entry's prev_hash, to join to the previous chunk
    last_hash: bytes | None = None
    frontier: list[bytes] = field(default_factory=list)  # relative to lo
    snapshots: dict[int, list[bytes]] = field(default_factory=dict)
    erased: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    failure: tuple[int, str] | None = None   # (seq, why)
    strays: list[int] = field(default_factory=list)  # rows whose seq lies before the chunk


class CaseKeyTable:
    """The case keys a scan needs, unwrapped on first use; erased and missing keys are told apart."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._rows: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}

    def load(self, connection: Connection, where: str, params: dict[str, Any]) -> None:
        """The rows of the case keys that entries matching `where` name (a chunk's, not the whole
        table: each process then reads only its share)."""
        rows = connection.execute(text("SELECT reference, key_id, master_key_id, wrapped_key FROM case_keys WHERE "
                                       "reference IN (SELECT case_ref FROM audit_entries" + where + ")"), params)
        self._rows.update((row[0], tuple(row)) for row in rows)

    def get(self, reference: str) -> Any:
        """(key id bytes, AESGCM), _ERASED, or raises CaseKeyError (missing or unwrappable)."""
        key = self._keys.get(reference)
        if key is None:
            row = self._rows.get(reference)
            if row is None:
                raise CaseKeyError(f"the data key of case {reference} is missing (deleted, not erased)")
            if row[3] is None:
                key = _ERASED
            else:
                key = (row[1].encode(), unwrap(self._keyring, reference, row[1], row[2], bytes(row[3])))
            self._keys[reference] = key
        return key


def _open_master(blob: bytes, kid: bytes, aeads: dict[bytes, AESGCM], aad: bytes) -> str | None:
    """None when the blob opens, else why not."""
    if blob[0] != MASTER_BLOB:
        return "not sealed under a master key"
    n = blob[1]
    if blob[2 : 2 + n] != kid:
        return "sealed under another key than its row names"
    aead = aeads.get(kid)
    if aead is None:
        return f"master key {kid.decode(errors='replace')} is not in the key file"
    aead.decrypt(blob[2 + n : 14 + n], blob[14 + n :], kid + b"|" + aad)  # raises InvalidTag
    return None


def scan_chunk(connection: Connection, keyring: Keyring, chunk: Chunk, case_keys: CaseKeyTable) -> ChunkResult:
    result = ChunkResult(lo=chunk.lo)
    where: list[str] = []
    params: dict[str, Any] = {}
    if chunk.lo > 1:  # the first chunk also sees seqs below 1, which can only be tampering
        where.append("seq >= :lo")
        params["lo"] = chunk.lo
    if chunk.hi is not None:
        where.append("seq <= :hi")
        params["hi"] = chunk.hi
    condition = " WHERE " + " AND ".join(where) if where else ""
    case_keys.load(connection, condition, params)
    sql = f"SELECT {COLUMNS} FROM {TABLE_NAME}{condition} ORDER BY seq"
    rows = connection.execute(text(sql).execution_options(stream_results=True), params)
    try:
        _scan_rows(rows, keyring.aeads(), chunk, case_keys, result)
    finally:
        rows.close()
    if result.failure is None and chunk.hi is not None and chunk.lo + result.rows <= chunk.hi:
        result.failure = (chunk.lo + result.rows, "entry is missing (deleted)")
    return result


def _scan_rows(cursor: Any, aeads: dict[bytes, AESGCM], chunk: Chunk, case_keys: CaseKeyTable,
               result: ChunkResult) -> None:
    # Written for speed: locals for everything looked up per row, the Merkle append and the
    # master-key open inlined. _open_master is the readable version of the inlined open.
    expected = chunk.lo
    last: bytes | None = None
    hashes: list[bytes] = []  # the chunk's Merkle frontier (see merkle.Frontier.append)
    sizes, pack, join, sha = chunk.sizes, HEADER.pack, b"".join, sha256
    cases: dict[str, Any] = {}
    by_key: dict[str, int] = {}
    run_key, run_length = None, 0
    erased = 0
    try:
        while batch := cursor.fetchmany(BATCH):
            for seq, rec, action, ref, kid, sv, case, meta, detail, prev, ehash in batch:
                if seq != expected:
                    if seq < expected:
                        result.strays.append(seq)
                        continue
                    result.failure = (expected, f"entry is missing (deleted, or its seq altered; next stored is {seq})")
                    return
                try:
                    if last is None:
                        result.first_prev = prev
                    elif prev != last:
                        result.failure = (seq, "prev_hash is not the previous entry's hash: chain broken")
                        return
                    a = action.encode()
                    k = kid.encode()
                    r = ref.encode() if ref is not None else b""
                    c = case.encode() if case is not None else b""
                    d = detail if detail is not None else b""
                    h = sha(join((b"\x00", pack(
                        seq, rec, sv, len(a), len(r) if ref is not None else -1, len(k),
                        len(c) if case is not None else -1, len(meta), len(d) if detail is not None else -1,
                    ), a, r, k, c, meta, d, prev))).digest()
                    if h != ehash:
                        result.failure = (seq, "entry hash does not match its columns: entry altered")
                        return
                    aad = b"%s|%d|%s|%d|" % (_TABLE, seq, k, sv)
                    n = meta[1]
                    if meta[0] != MASTER_BLOB or meta[2 : 2 + n] != k or k not in aeads:
                        result.failure = (seq, "sealed meta: " + str(_open_master(meta, k, aeads, aad + b"meta")))
                        return
                    aeads[k].decrypt(meta[2 + n : 14 + n], meta[14 + n :], join((k, b"|", aad, b"meta")))
                    if detail is not None:
                        if case is None:
                            why = _open_master(detail, k, aeads, aad + b"detail")
                            if why is not None:
                                result.failure = (seq, f"sealed detail: {why}")
                                return
                        else:
                            key = cases.get(case)
                            if key is None:
                                key = cases[case] = case_keys.get(case)
                            if key is _ERASED:
                                erased += 1
                            else:
                                n = detail[1]
                                if detail[0] != CASE_BLOB or detail[2 : 2 + n] != key[0]:
                                    result.failure = (seq, "sealed detail: not sealed under its case's data key")
                                    return
                                key[1].decrypt(detail[2 + n : 14 + n], detail[14 + n :],
                                               join((key[0], b"|", c, b"|", aad, b"detail")))
                    elif case is not None:
                        erased += 1  # content dropped because the case was erased before this entry
                except CaseKeyError as exc:
                    result.failure = (seq, str(exc))
                    return
                except Exception as exc:  # InvalidTag above all; also wrong types from an altered row
                    why = "sealed payload does not decrypt (AEAD tag mismatch)" if type(exc).__name__ == "InvalidTag" \
                        else "a column holds a value of the wrong type: entry altered"
                    result.failure = (seq, why)
                    return
                if kid != run_key:
                    if run_key is not None:
                        by_key[run_key] = by_key.get(run_key, 0) + run_length
                    run_key, run_length = kid, 0
                run_length += 1
                hashes.append(h)
                m = expected - chunk.lo  # leaves before this one: merge a subtree per trailing one bit
                while m & 1:
                    right = hashes.pop()
                    hashes[-1] = sha(join((b"\x01", hashes[-1], right))).digest()
                    m >>= 1
                if seq in sizes:
                    result.snapshots[seq] = list(hashes)
                last = h
                expected += 1
    finally:
        if run_key is not None:
            by_key[run_key] = by_key.get(run_key, 0) + run_length
        result.rows = expected - chunk.lo
        result.last_hash = last
        result.frontier = hashes
        result.erased = erased
        result.by_key = by_key
