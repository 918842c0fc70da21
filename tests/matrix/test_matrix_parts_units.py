"""A Matrix copy sent with photos is recorded with its outbox row as all its events (the photos, then
the text it is known by), as a Telegram copy is, so a reply or a ✅ on its photo is one on the copy.
No homeserver: a fake nio client, a real SQLite outbox behind the wiring's own callbacks."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomGetEventError, RoomGetEventResponse, RoomMessagesResponse, RoomSendResponse, UploadResponse

from alerts.clock import ManualClock
from alerts.directory import Contact, Directory, Organisation, OrgKind
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import Attachment, MessageKind, OutboundMessage
from alerts.roles import Role
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.errors import TransientFailure
from bot.connectors.matrix import media
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.receiving import Receiver
from bot.connectors.matrix.sansio.outbound import FILES_FIELD, KEY_FIELD
from bot.connectors.matrix.sending import Sender
from bot.connectors.matrix.wiring import delivery_finder, parts_recorder, sent_finder
from storage.db import create_engine_for
from storage.migrate import upgrade
from storage.sealing import AesGcmSealer
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import sealing

BOT = "@bot:example.org"
READER = "@th:example.org"
ROOM = "!th:example.org"
PNG = Attachment("passport.png", "image/png", 4, b"\x89PNG")


class FakeClient:
    """The nio calls a send makes, into one unencrypted room; event ids in the order sent."""

    def __init__(self, earlier: list[dict[str, Any]] | None = None) -> None:
        self.rooms = {ROOM: SimpleNamespace(encrypted=False, users={BOT: None, READER: None})}
        self.invited_rooms: dict[str, Any] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (transaction id, content)
        self.earlier = earlier or []  # the bot's latest events in the room, newest first
        self.events: dict[str, dict[str, Any]] = {}  # what room_get_event finds, by event id

    async def upload(self, data: Any, **_: Any) -> tuple[UploadResponse, None]:
        return UploadResponse(f"mxc://example.org/{len(self.sent)}"), None

    async def room_send(self, room_id: str, event_type: str, content: dict[str, Any], tx_id: str,
                        ignore_unverified_devices: bool = False) -> RoomSendResponse:
        self.sent.append((tx_id, content))
        return RoomSendResponse(f"$event{len(self.sent)}", room_id)

    async def room_get_event(self, room_id: str, event_id: str) -> RoomGetEventResponse | RoomGetEventError:
        if event_id not in self.events:
            return RoomGetEventError("not found", "M_NOT_FOUND")
        return RoomGetEventResponse.from_dict(self.events[event_id])

    async def room_messages(self, room_id: str, **_: Any) -> RoomMessagesResponse:
        return RoomMessagesResponse(room_id, [SimpleNamespace(source=s) for s in self.earlier], "s", "e")


def session_of(client: FakeClient) -> Session:
    session = Session(BOT, SimpleNamespace())  # type: ignore[arg-type]
    session.client = client  # type: ignore[assignment]
    session.ready.set()
    return session


def sender_of(client: FakeClient) -> Sender:
    trust = SimpleNamespace(ignore_unverified=True)
    return Sender(session_of(client), trust, SimpleNamespace(created=set()))  # type: ignore[arg-type]


def copy(key: str = "copy-1", attachments: tuple[Attachment, ...] = (PNG, PNG), *,
         possible_repeat: bool = False) -> Outgoing:
    return Outgoing(key=key, kind=MessageKind.DELIVERY, destination=Destination.chat(ChatRef(Platform.MATRIX, ROOM)),
                    text="[TLP:AMBER] A-2026-0001 · alert\nAltered passports", reference="A-2026-0001",
                    contact="th-npoc", protect_content=False, reply_to=None, attempt=1,
                    possible_repeat=possible_repeat, attachments=attachments)


def recorder() -> tuple[list[tuple[str, tuple[str, ...]]], Callable[..., Any]]:
    calls: list[tuple[str, tuple[str, ...]]] = []

    async def record(key: str, parts: Any) -> None:
        calls.append((key, tuple(parts)))

    return calls, record


def test_a_copy_with_photos_is_recorded_as_its_photos_then_its_text_known_by_the_text() -> None:
    client = FakeClient()
    sender = sender_of(client)
    calls, sender.record_parts = recorder()
    known_by = asyncio.run(sender.send(copy()))
    assert [tx for tx, _ in client.sent] == ["copy-1.file0", "copy-1.file1", "copy-1"]
    assert known_by == "$event3"  # the text, which lists the photos
    assert client.sent[-1][1][FILES_FIELD] == ["$event1", "$event2"]
    # Each photo as it goes (so a text that then fails leaves the copy known by them), then all with the text.
    assert calls == [("copy-1", ("$event1",)), ("copy-1", ("$event1", "$event2")),
                     ("copy-1", ("$event1", "$event2", "$event3"))]
    # A copy of one event is that event alone: nothing more to record.
    calls.clear()
    asyncio.run(sender.send(copy("answer-1", ())))
    assert calls == []


def test_a_copy_found_sent_before_records_the_photos_its_text_lists() -> None:
    """A possible repeat (another device after a failover) is found by its key, not sent again; the
    photos its text lists are recorded with it, so a reply to one still counts."""
    earlier = {"type": "m.room.message", "sender": BOT, "event_id": "$text",
               "content": {"msgtype": "m.notice", "body": "…", KEY_FIELD: "copy-1", FILES_FIELD: ["$p1", "$p2"]}}
    client = FakeClient([earlier])
    sender = sender_of(client)
    calls, sender.record_parts = recorder()
    assert asyncio.run(sender.send(copy(possible_repeat=True))) == "$text"
    assert client.sent == [] and calls == [("copy-1", ("$p1", "$p2", "$text"))]


def test_a_copy_whose_events_could_not_be_recorded_is_tried_again() -> None:
    client = FakeClient()
    sender = sender_of(client)

    async def broken(key: str, parts: Any) -> None:
        raise OSError("database unreachable")

    sender.record_parts = broken
    with pytest.raises(TransientFailure) as raised:
        asyncio.run(sender.send(copy()))
    assert raised.value.code == "parts-not-recorded"


# --- from the send to the judgement of a reply, through the outbox ----------------------------------

class DirectoryOf:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def current(self) -> Directory:
        return self.directory


def _runtime(tmp_path: Path) -> Any:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'bot.db'}")
    upgrade(engine)

    async def run(function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)

    return SimpleNamespace(uow_factory=SqlUnitOfWorkFactory(
        engine, sealing(AesGcmSealer({"k1": os.urandom(32)}, "k1")), ManualClock()),
                           db=SimpleNamespace(run=run), engine=engine)


def test_a_reply_or_a_tick_on_a_copys_photo_is_feedback_or_ack_on_the_copy(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    clock = ManualClock()
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue(OutboundMessage(key="copy-1", kind=MessageKind.DELIVERY,
                                           destination=Destination.chat(ChatRef(Platform.MATRIX, ROOM)),
                                           text="[TLP:AMBER] A-2026-0001 · alert", reference="A-2026-0001",
                                           contact="th-npoc"))
        uow.commit()
    client = FakeClient()
    sender = sender_of(client)
    sender.record_parts = parts_recorder(runtime)
    with runtime.uow_factory() as uow:
        uow.outbox.lease(clock.now(), 10, timedelta(seconds=60))
        uow.commit()
    known_by = asyncio.run(sender.send(copy()))
    with runtime.uow_factory() as uow:
        uow.outbox.mark_sent("copy-1", known_by, clock.now())
        uow.commit()

    directory = Directory.build([Organisation("TH", "Thailand", OrgKind.COUNTRY)],
                                [Contact("th-npoc", "Somchai", "TH", frozenset({Role.CONTACT}),
                                         (UserRef.parse(f"matrix:{READER}"),))], ())
    receiver = Receiver(session_of(client), DirectoryOf(directory), None)  # type: ignore[arg-type]
    receiver.find_sent = sent_finder(runtime)

    def event(event_type: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"type": event_type, "event_id": "$in", "sender": READER, "origin_server_ts": 1_700_000_000_000,
                "content": content}

    photo = "$event1"
    reply = event("m.room.message", {"msgtype": "m.text", "body": "Confirmed, stolen",
                                     "m.relates_to": {"m.in_reply_to": {"event_id": photo}}})
    message = asyncio.run(receiver._inbound(reply, ROOM))
    assert message is not None and message.text == "/reply A-2026-0001 Confirmed, stolen"
    tick = event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$event2", "key": "✅"}})
    message = asyncio.run(receiver._inbound(tick, ROOM))
    assert message is not None and message.text == "/ack A-2026-0001"
    with runtime.uow_factory(read_only=True) as uow:  # still known by its text
        assert uow.outbox.parts_of(Platform.MATRIX, "$event3") == ("$event1", "$event2", "$event3")
    runtime.engine.dispose()


# --- a photo or file sent in answer: the rule and the lookups of a text reply -----------------------

OFFICER = "@officer:example.org"
PAGE = b"\x89PNG the replier's record"


class Fetched:
    """media.download as the receiver calls it: what it was asked for, and the photo's bytes."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def __call__(self, client: Any, url: str) -> bytes:
        self.urls.append(url)
        return PAGE


