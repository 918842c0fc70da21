"""Group commit in the inbox (bot.runtime.inbox): several messages in one transaction, each in a savepoint.

On the production wiring (bot.runtime.app.build_runtime: Dispatcher, SqlAuditLog, CaseKeySealer), on SQLite
and on PostgreSQL where a server answers. A handler that fails does so after writing its item,
outbox rows, audit entries and case key, so that undoing it alone is what is tested; the message
after it is handed the reference number the undone one had, so a case key or an audit head
remembered from the undone savepoint would break its content or the chain.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.messages import InboundMessage
from bot.runtime.app import Runtime, build_runtime
from bot.config.settings import load_settings
from bot.runtime.inbox import InboxProcessor
from storage import keyring as keyring_file
from storage.audit.tables import audit_entries, audit_head
from storage.audit.verify import verify
from storage.content import open_json, outbox_aad
from storage.case_keys import CaseKeys
from storage.sealing import CaseKeySealer
from storage.tables import inbox, items, outbox
from storage.uow import SavepointNotReleased
from tests.ops.failover_pair import write_config

SENDERS = ("my-officer", "au-officer", "th-officer")


def alert(n: int) -> InboundMessage:
    sender = SENDERS[n % len(SENDERS)]
    return InboundMessage(event_id=f"batch-{n}", sender=UserRef(Platform.CONSOLE, sender),
                          chat=ChatRef(Platform.CONSOLE, "@" + sender),
                          text=f"/alert to:ID,PH tlp:amber topic:document-fraud\nTravellers, flight XX{n} #{n};",
                          received_at=ManualClock().now())


class FailsAfterWriting:
    """The runtime's dispatcher, raising `error` for the chosen events once their handling wrote everything."""

    def __init__(self, inner, error: Exception, *event_ids: str) -> None:  # noqa: ANN001
        self.inner, self.error, self.event_ids = inner, error, set(event_ids)

    def handle(self, uow, message: InboundMessage) -> None:  # noqa: ANN001
        self.inner.handle(uow, message)
        if message.event_id in self.event_ids:
            raise self.error


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Runtime:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    built = build_runtime(load_settings(write_config(tmp_path, url)), out=io.StringIO(), notice=io.StringIO())
    yield built
    built.db.close()
    built.engine.dispose()


def processor(runtime: Runtime, dispatcher, batch: int = 50) -> InboxProcessor:  # noqa: ANN001
    # The runtime's own unit-of-work factory and keys; only the dispatcher and the batch differ.
    own = runtime.inbox
    return InboxProcessor(own._uow_factory, dispatcher, own._new_key, batch=batch)  # noqa: SLF001


def state(runtime: Runtime) -> dict:
    """What the database holds: inbox states, item bodies, every outbox text (opened), audit entries."""
    keyring = keyring_file.load(runtime.settings.keys.path)
    with runtime.uow_factory(read_only=True) as uow:
        conn = uow.connection
        sealer = CaseKeySealer(conn, keyring)
        references = [r for (r,) in conn.execute(select(items.c.reference).order_by(items.c.reference))]
        bodies = [uow.items.get(Reference.parse(r)).item.draft.body for r in references]  # type: ignore[union-attr]
        texts = [(row.kind, row.reference, row.destination,
                  open_json(sealer, row.content, aad=outbox_aad(row.key), case=row.reference)["text"])
                 for row in conn.execute(select(outbox).order_by(outbox.c.id))]
        return {
            "inbox": {row.event_id: (row.state, row.error_ref) for row in conn.execute(select(inbox))},
            "references": references,
            "bodies": bodies,
            "outbox": texts,
            "audit_refs": set(conn.execute(select(audit_entries.c.reference).distinct()).scalars()) - {None},
            "audit_entries": conn.execute(select(func.count()).select_from(audit_entries)).scalar_one(),
            "head": conn.execute(select(audit_head.c.seq)).scalar_one_or_none() or 0,
        }


def audit_ok(runtime: Runtime) -> None:
    report = verify(runtime.engine, keyring_file.load(runtime.settings.keys.path), workers=1)
    assert report.ok, report.summary()


