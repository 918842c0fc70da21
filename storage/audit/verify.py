"""`audit verify`: recompute the chain and the Merkle roots, check every checkpoint and the witness,
and open every sealed part; name the first bad entry and why.

What each kind of tampering looks like here:
- a bit flip or edit in a row: its hash no longer matches its columns (or, if the attacker
  recomputed the hashes, the Merkle root at the next checkpoint no longer matches);
- a deletion, or a seq changed: a gap in the sequence;
- a reordering: hashes cover the seq, so a moved row fails its own hash;
- a truncation: a checkpoint (in the table or the witness) or the head is larger than the log;
- a tail cut or rewritten after the last checkpoint, hashes and head recomputed: the head's MAC
  (keyed by the key file) no longer verifies. Only someone holding the key file can make a head
  that does; the witness still bounds what they can change (nothing at or below its last size).
An entry whose case key was erased on purpose counts as erased, not as tampered: the hashes cover
ciphertexts, so the chain still verifies.

The log is scanned in chunks of 2**14 entries aligned in the tree; large logs are scanned by
several processes (fork) and the chunks' frontiers joined, which keeps a million entries within
seconds on two cores. The state verified is the one at the start: entries appended meanwhile
are left for the next run.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Connection, Engine, func, select

from storage.audit.checkpoints import Checkpoint, WitnessFile, read_checkpoints
from storage.audit.encoding import GENESIS_HASH
from storage.audit.log import AuditHeadCorrupt, AuditHeadUnkeyed, check_head_mac
from storage.audit.merkle import EMPTY_ROOT, Frontier, fold
from storage.audit.tables import audit_entries, audit_head
from storage.audit.verify_scan import CaseKeyTable, Chunk, ChunkResult, scan_chunk
from storage.db import READ_ONLY, create_engine_for
from storage.keyring import Keyring

CHUNK_BITS = 14  # small enough to spread over the workers evenly, large enough to keep per-chunk costs low
CHUNK = 1 << CHUNK_BITS


@dataclass
class VerifyReport:
    ok: bool
    entries: int                      # entries checked (up to the first bad one)
    checkpoints: int                  # signed checkpoints in the table
    witness_checkpoints: int          # signed checkpoints in the witness file
    erased: int                       # entries whose content was erased on purpose
    root: bytes | None                # the verified Merkle root over all entries, when ok
    first_bad_seq: int | None = None  # None when ok, or when only a checkpoint itself is bad
    reason: str | None = None
    by_key: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)  # every problem found, the first one first (`reason`)

    def summary(self) -> str:
        """One line: the verdict, and the first finding with where it is."""
        if self.ok:
            keys = ", ".join(f"{k}: {n}" for k, n in sorted(self.by_key.items())) or "none"
            return (f"audit log OK: {self.entries} entries, {self.checkpoints} checkpoints, "
                    f"{self.witness_checkpoints} witnessed, {self.erased} with erased content; "
                    f"root {self.root.hex() if self.root else EMPTY_ROOT.hex()} (size {self.entries}); "
                    f"entries by key: {keys}; {self.seconds:.2f} s")
        more = len(self.findings) - 1
        return self.lines()[0] + (f" (and {more} more finding{'s' if more != 1 else ''})" if more > 0 else "")

    def lines(self) -> list[str]:
        """The verdict, then each further finding on a line of its own (`also: …`): one problem must not
        hide another (a missing witness file, a deleted entry)."""
        if self.ok:
            return [self.summary()]
        where = f"first bad entry: {self.first_bad_seq}: " if self.first_bad_seq is not None else ""
        return ([f"audit log FAILED verification: {where}{self.reason} ({self.entries} entries read)"]
                + [f"also: {finding}" for finding in self.findings[1:]])


@dataclass
class _Signed:
    source: str       # "table" or "witness line N"
    checkpoint: Checkpoint


def verify(engine: Engine, keyring: Keyring, witness_path: str | Path | None = None, *,
           workers: int | None = None, unkeyed_head_ok: bool = False) -> VerifyReport:
    """`unkeyed_head_ok`: accept a head without a MAC (a log from before heads were keyed), for
    the upgrade that verifies such a log and then keys its head; a MAC present must still verify."""
    started = time.perf_counter()
    failures: list[tuple[int, int | None, str]] = []  # (position in the log, bad seq or None, why)
    signed: list[_Signed] = []
    witness_count = 0
    # The witness first: its lines are written after their checkpoint commits, so every line read
    # now is covered by the database state read next.
    if witness_path is not None:
        try:
            witness_lines = WitnessFile(witness_path).lines()
        except OSError as error:  # a folder, or no permission: a finding, not the end of the check
            witness_lines = []
            failures.append((0, None, f"witness file {witness_path} cannot be read ({error.strerror or error}): "
                                      "[audit] witness_path must name the witness file itself"))
        for number, checkpoint in witness_lines:
            if checkpoint is None:
                failures.append((0, None, f"witness {witness_path} line {number} is not a readable checkpoint"))
            else:
                witness_count += 1
                signed.append(_Signed(f"witness line {number}", checkpoint))
    with engine.connect() as connection, _lenient_text(connection):
        connection = connection.execution_options(**READ_ONLY)
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            head = connection.execute(select(audit_head).where(audit_head.c.id == 1)).first()
            if head is not None and not (isinstance(head.seq, int) and isinstance(head.entry_hash, bytes)
                                         and isinstance(head.frontier, bytes)
                                         and isinstance(head.mac, (bytes, type(None)))):
                failures.append((0, None, "the audit_head row holds values of the wrong type: it was altered"))
                head = None
            count, top = connection.execute(select(func.count(), func.max(audit_entries.c.seq))).one()
            table_checkpoints, unreadable = _read_table_checkpoints(connection)
            failures += unreadable
            if witness_path is not None and table_checkpoints and not witness_count and not failures:
                failures.append((0, None, f"witness file {witness_path} is missing or empty, "
                                          f"but the table holds {len(table_checkpoints)} checkpoints"))
            signed += [_Signed("table", cp) for cp in table_checkpoints]
            bound = max(count, top or 0, head.seq if head else 0)
            chunks = _plan(count, bound, {s.checkpoint.tree_size for s in signed})
            if _workers(workers, count, engine) > 1:
                results = _scan_in_processes(engine, keyring, chunks, _workers(workers, count, engine))
            else:
                case_keys = CaseKeyTable(keyring)
                results = [scan_chunk(connection, keyring, chunk, case_keys) for chunk in chunks]
    report = _merge(results, _signed_only(keyring, signed, failures), head, failures,
                    lambda h: _head_mac_problem(keyring, h, unkeyed_head_ok))
    report.checkpoints = len(table_checkpoints)
    report.witness_checkpoints = witness_count
    report.seconds = time.perf_counter() - started
    return report


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data  # read as it is, so that the check of its row names it


@contextmanager
def _lenient_text(connection: Connection) -> Iterator[None]:
    """SQLite keeps whatever a column is given: text that is not UTF-8, written over a hash or a sealed
    part, would stop the reading of the whole log ("Could not decode to UTF-8"), naming no entry. Such
    a value is read as bytes, and the entry holding it fails its own check."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.driver_connection
    before = raw.text_factory
    raw.text_factory = _text_or_bytes
    try:
        yield
    finally:
        raw.text_factory = before


