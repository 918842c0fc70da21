"""Attachments are content: stored sealed under their item's case key, opened again whole, and gone
with the case's erasure (the rows deleted, and a copy of a blob taken before no longer opens).
On SQLite and PostgreSQL (the `audit_engine` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import Attachment, InboundMessage
from storage.audit import erase
from storage.content import attachment_aad
from storage.items import SqlItemRepository
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer, ContentErased
from storage.schema import metadata
from storage.tables import attachments, inbox
from tests.storage.builders import make_item, make_route

PHOTO = b"\xff\xd8\xff\xe0 a passport page " * 50


def _message(clock: ManualClock) -> InboundMessage:
    return InboundMessage("telegram:7", UserRef.parse("telegram:user:101"), ChatRef.parse("telegram:101"),
                          "/alert to:TH tlp:amber\nAltered passport", clock.now(),
                          attachments=(Attachment("passport.jpg", "image/jpeg", len(PHOTO), PHOTO),
                                       Attachment("scan.pdf", "application/pdf", 25_000_000)))  # never fetched


def test_an_attachment_is_sealed_under_its_case_and_erased_with_it(audit_engine: Engine, keyring: Keyring,
                                                                   clock: ManualClock) -> None:
    item = make_item(1)
    reference = item.reference
    message = _message(clock)
    ident = message.attachment_ids()[0]
    metadata.create_all(audit_engine, tables=[inbox])  # filing re-seals the message's inbox row too
    with audit_engine.begin() as connection:
        repository = SqlItemRepository(connection, CaseKeySealer(connection, keyring))
        repository.add(item, make_route("th-npoc"), {"th-npoc": "key-1"})
        repository.file_message(reference, message)
        opened = repository.attachment(reference, ident)
        [row] = connection.execute(select(attachments)).all()  # the unfetched one is not stored
    assert opened is not None and (opened.name, opened.mime, opened.data) == ("passport.jpg", "image/jpeg", PHOTO)
    assert row.size == len(PHOTO) and b"passport" not in bytes(row.data) + bytes(row.meta)

    erase(audit_engine, keyring, str(reference), reason="data subject request", actor="console:admin")

    with audit_engine.begin() as connection:
        assert connection.execute(select(func.count()).select_from(attachments)).scalar_one() == 0
        sealer = CaseKeySealer(connection, keyring)
        with pytest.raises(ContentErased):  # a copy taken before (a backup) does not open either
            sealer.open(bytes(row.data), aad=attachment_aad(str(reference), ident), case=str(reference))
        assert SqlItemRepository(connection, sealer).attachment(reference, ident) is None
        SqlItemRepository(connection, sealer).file_message(reference, message)  # arriving after the erasure
        assert connection.execute(select(func.count()).select_from(attachments)).scalar_one() == 0
