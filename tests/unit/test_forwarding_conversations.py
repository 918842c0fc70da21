"""Conversations about passing an item on: /forward, and the originator's /consent."""

from __future__ import annotations

import pytest

from alerts.audit import AuditAction
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.lifecycle import ForwardState
from alerts.messages import InboundMessage, MessageKind
from alerts.routing import PostIn, RoutingPolicy
from tests.fakes import MemoryUnitOfWork
from handlers.post_item import PostingPolicy
from tests.sample_network import network_with_rooms
from tests.unit.test_followup_harness import Bot

REF = "A-2026-0001"
TO_IMMIGRATION = f'/forward {REF} to:TH/immigration purpose:"joint investigation"'


def _posted(caveat: str, to: str = "TH,MY") -> Bot:
    bot = Bot()
    bot.says("my-officer", f"/alert to:{to} {caveat} topic:document-fraud Two travellers, flight XX123")
    bot.worker_sends()
    return bot


@pytest.fixture
def orcon() -> Bot:
    return _posted("tlp:amber orcon")


def _deliveries_to(bot: Bot, contact: str) -> list[str]:
    return [m.text for m in bot.messages_to(contact) if m.kind is MessageKind.DELIVERY]


def test_an_orcon_forward_waits_for_consent_then_goes(orcon: Bot) -> None:
    assert orcon.answer("th-npoc", TO_IMMIGRATION) == (
        f"{REF} is TLP:AMBER H0 ORCON, so I asked My Officer (Malaysia) for consent to forward it to "
        "Th Immigration (Thailand immigration). Nothing is sent until they answer; I will tell you.")
    assert orcon.last_to("my-officer").splitlines() == [
        f"[TLP:AMBER] {REF} · alert",
        f"Th Npoc (Thailand) asks to forward your alert {REF} to Th Immigration (Thailand immigration).",
        "Purpose: joint investigation",
        "It is TLP:AMBER H0 ORCON: nothing is sent until you answer.",
        f"Answer: /consent {REF} yes  or  /consent {REF} no <reason>",
    ]
    assert _deliveries_to(orcon, "th-immigration") == []
    assert orcon.last_audit == [AuditAction.COMMAND, AuditAction.FORWARD]

    orcon.later(20)
    assert orcon.answer("my-officer", f"/consent {REF} yes") == (
        "Consent recorded. It went to Th Immigration (Thailand immigration).")
    assert orcon.last_audit == [AuditAction.COMMAND, AuditAction.CONSENT, AuditAction.FORWARD]
    [delivery] = _deliveries_to(orcon, "th-immigration")
    assert delivery.startswith("[TLP:AMBER] document-fraud · from Malaysia\nTwo travellers")
    assert f"{REF} · alert from My Officer (Malaysia)" in delivery
    assert "TLP:AMBER H0 ORCON" in delivery and "ORCON: no onward sharing without the originator's consent." in delivery
    assert "Forwarded by Th Npoc (Thailand), with the originator's consent" in delivery
    assert "Two travellers, flight XX123" in delivery
    assert orcon.last_to("th-npoc") == (
        f"My Officer (Malaysia) agreed to your forward of {REF} to Th Immigration (Thailand immigration).")
    record = orcon.record(REF)
    assert [d.reason for d in record.route.deliveries][-1] == "forward by th-npoc, consented by my-officer"
    assert [d.contact for d in record.deliveries] == ["th-npoc", "my-npoc", "th-immigration"]