def _copy_and_reminder_sent(tmp_path: Path) -> tuple[Any, FakeClient, Receiver]:
    """A copy for Somchai sent as its photos then its text ($event1, $event2, $event3), and a reminder of
    it ($reminder); the receiver wired to the outbox as wiring.py wires it (find_delivery too)."""
    runtime = _runtime(tmp_path)
    clock = ManualClock()
    where = Destination.chat(ChatRef(Platform.MATRIX, ROOM))
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue(OutboundMessage(key="copy-1", kind=MessageKind.DELIVERY, destination=where,
                                           text="[TLP:AMBER] A-2026-0001 · alert", reference="A-2026-0001",
                                           contact="th-npoc"))
        uow.outbox.enqueue(OutboundMessage(key="reminder-1", kind=MessageKind.REMINDER, destination=where,
                                           text="Reminder: A-2026-0001", reference="A-2026-0001",
                                           contact="th-npoc"))
        uow.commit()
    client = FakeClient()
    sender = sender_of(client)
    sender.record_parts = parts_recorder(runtime)
    with runtime.uow_factory() as uow:
        uow.outbox.lease(clock.now(), 10, timedelta(seconds=60))
        uow.commit()
    known_by = asyncio.run(sender.send(copy()))
    with runtime.uow_factory() as uow:
        uow.outbox.mark_sent("copy-1", known_by, clock.now())
        uow.outbox.mark_sent("reminder-1", "$reminder", clock.now())
        uow.commit()
    directory = Directory.build(
        [Organisation("TH", "Thailand", OrgKind.COUNTRY), Organisation("MY", "Malaysia", OrgKind.COUNTRY)],
        [Contact("th-npoc", "Somchai", "TH", frozenset({Role.CONTACT}), (UserRef.parse(f"matrix:{READER}"),)),
         Contact("my-officer", "Aisyah", "MY", frozenset({Role.CONTACT}), (UserRef.parse(f"matrix:{OFFICER}"),))],
        ())
    receiver = Receiver(session_of(client), DirectoryOf(directory), delivery_finder(runtime))  # type: ignore[arg-type]
    receiver.find_sent = sent_finder(runtime)
    return runtime, client, receiver


