"""bot.actions.supersede: an earlier revision's copy is edited through its platform's connector, and
where it cannot be (for good, or once the retries ran out) the one-line notice is queued instead, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from alerts.clock import ManualClock
from alerts.identity import Platform, UserRef
from alerts.lifecycle import Withdrawal
from alerts.messages import MessageKind
from alerts.routing import Destination
from alerts.supersede import Supersession, supersede_message
from bot.actions.supersede import supersede
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure, PlatformError, TransientFailure
from bot.runtime.dbthread import DatabaseThread
from storage.sealing import AesGcmSealer
from storage.tables import outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.bot.test_delivery_worker import SharedAudit
from tests.storage.builders import make_item, make_route, sealing

PLACE = Destination.direct(UserRef.parse("console:th-npoc"))
MARK = Supersession("console-3", "A-2026-0001", 2, "Superseded by A-2026-0001 rev 2 — see the new copy\n[TLP:AMBER] "
                    "from Malaysia", "[TLP:AMBER] A-2026-0001 rev 1 is superseded by A-2026-0001 rev 2, sent to you "
                    "now: acknowledge and act on that one.", "th-npoc", True)


class Editor:
    platform = Platform.CONSOLE

    def __init__(self, *failures: PlatformError) -> None:
        self.failures = list(failures)
        self.edited: list[tuple[str, str]] = []

    async def edit_message(self, destination: Destination, message_id: str, text: str, key: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.edited.append((message_id, text))


class NoEdits:
    platform = Platform.CONSOLE


def row(attempt: int = 1) -> Outgoing:
    message = supersede_message(MARK, PLACE)
    return Outgoing(message.key, MessageKind.SUPERSEDE, PLACE, message.text, message.reference, message.contact,
                    message.protect_content, None, attempt)


@pytest.fixture
def run(engine: Engine, sealer: AesGcmSealer):
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), ManualClock())
    db = DatabaseThread()

    def carry_out(connector: object, message: Outgoing) -> str:
        return asyncio.run(supersede(db, factory, lambda platform: connector, 3, message))

    def notices() -> list[tuple[str, str | None]]:
        with engine.connect() as conn:
            return [(r.kind, r.destination) for r in conn.execute(select(outbox.c.kind, outbox.c.destination))]

    yield carry_out, notices
    db.close()


def test_the_copy_is_edited_to_read_superseded_and_nobody_is_told_more(run) -> None:  # noqa: ANN001
    carry_out, notices = run
    editor = Editor()
    assert carry_out(editor, row()) == "supersede:edited"
    assert editor.edited == [("console-3", MARK.text)]
    assert notices() == []


GONE = PermanentFailure("bad-request", "message to edit not found")


@pytest.mark.parametrize("connector", [NoEdits, lambda: Editor(GONE)])
def test_a_copy_that_can_never_be_edited_gets_the_line_once(run, connector: Callable[[], object]) -> None:  # noqa
    carry_out, notices = run
    assert carry_out(connector(), row()) == "supersede:notice"
    carry_out(NoEdits(), row())  # carried out again (a crash before it was marked): still one line
    assert notices() == [("notice", str(PLACE))]


def test_a_passing_fault_is_retried_and_only_the_last_attempt_falls_back_to_the_line(run) -> None:  # noqa: ANN001
    carry_out, notices = run
    with pytest.raises(TransientFailure):
        carry_out(Editor(TransientFailure("server-error")), row(attempt=1))
    assert notices() == []  # the worker tries again
    with pytest.raises(TransientFailure):
        carry_out(Editor(TransientFailure("server-error")), row(attempt=3))
    assert notices() == [("notice", str(PLACE))]


def test_no_line_once_the_item_was_withdrawn(run, engine: Engine, sealer: AesGcmSealer) -> None:  # noqa: ANN001
    """The edit was in flight when the item was withdrawn, and failed: the withdrawal takes the copy
    back, so its reader is not told to act on a revision that was withdrawn too."""
    carry_out, notices = run
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), ManualClock())
    item = make_item(1)
    with factory() as uow:
        uow.items.add(item, make_route(), {})
        uow.items.withdraw(item.reference, Withdrawal(ManualClock().now(), "my-officer", "wrong flight"))
        uow.commit()
    assert carry_out(Editor(GONE), row()) == "supersede:notice"
    assert notices() == []