def test_a_failing_message_in_a_batch_is_undone_alone_and_answered(runtime: Runtime) -> None:
    # One alert alone first: what one accepted alert leaves behind, to compare the batch with.
    runtime.inbox.record(alert(0))
    assert runtime.inbox.process_pending() == 1
    one = state(runtime)
    per_alert = {"outbox": len(one["outbox"]), "audit": one["audit_entries"]}

    inbox = processor(runtime, FailsAfterWriting(runtime.inbox._dispatcher, KeyError("boom"), "batch-3"))  # noqa: SLF001
    for n in range(1, 6):
        runtime.inbox.record(alert(n))
    assert inbox.process_pending() == 5
    assert inbox.process_pending() == 0  # nothing is left to run twice

    after = state(runtime)
    assert {e: s for e, (s, _) in after["inbox"].items()} == {f"batch-{n}": "failed" if n == 3 else "done"
                                                               for n in range(6)}
    bodies = Counter(body.rsplit("#", 1)[1] for body in after["bodies"])
    assert bodies == Counter({f"{n};": 1 for n in (0, 1, 2, 4, 5)})  # each once; none of the failed one
    assert len(set(after["references"])) == 5
    # Its reference number went to the next alert; nothing of the failed one survives anywhere else.
    assert after["audit_refs"] == set(after["references"])
    assert after["audit_entries"] == after["head"] == 5 * per_alert["audit"]
    error_ref = after["inbox"]["batch-3"][1]
    answers = [o for o in after["outbox"] if o[0] == "answer"]
    assert answers == [("answer", None, "chat:console:@" + SENDERS[0], answers[0][3])]
    assert f"(reference {error_ref})" in answers[0][3] and "boom" not in answers[0][3]
    assert len(after["outbox"]) == 5 * per_alert["outbox"] + 1
    assert all(not text.count("#3;") for _, _, _, text in after["outbox"])
    audit_ok(runtime)


def test_a_lone_failing_message_is_undone_whole_answered_and_its_number_handed_out_again(runtime: Runtime) -> None:
    # Alone in its transaction it runs without a savepoint: what it wrote goes with the transaction.
    seen: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    inbox = processor(runtime, FailsAfterWriting(runtime.inbox._dispatcher, KeyError("boom"), "batch-0"))  # noqa: SLF001
    runtime.inbox.record(alert(0))
    assert inbox.process_pending() == 1
    assert not any("SAVEPOINT" in statement for statement in seen)
    failed = state(runtime)
    assert failed["inbox"]["batch-0"][0] == "failed"
    assert failed["references"] == [] and failed["audit_entries"] == failed["head"] == 0
    assert [(o[0], o[2]) for o in failed["outbox"]] == [("answer", "chat:console:@" + SENDERS[0])]
    assert f"(reference {failed['inbox']['batch-0'][1]})" in failed["outbox"][0][3]

    runtime.inbox.record(alert(1))  # the number and the head the undone one had, with no stale key
    assert runtime.inbox.process_pending() == 1
    after = state(runtime)
    assert after["references"] == ["A-2026-0001"] and after["bodies"][0].endswith("#1;")
    assert after["inbox"]["batch-1"][0] == "done"
    audit_ok(runtime)


def test_an_alert_to_several_people_asks_once_who_of_them_is_away(runtime: Runtime) -> None:
    seen: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    runtime.inbox.record(alert(0))
    assert runtime.inbox.process_pending() == 1
    assert len([text for text in state(runtime)["outbox"] if text[0] == "delivery"]) > 1
    assert len([statement for statement in seen if "FROM absences" in statement]) == 1


def test_a_database_error_mid_batch_leaves_every_message_pending(runtime: Runtime) -> None:
    runtime.inbox.record(alert(0))
    runtime.inbox.process_pending()
    before = state(runtime)
    lost = OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
    inbox = processor(runtime, FailsAfterWriting(runtime.inbox._dispatcher, lost, "batch-3"))  # noqa: SLF001
    for n in range(1, 6):
        runtime.inbox.record(alert(n))
    with pytest.raises(OperationalError):
        inbox.process_pending()

    during = state(runtime)
    assert {e: s for e, (s, _) in during["inbox"].items() if s == "pending"} == {f"batch-{n}": "pending"
                                                                                 for n in range(1, 6)}
    assert {k: during[k] for k in ("references", "outbox", "audit_entries", "head")} == \
        {k: before[k] for k in ("references", "outbox", "audit_entries", "head")}

    assert runtime.inbox.process_pending() == 5  # the database is back: each is handled once
    after = state(runtime)
    assert Counter(body.rsplit("#", 1)[1] for body in after["bodies"]) == Counter({f"{n};": 1 for n in range(6)})
    assert all(s == "done" for s, _ in after["inbox"].values())
    audit_ok(runtime)


