"""Fail closed before the text: a typo in a field or a flag is refused, never read as the text,
where it would lower a caveat or lose a recipient; and due dates are bounded like durations."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.caveats import Caveat, Tlp
from alerts.items import ItemDraft, Reference, Selector, SelectorKind
from handlers.commands import AlertCommand, ForwardCommand, MemberRemoveCommand, ParseError, RequestCommand
from handlers.command_list import COMMANDS
from handlers.lexer import CommandSyntaxError, FieldSpec, scan_fields
from handlers.parser import FIELD_SPECS, parse
from handlers.vocabulary import Vocabulary
from tests.unit.test_conversations import Conversation

VOCABULARY = Vocabulary(
    topics=("document-fraud", "smuggling"),
    organisations=frozenset({"TH", "MY", "VN", "IOM", "RSO"}),
)
BODY = "Two travellers with altered passports"


def _refused(text: str) -> str:
    result = parse(text, VOCABULARY)
    assert isinstance(result, ParseError), result
    assert "\n" not in result.message and len(result.message) < 300
    return result.message


def _draft(text: str) -> ItemDraft:
    result = parse(text, VOCABULARY)
    assert isinstance(result, (AlertCommand, RequestCommand)), result
    return result.draft


@pytest.mark.parametrize(
    "text, expected_words",
    [
        ("/alert to:TH tpl:red topic:document-fraud Two travellers", ["Unknown field 'tpl'", "did you mean tlp?"]),
        ("/alert to:TH orcn Two travellers", ["Unknown word 'orcn'", "did you mean orcon?"]),
        ("/alert to:TH orcom Two travellers", ["Unknown word 'orcom'", "did you mean orcon?"]),
        ("/alert to:TH confrim Two travellers", ["Unknown word 'confrim'", "did you mean confirm:yes?"]),
        ("/alert to:TH\norcn\nTwo travellers", ["Unknown word 'orcn'"]),
        ("/alert\nTo: TH\nSubject: altered passports\nTLP: RED\nTwo travellers", ["Unknown field 'Subject'",
                                                                                  "put an empty line before it"]),
        ("/alert to:TH Note: tlp:red Two travellers", ["Unknown field 'Note'"]),
        ("/alert to:TH tlp:red\nNote: the rest", ["Unknown field 'Note'", "put an empty line before it"]),
        ("/alert to:TH urgent tlp:red Two travellers", ["'tlp:red' comes after the text has begun"]),
        ("/alert to:TH Two travellers, orcon", ["'orcon' comes after the text has begun"]),
        ("/alert to:TH Two travellers, orcn", ["Unknown word 'orcn'"]),
        ("/alert to:TH Two travellers tpl:red", ["Unknown field 'tpl'"]),
        ("/alert to:TH\nTwo travellers handling:H3", ["'handling:H3' comes after the text has begun"]),
        ("/alert to:TH\nPurpose:check tpl:red\nTwo travellers", ["Unknown field 'tpl'"]),
        ("/alert to:TH 1lp:red Two travellers", ["Unknown field '1lp'"]),
        ("/alert to:TH @lp:red Two travellers", ["Unknown field '@lp'"]),
        ("/alert to:TH tlp;red Two travellers", ["Unknown word 'tlp;red'", "did you mean tlp:red?"]),
        ("/alert to:TH TLP=RED Two travellers", ["did you mean tlp:RED?"]),
        ("/alert to:TH Two travellers handling;H3", ["did you mean handling:H3?"]),
        ("/alert to: topic:document-fraud Two travellers", ["to: is empty", "leave to: out"]),
        ('/alert to:"" topic:document-fraud Two travellers', ["to: is empty"]),
        ("/alert to:, topic:document-fraud Two travellers", ["to: is empty"]),
        ("/alert to:TH to:\nTwo travellers", ["to: is empty"]),
        ("/alert\nTo:\nTopic: document-fraud\nTwo travellers", ["to: is empty"]),
        ("/request to:TH tlp:red Please confirm, orcon", ["'orcon' comes after the text has begun"]),
        ("/forward A-2026-0042 to:VN tlp:red joint investigation", ["Unknown field 'tlp'"]),
        ("/forward A-2026-0042 to:VN\nBecause: joint investigation", ["Unknown field 'Because'"]),
        ("/forward A-2026-0042 to: purpose:x", ["to: is empty"]),
        ("/member remove @alice:example.org reasn left: retired", ["Unknown field 'left'"]),
        ("/member add @alice:example.org country:TH role:contact note:x", ["Unknown field 'note'"]),
    ],
)
def test_a_typo_before_the_text_is_refused_naming_it(text: str, expected_words: list[str]) -> None:
    message = _refused(text)
    for words in expected_words:
        assert words in message, message


# Guards of the rule's edges, which pass on the old parser too: real bodies keep working.
@pytest.mark.parametrize(
    "text, body",
    [
        ("/alert to:TH 14:30 at KUL, photos https://x.y/z", "14:30 at KUL, photos https://x.y/z"),
        ("/alert to:TH https://x.y/z shows them", "https://x.y/z shows them"),
        ("/alert to:TH seen 2026-11-30T14:00 at BKK", "seen 2026-11-30T14:00 at BKK"),
        ("/alert to:TH ask @somchai:example.org, 14:30", "ask @somchai:example.org, 14:30"),
        ("/alert to:TH tlp:red\nTwo travellers, 14:30.\nNote: both on Thai passports", "Two travellers, 14:30.\n"
         "Note: both on Thai passports"),
        ("/alert to:TH tlp:red\n\nNote: both on Thai passports", "Note: both on Thai passports"),
        ("/alert\nTo: TH\nTLP: red\n\nSubject: altered passports\nTLP: see above", "Subject: altered passports\n"
         "TLP: see above"),
        ("/request to:TH purpose:x Please confirm whether N1234567 is stolen", "Please confirm whether N1234567 is "
         "stolen"),
        ("/alert to:TH\n\nOrcon is theirs to give, tlp:red theirs", "Orcon is theirs to give, tlp:red theirs"),
    ],
)
def test_bodies_with_colons_still_read(text: str, body: str) -> None:
    assert _draft(text).body == body


def test_a_flag_on_a_later_line_is_read_before_its_text() -> None:
    draft = _draft("/alert to:TH\norcon Two travellers")
    assert draft.caveat == Caveat(orcon=True) and draft.body == "Two travellers"


def test_free_text_of_forward_and_member_remove_still_reads() -> None:  # a guard, as above
    assert parse("/forward A-2026-0042 to:VN joint investigation, 14:30", VOCABULARY) == ForwardCommand(
        Reference.parse("A-2026-0042"), (Selector(SelectorKind.ORGANISATION, organisation="VN"),),
        "joint investigation, 14:30",
    )
    result = parse("/member remove @alice:example.org left the service", VOCABULARY)
    assert isinstance(result, MemberRemoveCommand) and result.reason == "left the service"


# --- every one-edit typo of every field and flag, from the parser's own declarations ----------------

# Anything a slip of the finger may put in a word, but no space and no colon, which would make it
# two words or move the key's end.
TYPO_CHARS = string.ascii_letters + string.digits + "".join(c for c in string.punctuation if c != ":")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one_edit_typos(word: str) -> st.SearchStrategy[str]:
    return _one_edit(word).filter(lambda typo: typo.lower() != word.lower())


@st.composite
def _one_edit(draw: st.DrawFn, word: str) -> str:
    """word with one character inserted, deleted or substituted, or two neighbours transposed."""
    edit = draw(st.sampled_from(["insert", "delete", "substitute", "transpose"] if len(word) > 1
                                else ["insert", "substitute"]))
    char = draw(st.sampled_from(TYPO_CHARS))
    if edit == "insert":
        at = draw(st.integers(0, len(word)))
        return word[:at] + char + word[at:]
    at = draw(st.integers(0, len(word) - (2 if edit == "transpose" else 1)))
    if edit == "delete":
        return word[:at] + word[at + 1:]
    if edit == "substitute":
        return word[:at] + char + word[at + 1:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2:]


SPEC_NAMES = sorted(FIELD_SPECS)


def _keys_and_typos(spec: FieldSpec) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(sorted(spec.keys)).flatmap(lambda key: st.tuples(st.just(key), one_edit_typos(key)))


def _words_and_typos(spec: FieldSpec) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(sorted(spec.guarded_words)).flatmap(
        lambda word: st.tuples(st.just(word), one_edit_typos(word)))


def _scan(text: str, spec: FieldSpec) -> tuple[set[str], str] | None:
    """(the keys read, the text), or None when refused."""
    try:
        scan = scan_fields(text, spec)
    except CommandSyntaxError:
        return None
    return {field.typed.lower() for field in scan.fields}, scan.text


@pytest.mark.parametrize("command", SPEC_NAMES)
@pytest.mark.parametrize("style", ["one line", "form"])
@SETTINGS
@given(data=st.data())
def test_a_mistyped_field_before_the_text_is_refused_or_read_as_a_field(
    command: str, style: str, data: st.DataObject
) -> None:
    spec = FIELD_SPECS[command]
    key, typo = data.draw(_keys_and_typos(spec))
    text = (f"{typo}:zq7 {BODY}" if style == "one line" else f"\n{typo}: zq7\n{BODY}")
    scanned = _scan(text, spec)
    if scanned is not None:
        keys, body = scanned
        assert typo.lower() in keys and body == BODY, (typo, scanned)


@pytest.mark.parametrize("command", [name for name in SPEC_NAMES if FIELD_SPECS[name].guarded_words])
@pytest.mark.parametrize("style", ["one line", "own line", "after the text"])
@SETTINGS
@given(data=st.data())
def test_a_mistyped_flag_before_the_text_is_refused(command: str, style: str, data: st.DataObject) -> None:
    spec = FIELD_SPECS[command]
    word, typo = data.draw(_words_and_typos(spec))
    text = {"one line": f"{typo} {BODY}", "own line": f"\n{typo}\n{BODY}", "after the text": f"{BODY} {typo}"}[style]
    scanned = _scan(text, spec)
    if style == "after the text" and word not in spec.flags:
        return  # only flags are looked for after the text has begun: `Please confirm` is text
    assert scanned is None or (typo.lower() in spec.flags and scanned[1] == BODY), (typo, scanned)


@SETTINGS
@given(data=st.data())
def test_no_typo_before_the_text_lowers_the_tlp_of_an_alert(data: st.DataObject) -> None:
    spec = FIELD_SPECS["/alert"]
    key, typo = data.draw(_keys_and_typos(spec))
    word, flag_typo = data.draw(_words_and_typos(spec))
    text = data.draw(st.sampled_from([
        f"/alert to:TH {typo}:amber tlp:red {BODY}",
        f"/alert to:TH {flag_typo} tlp:red {BODY}",
        f"/alert\nTo: TH\n{typo}: amber\nTLP: RED\n{BODY}",
        f"/alert\nTo: TH\n{flag_typo}\nTLP: RED\n{BODY}",
    ]))
    result = parse(text, VOCABULARY)
    assert isinstance(result, ParseError) or (
        isinstance(result, AlertCommand) and result.draft.caveat.tlp is Tlp.RED and result.draft.body == BODY
    ), (text, result)


# --- due dates, against the injected clock --------------------------------------------------------


@pytest.fixture
def bot() -> Conversation:
    return Conversation()


@pytest.mark.parametrize("due", ["9999-12-31", "2020-01-01", "0001-01-01", "2026-11-23T08:00",
                                 "2027-11-24", "2027-11-24T09:01", '"2026-11-23 09:00"', "2026-11-23T15:00+07:00"])
def test_a_due_date_in_the_past_or_beyond_the_longest_duration_is_refused(bot: Conversation, due: str) -> None:
    now = bot.clock.now()
    assert (now.year, now.month, now.day, now.hour) == (2026, 11, 23, 9)
    answers = bot.says("my-officer", f"/alert to:TH feedback:{due} Two travellers")
    assert len(answers) == 1, answers
    assert "Due time" in answers[0] and "not in the past, at most 366d ahead" in answers[0], answers[0]
    assert "Example: feedback:2026-11-30" in answers[0]
    assert bot.received_by("th-npoc") == [] and bot.store.items == {}


# The other edge of the bound: these are accepted (as they were before it).
@pytest.mark.parametrize("due", ["2026-11-23", "2026-11-23T09:05", "2027-11-23", "2027-11-24T09:00"])
def test_a_due_date_from_now_to_the_longest_duration_is_accepted(bot: Conversation, due: str) -> None:
    answers = bot.says("my-officer", f"/request to:TH purpose:check feedback:{due} Is N1234567 stolen?")
    assert answers[0].startswith("Request R-2026-0001 accepted"), answers


def test_the_bound_follows_the_clock(bot: Conversation) -> None:
    bot.clock.advance(timedelta(days=10))
    answers = bot.says("my-officer", "/alert to:TH feedback:2026-11-30 Two travellers")
    assert "Due time '2026-11-30' is not valid" in answers[0]


@pytest.mark.parametrize("period", ["9999", "9999-12"])
def test_a_stats_period_whose_end_no_date_can_hold_is_refused(period: str) -> None:
    result = parse(f"/stats {period}", VOCABULARY)
    assert isinstance(result, ParseError) and "Period" in result.message


def test_help_says_where_the_text_begins_and_how_far_a_due_date_may_be() -> None:
    assert "put an empty line before the text" in COMMANDS.help_text("alert")
    assert "366 days ahead" in COMMANDS.help_text("due")


def test_the_readme_examples_of_where_the_text_begins() -> None:
    lines = "Two travellers, flight XX123 14:30, photos https://x.y/z\nNote: both travel on Thai passports"
    assert _draft(f"/alert to:TH tlp:red\n{lines}").body == lines
    assert _draft("/alert to:TH tlp:red\n\nNote: both travel on Thai passports").body.startswith("Note:")
    assert _draft("/alert to:TH tlp:red\nETA 14:30\nETA: 14:30").body == "ETA 14:30\nETA: 14:30"
    assert "Unknown field 'ETA'" in _refused("/alert to:TH tlp:red\nETA: 14:30")
    assert "comes after the text" in _refused("/alert to:TH urgent tlp:red Two travellers")


# A guard of the README's word: commands without fields are not checked for them.
@pytest.mark.parametrize(
    "text, attribute, expected",
    [
        ("/reply A-2026-0042 tlp:red Note: orcn", "text", "tlp:red Note: orcn"),
        ("/close A-2026-0042 tpl:x outcome: ok", "outcome", "tpl:x outcome: ok"),
        ("/consent A-2026-0042 no tlp:red Note:", "reason", "tlp:red Note:"),
        ("/snooze A-2026-0042 4h orcn tpl:x", "reason", "orcn tpl:x"),
    ],
)
def test_commands_without_fields_take_what_follows_as_text(text: str, attribute: str, expected: str) -> None:
    assert getattr(parse(text, VOCABULARY), attribute) == expected


def test_after_positional_words_an_empty_line_begins_the_text() -> None:  # a guard of the rule's edge
    result = parse("/member remove @alice:example.org\n\nto:TH left\nNote: retired", VOCABULARY)
    assert isinstance(result, MemberRemoveCommand) and result.reason == "to:TH left\nNote: retired"
    forward = parse("/forward A-2026-0042 to:VN\n\nNote: joint investigation", VOCABULARY)
    assert isinstance(forward, ForwardCommand) and forward.purpose == "Note: joint investigation"
