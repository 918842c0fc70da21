from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, select

from alerts.clock import ManualClock
from alerts.audit import AuditAction, AuditEvent
from alerts.identity import ChatRef
from alerts.messages import Attachment, MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.scheduling.retention import RetentionSweeper
from storage import keyring as keyfile
from storage.audit.log import SqlAuditLog
from storage.audit.verify import verify
from storage.outbox import SqlOutbox
from storage.sealing import AesGcmSealer
from storage.tables import outbox_files

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_expired_cases_are_erased_once_per_period_and_the_log_still_verifies(engine: Engine, tmp_path: Path) -> None:
    keyring = keyfile.generate(tmp_path / "keys")
    for number, day in ((1, 0), (2, 300)):
        with engine.begin() as connection:
            SqlAuditLog(connection, keyring, ManualClock(T0 + timedelta(days=day))).record(AuditEvent(AuditAction.ITEM_CREATED, T0 + timedelta(days=day), "my-officer",
                                  reference=f"A-2026-000{number}", detail={"body": "content"}))
    sweeper = RetentionSweeper(engine, keyring, timedelta(days=365))
    assert sweeper.run_if_due(T0 + timedelta(days=400)) == ["A-2026-0001"]
    assert sweeper.run_if_due(T0 + timedelta(days=400, minutes=5)) == []  # not due again within the hour
    report = verify(engine, keyring, workers=1)
    assert report.ok and report.erased >= 1


def test_files_of_messages_never_sent_go_after_the_retention_period(engine: Engine, tmp_path: Path) -> None:
    keyring = keyfile.generate(tmp_path / "keys")
    chart = Attachment("overdue.png", "image/png", 8, b"\x89PNG\r\n\x1a\n")
    for day in (0, 300):
        clock = ManualClock(T0 + timedelta(days=day))
        with engine.begin() as connection:
            SqlOutbox(connection, AesGcmSealer({"k1": bytes(32)}, "k1"), clock).enqueue(OutboundMessage(
                f"digest:{day}", MessageKind.NOTICE, Destination.chat(ChatRef.parse("console:#coordination")),
                "Daily digest", files=(chart,)))
    RetentionSweeper(engine, keyring, timedelta(days=365)).run_if_due(T0 + timedelta(days=400))
    with engine.connect() as connection:
        assert connection.execute(select(outbox_files.c.outbox_key)).scalars().all() == ["digest:300"]
