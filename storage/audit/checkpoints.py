"""Signed checkpoints (tree size, Merkle root, time), in the database and in a witness outside it.

The signed body follows the shape of a transparency-log checkpoint (origin, size, base64 root),
with the time as an extra line:

    liaison-bot/audit
    1024
    3q2+7w...=
    2026-11-23T09:00:00.000000+00:00

A checkpoint row is written in the caller's transaction; the witness line (append-only JSON
lines, fsynced) and the hook (e.g. a message to the coordinators' room) come after the commit,
in publish(), so a rolled-back checkpoint never reaches the witness. Once a witness holds size S,
deleting entries below S is truncation that verify reports.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from storage.audit.encoding import from_micros, to_micros
from storage.audit.log import lock_head
from storage.audit.tables import audit_checkpoints, audit_entries
from storage.keyring import Keyring

ORIGIN = "liaison-bot/audit"
log = logging.getLogger(__name__)


class TamperDetected(Exception):
    """The log is shorter than, or differs from, what an earlier checkpoint signed."""


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    created_at: datetime
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return signed_body(self.tree_size, self.root_hash, self.created_at)

    def to_json(self) -> str:
        return json.dumps({
            "origin": ORIGIN,
            "tree_size": self.tree_size,
            "root": base64.b64encode(self.root_hash).decode(),
            "time": self.created_at.isoformat(),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        data = json.loads(line)
        if data.get("origin") != ORIGIN:
            raise ValueError("not a liaison-bot audit checkpoint")
        checkpoint = cls(int(data["tree_size"]), base64.b64decode(data["root"], validate=True),
                         datetime.fromisoformat(data["time"]), str(data["key_id"]),
                         base64.b64decode(data["signature"], validate=True))
        # Only the form we write is accepted, so no byte of a witness line can change unnoticed
        # (lenient parsers accept other separators in times and stray bits at the end of base64).
        if checkpoint.to_json() != line.rstrip("\n"):
            raise ValueError("not in canonical form")
        return checkpoint


def signed_body(tree_size: int, root_hash: bytes, created_at: datetime) -> bytes:
    moment = created_at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    return f"{ORIGIN}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n{moment}\n".encode()


class WitnessFile:
    """Append-only JSON lines of checkpoints, each line fsynced before the append returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            # A torn last line (a crash mid-write) must not swallow this one.
            prefix = b"\n" if size and _last_byte(self.path) != b"\n" else b""
            os.write(fd, prefix + checkpoint.to_json().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def lines(self) -> list[tuple[int, Checkpoint | None]]:
        """(line number, checkpoint or None when unreadable) for each non-empty line; [] when absent."""
        if not self.path.exists():
            return []
        result: list[tuple[int, Checkpoint | None]] = []
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    result.append((number, Checkpoint.from_json(line)))
                except (ValueError, KeyError, TypeError):
                    result.append((number, None))
        return result

    def last(self) -> Checkpoint | None:
        readable = [cp for _, cp in self.lines() if cp is not None]
        return max(readable, key=lambda cp: cp.tree_size, default=None)


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def read_checkpoints(connection: Connection, *, last_only: bool = False) -> list[Checkpoint]:
    query = select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size)
    if last_only:
        query = query.order_by(None).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
    rows = connection.execute(query)
    return [Checkpoint(r.tree_size, bytes(r.root_hash), from_micros(r.created_at_us), r.key_id, bytes(r.signature))
            for r in rows]


class Checkpointer:
    """Writes a checkpoint every `every_entries` entries, or when the oldest entry no checkpoint
    covers yet is `every` old, and publishes it to the witness file and the hook."""

    def __init__(self, keyring: Keyring, witness_path: str | Path | None = None, *, every_entries: int = 1000,
                 every: timedelta = timedelta(minutes=10), hook: Callable[[Checkpoint], None] | None = None) -> None:
        if every_entries < 1:
            raise ValueError("every_entries must be at least 1")
        self._keyring = keyring
        self.witness = WitnessFile(witness_path) if witness_path is not None else None
        self.every_entries = every_entries
        self.every = every
        self._hook = hook

    def checkpoint_if_due(self, connection: Connection, now: datetime) -> Checkpoint | None:
        """A new checkpoint row when one is due, in the caller's transaction; publish() it after commit."""
        last = connection.execute(
            select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
        ).scalar()
        last_size = last or 0
        size = connection.execute(select(audit_entries.c.seq).order_by(audit_entries.c.seq.desc()).limit(1)).scalar()
        if not size or size <= last_size:
            return None
        if size - last_size < self.every_entries:
            oldest = connection.execute(
                select(audit_entries.c.recorded_at_us).where(audit_entries.c.seq == last_size + 1)
            ).scalar()
            if oldest is not None and now - from_micros(oldest) < self.every:
                return None
        return self.write_checkpoint(connection, now)

    def write_checkpoint(self, connection: Connection, now: datetime) -> Checkpoint | None:
        """Sign the log as it stands (None when empty); refuses when it is shorter than a signed size."""
        # No append can slip between reading the size and the root; a head forged without the key
        # is refused here, never signed.
        head = lock_head(connection, self._keyring)
        if head.seq == 0:
            return None
        root = head.frontier.root()
        self._refuse_rollback(connection, head.seq, root)
        existing = connection.execute(
            select(audit_checkpoints.c.tree_size).where(audit_checkpoints.c.tree_size == head.seq)
        ).scalar()
        if existing is not None:
            return None
        created_at = from_micros(to_micros(now))  # what the table can hold is what is signed
        checkpoint = Checkpoint(head.seq, root, created_at, self._keyring.signing_key_id,
                                self._keyring.sign(signed_body(head.seq, root, created_at)))
        connection.execute(insert(audit_checkpoints).values(
            tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash, created_at_us=to_micros(checkpoint.created_at),
            key_id=checkpoint.key_id, signature=checkpoint.signature,
        ))
        return checkpoint

    def _refuse_rollback(self, connection: Connection, size: int, root: bytes) -> None:
        signed = read_checkpoints(connection, last_only=True)
        if self.witness is not None:
            witnessed = self.witness.last()
            signed += [witnessed] if witnessed else []
        for earlier in signed:
            if earlier.tree_size > size:
                raise TamperDetected(f"the audit log has {size} entries but a checkpoint signed {earlier.tree_size}: "
                                     "it was truncated; run `liaison-bot audit verify`")
            if earlier.tree_size == size and earlier.root_hash != root:
                raise TamperDetected(f"the audit log at size {size} differs from its signed checkpoint; "
                                     "run `liaison-bot audit verify`")

    def publish(self, checkpoint: Checkpoint) -> None:
        """After commit: the witness line (errors propagate), then the hook (errors are logged)."""
        if self.witness is not None:
            self.witness.append(checkpoint)
        if self._hook is not None:
            try:
                self._hook(checkpoint)
            except Exception:
                log.exception("checkpoint hook failed for tree size %d", checkpoint.tree_size)

    def run(self, engine: Engine, now: datetime, *, force: bool = False) -> Checkpoint | None:
        """Check (or force) and publish in a transaction of its own, e.g. from a scheduled job."""
        with engine.begin() as connection:
            checkpoint = self.write_checkpoint(connection, now) if force else self.checkpoint_if_due(connection, now)
        if checkpoint is not None:
            self.publish(checkpoint)
        return checkpoint
