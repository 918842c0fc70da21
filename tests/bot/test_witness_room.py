from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform
from alerts.routing import Destination
from bot.ops.witness_room import checkpoint_text, room_witness
from storage.audit.checkpoints import Checkpoint
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import RecordingAudit, sealing


def test_a_checkpoint_is_posted_to_the_room_once(engine, sealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), clock)
    checkpoint = Checkpoint(42, b"\x01" * 32, datetime(2026, 11, 23, 9, tzinfo=timezone.utc), "sk-1", b"\x02" * 64)
    publish = room_witness(factory, ChatRef.parse("console:#coordination"))
    publish(checkpoint)
    publish(checkpoint)  # a retry after a crash
    with factory() as uow:
        [row] = uow.outbox.lease(clock.now(), 10, timedelta(seconds=30))
    assert str(row.destination) == "chat:console:#coordination"
    assert row.text == checkpoint_text(checkpoint)
    assert row.text.startswith("Audit checkpoint: 42 entries, root AQEB")


def test_a_witness_room_on_a_platform_not_run_sends_the_checkpoint_to_the_admins_instead(engine, sealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), clock)
    checkpoint = Checkpoint(42, b"\x01" * 32, datetime(2026, 11, 23, 9, tzinfo=timezone.utc), "sk-1", b"\x02" * 64)
    admins = [(Destination.chat(ChatRef.parse("console:#management")), None)]
    publish = room_witness(factory, ChatRef.parse("matrix:!witness:example.org"), frozenset({Platform.CONSOLE}),
                           lambda: admins)
    publish(checkpoint)
    publish(checkpoint)  # a retry after a crash: once
    with factory() as uow:
        rows = uow.outbox.lease(clock.now(), 10, timedelta(seconds=30))
    assert [str(r.destination) for r in rows] == ["chat:console:#management"]
    assert rows[0].text == ("⚠ The witness room matrix:!witness:example.org is on matrix, which this bot does not run "
                            "(it runs console): sent to the admins instead.\n" + checkpoint_text(checkpoint))


def test_with_no_admin_to_tell_nothing_is_queued_for_a_platform_not_run(engine, sealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), clock)
    checkpoint = Checkpoint(7, b"\x01" * 32, datetime(2026, 11, 23, 9, tzinfo=timezone.utc), "sk-1", b"\x02" * 64)
    room_witness(factory, ChatRef.parse("matrix:!witness:example.org"), frozenset({Platform.CONSOLE}))(checkpoint)
    with factory() as uow:
        assert uow.outbox.lease(clock.now(), 10, timedelta(seconds=30)) == []
