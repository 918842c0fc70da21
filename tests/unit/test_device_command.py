"""/device list, verify and blacklist as conversations with the handler fakes: what an admin's command
plans (one DEVICE outbox row, carried out later by bot/actions/devices.py), what it records in the
audit log, and the short answers to everyone else and to bad input."""

from __future__ import annotations

import itertools

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.devices import DEVICE_QUEUE, DeviceAction, DeviceOp
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from handlers import commands as c
from handlers.devices import NOT_SET_UP
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from tests.fakes import MemoryDirectory
from handlers.parser import ParseError, parse
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import small_network

AU = UserRef.parse("matrix:@au-npoc:example.org")  # au-npoc's Matrix account in the sample network


class Network:
    def __init__(self, with_devices: bool = True) -> None:
        self.directory = MemoryDirectory(small_network())
        self.store = MemoryStore()
        self.clock = ManualClock()
        self.with_devices = with_devices
        counter = itertools.count(1)
        self.dispatcher = Dispatcher(FixedDirectory(self.directory.current()), PostingPolicy(DuePolicy.default(), {}),
                                     lambda: Vocabulary(), lambda: f"key-{next(counter)}")
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> list[str]:
        """What the bot answered at once in the sender's chat."""
        before = set(self.store.outbox)
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        with MemoryUnitOfWork(self.store, self.directory, devices=self.with_devices) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        return [m.text for k, m in self.store.outbox.items()
                if k not in before and m.kind is MessageKind.ANSWER and str(m.destination) == f"chat:console:@{who}"]

    def planned(self) -> list[DeviceAction]:
        rows = [m for m in self.store.outbox.values() if m.kind is MessageKind.DEVICE]
        assert all(m.destination == DEVICE_QUEUE for m in rows)
        return [DeviceAction.from_json(m.text) for m in rows]

    def audit(self, action: AuditAction) -> list:
        return [e for e in self.store.audit if e.action is action]


@pytest.fixture
def network() -> Network:
    return Network()


def test_an_admin_lists_a_users_devices_and_the_look_is_recorded(network: Network) -> None:
    assert network.says("admin", "/device list @au-npoc:example.org") == []  # the gateway answers, once
    [action] = network.planned()
    assert (action.op, action.user, action.device_id) == (DeviceOp.LIST, AU, None)
    assert (action.requested_by, action.reply_chat) == ("admin", "console:@admin")
    [look] = network.audit(AuditAction.CONSULTATION)
    assert look.actor == "admin" and look.recipients == ("au-npoc",)
    assert look.detail == {"command": "device list", "user": "matrix:@au-npoc:example.org"}


@pytest.mark.parametrize("word, op", [("verify", DeviceOp.VERIFY), ("blacklist", DeviceOp.BLACKLIST),
                                      ("block", DeviceOp.BLACKLIST)])
def test_an_admin_decides_on_a_device_and_the_decision_is_recorded(network: Network, word: str, op: DeviceOp) -> None:
    assert network.says("admin", f"/device {word} matrix:@au-npoc:example.org QWERTYUIOP") == []
    [action] = network.planned()
    assert (action.op, action.user, action.device_id) == (op, AU, "QWERTYUIOP")
    [decision] = network.audit(AuditAction.ADMIN)
    assert decision.recipients == ("au-npoc",)
    assert decision.detail == {"command": f"device {op.value}", "user": str(AU), "device": "QWERTYUIOP"}


def test_a_device_of_someone_outside_the_directory_can_be_decided_on(network: Network) -> None:
    network.says("admin", "/device blacklist @stranger:elsewhere.org PHONE1")
    [action] = network.planned()
    assert action.user == UserRef.parse("matrix:@stranger:elsewhere.org")
    assert network.audit(AuditAction.ADMIN)[0].recipients == ()


@pytest.mark.parametrize("who", ["rso-coord", "th-npoc", "auditor"])
def test_anyone_but_an_admin_is_refused_and_the_refusal_recorded(network: Network, who: str) -> None:
    [answer] = network.says(who, "/device verify @au-npoc:example.org QWERTYUIOP")
    assert answer.startswith("/device needs one of these roles: admin.")
    assert network.planned() == []
    [refusal] = network.audit(AuditAction.REFUSAL)
    assert refusal.actor == who and refusal.detail["command"] == "device"
    assert network.audit(AuditAction.ADMIN) == []


@pytest.mark.parametrize("text, expected", [
    ("/device", "Use /device list USER"),
    ("/device trust @au-npoc:example.org ABC", "Use /device list USER"),
    ("/device verify", "/device verify needs a Matrix user. Example: /device verify @alice:example.org ABCDEFGHIJ"),
    ("/device verify @au-npoc:example.org", "Say which device, after the user (/device list @au-npoc:example.org"),
    ("/device list telegram:user:4242", "is not a Matrix user"),
    ("/device list @somchai_k", "is not a Matrix user"),
    ("/device list @au-npoc:example.org ABC", "/device list takes only the user"),
    ("/device verify @au-npoc:example.org ABC DEF", "takes a user and one device"),
    ("/device verify @au-npoc:example.org <script>", "is not a device id"),
])
def test_bad_input_gets_a_short_answer_with_an_example(network: Network, text: str, expected: str) -> None:
    [answer] = network.says("admin", text)
    assert expected in answer and "Example: /device" in answer and len(answer) < 300
    assert network.planned() == [] and network.audit(AuditAction.ADMIN) == []


def test_without_the_matrix_connector_the_admin_is_told_and_nothing_is_planned() -> None:
    network = Network(with_devices=False)
    assert network.says("admin", "/device list @au-npoc:example.org") == [NOT_SET_UP]
    assert network.planned() == []


@pytest.mark.parametrize("text, command", [
    ("/device list @au-npoc:example.org", c.DeviceCommand(DeviceOp.LIST, AU, None)),
    ("/device ls matrix:@au-npoc:example.org", c.DeviceCommand(DeviceOp.LIST, AU, None)),
    ("/DEVICE Verify @au-npoc:example.org QWERTYUIOP", c.DeviceCommand(DeviceOp.VERIFY, AU, "QWERTYUIOP")),
    ("!device blocklist @au-npoc:example.org qwerty_1", c.DeviceCommand(DeviceOp.BLACKLIST, AU, "qwerty_1")),
])
def test_the_forms_people_type_parse_and_render_canonically(text: str, command: c.DeviceCommand) -> None:
    assert parse(text) == command
    assert parse(command.render()) == command


def test_help_lists_device_and_explains_it() -> None:
    from handlers.command_list import COMMANDS
    help_text = COMMANDS.help_text

    assert "/device" in help_text() and "/device list|verify|blacklist USER [DEVICE]" in help_text("device")
    assert "Example: /device verify @alice:example.org ABCDEFGHIJ" in help_text("device")
    assert isinstance(parse("/device"), ParseError)
