"""The key file at start: loaded when it exists; on a first start against an empty database,
generated with a notice. Then checked against the database it is used with (storage.key_binding)
and against the audit log's keyed head, so a wrong or missing key file stops the start with one
line rather than sealing and signing under a new key.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, text

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from storage import key_binding
from storage import keyring as keyring_file
from storage.audit.log import AuditHeadCorrupt, SqlAuditLog, lock_head, mac_for
from storage.audit.verify import verify
from storage.keyring import Keyring


def ensure_keyring(path: Path, notice: TextIO, engine: Engine | None = None) -> Keyring:
    """The key file; with `engine`, bound to that database and its audit head checked.

    Raises KeyringError (KeyFileMissing, KeyFileMismatch) or AuditHeadCorrupt, each with a message
    of one line fit for the operator."""
    if path.exists():
        keyring = keyring_file.load(path)
    else:
        if engine is not None:
            key_binding.refuse_new_key_file(engine, path)
        keyring = keyring_file.generate(path)
        notice.write(
            f"Created a new key file at {path} (mode 0600, fingerprint {keyring.fingerprint}). It encrypts and signs "
            "the audit log: back it up apart from the database, or what is recorded cannot be read or verified.\n"
        )
    if engine is not None:
        key_binding.bind(engine, keyring)
        check_audit_head(engine, keyring)
    return keyring


def check_audit_head(engine: Engine, keyring: Keyring) -> None:
    """Raises AuditHeadCorrupt (AuditHeadUnkeyed) when the head's MAC is missing or does not verify:
    the bot would refuse every append, so it refuses to start instead."""
    with engine.begin() as connection:
        lock_head(connection, keyring)


def key_unkeyed_head(engine: Engine, keys_path: Path, witness_path: Path | None, *, actor: str,
                     clock: Clock | None = None) -> int | None:
    """For a log written before heads were keyed: verify it as it stands (chain, checkpoints,
    witness), then MAC its head with the key file and record that. Returns the size keyed, or None
    when there was nothing to do. Raises AuditHeadCorrupt when the log does not verify."""
    with engine.connect() as connection:
        row = connection.execute(text("SELECT seq, mac FROM audit_head WHERE id = 1")).first()
    if row is None or row[0] == 0 or row[1] is not None:
        return None
    keyring = key_binding.load_for(engine, keys_path)
    key_binding.bind(engine, keyring)
    report = verify(engine, keyring, witness_path, unkeyed_head_ok=True)
    if not report.ok:
        raise AuditHeadCorrupt(f"the audit log's head was not keyed, because the log does not verify: "
                               f"{report.summary()}")
    with engine.begin() as connection:
        head = lock_head(connection)  # appends refuse an unkeyed head, so it is as verified unless altered
        if head.seq != report.entries or head.mac is not None:
            raise AuditHeadCorrupt("the audit log changed while it was being verified; run `liaison-bot db upgrade` "
                                   "again")
        connection.execute(text("UPDATE audit_head SET mac = :mac WHERE id = 1"),
                           {"mac": mac_for(keyring, head.seq, head.entry_hash, head.frontier.to_bytes())})
        now = clock.now() if clock else datetime.now(timezone.utc)
        SqlAuditLog(connection, keyring, clock).record(AuditEvent(
            action=AuditAction.KEY, at=now, actor=actor, channel="cli",
            detail={"operation": "key audit head", "size": str(head.seq), "root": report.root.hex() if report.root
                    else ""}))
    return head.seq
