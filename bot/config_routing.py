"""The [routing] section: default recipients by topic, routing rules, where to post, arrangements policy.

    [routing]
    post = "direct"                  # or "rooms": where items go unless a rule says otherwise
    without_arrangement = "refuse"   # or "confirm"
    membership_arrangement = true    # members share with members on every topic
    encrypted_only = ["red", "amber+strict"]  # TLPs whose content goes only over end-to-end encrypted channels

    [routing.topic_defaults]
    document-fraud = ["TH/immigration", "MY"]

    [[routing.rules]]                # ordered; the first that matches an item applies
    name = "maritime-police"
    topics = ["maritime"]            # conditions, each optional: topics, priorities, to
    add = ["AU/police"]              # effects: add (recipients), post ("direct" or "rooms")

Selectors are written as in `to:` and checked against the network now, so that a typo in a
default or a rule is found at start rather than on the day an alert needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from alerts.arrangements import WithoutArrangement
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.items import ALL, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing_rules import PostIn, RoutingPolicy, RoutingRule
from bot.config_network import WORD_EXPECT, NetworkSettings, once, word
from bot.config_reader import Table
from bot.config_values import Refused

SELECTOR_EXPECT = 'a recipient as in to:, like "TH", "THA", "IOM", "TH/immigration", "all" or "@th-npoc"'
PRIORITY_EXPECT = 'a priority: "routine", "priority" or "urgent"'
TLP_EXPECT = 'a TLP: "clear", "green", "amber", "amber+strict" or "red"'


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    topic_defaults: Mapping[str, tuple[Selector, ...]] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[RoutingRule, ...] = ()
    post: PostIn = PostIn.DIRECT
    # Refuse by default: a disclosure without a legal basis cannot be undone, a refused alert can
    # be re-sent to the right recipients at once.
    without_arrangement: WithoutArrangement = WithoutArrangement.REFUSE
    membership_arrangement: bool = True
    encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(self.topic_defaults, self.rules, self.post, self.without_arrangement,
                             self.membership_arrangement, self.encrypted_only)


def parse_selector(raw: Any, directory: Directory) -> Selector:
    """One `to:` entry, resolved to canonical codes: "tha/Immigration" becomes TH/immigration."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(raw)
    text = raw.strip()
    if text.lower() == "all":
        return ALL
    if text.startswith("@"):
        contact = directory.contacts.get(text[1:].lower())
        if contact is None:
            raise Refused("no contact has that id")
        return Selector(SelectorKind.PERSON, person=contact.id)
    org_text, slash, desk_text = text.partition("/")
    org = directory.organisation(org_text)
    if org is None:
        raise Refused(f"{org_text.strip()} is not in network.organisations")
    if not slash:
        return Selector(SelectorKind.ORGANISATION, organisation=org.code)
    desk = desk_text.strip().lower()
    if desk not in org.desks:
        has = f"its desks: {', '.join(org.desks)}" if org.desks else "it has no desks"
        raise Refused(f"{org.name} has no {desk or 'such'} desk ({has})")
    return Selector(SelectorKind.DESK, organisation=org.code, desk=desk)


def read_routing(table: Table, network: NetworkSettings) -> RoutingSettings:
    directory = network.directory()
    post = table.choice("post", PostIn, PostIn.DIRECT)
    without = table.choice("without_arrangement", WithoutArrangement, WithoutArrangement.REFUSE)
    membership = table.boolean("membership_arrangement", True)
    encrypted_only = table.items("encrypted_only", _tlp, TLP_EXPECT, default=None)
    defaults = _read_topic_defaults(table.table("topic_defaults"), network, directory)
    rules = _read_rules(table, network, directory)
    table.done()
    return RoutingSettings(MappingProxyType(defaults), rules, post or PostIn.DIRECT,
                           without or WithoutArrangement.REFUSE, True if membership is None else membership,
                           ENCRYPTED_ONLY if encrypted_only is None else frozenset(encrypted_only))


def _read_topic_defaults(defaults: Table, network: NetworkSettings,
                         directory: Directory) -> dict[str, tuple[Selector, ...]]:
    found: dict[str, tuple[Selector, ...]] = {}
    for topic in defaults.keys():
        if topic.lower() not in network.topics:
            known = ", ".join(network.topics) or "none: add topics = [...] under [network]"
            defaults.error(topic, f"unknown topic; expected one of network.topics ({known})")
        selectors = defaults.items(topic, lambda raw: parse_selector(raw, directory), SELECTOR_EXPECT)
        if selectors == () and defaults.raw(topic) == []:
            defaults.error(topic, "expected at least one recipient, got an empty list; leave the topic out instead")
        if selectors:
            found[topic.lower()] = tuple(dict.fromkeys(selectors))  # the same recipient twice means once
    defaults.done()
    return found


def _known_topic(network: NetworkSettings) -> Callable[[Any], str]:
    def check(raw: Any) -> str:
        name = word(raw)
        if name not in network.topics:
            raise Refused(f"not in network.topics ({', '.join(network.topics) or 'none yet'})")
        return name
    return check


def _tlp(raw: Any) -> Tlp:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return Tlp.parse(raw)


def _priority(raw: Any) -> Priority:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return Priority.parse(raw)


def _read_rules(table: Table, network: NetworkSettings, directory: Directory) -> tuple[RoutingRule, ...]:
    rules: list[RoutingRule] = []
    names: dict[Any, str] = {}
    catch_all: str | None = None  # the first rule with no condition: no later rule can ever apply
    selector = lambda raw: parse_selector(raw, directory)  # noqa: E731
    for entry in table.tables("rules", "a routing rule"):
        name = entry.value("name", once(word, names, f"by {entry.path}", "rule name"),
                           WORD_EXPECT.format("maritime-police"))
        topics = entry.items("topics", once(_known_topic(network), {}, "earlier in the list", "topic"),
                             WORD_EXPECT.format("maritime"), default=())
        priorities = entry.items("priorities", _priority, PRIORITY_EXPECT, default=())
        to = entry.items("to", selector, SELECTOR_EXPECT, default=())
        add = entry.items("add", selector, SELECTOR_EXPECT, default=())
        post = entry.choice("post", PostIn, None)
        entry.done()
        for key, given in (("topics", topics), ("priorities", priorities), ("to", to), ("add", add)):
            if given == () and entry.raw(key) == []:
                entry.error(key, f"expected at least one item, got an empty list; leave {key} out instead")
        if not entry.has("add") and not entry.has("post"):
            entry.error("add", 'missing; a rule must add recipients (add = ["AU/police"]) or say where to post '
                               '(post = "rooms"), or both')
        if catch_all is not None:
            entry.error("name", f"this rule never applies: {catch_all} has no condition and matches every item first")
        if None in (name, topics, priorities, to, add):
            continue
        rules.append(RoutingRule(name, frozenset(topics), frozenset(priorities), tuple(dict.fromkeys(to)),
                                 tuple(dict.fromkeys(add)), post))
        if not (topics or priorities or to) and catch_all is None:
            catch_all = f"{entry.path} ({name})"
    return tuple(rules)
