"""Across platforms: one runtime serving Matrix (the real Synapse) and Telegram (the fake Bot API).

An alert posted in a Matrix room reaches a contact whose first identity is Telegram; that contact's
Matrix identity is the same contact (an acknowledgement typed on Matrix acknowledges the delivery
made on Telegram); a request typed in Telegram reaches a Matrix user.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import pytest_asyncio

from alerts.items import Reference
from bot.runtime.app import add_receiver, build_runtime, vocabulary_for
from bot.config.settings import load_settings
from bot.connectors.matrix.wiring import matrix_connector_for
from bot.connectors.telegram import telegram_connector_for
from bot.runtime.serve import serve
from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import UntilStopped, both_platforms_sections, write_config
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Chat
from tests.telegram.support import TH_NPOC, eventually, relaxed

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

REF = re.compile(r"\b([AR]-\d{4}-\d{4})\b")


def both_platforms_toml(*, homeserver: str, bot: str, officer: str, somchai: str, admin: str, api_url: str,
                        network_room: str) -> str:
    return f"""\
{both_platforms_sections(homeserver, bot, api_url)}

[network]
name = "Test liaison network"
topics = ["document-fraud", "people-smuggling"]
organisations = [
  {{ code = "MY", name = "Malaysia", kind = "country" }},
  {{ code = "TH", name = "Thailand", kind = "country" }},
  {{ code = "RSO", name = "Regional Support Office", kind = "coordinator" }},
]

[[network.contacts]]
id = "my-officer"
name = "Aminah"
organisation = "MY"
roles = ["officer", "contact"]
identities = ["matrix:{officer}"]

[[network.contacts]]
id = "th-npoc"
name = "Somchai"
organisation = "TH"
roles = ["contact", "officer"]
identities = ["telegram:user:{TH_NPOC.id}", "matrix:{somchai}"]

[[network.contacts]]
id = "rso-admin"
name = "Admin"
organisation = "RSO"
roles = ["admin", "coordinator"]
identities = ["matrix:{admin}"]

[[network.rooms]]
chat = "matrix:{network_room}"
name = "Network"
purpose = "network"
organisations = ["all"]