def _read_table_checkpoints(connection: Any) -> tuple[list[Checkpoint], list[tuple[int, int | None, str]]]:
    """The checkpoint rows; a row altered so far that it does not even parse is reported, not raised."""
    try:
        return read_checkpoints(connection), []
    except Exception as exc:  # a value no type can read: someone wrote into the table
        cursor = connection.connection.cursor()
        try:
            cursor.execute("SELECT tree_size FROM audit_checkpoints ORDER BY tree_size")
            sizes = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()
        return [], [(min(sizes, default=0), None, f"the checkpoint table holds unreadable rows ({type(exc).__name__})")]


def _plan(count: int, bound: int, sizes: set[int]) -> list[Chunk]:
    """Chunks of CHUNK entries over 1..count; the last one reaches to `bound` to catch stray rows."""
    chunks = []
    lo = 1
    while lo + CHUNK <= count:
        hi = lo + CHUNK - 1
        chunks.append(Chunk(lo, hi, frozenset(s for s in sizes if lo <= s <= hi)))
        lo += CHUNK
    chunks.append(Chunk(lo, max(bound, lo - 1), frozenset(s for s in sizes if s >= lo)))
    return chunks


def _merge(results: list[ChunkResult], signed: list[_Signed], head: Any,
           failures: list[tuple[int, int | None, str]], head_mac_problem: Callable[[Any], str | None]) -> VerifyReport:
    upper = Frontier()  # over the roots of the full chunks before the current one
    last_hash = GENESIS_HASH
    roots: dict[int, bytes] = {}
    entries = erased = 0
    by_key: dict[str, int] = {}
    final: list[bytes] = []
    broken: tuple[int, str] | None = None
    strays = [s for r in results for s in r.strays]
    for index, result in enumerate(results):
        if result.rows and result.first_prev != last_hash:
            broken = (result.lo, "prev_hash is not the previous entry's hash: chain broken")
            break
        for size, snapshot in result.snapshots.items():
            roots[size] = fold(upper.hashes + snapshot)
        entries += result.rows
        erased += result.erased
        for key, n in result.by_key.items():
            by_key[key] = by_key.get(key, 0) + n
        if result.failure is not None:
            broken = result.failure
            break
        last_hash = result.last_hash or last_hash
        if index < len(results) - 1:
            upper.append(fold(result.frontier))  # a full, aligned chunk is one subtree
        else:
            final = upper.hashes + result.frontier
    if broken is not None:
        seq, why = broken
        if strays:
            why += f" (rows with out-of-place seq {sorted(strays)[:5]} exist)"
        failures.append((seq, seq, why))
    else:
        _check_end(entries, last_hash, fold(final), head, strays, signed, failures, head_mac_problem)
    _check_roots(roots, signed, failures)
    if failures:
        # An entry named first (the verdict names the first bad entry), then by place in the log.
        ranked = sorted(failures, key=lambda f: (f[1] is None, f[0]))
        _, bad_seq, why = ranked[0]
        return VerifyReport(False, entries, 0, 0, erased, None, bad_seq, why, by_key,
                            findings=[_finding(seq, reason) for _, seq, reason in ranked])
    return VerifyReport(True, entries, 0, 0, erased, fold(final) if entries else EMPTY_ROOT, by_key=by_key)


