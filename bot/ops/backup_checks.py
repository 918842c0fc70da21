"""What `liaison-bot restore` does once the database is back: make it current, reconcile the witness,
check that the key file can open it, verify the audit log, and say what the bot will send at start.

The witness file lives outside the database on purpose, so a restored database is usually behind
it: the witness signed checkpoints over entries made after the backup, which the restore has
rolled back. That is exactly what the witness exists to reveal, so it is not silenced: the file is
moved aside (kept for auditors, named with the time of the restore), the restore itself is recorded
in the audit log with the size the witness had reached, and a new witness starts with the old one's
checkpoints that the restored log still holds. A witness that is missing while the backup holds
checkpoints (a restore on a new machine) is reported, unless --new-witness starts one from them.
Anything else that does not verify (a backup from another deployment, the wrong key file) is
reported and the restore exits non-zero.

Outbox rows marked sent in the backup are never sent again. Rows that were unsent when the backup
was taken are sent at start under their own keys, which Matrix de-duplicates for the same device;
on Telegram a message that went out after the backup was taken can arrive a second time. The
numbers are printed so the operator knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from storage import keyring as keyfile
from storage.audit import SqlAuditLog, VerifyReport, WitnessFile, verify
from storage.audit.checkpoints import read_checkpoints
from storage.audit.tables import audit_checkpoints, audit_entries, audit_head
from storage.keyring import Keyring, KeyringError
from storage.case_keys import case_keys
from storage.migrate import upgrade
from storage.tables import outbox


@dataclass
class AfterRestore:
    audit_entries: int = 0
    witness_moved_to: Path | None = None
    witness_size: int | None = None        # the size the moved-aside witness had signed
    witness_new: bool = False              # a new witness started from the restored checkpoints
    witness_problem: str | None = None     # no witness for a log that has checkpoints
    key_problem: str | None = None          # the key file is missing, unreadable, or lacks keys in use
    missing_keys: list[str] = field(default_factory=list)
    report: VerifyReport | None = None
    outbox: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.key_problem is None and self.witness_problem is None and self.report is not None \
            and self.report.ok


def keys_in_use(engine: Engine) -> set[str]:
    """Every key id the database needs: master keys of entries and case keys, the checkpoints' signing key."""
    with engine.connect() as conn:
        ids = set(conn.execute(select(audit_entries.c.key_id).distinct()).scalars())
        ids |= set(conn.execute(select(audit_checkpoints.c.key_id).distinct()).scalars())
        ids |= set(conn.execute(select(case_keys.c.master_key_id).where(case_keys.c.wrapped_key.is_not(None))
                                .distinct()).scalars())
    return ids


def _load_keyring(path: Path, result: AfterRestore) -> Keyring | None:
    if not path.exists():
        result.key_problem = (f"the key file {path} is missing: restore it from its own backup (it is never in a "
                              "database backup), then run `liaison-bot audit verify`")
        return None
    try:
        return keyfile.load(path)
    except KeyringError as exc:
        result.key_problem = f"the key file cannot be used: {exc}"
        return None


def _reconcile_witness(witness_path: Path | None, engine: Engine, size: int, at: datetime, new_witness: bool,
                       result: AfterRestore) -> None:
    if witness_path is None:
        return
    witness = WitnessFile(witness_path)
    last = witness.last()
    if last is not None and last.tree_size > size:
        aside = witness_path.with_name(f"{witness_path.name}.before-restore-{at:%Y%m%dT%H%M%SZ}")
        witness_path.rename(aside)
        result.witness_moved_to, result.witness_size = aside, last.tree_size
        # What the old witness signed up to the restored size still stands: it starts the new one.
        for _, checkpoint in WitnessFile(aside).lines():
            if checkpoint is not None and checkpoint.tree_size <= size:
                witness.append(checkpoint)
        return
    if last is None:
        with engine.connect() as conn:
            signed = read_checkpoints(conn)
        if signed and new_witness:
            for checkpoint in signed:
                witness.append(checkpoint)
            result.witness_new = True
        elif signed:
            result.witness_problem = (
                f"the witness file {witness_path} is missing or empty but the backup holds {len(signed)} signed "
                "checkpoint(s): copy the witness file from where the bot ran before (it is kept apart from the "
                "database, like the key file), or pass --new-witness to start one from the restored checkpoints")


def after_restore(engine: Engine, key_path: Path, witness_path: Path | None, clock: Clock, actor: str,
                  source: Path, *, new_witness: bool = False) -> AfterRestore:
    result = AfterRestore()
    upgrade(engine)  # a backup from an older version is brought up to this one, as a start would
    now = clock.now()
    with engine.begin() as conn:
        # Rows in flight when the backup was taken belong to a worker that no longer exists (every
        # instance is stopped for a restore): due now, not when their lease would have run out.
        conn.execute(update(outbox).where(outbox.c.state == "sending").values(lease_until=now))
        result.audit_entries = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0
        result.outbox = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
    _reconcile_witness(witness_path, engine, result.audit_entries, now, new_witness, result)
    keyring = _load_keyring(key_path, result)
    if keyring is None:
        return result
    known = set(keyring.master_keys) | {keyring.signing_key_id}
    result.missing_keys = sorted(keys_in_use(engine) - known)
    if result.missing_keys:
        result.key_problem = (f"the key file {key_path} lacks key(s) {', '.join(result.missing_keys)} that the "
                              "restored database uses: restore the key file that goes with this backup")
    result.report = verify(engine, keyring, witness_path)
    if result.ok:
        detail = {"operation": "restore", "source": source.name, "entries": str(result.audit_entries)}
        if result.witness_size is not None:
            detail["witness_size_before"] = str(result.witness_size)
            detail["witness_kept_as"] = result.witness_moved_to.name if result.witness_moved_to else ""
        if result.witness_new:
            detail["witness"] = "new, from the restored checkpoints"
        with engine.begin() as conn:
            SqlAuditLog(conn, keyring, clock).record(
                AuditEvent(action=AuditAction.ADMIN, at=now, actor=actor, channel="cli", detail=detail))
    return result


def record_backup(engine: Engine, key_path: Path, clock: Clock, actor: str, target: Path, kind: str) -> bool:
    """An ADMIN entry in the live log: a copy of everything (sealed) was made, where, covering what."""
    if not key_path.exists():
        return False
    keyring = keyfile.load(key_path)
    with engine.begin() as conn:
        size = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0
        SqlAuditLog(conn, keyring, clock).record(AuditEvent(
            action=AuditAction.ADMIN, at=clock.now(), actor=actor, channel="cli",
            detail={"operation": "backup", "target": str(target), "format": kind, "entries_before": str(size)}))
    return True
