"""Parsing and rendering the values of fields: recipients, topics, durations, due times, periods, users.

Every parser raises alerts.errors.InvalidValue, whose message says what was wrong, what is
accepted and gives an example; a value quoted back is shortened to fit a phone screen.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TypeVar

from alerts.countries import country_by_name, country_code, country_name
from alerts.errors import InvalidValue
from alerts.identity import UserRef
from alerts.incident import MAX_COUNTRIES, MAX_PERSONS, DocumentType, Method
from alerts.items import ALL, DueSpec, Reference, Selector, SelectorKind
from handlers.lexer import CommandSyntaxError, shorten, take_word
from handlers.vocabulary import Vocabulary

T = TypeVar("T")

_ORG_NAME = re.compile(r"[A-Z][A-Z0-9_-]{1,15}")
_DESK = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOPIC = re.compile(r"\w[\w.-]{0,63}")
_MAX_LISTED = 10


def invalid(what: str, got: str, accepted: str, example: str) -> InvalidValue:
    return InvalidValue(what, shorten(got), accepted, example)


def checked(parse: Callable[[str], T], text: str) -> T:
    """A domain parse (Tlp.parse, Grading.parse, ...) whose error quotes the value shortened."""
    try:
        return parse(text)
    except InvalidValue as error:
        raise invalid(error.what, error.got, error.accepted, error.example) from None


def _listing(choices: Iterable[str], near: str) -> str:
    """Some accepted choices, the closest to what was typed first, short enough for a phone."""
    choices = list(choices)
    first = difflib.get_close_matches(near[:40], choices, n=3, cutoff=0.5)
    ordered = list(dict.fromkeys([*first, *choices]))
    more = ", …" if len(ordered) > _MAX_LISTED else ""
    return ", ".join(ordered[:_MAX_LISTED]) + more


def take_reference(text: str, command: str) -> tuple[Reference, str]:
    """The reference that starts text (any case: a-2026-0042), and the text after it."""
    word, after = take_word(text)
    example = f"/{command} A-2026-0042"
    if not word:
        raise CommandSyntaxError(f"/{command} needs a reference such as A-2026-0042. Example: {example}")
    if not Reference.looks_like(word):
        raise invalid("Reference", word, "A-YYYY-NNNN for an alert, R-YYYY-NNNN for a request", example)
    return Reference.parse(word), after


# --- recipients -------------------------------------------------------------------------------

_RECIPIENTS = "all, a country (TH or THA), an organisation (IOM), a desk (TH/immigration) or a person (@th-npoc)"


def parse_organisation(text: str, vocabulary: Vocabulary, example: str = "to:TH") -> str:
    """An organisation code: a known code, or a country code in either ISO form, kept as alpha-2."""
    key = text.strip().upper()
    if vocabulary.organisations:
        organisations = vocabulary.organisations
        known = (_upper_codes(organisations) if isinstance(organisations, frozenset)
                 else frozenset(code.upper() for code in organisations))
        if key in known:
            return key
        alpha2 = country_code(key)
        if alpha2 in known:
            return alpha2
        named = country_by_name(text)
        if named in known:  # `Thailand`: the code it means, not a list that may not show it
            raise invalid("Organisation", text, f"codes, such as {named} for {country_name(named)}",
                          _with_code(example, named))
        if named is not None:
            raise invalid("Organisation", text, f"the network's codes ({country_name(named)}, {named}, is not one): "
                          + _listing(sorted(known), key), example)
        raise invalid("Organisation", text, _listing(sorted(known), key), example)
    alpha2 = country_code(key)
    if alpha2:
        return alpha2
    if _ORG_NAME.fullmatch(key):
        return key
    raise invalid("Organisation", text, "a country code (TH or THA) or a short name (IOM)", example)


def _with_code(example: str, code: str) -> str:
    """The example (`to:TH`, `/overdue TH`) with the code the person meant in place of TH."""
    return example[:-2] + code if example.endswith("TH") else example


@lru_cache(maxsize=8)
def _upper_codes(organisations: frozenset[str]) -> frozenset[str]:
    # Every recipient of every command looks its code up here: the set is made once per vocabulary.
    return frozenset(code.upper() for code in organisations)


def parse_desk(organisation: str, text: str, vocabulary: Vocabulary, prefix: str = "to:", field: bool = False) -> str:
    """A desk of `organisation`, as a selector writes it (`to:TH/immigration`), or with `field` as the
    field `desk:` (/member add), whose refusal gives an example of that field, not of a selector."""
    desk = text.strip().lower()
    by_code = {code.upper(): tuple(name.lower() for name in names) for code, names in vocabulary.desks.items()}
    desks = by_code.get(organisation)
    if desks is not None and desk not in desks:
        accepted = f"{organisation} desks: {_listing(desks, desk)}" if desks else f"none, {organisation} has no desks"
        if field:
            example = f"desk:{desks[0]}" if desks else f"country:{organisation} role:contact (no desk:)"
        else:
            example = f"{prefix}{organisation}/{desks[0]}" if desks else f"{prefix}{organisation}"
        raise invalid("Desk", text, accepted, example)
    if not _DESK.fullmatch(desk):
        raise invalid("Desk", text, "letters, digits and hyphens",
                      "desk:immigration" if field else f"{prefix}{organisation}/immigration")
    return desk


def parse_selector(text: str, vocabulary: Vocabulary, prefix: str = "to:") -> Selector:
    """`prefix` begins the examples of a refusal: `to:` in /alert, `/overdue ` for /overdue."""
    raw = text.strip()
    if raw.lower() == "all":
        return ALL
    account = _account(raw)
    if account is not None:  # a person named by an account, as a mention names them
        return Selector(SelectorKind.PERSON, person=account)
    if raw.startswith("@"):
        if not _PERSON.fullmatch(raw[1:]):
            raise invalid("Person", raw, "@ and a contact id: letters, digits, . _ -", f"{prefix}@th-npoc")
        return Selector(SelectorKind.PERSON, person=raw[1:])
    if "/" in raw:
        organisation, _, desk = raw.partition("/")
        code = parse_organisation(organisation, vocabulary, f"{prefix}TH")
        return Selector(SelectorKind.DESK, organisation=code, desk=parse_desk(code, desk, vocabulary, prefix))
    if not raw:
        raise invalid("Recipient", raw, _RECIPIENTS, f"{prefix}TH,MY")
    return Selector(SelectorKind.ORGANISATION, organisation=parse_organisation(raw, vocabulary, f"{prefix}TH"))


def _account(text: str) -> str | None:
    """`@alice:example.org`, `matrix:@alice:example.org`, `telegram:user:42` as an account's text; None otherwise."""
    raw = "matrix:" + text if _MATRIX_USER.fullmatch(text) else text
    if ":" not in raw:
        return None
    try:
        return str(UserRef.parse(raw))
    except InvalidValue:
        return None