def _finding(seq: int | None, why: str) -> str:
    return f"entry {seq}: {why}" if seq is not None else why


def _signed_only(keyring: Keyring, signed: list[_Signed], failures: list[tuple[int, int | None, str]]) -> list[_Signed]:
    """The checkpoints whose signature verifies; each other one is a finding of its own. An altered
    checkpoint proves nothing about the entries: compared with them, it would blame entries that
    are intact (a size changed to 5: "entries 1..5 were rewritten"; to 40: "truncated")."""
    good = []
    for s in signed:
        if keyring.verify_signature(s.checkpoint.key_id, s.checkpoint.signature, s.checkpoint.body()):
            good.append(s)
            continue
        what = "checkpoint row" if s.source == "table" else "checkpoint"
        failures.append((s.checkpoint.tree_size, None, f"checkpoint at size {s.checkpoint.tree_size} ({s.source}): "
                                                       f"signature does not verify: the {what} was altered or forged"))
    return good


def _check_end(n: int, last_hash: bytes, root: bytes, head: Any, strays: list[int], signed: list[_Signed],
               failures: list[tuple[int, int | None, str]], head_mac_problem: Callable[[Any], str | None]) -> None:
    """After a clean scan of n entries: nothing signed beyond n, and the head agrees and carries
    a MAC made with the key file."""
    beyond = [s for s in signed if s.checkpoint.tree_size > n]
    if beyond:
        top = max(beyond, key=lambda s: s.checkpoint.tree_size)
        failures.append((n + 1, n + 1, f"entries {n + 1}..{top.checkpoint.tree_size} are missing: the log was "
                                       f"truncated after a checkpoint at size {top.checkpoint.tree_size} ({top.source})"))
    if strays:
        failures.append((min(strays), min(strays), f"rows with seq {sorted(strays)[:5]} do not belong in the log"))
    if head is None:
        if n:
            failures.append((n, None, "the audit_head row is missing"))
        return
    if head.seq > n:
        failures.append((n + 1, n + 1, f"entries {n + 1}..{head.seq} are missing: the log was truncated "
                                       f"(the head says {head.seq})"))
    elif head.seq < n:
        failures.append((head.seq + 1, head.seq + 1, f"entries after {head.seq} were not appended through the log "
                                                     f"(the head says {head.seq})"))
    elif bytes(head.entry_hash) != last_hash:
        failures.append((n, n, "the head's hash is not the last entry's hash"))
    elif not _frontier_matches(n, head.frontier, root):
        failures.append((n, None, "the head's Merkle frontier does not match the entries"))
    else:
        why = head_mac_problem(head)
        if why is not None:
            covered = max((s.checkpoint.tree_size for s in signed if s.checkpoint.tree_size <= n), default=0)
            # Ranked after a truncation that a checkpoint proves, which names the first missing entry.
            failures.append((n + 1, None, f"{why} (entries {covered + 1}..{n} are after the last checkpoint)"
                             if covered < n else why))


