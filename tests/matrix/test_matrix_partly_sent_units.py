"""A Matrix copy only partly sent: its photos went, its text did not. Each photo is recorded with its
outbox row as it goes (as on Telegram), so the copy is known by its first photo when the text fails
for good. /correct cannot edit an image event into the mark (an m.replace of a photo as text): the
copy's events are redacted, as /withdraw redacts them, and the one-line notice is told instead, so
nothing of the earlier revision stays to be acted on. No homeserver: a fake nio client, a real SQLite
outbox behind the wiring's own callbacks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from nio import RoomRedactResponse, RoomSendError, RoomSendResponse
from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from alerts.supersede import Supersession, supersede_message
from bot.actions.supersede import supersede
from bot.connectors.base import Outgoing
from bot.connectors.errors import PlatformError
from bot.connectors.matrix.membership import MatrixRoomAdmin
from bot.connectors.matrix.sansio.outbound import FILES_FIELD, known_by_text
from bot.connectors.matrix.wiring import parts_finder, parts_recorder
from storage.tables import outbox
from tests.matrix.test_matrix_parts_units import BOT, ROOM, FakeClient, _runtime, copy, recorder, sender_of

WHERE = Destination.chat(ChatRef(Platform.MATRIX, ROOM))
NOTICE = ("[TLP:AMBER] A-2026-0001 rev 1 is superseded by A-2026-0001 rev 2, sent to you now: acknowledge and act "
          "on that one.")


class TextFails(FakeClient):
    """The photos go; the text (the row's own transaction id) is refused for good. Redactions are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.redacted: list[str] = []
        self.text_fails = True
        self.by_transaction: dict[str, str] = {}

    async def room_send(self, room_id: str, event_type: str, content: dict[str, Any], tx_id: str,
                        ignore_unverified_devices: bool = False) -> RoomSendResponse | RoomSendError:
        if self.text_fails and ".file" not in tx_id:
            return RoomSendError.from_dict({"errcode": "M_FORBIDDEN", "error": "not now"}, room_id)
        if tx_id in self.by_transaction:  # the homeserver de-duplicates a resend by the same device
            return RoomSendResponse(self.by_transaction[tx_id], room_id)
        response = await super().room_send(room_id, event_type, content, tx_id, ignore_unverified_devices)
        self.by_transaction[tx_id] = response.event_id
        return response

    async def room_redact(self, room_id: str, event_id: str, reason: str | None = None) -> RoomRedactResponse:
        self.redacted.append(event_id)
        return RoomRedactResponse(f"$redaction{len(self.redacted)}", room_id)


def test_each_photo_is_recorded_as_it_goes_so_a_failed_text_leaves_the_copy_known_by_them() -> None:
    client = TextFails()
    sender = sender_of(client)
    calls, sender.record_parts = recorder()
    with pytest.raises(PlatformError):
        asyncio.run(sender.send(copy()))
    assert [tx for tx, _ in client.sent] == ["copy-1.file0", "copy-1.file1"]
    assert calls[-1] == ("copy-1", ("$event1", "$event2"))
    # Sent whole on the next attempt (the same transaction ids, so the same photos): all its events.
    client.text_fails = False
    calls.clear()
    assert asyncio.run(sender.send(copy())) == "$event3"
    assert [tx for tx, _ in client.sent] == ["copy-1.file0", "copy-1.file1", "copy-1"]
    assert calls[-1] == ("copy-1", ("$event1", "$event2", "$event3"))


def _partly_sent(tmp_path: Any) -> tuple[Any, TextFails, Any]:
    """The copy-1 row sent as far as its two photos, its text refused for good: failed, known by its
    first photo (storage.outbox.SqlOutbox.mark_failed), its events recorded with it."""
    runtime = _runtime(tmp_path)
    clock = ManualClock()
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue(OutboundMessage(key="copy-1", kind=MessageKind.DELIVERY, destination=WHERE,
                                           text="[TLP:AMBER] A-2026-0001 · alert", reference="A-2026-0001",
                                           contact="th-npoc"))
        uow.outbox.lease(clock.now(), 10, timedelta(seconds=60))
        uow.commit()
    client = TextFails()
    sender = sender_of(client)
    sender.record_parts = parts_recorder(runtime)
    sender.parts_of = parts_finder(runtime)
    with pytest.raises(PlatformError):
        asyncio.run(sender.send(copy()))
    with runtime.uow_factory() as uow:
        assert uow.outbox.mark_failed("copy-1", "M_FORBIDDEN").reached == ("$event1", "$event2")
        uow.commit()
    return runtime, client, sender


class Connector:
    platform = Platform.MATRIX

    def __init__(self, sender: Any) -> None:
        self.edit_message = sender.edit


def test_a_correction_of_a_copy_known_by_its_photo_redacts_its_events_and_tells_the_line(tmp_path: Any) -> None:
    runtime, client, sender = _partly_sent(tmp_path)
    client.text_fails = False  # an edit, were one sent, would go
    sent_before = len(client.sent)
    mark = Supersession("$event1", "A-2026-0001", 2, "Superseded by A-2026-0001 rev 2 — see the new copy\n"
                        "[TLP:AMBER] A-2026-0001 · alert", NOTICE, "th-npoc")
    row = supersede_message(mark, WHERE)
    message = Outgoing(row.key, MessageKind.SUPERSEDE, WHERE, row.text, row.reference, row.contact, False, None, 1)

    done = asyncio.run(supersede(runtime.db, runtime.uow_factory, lambda platform: Connector(sender), 3, message))
    assert done == "supersede:notice"
    assert client.sent[sent_before:] == []  # no m.replace of a photo as text
    assert client.redacted == ["$event1", "$event2"]  # every photo of it, as /withdraw takes them back
    with runtime.engine.connect() as conn:
        told = conn.execute(select(outbox.c.kind, outbox.c.destination).where(outbox.c.kind == "notice")).all()
    assert [(kind, destination) for kind, destination in told] == [("notice", str(WHERE))]
    runtime.engine.dispose()


def test_a_copy_known_by_its_text_is_still_edited_in_place_and_loses_its_photos(tmp_path: Any) -> None:
    client = TextFails()
    client.text_fails = False
    sender = sender_of(client)
    calls, sender.record_parts = recorder()
    known_by = asyncio.run(sender.send(copy()))

    async def parts_of(event_id: str) -> tuple[str, ...]:
        return calls[-1][1] if event_id == known_by else ()

    sender.parts_of = parts_of
    client.events[known_by] = {"type": "m.room.message", "sender": BOT, "event_id": known_by,
                               "origin_server_ts": 1, "room_id": ROOM,
                               "content": {"msgtype": "m.notice", "body": "…", FILES_FIELD: ["$event1", "$event2"]}}
    asyncio.run(sender.edit(WHERE, known_by, "Superseded by A-2026-0001 rev 2", "sup-1"))
    assert client.redacted == ["$event1", "$event2"]
    tx, content = client.sent[-1]
    assert tx == "sup-1" and content["m.relates_to"] == {"rel_type": "m.replace", "event_id": known_by}


def test_a_withdrawal_of_a_copy_known_by_its_photo_redacts_every_event_of_it(tmp_path: Any) -> None:
    runtime, client, _ = _partly_sent(tmp_path)
    client.access_token = "token"
    client.user_id = BOT
    admin = MatrixRoomAdmin(lambda: client, parts_of=parts_finder(runtime))  # type: ignore[arg-type, return-value]
    asyncio.run(admin.remove_message(ChatRef(Platform.MATRIX, ROOM), "$event1", "the item was withdrawn"))
    assert client.redacted == ["$event1", "$event2"]
    runtime.engine.dispose()


@pytest.mark.parametrize(("event_id", "parts", "text"), [
    ("$text", (), True),                              # a copy of one event: nothing recorded
    ("$text", ("$p1", "$p2", "$text"), True),         # sent whole: known by its text, recorded last
    ("$p1", ("$p1",), False),                         # its one photo went, its text did not
    ("$p1", ("$p1", "$p2"), False),                   # two photos went, its text did not
    ("$p1", ("$p1", "$p2", "$text"), False),          # all went, but it is known by its photo (failed after)
])
def test_a_copy_is_known_by_its_text_only_where_that_was_recorded_last(
        event_id: str, parts: tuple[str, ...], text: bool) -> None:
    assert known_by_text(event_id, parts) is text
