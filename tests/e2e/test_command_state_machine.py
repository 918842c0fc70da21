"""Fail closed at every edge: a hypothesis state machine drives the whole command surface of the
running bot (config.example.toml's sample network on the console, built by build_runtime) with
random members, admins included, and strangers, in direct chats and shared rooms, with valid and
hostile values; it erases items, runs retention and the scheduler's rounds as time passes, and
restarts the bot. After every step:

- no loop stopped: handling the inbox, the delivery worker and the reminder rounds raised nothing;
- every command was answered, in its chat or its sender's direct chat, and no inbox row is left
  pending or failed; nothing due is left unsent, and no outbox row was set aside;
- nothing sent shows a traceback, an error reference or a parser's internal error;
- no TLP:RED or TLP:AMBER+STRICT text reached a shared room (on the console the only channel the
  policy forbids for them); no text of an erased case was sent after its erasure; the text of a
  command that made no item never left its own chat;
- the audit log verifies (after restarts and at the end of every example).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from alerts.identity import ChatRef, UserRef
from tests.conftest import fresh_postgres_database
from tests.e2e.command_world import Marker, Said, World

OFFICERS = ["my-officer", "au-officer", "th-officer"]
CONTACTS = ["th-npoc", "th-immigration", "th-police", "my-npoc", "my-police", "au-npoc", "id-npoc", "ca-npoc",
            "iom-npoc", "rso-npoc", "vn-npoc"]
STAFF = ["rso-coordinator", "rso-admin", "rso-auditor"]
STRANGERS = ["stranger", "mallory"]
PEOPLE = OFFICERS + CONTACTS + STAFF + STRANGERS
ROOMS = ["#network", "#coordination", "#lobby"]  # the last is a room the directory does not know

# Values for each field: valid ones, and hostile ones (typos, unknown, out of range, empty, escapes).
TO = ["TH", "MY", "TH,MY", "THA", "TH/immigration", "AU/police", "@th-npoc", "@th-npoc,@my-npoc", "all", "IOM",
      "CA", "RSO", "", '""', ",", "XX", "TH/nowhere", "@nobody", "th", "Thailand", "TH;MY", "@rso-admin"]
TLP = ["clear", "green", "amber", "amber+strict", "red", "RED", "Amber+Strict", "white", "orange", "amber strict",
       "", "rde", "red\x1b[0m", "amber+"]
HANDLING = ["H0", "H1", "H2", "H3", "h2", "H4", "X", ""]
GRADE = ["B2", "A1", "F6", "b2", "G7", "B0", "B22", ""]
PRIORITY = ["routine", "priority", "urgent", "flash", "URGENT", "asap", "urgnet", ""]
TOPIC = ["document-fraud", "people-smuggling", "trafficking-in-persons", "maritime", "Document-Fraud",
         "smuggling", "", "missing-person"]
DUE = ["24h", "3d", "1w", "90m", "2026-11-30", "2026-11-30T14:00", "2026-11-30T14:00+07:00", "366d",
       "9999-12-31", "0m", "-1h", "367d", "2026-02-30", "1999-01-01", "99999999999d", "2026-11-23T09:00", "soon", ""]
EXTRA = ["orcon", "orcon:yes", "orcon:no", "orcn", "orcom", "tpl:red", "Subject:", "confrim:yes", "tlp;red",
         "tlp=red", "confirm:yes", "confirm:maybe", "ref:OP-1234", 'purpose:"joint case"', "purpose:", "to:"]
BODY = ["Two travellers with altered passports, flight XX123 14:30.", "", "Note: both on Thai passports",
        "\x1b[2J\x1b[H cleared your screen", "line one\r\nline two\rover", "tab\there\x00nul\x07bell",
        "\u202eevil right-to-left\u202c and \u200bzero width", "🚤 boat leaves tonight", "to:TH urgent tlp:red late",
        "x " * 3000, "y" * 17_000, "</b><script>alert(1)</script> *bold* _it_ `code` [link](http://x.y)"]
STATS = ["", "30d", "4w", "3m", "2026-10", "2026", "bogus", "9999", "0d", "2026-13"]
SNOOZE = ["4h", "30m", "1d", "0m", "999d", "bogus", "-2h", ""]
CONSENT = ["yes", "no", "maybe", "", "y"]
UNKNOWN_REFERENCES = ["A-2026-9999", "R-2026-0001", "A-1999-0001", "X-1", "a-2026-0001", "A-2026-0001\x1b[2J",
                      "", "A-2026-00001", "R-2026-1"]


def field(key: str, values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(values).map(lambda value: f"{key}:{value}" if value else f"{key}:")


ITEM_FIELDS = st.lists(st.one_of(field("to", TO), field("tlp", TLP), field("handling", HANDLING),
                                 field("grade", GRADE), field("priority", PRIORITY), field("topic", TOPIC),
                                 field("due", DUE), field("feedback", DUE), st.sampled_from(EXTRA)),
                       max_size=6)


# Items most likely accepted, so that the follow-ups have something to act on.
VALID_FIELDS = st.tuples(st.sampled_from(["to:TH", "to:@th-npoc", "to:TH,MY", "to:@my-npoc,@th-police", "to:AU/police",
                                          "topic:people-smuggling", "to:all"]),
                         st.sampled_from(["tlp:red", "tlp:amber+strict", "tlp:amber", "tlp:green", "tlp:clear"]),
                         st.sampled_from(["", "priority:urgent", "priority:priority", "orcon", "handling:H2",
                                          "due:1h", "grade:B2"]))


class CommandMachine(RuleBasedStateMachine):
    """One bot per example; `make_world` gives it a folder (and, for PostgreSQL, a database)."""

    make_world: Callable[[], tuple[World, Callable[[], None]]]

    def __init__(self) -> None:
        super().__init__()
        self.world, self._dispose = type(self).make_world()

    def teardown(self) -> None:
        try:
            if self.world.runtime is not None:
                self.world.check_audit()
        finally:
            try:
                self.world.shutdown()
            finally:
                self._dispose()

    # --- helpers -------------------------------------------------------------------------------

    def _place(self, data: st.DataObject, who: str) -> tuple[UserRef, ChatRef]:
        in_room = data.draw(st.booleans(), label="in a room")
        chat = data.draw(st.sampled_from(ROOMS), label="room") if in_room else f"@{who}"
        return UserRef.parse(f"console:{who}"), ChatRef.parse(f"console:{chat}")

    def _reference(self, data: st.DataObject) -> str:
        known = sorted(self.world.known)
        if known and data.draw(st.booleans(), label="a known item"):
            return data.draw(st.sampled_from(known), label="reference")
        return data.draw(st.sampled_from(UNKNOWN_REFERENCES), label="reference")

    def _who_about(self, data: st.DataObject, who: str) -> tuple[str, str]:
        """A person and a reference: often someone the item concerns (its originator, a recipient)."""
        known = sorted(self.world.known)
        if known and data.draw(st.booleans(), label="someone it concerns"):
            reference = data.draw(st.sampled_from(known), label="reference")
            return data.draw(st.sampled_from(self.world.participants(reference)), label="who"), reference
        return who, self._reference(data)

    def _handled(self, said: Said) -> None:
        self.world.check_answered(said)
        self.world.check_sent(said)

    # --- rules ---------------------------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(["alert", "request"]), fields=VALID_FIELDS.map(list),
          body=st.sampled_from(BODY[:2]), who=st.sampled_from(OFFICERS))
    def post_likely_item(self, data: st.DataObject, kind: str, fields: list[str], body: str, who: str) -> None:
        self.post_item(data, kind, [f for f in fields if f], body, False, who)

    @rule(data=st.data(), kind=st.sampled_from(["alert", "request"]), fields=ITEM_FIELDS,
          body=st.sampled_from(BODY), form=st.booleans(),
          who=st.sampled_from(OFFICERS * 3 + CONTACTS + STAFF + STRANGERS))
    def post_item(self, data: st.DataObject, kind: str, fields: list[str], body: str, form: bool, who: str) -> None:
        sender, chat = self._place(data, who)
        marker = self.world.mark(sender, chat)
        if kind == "request" and data.draw(st.booleans(), label="with a purpose"):
            fields = [*fields, 'purpose:"identity check"']
        if form:  # one `Key: value` per line, then the body
            lines = [f"{f.split(':', 1)[0].capitalize()}: {f.split(':', 1)[1]}" if ":" in f else f for f in fields]
            text = "\n".join([f"/{kind}", *lines, f"{marker.word} {body}"])
        else:
            text = " ".join([f"/{kind}", *fields, marker.word, body])
        said = self.world.says(sender, chat, text)
        self.world.learn(marker)
        event(f"item accepted: {marker.tlp.label if marker.tlp else 'no'}")
        self._handled(said)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE),
          command=st.sampled_from(["ack", "status", "remind", "escalate", "reply", "close", "snooze", "consent",
                                   "forward", "withdraw", "correct", "history"]),
          body=st.sampled_from(BODY[:9]))
    def follow_up(self, data: st.DataObject, who: str, command: str, body: str, reference: str | None = None) -> None:
        if reference is None:
            who, reference = self._who_about(data, who)
        sender, chat = self._place(data, who)
        text = f"/{command} {reference}"
        marker: Marker | None = None
        if command in ("reply", "close", "withdraw", "correct"):
            marker = self.world.mark(sender, chat)
            text += f" {marker.word} {body}"
        elif command == "snooze":
            text += f" {data.draw(st.sampled_from(SNOOZE), label='for')} {body}"
        elif command == "consent":
            marker = self.world.mark(sender, chat)
            text += f" {data.draw(st.sampled_from(CONSENT), label='answer')} {marker.word}"
        elif command == "forward":
            to = data.draw(field("to", TO), label="to")
            purpose = data.draw(st.sampled_from(['purpose:"joint case"', "", "purpose:", "tlp:green"]), label="purpose")
            text += f" {to} {purpose}"
        if marker is not None and command != "consent":
            # Feedback and outcomes travel under the item's caveat; a consent answer is no content of
            # the item (a wrong one is only echoed back to where it was typed).
            self.world.attach(marker, reference)
        self._handled(self.world.says(sender, chat, text))

    @precondition(lambda self: self.world.known)
    @rule(data=st.data(), command=st.sampled_from(["reply", "close", "status", "ack", "forward", "consent", "mine",
                                                   "withdraw", "correct", "history"]),
          body=st.sampled_from(BODY[:4]))
    def someone_it_concerns_follows_up(self, data: st.DataObject, command: str, body: str) -> None:
        reference = data.draw(st.sampled_from(sorted(self.world.known)), label="reference")
        who = data.draw(st.sampled_from(self.world.participants(reference)), label="who")
        if command == "mine":
            sender, chat = self._place(data, who)
            self._handled(self.world.says(sender, chat, "/mine"))
        else:
            self.follow_up(data, who, command, body, reference)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE),
          text=st.sampled_from(["/mine", "/mine all", "/find", "/find boat topic:document-fraud", "/find country:TH",
                                "/find page:2", "/find topc:x", "/overdue", "/overdue TH", "/overdue TH/immigration", "/overdue XX",
                                "/contacts", "/contacts TH", "/contacts ZZ", "/whoami", "/help", "/help alert",
                                "/help nonsense", "/rooms", "/room sync", "/room sync --apply", "/room nuke",
                                "/device list console:th-npoc", "/device verify console:th-npoc ABC", "/cancel",
                                "/alrt to:TH hello", "/", "!status", "/ack", "/status@OtherBot A-2026-0001",
                                "/member", "/member add console:newbie country:TH role:contact",
                                "/member add console:newbie country:XX role:boss", "just talking"]),
          stats=st.sampled_from(STATS))
    def ask(self, data: st.DataObject, who: str, text: str, stats: str) -> None:
        sender, chat = self._place(data, who)
        if data.draw(st.booleans(), label="stats instead"):
            text = f"/stats {stats}".rstrip()
        self._handled(self.world.says(sender, chat, text))

    @rule(data=st.data(), admin=st.sampled_from(["rso-admin", "rso-admin", "th-npoc", "stranger"]),
          whom=st.sampled_from(CONTACTS + OFFICERS + ["nobody", "rso-admin"]),
          reason=st.sampled_from(['reason:"posted elsewhere"', "", "reason:", "tlp:red"]))
    def member_remove(self, data: st.DataObject, admin: str, whom: str, reason: str) -> None:
        sender, chat = self._place(data, admin)
        self._handled(self.world.says(sender, chat, f"/member remove console:{whom} {reason}".rstrip()))

    @precondition(lambda self: self.world.known)
    @rule(data=st.data())
    def erase_an_item(self, data: st.DataObject) -> None:
        self.world.erase(data.draw(st.sampled_from(sorted(self.world.known)), label="erase"))
        self.world.settle()
        self.world.check_sent()

    @rule(days=st.integers(1, 5))
    def retention(self, days: int) -> None:
        self.world.retention(days)
        self.world.settle()
        self.world.check_sent()

    @rule(by=st.sampled_from([timedelta(minutes=1), timedelta(minutes=20), timedelta(hours=1), timedelta(hours=5),
                              timedelta(hours=13), timedelta(days=1), timedelta(days=3), timedelta(days=40)]))
    def time_passes(self, by: timedelta) -> None:
        self.world.later(by)
        self.world.check_sent()

    @rule(pending=st.sampled_from([None, "/mine", "/alert to:TH tlp:red MKPENDQ in flight"]))
    def restart(self, pending: str | None) -> None:
        said = self.world.restart(pending)
        if said is not None:
            self.world.check_answered(said)
        self.world.check_sent()
        self.world.check_audit()

    @invariant()
    def nothing_left_behind(self) -> None:
        if self.world.runtime is not None:
            self.world.check_stores()


def sqlite_world() -> tuple[World, Callable[[], None]]:
    workdir = Path(tempfile.mkdtemp(prefix="command-sm-"))
    return World(workdir, None), lambda: shutil.rmtree(workdir, ignore_errors=True)


def run_machine(make_world: Callable[[], tuple[World, Callable[[], None]]], *, examples: int, steps: int) -> None:
    machine = type("Machine", (CommandMachine,), {"make_world": staticmethod(make_world)})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    ))


# LIAISON_SM_EXAMPLES runs more examples, to hunt for longer than `make test` should take.
EXAMPLES = int(os.environ.get("LIAISON_SM_EXAMPLES", "0"))


def test_the_command_surface_fails_closed_on_sqlite() -> None:
    run_machine(sqlite_world, examples=EXAMPLES or 30, steps=30)


@pytest.mark.postgres
def test_the_command_surface_fails_closed_on_postgresql(postgres_admin: object) -> None:
    def postgres_world() -> tuple[World, Callable[[], None]]:
        workdir = Path(tempfile.mkdtemp(prefix="command-sm-pg-"))
        database = fresh_postgres_database(postgres_admin)
        url = database.__enter__()

        def dispose() -> None:
            try:
                database.__exit__(None, None, None)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

        try:
            return World(workdir, url), dispose
        except BaseException:
            dispose()
            raise

    run_machine(postgres_world, examples=EXAMPLES or 8, steps=20)


# --- what the machine found, kept as examples ----------------------------------------------------

def test_removing_a_member_in_a_room_names_their_strict_items_only_in_the_admins_direct_chat() -> None:
    world, dispose = sqlite_world()
    try:
        officer, admin = UserRef.parse("console:my-officer"), UserRef.parse("console:rso-admin")
        network = ChatRef.parse("console:#network")
        marker = world.mark(officer, officer.direct_chat() or network)
        world.says(officer, officer.direct_chat() or network,
                   f'/request to:TH tlp:amber+strict purpose:"identity check" {marker.word} passport N1234567')
        [reference] = world.learn(marker)
        said = world.says(admin, network, '/member remove console:th-npoc reason:"posted elsewhere"')
        world.check_answered(said)
        world.check_sent()  # the reference of an AMBER+STRICT item is named in no shared room
        [private] = [m for m in said.sent if m.destination.address == admin]
        assert f"Handed 1 open item to Immigration desk (Thailand immigration): {reference}" in private.text
        [in_room] = [m for m in said.sent if m.destination.address == network and m.text.startswith("Removed ")]
        assert "Removed National point of contact (Thailand)" in in_room.text
        assert "Their open items: answered in your direct chat with the bot" in in_room.text
    finally:
        world.shutdown()
        dispose()


def test_when_the_originator_has_left_a_handover_of_a_strict_item_is_not_told_in_the_room_it_was_typed_in() -> None:
    world, dispose = sqlite_world()
    try:
        officer, admin = UserRef.parse("console:my-officer"), UserRef.parse("console:rso-admin")
        network = ChatRef.parse("console:#network")
        marker = world.mark(officer, network)
        posted = world.says(officer, network, f"/alert to:TH tlp:amber+strict {marker.word} passport N1234567")
        [reference] = world.learn(marker)
        world.check_sent(posted)
        for leaving in ("my-officer", "th-npoc"):
            said = world.says(admin, admin.direct_chat() or network, f"/member remove console:{leaving}")
            world.check_answered(said)
            world.check_sent(said)  # no "their copy of A-… was handed over" in #network
        assert any(reference in m.text and m.destination.address == UserRef.parse("console:th-immigration")
                   for m in said.sent)  # the backup has it
    finally:
        world.shutdown()
        dispose()