def photo_event(replied: str | None, caption: str | None = None, *, sender: str = READER, thread: str | None = None,
                event_id: str = "$photo") -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.image", "body": caption or "record.png", "filename": "record.png",
                               "info": {"mimetype": "image/png", "size": len(PAGE)}, "url": "mxc://example.org/rec"}
    if thread is not None:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                   "m.in_reply_to": {"event_id": replied or thread}}
    elif replied is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": replied}}
    return {"type": "m.room.message", "event_id": event_id, "sender": sender,
            "origin_server_ts": 1_700_000_000_000, "content": content}


@pytest.mark.parametrize(("replied", "thread"), [
    ("$event1", None),     # the copy's photo: what is in view on a phone
    ("$event3", None),     # the copy's text
    ("$reminder", None),   # a reminder of it
    (None, "$event3"),     # in a thread on the copy
    ("$event2", "$event3"),  # in that thread, a reply to its second photo
])
def test_a_photo_sent_in_answer_to_ones_copy_is_feedback_with_the_photo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replied: str | None, thread: str | None) -> None:
    runtime, client, receiver = _copy_and_reminder_sent(tmp_path)
    fetched = Fetched()
    monkeypatch.setattr(media, "download", fetched)
    for caption, meant in (("Same forger as in March", "/reply A-2026-0001 Same forger as in March"),
                           (None, "/reply A-2026-0001")):
        message = asyncio.run(receiver._inbound(photo_event(replied, caption, thread=thread), ROOM))
        assert message is not None and message.text == meant and message.remark is None
        assert message.attachments == (Attachment("record.png", "image/png", len(PAGE), PAGE),)
        assert message.message_id == "$photo" and message.reply_to is not None
    runtime.engine.dispose()


