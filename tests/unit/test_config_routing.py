"""The configuration of sharing arrangements and routing: what is read, and one line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.arrangements import Arrangement, WithoutArrangement
from alerts.items import Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing import PostIn, RoutingRule
from bot.config.settings import ConfigError, load_settings, settings_from_toml
from tests.unit.test_config_errors import NETWORK

SOURCE = Path("config.toml")
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
CANADA = NETWORK.replace('  { code = "MY", kind = "country" },',
                         '  { code = "MY", kind = "country" },\n  { code = "CA", kind = "country", standing = "observer" },')


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(text, SOURCE)
    return caught.value.lines


def test_the_example_has_arrangements_with_the_observer_and_a_maritime_rule() -> None:
    settings = load_settings(EXAMPLE)
    directory = settings.directory()
    assert {a.kind for a in directory.arrangements_between("AU", "CA")} == {
        "AU-CA memorandum of understanding on migration information"}
    policy = settings.routing_policy()
    assert (policy.post, policy.without_arrangement, policy.membership_arrangement) == (
        PostIn.DIRECT, WithoutArrangement.REFUSE, True)
    assert [r.name for r in policy.rules] == ["maritime-police"]
    assert settings.topic_defaults() == dict(policy.topic_defaults)


def test_defaults_when_the_sections_are_left_out() -> None:
    settings = settings_from_toml(NETWORK, SOURCE)
    policy = settings.routing_policy()
    assert (policy.rules, policy.post, policy.without_arrangement, policy.membership_arrangement) == (
        (), PostIn.DIRECT, WithoutArrangement.REFUSE, True)
    assert settings.directory().arrangements == ()


def test_arrangements_are_read_with_alpha3_codes_and_topics() -> None:
    text = CANADA + ('[[network.arrangements]]\nbetween = ["MYS", "CA"]\nkind = "MoU MY-CA 2021"\n'
                     'topics = ["document-fraud"]\n\n'
                     '[[network.arrangements]]\nbetween = ["TH", "MY", "CA"]\nkind = "Joint statement"\n')
    arrangements = settings_from_toml(text, SOURCE).directory().arrangements
    assert arrangements == (
        Arrangement("MoU MY-CA 2021", frozenset({"MY", "CA"}), frozenset({"document-fraud"})),
        Arrangement("Joint statement", frozenset({"TH", "MY", "CA"})),
    )


@pytest.mark.parametrize("entry, line", [
    ('between = ["MY"]\nkind = "x"\n',
     'network.arrangements[0].between: expected at least two organisations, like ["MY", "TH"], got 1'),
    ('between = ["MY", "FR"]\nkind = "x"\n',
     'network.arrangements[0].between[1]: expected an organisation code like "MY", got "FR"; not in '
     'network.organisations (TH, MY, CA, RSO)'),
    ('between = ["MY", "MYS"]\nkind = "x"\n',
     'network.arrangements[0].between[1]: expected each organisation once, got "MYS" again (first given earlier '
     'in the list)'),
    ('between = ["MY", "CA"]\n',
     'network.arrangements[0].kind: missing; expected what the arrangement is, like "MoU MY-TH 2019"'),
    ('between = ["MY", "CA"]\nkind = "x"\ntopics = ["smuggling"]\n',
     'network.arrangements[0].topics[0]: expected a lower-case word like "document-fraud" (letters, digits and '
     '"-"), got "smuggling"; not in network.topics (document-fraud, maritime)'),
    ('between = ["MY", "CA"]\nkind = "x"\ntopics = []\n',
     "network.arrangements[0].topics: expected at least one topic, got an empty list; leave topics out for every "
     "topic"),
    ('between = ["MY", "CA"]\nkind = "x"\nparties = 2\n',
     "network.arrangements[0].parties: unknown key (did you mean starts?); expected one of between, direction, "
     "ends, kind, starts, topics"),
])
def test_each_mistake_in_an_arrangement_is_one_line(entry: str, line: str) -> None:
    assert errors(CANADA + "[[network.arrangements]]\n" + entry) == [f"config.toml: {line}"]


def test_the_same_arrangement_twice_is_refused() -> None:
    twice = '[[network.arrangements]]\nbetween = ["MY", "CA"]\nkind = "MoU"\n'
    assert errors(CANADA + twice + twice.replace('["MY", "CA"]', '["CA", "MY"]')) == [
        'config.toml: network.arrangements[1].kind: expected each arrangement once, got "MoU" between the same '
        'organisations again']


def test_routing_keys_and_rules_are_read() -> None:
    text = NETWORK + ('[routing]\npost = "rooms"\nwithout_arrangement = "confirm"\nmembership_arrangement = false\n\n'
                      '[[routing.rules]]\nname = "maritime-thai-police"\ntopics = ["maritime"]\n'
                      'priorities = ["urgent", "high"]\nto = ["THA"]\nadd = ["TH/police", "@rso-npoc"]\n'
                      'post = "direct"\n\n'
                      '[[routing.rules]]\nname = "everything-else"\npost = "rooms"\n')
    policy = settings_from_toml(text, SOURCE).routing_policy()
    assert (policy.post, policy.without_arrangement, policy.membership_arrangement) == (
        PostIn.ROOMS, WithoutArrangement.CONFIRM, False)
    assert policy.rules == (
        RoutingRule("maritime-thai-police", frozenset({"maritime"}), frozenset({Priority.URGENT, Priority.PRIORITY}),
                    (Selector(SelectorKind.ORGANISATION, organisation="TH"),),
                    (Selector(SelectorKind.DESK, organisation="TH", desk="police"),
                     Selector(SelectorKind.PERSON, person="rso-npoc")), PostIn.DIRECT),
        RoutingRule("everything-else", post=PostIn.ROOMS),
    )


@pytest.mark.parametrize("rule, line", [
    ('name = "r"\ntopics = ["maritime"]\n',
     'routing.rules[0].add: missing; a rule must add recipients (add = ["AU/police"]) or say where to post '
     '(post = "rooms"), or both'),
    ('name = "r"\nadd = ["TH/customs"]\n',
     'routing.rules[0].add[0]: expected a recipient as in to:, like "TH", "THA", "IOM", "TH/immigration", "all" or '
     '"@th-npoc", got "TH/customs"; Thailand has no customs desk (its desks: immigration, police)'),
    ('name = "r"\npriorities = ["asap"]\npost = "rooms"\n',
     'routing.rules[0].priorities[0]: expected a priority: "routine", "priority" or "urgent", got "asap"'),
    ('name = "r"\ntopics = ["smuggling"]\npost = "rooms"\n',
     'routing.rules[0].topics[0]: expected a lower-case word like "maritime" (letters, digits and "-"), got '
     '"smuggling"; not in network.topics (document-fraud, maritime)'),
    ('name = "r"\npost = "room"\n',
     'routing.rules[0].post: expected one of "direct", "rooms", got "room"'),
    ('name = "r"\nto = []\npost = "rooms"\n',
     "routing.rules[0].to: expected at least one item, got an empty list; leave to out instead"),
    ('add = ["TH"]\n', 'routing.rules[0].name: missing; expected a lower-case word like "maritime-police" '
                       '(letters, digits and "-")'),
])
def test_each_mistake_in_a_rule_is_one_line(rule: str, line: str) -> None:
    assert errors(NETWORK + "[[routing.rules]]\n" + rule) == [f"config.toml: {line}"]


def test_a_rule_after_a_catch_all_is_refused_as_never_applying() -> None:
    text = NETWORK + ('[[routing.rules]]\nname = "all-rooms"\npost = "rooms"\n\n'
                      '[[routing.rules]]\nname = "later"\ntopics = ["maritime"]\nadd = ["TH"]\n')
    assert errors(text) == [
        "config.toml: routing.rules[1].name: this rule never applies: routing.rules[0] (all-rooms) has no condition "
        "and matches every item first"]


def test_rule_names_are_unique_and_routing_values_checked() -> None:
    text = NETWORK + ('[routing]\nwithout_arrangement = "ask"\n\n'
                      '[[routing.rules]]\nname = "r"\ntopics = ["maritime"]\npost = "rooms"\n\n'
                      '[[routing.rules]]\nname = "r"\ntopics = ["document-fraud"]\npost = "rooms"\n')
    assert errors(text) == [
        'config.toml: routing.without_arrangement: expected one of "refuse", "confirm", got "ask"',
        'config.toml: routing.rules[1].name: expected each rule name once, got "r" again (first given by '
        'routing.rules[0])',
    ]


def test_encrypted_only_is_read_per_tlp_and_defaults_to_red_and_amber_strict() -> None:
    from alerts.caveats import Tlp
    assert settings_from_toml(NETWORK, SOURCE).routing_policy().encrypted_only == {Tlp.RED, Tlp.AMBER_STRICT}
    assert load_settings(EXAMPLE).routing_policy().encrypted_only == {Tlp.RED, Tlp.AMBER_STRICT}
    policy = settings_from_toml(NETWORK + '[routing]\nencrypted_only = ["RED", "amber"]\n', SOURCE).routing_policy()
    assert policy.encrypted_only == {Tlp.RED, Tlp.AMBER}
    assert settings_from_toml(NETWORK + '[routing]\nencrypted_only = []\n', SOURCE).routing_policy().encrypted_only \
        == frozenset()
    assert errors(NETWORK + '[routing]\nencrypted_only = ["red", "purple"]\n') == [
        'config.toml: routing.encrypted_only[1]: expected a TLP: "clear", "green", "amber", "amber+strict" or '
        '"red", got "purple"']


def test_an_arrangement_is_read_with_its_days_and_direction() -> None:
    from datetime import date, timedelta

    text = CANADA + ('[[network.arrangements]]\nbetween = ["MY", "CA"]\nkind = "Letter"\nstarts = 2026-01-01\n'
                     'ends = "2026-11-30"\ndirection = "CA>MY"\n\n[reminders]\narrangement_notice = "30d"\n')
    settings = settings_from_toml(text, SOURCE)
    [letter] = settings.directory().arrangements
    assert (letter.starts, letter.ends, letter.giver) == (date(2026, 1, 1), date(2026, 11, 30), "CA")
    assert settings.reminders.arrangement_notice == timedelta(days=30)
    assert settings_from_toml(CANADA, SOURCE).reminders.arrangement_notice == timedelta(days=14)
    assert settings_from_toml(CANADA, SOURCE).reminders.count_minimum == 5
    assert settings_from_toml(CANADA + "\n[reminders]\ncount_minimum = 10\n", SOURCE).reminders.count_minimum == 10


@pytest.mark.parametrize("entry, line", [
    ('starts = "2026-12-01"\nends = "2026-11-30"\n',
     "network.arrangements[0].ends: expected a last day on or after starts (2026-12-01), got 2026-11-30"),
    ('ends = "30/11/2026"\n', 'network.arrangements[0].ends: expected a date like 2026-11-30 (UTC), got "30/11/2026"'),
    ('direction = "MY>TH"\n',
     'network.arrangements[0].direction: expected the two organisations of "between" as FROM>TO, got "MY>TH"; '
     "a one-way arrangement has exactly two"),
    ('direction = "sideways"\n',
     'network.arrangements[0].direction: expected "both", or one way as "MY>CA", got "sideways"'),
])
def test_each_mistake_in_an_arrangements_dates_is_one_line(entry: str, line: str) -> None:
    assert errors(CANADA + '[[network.arrangements]]\nbetween = ["MY", "CA"]\nkind = "x"\n' + entry) == [
        f"config.toml: {line}"]
