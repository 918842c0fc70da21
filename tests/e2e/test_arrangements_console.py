"""Sharing arrangements end to end: the bot of config.example.toml on the console platform, its inbox,
delivery worker and scheduler rounds driven with a manual clock (tests/e2e/command_world.py), on
SQLite and PostgreSQL. An arrangement recorded in chat expires mid-run; a forward is refused for
lack of the originator's arrangement; the monthly bulletin counts the harmonised incident fields."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind
from tests.conftest import fresh_postgres_database
from tests.e2e.command_world import World

OFFICER, COORDINATOR = UserRef.parse("console:my-officer"), UserRef.parse("console:rso-coordinator")
AUSTRALIA, CANADA = UserRef.parse("console:au-npoc"), UserRef.parse("console:ca-npoc")


def direct(user: UserRef) -> ChatRef:
    chat = user.direct_chat()
    assert chat is not None
    return chat


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="arrange-"))
    cleanups: list[Callable[[], None]] = [lambda: shutil.rmtree(workdir, ignore_errors=True)]
    url = None
    if request.param == "postgres":
        database = fresh_postgres_database(request.getfixturevalue("postgres_admin"))
        url = database.__enter__()
        cleanups.append(lambda: database.__exit__(None, None, None))
    made = World(workdir, url)
    try:
        yield made
    finally:
        made.shutdown()
        for cleanup in reversed(cleanups):
            cleanup()


def _answers(world: World, user: UserRef, text: str) -> list[str]:
    said = world.says(user, direct(user), text)
    world.check_answered(said)
    world.check_sent(said)
    return [m.text for m in said.sent if m.destination.address in (user, direct(user))]


def _deliveries_to(world: World, user: UserRef) -> list[str]:
    return [m.text for m in world.sink.sent if m.destination.address == user and m.kind is MessageKind.DELIVERY]


def test_an_arrangement_recorded_in_chat_reminds_once_and_expires_mid_run(world: World) -> None:
    alert = "/alert to:CA tlp:green topic:document-fraud Two travellers with altered passports, flight XX123"
    assert _answers(world, OFFICER, alert)[0].startswith(
        "Not sent: Malaysia has no sharing arrangement with Canada for document-fraud")
    [recorded] = _answers(world, COORDINATOR, '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" '
                                              "topics:document-fraud until:2026-11-30")
    assert recorded.startswith("Recorded arrangement #3 CA–MY 'MoU MY-CA 2026': document-fraud, until 2026-11-30")
    assert any(" accepted (TLP:GREEN" in a for a in _answers(world, OFFICER, alert))
    assert any("Two travellers" in text for text in _deliveries_to(world, CANADA))
    world.restart()  # the arrangement is the database's: a new start keeps it
    for _ in range(3):
        world.later(timedelta(hours=1))  # the scheduler's rounds, each tick
    reminders = [m for m in world.sink.sent if "ends in 7 days" in m.text]
    assert [m.destination.address for m in reminders] == [COORDINATOR]
    assert reminders[0].text.startswith("Sharing arrangement #3 CA–MY 'MoU MY-CA 2026'")
    world.later(timedelta(days=8))  # 2026-12-01: past its last day
    delivered = len(_deliveries_to(world, CANADA))
    refused = _answers(world, OFFICER, alert)
    assert refused[0].startswith("Not sent: Malaysia has no sharing arrangement in force with Canada for "
                                 "document-fraud: the arrangement MY–CA 'MoU MY-CA 2026' for document-fraud ended on "
                                 "2026-11-30")
    assert len(_deliveries_to(world, CANADA)) == delivered
    listed = _answers(world, COORDINATOR, "/arrangement list")[0]
    assert "#3 CA–MY 'MoU MY-CA 2026': document-fraud, until 2026-11-30 — ended on 2026-11-30" in listed
    world.check_stores()
    world.check_audit()


def test_a_forward_is_refused_for_lack_of_the_originators_arrangement(world: World) -> None:
    _answers(world, OFFICER, "/alert to:AU tlp:green topic:document-fraud Two travellers, flight XX123")
    assert any("Two travellers" in text for text in _deliveries_to(world, AUSTRALIA))
    refused = _answers(world, AUSTRALIA, '/forward A-2026-0001 to:CA purpose:"joint investigation"')
    assert refused[0].startswith("Not forwarded: Malaysia has no sharing arrangement with Canada for document-fraud")
    assert "an item goes on only where its originator, Immigration liaison officer (Malaysia), could send it" \
        in refused[0]
    assert _deliveries_to(world, CANADA) == []
    # Australia's own arrangement with Canada still carries Australia's items.
    sent = _answers(world, AUSTRALIA, "/alert to:CA tlp:green topic:document-fraud Forged visas seen at DRW")
    assert any(" accepted (TLP:GREEN" in a for a in sent)
    assert any("Forged visas" in text for text in _deliveries_to(world, CANADA))
    world.check_stores()
    world.check_audit()


def test_the_monthly_bulletin_counts_the_harmonised_fields_from_five(world: World) -> None:
    for n in range(5):
        fields = f"persons:{n + 1} nationalities:MM,BD method:sea route:MM>TH>MY"
        _answers(world, OFFICER, f"/alert to:TH tlp:amber topic:people-smuggling {fields} Boat landing {n}")
    _answers(world, OFFICER, "/alert to:TH tlp:amber persons:1 nationalities:AF method:air document:passport "
                             "issuer:AF Flight KUL-BKK")
    delivered = [m.text for m in world.sink.sent if m.destination.address == UserRef.parse("console:th-npoc")]
    assert any("Incident: 3 persons · nationalities MM, BD · sea · route MM→TH→MY" in text for text in delivered)
    world.later(timedelta(days=8))  # 1 December: the November bulletin
    [sent] = [m for m in world.sink.sent if "Monthly bulletin · November 2026" in m.text]
    bulletin, lines = sent.text, sent.text.splitlines()
    # The scheduler's own rounds (reminder_service) draw its chart, sent with it as a PNG.
    assert [(a.name, a.mime) for a in sent.attachments] == [("items-by-topic-2026-11.png", "image/png")]
    assert (sent.attachments[0].data or b"").startswith(b"\x89PNG")
    assert "Harmonised fields (6 items with them; counts under 5 are not shown):" in lines
    assert "  Persons reported: 16" in lines
    assert "  By nationality: BD 5, MM 5" in lines and "  By method: sea 5" in lines
    assert "  By origin: MM 5" in lines and "  By transit: TH 5" in lines and "  By destination: MY 5" in lines
    assert not any("AF" in line or "air" in line or "passport" in line for line in lines)  # one item: not shown
    assert "Boat landing" not in bulletin  # AMBER: counted, never carried
    world.check_stores()
    world.check_audit()


def test_an_erased_item_is_no_longer_counted(world: World) -> None:
    stats = UserRef.parse("console:rso-auditor")
    _answers(world, OFFICER, "/alert to:TH tlp:amber persons:7 nationalities:MM Boat at Satun")
    assert "Persons reported: 7" in _answers(world, stats, "/stats 2026-11")[0]
    world.erase("A-2026-0001")
    assert "Harmonised fields" not in _answers(world, stats, "/stats 2026-11")[0]


def test_a_hub_room_receives_a_green_alert_but_never_an_amber_strict_one(world: World) -> None:
    admin, kul = UserRef.parse("console:rso-admin"), ChatRef.parse("console:#kul")
    registered = _answers(world, admin, '/room register console:#kul name:"KUL airport" purpose:network '
                                        "orgs:MY,TH hubs:KUL")
    assert registered[0].startswith("Registered KUL airport (console:#kul) · network · MY, TH · only items of hubs KUL")
    world.restart()  # registered in the database: a new start keeps it
    green, strict = world.mark(OFFICER, direct(OFFICER)), world.mark(OFFICER, direct(OFFICER))
    receipts = []
    for marker, text in ((green, "/alert to:TH tlp:green hub:KUL {} two travellers at gate C3"),
                         (strict, "/alert to:TH tlp:amber+strict hub:KUL {} named informant at gate C3")):
        said = world.says(OFFICER, direct(OFFICER), text.format(marker.word))
        world.learn(marker)
        world.check_sent(said)  # the world's own check: no strict content in any room
        receipts += [m.text for m in said.sent if m.kind is MessageKind.RECEIPT]
    assert "Posted in KUL airport." in receipts[0]
    assert ("Not posted in a room for National point of contact (Thailand): TLP:AMBER+STRICT is posted only in "
            "the recipient organisation's own room, and KUL airport is not one") in receipts[1]
    in_room = [m.text for m in world.sink.sent if m.destination.address == kul]
    assert len(in_room) == 1 and green.word in in_room[0]
    assert any(strict.word in m.text for m in world.sink.sent
               if m.destination.address == UserRef.parse("console:th-npoc"))  # Thailand's direct chat instead
    retired = _answers(world, admin, "/room retire console:#kul the airport desk moved")
    assert retired[0].startswith("Retired KUL airport (console:#kul)")
    assert "No room is registered for hub KUL" in _answers(world, OFFICER, "/alert to:TH tlp:green hub:KUL Boat")[0]
    world.check_stores()
    world.check_audit()
