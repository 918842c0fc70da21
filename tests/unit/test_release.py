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
from alerts.supersede import Supersession
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
    # Both wait on the approver's action: on Matrix an m.text that mentions them (the kind decides it).
    assert [m.kind for m in bot.messages_to("my-approver")] == [MessageKind.APPROVAL] * 2
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


# --- a correction that needs release: held, the earlier copies as they are until it is approved ----

AMBER = "/alert to:@th-npoc tlp:amber Informant says the boat leaves tonight"
RAISE = f"/correct {REF} tlp:red\n\nThe boat leaves at 23:30 from pier 4"


@pytest.fixture
def sent() -> ReleaseBot:
    """An AMBER alert Thailand has, then its originator's correction raising it to RED."""
    bot = ReleaseBot()
    bot.receipt = bot.answer("my-officer", AMBER)
    bot.worker_sends()
    bot.receipt = bot.answer("my-officer", RAISE)
    return bot


def test_a_correction_raised_to_red_is_held_and_the_earlier_copies_stay_as_they_are(sent: ReleaseBot) -> None:
    assert sent.receipt.startswith(f"{REF} rev 2 is held (TLP:RED H0): nothing is sent, and the earlier copies stay "
                                   "as they are, until a second person approves it. Waiting for approval by My "
                                   "Approver (Malaysia).")
    assert sent.receipt.endswith(f"it expires unsent and {REF} stays as it was.")
    [copy] = sent.received_by("th-npoc")  # rev 1 only: no superseded line, no rev 2
    assert "Informant says the boat leaves tonight" in copy
    record = sent.record(REF)
    assert record.item.revision == 1 and record.item.caveat.tlp is Tlp.AMBER
    assert [(d.contact, d.state) for d in record.deliveries] == [("th-npoc", "sent")]
    [request] = sent.received_by("my-approver")
    assert request.startswith(f"My Officer (Malaysia) asks you to approve the release of alert {REF} rev 2 (TLP:RED H0) "
                              f"to @th-npoc. It corrects {REF} as sent before: its earlier copies stay as they are "
                              "until then.")
    assert f"/approve {REF}" in request and "The boat leaves at 23:30 from pier 4" in request
    held = sent.store.releases[REF]
    assert (held.state, held.revision, held.label) == (ReleaseState.PENDING, 2, f"{REF} rev 2")
    assert held.correction is not None and held.correction.body == "The boat leaves at 23:30 from pier 4"
    status = sent.answer("my-officer", f"/status {REF}")
    assert f"Its correction {REF} rev 2 is held for two-person release: it is not sent" in status
    # Its originator cannot approve it, nor correct the item again while it waits.
    assert sent.answer("my-officer", f"/approve {REF}").startswith(f"You sent {REF}, so you cannot approve")
    again = sent.answer("my-officer", f"/correct {REF} priority:urgent")
    assert again.startswith(f"{REF} rev 2 is waiting for a second person's approval, so {REF} cannot be corrected")
    assert sent.record(REF).item.revision == 1 and len(sent.received_by("th-npoc")) == 1


def test_an_approved_correction_goes_out_as_corrections_do(sent: ReleaseBot) -> None:
    sent.later(30)
    answer = sent.answer("my-approver", f"/approve {REF}")
    assert answer == (f"Approved: {REF} rev 2 is on its way to Th Npoc (Thailand); the earlier copies are marked "
                      "superseded. My Officer (Malaysia) is told.")
    edit, delivery = sent.messages_to("th-npoc")[-2:]  # the earlier copy edited in place, then rev 2
    assert edit.kind is MessageKind.SUPERSEDE
    supersession = Supersession.from_json(edit.text)
    assert supersession.text.startswith(f"Superseded by {REF} rev 2")
    assert supersession.notice.startswith(f"[TLP:RED] {REF} rev 1 is superseded by {REF} rev 2")
    assert delivery.kind is MessageKind.DELIVERY and delivery.text.startswith("[TLP:RED] from Malaysia · rev 2\n")
    assert "The boat leaves at 23:30 from pier 4" in delivery.text
    record = sent.record(REF)
    assert record.item.revision == 2 and record.item.caveat.tlp is Tlp.RED and record.closure is None
    assert [(d.contact, d.state) for d in record.deliveries] == [("th-npoc", "queued")]
    assert record.item.revised_at == sent.clock.now()  # due times count from the approval
    assert sent.last_to("my-officer") == (f"My Approver (Malaysia) approved {REF} rev 2: sending to Th Npoc "
                                          "(Thailand). Earlier copies: 1 marked superseded, 0 taken back, 0 unsent "
                                          f"cancelled. Track it with /status {REF}.")
    assert sent.store.releases[REF].state is ReleaseState.APPROVED
    assert AuditAction.CORRECTION in sent.last_audit and sent.release_events()[-1] == "approved"


def test_a_declined_correction_leaves_the_item_as_it_was_and_it_may_be_corrected_again(sent: ReleaseBot) -> None:
    answer = sent.answer("my-approver", f"/decline {REF} the pier is not confirmed")
    assert answer == f"Declined: {REF} rev 2 stays unsent; {REF} stays as it was. My Officer (Malaysia) is told."
    assert sent.last_to("my-officer") == (f"My Approver (Malaysia) declined {REF} rev 2: the pier is not confirmed. "
                                          f"Nothing was sent: {REF} stays as it was.")
    record = sent.record(REF)
    assert record.closure is None and record.item.revision == 1 and len(sent.received_by("th-npoc")) == 1
    # Corrected again: held again, in the place of the declined one.
    assert sent.answer("my-officer", RAISE).startswith(f"{REF} rev 2 is held (TLP:RED H0)")
    assert sent.store.releases[REF].state is ReleaseState.PENDING