def test_the_new_recipient_is_a_recipient_like_any_other(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    orcon.says("my-officer", f"/consent {REF} yes")
    assert orcon.answer("th-immigration", f"/ack {REF}").startswith("Acknowledged")
    assert orcon.answer("my-officer", f"/status {REF}").splitlines()[3] == "Acknowledged 1 of 3 · answered 0 of 3"


def test_a_refused_consent_sends_nothing_and_tells_the_asker_why(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    assert orcon.answer("my-officer", f"/consent {REF} no source at risk") == (
        "Refusal recorded; Th Npoc (Thailand) is told.")
    assert orcon.last_to("th-npoc") == (
        f"My Officer (Malaysia) refused your forward of {REF} to Th Immigration (Thailand immigration). "
        "Reason: source at risk")
    assert _deliveries_to(orcon, "th-immigration") == []
    [request] = orcon.store.forwards.values()
    assert (request.state, request.decided_by, request.reason) == (ForwardState.REFUSED, "my-officer", "source at risk")
    consent = orcon.store.audit[-1]
    assert (consent.action, consent.detail["decision"], consent.recipients) == (
        AuditAction.CONSENT, "refused", ("th-immigration",))


def test_consent_is_given_once(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    orcon.says("my-officer", f"/consent {REF} no")
    assert orcon.answer("my-officer", f"/consent {REF} yes") == (
        f"Already decided: the forward of {REF} by Th Npoc (Thailand) to Th Immigration (Thailand immigration) "
        "was refused on 23 Nov 17:01 UTC+8.")  # on the asker's clock, in Kuala Lumpur
    assert _deliveries_to(orcon, "th-immigration") == []
    assert orcon.last_audit == [AuditAction.COMMAND]


def test_consent_with_nothing_asked(orcon: Bot) -> None:
    assert orcon.answer("my-officer", f"/consent {REF} yes") == (
        f"Nobody has asked to forward {REF}, so there is nothing to consent to.")


def test_only_the_originator_consents(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    assert orcon.answer("rso-coord", f"/consent {REF} yes") == (
        f"Only the originator of {REF}, My Officer (Malaysia), can consent to forwarding it.")
    assert orcon.last_audit[-1] is AuditAction.REFUSAL
    assert next(iter(orcon.store.forwards.values())).pending


def test_requests_are_answered_oldest_first(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    orcon.later(1)
    orcon.says("th-npoc", f'/forward {REF} to:@th-deputy purpose:"shift handover"')
    assert orcon.answer("my-officer", f"/consent {REF} yes").endswith(
        f"Next of 1 waiting: Th Npoc (Thailand) asks to forward it to Th Deputy (Thailand); /consent {REF} yes|no")
    assert len(_deliveries_to(orcon, "th-immigration")) == 1 and _deliveries_to(orcon, "th-deputy") == []
    orcon.says("my-officer", f"/consent {REF} no")
    assert _deliveries_to(orcon, "th-deputy") == []


def test_consent_covers_the_people_named_and_is_checked_again_when_given(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    gone = {k: v for k, v in orcon.directory.contacts.items() if k != "th-immigration"}
    orcon.directory_source.directory = Directory(orcon.directory.organisations, gone, orcon.directory.rooms)
    assert orcon.answer("my-officer", f"/consent {REF} yes") == (
        "Consent recorded. Nothing was sent: Nobody called @th-immigration in the directory. Try /contacts.")
    assert orcon.last_audit == [AuditAction.COMMAND, AuditAction.CONSENT, AuditAction.REFUSAL]
    assert "Nothing was sent" in orcon.last_to("th-npoc")


def test_a_forward_of_an_item_without_originator_control_goes_at_once() -> None:
    bot = _posted("tlp:amber")
    assert bot.answer("th-npoc", TO_IMMIGRATION) == f"Forwarded {REF} to Th Immigration (Thailand immigration)."
    [delivery] = _deliveries_to(bot, "th-immigration")
    assert "Forwarded by Th Npoc (Thailand)\n" in delivery
    assert bot.last_to("my-officer") == (
        f"{REF}: Th Npoc (Thailand) forwarded your alert to Th Immigration (Thailand immigration). "
        "Purpose: joint investigation")
    assert bot.store.forwards == {}
    forward = bot.store.audit[-1]
    assert (forward.action, forward.recipients, forward.purpose, forward.detail["stage"]) == (
        AuditAction.FORWARD, ("th-immigration",), "joint investigation", "sent")
    assert bot.record(REF).route.deliveries[-1].reason == "forward by th-npoc"


def test_amber_strict_stays_within_the_recipients_own_organisation() -> None:
    bot = _posted("tlp:amber+strict")
    [answer] = bot.says("th-npoc", f'/forward {REF} to:IOM purpose:"trafficking case"')
    assert answer == (f"Not forwarded: {REF} is TLP:AMBER+STRICT H0, so it stays within Thailand; Iom Npoc (IOM) "
                      "is outside. The originator, My Officer (Malaysia), can forward it wider.")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]
    assert _deliveries_to(bot, "iom-npoc") == []
    assert bot.answer("th-npoc", f'/forward {REF} to:@th-deputy purpose:"shift handover"').startswith("Forwarded")


def test_amber_stays_within_the_organisations_that_received_it() -> None:
    bot = _posted("tlp:amber", to="TH,IOM")
    assert bot.answer("th-npoc", f'/forward {REF} to:AU purpose:"x"').startswith("Not forwarded")
    assert bot.answer("th-npoc", f'/forward {REF} to:MY purpose:"x"').startswith("Forwarded")  # the originator's


def test_red_goes_only_to_named_people_and_only_with_consent() -> None:
    bot = _posted("tlp:red", to="@th-npoc")
    [refused] = bot.says("th-npoc", f'/forward {REF} to:TH purpose:"deputy covers"')
    assert refused.startswith("Not forwarded: TLP:RED goes only to named people")
    assert "asked My Officer (Malaysia) for consent" in bot.answer("th-npoc", f'/forward {REF} to:@th-deputy purpose:"deputy covers"')
    assert _deliveries_to(bot, "th-deputy") == []


def test_a_forward_goes_to_direct_chats_even_where_items_are_posted_in_rooms() -> None:
    bot = Bot(network_with_rooms(), PostingPolicy(DuePolicy.default(), routing=RoutingPolicy(post=PostIn.ROOMS)))
    bot.says("my-officer", "/alert to:TH tlp:green Boat sighted")
    bot.says("th-npoc", f'/forward {REF} to:TH/immigration purpose:"shift handover"')
    [forward] = [m for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY][-1:]
    assert (str(forward.destination), forward.contact) == ("direct:console:th-immigration", "th-immigration")


def test_the_originator_may_share_wider_without_asking_anyone() -> None:
    bot = _posted("tlp:amber+strict orcon")
    assert bot.answer("my-officer", f"/forward {REF} to:IOM") == f"Forwarded {REF} to Iom Npoc (IOM)."
    assert bot.record(REF).route.deliveries[-1].reason == "forward by my-officer"


def test_only_recipients_and_the_originator_forward(orcon: Bot) -> None:
    assert orcon.answer("th-deputy", f'/forward {REF} to:TH purpose:"x"') == (
        f"Only the originator and recipients of {REF} can forward it.")
    assert orcon.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]


def test_a_recipients_forward_needs_a_purpose(orcon: Bot) -> None:
    assert orcon.answer("th-npoc", f"/forward {REF} to:TH/immigration") == (
        f'Say why you forward it, with purpose:. Example: /forward {REF} to:TH purpose:"joint investigation"')
    assert orcon.store.forwards == {}


def test_nobody_gets_an_item_twice(orcon: Bot) -> None:
    assert orcon.answer("th-npoc", f'/forward {REF} to:MY purpose:"x"') == f"Everyone you named already has {REF}."


def test_closing_an_item_refuses_the_forwards_still_waiting(orcon: Bot) -> None:
    orcon.says("th-npoc", TO_IMMIGRATION)
    orcon.says("my-officer", f"/close {REF} case closed")
    assert orcon.last_audit == [AuditAction.COMMAND, AuditAction.CLOSURE, AuditAction.CONSENT]
    assert orcon.last_to("th-npoc").endswith("Reason: the item was closed")
    assert orcon.answer("th-npoc", TO_IMMIGRATION).startswith(f"{REF} is closed, and closed items are not forwarded.")


def test_a_forward_is_not_kept_without_a_commit(orcon: Bot) -> None:
    message = InboundMessage("x", UserRef.parse("console:th-npoc"), ChatRef.parse("console:@th-npoc"),
                             TO_IMMIGRATION, orcon.clock.now())
    audited, queued = len(orcon.store.audit), len(orcon.store.outbox)
    with MemoryUnitOfWork(orcon.store) as uow:
        orcon.dispatcher.handle(uow, message)
    assert orcon.store.forwards == {}
    assert (len(orcon.store.audit), len(orcon.store.outbox)) == (audited, queued)
