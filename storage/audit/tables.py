"""The audit log's tables, on the shared MetaData.

What stays in clear, and why (everything else is sealed):
- seq, prev_hash, entry_hash: the chain and the Merkle leaves, checked without any key.
- recorded_at_us: search by time. Microseconds since the Unix epoch, UTC, as an integer, so the
  hashed value is the same bytes on every database and verify needs no date parsing.
- action: counts and search by kind of exchange; says what happened, not to whom or about what.
- reference, case_ref: search by item, and which case key sealed the detail (erasure needs it).
- key_id, schema_version: which master key and payload layout to open it with.

sealed_meta holds who, to whom, by which channel, caveat, purpose and the event time, under a
master key; sealed_detail holds the content under the case's data key when the entry has a case
(else under the master key), or NULL when there is none. So erasing a case leaves the disclosure
record (who received it, when, how, why) readable and verifiable, and its content gone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Integer, LargeBinary, SmallInteger, String, Table

from storage.schema import metadata

# SQLite makes an INTEGER PRIMARY KEY the rowid (fastest ordered scan); PostgreSQL gets 64 bits.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

TABLE_NAME = "audit_entries"

audit_entries = Table(
    TABLE_NAME,
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=False),
    Column("recorded_at_us", BigInteger, nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("reference", String(32), index=True),
    Column("key_id", String(64), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("case_ref", String(32)),
    Column("sealed_meta", LargeBinary, nullable=False),
    Column("sealed_detail", LargeBinary),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
)

# One row (id 1): the last seq and hash, and the Merkle frontier at that size. Appenders lock it
# (FOR UPDATE on PostgreSQL; the BEGIN IMMEDIATE write lock on SQLite), which serialises them.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    Column("frontier", LargeBinary, nullable=False),  # concatenated 32-byte subtree roots
    # HMAC of the three above under a key derived from the key file (encoding.head_mac); NULL only
    # before the first append, or in a log written before heads were keyed (db upgrade keys it).
    Column("mac", LargeBinary),
    CheckConstraint("id = 1", name="single_row"),
)

# One row (id 1): which key file this database belongs to, recorded when a key file is first used
# with it, so that a start with another key file, or none, can name the one it needs.
key_binding = Table(
    "key_binding",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("signing_key_id", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # Keyring.fingerprint: of the public signing key
    Column("bound_at_us", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),  # as recorded_at_us: exact, so every bit counts
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)