def parse_recipients(values: Iterable[str], vocabulary: Vocabulary) -> tuple[Selector, ...]:
    """Every `to:` value merged in order, split on commas (and spaces, as form lines have them),
    duplicates dropped."""
    selectors = [
        parse_selector(item, vocabulary)
        for value in values
        for item in re.split(r"[,\s]+", value)
        if item
    ]
    return tuple(dict.fromkeys(selectors))


def parse_scope(text: str, vocabulary: Vocabulary, prefix: str = "to:") -> Selector | None:
    """The optional scope of /overdue and /contacts; `all` is the same as no scope."""
    selector = parse_selector(text, vocabulary, prefix)
    return None if selector.kind is SelectorKind.ALL else selector


def parse_topic(text: str, vocabulary: Vocabulary) -> str:
    slug = "-".join(text.strip().lower().split())  # `Document fraud` from a form line
    if vocabulary.topics:
        by_key = {topic.lower(): topic for topic in vocabulary.topics}
        if slug in by_key:
            return by_key[slug]
        raise invalid("Topic", text, _listing(vocabulary.topics, slug), f"topic:{vocabulary.topics[0]}")
    if not _TOPIC.fullmatch(slug):
        raise invalid("Topic", text, "a word, or words joined by hyphens", "topic:document-fraud")
    return slug


# --- durations, due times, periods ------------------------------------------------------------

# re.ASCII: only 0-9 count as digits, so that what parses is what renders.
_DURATION = re.compile(r"(?:\d{1,6}\s*(?:weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m)\s*)+", re.ASCII)
_DURATION_PART = re.compile(r"(\d{1,6})\s*([wdhm])", re.ASCII)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_duration(text: str, what: str, example: str, maximum: timedelta) -> timedelta:
    """`90m`, `24h`, `2d`, `1w` or combined `1d12h`; m is minutes. From one minute to maximum."""
    key = text.strip().lower()
    accepted = f"minutes, hours, days or weeks such as 90m, 24h, 2d, 1w, up to {render_duration(maximum)}"
    if not _DURATION.fullmatch(key):
        raise invalid(what, text, accepted, example)
    total = timedelta()
    for number, unit in _DURATION_PART.findall(key):
        total += int(number) * _UNITS[unit]
        if total > maximum:  # checked as we go, so that no sum can overflow
            raise invalid(what, text, accepted, example)
    if total < timedelta(minutes=1):
        raise invalid(what, text, accepted, example)
    return total


