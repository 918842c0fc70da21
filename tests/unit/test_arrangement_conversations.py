"""Sharing arrangements with dates, as coordinators keep them in chat: /arrangement add, end, list;
routing on the day; the reminder before one ends; a recipient's /forward within the originator's
arrangements. The dispatcher on the in-memory fakes with a manual clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.arrangements import Arrangement
from alerts.audit import AuditAction
from alerts.directory import Directory, missing_arrangement
from alerts.errors import RouteRefused
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.routing import Router
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from handlers.followup_reminders import ReminderService
from handlers.post_item import PostingPolicy
from alerts.reminder_policy import ReminderPolicy
from tests.fakes import MemoryDirectory, MemoryUnitOfWork
from alerts.roles import Role
from tests.sample_network import person, small_network
from tests.unit.test_followup_harness import Bot

ADD = '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" topics:document-fraud until:2026-11-30'
TO_CANADA = "/alert to:CA topic:document-fraud Two travellers with altered passports"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


class ArrangementBot(Bot):
    """The conversation harness on a directory that the unit of work changes, as the database's does."""

    def __init__(self, directory: Directory | None = None, policy: PostingPolicy | None = None) -> None:
        super().__init__(directory, policy)
        self.directory_source = MemoryDirectory(self.directory)  # type: ignore[assignment]
        self.dispatcher._directory = self.directory_source  # type: ignore[attr-defined]

    def says(self, who: str, text: str, chat: str | None = None) -> list[str]:
        """As Bot.says, in a unit of work that changes the directory (MemoryUnitOfWork's directory)."""
        before, audited = set(self.store.outbox), len(self.store.audit)
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(chat or f"console:@{who}"), text, self.clock.now())
        with MemoryUnitOfWork(self.store, self.directory_source) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        self.last_audit = [e.action for e in self.store.audit[audited:]]
        return [m.text for k, m in self.store.outbox.items()
                if k not in before and str(m.destination) == f"chat:{message.chat}"]

    @property
    def current(self) -> Directory:
        return self.directory_source.current()


@pytest.fixture
def bot() -> ArrangementBot:
    return ArrangementBot()


def _audited(bot: Bot, command: str) -> list[dict[str, str]]:
    return [e.detail for e in bot.store.audit if e.action is AuditAction.ADMIN and e.detail.get("command") == command]


# --- the domain -------------------------------------------------------------------------------------

def test_an_arrangement_is_in_force_from_its_first_to_its_last_day_only() -> None:
    mou = Arrangement("MoU", frozenset({"MY", "CA"}), starts=date(2026, 12, 1), ends=date(2026, 12, 31))
    assert mou.lapse(datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc)) == "starts on 2026-12-01"
    assert mou.in_force(datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc))
    assert mou.in_force(datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc))
    assert mou.lapse(datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc)) == "ended on 2026-12-31"
    assert mou.lapse(None) == "has dates that cannot be checked"  # no clock: a dated one authorises nothing
    assert Arrangement("MoU", frozenset({"MY", "CA"})).lapse(None) is None


def test_an_expired_arrangement_refuses_with_its_end_day_and_a_one_way_one_goes_one_way() -> None:
    base = small_network()
    expired = Arrangement("MoU", frozenset({"MY", "CA"}), frozenset({"document-fraud"}), ends=date(2026, 11, 30))
    directory = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms, [expired])
    after = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    assert missing_arrangement(directory, "MY", "CA", "document-fraud", at=T0) is None
    assert str(missing_arrangement(directory, "MY", "CA", "document-fraud", at=after)) == (
        "Malaysia has no sharing arrangement in force with Canada for document-fraud: the arrangement MY–CA 'MoU' "
        "for document-fraud ended on 2026-11-30")
    one_way = Arrangement("Letter", frozenset({"MY", "CA"}), giver="CA")
    directory = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms, [one_way])
    assert missing_arrangement(directory, "CA", "MY", "maritime", at=T0, membership=False) is None
    assert "goes one way only, from CA" in str(missing_arrangement(directory, "MY", "CA", "maritime", at=T0))