def _head_mac_problem(keyring: Keyring, head: Any, unkeyed_ok: bool) -> str | None:
    if head.mac is None and unkeyed_ok:
        return None
    try:
        check_head_mac(keyring, head.seq, bytes(head.entry_hash), bytes(head.frontier), head.mac)
    except AuditHeadUnkeyed:
        return ("the head carries no MAC (a log from before heads were keyed, or one altered); "
                "`liaison-bot db upgrade` verifies such a log and keys its head")
    except AuditHeadCorrupt:
        return ("the head's MAC does not verify: entries after the last checkpoint were cut, added or rewritten "
                "without the key file, or this is not the database's key file")
    return None


def _frontier_matches(n: int, frontier: bytes, root: bytes) -> bool:
    try:
        return Frontier.from_bytes(n, frontier).root() == (root if n else EMPTY_ROOT)
    except ValueError:
        return False


def _check_roots(roots: dict[int, bytes], signed: list[_Signed], failures: list[tuple[int, int | None, str]]) -> None:
    """Each signed root against the root recomputed at its size; a mismatch means entries after the
    last matching checkpoint were rewritten (with their hashes recomputed)."""
    good = 0
    for s in sorted(signed, key=lambda s: s.checkpoint.tree_size):
        size = s.checkpoint.tree_size
        if size not in roots:
            continue
        if roots[size] == s.checkpoint.root_hash:
            good = max(good, size)
            continue
        failures.append((size, good + 1, f"Merkle root at checkpoint size {size} ({s.source}) does not match: "
                                         f"entries {good + 1}..{size} were rewritten"))


def _workers(requested: int | None, count: int, engine: Engine) -> int:
    if requested is not None:
        workers = requested
    else:
        workers = min(os.cpu_count() or 1, 8) if count >= 2 * CHUNK else 1
    database = engine.url.database or ""
    if engine.dialect.name == "sqlite" and (not database or database == ":memory:" or database.startswith("file:")):
        return 1  # another process cannot see this database
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, workers)


_worker_state: dict[str, Any] = {}


def _init_worker(url: str, keyring: Keyring) -> None:
    # Forked: the keyring arrives through memory, never through a pipe or the command line.
    _worker_state["engine"] = create_engine_for(url)
    _worker_state["keyring"] = keyring


def _scan_in_worker(chunk: Chunk) -> ChunkResult:
    engine, keyring = _worker_state["engine"], _worker_state["keyring"]
    with engine.connect() as connection, _lenient_text(connection):
        connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            if "case_keys" not in _worker_state:
                _worker_state["case_keys"] = CaseKeyTable(keyring)
            return scan_chunk(connection, keyring, chunk, _worker_state["case_keys"])


def _scan_in_processes(engine: Engine, keyring: Keyring, chunks: list[Chunk], workers: int) -> list[ChunkResult]:
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(url, keyring)) as pool:
        return pool.map(_scan_in_worker, chunks, chunksize=1)
