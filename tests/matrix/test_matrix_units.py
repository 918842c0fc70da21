"""The Matrix connector's pure parts: rendering, reading events, error mapping, private files, the gate.
No homeserver needed."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from nio import ErrorResponse, RoomSendError

from alerts.identity import ChatRef, MessageRef, Platform
from alerts.messages import MessageKind
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.matrix.errors import SessionExpired, from_exception, from_response, retry_after_seconds
from bot.connectors.matrix.files import private_dir, touch_private, write_json
from bot.connectors.matrix.gate import RateGate
from bot.connectors.matrix.model import sync_filter
from bot.connectors.matrix.sansio.inbound import (
    MatrixReaction,
    MatrixText,
    own_join_index,
    read_event,
    reply_command,
    strip_reply_fallback,
)
from bot.connectors.matrix.sansio.outbound import formatted_body, message_content
from bot.connectors.matrix.sansio.rooms import is_direct_with
from bot.connectors.errors import PermanentFailure, RateLimited, TransientFailure, UnknownOutcome

ROOM = "!room:example.org"


def outgoing(text: str, reply_to: MessageRef | None = None) -> Outgoing:
    return Outgoing(key="k1", kind=MessageKind.DELIVERY,
                    destination=Destination.chat(ChatRef(Platform.MATRIX, ROOM)), text=text, reference="A-2026-0001",
                    contact="th-npoc", protect_content=True, reply_to=reply_to, attempt=1)


# --- rendering ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tlp, colour", [("CLEAR", "#FFFFFF"), ("GREEN", "#33FF00"), ("AMBER", "#FFC000"),
                                         ("AMBER+STRICT", "#FFC000"), ("RED", "#FF2B2B")])
def test_the_banner_is_bold_with_the_tlp_label_in_its_tlp2_colour(tlp: str, colour: str) -> None:
    html = formatted_body(f"[TLP:{tlp}] A-2026-0001 · URGENT alert\nTLP:{tlp}: meaning.\nBody <b>x</b> & co")
    head, second, body = html.split("<br>")
    assert head == (f'<strong><span data-mx-color="{colour}" data-mx-bg-color="#000000">[TLP:{tlp}]</span>'
                    " A-2026-0001 · URGENT alert</strong>")
    assert second.startswith(f'<span data-mx-color="{colour}"')
    assert body == "Body &lt;b&gt;x&lt;/b&gt; &amp; co"


def test_a_plain_answer_is_escaped_and_not_bolded() -> None:
    assert formatted_body("Use /ack <ref>\nsecond") == "Use /ack &lt;ref&gt;<br>second"


def test_the_content_is_a_notice_with_plain_and_html_bodies_and_a_reply_relation_in_the_same_room() -> None:
    text = "[TLP:RED] A-2026-0001 · alert\nbody"
    content = message_content(outgoing(text, MessageRef(ChatRef(Platform.MATRIX, ROOM), "$orig")), ROOM)
    assert content["msgtype"] == "m.notice" and content["body"] == text
    assert content["format"] == "org.matrix.custom.html"
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$orig"}}
    other = message_content(outgoing(text, MessageRef(ChatRef(Platform.MATRIX, "!other:x"), "$orig")), ROOM)
    assert "m.relates_to" not in other


# --- reading events -----------------------------------------------------------------------------

def message(body: str, relates: dict | None = None, msgtype: str = "m.text", **content: object) -> dict:
    c = {"msgtype": msgtype, "body": body, **content}
    if relates is not None:
        c["m.relates_to"] = relates
    return {"type": "m.room.message", "event_id": "$e", "sender": "@a:x", "origin_server_ts": 1_700_000_000_000,
            "content": c}


def test_the_reply_fallback_is_stripped() -> None:
    body = "> <@bot:x> [TLP:AMBER] A-2026-0001 · URGENT alert\n> TLP:AMBER: ...\n\nConfirmed, stolen"
    assert strip_reply_fallback(body) == "Confirmed, stolen"
    assert strip_reply_fallback("no quote\n> later") == "no quote\n> later"
    read = read_event(message(body, {"m.in_reply_to": {"event_id": "$d"}}), ROOM)
    assert isinstance(read, MatrixText) and read.text == "Confirmed, stolen" and read.targets == ("$d",)


def test_a_quote_without_a_reply_relation_is_kept() -> None:
    read = read_event(message("> quoted\n\n!alert to:TH x"), ROOM)
    assert isinstance(read, MatrixText) and read.text.startswith("> quoted")


def test_a_thread_reply_names_the_thread_root_first() -> None:
    relates = {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
               "m.in_reply_to": {"event_id": "$latest"}}
    read = read_event(message("hit", relates), ROOM)
    assert isinstance(read, MatrixText) and read.targets == ("$root", "$latest")


def test_notices_media_and_edits_without_new_content_are_not_read() -> None:
    assert read_event(message("!alert x", msgtype="m.notice"), ROOM) is None
    assert read_event(message("* !alert x", {"rel_type": "m.replace", "event_id": "$e0"}), ROOM) is None
    assert read_event(message("pic.png", msgtype="m.image"), ROOM) is None


def test_an_edit_is_read_as_the_text_it_makes_marked_as_an_edit_of_the_original() -> None:
    new = {"msgtype": "m.text", "body": "!alert to:TH x"}
    read = read_event(message("* !alert to:TH x", {"rel_type": "m.replace", "event_id": "$e0"},
                              **{"m.new_content": new}), ROOM)
    assert isinstance(read, MatrixText) and read.text == "!alert to:TH x" and read.edit_of == "$e0"
    assert read.event_id == "$e"
    image = {"msgtype": "m.image", "body": "pic.png"}
    assert read_event(message("* pic", {"rel_type": "m.replace", "event_id": "$e0"}, **{"m.new_content": image}),
                      ROOM) is None


@pytest.mark.parametrize("key, acks", [("\u2705", True), ("\U0001F44D", True), ("\U0001F44D\U0001F3FD", True),
                                        ("\u2714\ufe0f", True), ("\u2714", True), ("\u2611\ufe0f", True),
                                        ("\u2764\ufe0f", False), ("\U0001F44E", False)])
def test_acknowledging_reactions(key: str, acks: bool) -> None:
    source = {"type": "m.reaction", "event_id": "$r", "sender": "@a:x", "origin_server_ts": 1,
              "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$d", "key": key}}}
    read = read_event(source, ROOM)
    assert isinstance(read, MatrixReaction) and read.target == "$d" and read.acknowledges is acks


def test_a_reply_becomes_a_reply_command_unless_it_is_a_command() -> None:
    assert reply_command("A-2026-0001", "Confirmed") == "/reply A-2026-0001 Confirmed"
    assert reply_command("A-2026-0001", "/ack A-2026-0001") == "/ack A-2026-0001"
    assert reply_command("A-2026-0001", "!status A-2026-0001") == "!status A-2026-0001"


def test_only_events_after_the_bots_own_join_count() -> None:
    join = {"type": "m.room.member", "state_key": "@bot:x", "content": {"membership": "join"},
            "unsigned": {"prev_content": {"membership": "invite"}}}
    rename = {**join, "unsigned": {"prev_content": {"membership": "join"}}}
    events = [SimpleNamespace(source=s) for s in ({"type": "m.room.message"}, join, {"type": "m.room.message"},
                                                  rename)]
    assert own_join_index(events, "@bot:x") == 1


def test_a_direct_chat_is_recognised_by_the_marker_or_is_direct() -> None:
    marker = {"type": "org.liaison_bot.direct", "state_key": "", "content": {"user_id": "@u:x"}}
    assert is_direct_with([marker], "@u:x") and not is_direct_with([marker], "@v:x")
    joined = {"type": "m.room.member", "content": {"membership": "join"},
              "unsigned": {"prev_content": {"membership": "invite", "is_direct": True}}}
    assert is_direct_with([joined], "@u:x")
    assert not is_direct_with([{"type": "m.room.member", "content": {"membership": "join"}}], "@u:x")


def test_the_sync_filter_keeps_only_what_the_bot_reads() -> None:
    room = sync_filter(7)["room"]
    assert room["timeline"]["limit"] == 7
    assert set(room["timeline"]["types"]) >= {"m.room.message", "m.reaction", "m.room.encrypted", "m.room.member"}


# --- errors -------------------------------------------------------------------------------------

def error(errcode: str, status: int, retry_after_ms: int | None = None, header: str | None = None) -> ErrorResponse:
    body = {"errcode": errcode, "error": "x"}
    if retry_after_ms is not None:
        body["retry_after_ms"] = retry_after_ms
    response = RoomSendError.from_dict(body, ROOM)
    response.transport_response = SimpleNamespace(status=status, headers={"Retry-After": header} if header else {})
    return response


def test_a_429_is_rate_limited_with_the_longer_of_body_and_header() -> None:
    mapped = from_response(error("M_LIMIT_EXCEEDED", 429, 1500, "2"), "send")
    assert isinstance(mapped, RateLimited) and mapped.retryable and mapped.retry_after == 2.0
    assert from_response(error("M_LIMIT_EXCEEDED", 429, 2500), "send").retry_after == 2.5
    assert from_response(error("M_UNKNOWN", 429), "send").retry_after == 5.0  # nothing named: a default
    assert retry_after_seconds(error("M_LIMIT_EXCEEDED", 429, None, "Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0


@pytest.mark.parametrize("errcode, status, kind", [
    ("M_FORBIDDEN", 403, PermanentFailure), ("M_NOT_FOUND", 404, PermanentFailure),
    ("M_TOO_LARGE", 413, PermanentFailure), ("M_UNKNOWN", 500, TransientFailure),
    ("M_UNKNOWN", 502, TransientFailure), ("M_UNKNOWN_TOKEN", 401, SessionExpired),
])
def test_error_responses_map_once(errcode: str, status: int, kind: type) -> None:
    mapped = from_response(error(errcode, status), "send")
    assert type(mapped) is kind and mapped.code == errcode


def test_exceptions_map_by_whether_the_request_went_out() -> None:
    assert isinstance(from_exception(asyncio.TimeoutError(), "send"), UnknownOutcome)
    assert type(from_exception(asyncio.TimeoutError(), "keys", request_sent=False)) is TransientFailure
    import aiohttp

    assert isinstance(from_exception(aiohttp.ServerDisconnectedError(), "send"), UnknownOutcome)


# --- private files and the gate -----------------------------------------------------------------

def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = private_dir(tmp_path / "matrix")
        touch_private(store / "crypto.db")
        write_json(store / "session.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for name in ("crypto.db", "session.json"):
        assert stat.S_IMODE((store / name).stat().st_mode) == 0o600
    assert not list(store.glob(".*.tmp"))


async def test_the_gate_holds_requests_for_the_whole_window() -> None:
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    gate.block(2.0)
    gate.block(0.5)  # a shorter window never shortens the one in force
    assert gate.remaining == 2.0
    waiting = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    now[0] = 102.0
    await asyncio.wait_for(waiting, timeout=5)