# --- /arrangement add, list, end --------------------------------------------------------------------

def test_a_coordinator_records_an_arrangement_and_routing_honours_it_until_its_last_day(bot: ArrangementBot) -> None:
    assert bot.answer("my-officer", TO_CANADA).startswith(
        "Not sent: Malaysia has no sharing arrangement with Canada for document-fraud")
    answer = bot.answer("rso-coord", ADD)
    assert answer.startswith("Recorded arrangement #1 CA–MY 'MoU MY-CA 2026': document-fraud, until 2026-11-30; "
                             "it is in force, last day 2026-11-30 (in 7 days).")
    assert _audited(bot, "arrangement add") == [{
        "command": "arrangement add", "number": "1", "document": "MoU MY-CA 2026", "parties": "CA, MY", "topics": "document-fraud",
        "starts": "", "ends": "2026-11-30", "direction": "both ways"}]
    assert " accepted (" in bot.answer("my-officer", TO_CANADA)
    bot.clock.set(datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc))
    assert " accepted (" in bot.answer("my-officer", TO_CANADA)  # the last day is in force to its end
    bot.clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc))
    assert bot.answer("my-officer", TO_CANADA) == (
        "Not sent: Malaysia has no sharing arrangement in force with Canada for document-fraud: the arrangement "
        "MY–CA 'MoU MY-CA 2026' for document-fraud ended on 2026-11-30. Leave Canada out, or ask a coordinator to record the "
        "arrangement.")
    assert bot.store.audit[-1].action is AuditAction.REFUSAL


def test_an_arrangement_not_yet_started_authorises_nothing(bot: ArrangementBot) -> None:
    recorded = bot.answer("rso-coord", '/arrangement add between:MY,CA doc:"MoU 2027" from:2026-12-01')
    assert "; it starts on 2026-12-01. Routing honours it" in recorded  # not "it is starts on"
    assert "the arrangement MY–CA 'MoU 2027' for document-fraud starts on 2026-12-01" in bot.answer("my-officer", TO_CANADA)
    bot.clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc))
    assert " accepted (" in bot.answer("my-officer", TO_CANADA)


def test_ending_an_arrangement_stops_it_at_once_with_the_reason(bot: ArrangementBot) -> None:
    bot.answer("rso-coord", ADD)
    assert bot.answer("rso-coord", "/arrangement end 1 superseded by the 2027 memorandum") == (
        "Ended arrangement #1 CA–MY 'MoU MY-CA 2026': document-fraud, until 2026-11-30 (superseded by the 2027 "
        "memorandum). From now on it authorises nothing: items it carried are refused with this reason.")
    assert _audited(bot, "arrangement end")[0]["reason"] == "superseded by the 2027 memorandum"
    assert ("the arrangement MY–CA 'MoU MY-CA 2026' for document-fraud ended on 2026-11-23 (superseded by the 2027 "
            "memorandum)"
            in bot.answer("my-officer", TO_CANADA))
    assert bot.answer("rso-coord", '/arrangement end "MoU MY-CA 2026" again').startswith(
        "Arrangement #1 ended on 2026-11-23")
    assert bot.answer("rso-coord", "/arrangement end 9 typo") == "No arrangement #9. /arrangement list shows them."


def test_the_list_shows_each_arrangement_with_its_number_and_state(bot: ArrangementBot) -> None:
    assert bot.answer("rso-coord", "/arrangement list").startswith("No sharing arrangements are recorded.")
    bot.answer("rso-coord", ADD)
    bot.answer("rso-coord", '/arrangement add between:AU,CA doc:"AU-CA letter" direction:AU>CA from:2027-01-01')
    bot.answer("rso-coord", "/arrangement end 1 replaced")
    assert bot.answer("rso-coord", "/arrangement list").splitlines() == [
        "Sharing arrangements:",
        "  #1 CA–MY 'MoU MY-CA 2026': document-fraud, until 2026-11-30 — ended on 2026-11-23 (replaced)",
        "  #2 AU→CA 'AU-CA letter': every topic, from 2027-01-01, one way — starts on 2027-01-01",
    ]


