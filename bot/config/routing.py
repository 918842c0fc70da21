"""The [routing] section: default recipients by topic, routing rules, where to post, arrangements policy.

    [routing]
    post = "direct"                  # or "rooms": where items go unless a rule says otherwise
    without_arrangement = "refuse"   # or "confirm"
    membership_arrangement = true    # members share with members on every topic

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

from types import MappingProxyType
from typing import Annotated, Any, Mapping

from pydantic import Field

from alerts.arrangements import WithoutArrangement
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.items import ALL, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing_rules import PostIn, RoutingPolicy, RoutingRule
from bot.config.network import WORD_EXPECT, known_topic, word
from bot.config.reader import Check, Items, Load, Loc, Problems, Refused, Tables, problems_of, refuse, settings
from bot.config.values import Bool, Choice

SELECTOR_EXPECT = 'a recipient as in to:, like "TH", "THA", "IOM", "TH/immigration", "all" or "@th-npoc"'
PRIORITY_EXPECT = 'a priority: "routine", "priority" or "urgent"'
TLP_EXPECT = 'a TLP: "clear", "green", "amber", "amber+strict" or "red"'


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


def _selector(raw: Any, load: Load) -> Selector:
    """Checked against the network now, so that a typo is found at start, not when an alert needs it."""
    directory = load.found.get("directory")
    if directory is None:
        found = {name: load.found.get(f"network.{name}", ()) for name in
                 ("organisations", "contacts", "rooms", "arrangements")}
        directory = load.found["directory"] = (Directory.build(**found),)
    return parse_selector(raw, directory[0])


def _leave_out(key: str) -> str:
    return f"expected at least one item, got an empty list; leave {key} out instead"


def _recipients(key: str) -> Check:
    return Items(Check(_selector, SELECTOR_EXPECT, load=True), empty=_leave_out(key))


@settings
class RuleEntry:
    """Conditions, each optional: topics, priorities, to; effects: add (recipients), post."""
    TITLE = "a routing rule"
    name: Annotated[str, Check(lambda text, load: load.once("rule name", word(text)),
                               WORD_EXPECT.format("maritime-police"), load=True, text=True)]
    topics: Annotated[tuple[str, ...], Items(Check(lambda text, load: known_topic(text, load, "none yet"),
                                                   WORD_EXPECT.format("maritime"), load=True, text=True),
                                             once="topic", empty=_leave_out("topics"))] = ()
    priorities: Annotated[tuple[Priority, ...], Items(Check(Priority.parse, PRIORITY_EXPECT, text=True),
                                                      empty=_leave_out("priorities"))] = ()
    to: Annotated[tuple[Selector, ...], _recipients("to")] = ()
    add: Annotated[tuple[Selector, ...] | None, _recipients("add")] = None
    post: Annotated[PostIn | None, Choice(PostIn)] = None

    def build(self, load: Load) -> RoutingRule:
        if self.add is None and self.post is None:
            raise refuse('missing; a rule must add recipients (add = ["AU/police"]) or say where to post '
                         '(post = "rooms"), or both', "add")
        # rules apply in order, the first that matches: one with no condition hides every later one
        catch_all = load.found.setdefault("routing.catch_all", ())
        if catch_all:
            raise refuse(f"this rule never applies: {catch_all[0]} has no condition and matches every item first",
                         "name")
        if not (self.topics or self.priorities or self.to):
            load.found["routing.catch_all"] = (f"{load.path} ({self.name})",)
        return RoutingRule(self.name, frozenset(self.topics), frozenset(self.priorities), tuple(dict.fromkeys(self.to)),
                           tuple(dict.fromkeys(self.add or ())), self.post)


def _topic_defaults(raw: Any, load: Load) -> Mapping[str, tuple[Selector, ...]]:
    """`topic = [recipients]` for topics declared in [network]; the same recipient twice means once."""
    if not isinstance(raw, dict):
        raise ValueError(raw)
    found: dict[str, tuple[Selector, ...]] = {}
    problems: list[tuple[Loc, str]] = []
    recipients = _recipients("the topic")
    for topic, given in raw.items():
        try:
            known_topic(topic, load)
        except ValueError:
            known = ", ".join(load.found.get("network.topics", ())) or "none: add topics = [...] under [network]"
            problems.append(((topic,), f"unknown topic; expected one of network.topics ({known})"))
        try:
            found[topic.lower()] = tuple(dict.fromkeys(recipients.run(given, load)))
        except ValueError as exc:
            problems += [((topic, *at), message) for at, message in problems_of(exc, given, recipients.expect).found]
    if problems:
        raise Problems(sorted(problems, key=lambda p: list(raw).index(p[0][0])))
    return MappingProxyType(found)


@settings
class RoutingSettings:
    post: Annotated[PostIn, Choice(PostIn)] = PostIn.DIRECT
    # Refuse by default: a disclosure without a legal basis cannot be undone, a refused alert can
    # be re-sent to the right recipients at once.
    without_arrangement: Annotated[WithoutArrangement, Choice(WithoutArrangement)] = WithoutArrangement.REFUSE
    membership_arrangement: Bool = True  # members share with members on every topic
    topic_defaults: Annotated[Mapping[str, tuple[Selector, ...]], Check(
        _topic_defaults, 'a table of topic = [recipients], like document-fraud = ["TH/immigration"]', load=True
    )] = Field(default_factory=lambda: MappingProxyType({}))
    rules: Annotated[tuple[RoutingRule, ...], Tables(RuleEntry, "routing.rules", RuleEntry.build)] = ()
    # The TLPs whose content goes only over end-to-end encrypted channels; None: ENCRYPTED_ONLY.
    encrypted_only: Annotated[tuple[Tlp, ...] | None, Items(Check(Tlp.parse, TLP_EXPECT, text=True))] = None

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(self.topic_defaults, self.rules, self.post, self.without_arrangement,
                             self.membership_arrangement,
                             ENCRYPTED_ONLY if self.encrypted_only is None else frozenset(self.encrypted_only))
