"""Routing rules: ordered, the first that matches an item applies, and none matching means the default.

A rule matches on the item's topic, priority and recipients (each condition it names must hold;
a rule naming none matches everything). It may add recipients (topic maritime: also AU/police)
and say where to post (rooms or direct chats). Recipients are matched as written in `to:`, or as
the topic's default recipients when `to:` is left out; a rule's organisation matches the
organisation's desks too (`TH` matches `to:TH/immigration`), and `all` matches only `to:all`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from alerts.arrangements import WithoutArrangement
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.items import ItemDraft, Selector, SelectorKind
from alerts.priority import Priority


class PostIn(enum.Enum):
    DIRECT = "direct"  # each recipient in their direct chat with the bot
    ROOMS = "rooms"    # each recipient organisation's room, where the caveat allows; else a direct chat


@dataclass(frozen=True, slots=True)
class RoutingRule:
    name: str
    topics: frozenset[str] = frozenset()           # any of these; empty: any topic
    priorities: frozenset[Priority] = frozenset()  # any of these; empty: any priority
    to: tuple[Selector, ...] = ()                  # addressed to any of these; empty: to anyone
    add: tuple[Selector, ...] = ()                 # recipients added to the item's own
    post: PostIn | None = None                     # None: as the policy says

    def matches(self, draft: ItemDraft, written: set[Selector], directory: Directory) -> bool:
        """Whether the rule applies to `draft`, addressed to `written` (canonical selectors)."""
        if self.topics and draft.topic not in self.topics:
            return False
        if self.priorities and draft.priority not in self.priorities:
            return False
        return not self.to or any(_covers(canonical(wanted, directory), written) for wanted in self.to)


def canonical(selector: Selector, directory: Directory) -> Selector:
    """The selector with the directory's own codes (`THA/Immigration` is `TH/immigration`)."""
    if selector.kind is SelectorKind.PERSON:
        person = directory.contact(selector.person or "")
        return Selector(SelectorKind.PERSON, person=person.id) if person else selector
    if selector.kind is SelectorKind.ALL:
        return selector
    org = directory.organisation(selector.organisation or "")
    code = org.code if org else (selector.organisation or "").upper()
    desk = selector.desk.lower() if selector.desk else None
    return Selector(selector.kind, organisation=code, desk=desk)


def _covers(wanted: Selector, written: set[Selector]) -> bool:
    if wanted in written:
        return True
    if wanted.kind is SelectorKind.ORGANISATION:
        return any(s.kind is SelectorKind.DESK and s.organisation == wanted.organisation for s in written)
    return False


@dataclass(frozen=True)
class RoutingPolicy:
    """How the network routes: defaults by topic, rules, where to post, and what arrangements demand."""

    topic_defaults: Mapping[str, tuple[Selector, ...]] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[RoutingRule, ...] = ()
    post: PostIn = PostIn.DIRECT
    without_arrangement: WithoutArrangement = WithoutArrangement.REFUSE
    membership_arrangement: bool = True  # members share with members on every topic (see alerts.arrangements)
    # The TLPs whose content goes only over end-to-end encrypted channels (alerts.caveat_rules).
    encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY

    def rule_for(self, draft: ItemDraft, selectors: tuple[Selector, ...], directory: Directory) -> RoutingRule | None:
        """The first rule that matches, or None: then the default applies (no additions, post as `post`)."""
        written = {canonical(s, directory) for s in selectors} if self.rules else set()
        for rule in self.rules:
            if rule.matches(draft, written, directory):
                return rule
        return None
