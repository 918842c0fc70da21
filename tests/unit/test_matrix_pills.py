"""Element's mention pills, read from a Matrix event: the plain body holds the display name, the user
id only formatted_body's matrix.to link (bot/connectors/matrix/sansio/inbound.py)."""

from __future__ import annotations

from alerts.identity import UserRef
from alerts.messages import Mention
from bot.connectors.matrix.sansio.inbound import MatrixText, pills, read_event, text_message


def event(body: str, formatted: str | None) -> dict:
    content = {"msgtype": "m.text", "body": body}
    if formatted is not None:
        content |= {"format": "org.matrix.custom.html", "formatted_body": formatted}
    return {"type": "m.room.message", "event_id": "$e1", "sender": "@admin:example.org",
            "origin_server_ts": 1764979200000, "content": content}


def test_a_pill_becomes_a_mention_of_the_account_it_links_to() -> None:
    read = read_event(event("!member add Somchai P. country:TH role:contact",
                            '!member add <a href="https://matrix.to/#/%40somchai%3Aexample.org">Somchai P.</a> '
                            "country:TH role:contact"), "!room:example.org")
    assert isinstance(read, MatrixText)
    message = text_message(read, (), direct=True)
    assert message is not None
    assert message.mentions == (Mention("Somchai P.", UserRef.parse("matrix:@somchai:example.org")),)


def test_room_links_reply_fallbacks_and_plain_text_carry_no_mention() -> None:
    assert pills({"body": "x"}) == ()
    assert pills({"format": "org.matrix.custom.html",
                  "formatted_body": '<mx-reply><a href="https://matrix.to/#/@quoted:example.org">Q</a></mx-reply>'
                                    '<a href="https://matrix.to/#/!room:example.org">a room</a> '
                                    '<a href="https://matrix.to/#/@kanya:example.org?via=example.org">Kanya &amp; co</a>'}
                 ) == (("Kanya & co", "@kanya:example.org"),)
