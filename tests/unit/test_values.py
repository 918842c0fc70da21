"""Field values: recipients, topics, durations, due times, periods, users, yes or no, and quoting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.errors import InvalidValue
from alerts.items import ALL, DueSpec, Selector, SelectorKind
from handlers.lexer import FieldSpec, quote, scan_fields
from handlers.values import (
    parse_due,
    parse_duration,
    parse_period,
    parse_recipients,
    parse_selector,
    parse_topic,
    parse_user,
    parse_yes_no,
    render_due,
    render_duration,
)
from handlers.vocabulary import Vocabulary

OPEN = Vocabulary()
KNOWN = Vocabulary(topics=("smuggling",), organisations=frozenset({"TH", "IOM"}), desks={"TH": ("police",)})
UTC = timezone.utc


@pytest.mark.parametrize(
    "text, vocabulary, expected",
    [
        ("all", OPEN, ALL),
        ("ALL", KNOWN, ALL),
        ("th", OPEN, Selector(SelectorKind.ORGANISATION, organisation="TH")),
        ("THA", KNOWN, Selector(SelectorKind.ORGANISATION, organisation="TH")),
        ("iom", KNOWN, Selector(SelectorKind.ORGANISATION, organisation="IOM")),
        ("unodc", OPEN, Selector(SelectorKind.ORGANISATION, organisation="UNODC")),
        ("TH/Police", KNOWN, Selector(SelectorKind.DESK, organisation="TH", desk="police")),
        ("IOM/anything", KNOWN, Selector(SelectorKind.DESK, organisation="IOM", desk="anything")),
        ("@th-npoc", KNOWN, Selector(SelectorKind.PERSON, person="th-npoc")),
    ],
)
def test_selectors(text: str, vocabulary: Vocabulary, expected: Selector) -> None:
    assert parse_selector(text, vocabulary) == expected


@pytest.mark.parametrize(
    "text, vocabulary", [("MY", KNOWN), ("TH/visa", KNOWN), ("x!", OPEN), ("TH/", OPEN), ("@", OPEN), ("@a b", OPEN)]
)
def test_bad_selectors(text: str, vocabulary: Vocabulary) -> None:
    with pytest.raises(InvalidValue) as error:
        parse_selector(text, vocabulary)
    assert "Accepted:" in str(error.value) and "Example:" in str(error.value)


@pytest.mark.parametrize("typed, code", [("Thailand", "TH"), ("thailand", "TH"), ("Thai", "TH")])
def test_a_country_named_in_words_is_refused_pointing_to_its_code(typed: str, code: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_selector(typed, KNOWN)
    assert str(refused.value) == (f"Organisation '{typed}' is not valid. Accepted: codes, such as {code} for "
                                  f"Thailand. Example: to:{code}")


def test_a_country_outside_the_network_named_in_words_says_so() -> None:
    with pytest.raises(InvalidValue, match=r"\(France, FR, is not one\): IOM, TH\. Example: to:TH"):
        parse_selector("France", KNOWN)


def test_a_scopes_refusal_shows_the_command_it_was_given_in() -> None:
    """/overdue Thailand, /overdue TH/visa: the example is of /overdue, not of /alert's to:."""
    from handlers.command_list import COMMANDS
    from handlers.parser import ParseError

    for typed, example in (("Thailand", "/overdue TH"), ("TH/visa", "/overdue TH/police"), ("XX", "/overdue TH")):
        parsed = COMMANDS.parse(f"/overdue {typed}", KNOWN)
        assert isinstance(parsed, ParseError) and str(parsed).endswith(f"Example: {example}"), parsed


def test_recipients_merge_split_and_drop_duplicates() -> None:
    th, iom = (Selector(SelectorKind.ORGANISATION, organisation=code) for code in ("TH", "IOM"))
    assert parse_recipients(["TH, IOM", "tha", "", "IOM TH,,"], KNOWN) == (th, iom)


def test_topics() -> None:
    assert parse_topic("Document fraud", OPEN) == "document-fraud"
    assert parse_topic("SMUGGLING", KNOWN) == "smuggling"
    with pytest.raises(InvalidValue, match="smuggling"):
        parse_topic("smugling", KNOWN)
    with pytest.raises(InvalidValue):
        parse_topic("a/b", OPEN)


