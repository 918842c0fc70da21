"""Every message to a person about an item goes where routing would put the item's own copy
(alerts.routing_places.direct_place): feedback, notices, reminders, escalations, forwards and
hand-overs never carry RED or AMBER+STRICT facts over a channel without end-to-end encryption, and
never wait for a platform the bot does not run when another account of the person's would do.

The conversations run on the handlers' fakes with a manual clock (tests/unit/test_followup_harness.py);
the property runs direct_place and messages_about over random contacts, caveats, policies and platforms.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Caveat, Handling, Tlp
from alerts.directory import Contact, Directory, Organisation, OrgKind
from alerts.due import DuePolicy
from alerts.identity import Platform, UserRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminder_policy import ReminderPolicy
from alerts.roles import Role
from alerts.routing import Destination
from alerts.routing_places import direct_place
from handlers.answer_place import content_free_notice, messages_about
from handlers.followup_reminders import ReminderService
from handlers.post_item import PostingPolicy
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import small_network
from tests.unit.test_followup_harness import Bot
from tests.unit.test_routing_channels import e2ee
from tests.unit.test_routing_properties import SETTINGS

REF = "A-2026-0001"
TELEGRAM_FIRST = ("telegram:user:77",)


def network(**accounts: tuple[str, ...]) -> Directory:
    """small_network, where each named contact has these accounts in front of their console one."""
    base = small_network()
    contacts = [replace(c, identities=tuple(UserRef.parse(a) for a in accounts[c.id]) + c.identities)
                if c.id in accounts else c for c in base.contacts.values()]
    return Directory.build(base.organisations.values(), contacts, base.rooms, base.arrangements)


def console(contact: str) -> Destination:
    return Destination.direct(UserRef.parse(f"console:{contact}"))


def queued(bot: Bot, contact: str) -> list[OutboundMessage]:
    return [m for m in bot.store.outbox.values() if m.contact == contact]


def where(bot: Bot, contact: str, kind: MessageKind | None = None) -> list[str]:
    return [str(m.destination) for m in queued(bot, contact) if kind is None or m.kind is kind]


# --- feedback relayed to the originator -----------------------------------------------------------

def test_red_feedback_reaches_an_originator_whose_first_account_is_telegram_only_where_it_may() -> None:
    bot = Bot(network(**{"my-officer": TELEGRAM_FIRST}))
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Two travellers, flight XX123")
    bot.worker_sends()
    assert bot.says("th-npoc", f"/reply {REF} Both detained at the gate") == [
        f"Your feedback on {REF} goes to My Officer (Malaysia)."]
    feedback = [m for m in queued(bot, "my-officer") if m.kind is MessageKind.FEEDBACK]
    assert [str(m.destination) for m in feedback] == ["direct:console:my-officer"]
    assert "Both detained" in feedback[0].text
    on_telegram = [m for m in queued(bot, "my-officer") if m.destination.platform is Platform.TELEGRAM]
    assert on_telegram, "the usual chat is told where to read it"
    for message in on_telegram:
        assert message.text == content_free_notice(Tlp.RED, REF, feedback[0].destination)
        assert "detained" not in message.text and "Th Npoc" not in message.text


def test_green_feedback_goes_to_the_first_account_as_before() -> None:
    bot = Bot(network(**{"my-officer": TELEGRAM_FIRST}))
    bot.says("my-officer", "/alert to:TH tlp:green Boat sighted")
    bot.worker_sends()
    bot.says("th-npoc", f"/reply {REF} Seen it")
    assert where(bot, "my-officer", MessageKind.FEEDBACK) == ["direct:telegram:user:77"]


def test_an_originator_with_no_encrypted_chat_gets_only_a_content_free_notice() -> None:
    directory = network()
    only_telegram = replace(directory.contacts["my-officer"], identities=(UserRef.parse("telegram:user:77"),))
    contacts = [only_telegram if c.id == "my-officer" else c for c in directory.contacts.values()]
    directory = Directory.build(directory.organisations.values(), contacts, directory.rooms)
    found = messages_about(directory, "my-officer", Caveat(Tlp.AMBER_STRICT), REF, "Both detained", lambda: "k1",
                           kind=MessageKind.FEEDBACK)
    assert [(str(m.destination), m.text) for m in found] == [
        ("direct:telegram:user:77", content_free_notice(Tlp.AMBER_STRICT, REF, None))]
    assert "detained" not in found[0].text


# --- escalations -------------------------------------------------------------------------------------

def test_an_escalation_to_a_backup_whose_first_platform_is_not_running_goes_to_their_running_one() -> None:
    # th-deputy (Thailand's backup) is on Telegram first, and the bot runs only the console.
    running = frozenset({Platform.CONSOLE})
    bot = Bot(network(**{"th-deputy": TELEGRAM_FIRST}), PostingPolicy(DuePolicy.default(), {}, platforms=running))
    service = ReminderService(lambda: MemoryUnitOfWork(bot.store), bot.directory_source, ReminderPolicy(),
                              platforms=running)
    bot.says("my-officer", "/alert to:TH tlp:amber priority:urgent Two travellers, flight XX123")
    bot.worker_sends()
    for _ in range(0, 150, 5):
        bot.later(5)
        service.tick(bot.clock.now())
    escalations = [m for m in queued(bot, "th-deputy") if m.kind is MessageKind.ESCALATION]
    assert escalations and {str(m.destination) for m in escalations} == {"direct:console:th-deputy"}


def test_a_strict_escalation_to_a_backup_on_telegram_first_goes_to_their_encrypted_chat_with_a_notice() -> None:
    # (A TLP:RED item is for named people only: it never escalates to a backup.)
    bot = Bot(network(**{"th-deputy": TELEGRAM_FIRST}))
    service = ReminderService(lambda: MemoryUnitOfWork(bot.store), bot.directory_source, ReminderPolicy())
    bot.says("my-officer", "/alert to:TH tlp:amber+strict priority:urgent Two travellers, flight XX123")
    bot.worker_sends()
    for _ in range(0, 150, 5):
        bot.later(5)
        service.tick(bot.clock.now())
    messages = queued(bot, "th-deputy")
    assert [str(m.destination) for m in messages if m.kind is MessageKind.ESCALATION] == ["direct:console:th-deputy"]
    notices = [m for m in messages if m.destination.platform is Platform.TELEGRAM]
    assert [m.kind for m in notices] == [MessageKind.NOTICE]
    assert notices[0].text == content_free_notice(Tlp.AMBER_STRICT, REF, console("th-deputy"))


# --- forwards and hand-overs ---------------------------------------------------------------------------

def test_a_forward_to_someone_on_telegram_first_goes_to_their_encrypted_chat_and_the_notice_is_queued() -> None:
    bot = Bot(network(**{"th-immigration": TELEGRAM_FIRST}))
    bot.says("my-officer", "/alert to:TH tlp:amber+strict Two travellers, flight XX123")
    bot.worker_sends()
    [answer] = bot.says("my-officer", f'/forward {REF} to:TH/immigration purpose:"joint investigation"')
    assert answer.startswith("Forwarded")
    messages = queued(bot, "th-immigration")
    assert [str(m.destination) for m in messages if m.kind is MessageKind.DELIVERY] == [
        "direct:console:th-immigration"]
    assert [(str(m.destination), m.text) for m in messages if m.kind is MessageKind.NOTICE] == [
        ("direct:telegram:user:77",
         content_free_notice(Tlp.AMBER_STRICT, REF, console("th-immigration")))]
    [record] = [d for d in bot.record(REF).deliveries if d.contact == "th-immigration"]
    assert record.destination == "direct:console:th-immigration"


def test_a_hand_over_of_a_red_item_goes_to_the_backups_encrypted_chat_and_tells_the_originator_there() -> None:
    bot = Bot(network(**{"th-deputy": TELEGRAM_FIRST, "my-officer": TELEGRAM_FIRST}))
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Two travellers, flight XX123")
    bot.worker_sends()
    bot.says("admin", '/member remove console:th-npoc reason:"left the service"')
    assert where(bot, "th-deputy", MessageKind.DELIVERY) == ["direct:console:th-deputy"]
    assert where(bot, "th-deputy", MessageKind.NOTICE) == ["direct:telegram:user:77"]
    told = [m for m in queued(bot, "my-officer") if "handed over" in m.text]
    assert [str(m.destination) for m in told] == ["direct:console:my-officer"]
    for message in queued(bot, "my-officer") + queued(bot, "th-deputy"):
        if message.destination.platform is Platform.TELEGRAM:
            assert message.text.startswith("A message for you about")


# --- the rule, as a property ---------------------------------------------------------------------------

_ACCOUNT = st.tuples(st.sampled_from(Platform), st.integers(0, 5)).map(
    lambda p: UserRef.parse({Platform.CONSOLE: "console:u{}", Platform.MATRIX: "matrix:@u{}:example.org",
                             Platform.TELEGRAM: "telegram:user:{}"}[p[0]].format(p[1])))
_CAVEAT = st.builds(Caveat, st.sampled_from(Tlp), st.sampled_from(Handling), st.booleans())
_POLICY = st.frozensets(st.sampled_from(Tlp)) | st.just(ENCRYPTED_ONLY)
_RUNNING = st.none() | st.frozensets(st.sampled_from(Platform))


def _directory(accounts: list[UserRef]) -> Directory:
    return Directory.build([Organisation("TH", "Thailand", OrgKind.COUNTRY)],
                           [Contact("x", "X", "TH", frozenset({Role.CONTACT}), tuple(accounts))], ())


@SETTINGS
@given(st.lists(_ACCOUNT, max_size=4, unique=True), _CAVEAT, _POLICY, _RUNNING)
def test_no_message_about_an_encrypted_only_item_is_addressed_to_a_channel_without_encryption(
        accounts: list[UserRef], caveat: Caveat, encrypted_only: frozenset[Tlp],
        running: frozenset[Platform] | None) -> None:
    directory = _directory(accounts)
    contact = directory.contacts["x"]
    place = direct_place(contact, caveat, directory, encrypted_only, running)
    text = "Both detained at the gate"
    found = messages_about(directory, "x", caveat, REF, text, iter(f"k{i}" for i in range(9)).__next__,
                           encrypted_only=encrypted_only, platforms=running)
    for message in found:
        if message.text == text and caveat.tlp in encrypted_only:
            assert e2ee(message.destination, directory), message
    if caveat.tlp in encrypted_only and Platform.TELEGRAM in {a.platform for a in accounts}:
        assert all(m.destination.platform is not Platform.TELEGRAM for m in found if m.text == text)
    # Nobody with an account on a running platform is left untold, nothing waits for a platform not
    # run, and the content goes at most once.
    assert bool(found) == any(running is None or a.platform in running for a in accounts)
    assert all(running is None or m.destination.platform in running for m in found)
    assert sum(m.text == text for m in found) <= 1
    # Accounts on a running platform come first: the usual chat is on one whenever the contact has one.
    usual = place.notice or place.destination
    if accounts and running is not None and any(a.platform in running for a in accounts):
        assert usual is not None and usual.platform in running
    # Where an account may carry it, the content goes to the first such one on a running platform.
    allowed_running = [a for a in accounts if (running is None or a.platform in running)
                       and (caveat.tlp not in encrypted_only or a.platform is not Platform.TELEGRAM)]
    if allowed_running:
        assert place.destination is not None and place.destination.address == allowed_running[0]
