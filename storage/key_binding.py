"""Which key file a database belongs to: the key_binding row, recorded when a key file is first
used with the database, and the checks a start makes against it.

A key file is named by its signing key (id and fingerprint): master keys rotate, the signing key
stays. A database written before the row existed is bound on its first start with a key file that
holds every master key its content names and signed its checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text

from storage.audit.encoding import to_micros
from storage.audit.tables import key_binding
from storage.db import READ_ONLY, insert_for
from storage import keyring as keyring_file
from storage.keyring import Keyring, KeyringError

KEYS_SECTION = "docs/operations.md, section 6 (Keys)"
# Tables whose rows are sealed under the key file (or, for checkpoints, signed with it).
_SEALED_TABLES = ("audit_entries", "case_keys", "audit_checkpoints", "inbox", "outbox", "items")


class KeyFileMismatch(KeyringError):
    """The key file is not the one the database's content was sealed and signed with."""


class KeyFileMissing(KeyringError):
    """No key file, but the database already holds content under one: a new key would orphan it."""


@dataclass(frozen=True)
class Binding:
    signing_key_id: str
    fingerprint: str

    def __str__(self) -> str:
        return f"signing key {self.signing_key_id} (fingerprint {self.fingerprint})"


def read_binding(connection: Connection) -> Binding | None:
    row = connection.execute(select(key_binding.c.signing_key_id, key_binding.c.fingerprint)
                             .where(key_binding.c.id == 1)).first()
    return Binding(row[0], row[1]) if row is not None else None


def holds_sealed_content(connection: Connection) -> bool:
    """Whether any table holds a row sealed or signed under some key file."""
    existing = set(inspect(connection).get_table_names())
    return any(connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None  # noqa: S608
               for table in _SEALED_TABLES if table in existing)


def expected_key(connection: Connection) -> str:
    """What names the key file the database needs, for a message: the binding, or (a database from
    before bindings) the key ids its content names."""
    binding = read_binding(connection)
    if binding is not None:
        return str(binding)
    masters, signing = _key_ids_in_use(connection)
    named = [f"master key(s) {', '.join(sorted(masters))}"] if masters else []
    named += [f"signing key {', '.join(sorted(signing))}"] if signing else []
    return " and ".join(named) or "a key file whose fingerprint was not recorded"


def _key_ids_in_use(connection: Connection) -> tuple[set[str], set[str]]:
    existing = set(inspect(connection).get_table_names())
    masters: set[str] = set()
    signing: set[str] = set()
    if "audit_entries" in existing:
        masters |= set(connection.execute(text("SELECT DISTINCT key_id FROM audit_entries")).scalars())
    if "case_keys" in existing:
        masters |= set(connection.execute(text("SELECT DISTINCT master_key_id FROM case_keys")).scalars())
    if "audit_checkpoints" in existing:
        signing |= set(connection.execute(text("SELECT DISTINCT key_id FROM audit_checkpoints")).scalars())
    return masters, signing


def belongs_to(engine: Engine) -> str | None:
    """The key file the database already belongs to (bound, or content sealed under it), for a
    message; None for a database that may take any key file."""
    with engine.connect() as connection:
        connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            if read_binding(connection) is None and not holds_sealed_content(connection):
                return None
            return expected_key(connection)


def refuse_new_key_file(engine: Engine, path: Path) -> None:
    """Raises KeyFileMissing when the database holds content: only an empty one gets a new key file."""
    expected = belongs_to(engine)
    if expected is not None:
        raise KeyFileMissing(missing_key_file(path, expected))


def missing_key_file(path: Path, expected: str) -> str:
    """The one line for a key file that is not there while the database holds content under it:
    every command says the same (a start, `keys generate`, the audit and key commands)."""
    return (f"key file {path} does not exist, but the database holds content sealed under {expected}: put that key "
            f"file back from its backup (kept apart from the database; see {KEYS_SECTION}); a new key file would "
            "leave everything recorded unreadable and the audit log unverifiable")


def load_for(engine: Engine, path: Path) -> Keyring:
    """The key file for a command on this database's content. A missing one is named as the start
    names it (the key the database needs, put back from its backup): never "generate one", which
    would leave what is recorded unreadable."""
    if not path.exists():
        refuse_new_key_file(engine, path)
        raise KeyFileMissing(f"key file {path} does not exist, and the database holds nothing sealed yet: "
                             "`liaison-bot keys generate` (or the first start) creates one")
    return keyring_file.load(path)


def check(engine: Engine, keyring: Keyring) -> None:
    """Raises KeyFileMismatch when the database is bound to another key file (reads only)."""
    with engine.connect() as connection:
        connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            binding = read_binding(connection)
    if binding is not None:
        _compare(binding, keyring)


def bind(engine: Engine, keyring: Keyring, now: datetime | None = None) -> Binding:
    """Check the key file against the database's binding, recording it on first use."""
    with engine.begin() as connection:
        binding = read_binding(connection)
        if binding is None:
            masters, signing = _key_ids_in_use(connection)
            foreign = sorted(masters - set(keyring.master_keys)) + sorted(signing - {keyring.signing_key_id})
            if foreign:
                raise KeyFileMismatch(
                    f"key file {keyring.path} is not this database's: it lacks {', '.join(foreign)}, which the "
                    f"database's content names; put the right key file back from its backup ({KEYS_SECTION})")
            moment = now or datetime.now(timezone.utc)
            connection.execute(insert_for(connection, key_binding).values(
                id=1, signing_key_id=keyring.signing_key_id, fingerprint=keyring.fingerprint,
                bound_at_us=to_micros(moment)).on_conflict_do_nothing(index_elements=["id"]))
            binding = read_binding(connection)
            assert binding is not None
    _compare(binding, keyring)
    return binding


def _compare(binding: Binding, keyring: Keyring) -> None:
    if binding.fingerprint != keyring.fingerprint:
        raise KeyFileMismatch(
            f"key file {keyring.path} is not this database's: the database belongs to {binding}, the file holds "
            f"signing key {keyring.signing_key_id} (fingerprint {keyring.fingerprint}); put the right key file back "
            f"from its backup ({KEYS_SECTION})")
