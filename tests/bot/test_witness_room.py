from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.clock import ManualClock
from alerts.identity import ChatRef
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