def test_a_backlog_commits_once_per_batch_and_a_lone_message_once(runtime: Runtime) -> None:
    commits = []
    event.listen(runtime.engine, "commit", lambda _conn: commits.append(1))
    inbox = processor(runtime, runtime.inbox._dispatcher, batch=3)  # noqa: SLF001
    runtime.inbox.record(alert(0))
    commits.clear()
    assert inbox.process_pending() == 1
    assert len(commits) == 1  # a lone message: one transaction, as without batches

    for n in range(1, 8):
        runtime.inbox.record(alert(n))
    commits.clear()
    assert inbox.process_pending(limit=5) == 5  # the limit holds across batches: 3, then 2
    assert len(commits) == 2
    commits.clear()
    assert inbox.process_pending() == 2
    assert len(commits) == 1
    after = state(runtime)
    assert Counter(body.rsplit("#", 1)[1] for body in after["bodies"]) == Counter({f"{n};": 1 for n in range(8)})
    audit_ok(runtime)


def test_every_message_of_a_batch_may_fail_and_the_batch_still_commits(runtime: Runtime) -> None:
    events = [f"batch-{n}" for n in range(4)]
    inbox = processor(runtime, FailsAfterWriting(runtime.inbox._dispatcher, ValueError("x"), *events))  # noqa: SLF001
    for n in range(4):
        runtime.inbox.record(alert(n))
    assert inbox.process_pending() == 4
    after = state(runtime)
    assert {s for s, _ in after["inbox"].values()} == {"failed"}
    assert len({ref for _, ref in after["inbox"].values()}) == 4
    assert after["references"] == [] and after["audit_entries"] == 0
    assert [o[0] for o in after["outbox"]] == ["answer"] * 4
    audit_ok(runtime)


class ReleasesItsOwnSavepoint:
    """A handler that writes, then releases the savepoint it runs in behind the unit of work's back,
    so that the unit of work's RELEASE fails with the writes already merged into the batch."""

    def __init__(self, inner, event_id: str) -> None:  # noqa: ANN001
        self.inner, self.event_id = inner, event_id

    def handle(self, uow, message: InboundMessage) -> None:  # noqa: ANN001
        self.inner.handle(uow, message)
        if message.event_id == self.event_id:
            name = uow.connection.get_nested_transaction()._savepoint  # noqa: SLF001
            uow.connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


def test_a_savepoint_that_cannot_be_released_rolls_the_whole_batch_back(runtime: Runtime) -> None:
    inbox = processor(runtime, ReleasesItsOwnSavepoint(runtime.inbox._dispatcher, "batch-2"))  # noqa: SLF001
    for n in range(4):
        runtime.inbox.record(alert(n))
    with pytest.raises(SavepointNotReleased):
        inbox.process_pending()
    during = state(runtime)
    assert {s for s, _ in during["inbox"].values()} == {"pending"}  # not "failed" with its writes kept
    assert during["references"] == [] and during["outbox"] == [] and during["audit_entries"] == 0
    assert runtime.inbox.process_pending() == 4
    audit_ok(runtime)


def test_a_batch_of_alerts_gets_consecutive_numbers_each_with_its_own_body(runtime: Runtime) -> None:
    for n in range(6):
        runtime.inbox.record(alert(n))
    assert runtime.inbox.process_pending() == 6
    after = state(runtime)
    assert Counter(body.rsplit("#", 1)[1] for body in after["bodies"]) == Counter({f"{n};": 1 for n in range(6)})
    assert after["references"] == [f"A-2026-{n:04d}" for n in range(1, 7)]
    audit_ok(runtime)


def test_a_number_whose_case_was_erased_before_it_was_handed_out_is_skipped_in_a_batch(runtime: Runtime) -> None:
    # A mistyped erasure of the number the third alert is to get: its case key meets the tombstone.
    keyring = keyring_file.load(runtime.settings.keys.path)
    with runtime.engine.begin() as connection:
        CaseKeys(connection, keyring).erase("A-2026-0003")
    for n in range(5):
        runtime.inbox.record(alert(n))
    assert runtime.inbox.process_pending() == 5
    after = state(runtime)
    assert all(s == "done" for s, _ in after["inbox"].values())
    assert Counter(body.rsplit("#", 1)[1] for body in after["bodies"]) == Counter({f"{n};": 1 for n in range(5)})
    assert after["references"] == ["A-2026-0001", "A-2026-0002", "A-2026-0004", "A-2026-0005", "A-2026-0006"]
    audit_ok(runtime)
