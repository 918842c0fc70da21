"""The Matrix protocol without I/O (bot/connectors/matrix/sansio/): events in, inbox messages out;
outbox rows in, event contents out; room state in, roster and findings out. No homeserver: these
tests never ask for the `synapse` fixture."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.caveats import Caveat, Tlp
from alerts.directory import Directory, Room, RoomPurpose
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import MessageKind, SentMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.matrix.sansio.inbound import (
    MatrixFile,
    MatrixReaction,
    MatrixText,
    Target,
    reaction_message,
    read_event,
    text_message,
)
from bot.connectors.matrix.sansio.outbound import FILES_FIELD, bang_commands, edit_content, files_of, message_content
from bot.connectors.matrix.sansio.rooms import MEGOLM, changes, invite_decision, look_at, roster
from alerts.roles import Role
from tests.sample_network import person, small_network

ROOM = "!room:example.org"
BOT = "@bot:example.org"
TH = "@th:example.org"
DELIVERY = Target("$d", ("A-2026-0001", "th-npoc"), from_bot=True)


def event(content: dict[str, Any], kind: str = "m.room.message", sender: str = TH) -> dict[str, Any]:
    return {"type": kind, "event_id": "$e", "sender": sender, "origin_server_ts": 1_700_000_000_000,
            "content": content}


def text(body: str, reply_to: str | None = None) -> MatrixText:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    read = read_event(event(content), ROOM)
    assert isinstance(read, MatrixText)
    return read


def reaction(key: str, target: str = "$d") -> MatrixReaction:
    read = read_event(event({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}},
                            "m.reaction"), ROOM)
    assert isinstance(read, MatrixReaction)
    return read


# --- an event -> an inbox message -----------------------------------------------------------------

def test_a_command_is_recorded_as_typed_and_conversation_is_not() -> None:
    message = text_message(text("!status A-2026-0001"), (), direct=True)
    assert message is not None and message.text == "!status A-2026-0001" and message.direct
    assert message.sender == UserRef.parse(f"matrix:{TH}") and message.chat == ChatRef.parse(f"matrix:{ROOM}")
    assert message.remark is None and message.message_id == "$e"
    assert text_message(text("good morning"), (), direct=False) is None


def test_a_reply_to_a_delivery_is_feedback_on_its_item() -> None:
    message = text_message(text("> <@bot:example.org> [TLP:AMBER] ...\n\nConfirmed", "$d"), (DELIVERY,), False,
                           sender_contact="th-npoc")
    assert message is not None and message.text == "/reply A-2026-0001 Confirmed"
    assert message.reply_to == MessageRef(ChatRef.parse(f"matrix:{ROOM}"), "$d")


def test_a_reply_to_somebody_elses_copy_in_a_shared_room_goes_to_no_one() -> None:
    # The originator in the recipients' room: taken as /reply, "noted" would be an update to everyone.
    for who in ("my-officer", "my-npoc", None):
        message = text_message(text("noted", "$d"), (DELIVERY,), False, sender_contact=who)
        assert message is not None and message.text == "" and message.remark is not None, who
        assert "went to no one" in message.remark and "/reply A-2026-0001 your text" in message.remark


def sent(kind: MessageKind, to: str) -> Target:
    return Target("$s", from_bot=True, sent=SentMessage(kind, "A-2026-0001", to, "my-officer"))


@pytest.mark.parametrize(("target", "who"), [
    (sent(MessageKind.REMINDER, "th-npoc"), "th-npoc"),
    (sent(MessageKind.ESCALATION, "th-npoc"), "th-npoc"),
    (sent(MessageKind.FEEDBACK, "my-officer"), "my-officer"),  # feedback relayed to the originator
])
def test_a_reply_to_a_reminder_of_ones_copy_or_to_relayed_feedback_is_a_reply(target: Target, who: str) -> None:
    message = text_message(text("Checking", "$s"), (target,), False, sender_contact=who)
    assert message is not None and message.text == "/reply A-2026-0001 Checking" and message.remark is None


@pytest.mark.parametrize(("target", "who"), [
    (sent(MessageKind.RECEIPT, "my-officer"), "my-officer"),  # "thanks" to one's receipt: no update to all
    (sent(MessageKind.ANSWER, "th-npoc"), "th-npoc"),  # a /status answer
    (sent(MessageKind.FEEDBACK, "th-npoc"), "th-npoc"),  # an update relayed to a recipient
    (sent(MessageKind.REMINDER, "th-npoc"), "my-npoc"),  # somebody else's reminder
])
def test_a_reply_to_a_message_that_invites_none_is_told_why_and_routes_nothing(target: Target, who: str) -> None:
    message = text_message(text("thanks", "$s"), (target,), False, sender_contact=who)
    assert message is not None and message.text == "" and message.remark is not None


def test_a_plain_reply_to_a_bot_message_that_is_no_item_is_told_why() -> None:
    message = text_message(text("thanks", "$receipt"), (Target("$receipt", from_bot=True),), False)
    assert message is not None and message.text == "" and message.remark is not None
    assert "not a delivered alert or request" in message.remark and "reply" in message.remark


def test_a_reply_among_people_is_conversation_and_a_command_reply_stays_a_command() -> None:
    assert text_message(text("agreed", "$p"), (Target("$p"),), False) is None
    message = text_message(text("!help", "$p"), (Target("$p"),), False)
    assert message is not None and message.text == "!help" and message.remark is None


def test_an_acknowledging_reaction_by_the_recipient_acknowledges() -> None:
    message = reaction_message(reaction("\U0001F44D"), DELIVERY, "th-npoc")
    assert message is not None and message.text == "/ack A-2026-0001" and message.remark is None


@pytest.mark.parametrize(("key", "target", "who", "why"), [
    ("\u2764\ufe0f", DELIVERY, "th-npoc", "does nothing. React with ✅ 👍 ✔️ ☑️ to acknowledge A-2026-0001"),
    ("\u2705", DELIVERY, "my-officer", "A-2026-0001 was delivered here to somebody else"),
    ("\u2705", Target("$receipt", from_bot=True), "th-npoc", "That message is not a delivered alert or request"),
])
def test_a_reaction_that_does_nothing_is_told_why(key: str, target: Target, who: str, why: str) -> None:
    message = reaction_message(reaction(key, target.event_id), target, who)
    assert message is not None and message.text == "" and message.remark is not None and why in message.remark


ACK_KEYS_SENT = ["\u2705", "\U0001F44D\U0001F3FD", "\u2714\ufe0f", "\u2611"]


@pytest.mark.parametrize("kind", [MessageKind.REMINDER, MessageKind.ESCALATION])
@pytest.mark.parametrize("key", ACK_KEYS_SENT)
def test_an_acknowledging_reaction_on_a_reminder_or_escalation_sent_to_the_reactor_acknowledges(
        kind: MessageKind, key: str) -> None:
    # Sent to them: their own copy's reminder, or, as a delegate or a backup, the one sent to them (the
    # /ack handler decides whose copy that is, as it does for a typed /ack), so a phone need not scroll
    # back to the delivery.
    message = reaction_message(reaction(key, "$s"), sent(kind, "th-npoc"), "th-npoc")
    assert message is not None and message.text == "/ack A-2026-0001" and message.remark is None
    assert message.reply_to == MessageRef(ChatRef.parse(f"matrix:{ROOM}"), "$s")


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize(("to", "who"), [("th-npoc", "th-npoc"), ("th-npoc", "my-npoc"),
                                         ("my-officer", "my-officer"), (None, "th-npoc")])
def test_a_reaction_acknowledges_where_a_reply_would_answer_and_the_message_asks_for_one(
        kind: MessageKind, to: str | None, who: str) -> None:
    """One rule for replies and reactions: ✅ is /ack exactly where a reply would be /reply on a
    message that asks its reader to act on their copy; relayed feedback invites a reply, not an ack."""
    target = Target("$s", from_bot=True, sent=SentMessage(kind, "A-2026-0001", to, "my-officer"))
    replied = text_message(text("Checking", "$s"), (target,), False, sender_contact=who)
    reacted = reaction_message(reaction("\u2705", "$s"), target, who)
    assert replied is not None and reacted is not None
    acknowledges = replied.text.startswith("/reply ") and kind is not MessageKind.FEEDBACK
    assert acknowledges == (kind in (MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION)
                            and to == who and who != "my-officer")
    if acknowledges:
        assert reacted.text == "/ack A-2026-0001" and reacted.remark is None
    else:  # never silence, never a command
        assert reacted.text == "" and reacted.remark, (kind, to, who)


@pytest.mark.parametrize(("key", "target", "who", "why"), [
    ("\u2764\ufe0f", sent(MessageKind.REMINDER, "th-npoc"), "th-npoc",
     "A \u2764\ufe0f reaction does nothing. React with ✅ 👍 ✔️ ☑️ to acknowledge A-2026-0001"),
    ("\u2705", sent(MessageKind.REMINDER, "th-npoc"), "my-npoc", "that reminder was sent to somebody else"),
    ("\u2705", sent(MessageKind.ESCALATION, "my-officer"), "my-officer", "/status A-2026-0001"),
    ("\u2705", sent(MessageKind.FEEDBACK, "my-officer"), "my-officer", "/status A-2026-0001"),
    ("\u2705", sent(MessageKind.RECEIPT, "my-officer"), "my-officer", "/status A-2026-0001"),
    ("\u2705", Target("$a", from_bot=True, sent=SentMessage(MessageKind.ANSWER, None, None)), "th-npoc",
     "That message is not a delivered alert or request"),
])
def test_a_reaction_on_a_bot_message_about_an_item_that_does_nothing_is_told_why(
        key: str, target: Target, who: str, why: str) -> None:
    message = reaction_message(reaction(key, target.event_id), target, who)
    assert message is not None and message.text == "" and message.remark is not None
    assert why in message.remark, message.remark


def test_reactions_among_people_and_by_strangers_are_left_alone() -> None:
    assert reaction_message(reaction("\u2705", "$p"), Target("$p"), "th-npoc") is None
    assert reaction_message(reaction("\u2705"), DELIVERY, None) is None


APPROVAL = Target("$ask", from_bot=True, approval="A-2026-0002")


@pytest.mark.parametrize("key", ["\u2705", "\U0001F44D\U0001F3FD", "\u2714\ufe0f", "\u2611"])
@pytest.mark.parametrize("who", ["my-approver", "my-officer", "th-npoc"])
def test_an_acknowledging_reaction_on_an_approval_request_is_approve_from_whoever_reacted(key: str, who: str) -> None:
    # The originator and people who may not approve are not filtered here: /approve refuses them, with
    # its own answer and audit entry, as it refuses them typed.
    message = reaction_message(reaction(key, "$ask"), APPROVAL, who)
    assert message is not None and message.text == "/approve A-2026-0002" and message.remark is None
    assert message.sender == UserRef.parse(f"matrix:{TH}")
    assert message.reply_to == MessageRef(ChatRef.parse(f"matrix:{ROOM}"), "$ask")


def test_another_reaction_or_a_reply_on_an_approval_request_says_how_to_approve_and_decline() -> None:
    message = reaction_message(reaction("\U0001F44E", "$ask"), APPROVAL, "my-approver")
    assert message is not None and message.text == ""
    assert message.remark == ("A \U0001F44E reaction does nothing. React with ✅ to approve A-2026-0002, or "
                              "decline it with /decline A-2026-0002 your reason.")
    reply = text_message(text("not sure about this", "$ask"), (APPROVAL,), False)
    assert reply is not None and reply.text == "" and reply.remark is not None
    assert reply.remark.startswith("A reply to an approval request does nothing. React with ✅ to approve A-2026-0002")
    typed = text_message(text("!decline A-2026-0002 wrong recipient", "$ask"), (Target("$ask"),), False)
    assert typed is not None and typed.text == "!decline A-2026-0002 wrong recipient"


def test_a_reaction_on_an_approval_request_by_a_stranger_is_left_alone() -> None:
    assert reaction_message(reaction("\u2705", "$ask"), APPROVAL, None) is None


def test_an_edit_is_not_read() -> None:
    assert read_event(event({"msgtype": "m.text", "body": "* !alert x", "m.new_content": {"body": "!alert x"},
                             "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}), ROOM) is None


# --- an outbox row -> the event content -----------------------------------------------------------

def outgoing(kind: MessageKind, destination: Destination, text: str, *attention: str) -> Outgoing:
    return Outgoing(key="k1", kind=kind, destination=destination, text=text, reference="A-2026-0001",
                    contact="th-npoc", protect_content=False, reply_to=None, attempt=1,
                    attention=tuple(UserRef.parse(a) for a in attention))


IN_ROOM = Destination.chat(ChatRef(Platform.MATRIX, ROOM))
DIRECT = Destination.direct(UserRef.parse(f"matrix:{TH}"))


def test_a_delivery_in_a_room_is_a_text_that_mentions_its_recipient() -> None:
    content = message_content(outgoing(MessageKind.DELIVERY, IN_ROOM, "[TLP:GREEN] A-2026-0001 · alert\nBody",
                                       f"matrix:{TH}", "telegram:user:42"), ROOM)
    assert content["msgtype"] == "m.text"
    assert content["m.mentions"] == {"user_ids": [TH]}  # the Telegram account is not Matrix's business
    assert content["body"].startswith("[TLP:GREEN] A-2026-0001") and content["body"].endswith(f"\n{TH}")
    assert content["formatted_body"].endswith(f'<a href="https://matrix.to/#/{TH}">{TH}</a>')


def test_a_reminder_in_a_direct_chat_mentions_without_repeating_the_id() -> None:
    content = message_content(outgoing(MessageKind.REMINDER, DIRECT, "Reminder: A-2026-0001", f"matrix:{TH}"), ROOM)
    assert content["msgtype"] == "m.text" and content["m.mentions"] == {"user_ids": [TH]}
    assert content["body"] == "Reminder: A-2026-0001"


@pytest.mark.parametrize("attention", [(), ("telegram:user:42",)])
def test_receipts_and_answers_are_notices_that_mention_nobody(attention: tuple[str, ...]) -> None:
    content = message_content(outgoing(MessageKind.RECEIPT, IN_ROOM, "Alert A-2026-0001 accepted", *attention), ROOM)
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {}
    assert content["body"] == "Alert A-2026-0001 accepted"


def test_an_approval_request_on_matrix_says_approve_by_reaction_and_decline_typed() -> None:
    from handlers.post_item import approval_hint
    ask = f"Aminah asks you to approve the release of alert A-2026-0001. {approval_hint('A-2026-0001')}\n\nbody"
    content = message_content(outgoing(MessageKind.APPROVAL, DIRECT, ask), ROOM)
    assert content["body"] == ("Aminah asks you to approve the release of alert A-2026-0001. Approve: react ✅ to "
                               "this message (or !approve A-2026-0001) · Decline: !decline A-2026-0001 your reason"
                               "\n\nbody")
    # Anything else keeps its text: only an approval request is answered by a reaction.
    notice = message_content(outgoing(MessageKind.NOTICE, DIRECT, ask), ROOM)
    assert "react ✅" not in notice["body"] and "Approve: !approve A-2026-0001 · Decline" in notice["body"]


@pytest.mark.parametrize("caveat", [Caveat(Tlp.RED), Caveat(Tlp.AMBER)])
def test_an_approval_request_notifies_and_mentions_its_approver_as_a_delivery_does(caveat: Caveat) -> None:
    """Approval requests and their reminders (post_item's and correction's _hold, release.py's round)
    are made by messages_about: they wait on one person's action, so they are an m.text that mentions
    the approver (the default push rules notify them), not a quiet m.notice."""
    from handlers.answer_place import messages_about
    from handlers.post_item import approval_hint
    ask = f"Aminah asks you to approve the release of alert A-2026-0001. {approval_hint('A-2026-0001')}"
    approver = "@au-npoc:example.org"
    [row] = messages_about(small_network(), "au-npoc", caveat, "A-2026-0001", ask, lambda: "k1",
                           kind=MessageKind.APPROVAL)
    assert row.destination == Destination.direct(UserRef.parse(f"matrix:{approver}"))
    content = message_content(Outgoing(key=row.key, kind=row.kind, destination=row.destination, text=row.text,
                                       reference=row.reference, contact=row.contact,
                                       protect_content=row.protect_content, reply_to=None, attempt=1,
                                       attention=row.attention), ROOM)
    assert content["msgtype"] == "m.text"
    assert content["m.mentions"] == {"user_ids": [approver]}  # its Telegram account is not Matrix's business
    assert content["body"].startswith("Aminah asks you to approve") and approver not in content["body"]  # direct chat


def test_hints_on_matrix_use_the_bang_prefix() -> None:
    written = "Acknowledge: /ack A-1 · Feedback: /reply A-1 <text>\n(/status A-1) or send /help."
    assert bang_commands(written) == "Acknowledge: !ack A-1 · Feedback: !reply A-1 <text>\n(!status A-1) or send !help."
    for kept in ("and/or", "https://example.org/help", "/nonsense", "/helpful", "a/ack"):
        assert bang_commands(kept) == kept
    content = message_content(outgoing(MessageKind.DELIVERY, DIRECT, "Acknowledge: /ack A-1", f"matrix:{TH}"), ROOM)
    assert content["body"] == "Acknowledge: !ack A-1" and "!ack A-1" in content["formatted_body"]


def test_an_earlier_copy_marked_superseded_is_an_edit_of_the_bots_event_that_notifies_nobody() -> None:
    text = "Superseded by A-2026-0001 rev 2 — see the new copy\n[TLP:AMBER] from Malaysia"
    content = edit_content("$rev1", text, "sup-1")
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$rev1"}
    new = content["m.new_content"]
    assert new["body"] == text and new["m.mentions"] == {} and content["m.mentions"] == {}
    assert content["body"] == f"* {text}" and content["org.liaison.key"] == "sup-1"
    assert "TLP:AMBER</span>" in new["formatted_body"]  # the banner's label keeps its colour
    assert read_event(event(content), ROOM).edit_of == "$rev1"  # type: ignore[union-attr]  # as clients read it


def test_a_text_sent_after_its_photos_lists_them_and_only_the_bots_own_list_is_read_back() -> None:
    message = outgoing(MessageKind.DELIVERY, DIRECT, "[TLP:RED] A-2026-0001 · alert\nBody", f"matrix:{TH}")
    content = message_content(message, ROOM, ["$photo1", "$photo2"])
    assert content[FILES_FIELD] == ["$photo1", "$photo2"] and content["msgtype"] == "m.text"
    assert FILES_FIELD not in message_content(message, ROOM)  # no photos: no list
    sent = {"type": "m.room.encrypted", "sender": BOT, "event_id": "$text",
            "content": {FILES_FIELD: ["$photo1", "$photo2"]}}
    assert files_of(sent, BOT) == ("$photo1", "$photo2")
    # Someone else's event never makes the bot redact what it names; nor does a list that is not event ids.
    assert files_of({**sent, "sender": TH}, BOT) == ()
    for bad in (["photo1"], "$photo1", [1], [], ["$x"] * 21, [""], None):
        assert files_of({**sent, "content": {FILES_FIELD: bad}}, BOT) == ()
    assert files_of({**sent, "content": "x"}, BOT) == () and files_of(None, BOT) == ()


def test_marking_a_photo_copy_superseded_edits_its_text_event_and_never_makes_a_photo_text() -> None:
    """The edit targets the event the delivery recorded (the text, sent after its photos) and lists no
    photos: its m.new_content is text, and the photos of the copy are redacted apart (media.redact_files)."""
    content = edit_content("$text", "Superseded by A-2026-0001 rev 2 — see the new copy\n[TLP:RED] from Malaysia",
                           "sup-1")
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$text"}
    assert content["m.new_content"]["msgtype"] == "m.text" and FILES_FIELD not in content
    assert "file" not in content["m.new_content"] and "url" not in content["m.new_content"]


# --- room state -> roster and findings --------------------------------------------------------------

def member(user: str, membership: str) -> dict[str, Any]:
    return {"type": "m.room.member", "state_key": user, "sender": user, "content": {"membership": membership}}


def test_room_state_becomes_a_roster_and_a_lost_encryption_a_serious_finding() -> None:
    state = [{"type": "m.room.create", "state_key": "", "sender": "@admin:example.org",
              "content": {"room_version": "10"}},
             member(BOT, "join"), member(TH, "join"), member("@new:example.org", "invite"), member("@gone:x", "leave"),
             {"type": "m.room.encryption", "state_key": "", "sender": "@admin:example.org",
              "content": {"algorithm": MEGOLM}},
             {"type": "m.room.power_levels", "state_key": "", "sender": "@admin:example.org",
              "content": {"users": {BOT: 50}, "invite": 0, "kick": 50}}]
    look = look_at(ROOM, state, BOT)
    assert roster(look) == {UserRef.parse(f"matrix:{TH}"): "joined", UserRef.parse("matrix:@new:example.org"): "invited"}
    assert look.in_room and look.encryption == MEGOLM and look.lacking == ()
    plain = look_at(ROOM, [e for e in state if e["type"] != "m.room.encryption"]
                    + [{"type": "m.room.encryption", "state_key": "", "sender": "@x:y", "content": {}}], BOT)
    [finding] = changes("Thailand", look.snapshot(), plain)
    assert finding.serious and finding.kind == "encryption"


def test_which_invites_are_accepted() -> None:
    directory = Directory.build(
        small_network().organisations.values(),
        [person("admin", "RSO", Role.ADMIN, identities=("matrix:@admin:x",)),
         person("th-npoc", "TH", Role.CONTACT, identities=(f"matrix:{TH}",))],
        [Room(ChatRef(Platform.MATRIX, ROOM), "Thailand", RoomPurpose.COUNTRY)])
    assert invite_decision(directory, ROOM, None, False)[0]
    assert invite_decision(directory, "!other:x", "@admin:x", False)[0]
    assert invite_decision(directory, "!other:x", TH, True)[0]
    assert not invite_decision(directory, "!other:x", TH, False)[0]
    assert not invite_decision(directory, "!other:x", "@stranger:x", True)[0]


def test_the_sans_io_layer_imports_no_network_library() -> None:
    import ast
    from pathlib import Path

    import bot.connectors.matrix.sansio as sansio

    for path in Path(sansio.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in {"nio", "aiohttp", "asyncio", "socket", "storage"}, (path, name)


# --- as people write on a phone -------------------------------------------------------------------

def pilled(body: str, html_body: str, reply_to: str | None = None) -> MatrixText:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body, "format": "org.matrix.custom.html",
                               "formatted_body": html_body}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    read = read_event(event(content), ROOM, BOT)
    assert isinstance(read, MatrixText)
    return read


BOT_PILL = f'<a href="https://matrix.to/#/{BOT}">Liaison Bot</a>'


@pytest.mark.parametrize(("body", "html_body"), [
    ("Liaison Bot: !status A-2026-0001", f"{BOT_PILL}: !status A-2026-0001"),   # Element's pill, with its colon
    ("Liaison Bot !status A-2026-0001", f"{BOT_PILL} !status A-2026-0001"),     # Element X: the name alone
    ("Liaison Bot,\u00a0!status A-2026-0001", f"{BOT_PILL},&nbsp;!status A-2026-0001"),
    (f"{BOT}: !status A-2026-0001", f"{BOT}: !status A-2026-0001"),            # the id typed, no pill
])
def test_a_command_addressed_to_the_bot_by_its_pill_is_the_command(body: str, html_body: str) -> None:
    message = text_message(pilled(body, html_body), (), direct=False)
    assert message is not None and message.text == "!status A-2026-0001" and message.remark is None
    assert message.mentions == ()  # the bot's own pill names nobody in the command


def test_a_pill_of_the_bot_before_plain_words_is_told_how_commands_are_written() -> None:
    message = text_message(pilled("Liaison Bot: what is due today?", f"{BOT_PILL}: what is due today?"), (), False)
    assert message is not None and message.text == "" and message.remark is not None
    assert "!help" in message.remark and "!status A-2026-0042" in message.remark
    # Somebody else's pill, or the bot's in the middle of a sentence, is conversation.
    other = f'<a href="https://matrix.to/#/{TH}">Somchai</a>'
    assert text_message(pilled("Somchai: !status A-2026-0001 please?", f"{other}: !status A-2026-0001 please?"),
                        (), False) is None
    assert text_message(pilled("ask Liaison Bot about it", f"ask {BOT_PILL} about it"), (), False) is None


def test_a_pill_of_the_bot_before_feedback_is_left_out_of_the_feedback() -> None:
    read = pilled("> <@bot:example.org> [TLP:AMBER] ...\n\nLiaison Bot: Confirmed",
                  f"<mx-reply>quoted</mx-reply>{BOT_PILL}: Confirmed", "$d")
    message = text_message(read, (DELIVERY,), False, sender_contact="th-npoc")
    assert message is not None and message.text == "/reply A-2026-0001 Confirmed"


@pytest.mark.parametrize(("typed", "meant"), [
    ("!ack", "!ack A-2026-0001"),
    ("/ACK", "/ACK A-2026-0001"),
    ("!status", "!status A-2026-0001"),
    ("!snooze 4h waiting for records", "!snooze A-2026-0001 4h waiting for records"),
    ("!reply Confirmed, stolen", "!reply A-2026-0001 Confirmed, stolen"),
    ("!ack A-2026-0007", "!ack A-2026-0007"),      # a reference typed is the one meant
    ("!ack a-2026-0007", "!ack a-2026-0007"),
    ("!mine", "!mine"),                            # a command about no one item is left as it is
    ("!help ack", "!help ack"),
])
def test_a_command_in_reply_to_a_delivery_is_about_its_item_when_it_names_none(typed: str, meant: str) -> None:
    message = text_message(text(f"> <@bot:example.org> [TLP:AMBER] ...\n\n{typed}", "$d"), (DELIVERY,), False,
                           sender_contact="th-npoc")
    assert message is not None and message.text == meant


def edit(body: str, original: str = "$r") -> MatrixText:
    read = read_event(event({"msgtype": "m.text", "body": f"* {body}",
                             "m.new_content": {"msgtype": "m.text", "body": body},
                             "m.relates_to": {"rel_type": "m.replace", "event_id": original}}), ROOM, BOT)
    assert isinstance(read, MatrixText) and read.edit_of == original
    return read


def test_an_edit_of_feedback_says_the_feedback_went_as_first_written() -> None:
    # The original was a plain reply to the delivery (the connector looked it up): the edit carries no
    # relation to the delivery (m.new_content), and is not sent on.
    message = text_message(edit("Confirmed, stolen in 2025"), (), False, edited="A-2026-0001")
    assert message is not None and message.text == "" and message.remark is not None
    assert message.remark.startswith("Your feedback on A-2026-0001 was passed on as you first wrote it")
    assert "!reply A-2026-0001" in message.remark
    # An edit of conversation the bot never recorded stays conversation.
    assert text_message(edit("see you at 3"), (), False, edited=None) is None
    # An edit that is a command is the dispatcher's to judge (answered that it already ran, or run).
    typed = text_message(edit("!reply A-2026-0001 Confirmed, stolen in 2025"), (), False, edited="A-2026-0001")
    assert typed is not None and typed.text.startswith("!reply") and typed.edit_of == "$r"


# --- where an answer goes: the thread, or attached to the command ---------------------------------

def threaded(body: str, root: str = "$root", falling_back: bool = True) -> MatrixText:
    """A text sent in a thread, as Element writes it (the reply fallback points at the thread's last event)."""
    read = read_event(event({"msgtype": "m.text", "body": body,
                             "m.relates_to": {"rel_type": "m.thread", "event_id": root,
                                              "is_falling_back": falling_back,
                                              "m.in_reply_to": {"event_id": "$last"}}}), ROOM, BOT)
    assert isinstance(read, MatrixText) and read.thread == root
    return read


def answer_content(answer_to: MessageRef | None, kind: MessageKind = MessageKind.ANSWER) -> dict[str, Any]:
    """The event content of an answer the handlers queue for a message (CommandContext.answer_message)."""
    return message_content(Outgoing(key="k2", kind=kind, destination=IN_ROOM, text="A-2026-0001: delivered to 2",
                                    reference=None, contact="th-npoc", protect_content=False, reply_to=answer_to,
                                    attempt=1), ROOM)


@pytest.mark.parametrize("direct", [False, True])
def test_the_answer_to_a_command_in_a_thread_goes_to_that_thread(direct: bool) -> None:
    message = text_message(threaded("!status A-2026-0001"), (Target("$root"), Target("$last")), direct)
    assert message is not None and message.text == "!status A-2026-0001"
    content = answer_content(message.answer_to)
    # In the thread for clients with threads; a reply to the command for clients without.
    assert content["m.relates_to"] == {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": "$e"}}


def test_the_answer_to_feedback_in_a_delivery_thread_goes_to_that_thread() -> None:
    read = threaded("Coast guard informed", root="$d")
    message = text_message(read, (DELIVERY, Target("$last")), False, sender_contact="th-npoc")
    assert message is not None and message.text == "/reply A-2026-0001 Coast guard informed"
    assert answer_content(message.answer_to)["m.relates_to"]["event_id"] == "$d"


def test_the_answer_to_a_command_in_a_room_replies_to_it_and_in_a_direct_chat_is_plain() -> None:
    in_room = text_message(text("!status A-2026-0001"), (), direct=False)
    assert in_room is not None
    assert answer_content(in_room.answer_to)["m.relates_to"] == {"m.in_reply_to": {"event_id": "$e"}}
    in_direct = text_message(text("!status A-2026-0001"), (), direct=True)
    assert in_direct is not None and in_direct.answer_to is None
    assert "m.relates_to" not in answer_content(in_direct.answer_to)
    # A remark (a reply that does nothing) is attached to what it is about, too.
    told = text_message(text("thanks", "$receipt"), (Target("$receipt", from_bot=True),), False)
    assert told is not None and told.remark is not None
    assert answer_content(told.answer_to)["m.relates_to"] == {"m.in_reply_to": {"event_id": "$e"}}


def test_deliveries_stay_out_of_threads_and_replies() -> None:
    content = message_content(outgoing(MessageKind.DELIVERY, IN_ROOM, "[TLP:GREEN] A-2026-0001 · alert\nBody",
                                       f"matrix:{TH}"), ROOM)
    assert "m.relates_to" not in content


def test_an_answer_placed_in_another_room_carries_no_relation() -> None:
    elsewhere = text_message(threaded("!status A-2026-0001"), (), False)
    assert elsewhere is not None and elsewhere.answer_to is not None
    content = message_content(Outgoing(key="k3", kind=MessageKind.ANSWER, destination=DIRECT, text="private",
                                       reference=None, contact="th-npoc", protect_content=False,
                                       reply_to=elsewhere.answer_to, attempt=1), "!dm:example.org")
    assert "m.relates_to" not in content


# --- addressed as people type on a phone ----------------------------------------------------------

def typed(body: str) -> MatrixText:
    """A text with no HTML: the bot's name typed out, not picked as a pill."""
    read = read_event(event({"msgtype": "m.text", "body": body}), ROOM, BOT, "Liaison Bot")
    assert isinstance(read, MatrixText)
    return read


@pytest.mark.parametrize("body", [
    "Liaison Bot: !status A-2026-0001",
    "liaison bot, !status A-2026-0001",
    "@Liaison Bot: !status A-2026-0001",   # the @ typed, the completion not picked
    "Liaison Bot !status A-2026-0001",
])
def test_a_command_addressed_by_the_bots_display_name_typed_out_is_the_command(body: str) -> None:
    read = typed(body)
    assert read.addressed
    message = text_message(read, (), direct=False)
    assert message is not None and message.text == "!status A-2026-0001" and message.remark is None


def test_the_bots_display_name_typed_before_plain_words_is_told_and_in_a_sentence_is_conversation() -> None:
    message = text_message(typed("Liaison Bot: what is due today?"), (), False)
    assert message is not None and message.text == "" and message.remark is not None and "!help" in message.remark
    assert text_message(typed("Liaison Bot is slow today"), (), False) is None
    assert not typed("Liaison Botanical garden: hi").addressed  # the name, then more letters: another word
    # Without a display name given, nothing is read as one.
    read = read_event(event({"msgtype": "m.text", "body": "Liaison Bot: hi"}), ROOM, BOT)
    assert isinstance(read, MatrixText) and not read.addressed


@pytest.mark.parametrize(("body", "written"), [
    ("! status A-2026-0001", "!status"),
    ("!  ack", "!ack"),
    ("Liaison Bot: ! mine", "!mine"),
    ("/ status A-2026-0001", "!status"),
])
def test_a_command_with_a_space_after_the_bang_is_told_how_it_is_written(body: str, written: str) -> None:
    message = text_message(typed(body), (), False)
    assert message is not None and message.text == "" and message.remark is not None
    assert "\n" not in message.remark and "no space" in message.remark
    assert f"for example {written}" in message.remark  # the very command, as it is written


def test_a_bang_and_a_space_before_words_that_are_no_command_is_left_to_the_dispatcher() -> None:
    message = text_message(typed("! great news"), (), False)
    assert message is not None and message.text == "! great news" and message.remark is None


def test_conversation_in_a_thread_after_the_bots_answer_is_left_alone() -> None:
    # Element points a thread message's fallback reply at the thread's latest event, now often the
    # bot's answer: that is no reply the person chose, so it is not "a reply on the bot's message".
    read = threaded("thanks, that helps")
    assert read.targets == ("$root", "$last") and read.fallback == "$last"
    assert text_message(read, (Target("$root"), Target("$last", from_bot=True)), False) is None
    # A reply the person chose in the thread (is_falling_back false) is one.
    chosen = threaded("ok", falling_back=False)
    assert chosen.targets == ("$root", "$last")
    told = text_message(chosen, (Target("$root"), Target("$last", from_bot=True)), False)
    assert told is not None and told.remark is not None


# --- a photo or file: read as its caption, and judged by the rule of replies as a text is -----------

PAGE = MatrixFile("page-2.png", "image/png", 1234, "mxc://example.org/p2")


def photo(caption: str | None = None, relates: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """An m.image as Element sends it: without a caption its body is the file's name (Element Web sends
    none); with one, the body is the caption and `filename` names the file."""
    content: dict[str, Any] = {"msgtype": "m.image", "body": caption if caption is not None else "page-2.png",
                               "filename": "page-2.png", "info": {"mimetype": "image/png", "size": 1234},
                               "url": "mxc://example.org/p2", **more}
    if relates is not None:
        content["m.relates_to"] = relates
    return content


def read_photo(content: dict[str, Any]) -> MatrixText:
    read = read_event(event(content), ROOM, BOT)
    assert isinstance(read, MatrixText) and read.file is not None
    return read


def test_a_photo_is_read_as_its_caption_with_its_file_and_what_it_answers() -> None:
    read = read_photo(photo("Same forger as in March", {"m.in_reply_to": {"event_id": "$d"}}))
    assert read.text == "Same forger as in March" and read.targets == ("$d",) and read.file == PAGE
    bare = read_photo(photo(None, {"m.in_reply_to": {"event_id": "$d"}}))  # no caption: no words
    assert bare.text == "" and bare.targets == ("$d",)
    in_thread = read_photo(photo(None, {"rel_type": "m.thread", "event_id": "$d", "is_falling_back": True,
                                        "m.in_reply_to": {"event_id": "$last"}}))
    assert in_thread.targets == ("$d", "$last") and in_thread.thread == "$d" and in_thread.fallback == "$last"
    keys = {"url": "mxc://example.org/e2", "key": {"k": "x"}, "iv": "y", "hashes": {"sha256": "z"}, "v": "v2"}
    encrypted = {k: v for k, v in photo("!alert to:TH x").items() if k != "url"} | {"file": keys}
    sealed = read_photo(encrypted)
    assert sealed.file is not None and sealed.file.url == "mxc://example.org/e2" and sealed.file.encryption == keys
    document = read_photo(photo("!alert to:TH x", msgtype="m.file", info={"mimetype": "Application/PDF"}))
    assert document.file is not None and document.file.mime == "application/pdf" and document.file.size == 0
    # Without a file to fetch it is no photo (and never a text).
    assert read_event(event({k: v for k, v in photo("!alert to:TH x").items() if k != "url"}), ROOM) is None


@pytest.mark.parametrize(("target", "who"), [
    (DELIVERY, "th-npoc"),
    (sent(MessageKind.REMINDER, "th-npoc"), "th-npoc"),
    (sent(MessageKind.ESCALATION, "th-npoc"), "th-npoc"),
    (sent(MessageKind.FEEDBACK, "my-officer"), "my-officer"),  # the originator answers relayed feedback
])
def test_a_photo_sent_as_a_reply_is_feedback_where_a_text_would_be(target: Target, who: str) -> None:
    for caption, meant in (("Same forger", "/reply A-2026-0001 Same forger"), (None, "/reply A-2026-0001")):
        message = text_message(read_photo(photo(caption, {"m.in_reply_to": {"event_id": target.event_id}})),
                               (target,), False, sender_contact=who)
        assert message is not None and message.text == meant and message.remark is None
        assert message.reply_to == MessageRef(ChatRef.parse(f"matrix:{ROOM}"), target.event_id)


@pytest.mark.parametrize(("target", "who"), [
    (DELIVERY, "my-officer"),  # somebody else's copy in a shared room: an update to all, taken as /reply
    (sent(MessageKind.RECEIPT, "my-officer"), "my-officer"),
    (sent(MessageKind.REMINDER, "th-npoc"), "my-npoc"),
])
def test_a_photo_sent_as_a_reply_that_invites_none_is_told_why_as_a_text_is(target: Target, who: str) -> None:
    message = text_message(read_photo(photo(None, {"m.in_reply_to": {"event_id": target.event_id}})),
                           (target,), False, sender_contact=who)
    said = text_message(text("thanks", target.event_id), (target,), False, sender_contact=who)
    assert message is not None and said is not None
    assert message.text == "" and message.remark is not None and message.remark == said.remark


def test_a_photo_in_a_thread_on_ones_copy_is_feedback_and_answered_there() -> None:
    read = read_photo(photo("Coast guard informed", {"rel_type": "m.thread", "event_id": "$d",
                                                     "is_falling_back": True, "m.in_reply_to": {"event_id": "$last"}}))
    message = text_message(read, (DELIVERY, Target("$last")), False, sender_contact="th-npoc")
    assert message is not None and message.text == "/reply A-2026-0001 Coast guard informed"
    assert answer_content(message.answer_to)["m.relates_to"]["event_id"] == "$d"


def test_a_photo_in_conversation_is_not_recorded() -> None:
    assert text_message(read_photo(photo(None)), (), False) is None
    assert text_message(read_photo(photo("look at this", {"m.in_reply_to": {"event_id": "$p"}})),
                        (Target("$p"),), False) is None


def photo_edit(caption: str, original: str = "$r", new_file: bool = True) -> dict[str, Any]:
    """An edit of a photo's caption, as Element X sends it: m.new_content is the whole new content."""
    new = {k: v for k, v in photo(caption).items() if new_file or k != "url"}
    return {**photo(f"* {caption}"), "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original}}


def test_an_edit_of_a_photo_sent_as_feedback_says_the_feedback_went_as_first_written() -> None:
    read = read_photo(photo_edit("Same forger as in March, and April"))
    assert read.edit_of == "$r" and read.text == "Same forger as in March, and April" and read.file == PAGE
    message = text_message(read, (), False, edited="A-2026-0001", sender_contact="th-npoc")
    said = text_message(edit("Same forger as in March, and April"), (), False, edited="A-2026-0001")
    assert message is not None and said is not None and message.text == ""
    assert message.remark == said.remark and message.remark is not None
    assert message.remark.startswith("Your feedback on A-2026-0001 was passed on as you first wrote it")
    # An edit that is a command is the dispatcher's to judge, as a text's is; one with no file is not read.
    typed = text_message(read_photo(photo_edit("!reply A-2026-0001 Same forger")), (), False)
    assert typed is not None and typed.text == "!reply A-2026-0001 Same forger" and typed.edit_of == "$r"
    assert read_event(event(photo_edit("!alert to:TH x", new_file=False)), ROOM) is None
