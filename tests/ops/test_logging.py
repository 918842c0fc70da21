"""Structured logs: a canary written into commands runs through the whole bot (inbox, handlers,
routing, outbox, delivery, audit, a failing handler that quotes it) with every logger at debug, in
text and JSON; it never reaches the log. Secrets never do either, and the error reference a user is
told is in the log line it stands for, as a field of its own."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.config.ops import LogFormat, LoggingSettings, LogLevel
from bot.ops.logs import configure_logging, item_fields, log_context, secret_values
from tests.ops.conftest import bot_runtime

CANARY = "CANARY-7f3a91-do-not-log"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the shape of a Telegram bot token
PASSWORD = "pg-Secret-Pass-42"


def message(n: int, text: str, sender: str = "my-officer") -> InboundMessage:
    return InboundMessage(event_id=f"log-{n}", sender=UserRef(Platform.CONSOLE, sender),
                          chat=ChatRef(Platform.CONSOLE, "@" + sender), text=text, received_at=ManualClock().now())


@pytest.fixture(autouse=True)
def restore_logging() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", [LogFormat.TEXT, LogFormat.JSON])
async def test_content_and_secrets_never_reach_the_log(bot_config: Path, fmt: LogFormat) -> None:
    captured = io.StringIO()
    configure_logging(LoggingSettings(fmt, LogLevel.DEBUG), secrets=[TOKEN, PASSWORD], stream=captured)
    for name in ("sqlalchemy.engine", "nio", "httpx"):  # capped: their debug output holds content
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
    runtime, sink = bot_runtime(bot_config)
    try:
        await runtime.submit(message(1, f"/alert to:TH tlp:amber topic:document-fraud\n{CANARY} flight XX1"))
        await runtime.submit(message(2, f'/request to:TH due:48h purpose:"{CANARY} check"\n{CANARY} passport'))
        reference = next(m.reference for m in sink.sent if m.reference)
        await runtime.submit(message(3, f"/reply {reference} {CANARY} confirmed", sender="th-npoc"))
        await runtime.submit(message(4, f"/alert to:XX tlp:orange {CANARY}"))  # refused: answered, not routed

        def quoting_handler(uow, msg):  # noqa: ANN001 - a buggy handler that quotes what it was given
            raise ValueError(f"cannot handle {msg.text!r}")

        real = runtime.inbox._dispatcher.handle
        runtime.inbox._dispatcher.handle = quoting_handler
        await runtime.submit(message(5, f"/alert to:TH {CANARY} in a command that breaks a handler"))
        runtime.inbox._dispatcher.handle = real
        told = [m.text for m in sink.sent if "Something went wrong" in m.text]
        logging.getLogger("httpx").warning("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
        logging.getLogger("bot.test").error("connecting as postgresql://liaison:%s@db/liaison failed", PASSWORD)
        logging.getLogger("bot.test").warning("sent", extra=item_fields(reference=reference, key="k1"))
    finally:
        await runtime.close()
    out = captured.getvalue()
    assert CANARY in "".join(m.text for m in sink.sent)  # the content did travel, to its recipients
    assert CANARY not in out
    assert TOKEN not in out and TOKEN.split(":")[1] not in out and PASSWORD not in out
    assert len(told) == 1
    error_ref = told[0].split("reference ", 1)[1].split(")", 1)[0]
    lines = [line for line in out.splitlines() if error_ref in line]
    assert lines, out[-3000:]
    if fmt is LogFormat.JSON:
        records = [json.loads(line) for line in out.splitlines()]
        failed = next(r for r in records if r.get("error_ref") == error_ref)
        assert failed["level"] == "ERROR" and failed["exception"][-1]["type"] == "ValueError"
        assert "withheld" in failed["exception"][-1]["message"]
        assert any(r.get("reference") == reference and r.get("key") == "k1" for r in records)
    else:
        assert f"error_ref={error_ref}" in lines[0] and "ValueError: (message withheld" in out
        assert f"reference={reference} key=k1" in out


def test_context_fields_and_references_found_in_messages() -> None:
    captured = io.StringIO()
    configure_logging(LoggingSettings(LogFormat.JSON, LogLevel.INFO), stream=captured)
    log = logging.getLogger("bot.test")
    with log_context(reference="A-2026-0042"):
        log.info("delivery %s sent", "key-1")
    log.warning("handling failed [E-7KQ2MX] on R-2026-0017")
    try:
        raise ConnectionRefusedError("connection refused by 10.0.0.5:5432")
    except OSError:
        log.exception("database down")
    first, second, third = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["reference"] == "A-2026-0042" and first["message"] == "delivery key-1 sent"
    assert second["error_ref"] == "E-7KQ2MX" and second["reference"] == "R-2026-0017"
    assert third["exception"][0]["message"] == "connection refused by 10.0.0.5:5432"  # infrastructure: kept


def test_secret_values_reads_what_the_configuration_names(bot_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config.settings import load_settings

    text = bot_config.read_text().replace('url = "sqlite:///var/liaison.sqlite"',
                                          'url = "sqlite:///var/liaison.sqlite"\npassword = { env = "OPS_TEST_DB_PW" }')
    bot_config.write_text(text)
    monkeypatch.setenv("OPS_TEST_DB_PW", PASSWORD)
    assert PASSWORD in secret_values(load_settings(bot_config))


def test_secret_shapes_are_redacted_even_when_not_configured() -> None:
    from bot.ops.logs import Redactor

    redact = Redactor()
    assert TOKEN not in redact(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage")
    assert PASSWORD not in redact(f"postgresql://liaison:{PASSWORD}@db.example.org/liaison")
    assert "syt_abc123secret" not in redact("GET /_matrix/client/v3/sync?access_token=syt_abc123secret&since=s1")
    assert "eyJhbGciOi" not in redact("Authorization: Bearer eyJhbGciOi.payload.sig")