def render_duration(duration: timedelta) -> str:
    minutes = -(-duration // timedelta(minutes=1))  # whole minutes, rounded up
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text or "0m"


MAX_FEEDBACK = timedelta(days=366)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)\s*(z|utc|[+-]\d{2}:?\d{2})?", re.IGNORECASE | re.ASCII
)
END_OF_DAY = time(23, 59, 59)
_DUE_ACCEPTED = "a duration (90m, 24h, 2d, 1w) or a UTC date or time (2026-11-30, 2026-11-30T14:00)"


def parse_due(text: str) -> DueSpec:
    """A duration from when the item is sent, or a moment in UTC; a date alone means the end of
    that day, 23:59:59 UTC. A time may carry Z, UTC or an offset such as +07:00 (converted to UTC)."""
    key = text.strip()
    try:
        if _DATE.fullmatch(key):
            return DueSpec(at=datetime.combine(date.fromisoformat(key), END_OF_DAY, tzinfo=timezone.utc))
        match = _DATETIME.fullmatch(key)
        if match:
            zone = (match[3] or "z").lower()
            offset = "+00:00" if zone in ("z", "utc") else zone[:3] + ":" + zone[-2:]
            moment = datetime.fromisoformat(f"{match[1]}T{match[2]}{offset}")
            return DueSpec(at=moment.astimezone(timezone.utc))
    except (ValueError, OverflowError):
        raise invalid("Due time", text, _DUE_ACCEPTED, "feedback:2026-11-30") from None
    if _DURATION.fullmatch(key.lower()):
        return DueSpec(after=parse_duration(key, "Due time", "feedback:24h", MAX_FEEDBACK))
    raise invalid("Due time", text, _DUE_ACCEPTED, "feedback:24h")


def check_due(due: DueSpec | None, now: datetime) -> None:
    """A due moment must lie from a minute to MAX_FEEDBACK after now, as a duration must: one in
    the past would be overdue at once, and one in the far future overflows the reminders' sums."""
    if due is None or due.at is None:
        return
    if now + timedelta(minutes=1) <= due.at <= now + MAX_FEEDBACK:
        return
    earliest, latest = now + timedelta(minutes=1), now + MAX_FEEDBACK
    example = render_due(DueSpec(at=datetime.combine((now + timedelta(days=7)).date(), END_OF_DAY, timezone.utc)))
    raise invalid(
        "Due time", render_due(due),
        f"a UTC date or time from {earliest:%Y-%m-%d %H:%M} to {latest:%Y-%m-%d %H:%M} (not in the past, at most "
        f"{render_duration(MAX_FEEDBACK)} ahead), or a duration such as 24h or 3d",
        f"feedback:{example}",
    )


def render_due(due: DueSpec) -> str:
    if due.after is not None:
        return render_duration(due.after)
    assert due.at is not None  # a DueSpec holds exactly one of after and at
    at = due.at if due.at.tzinfo is None else due.at.astimezone(timezone.utc)
    day = f"{at.year:04d}-{at.month:02d}-{at.day:02d}"
    if at.time() == END_OF_DAY:
        return day
    seconds = f":{at.second:02d}" if at.second else ""
    return f"{day}T{at.hour:02d}:{at.minute:02d}{seconds}"


_PERIOD_SPAN = re.compile(r"(\d{1,4})\s*(d|days?|w|weeks?|m|mo|months?)", re.ASCII)
_PERIOD_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_PERIOD_YEAR = re.compile(r"\d{4}", re.ASCII)
_PERIOD_ACCEPTED = "30d, 4w, 3m (months), a month 2026-10 or a year 2026, from 1970"
# The period's end is the next month or year: 9999 has none that a datetime can hold.
_LAST_PERIOD_YEAR = 9998


def parse_period(text: str) -> str:
    """The period of /stats in a canonical spelling: `30d`, `4w`, `3m` (m is months here: minutes
    make no sense for statistics), `2026-10` or `2026`."""
    key = text.strip().lower()
    span = _PERIOD_SPAN.fullmatch(key)
    if span and int(span[1]) > 0:
        return f"{int(span[1])}{span[2][0]}"
    month = _PERIOD_MONTH.fullmatch(key)
    if month and 1970 <= int(month[1]) <= _LAST_PERIOD_YEAR and 1 <= int(month[2]) <= 12:
        return key
    if _PERIOD_YEAR.fullmatch(key) and 1970 <= int(key) <= _LAST_PERIOD_YEAR:
        return key
    raise invalid("Period", text, _PERIOD_ACCEPTED, "/stats 30d")


