"""The core tables: items and their deliveries, inbox, outbox, reference counters, cursors.

Every text a person wrote is kept only as a sealed blob (`content`); the clear columns hold what
routing, delivery and reminders must query. Migration 0001_core creates exactly the core tables
and 0003_followup adds the closure columns and the follow-up tables, 0007_erasure the erasure columns,
0012_withdraw the withdrawal columns; tests/storage/
test_migrations.py and test_followup_schema.py check that migrations and code agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Interval,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from storage.schema import UtcDateTime, metadata


def _states(column: str, *values: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


DELIVERY_STATES = ("queued", "sent", "failed", "acknowledged", "answered")
INBOX_STATES = ("pending", "done", "failed")
OUTBOX_STATES = ("pending", "sending", "sent", "failed")
FORWARD_STATES = ("pending", "granted", "refused")

reference_counters = Table(
    "reference_counters",
    metadata,
    Column("kind", String(1), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("reference", String(32), primary_key=True),
    Column("kind", String(1), nullable=False),
    Column("year", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("originator", String(200), nullable=False, index=True),
    Column("origin_chat", String(300), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ack_due", UtcDateTime),
    Column("feedback_due", UtcDateTime),
    Column("state", String(16), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("handling", String(4), nullable=False),
    Column("orcon", Boolean, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("topic", String(100)),
    Column("grading", String(2)),
    Column("recipients", Text, nullable=False),  # selector strings, comma-joined, as written
    # The due time as the command wrote it: a duration from creation, or a moment.
    Column("due_after", Interval),
    Column("due_at", UtcDateTime),
    Column("content", LargeBinary, nullable=False),  # sealed JSON {body, purpose, outside_ref}
    # Closure (0003_followup): who closed it and when, in clear for reports; the outcome is sealed.
    Column("closed_at", UtcDateTime),
    Column("closed_by", String(200)),
    Column("outcome", LargeBinary),  # sealed JSON {outcome}
    # Erasure (0007_erasure): when the case was erased, in clear, and why, sealed under the master
    # key (the case key is gone); an erased item is closed too.
    Column("erased_at", UtcDateTime),
    Column("erasure", LargeBinary),  # sealed JSON {reason}, under the master key
    # Withdrawal (0012_withdraw): when and by whom, in clear; why, sealed under the case key.
    Column("withdrawn_at", UtcDateTime),
    Column("withdrawn_by", String(200)),
    Column("withdrawal", LargeBinary),  # sealed JSON {reason}, under the case key
    Column("revision", Integer),  # /correct (0012_withdraw): NULL is the first
    Column("revised_at", UtcDateTime),  # when the current revision was made; reminders count from it
    _states("state", "open", "closed"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("item_reference", String(32), ForeignKey("items.reference"), nullable=False, index=True),
    Column("contact", String(200), nullable=False, index=True),
    Column("destination", String(300), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("outbox_key", String(100), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("sent_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("answered_at", UtcDateTime),
    Column("platform_message_id", String(300)),
    _states("state", *DELIVERY_STATES),
)

# The deliveries of an item's earlier revisions (0012_withdraw): /correct moves them here, so that
# reminders, /status and /ack count only the current revision's.
superseded_deliveries = Table(
    "superseded_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("item_reference", String(32), ForeignKey("items.reference"), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("contact", String(200), nullable=False),
    Column("destination", String(300), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("outbox_key", String(100), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("sent_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("answered_at", UtcDateTime),
    Column("platform_message_id", String(300)),
    Column("superseded_at", UtcDateTime, nullable=False),
)

# A recipient's request to pass an item on (0003_followup). Only forwards that need the
# originator's consent are stored here; the ones that go at once are deliveries and audit entries.
forward_requests = Table(
    "forward_requests",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("item_reference", String(32), ForeignKey("items.reference"), nullable=False, index=True),
    Column("asker", String(200), nullable=False),
    Column("recipients", Text, nullable=False),  # selector strings, comma-joined, as written
    Column("contacts", Text, nullable=False),  # contact ids the originator was asked about
    Column("requested_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", UtcDateTime),
    Column("purpose", LargeBinary, nullable=False),  # sealed JSON {purpose}
    Column("reason", LargeBinary),  # sealed JSON {reason}, once decided
    _states("state", *FORWARD_STATES),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("event_id", String(300), nullable=False),
    Column("sender", String(300), nullable=False),
    Column("chat", String(300), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("content", LargeBinary, nullable=False),  # sealed JSON {text, reply_to}
    Column("state", String(16), nullable=False),
    Column("processed_at", UtcDateTime),
    Column("error_ref", String(100)),
    UniqueConstraint("platform", "event_id", name="uq_inbox_platform_event_id"),
    Index("ix_inbox_state_id", "state", "id"),
    _states("state", *INBOX_STATES),
)

outbox = Table(
    "outbox",
    metadata,
    # The id gives the order of sending to each destination.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False, unique=True),  # idempotency key, Matrix txn id
    Column("kind", String(16), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("destination", String(300), nullable=False),
    Column("contact", String(200)),
    Column("reference", String(32)),
    Column("protect_content", Boolean, nullable=False),
    Column("reply_to_chat", String(300)),
    Column("reply_to_message", String(300)),
    Column("content", LargeBinary, nullable=False),  # the sealed text
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("not_before", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("last_error", String(100)),  # an error code, never content
    Column("platform_message_id", String(300)),
    # Every message the row became, where it became more than one (a Telegram copy's photos and text
    # parts), space-separated, recorded as each is sent (0019_parts); platform_message_id is among them.
    Column("platform_parts", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    # Who was sent what: a search finds the copies a delegate held for someone away (0018_heldby).
    Index("ix_outbox_contact", "contact"),
    Index("ix_outbox_state_destination_id", "state", "destination", "id"),
    Index("ix_outbox_destination_id", "destination", "id"),
    # A reaction on one of the bot's messages is looked up by its platform id (0017_heldfix).
    Index("ix_outbox_platform_message_id", "platform_message_id"),
    _states("state", *OUTBOX_STATES),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

CORE_TABLES = (reference_counters, items, deliveries, inbox, outbox, cursors)
FOLLOWUP_TABLES = (forward_requests,)

# The reminder tables (0005_reminders) live in their own module; importing it here puts them on the
# shared MetaData wherever the core tables are loaded (the migrations' env.py, the schema tests), so
# that "the tables in code" are every table the migrations build. At the end: it needs UtcDateTime.
from storage import reminder_tables as _reminder_tables  # noqa: E402,F401

# Photos and files items carry (0015_attach): each sealed under its item's case key, so erasing the
# case makes them unreadable; the erasure also deletes the rows. Only the size is in clear.
attachments = Table(
    "attachments",
    metadata,
    Column("item_reference", String(32), ForeignKey("items.reference"), primary_key=True),
    Column("id", String(200), primary_key=True),  # "<inbox event id>/<position>", unique within the item
    Column("size", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("meta", LargeBinary, nullable=False),  # sealed JSON {name, mime}
    Column("data", LargeBinary, nullable=False),  # the sealed bytes
    # Filed with the message that created the item (not with a reply): what a forward carries too.
    Column("origin", Boolean, nullable=False),
)

# Files made for one outbox message alone (0016_outfiles: the digest's and the bulletin's charts), kept
# beside its row until it is sent or given up on (storage.outbox), or retention removes them. Sealed
# as the row's text is (under the case key of its reference, else the master key); the size in clear.
outbox_files = Table(
    "outbox_files",
    metadata,
    Column("outbox_key", String(100), primary_key=True),  # the outbox row's key
    Column("position", Integer, primary_key=True),  # the order they are sent in, from 0
    Column("size", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("meta", LargeBinary, nullable=False),  # sealed JSON {name, mime}
    Column("data", LargeBinary, nullable=False),  # the sealed bytes
    Index("ix_outbox_files_created_at", "created_at"),
)

# Which outbox row each message recorded in platform_parts belongs to (0020_partids), written with it
# by SqlOutbox.record_parts: a reply to any message of a copy (its photo, its text's second part)
# finds the row by key, where platform_parts itself could only be scanned. Ids only, never content.
outbox_parts = Table(
    "outbox_parts",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("message_id", String(300), primary_key=True),
    Column("outbox_key", String(100), nullable=False),
    # When it was first recorded, as it was sent (0021_partsat); None for one recorded before that.
    Column("sent_at", UtcDateTime),
    Index("ix_outbox_parts_outbox_key", "outbox_key"),
)
from storage import conversations as _conversations  # noqa: E402,F401
from storage import portal_tables as _portal_tables  # noqa: E402,F401
from storage import releases as _releases  # noqa: E402,F401  (0013_release; as the reminder tables)
from storage import absences as _absences  # noqa: E402,F401
