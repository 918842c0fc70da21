"""A room or an account on a platform the bot does not run can never receive anything: /room register
and /member add refuse it with one line (what was wrong, the platforms the bot runs, an example), and
nothing is kept. The dispatcher on the fakes, with the platforms a deployment runs."""

from __future__ import annotations

import pytest

from alerts.audit import AuditAction
from alerts.due import DuePolicy
from alerts.identity import ChatRef, Platform, UserRef
from alerts.reachability import not_run, running_text
from handlers.post_item import PostingPolicy
from tests.unit.test_arrangement_conversations import ArrangementBot

CONSOLE_ONLY = frozenset({Platform.CONSOLE})
NO_MATRIX = frozenset({Platform.CONSOLE, Platform.TELEGRAM})
ROOM_FIELDS = 'name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL'


def running(platforms: frozenset[Platform]) -> ArrangementBot:
    return ArrangementBot(policy=PostingPolicy(DuePolicy.default(), {}, platforms=platforms))


def _admin_changes(bot: ArrangementBot) -> list[str]:
    return [e.detail["command"] for e in bot.store.audit if e.action is AuditAction.ADMIN]


def test_the_platforms_are_named_as_people_read_them() -> None:
    assert running_text(frozenset()) == "no platform"
    assert running_text(NO_MATRIX) == "telegram and console"
    assert running_text(frozenset(Platform)) == "matrix, telegram and console"
    assert not_run(Platform.MATRIX, None) is None and not_run(Platform.CONSOLE, CONSOLE_ONLY) is None
    assert not_run(Platform.MATRIX, CONSOLE_ONLY) == "which this bot does not run (it runs console)"


def test_a_matrix_room_is_refused_where_only_the_console_runs_and_a_console_one_is_registered() -> None:
    bot = running(CONSOLE_ONLY)
    assert bot.answer("admin", f"/room register matrix:!room:server {ROOM_FIELDS}") == (
        "Not registered: matrix:!room:server is on matrix, which this bot does not run (it runs console): nothing "
        'could be posted there. Example: /room register console:#kul name:"KUL airport" purpose:network orgs:MY,TH '
        "hubs:KUL")
    assert bot.current.room(ChatRef.parse("matrix:!room:server")) is None and _admin_changes(bot) == []
    assert bot.answer("admin", f"/room register console:#kul {ROOM_FIELDS}").startswith("Registered KUL airport")


@pytest.mark.parametrize("chat, platform", [("matrix:!room:server", "matrix"), ("matrix:!hashonly", "matrix"),
                                            ("telegram:-1001234567890", "telegram")])
def test_a_room_on_a_platform_not_run_is_refused_and_the_example_is_on_one_that_is(chat: str, platform: str) -> None:
    bot = running(CONSOLE_ONLY if platform == "telegram" else NO_MATRIX)
    answer = bot.answer("admin", f"/room register {chat} {ROOM_FIELDS}")
    assert answer.startswith(f"Not registered: {chat} is on {platform}, which this bot does not run (it runs ")
    assert answer.endswith("Example: /room register " + ("console:#kul" if platform == "telegram"
                                                          else "telegram:-1001234567890") + f" {ROOM_FIELDS}")
    assert "\n" not in answer
    assert bot.current.room(ChatRef.parse(chat)) is None and _admin_changes(bot) == []


def test_every_platform_counts_where_the_platforms_are_not_known() -> None:
    bot = ArrangementBot()  # platforms None, as in the other conversation tests
    assert bot.answer("admin", f"/room register matrix:!room:server {ROOM_FIELDS}").startswith("Registered")


def test_a_matrix_account_is_not_added_where_only_the_console_runs() -> None:
    bot = running(CONSOLE_ONLY)
    assert bot.answer("admin", "/member add @alice:example.org country:TH role:contact desk:immigration") == (
        "Not added: matrix:@alice:example.org is on matrix, which this bot does not run (it runs console): nothing "
        "could reach them. Example: /member add console:alice country:TH role:contact desk:immigration")
    assert bot.current.contact_for(UserRef.parse("matrix:@alice:example.org")) is None and _admin_changes(bot) == []
    assert bot.answer("admin", "/member add console:alice country:TH role:contact").startswith("Added alice")


def test_a_telegram_account_or_username_is_not_added_where_telegram_does_not_run() -> None:
    bot = running(CONSOLE_ONLY)
    number = bot.answer("admin", "/member add telegram:user:77 country:TH role:contact")
    assert number.startswith("Not added: telegram:user:77 is on telegram, which this bot does not run (it runs console)")
    # Not "use their number": no number would do either.
    username = bot.answer("admin", "/member add @somchai_p country:TH role:contact")
    assert username.startswith("Not added: @somchai_p is on telegram, which this bot does not run")
    assert _admin_changes(bot) == []


def test_an_account_of_someone_the_bot_reaches_elsewhere_still_updates_them() -> None:
    # au-npoc has a Matrix and a Telegram account: the bot reaches them on Telegram.
    bot = running(NO_MATRIX)
    assert bot.answer("admin", "/member add matrix:@au-npoc:example.org country:AU role:coordinator").startswith(
        "Updated")
    assert _admin_changes(bot) == ["member add"]
    alone = running(CONSOLE_ONLY)  # neither of their accounts is reached
    assert alone.answer("admin", "/member add matrix:@au-npoc:example.org country:AU role:coordinator").startswith(
        "Not added: matrix:@au-npoc:example.org is on matrix")
    assert _admin_changes(alone) == []
