"""The audit log: sealed, hash-chained entries, Merkle checkpoints, verify, export, erasure.

    log = SqlAuditLog(connection, keyring, clock)   # handlers.ports.AuditLog, in the caller's transaction
    Checkpointer(keyring, witness_path, every_entries=1000, every=timedelta(minutes=10)).run(engine, now)
    report = verify(engine, keyring, witness_path)  # report.ok, report.first_bad_seq, report.reason
"""

from storage.audit.checkpoints import Checkpoint, Checkpointer, TamperDetected, WitnessFile
from storage.audit.erasure import erase, erase_case, erase_expired
from storage.audit.log import SqlAuditLog
from storage.audit.trail import export, read_entries, show
from storage.audit.verify import VerifyReport, verify

__all__ = [
    "Checkpoint", "Checkpointer", "SqlAuditLog", "TamperDetected", "VerifyReport", "WitnessFile",
    "erase", "erase_case", "erase_expired", "export", "read_entries", "show", "verify",
]
