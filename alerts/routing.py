"""Routing: from an item's `to:`, topic and priority to the people who receive it, under its caveat.

    route = Router(directory, policy).route(draft, originator)   # or RouteRefused, with the reason

1. Recipients: the item's `to:` (or its topic's default recipients), each resolved to a single
   point of contact (a desk's, else the national one); then the first matching routing rule's
   additions, and coordinators for urgent items. TLP:RED takes only the people its `to:` names:
   no defaults, no additions, no coordinators. The originator never receives their own item.
2. Sharing arrangements (alerts.arrangements): a recipient the originator named but whose
   organisation has no arrangement with the originator's refuses the route, or asks for
   confirmation, as the policy says. Automatic additions (rules, coordinators) never widen
   sharing: one without an arrangement, or without a chat account, is left out instead.
3. Places (alerts.routing_places): direct chats, or rooms where a rule says so and the caveat
   allows, falling back to direct chats; only channels encrypted enough for the item (RED and
   AMBER+STRICT content only end-to-end encrypted, by default), with a content-free notice where
   a recipient's usual chat may not carry it. Automatic additions without such a channel are left out.
4. A final, independent check of the whole route against the caveat (alerts.caveat_rules).

Every lookup is an index of the Directory snapshot, so a decision costs O(recipients).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime
from types import MappingProxyType
from typing import Mapping

from alerts.arrangements import MissingArrangement, WithoutArrangement
from alerts.caveat_rules import Checker, channel_violation, check, verify_route
from alerts.caveats import Tlp
from alerts.directory import Contact, Directory, missing_arrangement
from alerts.errors import RouteRefused
from alerts.identity import Platform
from alerts.items import ItemDraft, Selector, SelectorKind
from alerts.priority import Priority
from alerts.roles import Role
from alerts.routing_places import Pick, Placer
from alerts.routing_rules import PostIn, RoutingPolicy, RoutingRule
from alerts.routing_types import Delivery, Destination, DestinationKind, Route

__all__ = ["Delivery", "Destination", "DestinationKind", "PostIn", "Route", "RouteNeedsConfirmation", "Router",
           "RoutingPolicy", "RoutingRule"]


class RouteNeedsConfirmation(RouteRefused):
    """Not routed unless the originator confirms: some recipients have no sharing arrangement."""

    def __init__(self, missing: tuple[MissingArrangement, ...]) -> None:
        self.missing = missing
        super().__init__("; ".join(str(m) for m in missing) + ". Sending without an arrangement needs your "
                         "confirmation.")


class Router:
    """Resolves recipients against one directory snapshot and refuses what a caveat forbids."""

    def __init__(self, directory: Directory,
                 policy: RoutingPolicy | Mapping[str, tuple[Selector, ...]] | None = None,
                 *, checker: Checker = check, platforms: AbstractSet[Platform] | None = None,
                 at: datetime | None = None) -> None:
        """`checker` chooses where copies may go (tests inject a broken one to show the final check holds);
        `platforms`, when given, are those the bot runs on: a direct copy goes to the first account there;
        `at`, the time arrangements' dates are checked against (None: dated arrangements count for nothing)."""
        self.directory = directory
        self.at = at
        self.platforms = platforms
        if not isinstance(policy, RoutingPolicy):  # a plain mapping is the topic defaults alone
            policy = RoutingPolicy(topic_defaults=MappingProxyType(dict(policy or {})))
        self.policy = policy
        self.checker = checker

    @property
    def topic_defaults(self) -> Mapping[str, tuple[Selector, ...]]:
        return self.policy.topic_defaults

    def route(self, draft: ItemDraft, originator: Contact, *, confirmed: bool = False) -> Route:
        """The route for `draft`; `confirmed` sends to recipients without an arrangement when the
        policy asks for confirmation (it never overrides "refuse")."""
        red = draft.caveat.tlp is Tlp.RED
        selectors = draft.recipients if red else draft.recipients or self.topic_defaults.get(draft.topic or "", ())
        _refuse_broad_red(draft, selectors)
        if not selectors:
            raise RouteRefused("No recipients. Name them with to:, for example to:TH or to:TH/immigration.")
        rule = None if red else self.policy.rule_for(draft, selectors, self.directory)
        chosen = self._recipients(draft, selectors, rule)
        chosen.pop(originator.id, None)
        if all(pick.automatic for pick in chosen.values()):  # copies need an item addressed to someone
            raise RouteRefused("Nobody to send to: the only recipient would be you.")
        confirmed_gaps = self._apply_arrangements(draft, originator, chosen, confirmed)
        for contact_id in [c for c, pick in chosen.items() if pick.automatic]:
            contact = self.directory.contacts[contact_id]
            if not any(channel_violation(draft.caveat, Destination.direct(i), self.directory,
                                         self.policy.encrypted_only) is None for i in contact.identities):
                del chosen[contact_id]  # an automatic copy never blocks the item
        audience = frozenset(self.directory.contacts[c].organisation for c in chosen) | {originator.organisation}
        post = rule.post if rule is not None and rule.post is not None else self.policy.post
        if draft.hub is not None:
            if draft.hub not in self.directory.hubs():  # a mistyped hub is refused, never ignored
                known = ", ".join(sorted(self.directory.hubs())) or "none yet"
                raise RouteRefused(f"No room is registered for hub {draft.hub} (hubs: {known}). /rooms lists them.")
            post = PostIn.ROOMS  # hub:KUL asks for the hub's rooms, where the caveat allows; else direct chats
        placer = Placer(self.directory, draft.caveat, audience, self.checker, self.policy.encrypted_only,
                        self.platforms, hub=draft.hub, topic=draft.topic)
        deliveries = placer.place(chosen, PostIn.DIRECT if red else post)
        not_in_room = tuple(placer.not_in_room)
        if red and draft.hub is not None:  # the hub's room was asked for by name: the receipt says why not
            not_in_room = tuple((c, self._red_not_in_hub(c, draft.hub)) for c in chosen)
        route = Route(deliveries, confirmed_gaps, tuple(placer.notices), not_in_room)
        # Always the real check, whatever checker chose the places: one mistake is not enough to leak.
        violation = verify_route(route, draft, originator, self.directory,
                                 encrypted_only=self.policy.encrypted_only)
        if violation is not None:
            raise RouteRefused(f"{violation} (stopped by the final caveat check; please tell an admin).")
        return route

    def _red_not_in_hub(self, contact_id: str, hub: str) -> str:
        """Why a TLP:RED copy for `contact_id` is not in the hub room `hub:` asked for."""
        organisation = self.directory.contacts[contact_id].organisation
        names = [r.name for r in self.directory.rooms_holding(organisation) if hub.upper() in r.hubs]
        return "TLP:RED is never posted in a room, so not in " + (", ".join(names) or f"a room of hub {hub.upper()}")

    def _recipients(self, draft: ItemDraft, selectors: tuple[Selector, ...],
                    rule: RoutingRule | None) -> dict[str, Pick]:
        chosen: dict[str, Pick] = {}
        for selector in selectors:
            for contact in self._resolve(selector):
                chosen.setdefault(contact.id, Pick(f"to:{selector}"))
        if rule is not None:
            for selector in rule.add:
                try:
                    found = self._resolve(selector)
                except RouteRefused:
                    continue  # e.g. a desk whose point of contact left: the rule adds what it can
                for contact in found:
                    chosen.setdefault(contact.id, Pick(f"rule {rule.name}: {selector}", automatic=True))
        if draft.priority is Priority.URGENT and draft.caveat.tlp is not Tlp.RED:
            for coordinator in self.directory.with_role(Role.COORDINATOR):
                chosen.setdefault(coordinator.id, Pick("urgent: coordinators are told", automatic=True))
        return chosen

    def _apply_arrangements(self, draft: ItemDraft, originator: Contact, chosen: dict[str, Pick],
                            confirmed: bool) -> tuple[str, ...]:
        """Drops automatic recipients without an arrangement; refuses (or asks) for named ones."""
        gaps: dict[str, MissingArrangement] = {}
        for contact_id, pick in list(chosen.items()):
            organisation = self.directory.contacts[contact_id].organisation
            missing = missing_arrangement(self.directory, originator.organisation, organisation, draft.topic,
                                          membership=self.policy.membership_arrangement, at=self.at)
            if missing is None:
                continue
            if pick.automatic:
                del chosen[contact_id]
            else:
                gaps.setdefault(organisation, missing)
        if not gaps:
            return ()
        missing_list = tuple(gaps.values())
        if self.policy.without_arrangement is WithoutArrangement.CONFIRM:
            if not confirmed:
                raise RouteNeedsConfirmation(missing_list)
            for contact_id, pick in list(chosen.items()):
                if self.directory.contacts[contact_id].organisation in gaps:
                    chosen[contact_id] = Pick(f"{pick.reason}; no arrangement, confirmed", pick.automatic)
            return tuple(gaps)
        names = ", ".join(m.recipient for m in missing_list)
        raise RouteRefused("; ".join(str(m) for m in missing_list)
                           + f". Leave {names} out, or ask a coordinator to record the arrangement.")

    def _resolve(self, selector: Selector) -> list[Contact]:
        directory = self.directory
        if selector.kind is SelectorKind.PERSON:
            person = directory.contact(selector.person or "")
            if person is None:
                raise RouteRefused(f"Nobody called {selector} in the directory. Try /contacts.")
            return [person]
        if selector.kind is SelectorKind.ALL:
            return list(directory.member_points_of_contact())
        org = directory.organisation(selector.organisation or "")
        if org is None:
            raise RouteRefused(f"{selector.organisation} is not in the network. Try /contacts for the list.")
        desk = selector.desk.lower() if selector.desk else None
        if desk is not None and org.desks and desk not in org.desks:
            raise RouteRefused(
                f"{org.name} has no {desk} desk. Its desks: {', '.join(org.desks)}. "
                f"Example: to:{org.code}/{org.desks[0]}"
            )
        contact = directory.point_of_contact(org.code, desk)
        if contact is None:
            raise RouteRefused(f"{org.name} has no point of contact in the directory yet.")
        return [contact]


def _refuse_broad_red(draft: ItemDraft, selectors: tuple[Selector, ...]) -> None:
    if draft.caveat.tlp is not Tlp.RED:
        return
    broad = [str(s) for s in selectors if s.kind is not SelectorKind.PERSON]
    if broad:
        raise RouteRefused(f"TLP:RED goes only to named people, not to {', '.join(broad)}. "
                           "Name each person, for example to:@th-npoc.")
    if not selectors:
        raise RouteRefused("TLP:RED goes only to people named in to:. Name each person, for example to:@th-npoc.")
