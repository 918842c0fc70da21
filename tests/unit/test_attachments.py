"""The attachment limits (alerts.attachments), the dispatcher's refusals, and the console's view of a file."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from alerts.attachments import AttachmentPolicy
from alerts.directory import Directory
from alerts.identity import UserRef
from alerts.messages import Attachment, MessageKind
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.console import ConsoleConnector
from alerts.due import DuePolicy
from alerts.items import Reference
from alerts.routing import PostIn, RoutingPolicy
from handlers.post_item import PostingPolicy
from tests.fakes import FixedDirectory, MemoryUnitOfWork
from tests.sample_network import network_with_rooms
from tests.unit.test_followup_harness import Bot

PDF = Attachment("manifest.pdf", "application/pdf", 5, b"%PDF-")


def test_within_the_limits_nothing_is_said() -> None:
    assert AttachmentPolicy().refusal([PDF, Attachment("p.jpg", "image/jpeg", 3, b"abc")]) is None


def test_each_limit_is_named_with_what_is_accepted() -> None:
    policy = AttachmentPolicy(max_bytes=4, types=frozenset({"application/pdf"}), max_count=1)
    assert policy.refusal([PDF]) == (
        "Not sent: the attachment manifest.pdf is 5 bytes; accepted: up to 4 bytes each, of type application/pdf. "
        "Send a smaller file (a lower resolution, or fewer pages).")
    assert policy.refusal([Attachment("x.zip", "application/zip", 2, b"PK")]).startswith(
        "Not sent: the attachment x.zip is of type application/zip; accepted:")
    assert policy.refusal([PDF, PDF]) == "Not sent: 2 attachments, at most 1 go with one message."
    unfetched = Attachment("scan.pdf", "application/pdf", 3)  # within the limits, but not fetched
    assert policy.refusal([unfetched]) == "Not sent: the attachment scan.pdf could not be fetched. Send it again."


def test_an_attachment_never_shows_its_name_or_bytes_in_a_repr() -> None:
    assert repr(PDF) == "Attachment(application/pdf, 5 bytes)"


async def test_the_console_shows_a_files_name_type_and_size() -> None:
    out = io.StringIO()
    console = ConsoleConnector(FixedDirectory(Directory.build((), ())), out)
    await console.send(Outgoing("k1", MessageKind.DELIVERY, Destination.direct(UserRef.parse("console:th-npoc")),
                                "[TLP:AMBER] A-2026-0001", "A-2026-0001", "th-npoc", True, None, 1,
                                attachments=(Attachment("passport.jpg", "image/jpeg", 1_234_567, b"x"),)))
    assert "│ [attachment: passport.jpg, image/jpeg, 1.2 MB]" in out.getvalue()


def test_an_alerts_files_go_with_its_deliveries_and_its_forwards_but_not_a_replys() -> None:
    bot = Bot(network_with_rooms(), PostingPolicy(DuePolicy.default(), routing=RoutingPolicy(post=PostIn.DIRECT)))
    photo = Attachment("passport.jpg", "image/jpeg", 4, b"\xff\xd8pp")
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Two travellers", attachments=(photo,))
    [delivery] = [m for m in bot.messages_to("th-npoc") if m.kind is MessageKind.DELIVERY]
    assert delivery.attachments == ("console:e1/0",) and delivery.protect_content
    bot.says("th-npoc", "/reply A-2026-0001 our record", attachments=(Attachment("r.pdf", "application/pdf", 3, b"%PD"),))
    bot.says("th-npoc", '/forward A-2026-0001 to:TH/immigration purpose:"joint investigation"')
    [forwarded] = [m for m in bot.messages_to("th-immigration") if m.kind is MessageKind.DELIVERY]
    assert forwarded.attachments == ("console:e1/0",)  # the item's own photo, not the reply's file
    with MemoryUnitOfWork(bot.store) as uow:
        assert uow.items.attachment(Reference.parse("A-2026-0001"), "console:e1/0") == \
            Attachment("passport.jpg", "image/jpeg", 4, b"\xff\xd8pp", "console:e1/0")


def test_a_photo_sent_as_feedback_without_words_is_the_feedback() -> None:
    """A photo with no caption sent in answer to one's copy (Element Web sends no caption) comes as
    "/reply REF" with the photo: it is the feedback, and the originator gets it, said to be a photo alone.
    Typed without a photo, /reply REF still waits for its text."""
    bot = Bot(network_with_rooms(), PostingPolicy(DuePolicy.default(), routing=RoutingPolicy(post=PostIn.DIRECT)))
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Is this passport known to you?")
    record = Attachment("record.png", "image/png", 4, b"\x89PNG")
    answers = bot.says("th-npoc", "/reply A-2026-0001", attachments=(record,))
    assert any(a.startswith("Your feedback on A-2026-0001 goes to") for a in answers), answers
    [feedback] = [m for m in bot.messages_to("my-officer") if m.kind is MessageKind.FEEDBACK]
    assert feedback.attachments == ("console:e2/0",)
    assert "(a photo, with no text)" in feedback.text
    answers = bot.says("th-npoc", "/reply A-2026-0001")
    assert answers == ["Send the text of your reply now, or /cancel. I wait 5 minutes for it."]
    bot.says("th-npoc", "/cancel")
    files = (record, Attachment("scan.pdf", "application/pdf", 3, b"%PD"))
    bot.says("th-npoc", "/reply A-2026-0001", attachments=files)
    assert "(2 attachments, with no text)" in bot.last_to("my-officer")
