"""The unit of work and its repositories behave alike on the fakes, SQLite and PostgreSQL.

The reminder repository's contract runs the same way in tests/scheduler/test_reminder_storage.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from alerts.arrangements import Arrangement
from alerts.audit import AuditAction, AuditEvent
from alerts.caveats import Caveat, Tlp
from alerts.clock import ManualClock
from alerts.devices import DeviceAction, DeviceOp
from alerts.directory import Room, RoomPurpose
from alerts.identity import ChatRef, UserRef
from alerts.items import DueSpec, ItemKind, Reference
from alerts.lifecycle import (
    FEEDBACK_TO_ORIGINATOR,
    UPDATE_TO_RECIPIENTS,
    Closure,
    Feedback,
    ForwardRequest,
    ForwardState,
    Withdrawal,
)
from alerts.priority import Priority
from alerts.membership import PlannedAction, RoomAction
from alerts.messages import Attachment, InboundMessage, Mention, MessageKind
from alerts.release import HeldRelease, ReleaseState
from alerts.reminders import Reminder, Stage, Track
from alerts.revisions import RevisionText
from alerts.roles import Role
from handlers.ports import Cancelled, OutboxEntry
from tests.contract.conftest import Backend
from tests.sample_network import person
from tests.storage.builders import CREATED, make_item, make_message, make_route

ROOM = ChatRef.parse("console:#network")
ALICE = UserRef.parse("console:alice")


def _event(event_id: str, clock: ManualClock, text: str = "/status A-2026-0001") -> InboundMessage:
    return InboundMessage(event_id, ALICE, ChatRef.parse("console:@alice"), text, clock.now())


def _audit(clock: ManualClock) -> AuditEvent:
    return AuditEvent(action=AuditAction.COMMAND, at=clock.now(), actor="th-lo", channel="console:#network")


def _action(identity: str, op: str = "op-1") -> PlannedAction:
    return PlannedAction(RoomAction.INVITE, ROOM, "Network room", UserRef.parse(identity), None, "onboarding", op)


# --- the unit of work -------------------------------------------------------------------------------

def test_nothing_is_kept_without_commit(backend: Backend, clock: ManualClock) -> None:
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("k1"))
        uow.audit.record(_audit(clock))
    assert backend.outbox_kinds() == {} and backend.audit_count() == 0
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("k1"))
        uow.audit.record(_audit(clock))
        uow.commit()
    assert backend.outbox_kinds() == {"k1": MessageKind.NOTICE} and backend.audit_count() == 1


def test_an_exception_leaves_everything_as_it_was(backend: Backend, clock: ManualClock) -> None:
    with pytest.raises(RuntimeError), backend.factory() as uow:
        uow.outbox.enqueue(make_message("k1"))
        uow.cursors.set("telegram", "1")
        raise RuntimeError("a handler failed")
    with backend.factory() as uow:
        assert uow.cursors.get("telegram") is None
    assert backend.outbox_kinds() == {}


def test_a_savepoint_that_raises_undoes_its_block_alone(backend: Backend, clock: ManualClock) -> None:
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("before"))
        with pytest.raises(RuntimeError), uow.savepoint():
            uow.outbox.enqueue(make_message("undone"))
            reference = uow.items.next_reference(ItemKind.ALERT, 2026)
            uow.items.add(make_item(reference.number), make_route("my-npoc"), {"my-npoc": "undone-delivery"})
            uow.audit.record(_audit(clock))
            raise RuntimeError("this command failed")
        with uow.savepoint():
            uow.outbox.enqueue(make_message("after"))
            again = uow.items.next_reference(ItemKind.ALERT, 2026)
            uow.items.add(make_item(again.number), make_route("my-npoc"), {"my-npoc": "kept-delivery"})
            uow.audit.record(_audit(clock))
        uow.commit()
    assert again == reference  # the undone number is handed out again
    assert list(backend.outbox_kinds()) == ["before", "after"] and backend.audit_count() == 1
    with backend.factory() as uow:
        record = uow.items.get(again)
        assert record is not None and [d.outbox_key for d in record.deliveries] == ["kept-delivery"]
        assert record.item.draft.body == make_item().draft.body  # sealed under the case key that is there


# --- items and forwards -----------------------------------------------------------------------------

def test_references_count_up_per_kind_and_year_across_units_of_work(backend: Backend) -> None:
    with backend.factory() as uow:
        first = uow.items.next_reference(ItemKind.ALERT, 2026)
        second = uow.items.next_reference(ItemKind.ALERT, 2026)
        other = uow.items.next_reference(ItemKind.REQUEST, 2026)
        uow.commit()
    with backend.factory() as uow:
        third = uow.items.next_reference(ItemKind.ALERT, 2026)
        next_year = uow.items.next_reference(ItemKind.ALERT, 2027)
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert other == Reference(ItemKind.REQUEST, 2026, 1) and next_year == Reference(ItemKind.ALERT, 2027, 1)


def test_an_item_comes_back_as_stored_with_its_deliveries_in_route_order(backend: Backend) -> None:
    item = make_item(1)
    with backend.factory() as uow:
        uow.items.add(item, make_route("th-lo-2", "my-npoc"), {"th-lo-2": "o1", "my-npoc": "o2"})
        uow.commit()
    with backend.factory() as uow:
        record = uow.items.get(item.reference)
        assert uow.items.get(Reference(ItemKind.ALERT, 2026, 2)) is None
    assert record is not None and record.item == item and record.closure is None
    assert [(d.contact, d.outbox_key, d.state) for d in record.deliveries] == [("th-lo-2", "o1", "queued"),
                                                                             ("my-npoc", "o2", "queued")]
    assert record.route == make_route("th-lo-2", "my-npoc")


def test_an_item_read_for_update_is_the_item_read(backend: Backend) -> None:
    """The read of a command that changes the item's copies (it locks the item on PostgreSQL: the
    waiting is shown in tests/bot/test_copy_lock.py) gives what the plain read gives."""
    item = make_item(1)
    with backend.factory() as uow:
        uow.items.add(item, make_route("th-lo-2", "my-npoc"), {"th-lo-2": "o1", "my-npoc": "o2"})
        uow.commit()
    with backend.factory() as uow:
        locked = uow.items.get(item.reference, for_update=True)
        assert uow.items.get(Reference(ItemKind.ALERT, 2026, 2), for_update=True) is None
        assert locked is not None and locked == uow.items.get(item.reference)


def test_an_items_attachments_are_filed_with_its_message_and_open_whole(backend: Backend, clock: ManualClock) -> None:
    item = make_item(1)
    photo = Attachment("passport.jpg", "image/jpeg", 6, b"\xff\xd8page")
    message = InboundMessage("evt-9", ALICE, ChatRef.parse("console:@alice"), "/alert to:TH", clock.now(),
                             attachments=(photo, Attachment("big.pdf", "application/pdf", 99_000_000)))
    first, unfetched = message.attachment_ids()
    reply = InboundMessage("evt-10", ALICE, ChatRef.parse("console:@alice"), "/reply A-2026-0001 see", clock.now(),
                           attachments=(Attachment("r.pdf", "application/pdf", 3, b"%PD"),))
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc"), {"my-npoc": "o1"})
        assert uow.items.file_message(item.reference, message, origin=True) == (first,)  # what attachment_ids says
        uow.items.file_message(item.reference, message, origin=True)  # filed again (a retried batch): one copy
        # a reply's file: the item's too, but not its own
        assert uow.items.file_message(item.reference, reply) == reply.attachment_ids()
        uow.commit()
    with backend.factory() as uow:
        assert uow.items.attachment(item.reference, first) == Attachment("passport.jpg", "image/jpeg", 6,
                                                                          b"\xff\xd8page", first)
        assert uow.items.attachment(item.reference, unfetched) is None  # never fetched: nothing to keep
        assert uow.items.attachment(Reference(ItemKind.ALERT, 2026, 2), first) is None
        assert uow.items.attachment_ids(item.reference) == (first,)
        assert uow.items.attachment(item.reference, reply.attachment_ids()[0]) is not None


def test_a_delivery_only_moves_forward_and_keeps_its_first_times(backend: Backend, clock: ManualClock) -> None:
    item = make_item(1)
    sent, acked = clock.now(), clock.now() + timedelta(hours=1)
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc"), {"my-npoc": "o1"})
        assert uow.items.mark_delivery("o1", "sent", sent, "m-1")
        assert uow.items.mark_delivery("o1", "acknowledged", acked)
        assert uow.items.mark_delivery("o1", "sent", acked + timedelta(hours=1), "m-2")  # late: changes nothing
        assert not uow.items.mark_delivery("no-such-key", "sent", sent)
        uow.commit()
    with backend.factory() as uow:
        [delivery] = uow.items.get(item.reference).deliveries  # type: ignore[union-attr]
        assert uow.items.delivery_by_message("m-1") == (item.reference, "my-npoc")
        assert uow.items.delivery_by_message("m-2") is None
    assert (delivery.state, delivery.sent_at, delivery.acknowledged_at) == ("acknowledged", sent, acked)


def test_a_copy_sent_to_a_delegate_is_held_by_the_delegate(backend: Backend, clock: ManualClock) -> None:
    """A delivery diverted to someone standing in (handlers/away.py keeps its outbox key, changes its
    contact): a reaction on that copy is the delegate's to make, not somebody else's."""
    item = make_item(1)
    with backend.factory() as uow:
        uow.items.add(item, make_route("th-npoc", "my-npoc"), {"th-npoc": "o1", "my-npoc": "o2"})
        uow.outbox.enqueue(make_message("o1", "th-deputy", kind=MessageKind.DELIVERY, reference=str(item.reference),
                                        contact="th-deputy"))
        uow.outbox.enqueue(make_message("o2", "my-npoc", kind=MessageKind.DELIVERY, reference=str(item.reference),
                                        contact="my-npoc"))
        assert uow.items.mark_delivery("o1", "sent", clock.now(), "m-1")
        assert uow.items.mark_delivery("o2", "sent", clock.now(), "m-2")
        uow.commit()
    with backend.factory() as uow:
        assert uow.items.delivery_by_message("m-1") == (item.reference, "th-deputy")
        assert uow.items.delivery_by_message("m-2") == (item.reference, "my-npoc")
        assert uow.items.get(item.reference).delivery_to("th-npoc") is not None  # type: ignore[union-attr]


def test_a_delegate_holds_the_copy_sent_to_them_and_a_search_of_theirs_finds_it(backend: Backend,
                                                                                  clock: ManualClock) -> None:
    """Who was sent a delivery's copy (its outbox row's contact) is kept with it: the one visibility
    rule lets that delegate see the item (handlers/visibility.py), and their search finds it."""
    item, other = make_item(1), make_item(2)
    with backend.factory() as uow:
        uow.items.add(item, make_route("th-npoc", "my-npoc", "vn-npoc"), {"th-npoc": "o1", "my-npoc": "o2",
                                                                          "vn-npoc": "o3"})
        uow.outbox.enqueue(make_message("o1", "th-deputy", kind=MessageKind.DELIVERY, reference=str(item.reference),
                                        contact="th-deputy"))
        uow.outbox.enqueue(make_message("o2", "my-npoc", kind=MessageKind.DELIVERY, reference=str(item.reference),
                                        contact="my-npoc"))  # o3: never queued (no place could carry it)
        uow.items.add(other, make_route("th-npoc"), {"th-npoc": "o4"})
        uow.outbox.enqueue(make_message("o4", "th-npoc", kind=MessageKind.DELIVERY, reference=str(other.reference),
                                        contact="th-npoc"))
        uow.commit()
    with backend.factory() as uow:
        record = uow.items.get(item.reference)
        [many] = uow.items.get_many([item.reference])
        assert uow.items.find("th-deputy") == [item.reference]  # not the item that went to th-npoc themselves
        assert uow.items.find("th-npoc") == [other.reference, item.reference]
        assert uow.items.find("sg-npoc", topic="nothing-like-it") == []
        summaries = {s.reference: s.holders for s in uow.reminders.summaries(CREATED - timedelta(days=1),
                                                                             CREATED + timedelta(days=1))}
    assert record is not None and record == many
    assert [(d.contact, d.held_by, d.holder) for d in record.deliveries] == [
        ("th-npoc", "th-deputy", "th-deputy"), ("my-npoc", None, "my-npoc"), ("vn-npoc", None, "vn-npoc")]
    assert record.copies_held_by("th-deputy") == (record.deliveries[0],) and record.copies_held_by("th-npoc") == ()
    # Where each copy is: the delegate's chat for the one they hold (edited or taken back there).
    assert [d.place for d in record.deliveries] == [
        "direct:console:th-deputy", "direct:console:my-npoc", "direct:console:vn-npoc"]
    assert summaries == {str(item.reference): ("th-deputy",), str(other.reference): ()}
    # A correction keeps who held each earlier copy.
    with backend.factory() as uow:
        uow.items.revise(replace(item, revision=2, revised_at=clock.now()), make_route("th-npoc"), {"th-npoc": "o5"},
                         clock.now())
        uow.commit()
    with backend.factory() as uow:
        earlier = uow.items.earlier_deliveries(item.reference)
    assert [(d.contact, d.held_by) for _, d in earlier] == [("th-npoc", "th-deputy"), ("my-npoc", None),
                                                             ("vn-npoc", None)]
    assert earlier[0][1].place == "direct:console:th-deputy"


def test_open_items_of_a_contact_and_the_first_closure_stands(backend: Backend, clock: ManualClock) -> None:
    with backend.factory() as uow:
        uow.items.add(make_item(1, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o1"})
        uow.items.add(make_item(2, originator="sg-npoc"), make_route("th-lo"), {"th-lo": "o2"})
        uow.items.add(make_item(3, originator="sg-npoc"), make_route("my-npoc"), {"my-npoc": "o3"})
        first = Closure("th-lo", clock.now(), "answered")
        assert uow.items.close(Reference(ItemKind.ALERT, 2026, 1), first)
        assert not uow.items.close(Reference(ItemKind.ALERT, 2026, 1), Closure("x", clock.now(), "again"))
        uow.commit()
    with backend.factory() as uow:
        assert [str(r.item.reference) for r in uow.items.for_contact("th-lo")] == ["A-2026-0002"]
        assert [str(r.item.reference) for r in uow.items.for_contact("my-npoc")] == ["A-2026-0003"]
        assert uow.items.get(Reference(ItemKind.ALERT, 2026, 1)).closure == first  # type: ignore[union-attr]


def test_a_forward_adds_deliveries_and_is_decided_once(backend: Backend, clock: ManualClock) -> None:
    item = make_item(1)
    request = ForwardRequest("f1", str(item.reference), "my-npoc", ("SG",), ("sg-npoc",), "a lead", clock.now())
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc"), {"my-npoc": "o1"})
        uow.items.add_forward(request)
        assert uow.items.decide_forward("f1", ForwardState.GRANTED, "th-lo", clock.now(), "ok")
        assert not uow.items.decide_forward("f1", ForwardState.REFUSED, "th-lo", clock.now(), "no")
        uow.items.add_deliveries(item.reference, make_route("sg-npoc"), {"sg-npoc": "o2"})
        uow.commit()
    with backend.factory() as uow:
        [forward] = uow.items.forwards(item.reference)
        record = uow.items.get(item.reference)
    assert forward.state is ForwardState.GRANTED and forward.decided_by == "th-lo"
    assert record is not None and [d.contact for d in record.deliveries] == ["my-npoc", "sg-npoc"]
    assert record.route == make_route("my-npoc", "sg-npoc")


def test_an_item_is_withdrawn_once_closed_with_its_reason_kept(backend: Backend, clock: ManualClock) -> None:
    ref = Reference(ItemKind.ALERT, 2026, 1)
    with backend.factory() as uow:
        uow.items.add(make_item(1, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o1"})
        uow.items.add(make_item(2, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o2"})
        closed = Closure("th-lo", clock.now(), "answered")
        assert uow.items.close(Reference(ItemKind.ALERT, 2026, 2), closed)
        uow.commit()
    clock.advance(timedelta(hours=1))
    first = Withdrawal(clock.now(), "th-lo", "sent to the wrong country")
    with backend.factory() as uow:
        assert uow.items.withdraw(ref, first)
        assert not uow.items.withdraw(ref, Withdrawal(clock.now(), "rso-coord", "again"))
        assert uow.items.withdraw(Reference(ItemKind.ALERT, 2026, 2), Withdrawal(clock.now(), "th-lo", ""))
        uow.commit()
    with backend.factory() as uow:
        record = uow.items.get(ref)
        closed_before = uow.items.get(Reference(ItemKind.ALERT, 2026, 2))
        assert uow.items.for_contact("my-npoc") == []
    assert record is not None and record.withdrawal == first
    assert record.item.state.value == "closed" and record.closure is not None
    assert (record.closure.closed_by, record.closure.closed_at) == ("th-lo", first.withdrawn_at)
    # A closed item keeps its closure; an empty reason reads back as none.
    assert closed_before is not None and closed_before.closure == closed
    assert closed_before.withdrawal == Withdrawal(clock.now(), "th-lo", None)


def test_a_revision_replaces_the_draft_and_the_deliveries(backend: Backend, clock: ManualClock) -> None:
    item = make_item(1, originator="th-lo")
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc", "sg-npoc"), {"my-npoc": "o1", "sg-npoc": "o2"})
        uow.items.mark_delivery("o1", "acknowledged", clock.now(), "m-1")
        uow.commit()
    clock.advance(timedelta(hours=2))
    draft = replace(item.draft, body="corrected text", caveat=Caveat(Tlp.GREEN), topic=None)
    revised = replace(item, draft=draft, revision=2, revised_at=clock.now(), ack_due=clock.now() + timedelta(hours=4),
                      feedback_due=clock.now() + timedelta(hours=24))
    with backend.factory() as uow:
        uow.items.revise(revised, make_route("my-npoc", "vn-npoc"), {"my-npoc": "o3", "vn-npoc": "o4"}, clock.now())
        uow.commit()
    with backend.factory() as uow:
        record = uow.items.get(item.reference)
        mine = uow.items.for_contact("sg-npoc")
    assert record is not None and record.item == revised
    assert [(d.contact, d.outbox_key, d.state) for d in record.deliveries] == [("my-npoc", "o3", "queued"),
                                                                            ("vn-npoc", "o4", "queued")]
    assert record.route == make_route("my-npoc", "vn-npoc")
    assert mine == []  # no longer a recipient
    with backend.factory() as uow:
        earlier = uow.items.earlier_deliveries(item.reference)
    assert [(n, d.contact, d.outbox_key, d.state, d.platform_message_id, d.superseded_at) for n, d in earlier] == [
        (1, "my-npoc", "o1", "acknowledged", "m-1", clock.now()), (1, "sg-npoc", "o2", "queued", None, clock.now())]


def test_the_feedback_on_an_item_reads_back_from_the_log_oldest_first(backend: Backend, clock: ManualClock) -> None:
    ref = Reference(ItemKind.ALERT, 2026, 1)

    def reply(actor: str, recipients: tuple[str, ...], **detail: str) -> AuditEvent:
        return AuditEvent(action=AuditAction.FEEDBACK, at=clock.now(), actor=actor, recipients=recipients,
                          channel="console:@x", reference=str(ref), caveat="TLP:AMBER", detail=detail)

    with backend.factory() as uow:
        uow.items.add(make_item(1, originator="th-lo"), make_route("my-npoc", "sg-npoc"),
                      {"my-npoc": "o1", "sg-npoc": "o2"})
        uow.items.add(make_item(2, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o3"})
        uow.audit.record(reply("my-npoc", ("th-lo",), direction=FEEDBACK_TO_ORIGINATOR, text="Held <both>"))
        clock.advance(timedelta(minutes=5))
        uow.audit.record(reply("th-lo", ("my-npoc", "sg-npoc"), direction=UPDATE_TO_RECIPIENTS, text="Update"))
        clock.advance(timedelta(minutes=5))
        uow.audit.record(reply("vn-npoc", ("th-lo",), direction=FEEDBACK_TO_ORIGINATOR, text="For SG",
                               on_behalf_of="sg-npoc", **{"as": "delegate"}))
        # Neither another item's feedback nor another kind of entry about this one.
        uow.audit.record(replace(reply("my-npoc", ("th-lo",), direction=FEEDBACK_TO_ORIGINATOR, text="Other"),
                                 reference="A-2026-0002"))
        uow.audit.record(AuditEvent(action=AuditAction.CONSULTATION, at=clock.now(), actor="my-npoc",
                                    reference=str(ref), detail={"command": "status", "text": "no feedback"}))
        uow.commit()
    with backend.factory() as uow:
        found = uow.audit.feedback(ref)
    start = clock.now() - timedelta(minutes=10)
    assert found == [
        Feedback(start, "my-npoc", "Held <both>", False, ("th-lo",)),
        Feedback(start + timedelta(minutes=5), "th-lo", "Update", True, ("my-npoc", "sg-npoc")),
        Feedback(start + timedelta(minutes=10), "vn-npoc", "For SG", False, ("th-lo",), "sg-npoc"),
    ]
    assert found[2].copy_of == "sg-npoc" and found[0].copy_of == "my-npoc"


def test_what_each_revision_said_reads_back_from_the_log_by_revision(backend: Backend, clock: ManualClock) -> None:
    ref = Reference(ItemKind.ALERT, 2026, 1)

    def entry(action: AuditAction, caveat: str, reference: str = str(ref), **detail: str) -> AuditEvent:
        return AuditEvent(action=action, at=clock.now(), actor="th-lo", recipients=("my-npoc",), channel="console:@x",
                          reference=reference, caveat=caveat, detail=detail)

    with backend.factory() as uow:
        uow.items.add(make_item(1, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o1"})
        uow.items.add(make_item(2, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "o2"})
        uow.audit.record(entry(AuditAction.ITEM_CREATED, "TLP:AMBER CLEAR-H0", kind="alert", body="First <words>",
                               topic="document-fraud", priority="routine", grade="", route="my-npoc via x"))
        clock.advance(timedelta(minutes=5))
        uow.audit.record(entry(AuditAction.CORRECTION, "TLP:RED CLEAR-H0", revision="2", body="Second words",
                               topic="document-fraud", priority="urgent", grade=""))
        clock.advance(timedelta(minutes=5))
        uow.audit.record(entry(AuditAction.CORRECTION, "TLP:RED CLEAR-H0", revision="3", body="Third words",
                               topic="", priority="urgent", grade=""))
        # Neither another item's revision, nor another kind of entry about this one, nor a damaged one.
        uow.audit.record(entry(AuditAction.CORRECTION, "TLP:AMBER CLEAR-H0", "A-2026-0002", revision="2",
                               body="Other item", topic="", priority="routine"))
        uow.audit.record(entry(AuditAction.FEEDBACK, "TLP:RED CLEAR-H0", text="Not a revision",
                               direction=FEEDBACK_TO_ORIGINATOR, body="Not a revision"))
        uow.audit.record(entry(AuditAction.CORRECTION, "TLP:RED CLEAR-H0", revision="x", body="No number"))
        uow.commit()
    with backend.factory() as uow:
        found = uow.audit.revisions(ref)
        other = uow.audit.revisions(Reference(ItemKind.ALERT, 2026, 2))
        none = uow.audit.revisions(Reference(ItemKind.ALERT, 2026, 9))
    start = clock.now() - timedelta(minutes=10)
    assert found == [
        RevisionText(1, start, "First <words>", "TLP:AMBER CLEAR-H0", "routine", "document-fraud"),
        RevisionText(2, start + timedelta(minutes=5), "Second words", "TLP:RED CLEAR-H0", "urgent", "document-fraud"),
        RevisionText(3, start + timedelta(minutes=10), "Third words", "TLP:RED CLEAR-H0", "urgent", ""),
    ]
    assert [(r.revision, r.body) for r in other] == [(2, "Other item")] and none == []


def test_find_chooses_by_metadata_newest_first(backend: Backend) -> None:
    with backend.factory() as uow:
        for n, (originator, to, topic, hours) in enumerate([
                ("th-lo", "my-npoc", "document-fraud", 0), ("sg-npoc", "th-lo", "people-smuggling", 5),
                ("sg-npoc", "my-npoc", "document-fraud", 3), ("my-npoc", "sg-npoc", None, 1)], start=1):
            uow.items.add(make_item(n, originator=originator, topic=topic, created_at=CREATED + timedelta(hours=hours)),
                          make_route(to), {to: f"o{n}"})
        uow.commit()
    refs = lambda found: [str(r) for r in found]  # noqa: E731
    with backend.factory() as uow:
        assert refs(uow.items.find(None)) == ["A-2026-0002", "A-2026-0003", "A-2026-0004", "A-2026-0001"]
        assert refs(uow.items.find("th-lo")) == ["A-2026-0002", "A-2026-0001"]
        assert refs(uow.items.find("my-npoc")) == ["A-2026-0003", "A-2026-0004", "A-2026-0001"]
        assert refs(uow.items.find("my-npoc", topic="document-fraud")) == ["A-2026-0003", "A-2026-0001"]
        assert refs(uow.items.find(None, since=CREATED + timedelta(hours=1),
                                   until=CREATED + timedelta(hours=5))) == ["A-2026-0003", "A-2026-0004"]
        assert uow.items.find("nobody") == []
        wanted = [Reference(ItemKind.ALERT, 2026, n) for n in (3, 9, 1)]
        assert [str(r.item.reference) for r in uow.items.get_many(wanted)] == ["A-2026-0003", "A-2026-0001"]
        assert uow.items.get_many(wanted)[1] == uow.items.get(wanted[2])


def test_cancel_fails_an_items_unsent_rows_of_the_kinds_named(backend: Backend) -> None:
    with backend.factory() as uow:
        uow.outbox.enqueue_many([
            make_message("d1", kind=MessageKind.DELIVERY, reference="A-2026-0001"),
            make_message("d2", kind=MessageKind.DELIVERY, reference="A-2026-0001"),
            make_message("r1", kind=MessageKind.REMINDER, reference="A-2026-0001"),
            make_message("n1", kind=MessageKind.NOTICE, reference="A-2026-0001"),
            make_message("x1", kind=MessageKind.DELIVERY, reference="A-2026-0002"),
        ])
        uow.commit()
    backend.mark_sent("d1")
    backend.mark_leased("d2")  # its send in flight: cancelled too, and told apart
    with backend.factory() as uow:
        cancelled = uow.outbox.cancel("A-2026-0001", {MessageKind.DELIVERY, MessageKind.REMINDER}, "withdrawn")
        uow.commit()
    assert cancelled == Cancelled(("d2", "r1"), frozenset({"d2"}))
    assert backend.outbox_states() == {"d1": ("sent", None), "d2": ("failed", "withdrawn"),
                                       "r1": ("failed", "withdrawn"), "n1": ("pending", None),
                                       "x1": ("pending", None)}
    with backend.factory() as uow:
        assert uow.outbox.cancel("A-2026-0001", {MessageKind.DELIVERY}, "withdrawn") == Cancelled()
def test_cancel_only_the_keys_named_and_entries_say_how_each_row_stands(backend: Backend,
                                                                         clock: ManualClock) -> None:
    with backend.factory() as uow:
        uow.outbox.enqueue_many([make_message(key, kind=MessageKind.NOTICE, reference="A-2026-0001")
                                 for key in ("n1", "n2", "n3", "n4")])
        uow.commit()
    backend.sent_as("n1", "chat:17", clock.now())
    with backend.factory() as uow:
        assert uow.outbox.cancel("A-2026-0001", {MessageKind.NOTICE}, "withdrawn", only=frozenset()) == Cancelled()
        cancelled = uow.outbox.cancel("A-2026-0001", {MessageKind.NOTICE}, "withdrawn", only={"n1", "n2", "x"})
        uow.commit()
    assert cancelled == Cancelled(("n2",), frozenset())  # n1 was sent: not cancelled
    with backend.factory() as uow:
        assert uow.outbox.entries({"n1", "n2", "n3", "nowhere"}) == {
            "n1": OutboxEntry("sent", "chat:17", clock.now()), "n2": OutboxEntry("failed", error="withdrawn"),
            "n3": OutboxEntry("pending")}
        assert uow.outbox.entries(frozenset()) == {}


def test_a_held_release_is_decided_once_and_due_times_can_be_set_again(backend: Backend, clock: ManualClock) -> None:
    first, second = make_item(1, originator="th-lo"), make_item(2, originator="th-lo")
    now = clock.now()
    held = HeldRelease(str(first.reference), "th-lo", "TH", False, now, now + timedelta(hours=24))
    with backend.factory() as uow:
        uow.items.add(first, make_route(), {})
        uow.items.add(second, make_route(), {})
        uow.releases.hold(held)
        uow.releases.hold(HeldRelease(str(second.reference), "th-lo", "TH", True, now + timedelta(minutes=1),
                                      now + timedelta(hours=1)))
        uow.commit()
    with backend.factory() as uow:
        assert uow.releases.get(str(first.reference)) == held
        assert uow.releases.get("A-2026-0099") is None
        assert [h.reference for h in uow.releases.pending()] == ["A-2026-0001", "A-2026-0002"]
        assert uow.releases.decide("A-2026-0001", ReleaseState.DECLINED, "th-2", now, "source at risk")
        assert not uow.releases.decide("A-2026-0001", ReleaseState.APPROVED, "rso", now, "")
        uow.items.set_due(first.reference, now + timedelta(hours=2), now + timedelta(hours=3))
        uow.commit()
    with backend.factory() as uow:
        decided = uow.releases.get("A-2026-0001")
        assert [h.reference for h in uow.releases.pending()] == ["A-2026-0002"]
        item = uow.items.get(first.reference).item  # type: ignore[union-attr]
    assert decided is not None and (decided.state, decided.decided_by, decided.decided_at, decided.reason) == (
        ReleaseState.DECLINED, "th-2", now, "source at risk")
    assert (item.ack_due, item.feedback_due) == (now + timedelta(hours=2), now + timedelta(hours=3))



def test_a_held_correction_keeps_its_whole_draft_and_takes_the_place_of_a_decided_release(
        backend: Backend, clock: ManualClock) -> None:
    item = make_item(1, originator="th-lo", due=DueSpec(after=timedelta(hours=6)), topic="document-fraud",
                     purpose="case 7", outside_ref="X-1", hub="KUL")
    corrected = replace(item.draft, body="The boat leaves at 23:30.", caveat=Caveat(Tlp.RED),
                        priority=Priority.URGENT, due=DueSpec(at=CREATED + timedelta(days=1)))
    now = clock.now()
    with backend.factory() as uow:
        uow.items.add(item, make_route(), {})
        uow.releases.hold(HeldRelease("A-2026-0001", "th-lo", "TH", False, now, now + timedelta(hours=1)))
        uow.commit()
    held = HeldRelease("A-2026-0001", "th-lo", "TH", True, now, now + timedelta(hours=24),
                       correction=corrected, revision=2)
    with backend.factory() as uow:
        with pytest.raises(Exception):  # one pending release per item
            with uow.savepoint():
                uow.releases.hold(held)
        assert uow.releases.decide("A-2026-0001", ReleaseState.APPROVED, "th-2", now, "")
        uow.releases.hold(held)  # the correction takes the decided release's place
        uow.commit()
    with backend.factory() as uow:
        found = uow.releases.get("A-2026-0001")
        assert [h.label for h in uow.releases.pending()] == ["A-2026-0001 rev 2"]
    assert found == held and found.correction == corrected and found.label == "A-2026-0001 rev 2"


# --- outbox, inbox, cursors -------------------------------------------------------------------------

def test_a_second_enqueue_of_a_key_keeps_the_first(backend: Backend) -> None:
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("k1", kind=MessageKind.NOTICE))
        uow.outbox.enqueue_many([make_message("k2"), make_message("k1", kind=MessageKind.ANSWER)])
        uow.commit()
    assert backend.outbox_kinds() == {"k1": MessageKind.NOTICE, "k2": MessageKind.NOTICE}


def test_a_messages_own_files_are_kept_with_it_in_order_and_the_first_enqueue_of_a_key_keeps_them(
        backend: Backend) -> None:
    chart, second = (Attachment(f"chart-{n}.png", "image/png", n, b"\x89PNG"[:n]) for n in (4, 3))
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("digest:2026-12-06", files=(chart, second)))
        uow.outbox.enqueue_many([make_message("plain", to="bob"), make_message("digest:2026-12-06", files=(second,))])
    assert backend.outbox_files() == {}  # nothing without commit
    with backend.factory() as uow:
        uow.outbox.enqueue(make_message("digest:2026-12-06", files=(chart, second)))
        uow.outbox.enqueue_many([make_message("plain", to="bob"), make_message("digest:2026-12-06", files=(second,))])
        uow.commit()
    assert backend.outbox_files() == {"digest:2026-12-06": (4, 3)}


def test_an_event_is_recorded_once_and_handled_in_order(backend: Backend, clock: ManualClock) -> None:
    with backend.factory() as uow:
        assert uow.inbox.record(_event("e1", clock))
        assert not uow.inbox.record(_event("e1", clock, "/status again"))
        uow.inbox.record_many([_event("e2", clock), _event("e1", clock), _event("e3", clock, "/help")])
        uow.commit()
    with backend.factory() as uow:
        pending = uow.inbox.pending(10)
        assert [(m.event_id, m.text) for m in pending] == [("e1", "/status A-2026-0001"),
                                                           ("e2", "/status A-2026-0001"), ("e3", "/help")]
        assert pending[0] == _event("e1", clock)
        assert [m.event_id for m in uow.inbox.pending(1)] == ["e1"]
        uow.inbox.mark_all_done(pending[:1])
        uow.inbox.mark_failed(pending[1], "ERR-1")
        with pytest.raises(KeyError):
            uow.inbox.mark_failed(_event("never", clock), "ERR-2")
        uow.commit()
    with backend.factory() as uow:
        assert [m.event_id for m in uow.inbox.pending(10)] == ["e3"]


def test_an_events_mentions_come_back_as_recorded(backend: Backend, clock: ManualClock) -> None:
    mentions = (Mention("Somchai P.", UserRef.parse("matrix:@somchai:example.org")),
                Mention("Farid", UserRef.parse("telegram:user:42")))
    event = replace(_event("m1", clock, "/member remove Somchai P."), mentions=mentions)
    with backend.factory() as uow:
        uow.inbox.record(event)
        uow.commit()
    with backend.factory() as uow:
        assert uow.inbox.pending(10) == [event]


def test_a_cursor_keeps_its_last_value(backend: Backend) -> None:
    with backend.factory() as uow:
        assert uow.cursors.get("matrix") is None
        uow.cursors.set("matrix", "s1")
        uow.cursors.set("matrix", "s2")
        uow.commit()
    with backend.factory() as uow:
        assert uow.cursors.get("matrix") == "s2"


# --- the directory, rooms and devices ---------------------------------------------------------------

def test_the_directory_writer_refuses_clashes_and_a_commit_publishes_the_change(backend: Backend) -> None:
    newcomer = person("th-new", "TH", identities=("console:th-new",))
    with backend.factory() as uow:
        assert not uow.directory_writer.changed
        uow.directory_writer.add_contact(newcomer)
        with pytest.raises(ValueError):
            uow.directory_writer.add_contact(newcomer)
        with pytest.raises(ValueError):  # an account someone else has
            uow.directory_writer.add_contact(person("th-other", "TH", identities=("console:th-new",)))
        with pytest.raises(KeyError):
            uow.directory_writer.update_contact(person("nobody", "TH"))
        assert uow.directory_writer.changed
        assert "th-new" not in backend.directory.current().contacts  # not before the commit
        uow.commit()
    assert "th-new" in backend.directory.current().contacts
    with backend.factory() as uow:
        assert uow.directory_writer.remove_contact("th-new")
        assert not uow.directory_writer.remove_contact("th-new")
        uow.commit()
    assert "th-new" not in backend.directory.current().contacts


def test_an_arrangement_is_numbered_once_ended_once_and_published_on_commit(backend: Backend,
                                                                            clock: ManualClock) -> None:
    [seeded] = backend.directory.current().arrangements  # the sample network's MoU MY-CA 2021
    mou = Arrangement("MoU TH-CA 2026", frozenset({"TH", "CA"}), frozenset({"maritime"}), date(2026, 1, 1),
                      date(2026, 12, 31), giver="TH")
    with backend.factory() as uow:
        assert not uow.arrangements.changed
        stored = uow.arrangements.add(mou)
        assert stored == mou and stored.number == 2
        with pytest.raises(ValueError):
            uow.arrangements.add(mou)
        assert uow.arrangements.changed
        assert len(backend.directory.current().arrangements) == 1  # not before the commit
        uow.commit()
    assert backend.directory.current().arrangements == (seeded, mou)
    assert [a.number for a in backend.directory.current().arrangements] == [1, 2]
    with backend.factory() as uow:
        assert uow.arrangements.end(1, clock.now(), "superseded")
        assert not uow.arrangements.end(1, clock.now(), "again")
        assert not uow.arrangements.end(9, clock.now(), "no such one")
        uow.commit()
    ended = backend.directory.current().arrangements[0]
    assert ended.ended_at == clock.now() and ended.end_reason == "superseded" and ended.number == 1
    assert ended.lapse(clock.now()) == f"ended on {clock.now():%Y-%m-%d} (superseded)"
    with backend.factory() as uow:  # rolled back: nothing changes
        uow.arrangements.end(2, clock.now(), "not committed")
    assert backend.directory.current().arrangements[1].ended_at is None


def test_a_room_is_registered_retired_and_registered_again_on_commit(backend: Backend, clock: ManualClock) -> None:
    kul = Room(ChatRef.parse("console:#kul"), "KUL airport", RoomPurpose.NETWORK, frozenset({"MY", "TH"}),
               hubs=frozenset({"KUL"}), topics=frozenset({"document-fraud"}))
    with backend.factory() as uow:
        assert uow.directory_writer.register_room(kul)
        assert not uow.directory_writer.register_room(kul)  # registered already: updated
        assert backend.directory.current().room(kul.chat) is None  # not before the commit
        uow.commit()
    assert backend.directory.current().room(kul.chat) == kul
    assert backend.directory.current().hubs() == frozenset({"KUL"})
    with backend.factory() as uow:
        assert uow.directory_writer.retired_at(kul.chat) is None
        assert uow.directory_writer.retire_room(kul.chat, clock.now())
        assert not uow.directory_writer.retire_room(kul.chat, clock.now())
        assert uow.directory_writer.retired_at(kul.chat) == clock.now()
        assert not uow.directory_writer.retire_room(ChatRef.parse("console:#nowhere"), clock.now())
        assert uow.directory_writer.retired_at(ChatRef.parse("console:#nowhere")) is None
        uow.commit()
    assert backend.directory.current().room(kul.chat) is None
    with backend.factory() as uow:
        assert uow.directory_writer.register_room(kul)  # retired: registered again
        uow.commit()
    assert backend.directory.current().room(kul.chat) == kul
def test_every_role_a_contact_may_hold_is_kept_and_changed_back(backend: Backend) -> None:
    """The focal point roles are longer than the first five and came with migration 0011_focal."""
    every = person("th-all", "TH", *Role, identities=("console:th-all",))
    with backend.factory() as uow:
        uow.directory_writer.add_contact(every)
        uow.commit()
    assert backend.directory.current().contacts["th-all"].roles == frozenset(Role)
    with backend.factory() as uow:
        uow.directory_writer.update_contact(person("th-all", "TH", Role.ORGANISATIONAL_FOCAL_POINT, desk="police",
                                                   identities=("console:th-all",)))
        uow.commit()
    assert backend.directory.current().contacts["th-all"].roles == frozenset({Role.ORGANISATIONAL_FOCAL_POINT})


def test_a_room_action_is_planned_once_and_the_roster_keeps_what_the_bot_knows(backend: Backend) -> None:
    with backend.factory() as uow:
        assert uow.membership.plan([_action("console:a"), _action("console:b")]) == 2
        assert uow.membership.plan([_action("console:a"), _action("console:c")]) == 1
        assert uow.membership.present(ROOM) is None
        uow.roster.seen(ROOM, {UserRef.parse("console:a"): "joined"})
        uow.roster.mark(ROOM, UserRef.parse("console:b"), "invited")
        uow.roster.mark(ROOM, UserRef.parse("console:a"), None)
        assert uow.roster.progress("op-1", "k1", "joined") == {"k1": "joined"}
        assert uow.roster.progress("op-1", "k1", "failed") == {"k1": "joined"}  # the first note counts
        uow.commit()
    with backend.factory() as uow:
        assert uow.membership.present(ROOM) == {UserRef.parse("console:b"): "invited"}
        assert uow.roster.progress("op-1", "k2", "invited") == {"k1": "joined", "k2": "invited"}
    kinds = backend.outbox_kinds()
    assert sorted(kinds) == sorted(_action(f"console:{x}").key for x in "abc")
    assert set(kinds.values()) == {MessageKind.MEMBERSHIP}


def test_a_device_action_becomes_an_outbox_row(backend: Backend) -> None:
    action = DeviceAction(DeviceOp.LIST, UserRef.parse("matrix:@au-npoc:example.org"), None, "admin", "console:@admin", "d1")
    with backend.factory() as uow:
        assert uow.devices is not None
        uow.devices.plan(action)
        uow.commit()
    assert backend.outbox_kinds() == {"d1": MessageKind.DEVICE}


def test_a_reminder_and_a_run_are_noted_once(backend: Backend, clock: ManualClock) -> None:
    reminder = Reminder("A-2026-0001", "my-npoc", Track.ACK, Stage.DUE, 0, "my-npoc", clock.now(), clock.now())
    with backend.factory() as uow:
        uow.items.add(make_item(1), make_route("my-npoc"), {"my-npoc": "o1"})
        assert uow.reminders.record(reminder, "sent", clock.now())
        assert not uow.reminders.record(reminder, "sent", clock.now())
        assert uow.reminders.claim("digest:2026-11-23", clock.now())
        uow.commit()
    with backend.factory() as uow:
        assert not uow.reminders.claim("digest:2026-11-23", clock.now())



def test_the_reminders_sent_about_what_a_recipient_owes_are_found_by_whom_and_what(
        backend: Backend, clock: ManualClock) -> None:
    """So that an /ack, a /reply or a /close can drop those still waiting to be sent."""
    now = clock.now()

    def reminder(contact: str, track: Track, stage: Stage, target: str | None = None) -> Reminder:
        return Reminder("A-2026-0001", contact, track, stage, 0, target or contact, now, now)

    ack_due, backup = reminder("my-npoc", Track.ACK, Stage.DUE), reminder("my-npoc", Track.ACK, Stage.BACKUP, "my-pol")
    feedback, other = reminder("my-npoc", Track.FEEDBACK, Stage.DUE), reminder("sg-npoc", Track.ACK, Stage.DUE)
    skipped = reminder("my-npoc", Track.ACK, Stage.BEFORE)
    with backend.factory() as uow:
        uow.items.add(make_item(1), make_route("my-npoc", "sg-npoc"), {"my-npoc": "o1", "sg-npoc": "o2"})
        for each in (ack_due, backup, feedback, other):
            assert uow.reminders.record(each, "sent", now)
        assert uow.reminders.record(skipped, "superseded", now)  # never queued: nothing to drop
        uow.commit()
    with backend.factory() as uow:
        assert sorted(uow.reminders.sent_about("A-2026-0001", "my-npoc", {Track.ACK})) == sorted(
            [ack_due.key, backup.key])
        assert sorted(uow.reminders.sent_about("A-2026-0001", "my-npoc", set(Track))) == sorted(
            [ack_due.key, backup.key, feedback.key])
        assert sorted(uow.reminders.sent_about("A-2026-0001", None, set(Track))) == sorted(
            [ack_due.key, backup.key, feedback.key, other.key])
        assert uow.reminders.sent_about("A-2026-0002", None, set(Track)) == []

def test_a_copy_of_an_earlier_revision_that_lands_late_is_recorded_sent(backend: Backend, clock: ManualClock) -> None:
    item = make_item(1, originator="th-lo")
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc", "sg-npoc"), {"my-npoc": "o1", "sg-npoc": "o2"})
        uow.items.mark_delivery("o1", "acknowledged", clock.now(), "m-1")
        uow.commit()
    revised = replace(item, revision=2, revised_at=clock.now())
    with backend.factory() as uow:
        uow.items.revise(revised, make_route("my-npoc"), {"my-npoc": "o3"}, clock.now())
        uow.commit()
    clock.advance(timedelta(seconds=5))
    with backend.factory() as uow:
        assert not uow.items.mark_delivery("o2", "sent", clock.now(), "m-2")  # no current copy: an earlier one
        landed = uow.items.mark_earlier("o2", "sent", clock.now(), "m-2")
        assert uow.items.mark_earlier("o1", "sent", clock.now(), "m-9") is not None  # never moved back
        assert uow.items.mark_earlier("o3", "sent", clock.now(), "m-3") is None  # the current revision's
        uow.commit()
    assert landed is not None
    revision, delivery = landed
    assert (revision, delivery.contact, delivery.state, delivery.platform_message_id, delivery.sent_at) == (
        1, "sg-npoc", "sent", "m-2", clock.now())
    with backend.factory() as uow:
        earlier = uow.items.earlier_deliveries(item.reference)
    assert [(d.outbox_key, d.state, d.platform_message_id) for _, d in earlier] == [
        ("o1", "acknowledged", "m-1"), ("o2", "sent", "m-2")]


def test_a_copy_of_an_earlier_revision_that_failed_after_its_photo_is_known_by_the_photo(
        backend: Backend, clock: ManualClock) -> None:
    """Cancelled by the correction mid-send, its photo went and its text failed: recorded failed, known
    by the photo (so /withdraw finds it delivered in part); a copy further on is never moved back."""
    item = make_item(1, originator="th-lo")
    with backend.factory() as uow:
        uow.items.add(item, make_route("my-npoc", "sg-npoc"), {"my-npoc": "o1", "sg-npoc": "o2"})
        uow.items.mark_delivery("o1", "sent", clock.now(), "m-1")
        uow.commit()
    with backend.factory() as uow:
        uow.items.revise(replace(item, revision=2, revised_at=clock.now()), make_route("my-npoc"), {"my-npoc": "o3"},
                         clock.now())
        uow.commit()
    with backend.factory() as uow:
        failed = uow.items.mark_earlier("o2", "failed", clock.now(), "m-photo")
        kept = uow.items.mark_earlier("o1", "failed", clock.now(), "m-9")
        uow.commit()
    assert failed is not None and kept is not None
    assert (failed[0], failed[1].state, failed[1].platform_message_id, failed[1].sent_at) == (1, "failed", "m-photo",
                                                                                              None)
    assert (kept[1].state, kept[1].platform_message_id) == ("sent", "m-1")
    with backend.factory() as uow:
        assert {d.outbox_key: (d.state, d.platform_message_id) for _, d in uow.items.earlier_deliveries(item.reference)
                } == {"o1": ("sent", "m-1"), "o2": ("failed", "m-photo")}