@pytest.mark.parametrize(
    "text, expected",
    [("90m", timedelta(minutes=90)), ("24H", timedelta(hours=24)), ("2d", timedelta(days=2)),
     ("1w", timedelta(weeks=1)), ("1d12h", timedelta(hours=36)), ("2 days", timedelta(days=2)),
     ("1h30min", timedelta(minutes=90)), ("3hrs", timedelta(hours=3)), ("30d", timedelta(days=30))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text, "Snooze time", "4h", timedelta(days=30)) == expected


@pytest.mark.parametrize("text", ["", "0m", "31d", "5", "h", "1mo", "1.5h", "-1h", "9" * 7 + "w", "1w" * 9000, "٣h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidValue, match="Accepted: minutes, hours, days or weeks"):
        parse_duration(text, "Snooze time", "4h", timedelta(days=30))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("24h", DueSpec(after=timedelta(hours=24))),
        ("2026-11-30", DueSpec(at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))),
        ("2026-11-30T14:00", DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=UTC))),
        ("2026-11-30 14:00", DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=UTC))),
        ("2026-11-30T14:00:30Z", DueSpec(at=datetime(2026, 11, 30, 14, 0, 30, tzinfo=UTC))),
        ("2026-11-30 14:00 UTC", DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=UTC))),
        ("2026-12-01T03:00+0700", DueSpec(at=datetime(2026, 11, 30, 20, 0, tzinfo=UTC))),
    ],
)
def test_due_times(text: str, expected: DueSpec) -> None:
    assert parse_due(text) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2026-11-31", "2026-11-30T25:00", "30/11/2026", "0001-01-01T00:00+01:00"])
def test_bad_due_times(text: str) -> None:
    with pytest.raises(InvalidValue, match="Example: feedback:"):
        parse_due(text)


def test_rendered_due_times_and_durations() -> None:
    assert render_duration(timedelta(hours=36, minutes=5)) == "1d12h5m"
    assert render_duration(timedelta(seconds=61)) == "2m"  # whole minutes, rounded up
    assert render_due(DueSpec(at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))) == "2026-11-30"
    assert render_due(DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=UTC))) == "2026-11-30T14:00"
    assert render_due(DueSpec(at=datetime(2026, 11, 30, 14, 0, 5, tzinfo=UTC))) == "2026-11-30T14:00:05"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 366 * 24 * 60))
def test_durations_round_trip(minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    assert parse_duration(render_duration(duration), "Due", "24h", timedelta(days=366)) == duration


@pytest.mark.parametrize(
    "text, expected",
    [("30d", "30d"), ("4 weeks", "4w"), ("3M", "3m"), ("12months", "12m"), ("2026-10", "2026-10"), ("2026", "2026")],
)
def test_periods(text: str, expected: str) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize("text", ["0d", "30x", "2026-00", "1969", "26-10", "last month"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(InvalidValue, match="Example: /stats 30d"):
        parse_period(text)


@pytest.mark.parametrize(
    "text, expected",
    [("@alice:example.org", "matrix:@alice:example.org"), ("MATRIX:@a:b.org:8448", "matrix:@a:b.org:8448"),
     ("telegram:user:42", "telegram:user:42"), ("telegram:42", "telegram:user:42"),
     ("console:alice", "console:alice"), ("@somchai_k", "@somchai_k")],
)
def test_users(text: str, expected: str) -> None:
    assert parse_user(text) == expected


@pytest.mark.parametrize("text", ["alice", "@abc", "telegram:user:x", "slack:alice", "@a b:c"])
def test_bad_users(text: str) -> None:
    with pytest.raises(InvalidValue, match="Example: /member add"):
        parse_user(text)


def test_yes_and_no() -> None:
    assert parse_yes_no("Yes", "Consent", "yes") and parse_yes_no("granted", "Consent", "yes")
    assert not parse_yes_no("N", "Consent", "yes") and not parse_yes_no("refuse", "Consent", "yes")
    with pytest.raises(InvalidValue, match="yes or no"):
        parse_yes_no("maybe", "Consent", "yes")


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidValue) as error:
        parse_topic("x" * 5000 + "!", OPEN)
    assert len(str(error.value)) < 200


SPEC = FieldSpec(keys={"purpose": "purpose"}, examples={"purpose": 'purpose:"x"'})


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), min_size=1).map(str.strip))
def test_quoted_values_read_back(value: str) -> None:
    scan = scan_fields(f"purpose:{quote(value)} rest", SPEC)
    assert [field.value for field in scan.fields] == [value] and scan.text == "rest"
