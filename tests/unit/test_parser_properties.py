"""Properties of the command language: parse never raises, and every command survives render -> parse."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from alerts.caveats import Caveat, Handling, Tlp
from alerts.countries import alpha3
from alerts.devices import DeviceOp
from alerts.grading import CREDIBILITY, RELIABILITY, Grading
from alerts.incident import MAX_PERSONS, DocumentType, Incident, Method
from alerts.identity import UserRef
from alerts.items import ALL, Correction, DueSpec, ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.priority import Priority
from alerts.roles import Role
from handlers import commands as c
from handlers.command_list import COMMANDS
from handlers.help import FIELDS
from handlers.lexer import OPENING_QUOTES, quote
from handlers.parser import INTERNAL_ERROR, parse
from handlers.vocabulary import Vocabulary
from tests.unit.test_parser_commands import COMMAND_CLASSES

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORGANISATIONS = ("TH", "MY", "VN", "KH", "IOM", "RSO", "UNHCR")
DESKS = {"TH": ("immigration", "police"), "MY": ("immigration",)}
CONFIGURED = Vocabulary(
    topics=("document-fraud", "smuggling", "trafficking"),
    organisations=frozenset(ORGANISATIONS),
    desks=DESKS,
    bot_username="LiaisonBot",
)
OPEN = Vocabulary()

# Text as people type it: any letters, quotes of every kind, backslashes, emoji, newlines. Not \r,
# which parsing turns into \n, and not surrogates, which no chat message carries.
_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r")
_LINE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")
QUOTES = "\"'“”„‘’«»\\"
line_text = st.one_of(
    st.text(_LINE_CHARS, min_size=1, max_size=40),
    st.text(st.sampled_from(QUOTES + " ab:,"), min_size=1, max_size=12),
).map(str.strip).filter(bool)
free_text = st.one_of(
    st.text(_CHARS, min_size=1, max_size=80),
    st.lists(st.one_of(line_text, st.sampled_from(["to:TH", "Topic: x", "", "orcon", "tlp:red"])), min_size=1)
    .map("\n".join),
).map(str.strip).filter(bool)
maybe_free_text = st.one_of(st.just(""), free_text)

references = st.builds(Reference, st.sampled_from(ItemKind), st.integers(0, 9999), st.integers(0, 10**6))
people = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
organisation_selectors = st.sampled_from(ORGANISATIONS).map(
    lambda code: Selector(SelectorKind.ORGANISATION, organisation=code)
)
desk_selectors = st.sampled_from([(org, desk) for org, desks in DESKS.items() for desk in desks]).map(
    lambda pair: Selector(SelectorKind.DESK, organisation=pair[0], desk=pair[1])
)
person_selectors = people.map(lambda person: Selector(SelectorKind.PERSON, person=person))
scopes = st.one_of(st.none(), organisation_selectors, desk_selectors, person_selectors)
selectors = st.one_of(st.just(ALL), organisation_selectors, desk_selectors, person_selectors)
recipients = st.lists(selectors, max_size=4).map(lambda found: tuple(dict.fromkeys(found)))

gradings = st.builds(Grading, st.sampled_from(sorted(RELIABILITY)), st.sampled_from(sorted(CREDIBILITY)))
caveats = st.builds(Caveat, st.sampled_from(Tlp), st.sampled_from(Handling), st.booleans())
moments = st.datetimes(datetime(1990, 1, 1), datetime(2200, 1, 1), timezones=st.just(timezone.utc))
due_specs = st.one_of(
    st.integers(1, 366 * 24 * 60).map(lambda minutes: DueSpec(after=timedelta(minutes=minutes))),
    moments.map(lambda moment: DueSpec(at=moment.replace(microsecond=0))),
    moments.map(lambda moment: DueSpec(at=moment.replace(second=0, microsecond=0))),
    moments.map(lambda moment: DueSpec(at=datetime.combine(moment.date(), time(23, 59, 59), timezone.utc))),
)
open_topics = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
hubs = st.from_regex(r"[A-Z0-9][A-Z0-9-]{1,31}", fullmatch=True)
countries = st.sampled_from(["MM", "BD", "TH", "MY", "ID", "AU", "VN", "LK"])
incidents = st.one_of(st.just(Incident()), st.builds(
    Incident,
    st.one_of(st.none(), st.integers(1, MAX_PERSONS)),
    st.lists(countries, max_size=4, unique=True).map(tuple),
    st.one_of(st.just(()), st.lists(countries, min_size=2, max_size=4).map(tuple)),
    st.one_of(st.none(), st.sampled_from(Method)),
    st.one_of(st.none(), st.sampled_from(DocumentType)),
    st.one_of(st.none(), countries),
))


@st.composite
def drafts(draw: st.DrawFn, kind: ItemKind, vocabulary: Vocabulary) -> ItemDraft:
    topic_values = st.sampled_from(vocabulary.topics) if vocabulary.topics else open_topics
    topic = draw(st.one_of(st.none(), topic_values))
    to = draw(recipients)
    if not to and topic is None:
        topic = draw(topic_values)
    needs_purpose = kind is ItemKind.REQUEST
    return ItemDraft(
        kind=kind,
        body=draw(free_text),
        recipients=to,
        caveat=draw(caveats),
        grading=draw(st.one_of(st.none(), gradings)),
        priority=draw(st.sampled_from(Priority)),
        topic=topic,
        due=draw(st.one_of(st.none(), due_specs)),
        purpose=draw(line_text if needs_purpose else st.one_of(st.none(), line_text)),
        outside_ref=draw(st.one_of(st.none(), line_text)),
        incident=draw(incidents),
        hub=draw(st.one_of(st.none(), hubs)),
    )


@st.composite
def corrections(draw: st.DrawFn, vocabulary: Vocabulary) -> Correction:
    topic_values = st.sampled_from(vocabulary.topics) if vocabulary.topics else open_topics

    def maybe(values: st.SearchStrategy) -> object:  # type: ignore[type-arg]
        return draw(st.one_of(st.none(), values))

    found = Correction(
        recipients=maybe(recipients.filter(bool)), topic=maybe(topic_values), tlp=maybe(st.sampled_from(Tlp)),
        handling=maybe(st.sampled_from(Handling)), orcon=maybe(st.booleans()), grading=maybe(gradings),
        priority=maybe(st.sampled_from(Priority)), due=maybe(due_specs), purpose=maybe(line_text),
        outside_ref=maybe(line_text), body=maybe(free_text),
    )
    return found if not found.empty else Correction(body=draw(free_text))


find_words = st.from_regex(r"[a-z0-9][a-z0-9.,'-]{0,12}", fullmatch=True)
days = st.dates(date(1990, 1, 1), date(2200, 1, 1))


@st.composite
def finds(draw: st.DrawFn, vocabulary: Vocabulary) -> c.FindCommand:
    topic_values = st.sampled_from(vocabulary.topics) if vocabulary.topics else open_topics
    since, until = draw(st.one_of(st.none(), days)), draw(st.one_of(st.none(), days))
    if since and until and until < since:
        since, until = until, since
    return c.FindCommand(tuple(draw(st.lists(find_words, max_size=3))), draw(st.one_of(st.none(), topic_values)),
                         draw(st.one_of(st.none(), st.sampled_from(ORGANISATIONS))),
                         draw(st.one_of(st.none(), st.from_regex(r"[AR]-20[0-9]{2}-[0-9]{1,4}", fullmatch=True))),
                         since, until, draw(st.integers(1, 10_000)))


users = st.one_of(
    st.from_regex(r"matrix:@[a-z0-9._=-]{1,12}:[a-z0-9.-]{1,12}(:[0-9]{2,5})?", fullmatch=True),
    st.integers(1, 10**12).map(lambda number: f"telegram:user:{number}"),
    st.from_regex(r"console:[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True),
    st.from_regex(r"@[A-Za-z][A-Za-z0-9_]{3,20}", fullmatch=True),
)
periods = st.one_of(
    st.none(),
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 9999), st.sampled_from("dwm")),
    st.builds(lambda year, month: f"{year}-{month:02d}", st.integers(1970, 9998), st.integers(1, 12)),
    st.integers(1970, 9998).map(str),
)
help_topics = st.one_of(st.none(), st.sampled_from([*(spec.name for spec in COMMANDS.specs), *FIELDS, "fields"]))


def member_adds(vocabulary: Vocabulary) -> st.SearchStrategy[c.MemberAddCommand]:
    def desk_for(org: str) -> st.SearchStrategy[str | None]:
        known = vocabulary.desks.get(org)
        return st.one_of(st.none(), st.sampled_from(known) if known else st.sampled_from(["border", "police"]))

    return st.sampled_from(ORGANISATIONS).flatmap(
        lambda org: st.builds(c.MemberAddCommand, users, st.just(org), st.sampled_from(Role), desk_for(org),
                              st.one_of(st.none(), line_text.filter(lambda t: len(t) <= 100)),
                              st.one_of(st.none(), st.sampled_from(["th-npoc", "@kanya:example.org"])),
                              st.one_of(st.none(), st.sampled_from(["Asia/Bangkok", "UTC", "America/Toronto", "default"])))
    )


matrix_users = st.from_regex(r"@[a-z0-9._=-]{1,12}:[a-z0-9.-]{1,12}(:[0-9]{2,5})?", fullmatch=True).map(
    lambda user: UserRef.parse(f"matrix:{user}"))
device_ids = st.from_regex(r"[A-Za-z0-9._+/=-]{1,64}", fullmatch=True)
devices = st.one_of(
    st.builds(c.DeviceCommand, st.just(DeviceOp.LIST), matrix_users, st.none()),
    st.builds(c.DeviceCommand, st.sampled_from([DeviceOp.VERIFY, DeviceOp.BLACKLIST]), matrix_users, device_ids),
)


one_line = line_text.map(lambda text: " ".join(text.split())).filter(bool)
days = st.dates(date(2000, 1, 1), date(2100, 12, 31))


@st.composite
def arrangement_adds(draw: st.DrawFn, vocabulary: Vocabulary) -> c.ArrangementAddCommand:
    parties = tuple(draw(st.lists(st.sampled_from(ORGANISATIONS), min_size=2, max_size=4, unique=True)))
    topics = st.sampled_from(vocabulary.topics) if vocabulary.topics else open_topics
    starts, ends = draw(st.one_of(st.none(), days)), draw(st.one_of(st.none(), days))
    if starts is not None and ends is not None and ends < starts:
        starts, ends = ends, starts
    giver = draw(st.one_of(st.none(), st.sampled_from(parties))) if len(parties) == 2 else None
    return c.ArrangementAddCommand(parties, draw(one_line.map(lambda text: text[:200].strip()).filter(bool)),
                                   tuple(draw(st.lists(topics, max_size=3, unique=True))), starts, ends, giver)


rooms_chats = st.one_of(st.from_regex(r"console:#[a-z][a-z0-9-]{0,10}", fullmatch=True),
                        st.integers(1, 10**12).map(lambda n: f"telegram:-{n}"))
room_registers = st.builds(
    c.RoomRegisterCommand, rooms_chats, one_line, st.sampled_from(["network", "country", "organisation"]),
    st.lists(st.sampled_from(ORGANISATIONS), min_size=1, max_size=3, unique=True).map(tuple),
    st.lists(hubs, max_size=3, unique=True).map(tuple), st.just(()))
room_retires = st.builds(c.RoomRetireCommand, rooms_chats, one_line)

arrangement_ends = st.builds(
    c.ArrangementEndCommand,
    st.one_of(st.integers(0, 10**6).map(str), one_line.filter(lambda text: not text.startswith("#"))),
    one_line)


away_notes = st.one_of(st.just(""), one_line.map(lambda text: text[:200].strip()).filter(
    lambda text: bool(text) and ":" not in text.split()[0]))
aways = st.one_of(
    st.builds(c.AwayCommand, st.one_of(st.none(), people)),
    st.builds(c.AwayCommand, st.one_of(st.none(), people), st.just(True)),
    st.builds(c.AwayCommand, st.one_of(st.none(), people), st.just(False), days, people, away_notes),
)


def commands(vocabulary: Vocabulary) -> st.SearchStrategy[c.Command]:
    return st.one_of(
        st.builds(c.AlertCommand, drafts(ItemKind.ALERT, vocabulary), st.booleans()),
        st.builds(c.RequestCommand, drafts(ItemKind.REQUEST, vocabulary), st.booleans()),
        st.builds(c.AckCommand, references),
        st.builds(c.ReplyCommand, references, free_text),
        st.builds(c.CloseCommand, references, maybe_free_text),
        st.builds(c.WithdrawCommand, references, free_text),
        st.builds(c.CorrectCommand, references, corrections(vocabulary), st.booleans()),
        st.builds(c.StatusCommand, references),
        st.builds(c.OverdueCommand, scopes),
        st.builds(c.MineCommand, st.booleans(), st.integers(1, 10_000)),
        st.builds(c.HistoryCommand, references, st.integers(1, 10_000)),
        finds(vocabulary),
        st.builds(c.ContactsCommand, scopes),
        st.just(c.WhoamiCommand()),
        st.just(c.PortalCommand()),
        st.builds(c.HelpCommand, help_topics),
        st.builds(c.ForwardCommand, references, recipients.filter(bool), st.one_of(st.none(), line_text, free_text)),
        st.builds(c.ConsentCommand, references, st.booleans(), maybe_free_text),
        st.builds(c.ApproveCommand, references),
        st.builds(c.ReassignCommand, references, st.sampled_from(["th-boss", "@th-imm2:example.org", "console:x"])),
        st.builds(c.DeclineCommand, references, free_text),
        st.builds(
            c.SnoozeCommand, references, st.integers(1, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)),
            maybe_free_text,
        ),
        st.builds(c.RemindCommand, references),
        st.builds(c.EscalateCommand, references),
        st.builds(c.StatsCommand, periods),
        member_adds(vocabulary),
        st.builds(c.MemberRemoveCommand, users, st.one_of(st.none(), line_text, free_text)),
        st.builds(c.MemberBackupCommand, users, st.one_of(st.none(), users)),
        st.just(c.RoomsCommand()),
        st.builds(c.RoomSyncCommand, st.booleans()),
        devices,
        st.just(c.CancelCommand()),
        arrangement_adds(vocabulary),
        arrangement_ends,
        st.just(c.ArrangementListCommand()),
        room_registers,
        room_retires,
        aways,
        st.just(c.BackCommand()),
    )


def test_the_strategies_cover_every_command() -> None:
    drawn = {type(command) for command in _examples(commands(CONFIGURED), 1000)}
    assert drawn == COMMAND_CLASSES


def _examples(strategy: st.SearchStrategy, count: int) -> list:
    found: list = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True)  # the same draws every run
    @given(strategy)
    def collect(example: object) -> None:
        found.append(example)

    collect()
    return found


@pytest.mark.parametrize("vocabulary", [CONFIGURED, OPEN], ids=["configured", "open"])
@SETTINGS
@given(data=st.data())
def test_render_parses_back_to_the_same_command(vocabulary: Vocabulary, data: st.DataObject) -> None:
    command = data.draw(commands(vocabulary))
    assert parse(command.render(), vocabulary) == command


def _form_value(value: str) -> str:
    """As typed on a form line: bare to the end of the line, quoted only when it starts with a quote."""
    return quote(value) if value[0] in OPENING_QUOTES else value


def _as_form(command: c.AlertCommand | c.RequestCommand) -> str:
    """The command written the other way: the command word alone, one `Key: value` per line."""
    draft, lines = command.draft, [f"/{command.name}"]
    if draft.recipients:
        lines.append("To: " + ", ".join(str(selector) for selector in draft.recipients))
    if draft.topic:
        lines.append(f"Topic: {draft.topic}")
    lines.append(f"TLP: {draft.caveat.tlp.value}")
    lines.append(f"Handling: {draft.caveat.handling.value}")
    lines.append("Orcon: " + ("yes" if draft.caveat.orcon else "no"))
    if draft.grading:
        lines.append(f"Grade: {draft.grading.reliability}/{draft.grading.credibility}")
    lines.append(f"Priority: {draft.priority.value.title()}")
    if draft.due:
        lines.append(f"Due: {c.render_due(draft.due).replace('T', ' ')}")
    if draft.purpose:
        lines.append(f"Purpose: {_form_value(draft.purpose)}")
    if draft.outside_ref:
        lines.append(f"Ref: {_form_value(draft.outside_ref)}")
    incident = draft.incident  # as phones write them: spaces, capitals, the other ISO code form
    if incident.persons is not None:
        lines.append(f"Persons: {incident.persons}")
    if incident.nationalities:
        lines.append("Nationalities: " + ", ".join(alpha3(code) for code in incident.nationalities))
    if incident.route:
        lines.append("Route: " + " > ".join(incident.route))
    if incident.method is not None:
        lines.append(f"Method: {incident.method.value.title()}")
    if incident.document is not None:
        lines.append(f"Document: {incident.document.value.upper()}")
    if incident.issuer is not None:
        lines.append(f"Issuer: {incident.issuer.lower()}")
    if draft.hub:
        lines.append(f"Hub: {draft.hub.lower()}")
    return "\n".join(lines) + "\n\n" + draft.body


@pytest.mark.parametrize("vocabulary", [CONFIGURED, OPEN], ids=["configured", "open"])
@SETTINGS
@given(data=st.data())
def test_the_form_style_means_the_same(vocabulary: Vocabulary, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(ItemKind))
    command_class = c.AlertCommand if kind is ItemKind.ALERT else c.RequestCommand
    command = command_class(data.draw(drafts(kind, vocabulary)))
    assert parse(_as_form(command), vocabulary) == command


# Near-valid text built from the pieces commands are made of, to reach deep into the parser.
WORDS = ["alert", "ALERT", "request", "rfi", "ack", "reply", "close", "status", "overdue", "contacts", "help",
         "forward", "consent", "approve", "decline", "reassign", "snooze", "remind", "stats", "member add", "member remove", "member", "room sync",
         "rooms", "cancel", "whoami", "alrt", "usr/bin"]
KEYS = ["to", "To", "recipients", "topic", "Topic", "tlp", "TLP", "handling", "orcon", "grade", "source", "priority",
        "prio", "feedback", "due", "purpose", "why", "reason", "ref", "Tpoic", "Re", "Note", "country", "org", "role",
        "desk", "http"]
VALUES = ["TH", "th", "THA", "MY,VN", "TH, MY", "XX", "all", "IOM", "TH/immigration", "TH/", "@th-npoc", "@",
          "@alice:example.org", "telegram:user:42", "telegram:", "amber", "amber+strict", "RED", "H2", "2", "B2",
          "b/2", "Z9", "urgent", "flash", "24h", "90m", "1d12h", "0m", "999999w", "2026-11-30", "2026-11-30T14:00",
          "2026-11-30 14:00", "2026-13-40", "14:00", "30d", "3mo", "2026-10", "yes", "no", "A-2026-0042",
          "a-2026-0042", "R-1-1", "contact", "officer", "--apply", "—apply", "document-fraud", "Two travellers",
          "x" * 30, "🙂", "", " ", "\\", "\\\""]
QUOTE_MARKS = ["", "", '"', "'", "“", "”", "„", "‘", "’", "«", "»"]
SEPARATORS = [" ", " ", "  ", "\n", "\r\n", "\n\n", "\t", "\u00a0", ",", ", ", ":", ""]
pieces = st.one_of(
    st.builds(
        lambda key, colon, open_quote, value, close_quote: f"{key}{colon}{open_quote}{value}{close_quote}",
        st.sampled_from(KEYS), st.sampled_from([":", ": ", ":", " :"]), st.sampled_from(QUOTE_MARKS),
        st.sampled_from(VALUES), st.sampled_from(QUOTE_MARKS),
    ),
    st.sampled_from(VALUES),
    st.sampled_from(["orcon", "ORCON"]),
)
near_valid = st.builds(
    lambda prefix, word, bot, parts, body: f"{prefix}{word}{bot} " + "".join(s + p for s, p in parts) + body,
    st.sampled_from(["/", "/", "/", "!", " /", "", "//"]),
    st.sampled_from(WORDS),
    st.sampled_from(["", "", "", "@LiaisonBot", "@liaisonbot", "@OtherBot", "@"]),
    st.lists(st.tuples(st.sampled_from(SEPARATORS), pieces), max_size=12),
    st.sampled_from(["", " Two travellers", "\nTwo travellers\nTopic: x", "\n\nTo: nobody"]),
)


@pytest.mark.parametrize("vocabulary", [CONFIGURED, OPEN], ids=["configured", "open"])
@SETTINGS
@given(text=st.one_of(st.text(), near_valid))
def test_parse_never_raises(vocabulary: Vocabulary, text: str) -> None:
    result = parse(text, vocabulary)
    assert result is None or isinstance(result, (c.ParseError, *COMMAND_CLASSES))
    if isinstance(result, c.ParseError):
        assert result.message and result.message != INTERNAL_ERROR.format(name=result.command)
        assert len(result.message) < 400 and "Traceback" not in result.message
    elif result is not None:  # whatever parses renders to text that parses the same
        assert parse(result.render(), vocabulary) == result


def _breaks_round_trip(command: c.Command) -> bool:
    return parse(command.render(), CONFIGURED) != command


# Finding one counterexample is the point; shrinking it would only cost time.
FIND_ONE = settings(max_examples=2000, database=None, phases=[Phase.generate])


@pytest.mark.parametrize(
    "target, broken",
    [
        ("handlers.commands.quote", lambda value: value),  # values no longer quoted
        ("handlers.commands.render_due", lambda due: "24h"),  # due times lost
        ("handlers.command_text.optional_text", lambda key, value: f" {key}:{quote(value)}" if value else ""),
        ("handlers.commands._scope_text", lambda scope: ""),
    ],
    ids=["no-quotes", "due-lost", "multi-line-text-quoted", "scope-lost"],
)
def test_a_broken_render_is_caught(monkeypatch: pytest.MonkeyPatch, target: str, broken: object) -> None:
    monkeypatch.setattr(target, broken)
    find(commands(CONFIGURED), _breaks_round_trip, settings=FIND_ONE)


def test_a_body_without_its_blank_line_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = c._draft_text

    def body_on_the_first_line(word: str, draft: ItemDraft, confirmed: bool = False) -> str:
        return original(word, draft, confirmed).replace("\n\n", " ", 1)

    monkeypatch.setattr("handlers.commands._draft_text", body_on_the_first_line)
    find(commands(CONFIGURED), _breaks_round_trip, settings=FIND_ONE)
