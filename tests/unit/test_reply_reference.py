"""Which messages of the bot's a plain reply answers as /reply, and an acknowledging reaction as /ack:
decided by what was sent, not its text."""

from __future__ import annotations

import pytest

from alerts.messages import MessageKind, SentMessage, acknowledged_reference, no_reply_hint, reply_reference

REF = "A-2026-0001"


def sent(kind: MessageKind, to: str | None, reference: str | None = REF) -> SentMessage:
    return SentMessage(kind, reference, to, originator="my-officer")


@pytest.mark.parametrize("kind", [MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION])
def test_a_recipient_answers_their_own_copy_and_its_reminders(kind: MessageKind) -> None:
    assert reply_reference(sent(kind, "th-npoc"), "th-npoc") == REF
    assert reply_reference(sent(kind, "th-npoc"), "my-npoc") is None  # somebody else's, in a shared room
    assert reply_reference(sent(kind, "my-officer"), "my-officer") is None  # never an update by accident


def test_the_originator_answers_relayed_feedback_and_nothing_else() -> None:
    assert reply_reference(sent(MessageKind.FEEDBACK, "my-officer"), "my-officer") == REF
    assert reply_reference(sent(MessageKind.FEEDBACK, "th-npoc"), "th-npoc") is None  # an update relayed to them
    for kind in (MessageKind.RECEIPT, MessageKind.ANSWER, MessageKind.NOTICE, MessageKind.APPROVAL):
        assert reply_reference(sent(kind, "my-officer"), "my-officer") is None


def test_unknown_messages_and_senders_invite_nothing() -> None:
    assert reply_reference(None, "th-npoc") is None
    assert reply_reference(sent(MessageKind.DELIVERY, "th-npoc"), None) is None
    assert reply_reference(sent(MessageKind.DELIVERY, "th-npoc", reference=None), "th-npoc") is None
    assert reply_reference(sent(MessageKind.ANSWER, None), "th-npoc") is None


def test_the_answer_to_a_reply_that_went_nowhere_says_how_to_send_one() -> None:
    assert no_reply_hint(REF).endswith(f"/reply {REF} your text")
    assert "/reply A-2026-0001 your text" in no_reply_hint(None)
    assert "went to no one" in no_reply_hint(None)


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize(("to", "who"), [("th-npoc", "th-npoc"), ("th-npoc", "my-npoc"), ("my-officer", "my-officer"),
                                         (None, "th-npoc"), ("th-npoc", None)])
def test_a_reaction_acknowledges_by_the_rule_of_replies_on_what_asks_to_act_on_a_copy(
        kind: MessageKind, to: str | None, who: str | None) -> None:
    asks = kind in (MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION)
    expected = reply_reference(sent(kind, to), who) if asks else None
    assert acknowledged_reference(sent(kind, to), who) == expected
    assert (expected == REF) == (asks and to == who == "th-npoc")


def test_relayed_feedback_invites_a_reply_but_acknowledges_nothing() -> None:
    assert reply_reference(sent(MessageKind.FEEDBACK, "my-officer"), "my-officer") == REF
    assert acknowledged_reference(sent(MessageKind.FEEDBACK, "my-officer"), "my-officer") is None
    assert acknowledged_reference(None, "th-npoc") is None