[routing]
post = "direct"
"""


class TwoPlatforms:
    def __init__(self, synapse: Synapse, root: Path) -> None:
        self.synapse = synapse
        self.root = root
        self.bot_account = synapse.register("liaison-bot-x")
        synapse.override_ratelimit(self.bot_account.user_id, 0, 0)
        self.officer = Person(synapse.url, synapse.register("aminah-x"), root / "people" / "officer")
        self.somchai = Person(synapse.url, synapse.register("somchai-x"), root / "people" / "somchai")
        self.admin = Person(synapse.url, synapse.register("admin-x"), root / "people" / "admin")
        self.telegram = FakeBotApi()

    async def start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.telegram.start()
        self.telegram.world.chat(Chat(TH_NPOC.id, "private", TH_NPOC.first_name))
        limiter = relaxed(self.telegram)
        await asyncio.gather(self.officer.login(), self.somchai.login(), self.admin.login())
        bot = self.bot_account.user_id
        self.network_room = await self.admin.create_room([bot, self.officer.user_id, self.somchai.user_id],
                                                         name="Network")
        for person in (self.officer, self.somchai):
            await person.wait_for(lambda p=person: self.network_room in p.invites, what="the invite")
            await person.join(self.network_room)
        config = write_config(self.root / "bot", both_platforms_toml(
            homeserver=self.synapse.url, bot=bot, officer=self.officer.user_id, somchai=self.somchai.user_id,
            admin=self.admin.user_id, api_url=self.telegram.base_url, network_room=self.network_room))
        monkeypatch.setenv("LIAISON_TEST_MATRIX_PASSWORD", self.bot_account.password)
        monkeypatch.setenv("LIAISON_TEST_MATRIX_PICKLE_KEY", "across-platforms-pickle-key")
        monkeypatch.setenv("LIAISON_TEST_TELEGRAM_TOKEN", self.telegram.token)
        settings = load_settings(config)
        self.runtime = build_runtime(settings)
        self.matrix = matrix_connector_for(self.runtime, sync_timeout_ms=3000)
        self.telegram_connector = telegram_connector_for(self.runtime, vocabulary_for(settings), limiter=limiter,
                                                         poll_timeout=1, request_timeout=2.0)
        add_receiver(self.runtime, self.matrix)
        add_receiver(self.runtime, self.telegram_connector)
        self.session = UntilStopped()
        self.task = asyncio.create_task(serve(self.runtime, self.session))
        await eventually(lambda: (self.matrix.connected and self.telegram_connector.connected) or self.task.done(),
                         "both connectors to start", timeout=120)
        if self.task.done():
            self.task.result()
        await self.admin.wait_for(lambda: bot in self.admin.client.rooms[self.network_room].users
                                  and not self.admin.client.rooms[self.network_room].users[bot].invited,
                                  what="the bot in the network room")

    async def close(self) -> None:
        self.session.stop.set()
        await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), timeout=120)
        await asyncio.gather(self.officer.close(), self.somchai.close(), self.admin.close())
        await self.telegram.close()

    def delivery_state(self, reference: str, contact: str) -> str | None:
        with self.runtime.uow_factory(read_only=True) as uow:
            record = uow.items.get(Reference.parse(reference))
            delivery = record.delivery_to(contact) if record else None
            return delivery.state if delivery else None

    def bot_said(self, person: Person, room_id: str | None = None) -> list[str]:
        return [event.body for _, event in person.messages(room_id, sender=self.bot_account.user_id)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def both(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    monkeypatch = pytest.MonkeyPatch()
    world = TwoPlatforms(synapse, tmp_path_factory.mktemp("across"))
    try:
        await world.start(monkeypatch)
        yield world
    finally:
        await world.close()
        monkeypatch.undo()


async def test_an_alert_posted_in_matrix_reaches_a_telegram_contact(both: TwoPlatforms) -> None:
    await both.officer.say(both.network_room, "!alert to:TH tlp:amber topic:document-fraud grade:B2\n"
                                              "Altered passports on flight XX123 KUL-BKK.")
    receipts = await both.officer.wait_for(
        lambda: [b for b in both.bot_said(both.officer, both.network_room) if " accepted (" in b and REF.search(b)],
        what="the receipt in the network room")
    reference = REF.search(receipts[-1]).group(1)
    await eventually(lambda: [s for s in both.telegram.sent_to(TH_NPOC.id) if reference in s.text],
                     "the delivery in Somchai's Telegram chat", timeout=60)
    delivery = next(s for s in both.telegram.sent_to(TH_NPOC.id) if reference in s.text)
    assert delivery.text.startswith("[TLP:AMBER] document-fraud · from Malaysia\nAltered passports")
    assert "Altered passports on flight XX123" in delivery.text
    assert delivery.protect_content, "AMBER is protected content on Telegram"
    both.amber = reference

    # Somchai answers from Matrix: his Matrix identity is the same contact as his Telegram one.
    await both.somchai.say(both.network_room, f"!ack {reference}")
    await both.somchai.wait_for(lambda: both.delivery_state(reference, "th-npoc") == "acknowledged",
                                what="the acknowledgement of the Telegram delivery")


async def test_a_request_typed_in_telegram_reaches_a_matrix_user(both: TwoPlatforms) -> None:
    before = set(both.officer.invites)
    both.telegram.says(TH_NPOC, "/request to:@my-officer tlp:green topic:document-fraud purpose:\"passport check\"\n"
                                "Please check passport A1234567 against your records.")

    def receipts() -> list[str]:
        return [s.text for s in both.telegram.sent_to(TH_NPOC.id) if " accepted (" in s.text and "R-" in s.text]

    await eventually(receipts, "the receipt in Somchai's Telegram chat", timeout=60)
    reference = REF.search(receipts()[-1]).group(1)
    assert reference.startswith("R-")
    invited = await both.officer.wait_for(lambda: set(both.officer.invites) - before,
                                          what="the officer's direct chat with the bot")
    (direct,) = invited
    await both.officer.join(direct)
    delivered = await both.officer.wait_for(
        lambda: [b for b in both.bot_said(both.officer, direct) if reference in b], what="the request on Matrix")
    assert delivered[0].startswith("[TLP:GREEN] document-fraud · from Thailand\nPlease check passport")
    assert "Please check passport A1234567" in delivered[0]


PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 30 + b"passport page 2"  # bytes a phone might send


def bot_files(both: TwoPlatforms, person: Person, room_id: str | None = None) -> list:
    return [event for _, event in person.messages(room_id, sender=both.bot_account.user_id)
            if event.source["content"].get("msgtype") in ("m.image", "m.file")]


async def test_a_photo_alert_from_telegram_reaches_a_matrix_user_as_an_encrypted_image(both: TwoPlatforms) -> None:
    before = set(both.officer.invites)
    both.telegram.sends_photo(TH_NPOC, PHOTO, "/alert to:@my-officer tlp:amber topic:document-fraud\n"
                                              "Altered passport, page 2: see the laminate")
    receipts = lambda: [s.text for s in both.telegram.sent_to(TH_NPOC.id)  # noqa: E731
                        if re.search(r"A-\d{4}-\d{4} accepted \(", s.text)]
    await eventually(receipts, "the receipt in Somchai's Telegram chat", timeout=60)
    reference = REF.search(receipts()[-1]).group(1)
    # The officer's direct chat with the bot: made for the request before, or now.
    known = [room for room in both.officer.client.rooms if room != both.network_room]
    if known:
        direct = known[0]
    else:
        (direct,) = await both.officer.wait_for(lambda: set(both.officer.invites) - before,
                                                what="the officer's direct chat with the bot")
        await both.officer.join(direct)
    both.officer_direct = direct
    [image] = await both.officer.wait_for(lambda: bot_files(both, both.officer, direct), what="the image on Matrix")
    content = image.source["content"]
    assert content["msgtype"] == "m.image" and content["info"]["mimetype"] == "image/jpeg"
    assert "file" in content and "url" not in content, "the direct chat is encrypted: so is the upload"
    assert await both.officer.fetch_file(image) == PHOTO
    text = await both.officer.wait_for(lambda: [b for b in both.bot_said(both.officer, direct) if reference in b],
                                       what="the alert's text after the image")
    assert "Altered passport, page 2" in text[0]
    both.photo_alert = reference


async def test_a_photo_alert_from_matrix_reaches_a_telegram_contact_as_a_photo(both: TwoPlatforms) -> None:
    direct = getattr(both, "officer_direct", None)
    assert direct is not None, "the test before made the officer's direct chat"
    photo = PHOTO[::-1]
    await both.officer.send_file(direct, photo, "page-3.jpg", "image/jpeg",
                                 "!alert to:TH tlp:amber topic:document-fraud\nPage 3, the visa stamp")
    await eventually(lambda: [s for s in both.telegram.sent_to(TH_NPOC.id) if s.media == "photo" and s.file == photo],
                     "the photo in Somchai's Telegram chat", timeout=60)
    [sent] = [s for s in both.telegram.sent_to(TH_NPOC.id) if s.file == photo]
    assert "Page 3, the visa stamp" in sent.text and sent.protect_content


async def test_a_pdf_from_telegram_reaches_matrix_as_an_encrypted_file(both: TwoPlatforms) -> None:
    direct = getattr(both, "officer_direct", None)
    assert direct is not None, "an earlier test made the officer's direct chat"
    pdf = b"%PDF-1.4 manifest of flight XX123 " * 200
    already = len(bot_files(both, both.officer, direct))
    both.telegram.sends_document(TH_NPOC, pdf, "manifest.pdf", "application/pdf",
                                 "/alert to:@my-officer tlp:green topic:document-fraud\nThe manifest of XX123")
    files = await both.officer.wait_for(lambda: bot_files(both, both.officer, direct)[already:],
                                        what="the file on Matrix")
    content = files[0].source["content"]
    assert (content["msgtype"], content["filename"], content["info"]["mimetype"]) == \
        ("m.file", "manifest.pdf", "application/pdf")
    assert await both.officer.fetch_file(files[0]) == pdf


async def test_a_file_of_another_type_from_matrix_is_refused_and_routes_nothing(both: TwoPlatforms) -> None:
    direct = getattr(both, "officer_direct", None)
    assert direct is not None, "an earlier test made the officer's direct chat"
    sent_before = len(both.telegram.sent_to(TH_NPOC.id))
    await both.officer.send_file(direct, b"PK\x03\x04 a zip", "bundle.zip", "application/zip",
                                 "!alert to:TH tlp:amber\nThe bundle")
    answers = await both.officer.wait_for(
        lambda: [b for b in both.bot_said(both.officer, direct) if "bundle.zip" in b], what="the refusal")
    assert answers[0].startswith("Not sent: the attachment bundle.zip is of type application/zip")
    assert len(both.telegram.sent_to(TH_NPOC.id)) == sent_before


async def test_a_photo_sent_on_matrix_as_a_reply_reaches_the_telegram_originator(both: TwoPlatforms) -> None:
    reference = getattr(both, "photo_alert", None)
    direct = getattr(both, "officer_direct", None)
    assert reference is not None and direct is not None, "an earlier test sent the photo alert"
    [delivery] = [e for _, e in both.officer.messages(direct, sender=both.bot_account.user_id)
                  if reference in getattr(e, "body", "")
                  and e.source["content"].get("msgtype") in ("m.notice", "m.text")][:1]
    answer = b"\x89PNG our matching record " * 40
    await both.officer.send_file(direct, answer, "record.png", "image/png", "Known to us: stolen in 2024",
                                 reply_to=delivery.event_id)
    await eventually(lambda: [s for s in both.telegram.sent_to(TH_NPOC.id) if s.file == answer],
                     "the feedback's photo on Telegram", timeout=60)
    [sent] = [s for s in both.telegram.sent_to(TH_NPOC.id) if s.file == answer]
    assert sent.media == "photo" and reference in sent.text and "Known to us: stolen in 2024" in sent.text
