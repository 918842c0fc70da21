"""A batch run in one go with its writes held back (storage.write_behind) leaves the database exactly
as the same batch run message by message, each in a savepoint, the way bot.inbox falls back to.

Random conversations on the production wiring: alerts, acknowledgements and replies to items made
earlier in the same batch, status and close, malformed and unknown commands, and handlers that
fail after writing everything. Two runtimes with the same clock get the same messages; one
processes them as the inbox does, the other one by one. Everything a person or an auditor could
see must match: inbox states, items, deliveries, the outbox in its order, the audit trail.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.messages import InboundMessage
from bot.app import Runtime, build_runtime
from bot.config import load_settings
from bot.inbox import InboxProcessor
from storage import keyring as keyring_file
from storage.audit.tables import audit_entries
from storage.audit.verify import verify
from storage.content import open_json, outbox_aad
from storage.sealing import CaseKeySealer
from storage.tables import deliveries, inbox, items, outbox, reference_counters
from tests.bot.test_inbox_batches import FailsAfterWriting
from tests.conftest import fresh_postgres_database
from tests.ops.failover_pair import write_config

ORIGINATORS = ("my-officer", "au-officer")
RECIPIENTS = ("id-npoc", "ph-npoc")
REFS = st.integers(1, 4).map(lambda n: f"A-2026-{n:04d}")
WORDS = st.sampled_from(["passports", "flight XX12", "two travellers", "seen at KUL", "ünïcödé", "boat"])

ALERTS = st.tuples(st.sampled_from(ORIGINATORS),
                   st.builds("/alert to:ID,PH tlp:amber topic:document-fraud\n{}".format, WORDS))
COMMANDS = st.one_of(
    ALERTS, ALERTS, ALERTS,  # most of a busy batch: new items, for the rest to refer to
    st.tuples(st.sampled_from(ORIGINATORS), st.builds("/request to:ID tlp:green topic:smuggling\n{}".format, WORDS)),
    st.tuples(st.sampled_from(RECIPIENTS), st.builds("/ack {}".format, REFS)),
    st.tuples(st.sampled_from(RECIPIENTS), st.builds("/reply {} {}".format, REFS, WORDS)),
    st.tuples(st.sampled_from(ORIGINATORS + RECIPIENTS), st.builds("/status {}".format, REFS)),
    st.tuples(st.sampled_from(ORIGINATORS), st.builds("/close {} {}".format, REFS, WORDS)),
    st.tuples(st.sampled_from(ORIGINATORS), st.sampled_from(["/alert to:", "/frobnicate", "/alert tlp:red\nx", "/mine"])),
)
FAILS = st.sampled_from([False] * 7 + [True])  # a handler that raises after writing everything
# A few alerts first, so that what follows has items to refer to, made in the same batch.
CONVERSATIONS = st.builds(list.__add__, st.lists(st.tuples(ALERTS, FAILS), min_size=2, max_size=4),
                          st.lists(st.tuples(COMMANDS, FAILS), max_size=12))


class OneByOne(InboxProcessor):
    """The inbox's fallback for every batch: each message in a savepoint, its writes sent as made."""

    def _process_batch(self, size: int) -> tuple[int, bool]:
        return self._process_one_by_one(size)


@contextmanager
def runtime_in(workdir: Path, clock: ManualClock, postgres_admin: object | None) -> Iterator[Runtime]:
    """A runtime on its own SQLite file, or on a new PostgreSQL database when given the admin connection."""
    with fresh_postgres_database(postgres_admin) if postgres_admin else nullcontext() as url:
        runtime = build_runtime(load_settings(write_config(workdir, url)), out=io.StringIO(), clock=clock,
                                notice=io.StringIO())
        try:
            yield runtime
        finally:
            runtime.db.close()
            runtime.engine.dispose()


def run(workdir: Path, conversation: list, *, held: bool, postgres_admin: object | None = None) -> dict:
    clock = ManualClock()
    with runtime_in(workdir, clock, postgres_admin) as runtime:
        own = runtime.inbox
        failing = {f"event-{n}" for n, (_, fails) in enumerate(conversation) if fails}
        dispatcher = FailsAfterWriting(own._dispatcher, RuntimeError("a bug"), *failing)  # noqa: SLF001
        processor = (InboxProcessor if held else OneByOne)(own._uow_factory, dispatcher, own._new_key)  # noqa: SLF001
        for n, ((sender, text), _) in enumerate(conversation):
            processor.record(InboundMessage(f"event-{n}", UserRef(Platform.CONSOLE, sender),
                                            ChatRef(Platform.CONSOLE, "@" + sender), text, clock.now()))
        assert processor.process_pending() == len(conversation)
        return seen(runtime)


def seen(runtime: Runtime) -> dict:
    """What people and auditors could see, with what is random by design (keys, error references) masked."""
    keyring = keyring_file.load(runtime.settings.keys.path)
    report = verify(runtime.engine, keyring, workers=1)
    assert report.ok, report.summary()
    with runtime.uow_factory(read_only=True) as uow:
        conn = uow.connection
        sealer = CaseKeySealer(conn, keyring)
        references = [r for (r,) in conn.execute(select(items.c.reference).order_by(items.c.reference))]
        return {
            "bodies": [uow.items.get(Reference.parse(r)).item.draft.body for r in references],  # type: ignore[union-attr]
            "inbox": sorted((row.event_id, row.state) for row in conn.execute(select(inbox))),
            "items": sorted(tuple(row) for row in conn.execute(
                select(items.c.reference, items.c.originator, items.c.state, items.c.tlp, items.c.topic))),
            "deliveries": sorted(tuple(row) for row in conn.execute(
                select(deliveries.c.item_reference, deliveries.c.contact, deliveries.c.destination,
                       deliveries.c.state))),
            "outbox": [(row.kind, row.reference, row.destination, _masked(
                open_json(sealer, row.content, aad=outbox_aad(row.key), case=row.reference)["text"]))
                for row in conn.execute(select(outbox).order_by(outbox.c.id))],
            "audit": [tuple(row) for row in conn.execute(
                select(audit_entries.c.seq, audit_entries.c.action, audit_entries.c.reference)
                .order_by(audit_entries.c.seq))],
            "counters": sorted(tuple(row) for row in conn.execute(select(reference_counters))),
        }


def _masked(text: str) -> str:
    return re.sub(r"\bE-[A-Z0-9]{6}\b", "E-······", text)


def same_either_way(conversation: list, postgres_admin: object | None = None) -> None:
    with tempfile.TemporaryDirectory() as held_dir, tempfile.TemporaryDirectory() as one_by_one_dir:
        assert run(Path(held_dir), conversation, held=True, postgres_admin=postgres_admin) == \
            run(Path(one_by_one_dir), conversation, held=False, postgres_admin=postgres_admin)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(conversation=CONVERSATIONS)
def test_a_held_batch_leaves_what_the_same_batch_one_by_one_leaves(conversation: list) -> None:
    same_either_way(conversation)


# Fewer on PostgreSQL: each example makes and migrates two databases.
@pytest.mark.postgres
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(conversation=CONVERSATIONS)
def test_the_same_on_postgresql(postgres_admin: object, conversation: list) -> None:
    same_either_way(conversation, postgres_admin)


def test_the_comparison_sees_a_difference() -> None:
    # The check above is only worth something if what it compares can differ.
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        alert = (("my-officer", "/alert to:ID,PH tlp:amber topic:document-fraud\nboat"), False)
        assert run(Path(one), [alert], held=True) != run(Path(other), [alert, alert], held=False)

