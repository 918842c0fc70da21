"""/portal: a one-time link in a direct chat, stored as its hash, audited without the token."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from alerts.audit import AuditAction
from alerts.due import DuePolicy
from handlers.portal import PortalPolicy
from handlers.post_item import PostingPolicy
from tests.unit.test_followup_harness import Bot

TOKEN = "t0ken-for-the-test"


def bot_with_portal(url: str | None = "https://portal.example.org") -> Bot:
    portal = PortalPolicy(lambda: url, timedelta(minutes=5), new_token=lambda: TOKEN)
    return Bot(policy=PostingPolicy(DuePolicy.default(), {}, portal=portal))


def test_portal_answers_a_link_for_the_asker_alone_and_stores_its_hash() -> None:
    bot = bot_with_portal()
    [answer] = bot.says("th-npoc", "/portal")
    assert f"https://portal.example.org/login/{TOKEN}" in answer and "within 5 minutes" in answer
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert list(bot.store.portal_links) == [digest]
    contact, expires, used = bot.store.portal_links[digest]
    assert contact == "th-npoc" and expires == bot.clock.now() + timedelta(minutes=5) and used is None
    [event] = [e for e in bot.store.audit if e.action is AuditAction.CONSULTATION]
    assert TOKEN not in repr(event) and event.actor == "th-npoc"


def test_portal_in_a_room_gives_no_link() -> None:
    bot = bot_with_portal()
    [answer] = bot.says("th-npoc", "/portal", chat="console:#network")
    assert "direct chat" in answer and TOKEN not in answer
    assert not bot.store.portal_links


def test_portal_says_when_there_is_no_portal() -> None:
    assert "not enabled" in Bot().says("th-npoc", "/portal")[0]
    bot = bot_with_portal(url=None)
    assert "not running" in bot.says("th-npoc", "/portal")[0] and not bot.store.portal_links