@pytest.mark.parametrize("text, answer", [
    ('/arrangement add between:MY doc:"x"', "An arrangement is between two or more organisations."),
    ("/arrangement add between:MY,CA", "Name the signed document with doc:"),
    ('/arrangement add between:MY,XX doc:"x"', "XX is not in the network."),
    ('/arrangement add between:MY,CA doc:"x" until:30/11/2026', "until: '30/11/2026' is not valid."),
    ('/arrangement add between:MY,CA doc:"x" from:2026-12-02 until:2026-12-01', "until:2026-12-01 is before"),
    ('/arrangement add between:MY,CA doc:"x" direction:MY>TH', "direction:MY>TH must name the two parties"),
    ('/arrangement add between:MY,CA doc:"x" untill:2026-12-01', "Unknown field 'untill' — did you mean until?"),
    ('/arrangement add between:MY,CA doc:"x" topics:smuggling', "Topic 'smuggling' is not valid."),
    ('/arrangement add between:MY,CA doc:"x" until:2026-11-01', "until:2026-11-01 is past"),
    # Parties written as words, not between:; the dates after them are not "after the text" (it takes none).
    ("/arrangement add MY CA from:2026-12-01", "Unexpected 'MY'. /arrangement add takes between:, doc:"),
    ("/arrangement end 1", "Say why it ends"),
    ("/arrangement stop 1", "Use /arrangement list"),
])
def test_a_wrong_arrangement_command_is_refused_and_records_nothing(bot: ArrangementBot, text: str,
                                                                    answer: str) -> None:
    assert answer in bot.answer("rso-coord", text)
    assert bot.current.arrangements == ()
    assert _audited(bot, "arrangement add") == []


def test_only_coordinators_and_admins_manage_arrangements(bot: ArrangementBot) -> None:
    assert "arrangement" in bot.answer("my-officer", ADD).lower()
    assert bot.current.arrangements == ()
    assert bot.answer("admin", ADD).startswith("Recorded arrangement #1")


def test_an_arrangement_between_members_says_it_changes_no_route(bot: ArrangementBot) -> None:
    answer = bot.answer("rso-coord", '/arrangement add between:MY,TH doc:"MoU MY-TH 2019"')
    assert answer.endswith("Note: they are all members, who share on every topic by being members, so it changes "
                           "no route unless [routing] membership_arrangement is turned off.")
    assert "Note:" not in bot.answer("rso-coord", ADD)  # Canada is an observer


def test_the_same_document_between_the_same_parties_is_recorded_once(bot: ArrangementBot) -> None:
    bot.answer("rso-coord", ADD)
    assert bot.answer("rso-coord", ADD).startswith("Not recorded: there is an arrangement 'MoU MY-CA 2026'")
    assert len(bot.current.arrangements) == 1


# --- the reminder before the end --------------------------------------------------------------------

def _service(bot: ArrangementBot, notice: timedelta = timedelta(days=14)) -> ReminderService:
    return ReminderService(lambda: MemoryUnitOfWork(bot.store, bot.directory_source), bot.directory_source,
                           ReminderPolicy.default(), arrangement_notice=notice)