def test_a_correction_that_needs_no_release_still_goes_at_once(sent: ReleaseBot) -> None:
    sent.answer("my-approver", f"/decline {REF} no")
    answer = sent.answer("my-officer", f"/correct {REF} priority:urgent")
    assert answer.startswith(f"{REF} rev 2 accepted (TLP:AMBER")
    assert sent.record(REF).item.revision == 2


def test_a_held_correction_that_no_longer_routes_at_approval_is_not_sent_and_the_item_stays_open(
        sent: ReleaseBot) -> None:
    current = sent.directory_source.directory
    sent.directory_source.directory = Directory.build(
        current.organisations.values(), [c for c in current.contacts.values() if c.id != "th-npoc"], current.rooms)
    answer = sent.answer("my-approver", f"/approve {REF}")
    assert answer.startswith(f"Not sent: {REF} rev 2 was approved, but it no longer routes:")
    assert sent.store.releases[REF].state is ReleaseState.FAILED
    assert sent.last_to("my-officer").endswith(f"{REF} stays as it was; correct it again if still needed.")
    record = sent.record(REF)
    assert record.closure is None and record.item.revision == 1 and sent.deliveries() == ["th-npoc"]


def test_a_held_correction_is_reminded_about_then_expires_and_the_item_stays_open(sent: ReleaseBot) -> None:
    sent.tick(2 * 60 + 1)
    reminder = sent.last_to("my-approver")
    assert reminder.startswith(f"Reminder: still waiting. My Officer (Malaysia) asks you to approve the release of "
                               f"alert {REF} rev 2 (TLP:RED H0)")
    assert [m.kind for m in sent.messages_to("my-approver")] == [MessageKind.APPROVAL] * 2  # request, reminder
    sent.tick(22 * 60)
    assert sent.store.releases[REF].state is ReleaseState.EXPIRED
    assert sent.last_to("my-officer").startswith(f"{REF} rev 2 expired unsent: nobody approved it by ")
    assert sent.last_to("my-officer").endswith(f"Nothing was sent: {REF} stays as it was. Correct it again if it "
                                               "is still needed.")
    record = sent.record(REF)
    assert record.closure is None and record.item.revision == 1
    # Thailand is still reminded about rev 1, which it has; it never saw rev 2.
    assert not [t for t in sent.received_by("th-npoc") if "23:30" in t or "rev 2" in t]
    assert "please acknowledge A-2026-0001 from My Officer" in sent.received_by("th-npoc")[-1]


def test_a_red_item_corrected_after_its_release_needs_a_second_approval(bot: ReleaseBot) -> None:
    bot.says("my-approver", f"/approve {REF}")
    bot.worker_sends()
    held = bot.answer("my-officer", f"/correct {REF}\n\nThe boat leaves tomorrow")
    assert held.startswith(f"{REF} rev 2 is held (TLP:RED H0)")
    assert bot.record(REF).item.draft.body == "Informant says the boat leaves tonight"
    bot.tick(2 * 60 + 1)  # its own reminders: the first release's did not use them up
    assert bot.last_to("my-approver").startswith("Reminder: still waiting.")
    bot.says("my-approver", f"/approve {REF}")
    assert bot.record(REF).item.draft.body == "The boat leaves tomorrow"


def test_a_held_item_cannot_be_corrected_out_of_its_wait(bot: ReleaseBot) -> None:
    answer = bot.answer("my-officer", f"/correct {REF} tlp:amber")
    assert answer.startswith(f"{REF} is waiting for a second person's approval, so {REF} cannot be corrected")
    assert bot.deliveries() == [] and bot.record(REF).item.caveat.tlp is Tlp.RED


def test_the_approval_request_says_when_feedback_falls_due_not_none(bot: ReleaseBot) -> None:
    # A held item has no due time until it is released: "Feedback due none" would read as "no feedback wanted".
    [request] = bot.received_by("my-approver")
    assert "Feedback due none" not in request
    assert "Feedback due: counted from its release" in request


def test_withdrawing_a_held_item_ends_its_release_and_tells_the_approvers(bot: ReleaseBot) -> None:
    answer = bot.answer("rso-coord", f"/withdraw {REF} wrong informant")
    assert answer.startswith(f"Withdrew {REF}. {REF} was waiting for approval: it will not be sent "
                             "(My Approver (Malaysia) told). ")
    told = bot.last_to("my-approver")
    assert told == (f"{REF} no longer waits for your approval: it was withdrawn by Rso Coord (Regional Support "
                    "Office) before it was released: wrong informant.")
    assert bot.store.releases[REF].state is ReleaseState.FAILED
    # Nothing left to approve: no reminders, no expiry notice, and an approval says why.
    before = len(bot.received_by("my-approver")), len(bot.received_by("my-officer"))
    bot.tick(25 * 60)
    assert (len(bot.received_by("my-approver")), len(bot.received_by("my-officer"))) == before
    answer = bot.answer("my-approver", f"/approve {REF}")
    assert answer == (f"{REF} was withdrawn by Rso Coord (Regional Support Office) before it was released; "
                      "nothing to decide.")
    assert bot.deliveries() == []
