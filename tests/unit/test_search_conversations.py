"""/find, /mine all and /history on the fakes with a manual clock; and a property: /find never returns
an item /status would refuse to show the same person, over random items, caveats and absences (a
delegate sees what was sent to them for someone away, and nothing else of theirs)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.audit import AuditAction
from alerts.roles import Role
from tests.unit.test_followup_harness import Bot

REF = re.compile(r"^([AR]-\d{4}-\d{4})", re.MULTILINE)


def _refs(answer: str) -> list[str]:
    return REF.findall(answer)


def _network() -> Bot:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Altered passports on flight XX123")
    bot.later(60)
    bot.says("my-officer", "/alert to:AU tlp:green topic:maritime Boat sighted off the coast")
    bot.later(60)
    bot.says("th-deputy", "/alert to:MY tlp:amber topic:document-fraud Forged visas, two PASSPORTS seized")
    bot.worker_sends()
    return bot


def test_find_searches_the_text_of_the_items_a_person_may_see_newest_first() -> None:
    bot = _network()
    answer = bot.answer("my-officer", "/find passports")
    assert _refs(answer) == ["A-2026-0001"]  # A-2026-0003 mentions passports too, but not to them
    assert answer.splitlines()[0] == "Found, newest first (page 1, times Asia/Kuala_Lumpur):"  # their own clock
    assert answer.splitlines()[1] == ("A-2026-0001 TLP:AMBER · 23 Nov 17:00 · document-fraud · from MY · open: "
                                      "Altered passports on flight XX123")
    assert _refs(bot.answer("my-npoc", "/find passports")) == ["A-2026-0003"]
    assert _refs(bot.answer("rso-coord", "/find passports")) == ["A-2026-0003", "A-2026-0001"]
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.CONSULTATION]
    assert bot.store.audit[-1].detail == {"command": "find", "shown": "A-2026-0003, A-2026-0001"}


def test_find_filters_by_topic_country_reference_and_dates() -> None:
    bot = _network()
    assert _refs(bot.answer("rso-coord", "/find topic:document-fraud")) == ["A-2026-0003", "A-2026-0001"]
    assert _refs(bot.answer("rso-coord", "/find country:AU")) == ["A-2026-0002"]
    assert _refs(bot.answer("rso-coord", "/find country:TH")) == ["A-2026-0003", "A-2026-0001"]  # to and from
    assert _refs(bot.answer("rso-coord", "/find ref:A-2026-0002")) == ["A-2026-0002"]
    assert _refs(bot.answer("rso-coord", "/find from:2026-11-23 until:2026-11-23")) == [
        "A-2026-0003", "A-2026-0002", "A-2026-0001"]
    assert bot.answer("rso-coord", "/find until:2026-11-22") == "Nothing found among the items you may see."
    assert _refs(bot.answer("rso-coord", "/find passports forged")) == ["A-2026-0003"]  # every word must be there
    bot.says("my-officer", "/alert to:TH tlp:green ref:OP-77 Convoy")
    assert _refs(bot.answer("my-officer", "/find ref:op-77")) == ["A-2026-0004"]  # their own ref:, any case


def test_find_pages_through_the_results() -> None:
    bot = Bot()
    for n in range(10):
        bot.says("my-officer", f"/alert to:TH tlp:green Sighting number {n}")
        bot.later(1)
    first = bot.answer("my-officer", "/find sighting")
    assert _refs(first) == [f"A-2026-{n:04d}" for n in range(10, 2, -1)]
    assert first.splitlines()[-1] == "More: /find sighting page:2"
    second = bot.answer("my-officer", "/find sighting page:2")
    assert _refs(second) == ["A-2026-0002", "A-2026-0001"] and "More:" not in second
    assert bot.answer("my-officer", "/find sighting page:3") == "No page 3: nothing more found."


def test_find_refuses_an_unknown_filter() -> None:
    bot = Bot()
    [answer] = bot.says("my-officer", "/find topc:maritime")
    assert answer.startswith("Unknown filter 'topc:'.") and "Example: /find" in answer


def test_find_says_which_dates_and_which_filter_were_wrong() -> None:
    bot = Bot()
    answer = bot.answer("my-officer", "/find from:2026-12-01 until:2026-11-01")
    assert answer.startswith("until:2026-11-01 is before from:2026-12-01") and "Example: /find" in answer
    answer = bot.answer("my-officer", "/find country:TH!")
    assert answer.startswith("Organisation 'TH!' is not valid") and answer.endswith("Example: country:TH")
    assert _refs(bot.answer("my-officer", "/find country:THA")) == []  # alpha-3 still accepted


def test_mine_all_lists_closed_and_withdrawn_items_too() -> None:
    bot = _network()
    bot.says("my-officer", "/close A-2026-0001 done")
    bot.says("my-officer", "/withdraw A-2026-0002 wrong country")
    assert "A-2026-0001" not in bot.answer("my-officer", "/mine")
    answer = bot.answer("my-officer", "/mine all")
    assert _refs(answer) == ["A-2026-0002", "A-2026-0001"]
    assert "· withdrawn 2026-11-23: Boat sighted" in answer and "· closed: Altered passports" in answer


def test_history_shows_revisions_acknowledgements_and_only_what_the_person_may_see() -> None:
    bot = _network()
    bot.later(5)
    bot.says("th-npoc", "/ack A-2026-0001")
    bot.says("my-officer", "/correct A-2026-0001 to:TH,MY tlp:amber")
    bot.worker_sends()
    bot.says("th-npoc", "/reply A-2026-0001 Confirmed")
    mine = bot.answer("my-officer", "/history A-2026-0001")
    assert mine.splitlines()[:3] == ["A-2026-0001 · TLP:AMBER H0 · history (times Asia/Kuala_Lumpur)",
                                     "23 Nov 17:00 alert sent by My Officer (Malaysia)",
                                     "Revisions: rev 1 superseded; now A-2026-0001 rev 2"]
    assert "acknowledged by Th Npoc (Thailand) (rev 1)" in mine
    # The answer is its feedback line, with the revision it answered.
    assert "feedback from Th Npoc (Thailand) (rev 2): Confirmed" in mine and "answered by" not in mine
    assert "delivered to My Npoc (Malaysia) (rev 2)" in mine
    theirs = bot.answer("th-npoc", "/history A-2026-0001")
    assert "Th Npoc" in theirs and "My Npoc" not in theirs  # who else received it is not theirs to know
    assert bot.answer("iom-npoc", "/history A-2026-0001") == (
        "Only the originator, recipients, coordinators and auditors can see A-2026-0001.")


def _two_feedbacks() -> Bot:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH,MY tlp:amber topic:document-fraud Altered passports on flight XX123")
    bot.worker_sends()
    bot.later(30)
    bot.says("th-npoc", "/reply A-2026-0001 Thai side: both travellers held")
    bot.later(5)
    bot.says("my-npoc", "/reply A-2026-0001 Malaysian side: no record of them")
    bot.later(5)
    bot.says("my-officer", "/reply A-2026-0001 Update: case handed to the prosecutor")
    return bot


def test_history_shows_feedback_texts_to_those_who_oversee_the_item_on_their_own_clock() -> None:
    from alerts.times import clock_time, contact_zone

    bot = _two_feedbacks()
    thai, malaysian, update = (e for e in bot.store.audit if e.action is AuditAction.FEEDBACK)
    for who in ("my-officer", "rso-coord", "auditor"):
        history = bot.answer(who, "/history A-2026-0001")
        zone = contact_zone(bot.directory, who)
        assert history.splitlines()[0].endswith(f"history (times {zone})")
        lines = history.splitlines()
        assert f"{clock_time(thai.at, zone)} feedback from Th Npoc (Thailand): Thai side: both travellers held" in lines
        assert (f"{clock_time(malaysian.at, zone)} feedback from My Npoc (Malaysia): Malaysian side: no record of "
                "them") in lines
        assert f"{clock_time(update.at, zone)} update from My Officer (Malaysia): Update: case handed to the " \
               "prosecutor" in lines
    assert bot.store.audit[-1].detail == {"command": "history", "view": "every recipient", "feedback": "3"}


def test_a_recipient_sees_their_own_feedback_and_the_updates_never_another_recipients() -> None:
    bot = _two_feedbacks()
    theirs = bot.answer("th-npoc", "/history A-2026-0001")
    assert "feedback from Th Npoc (Thailand): Thai side: both travellers held" in theirs
    assert "update from My Officer (Malaysia): Update: case handed to the prosecutor" in theirs
    assert "Malaysian side" not in theirs and "My Npoc" not in theirs
    other = bot.answer("my-npoc", "/history A-2026-0001")
    assert "Malaysian side: no record of them" in other and "Thai side" not in other and "Th Npoc" not in other
    assert bot.store.audit[-1].detail == {"command": "history", "view": "own delivery", "feedback": "2"}
    assert bot.answer("iom-npoc", "/history A-2026-0001") == (
        "Only the originator, recipients, coordinators and auditors can see A-2026-0001.")


def test_an_update_shows_only_to_the_recipients_it_was_sent_to() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber Boat leaves tonight")
    bot.worker_sends()
    bot.says("my-officer", "/reply A-2026-0001 Thai eyes only: the captain is known")
    bot.later(1)
    bot.says("my-officer", "/correct A-2026-0001 to:TH,MY")
    bot.worker_sends()
    assert "Thai eyes only" in bot.answer("th-npoc", "/history A-2026-0001")
    # My Npoc receives rev 2 only: the update sent before reached the Thai recipient alone.
    assert "Thai eyes only" not in bot.answer("my-npoc", "/history A-2026-0001")
    assert "update from My Officer (Malaysia) (rev 1): Thai eyes only" in bot.answer("my-officer", "/history A-2026-0001")


def test_a_long_feedback_is_cut_short_and_a_long_history_comes_in_pages() -> None:
    from handlers.search import FEEDBACK_SHOWN, HISTORY_PAGE

    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:green Boat leaves tonight")
    bot.worker_sends()
    words = "word " * 60
    for n in range(HISTORY_PAGE + 3):
        bot.later(1)
        bot.says("th-npoc", f"/reply A-2026-0001 Sighting {n:02d} {words}")
    first = bot.answer("my-officer", "/history A-2026-0001").splitlines()
    assert first[0] == "A-2026-0001 · TLP:GREEN H0 · history (times Asia/Kuala_Lumpur, page 1 of 2)"
    assert first[-1] == "More: /history A-2026-0001 page:2"
    # The README's word: twelve events at a time, after the heading and (page 1) the line saying when it was sent.
    assert len(first) == 1 + 1 + 12 + 1 and first[1].startswith("23 Nov 17:00 alert sent by")
    feedback = [line for line in first if "feedback from" in line]
    assert feedback and all(line.endswith("…") for line in feedback)
    assert all(len(line.split(": ", 1)[1]) == FEEDBACK_SHOWN == 100 for line in feedback)  # cut at 100 characters
    second = bot.answer("my-officer", "/history A-2026-0001 page:2").splitlines()
    assert second[0].endswith("page 2 of 2)") and "More:" not in second[-1]
    assert "Sighting 14" in second[-1]  # the newest, last
    shown = [line for line in first + second if "Sighting" in line]
    assert len(shown) == HISTORY_PAGE + 3  # each once across the pages
    assert bot.answer("my-officer", "/history A-2026-0001 page:3") == (
        "No page 3: the history of A-2026-0001 has 2 pages. Example: /history A-2026-0001")
    [refused] = bot.says("my-officer", "/history A-2026-0001 everything")
    assert refused.startswith("Unexpected 'everything'") and "/history A-2026-0001 page:2" in refused


def test_history_with_feedback_asked_in_a_room_is_answered_in_the_direct_chat() -> None:
    bot = _two_feedbacks()
    in_room = bot.says("th-npoc", "/history A-2026-0001", chat="console:#network")
    assert in_room == ["Th Npoc: answered in your direct chat with the bot, because the answer carries the "
                       "feedback of an item not for everyone here."]
    assert "Thai side: both travellers held" in bot.messages_to("th-npoc")[-1].text


def test_red_feedback_text_is_not_shown_over_telegram() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:@au-npoc tlp:red Informant named Somsak")
    bot.worker_sends()
    assert bot.says("au-npoc", "/reply A-2026-0001 Somsak is known to us", chat="matrix:!dm:example.org",
                    account="matrix:@au-npoc:example.org")[0].startswith("Your feedback")
    telegram = {"chat": "telegram:4242", "account": "telegram:user:4242"}
    [history] = bot.says("au-npoc", "/history A-2026-0001", **telegram)
    assert "Somsak" not in history
    assert "feedback from Au Npoc (Australia) (its text only where TLP:RED may be read)" in history


def test_why_a_red_item_was_withdrawn_is_not_shown_over_telegram() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:@au-npoc tlp:red Informant named Somsak")
    bot.worker_sends()
    bot.says("my-officer", "/withdraw A-2026-0001 Somsak must not be named")
    telegram = {"chat": "telegram:4242", "account": "telegram:user:4242"}
    [history] = bot.says("au-npoc", "/history A-2026-0001", **telegram)
    assert "Somsak" not in history
    assert history.splitlines()[-1].endswith(
        "withdrawn by My Officer (Malaysia) (why only where TLP:RED may be read)")


# --- the property: /find shows exactly what /status would show ---------------------------------------

PEOPLE = ["my-officer", "th-npoc", "th-deputy", "th-immigration", "my-npoc", "iom-npoc", "rso-coord", "auditor",
          "admin"]
SENDERS = ["my-officer", "th-npoc", "th-deputy", "my-npoc", "iom-npoc", "rso-coord"]  # au-npoc: no console account
TARGETS = ["TH", "MY", "AU", "IOM", "@th-npoc", "@my-npoc", "@au-npoc", "@iom-npoc", "TH/immigration"]
TLPS = ["clear", "green", "amber", "amber+strict", "red"]
# Before an item: someone goes away (with a delegate in their organisation) or comes back.
ABSENCES = {"": None, "th-npoc away": ("th-npoc", "/away until:2026-11-24 backup:@th-immigration"),
            "my-npoc away": ("my-npoc", "/away until:2026-11-24 backup:@my-officer"),
            "th-npoc back": ("th-npoc", "/back"), "my-npoc back": ("my-npoc", "/back")}

items = st.lists(st.tuples(st.sampled_from(SENDERS), st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3,
                                                              unique=True),
                           st.sampled_from(TLPS), st.booleans(), st.sampled_from(["withdraw", "close", "correct", ""]),
                           st.sampled_from(sorted(ABSENCES))),
                 min_size=1, max_size=12)


def _all_pages(bot: Bot, who: str, query: str) -> list[str]:
    found, page = [], 1
    while True:
        answer = bot.answer(who, f"{query} page:{page}")
        found += _refs(answer)
        if "More:" not in answer:
            return found
        page += 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_find_never_returns_what_status_would_not_show(drawn) -> None:  # noqa: ANN001
    bot = Bot()
    for n, (sender, targets, tlp, orcon, later, absence) in enumerate(drawn):
        if ABSENCES[absence] is not None:
            bot.says(*ABSENCES[absence])
        bot.says(sender, f"/alert to:{','.join(targets)} tlp:{tlp}{' orcon' if orcon else ''} Needle {n}")
        bot.worker_sends()
        reference = f"A-2026-{len(bot.store.items):04d}"
        if reference in bot.store.items and bot.record(reference).item.originator == sender and later:
            text = {"withdraw": f"/withdraw {reference} oops", "close": f"/close {reference} done",
                    "correct": f"/correct {reference} to:MY"}[later]
            bot.says(sender, text)
    for who in PEOPLE:
        shown = _all_pages(bot, who, "/find needle")
        assert len(shown) == len(set(shown))
        visible = {ref for ref in bot.store.items if _status_shows(bot.answer(who, f"/status {ref}"))}
        assert set(shown) <= visible, who
        assert set(shown) == visible, who  # and nothing it may see is missed
        # The model: everything for those who oversee; else what they sent, and the items a copy of which
        # was theirs (the current revision's): to them, or sent to their direct chat for someone away.
        person = bot.directory.contacts[who]
        if not (person.has(Role.COORDINATOR) or person.has(Role.AUDITOR)):
            assert visible == {ref for ref in bot.store.items if _given_to(bot, ref, who)}, who


def _given_to(bot: Bot, reference: str, who: str) -> bool:
    record = bot.record(reference)
    chats = {f"direct:{identity}" for identity in bot.directory.contacts[who].identities}
    return record.item.originator == who or any(
        d.contact == who or (d.outbox_key in bot.store.outbox and str(bot.store.outbox[d.outbox_key].destination)
                             in chats) for d in record.deliveries)


def _status_shows(answer: str) -> bool:
    """/status lets the person see the item: it answers with the item, or, once it is withdrawn, with
    the reason (which only those who could see it learn)."""
    if "withdrawn on" in answer:
        return "(oops)" in answer
    return not answer.startswith("Only the originator")


def test_a_search_about_red_items_asked_in_a_room_is_answered_in_the_direct_chat() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Informant named Somsak")
    in_room = bot.says("th-npoc", "/find informant", chat="console:#network")
    assert in_room == ["Th Npoc: answered in your direct chat with the bot, because the answer carries the text "
                       "of items not for everyone here."]
    assert _refs(bot.messages_to("th-npoc")[-1].text) == ["A-2026-0001"]


def test_a_search_asked_in_a_room_shows_only_clear_items_there() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber Boat one")
    bot.says("my-officer", "/alert to:TH tlp:clear Boat two")
    assert len(bot.says("th-npoc", "/find boat", chat="console:#network")) == 1  # only the pointer
    assert _refs(bot.says("th-npoc", "/find boat", chat="console:#network")[0]) == []
    assert _refs(bot.messages_to("th-npoc")[-1].text) == ["A-2026-0002", "A-2026-0001"]
    assert _refs(bot.says("th-npoc", "/find two", chat="console:#network")[0]) == ["A-2026-0002"]


def test_red_text_is_neither_searched_nor_shown_over_telegram() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:@au-npoc tlp:red Informant named Somsak")
    bot.says("my-officer", "/alert to:@au-npoc tlp:amber Informant seen")
    telegram = {"chat": "telegram:4242", "account": "telegram:user:4242"}
    assert _refs(bot.says("au-npoc", "/find informant", **telegram)[0]) == ["A-2026-0002"]
    listed = bot.says("au-npoc", "/find", **telegram)[0]
    assert _refs(listed) == ["A-2026-0002", "A-2026-0001"] and "Somsak" not in listed
    assert "(its text only where TLP:RED may be read: /status A-2026-0001 there)" in listed
    on_matrix = bot.says("au-npoc", "/find informant", chat="matrix:!dm:example.org",
                         account="matrix:@au-npoc:example.org")
    assert on_matrix[0].startswith("Au Npoc: answered in your direct chat")  # a room id: counts as shared
    assert "Somsak" in bot.store.messages_to("direct:matrix:@au-npoc:example.org")[-1].text


def test_history_shows_forwards_to_those_who_oversee_the_item_and_its_closure() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber orcon Boat leaves tonight")
    bot.worker_sends()
    bot.says("th-npoc", '/forward A-2026-0001 to:MY purpose:"joint operation"')
    bot.later(10)
    bot.says("my-officer", "/consent A-2026-0001 yes")
    bot.says("my-officer", "/close A-2026-0001 intercepted")
    history = bot.answer("my-officer", "/history A-2026-0001")
    assert "forward to My Npoc (Malaysia) asked by Th Npoc (Thailand)" in history
    assert "forward to My Npoc (Malaysia) granted by My Officer (Malaysia)" in history
    assert history.splitlines()[-1].endswith("closed by My Officer (Malaysia)")
    assert "forward to" not in bot.answer("th-npoc", "/history A-2026-0001")
