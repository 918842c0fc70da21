"""/healthz and /metrics over real HTTP, on a bot built by bot.runtime.app.build_runtime (SQLite, and
PostgreSQL where a server answers). The metrics text is read with the strict reader."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.config.ops import HealthSettings
from bot.ops.health import start_health_server
from bot.ops.leadership import InstanceRole
from storage.audit.tables import audit_head
from storage.tables import outbox
from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.ops.http_get import http_request
from tests.ops.prometheus_text import parse, value

HEALTH = HealthSettings(enabled=True, listen="127.0.0.1:0")


def alert(n: int, to: str = "TH", sender: str = "my-officer") -> InboundMessage:
    return InboundMessage(event_id=f"ops-{n}", sender=UserRef(Platform.CONSOLE, sender),
                          chat=ChatRef(Platform.CONSOLE, "@" + sender),
                          text=f"/alert to:{to} tlp:amber topic:document-fraud\nTravellers, flight XX{n}",
                          received_at=ManualClock().now())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return write_config(tmp_path, url)


async def test_metrics_count_what_the_database_holds(config: Path) -> None:
    clock = ManualClock()
    runtime, sink = bot_runtime(config, clock)
    health = await start_health_server(runtime, HEALTH)
    health.database_metrics.cache_seconds = 0
    try:
        for n in range(3):
            await runtime.db.run(runtime.inbox.record, alert(n))
        await runtime.db.run(runtime.inbox.process_pending)
        clock.advance(timedelta(seconds=3))  # each row waits 3 s between its creation and its sending
        await runtime.worker.settle()
        status, headers, text = await http_request(health.port, "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        families = parse(text)
        with runtime.engine.connect() as conn:
            deliveries = conn.execute(select(func.count()).select_from(outbox)
                                      .where(outbox.c.kind == "delivery", outbox.c.state == "sent")).scalar_one()
            entries = conn.execute(select(audit_head.c.seq)).scalar_one()
        assert deliveries >= 3 and len(sink.sent) >= deliveries
        assert value(families, "liaison_deliveries_total", platform="console", kind="delivery", outcome="sent") \
            == deliveries
        le = dict(platform="console", kind="delivery")
        assert value(families, "liaison_delivery_latency_seconds_count", **le) == deliveries
        assert value(families, "liaison_delivery_latency_seconds_bucket", le="2.5", **le) == 0
        assert value(families, "liaison_delivery_latency_seconds_bucket", le="5.0", **le) == deliveries
        assert value(families, "liaison_delivery_latency_seconds_sum", **le) == pytest.approx(3 * deliveries, rel=.01)
        assert value(families, "liaison_audit_entries") == entries
        assert value(families, "liaison_instance_active") == 1
        assert value(families, "liaison_reminders_sent_total", kind="reminder") == 0
        assert value(families, "liaison_overdue", track="ack") == 0
        assert not families["liaison_outbox_depth"].samples
        clock.advance(timedelta(days=3))  # past every acknowledgement and feedback due time
        families = parse((await http_request(health.port, "/metrics"))[2])
        overdue = value(families, "liaison_overdue", track="feedback") + value(families, "liaison_overdue", track="ack")
        assert overdue >= 3  # at least Thailand's point of contact, on each of the three alerts
    finally:
        await health.close()
        await runtime.close()


async def test_healthz_says_what_is_wrong(bot_config: Path) -> None:
    clock = ManualClock()
    runtime, _ = bot_runtime(bot_config, clock)
    leader = SimpleNamespace(role=InstanceRole.ACTIVE)
    health = await start_health_server(runtime, HEALTH, leader=leader)
    try:
        status, _, body = await http_request(health.port, "/healthz")
        report = json.loads(body)
        assert status == 503 and report["problems"] == ["the reminder scheduler is not running"]
        health.state.scheduler = SimpleNamespace(active=True)
        status, _, body = await http_request(health.port, "/healthz")
        assert status == 200, body
        assert json.loads(body) == {"status": "ok", "role": "active", "database": "ok", "connectors": {"console": True},
                                    "scheduler": "running", "outbox_oldest_age_seconds": None, "problems": []}
        runtime.connectors[Platform.MATRIX] = SimpleNamespace(platform=Platform.MATRIX, connected=False)
        await runtime.db.run(runtime.inbox.record, alert(1))
        await runtime.db.run(runtime.inbox.process_pending)  # queued, not sent
        clock.advance(timedelta(minutes=20))
        status, _, body = await http_request(health.port, "/healthz")
        assert status == 503
        assert json.loads(body)["problems"] == ["matrix is not connected",
                                                "the oldest unsent message is older than 900 s"]
        leader.role = InstanceRole.STANDBY  # a standby runs no connector: it is healthy when it can take over
        status, _, body = await http_request(health.port, "/healthz")
        assert status == 200 and json.loads(body)["scheduler"] == "standby"
        leader.role = InstanceRole.DEMOTED
        assert (await http_request(health.port, "/healthz"))[0] == 503
        assert (await http_request(health.port, "/nothing"))[0] == 404
        assert (await http_request(health.port, "/healthz", "POST"))[0] == 405
    finally:
        await health.close()
        await runtime.close()


async def test_a_database_that_does_not_answer(bot_config: Path) -> None:
    from storage.db import create_engine_for

    runtime, _ = bot_runtime(bot_config)
    unreachable = SimpleNamespace(engine=create_engine_for("postgresql://nobody@127.0.0.1:9/none",
                                                           connect_args={"connect_timeout": 1}),
                                  clock=runtime.clock, directory=runtime.directory, settings=runtime.settings,
                                  connectors=runtime.connectors)
    health = await start_health_server(unreachable, HEALTH)
    try:
        status, _, body = await http_request(health.port, "/healthz")
        assert status == 503 and json.loads(body)["database"] == "error"
        status, _, text = await http_request(health.port, "/metrics")
        assert status == 200 and value(parse(text), "liaison_database_up") == 0
    finally:
        await health.close()
        unreachable.engine.dispose()
        await runtime.close()


def test_disabled_by_default_and_bound_to_localhost(bot_config: Path) -> None:
    from bot.config.settings import load_settings

    settings = load_settings(bot_config).health
    assert settings.enabled is False and settings.listen == "127.0.0.1:9464"
