"""Every page of the portal shows an item only when the chat rule would: over random items (senders,
recipients, TLPs, someone away whose delegate is sent their copies) and every person of the network as
viewer, the items list and the item pages agree with /status, and the overdue board with /overdue, as
each viewer asks them in their direct chat."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.audit import AuditAction
from alerts.identity import ChatRef
from alerts.messages import InboundMessage
from alerts.roles import Role
from bot.portal import views
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot

SENDERS = ("my-officer", "th-deputy", "th-npoc", "my-npoc", "rso-coord")
PEOPLE = ("th-npoc", "th-deputy", "th-immigration", "my-npoc", "my-officer", "au-npoc", "iom-npoc", "rso-coord")
TLPS = ("clear", "green", "amber", "amber+strict", "red")
REFERENCE = re.compile(r"[AR]-\d{4}-\d{4}")

RECIPIENTS = st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True)
# Who sent it, to whom, its TLP, whether its first recipient acknowledges it, and to whom its
# correction (/correct, rev 2) goes; None: it is not corrected.
item = st.tuples(st.sampled_from(SENDERS), RECIPIENTS, st.sampled_from(TLPS), st.booleans(), st.none() | RECIPIENTS)
# Who is away while the items are sent, and stands in for them; (None, None): nobody.
AWAY = st.sampled_from([(None, None), ("th-npoc", "th-immigration"), ("my-npoc", "my-officer")])


def says_as(bot: Bot, contact: str, text: str) -> list[str]:
    """`contact` types `text` from their first account, in their direct chat there (Bot.says types on the
    console, where not everyone has an account)."""
    identity = bot.directory.contacts[contact].identities[0]
    chat = f"{identity.platform.value}:@{identity.user_id}" if identity.platform.value == "console" else (
        f"{identity.platform.value}:!dm-{contact}:example.org" if identity.platform.value == "matrix"
        else f"{identity.platform.value}:{identity.user_id.split(':')[-1]}")
    before, audited = set(bot.store.outbox), len(bot.store.audit)
    message = InboundMessage(f"v{len(bot.store.audit)}-{len(bot.store.outbox)}", identity, ChatRef.parse(chat), text,
                             bot.clock.now())
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, message)
        uow.commit()
    bot.last_audit = [e.action for e in bot.store.audit[audited:]]
    return [m.text for k, m in bot.store.outbox.items() if k not in before and m.contact == contact]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(item, min_size=1, max_size=4), AWAY, st.booleans())
def test_pages_show_an_item_only_when_chat_would(drawn: list[tuple[str, list[str], str, bool]],
                                                 away: tuple[str | None, str | None], back: bool) -> None:
    bot = Bot()
    person, delegate = away
    if person is not None:
        bot.says(person, f"/away until:2026-11-24 backup:@{delegate}")
    bodies: dict[tuple[str, int], str] = {}  # (reference, revision): what it said
    for n, (sender, recipients, tlp, acknowledged, corrected) in enumerate(drawn):
        to = ",".join(f"@{r}" for r in recipients if r != sender) or "@iom-npoc"
        answers = bot.says(sender, f"/alert to:{to} tlp:{tlp} topic:document-fraud confirm:yes\nBody {n}")
        found = [m.group() for a in answers for m in [REFERENCE.search(a)] if m]
        if found and acknowledged:
            bot.says(recipients[0], f"/ack {found[0]}")
        if found and corrected is not None:
            bodies[found[0], 1] = f"Body {n}"
            to = ",".join(f"@{r}" for r in corrected if r != sender) or "@iom-npoc"
            bot.says(sender, f"/correct {found[0]} to:{to} priority:urgent confirm:yes\n\nBody {n} <rev 2>")
    if person is not None and back:
        bot.says(person, "/back")  # their delegate keeps seeing what was sent to them
    bot.clock.advance(timedelta(days=4))  # all that is unanswered is overdue
    references = sorted(bot.store.items)
    for viewer in bot.directory.contacts.values():
        in_chat = set()
        for reference in references:
            says_as(bot, viewer.id, f"/status {reference}")
            if AuditAction.CONSULTATION in bot.last_audit:
                in_chat.add(reference)
            else:
                assert AuditAction.REFUSAL in bot.last_audit
        now = bot.clock.now()
        with MemoryUnitOfWork(bot.store) as uow:
            listed = {row["reference"] for row in views.items_list(
                uow, bot.directory, viewer, now, views.ItemFilters(), ("document-fraud", "maritime"))["rows"]}
            opened = set()
            for reference in references:
                try:
                    page = views.item_page(uow, bot.directory, viewer, now, reference)
                except views.NotFound:
                    continue
                opened.add(reference)
                # A recipient's page shows their own copy only, as /status does (and a delegate's, the
                # copies sent to them for someone away).
                if page["view"] == "own delivery":
                    record = bot.record(reference)
                    held = [d for d in record.deliveries if viewer.id in (d.contact, bot.store.outbox[d.outbox_key].contact
                                                                           if d.outbox_key in bot.store.outbox else None)]
                    assert len(page["deliveries"]) == len(held) >= 1
                # An earlier revision's text: never to someone it was not sent to (a copy of theirs, or
                # one they held for someone away), always to an overseer and to a recipient of it.
                for revision in page["revisions"]:
                    copies = [d for number, d in bot.store.superseded.get(reference, ()) if number == revision["number"]]
                    own = any(d.contact == viewer.id for d in copies)
                    sent = own or any(bot.store.outbox[d.outbox_key].contact == viewer.id for d in copies
                                      if d.outbox_key in bot.store.outbox)
                    overseer = page["view"] == "every recipient"
                    if revision["said"] == "shown":
                        assert overseer or sent, (viewer.id, reference)
                        assert revision["body"] == bodies[reference, revision["number"]]
                        assert "priority routine → urgent" in revision["changes"]
                    else:
                        assert not (overseer or own) and revision["said"] == "hidden", (viewer.id, reference)
                        assert revision["body"] == revision["changes"] == ""
            board = set(views.board(uow, bot.directory, viewer, now)["references"])
        assert listed == in_chat, viewer.id
        assert opened == in_chat, viewer.id
        if viewer.roles & {Role.OFFICER, Role.CONTACT, Role.COORDINATOR, Role.ADMIN}:  # who may ask /overdue
            answer = "\n".join(says_as(bot, viewer.id, "/overdue"))
            assert board == set(REFERENCE.findall(answer)), (viewer.id, answer)
        else:
            assert board <= in_chat


def test_an_earlier_revision_sent_to_the_viewer_shows_though_they_now_hold_the_item_as_a_delegate() -> None:
    # my-officer had rev 1 as its recipient; rev 2 goes to my-npoc, away, so to my-officer standing in.
    bot = Bot()
    bot.says("my-npoc", "/away until:2026-11-24 backup:@my-officer")
    bot.says("th-deputy", "/alert to:@my-officer tlp:clear topic:document-fraud\nFirst text")
    bot.worker_sends()
    bot.says("th-deputy", "/correct A-2026-0001 to:@my-npoc priority:urgent\n\nSecond text")
    with MemoryUnitOfWork(bot.store) as uow:
        page = views.item_page(uow, bot.directory, bot.directory.contacts["my-officer"], bot.clock.now(), "A-2026-0001")
    [first] = page["revisions"]
    assert (first["said"], first["body"]) == ("shown", "First text")
