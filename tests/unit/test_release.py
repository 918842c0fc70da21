"""Two-person release on in-memory fakes with a manual clock: an item held unsent until a second
person approves, refused to its originator and to people who may not decide, declined, routed again
at approval (failing closed), reminded about and expired by the scheduler's round."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.audit import AuditAction
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.errors import InvalidValue
from alerts.items import ItemDraft, ItemKind
from alerts.messages import MessageKind
from alerts.priority import Priority
from alerts.release import ReleasePolicy, ReleaseRule, ReleaseState
from alerts.caveats import Caveat
from alerts.reminder_policy import ReminderPolicy
from alerts.roles import Role
from bot.config.settings import ConfigError, load_settings, settings_from_toml
from handlers.followup_reminders import ReminderService
from handlers.post_item import PostingPolicy
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import person, small_network
from tests.unit.test_followup_harness import Bot

RED = "/alert to:@th-npoc tlp:red Informant says the boat leaves tonight"
REF = "A-2026-0001"
POLICY = ReleasePolicy((ReleaseRule(Tlp.RED),), expires_after=timedelta(hours=24), remind_every=timedelta(hours=2))
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def network(*, my_approver: bool = True) -> Directory:
    base = small_network()
    extra = [person("my-approver", "MY", Role.OFFICER, Role.APPROVER)] if my_approver else []
    return Directory.build(base.organisations.values(), [*base.contacts.values(), *extra], base.rooms)


class ReleaseBot(Bot):
    def __init__(self, directory: Directory | None = None) -> None:
        super().__init__(directory or network(), PostingPolicy(DuePolicy.default(), {}, release=POLICY))
        self.receipt = ""
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source,
                                       ReminderPolicy(), release=POLICY)

    def deliveries(self) -> list[str]:
        return [m.contact or "" for m in self.store.outbox.values() if m.kind is MessageKind.DELIVERY]

    def tick(self, minutes: int) -> None:
        self.later(minutes)
        self.service.tick(self.clock.now())

    def release_events(self) -> list[str]:
        return [e.detail["event"] for e in self.store.audit if e.action is AuditAction.RELEASE]


@pytest.fixture
def bot() -> ReleaseBot:
    bot = ReleaseBot()
    bot.receipt = bot.answer("my-officer", RED)
    return bot


def test_a_red_item_is_held_unsent_and_the_originator_told_who_may_approve(bot: ReleaseBot) -> None:
    assert bot.deliveries() == []
    assert bot.record(REF).deliveries == ()
    receipt = bot.receipt
    assert receipt.startswith(f"Alert {REF} is held (TLP:RED")
    assert "nothing is sent until a second person approves it" in receipt
    assert "Waiting for approval by My Approver (Malaysia)" in receipt
    [request] = bot.received_by("my-approver")
    assert f"My Officer (Malaysia) asks you to approve the release of alert {REF}" in request
    assert f"/approve {REF}" in request and "Informant says the boat leaves tonight" in request
    assert bot.received_by("rso-coord") == [] and bot.received_by("th-npoc") == []
    assert bot.release_events() == ["held"]
    assert bot.store.releases[REF].state is ReleaseState.PENDING


def test_status_says_an_item_is_held_until_it_is_decided(bot: ReleaseBot) -> None:
    [held] = bot.says("my-officer", f"/status {REF}")
    assert held.endswith("Held for two-person release: nothing is sent until it is approved; it expires "
                         "24 Nov 09:00 UTC.")
    bot.says("my-approver", f"/approve {REF}")
    [sent] = bot.says("my-officer", f"/status {REF}")
    assert "Held for two-person release" not in sent


def test_the_originator_cannot_approve_their_own_item(bot: ReleaseBot) -> None:
    answer = bot.answer("my-officer", f"/approve {REF}")
    assert answer.startswith(f"You sent {REF}, so you cannot approve or decline it: a second person must.")
    assert "My Approver (Malaysia)" in answer
    assert bot.last_audit[-1] is AuditAction.REFUSAL
    assert bot.deliveries() == [] and bot.store.releases[REF].state is ReleaseState.PENDING


@pytest.mark.parametrize("who", ["rso-coord", "th-npoc", "my-npoc"])
def test_only_an_approver_of_the_originators_organisation_decides_when_it_has_one(bot: ReleaseBot, who: str) -> None:
    assert bot.answer(who, f"/approve {REF}").startswith(f"You may not approve or decline {REF}.")
    assert bot.deliveries() == []


def test_approval_routes_it_as_it_would_have_gone_and_both_are_told(bot: ReleaseBot) -> None:
    bot.later(30)
    answer = bot.answer("my-approver", f"/approve {REF}")
    assert answer == f"Approved: {REF} is on its way to Th Npoc (Thailand). My Officer (Malaysia) is told."
    assert bot.deliveries() == ["th-npoc"]
    [delivery] = bot.messages_to("th-npoc")
    assert "Informant says the boat leaves tonight" in delivery.text
    told = bot.last_to("my-officer")
    assert told.startswith(f"My Approver (Malaysia) approved {REF}. Alert {REF} accepted (TLP:RED")
    record = bot.record(REF)
    assert (record.item.ack_due, record.item.feedback_due) == DuePolicy.default().due_times(
        record.item.draft, bot.clock.now())  # counted from the approval, 30 minutes after it was typed
    assert bot.store.releases[REF].state is ReleaseState.APPROVED
    assert bot.release_events() == ["held", "approved"]
    again = bot.answer("my-approver", f"/approve {REF}")
    assert again.startswith(f"{REF} was approved by My Approver (Malaysia)") and bot.deliveries() == ["th-npoc"]


def test_a_decline_sends_nothing_closes_it_and_tells_the_originator_why(bot: ReleaseBot) -> None:
    answer = bot.answer("my-approver", f"/decline {REF} source would be exposed")
    assert answer == f"Declined: {REF} stays unsent and is closed. My Officer (Malaysia) is told."
    assert bot.last_to("my-officer") == (f"My Approver (Malaysia) declined {REF}: source would be exposed. "
                                         "Nothing was sent, and it is closed.")
    assert bot.deliveries() == [] and bot.record(REF).closure is not None
    assert bot.release_events() == ["held", "declined"]
    assert bot.answer("my-approver", f"/approve {REF}").startswith(f"{REF} was declined by My Approver")
    assert bot.deliveries() == []


def test_a_decline_needs_a_reason(bot: ReleaseBot) -> None:
    assert "Say why after the reference" in bot.answer("my-approver", f"/decline {REF}")
    assert bot.store.releases[REF].state is ReleaseState.PENDING


def test_an_item_that_no_longer_routes_at_approval_is_not_sent(bot: ReleaseBot) -> None:
    current = bot.directory_source.directory
    bot.directory_source.directory = Directory.build(
        current.organisations.values(), [c for c in current.contacts.values() if c.id != "th-npoc"], current.rooms)
    answer = bot.answer("my-approver", f"/approve {REF}")
    assert answer.startswith(f"Not sent: {REF} was approved, but it no longer routes:")
    assert bot.deliveries() == [] and bot.store.releases[REF].state is ReleaseState.FAILED
    assert "but not sent: it no longer routes" in bot.last_to("my-officer")
    assert bot.release_events() == ["held", "failed"]
    assert bot.record(REF).closure is not None


def test_without_an_approver_in_the_organisation_a_coordinator_approves() -> None:
    bot = ReleaseBot(network(my_approver=False))
    assert "Waiting for approval by Rso Coord (Regional Support Office)" in bot.answer("my-officer", RED)
    assert bot.answer("rso-coord", f"/approve {REF}").startswith("Approved:")
    assert bot.deliveries() == ["th-npoc"]


def test_a_coordinator_cannot_approve_their_own_item_and_nobody_else_may_so_it_is_refused() -> None:
    bot = ReleaseBot(network(my_approver=False))
    answer = bot.answer("rso-coord", RED)
    assert answer.startswith("Not sent: a TLP:RED alert needs a second person's approval, and nobody else")
    assert bot.store.items == {} and bot.deliveries() == []


def test_other_tlps_go_at_once(bot: ReleaseBot) -> None:
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    assert bot.deliveries() == ["th-npoc"]


def test_waiting_items_remind_the_approvers_once_per_period_then_expire(bot: ReleaseBot) -> None:
    bot.tick(60)
    assert len(bot.received_by("my-approver")) == 1  # the request only
    bot.tick(61)
    bot.tick(1)  # the same period again: no second reminder
    reminders = bot.received_by("my-approver")
    assert len(reminders) == 2 and reminders[1].startswith("Reminder: still waiting. My Officer (Malaysia) asks")
    bot.tick(24 * 60)
    assert bot.store.releases[REF].state is ReleaseState.EXPIRED
    assert bot.last_to("my-officer").startswith(f"{REF} expired unsent: nobody approved it by")
    assert bot.record(REF).closure is not None and bot.deliveries() == []
    assert bot.release_events() == ["held", "reminded", "expired"]
    assert bot.answer("my-approver", f"/approve {REF}").startswith(f"{REF} was expired")
    assert bot.deliveries() == []


def test_an_approval_after_expiry_but_before_the_round_expires_it_there() -> None:
    bot = ReleaseBot()
    bot.says("my-officer", RED)
    bot.later(24 * 60 + 1)
    assert bot.answer("my-approver", f"/approve {REF}").startswith(f"{REF} expired unsent")
    assert bot.deliveries() == [] and bot.store.releases[REF].state is ReleaseState.EXPIRED


def test_rules_by_tlp_and_priority() -> None:
    urgent_amber = ReleasePolicy((ReleaseRule.parse("amber/urgent"), ReleaseRule.parse("red")))
    draft = ItemDraft(ItemKind.ALERT, "x", caveat=Caveat(Tlp.AMBER), priority=Priority.URGENT)
    assert urgent_amber.needs_release(draft)
    assert not urgent_amber.needs_release(ItemDraft(ItemKind.ALERT, "x", caveat=Caveat(Tlp.AMBER)))
    assert urgent_amber.needs_release(ItemDraft(ItemKind.ALERT, "x", caveat=Caveat(Tlp.RED)))
    with pytest.raises(InvalidValue):
        ReleaseRule.parse("amber/soon")


def test_the_config_requires_release_for_red_by_default_and_refuses_a_bad_rule(tmp_path: Path) -> None:
    assert load_settings(EXAMPLE).release.policy().rules == (ReleaseRule(Tlp.RED),)
    text = EXAMPLE.read_text(encoding="utf-8")
    assert settings_from_toml(text.replace('required = ["red"]', "", 1), tmp_path / "c.toml").release.required == (
        ReleaseRule(Tlp.RED),)  # left out: the default
    off = settings_from_toml(text.replace('required = ["red"]', "required = []", 1), tmp_path / "c.toml")
    assert off.release.policy().rules == ()
    pair = settings_from_toml(text.replace('required = ["red"]', 'required = ["amber/urgent"]', 1), tmp_path / "c.toml")
    assert pair.release.policy().rules == (ReleaseRule(Tlp.AMBER, Priority.URGENT),)
    with pytest.raises(ConfigError) as error:
        settings_from_toml(text.replace('required = ["red"]', 'required = ["purple"]', 1), tmp_path / "c.toml")
    assert "release.required[0]" in str(error.value) and "purple" in str(error.value)


def test_an_admin_makes_someone_an_approver_with_member_add() -> None:
    from handlers.dispatcher import Dispatcher
    from handlers.vocabulary import Vocabulary
    from tests.unit.test_membership import Admin

    keys = itertools.count(1)
    admin = Admin()  # th-boss is Thailand's point of contact and an admin; Thailand has no approver yet
    admin.dispatcher = Dispatcher(admin.directory, PostingPolicy(DuePolicy.default(), {}, release=POLICY),
                                  lambda: Vocabulary(organisations=frozenset(admin.directory.current().organisations)),
                                  lambda: f"k-{next(keys)}")
    [held] = admin.says("th-deputy", "/alert to:@my-npoc tlp:red Boat leaves tonight")
    assert "Waiting for approval by Rso Coord (Regional Support Office)" in held
    [answer] = admin.says("th-boss", "/member add console:th-npoc country:TH role:approver")
    assert "with roles approver, contact" in answer
    assert admin.directory.current().contacts["th-npoc"].has(Role.APPROVER)
    [refused] = admin.says("rso-coord", f"/approve {REF}")  # Thailand has its own approver now
    assert refused.startswith(f"You may not approve or decline {REF}.") and "Th Npoc (Thailand)" in refused
    [approved] = admin.says("th-npoc", f"/approve {REF}")
    assert approved.startswith(f"Approved: {REF} is on its way to My Npoc (Malaysia).")