def test_a_photo_in_answer_to_somebody_elses_copy_is_told_why_and_never_fetched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The originator in the recipients' room: taken as /reply, the photo would be an update to every
    recipient. Answered as the same reply in words is; the photo is never fetched."""
    runtime, client, receiver = _copy_and_reminder_sent(tmp_path)
    fetched = Fetched()
    monkeypatch.setattr(media, "download", fetched)
    for replied in ("$event1", "$event3", "$reminder"):
        message = asyncio.run(receiver._inbound(photo_event(replied, "ours too", sender=OFFICER), ROOM))
        assert message is not None and message.text == "" and message.attachments == ()
        assert message.remark is not None and "went to no one" in message.remark
    assert fetched.urls == []
    # The same reply in words, to the copy's photo, is told the same.
    said = {"type": "m.room.message", "event_id": "$said", "sender": OFFICER, "origin_server_ts": 1_700_000_000_000,
            "content": {"msgtype": "m.text", "body": "ours too", "m.relates_to": {"m.in_reply_to": {"event_id": "$event1"}}}}
    message = asyncio.run(receiver._inbound(said, ROOM))
    assert message is not None and message.remark is not None and "went to no one" in message.remark
    runtime.engine.dispose()


def test_an_edit_of_a_photo_given_as_feedback_says_it_went_as_first_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime, client, receiver = _copy_and_reminder_sent(tmp_path)
    fetched = Fetched()
    monkeypatch.setattr(media, "download", fetched)
    original = photo_event("$event1", "Same forger as in March")  # feedback on the copy, by its photo
    client.events["$photo"] = original
    new = {**original["content"], "body": "Same forger as in March and April"}
    new.pop("m.relates_to")
    edit = {**original, "event_id": "$edit",
            "content": {**new, "body": "* Same forger as in March and April", "m.new_content": new,
                        "m.relates_to": {"rel_type": "m.replace", "event_id": "$photo"}}}
    message = asyncio.run(receiver._inbound(edit, ROOM))
    assert message is not None and message.text == "" and message.edit_of == "$photo"
    assert message.remark is not None and message.remark.startswith(
        "Your feedback on A-2026-0001 was passed on as you first wrote it")
    assert fetched.urls == []  # nothing runs: nothing fetched
    # A text reply to the copy's photo, edited, is told the same (found by the photo, as the reply was).
    client.events["$said"] = {"type": "m.room.message", "event_id": "$said", "sender": READER,
                              "origin_server_ts": 1_700_000_000_000,
                              "content": {"msgtype": "m.text", "body": "Known to us",
                                          "m.relates_to": {"m.in_reply_to": {"event_id": "$event1"}}}}
    retyped = {"type": "m.room.message", "event_id": "$edit2", "sender": READER,
               "origin_server_ts": 1_700_000_000_000,
               "content": {"msgtype": "m.text", "body": "* Known to us since May",
                           "m.new_content": {"msgtype": "m.text", "body": "Known to us since May"},
                           "m.relates_to": {"rel_type": "m.replace", "event_id": "$said"}}}
    message = asyncio.run(receiver._inbound(retyped, ROOM))
    assert message is not None and message.remark is not None and "A-2026-0001" in message.remark
    runtime.engine.dispose()


def test_a_photo_in_conversation_is_never_fetched_nor_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime, client, receiver = _copy_and_reminder_sent(tmp_path)
    fetched = Fetched()
    monkeypatch.setattr(media, "download", fetched)
    assert asyncio.run(receiver._inbound(photo_event(None, "our team today"), ROOM)) is None
    assert fetched.urls == []
    message = asyncio.run(receiver._inbound(photo_event(None, "!alert to:TH tlp:amber Page 2"), ROOM))
    assert message is not None and message.text == "!alert to:TH tlp:amber Page 2" and len(message.attachments) == 1
    # Its caption edited: the command it now is, with the new content's photo, for the dispatcher to
    # judge as a text's edit (run if the first was refused, else answered that it ran).
    new = {**photo_event(None, "!alert to:TH tlp:amber Page 3")["content"], "url": "mxc://example.org/rec3"}
    edit = {**photo_event(None, event_id="$edit"), "content": {
        **new, "body": "* !alert to:TH tlp:amber Page 3", "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$photo"}}}
    message = asyncio.run(receiver._inbound(edit, ROOM))
    assert message is not None and message.text == "!alert to:TH tlp:amber Page 3" and message.edit_of == "$photo"
    assert message.attachments[0].data == PAGE and fetched.urls[-1] == "mxc://example.org/rec3"
    runtime.engine.dispose()