def test_the_coordinators_are_reminded_once_when_an_arrangement_nears_its_end(bot: ArrangementBot) -> None:
    bot.answer("rso-coord", '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" until:2026-12-31')
    service = _service(bot)
    service.tick(T0)
    assert not [m for m in bot.messages_to("rso-coord") if "ends in" in m.text]  # 38 days: not yet
    bot.clock.set(datetime(2026, 12, 17, 9, tzinfo=timezone.utc))
    service.tick(bot.clock.now())
    service.tick(bot.clock.now() + timedelta(hours=1))
    service.tick(bot.clock.now() + timedelta(days=3))
    reminders = [m for m in bot.messages_to("rso-coord") if "ends in" in m.text]
    assert [m.text for m in reminders] == [
        "Sharing arrangement #1 CA–MY 'MoU MY-CA 2026': every topic, until 2026-12-31 ends in 14 days: from "
        "2027-01-01 items it carries are refused. Renew it with /arrangement add (a new document), or let it end."]
    assert reminders[0].kind is MessageKind.NOTICE
    audited = [e for e in bot.store.audit if e.detail.get("kind") == "arrangement ending"]
    assert len(audited) == 1 and audited[0].recipients == ("rso-coord",)


def test_an_ended_arrangement_reminds_nobody(bot: ArrangementBot) -> None:
    bot.answer("rso-coord", ADD)
    bot.answer("rso-coord", "/arrangement end 1 replaced")
    _service(bot).tick(T0)
    assert not [m for m in bot.messages_to("rso-coord") if "ends in" in m.text]


# --- a recipient's /forward stays within the originator's arrangements ------------------------------

def test_a_recipient_cannot_forward_where_the_originator_has_no_arrangement() -> None:
    base = small_network()
    au_ca = Arrangement("AU-CA MoU", frozenset({"AU", "CA"}), frozenset({"document-fraud"}))
    contacts = [person("au-npoc", "AU", Role.CONTACT) if c.id == "au-npoc" else c for c in base.contacts.values()]
    bot = ArrangementBot(Directory.build(base.organisations.values(), contacts, base.rooms, [au_ca]))
    bot.says("my-officer", "/alert to:AU tlp:green topic:document-fraud Two travellers, flight XX123")
    bot.worker_sends()
    before = len(bot.store.outbox)
    answer = bot.answer("au-npoc", '/forward A-2026-0001 to:CA purpose:"joint investigation"')
    assert answer == (
        "Not forwarded: Malaysia has no sharing arrangement with Canada for document-fraud, and an item goes on "
        "only where its originator, My Officer (Malaysia), could send it. Ask the originator, or a coordinator to "
        "record the arrangement.")
    assert not [m for m in bot.messages_to("ca-npoc") if m.kind is MessageKind.DELIVERY]
    assert len(bot.store.outbox) == before + 1  # the answer alone
    assert bot.store.audit[-1].action is AuditAction.REFUSAL
    # With the originator's arrangement recorded, the same forward goes.
    bot.answer("rso-coord", '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" topics:document-fraud')
    assert bot.answer("au-npoc", '/forward A-2026-0001 to:CA purpose:"joint investigation"') == (
        "Forwarded A-2026-0001 to Ca Npoc (Canada).")


# --- routing on the day, as a property ------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 12, 31))),
       st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 12, 31))),
       st.datetimes(datetime(2025, 12, 1), datetime(2028, 1, 31), timezones=st.just(timezone.utc)),
       st.booleans())
def test_an_item_to_an_observer_goes_exactly_on_the_days_its_arrangement_is_in_force(
        starts: date | None, ends: date | None, at: datetime, ended_early: bool) -> None:
    if starts is not None and ends is not None and ends < starts:
        starts, ends = ends, starts
    ended_at = datetime(2026, 6, 1, tzinfo=timezone.utc) if ended_early else None
    mou = Arrangement("MoU", frozenset({"MY", "CA"}), frozenset({"document-fraud"}), starts, ends,
                      ended_at=ended_at, end_reason="replaced")
    base = small_network()
    directory = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms, [mou])
    draft = ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.ORGANISATION, organisation="CA"),),
                      topic="document-fraud")
    day = at.date()
    in_force = ((starts is None or starts <= day) and (ends is None or day <= ends)
                and (ended_at is None or at < ended_at))
    try:
        Router(directory, at=at).route(draft, directory.contacts["my-officer"])
        routed = True
    except RouteRefused as refused:
        routed = False
        assert "the arrangement MY–CA 'MoU' for document-fraud" in str(refused)
    assert routed == in_force