# --- yes or no, users -------------------------------------------------------------------------

_YES = {"yes", "y", "true", "on", "1", "ok", "agree", "grant", "granted", "approve", "approved"}
_NO = {"no", "n", "false", "off", "0", "deny", "denied", "refuse", "refused", "decline", "declined"}


def parse_yes_no(text: str, what: str, example: str) -> bool:
    key = text.strip().lower()
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise invalid(what, text, "yes or no", example)


_TELEGRAM_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
_MATRIX_USER = re.compile(r"@[^:\s]+:\S+")
_TELEGRAM_NUMBER = re.compile(r"telegram:([0-9]+)", re.IGNORECASE)


def parse_user(text: str) -> str:
    """A platform identity as alerts.identity.UserRef spells it (`matrix:@alice:example.org`,
    `telegram:user:42`, `console:alice`), or a Telegram `@username`, which only the Telegram
    connector can turn into a user id. A bare Matrix id `@alice:example.org` gains `matrix:`."""
    raw = text.strip()
    if _TELEGRAM_USERNAME.fullmatch(raw):
        return raw
    if _MATRIX_USER.fullmatch(raw):
        raw = "matrix:" + raw
    number = _TELEGRAM_NUMBER.fullmatch(raw)
    if number:
        raw = f"telegram:user:{number[1]}"
    try:
        return str(UserRef.parse(raw))
    except InvalidValue:
        raise invalid(
            "User", text, "@alice:example.org (Matrix), @username or telegram:user:42 (Telegram), console:alice",
            "/member add @alice:example.org country:TH role:contact",
        ) from None


# --- the harmonised incident fields (alerts.incident) ---------------------------------------------

_WHOLE = re.compile(r"\d{1,6}", re.ASCII)
_ROUTE_STEP = re.compile(r"\s*(?:>|->|→|–|—)\s*")


def parse_persons(text: str) -> int:
    accepted = f"a whole number of persons from 1 to {MAX_PERSONS}"
    if not _WHOLE.fullmatch(text.strip()) or not 1 <= int(text) <= MAX_PERSONS:
        raise invalid("Persons", text, accepted, "persons:4")
    return int(text)


def _country(text: str, what: str, example: str) -> str:
    alpha2 = country_code(text)
    if alpha2 is None:
        raise invalid(what, text, "ISO 3166 country codes (MM or MMR)", example)
    return alpha2


def parse_nationalities(text: str) -> tuple[str, ...]:
    example = "nationalities:MM,BD"
    codes = [part.strip() for part in text.split(",") if part.strip()]
    if not codes:
        raise invalid("Nationalities", text, "ISO 3166 country codes separated by commas", example)
    found = tuple(dict.fromkeys(_country(code, "Nationality", example) for code in codes))
    if len(found) > MAX_COUNTRIES:
        raise invalid("Nationalities", text, f"up to {MAX_COUNTRIES} countries", example)
    return found


def parse_route(text: str) -> tuple[str, ...]:
    example = "route:MM>TH>MY"
    steps = _ROUTE_STEP.split(text.strip())
    if not 2 <= len(steps) <= MAX_COUNTRIES or any(not step for step in steps):
        raise invalid("Route", text, f"origin>destination, with any transit countries between (2 to "
                                     f"{MAX_COUNTRIES} ISO 3166 codes)", example)
    return tuple(_country(step, "Route country", example) for step in steps)


def parse_method(text: str) -> Method:
    try:
        return Method(text.strip().lower())
    except ValueError:
        raise invalid("Method", text, ", ".join(m.value for m in Method), "method:sea") from None


def parse_document_type(text: str) -> DocumentType:
    try:
        return DocumentType(text.strip().lower())
    except ValueError:
        raise invalid("Document", text, ", ".join(d.value for d in DocumentType), "document:passport") from None


def parse_issuer(text: str) -> str:
    return _country(text, "Issuer", "issuer:TH")


_HUB = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,31}", re.ASCII)


def parse_hub(text: str) -> str:
    """A hub's short name as rooms are registered with it (KUL, BKK, malacca-strait), in upper case."""
    if not _HUB.fullmatch(text.strip()):
        raise invalid("Hub", text, "a hub's short name, letters, digits and -, as /rooms lists them", "hub:KUL")
    return text.strip().upper()
