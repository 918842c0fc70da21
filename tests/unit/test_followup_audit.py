"""Every command that changes an exchange leaves an audit entry about it, in the same transaction.

Each case drives one command through the dispatcher on the fakes and lists the audit actions it
produced. A second check holds for every case at once: whenever the stored items or forward
requests changed, or someone other than the sender was sent something, an entry other than the
inbound COMMAND names the item.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from alerts.audit import AuditAction as A
from tests.unit.test_followup_harness import Bot

REF = "A-2026-0001"
FORWARD = f'/forward {REF} to:TH/immigration purpose:"joint investigation"'


@dataclass(frozen=True)
class Case:
    name: str
    caveat: str
    before: tuple[tuple[str, str], ...]
    who: str
    text: str
    audited: tuple[A, ...]


CASES = [
    Case("ack", "tlp:amber", (), "th-npoc", f"/ack {REF}", (A.COMMAND, A.ACKNOWLEDGEMENT)),
    Case("ack by a non-recipient", "tlp:amber", (), "iom-npoc", f"/ack {REF}", (A.COMMAND, A.REFUSAL)),
    Case("feedback", "tlp:amber", (), "th-npoc", f"/reply {REF} confirmed", (A.COMMAND, A.FEEDBACK)),
    Case("update by the originator", "tlp:amber", (), "my-officer", f"/reply {REF} more", (A.COMMAND, A.FEEDBACK)),
    Case("reply by an outsider", "tlp:amber", (), "iom-npoc", f"/reply {REF} hi", (A.COMMAND, A.REFUSAL)),
    Case("close", "tlp:amber", (), "my-officer", f"/close {REF} done", (A.COMMAND, A.CLOSURE)),
    Case("close by a recipient", "tlp:amber", (), "th-npoc", f"/close {REF}", (A.COMMAND, A.REFUSAL)),
    Case("close with a forward waiting", "orcon", (("th-npoc", FORWARD),), "my-officer", f"/close {REF}",
         (A.COMMAND, A.CLOSURE, A.CONSENT)),
    Case("status", "tlp:amber", (), "rso-coord", f"/status {REF}", (A.COMMAND, A.CONSULTATION)),
    Case("status by an outsider", "tlp:amber", (), "iom-npoc", f"/status {REF}", (A.COMMAND, A.REFUSAL)),
    Case("forward at once", "tlp:amber", (), "th-npoc", FORWARD, (A.COMMAND, A.FORWARD)),
    Case("forward asking consent", "orcon", (), "th-npoc", FORWARD, (A.COMMAND, A.FORWARD)),
    Case("forward beyond the caveat", "tlp:amber+strict", (), "th-npoc", f'/forward {REF} to:IOM purpose:"x"',
         (A.COMMAND, A.REFUSAL)),
    Case("forward by an outsider", "tlp:amber", (), "iom-npoc", FORWARD, (A.COMMAND, A.REFUSAL)),
    Case("consent yes", "orcon", (("th-npoc", FORWARD),), "my-officer", f"/consent {REF} yes",
         (A.COMMAND, A.CONSENT, A.FORWARD)),
    Case("consent no", "orcon", (("th-npoc", FORWARD),), "my-officer", f"/consent {REF} no risky",
         (A.COMMAND, A.CONSENT)),
    Case("consent by another", "orcon", (("th-npoc", FORWARD),), "th-npoc", f"/consent {REF} yes",
         (A.COMMAND, A.REFUSAL)),
]


def _snapshot(bot: Bot) -> tuple[object, object]:
    return dict(bot.store.items), dict(bot.store.forwards)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_write_path_is_audited(case: Case) -> None:
    bot = Bot()
    bot.says("my-officer", f"/alert to:TH,MY {case.caveat} Boat sighted")
    for who, text in case.before:
        bot.says(who, text)
    before, outbox_before = _snapshot(bot), set(bot.store.outbox)
    bot.says(case.who, case.text)
    assert tuple(bot.last_audit) == case.audited

    sender_chat = f"chat:console:@{case.who}"
    told_others = any(str(m.destination) != sender_chat
                      for k, m in bot.store.outbox.items() if k not in outbox_before)
    if _snapshot(bot) != before or told_others:
        about_item = [e for e in bot.store.audit[-len(case.audited):] if e.action is not A.COMMAND]
        assert about_item and all(e.reference == REF for e in about_item)


def test_every_new_kind_of_exchange_is_covered() -> None:
    covered = {action for case in CASES for action in case.audited}
    assert {A.FORWARD, A.CONSENT, A.ACKNOWLEDGEMENT, A.FEEDBACK, A.REFUSAL, A.CONSULTATION, A.CLOSURE} <= covered


def test_looking_and_repeating_change_nothing_and_are_only_commands() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH Boat sighted")
    bot.says("th-npoc", f"/ack {REF}")
    for who, text in [("th-npoc", f"/ack {REF}"), ("my-officer", "/mine"), ("my-officer", f"/consent {REF} yes")]:
        before = _snapshot(bot)
        bot.says(who, text)
        assert bot.last_audit == [A.COMMAND] and _snapshot(bot) == before
