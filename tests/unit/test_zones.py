"""Which time-zone names a person or the configuration may give, and the one spelling each is kept in
(alerts/zones.py): chat, the command line, the imports and the configuration file all ask it."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from alerts.zones import canonical_zone, zone_names

NAMES = sorted(zone_names())


@pytest.mark.parametrize("given_, kept", [
    ("Asia/Bangkok", "Asia/Bangkok"), ("asia/bangkok", "Asia/Bangkok"), ("ASIA/BANGKOK", "Asia/Bangkok"),
    ("utc", "UTC"), ("UTC", "UTC"), ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
    ("etc/gmt+5", "Etc/GMT+5"), (" Asia/Tokyo ", "Asia/Tokyo"),
])
def test_an_iana_zone_in_any_case_is_kept_in_the_databases_spelling(given_: str, kept: str) -> None:
    assert canonical_zone(given_) == kept


@pytest.mark.parametrize("odd", [
    "localtime", "Factory", "factory", "posixrules", "posix/Asia/Bangkok", "right/UTC", "Bangkok", "Mars/Olympus",
    "", " ", "Asia/", "/Asia/Bangkok", "Asia/Bangkok/", "../Asia/Bangkok", "Asia//Bangkok", "Asia/Bang kok",
    "Europe/\u212aiev",  # a Kelvin sign, which lower() makes a "k"
])
def test_what_is_not_a_place_of_the_tz_database_is_refused(odd: str) -> None:
    assert canonical_zone(odd) is None


def test_the_names_are_the_machines_tz_database_without_its_odd_entries() -> None:
    assert "UTC" in zone_names() and "Asia/Bangkok" in zone_names()
    assert not {"localtime", "Factory", "posixrules"} & zone_names()
    assert zone_names() <= available_timezones() | {"UTC"}


@given(st.sampled_from(NAMES), st.lists(st.booleans(), min_size=40, max_size=40))
def test_every_accepted_name_in_any_mix_of_cases_is_itself(name: str, upper: list[bool]) -> None:
    typed = "".join(ch.upper() if up else ch.lower() for ch, up in zip(name, upper + [False] * len(name)))
    assert canonical_zone(typed) == name
    ZoneInfo(name)  # and the machine can use it


@given(st.text(max_size=40) | st.sampled_from(NAMES).map(lambda n: n.swapcase()))
@example("Europe/\u212aiev")
@example("İstanbul")
def test_whatever_is_typed_the_answer_is_none_or_a_name_it_spells_up_to_ascii_case(text: str) -> None:
    kept = canonical_zone(text)
    if kept is not None:
        assert kept in zone_names() and text.strip().isascii() and text.strip().lower() == kept.lower()
        assert canonical_zone(kept) == kept
