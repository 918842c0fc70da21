"""Properties of routing over random directories, rooms, rules, arrangements and items.

Every route the router returns is checked against an oracle written here from the caveat table
of the README ("Routing and caveats"), independently of alerts.caveat_rules: every delivery satisfies its caveat, TLP:RED
never goes to a room nor to anyone not named, nobody outside the item's recipients (plus the
first matching rule's additions, plus coordinators for urgent items) receives it, nobody receives
it twice, the originator never receives it, and every recipient has a sharing basis. The last
tests show that the oracle does catch a broken router.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import alerts.routing
from alerts.arrangements import Arrangement, WithoutArrangement
from alerts.caveats import Caveat, Handling, Tlp
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing
from alerts.errors import RouteRefused
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import ALL, ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority
from alerts.roles import Role
from alerts.routing import DestinationKind, PostIn, Route, Router, RoutingPolicy, RoutingRule

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOPICS = ("t1", "t2", "t3")
DESKS = ("immigration", "police", "customs")
ACCOUNTS = ("console:u{}", "matrix:@u{}:example.org", "telegram:user:{}")


# Strategies are built once, here, and draw plain numbers that are mapped onto each directory: that
# keeps generating a case cheap enough for hundreds of examples in a few seconds.
MAX_ORGS, MAX_CONTACTS = 6, 16
_index = st.integers(0, 31)
_org = st.tuples(st.sampled_from(OrgKind), st.sampled_from(Standing), st.lists(st.sampled_from(DESKS), unique=True,
                                                                               max_size=2))
# Most people are points of contact, so that most items find someone. Accounts come from a pool
# small enough that two contacts now and then claim the same one; a few people have none.
_roles = st.one_of(st.just(frozenset({Role.CONTACT})), st.frozensets(st.sampled_from(Role), min_size=1, max_size=3))
_contact = st.tuples(_index, _index, _roles,
                     st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 150)), max_size=3, unique=True))
_room = st.tuples(st.sampled_from(RoomPurpose), st.frozensets(_index, max_size=4))
_arrangement = st.tuples(st.frozensets(_index, min_size=2, max_size=3), st.frozensets(st.sampled_from(TOPICS),
                                                                                      max_size=2))
_selector = st.tuples(st.integers(0, 3), _index, st.sampled_from(DESKS))
_selectors = st.lists(_selector, max_size=3)
_rule = st.tuples(st.frozensets(st.sampled_from(TOPICS), max_size=2), st.frozensets(st.sampled_from(Priority),
                                                                                    max_size=2),
                  _selectors, _selectors, st.none() | st.sampled_from(PostIn))
_policy = st.tuples(st.lists(_rule, max_size=3), st.dictionaries(st.sampled_from(TOPICS), _selectors),
                    st.sampled_from(PostIn), st.sampled_from(WithoutArrangement), st.booleans())
_draft = st.tuples(st.lists(_selector, min_size=1, max_size=4), st.sampled_from(Tlp), st.sampled_from(Handling),
                   st.booleans(), st.sampled_from(Priority), st.none() | st.sampled_from(TOPICS))


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    orgs = [Organisation(f"O{i}", f"Org {i}", kind, standing, tuple(desks))
            for i, (kind, standing, desks) in enumerate(draw(st.lists(_org, min_size=1, max_size=MAX_ORGS)))]
    contacts = []
    for i, (o, d, roles, accounts) in enumerate(draw(st.lists(_contact, min_size=3, max_size=MAX_CONTACTS))):
        org = orgs[o % len(orgs)]
        desk = None if not org.desks or d % 3 == 0 else org.desks[d % len(org.desks)]
        identities = () if d == 31 else tuple(UserRef.parse(form.format(n)) for form, n in accounts)
        contacts.append(Contact(f"c{i}", f"Contact {i}", org.code, roles, identities, desk))
    codes = [o.code for o in orgs]
    rooms = [Room(ChatRef.parse(f"console:#r{i}"), f"Room {i}", purpose, frozenset(codes[k % len(codes)] for k in held))
             for i, (purpose, held) in enumerate(draw(st.lists(_room, max_size=8)))]
    arrangements = []
    for i, (parties, topics) in enumerate(draw(st.lists(_arrangement, max_size=4))):
        named = frozenset(codes[k % len(codes)] for k in parties)
        if len(named) >= 2:
            arrangements.append(Arrangement(f"MoU {i}", named, topics))
    return Directory.build(orgs, contacts, rooms, arrangements)


def selector(directory: Directory, raw: tuple[int, int, str]) -> Selector:
    """all, an organisation, a desk or a person; now and then one the directory does not know."""
    kind, k, desk = raw
    codes = [*directory.organisations] if k < 31 else ["ZZ"]
    people = [*directory.contacts] if k < 31 else ["nobody"]
    if kind == 0:
        return ALL
    if kind == 1:
        return Selector(SelectorKind.ORGANISATION, organisation=codes[k % len(codes)])
    if kind == 2:
        return Selector(SelectorKind.DESK, organisation=codes[k % len(codes)], desk=desk)
    return Selector(SelectorKind.PERSON, person=people[k % len(people)])


@dataclass(frozen=True)
class Case:
    directory: Directory
    policy: RoutingPolicy
    draft: ItemDraft
    originator: Contact
    confirmed: bool


@st.composite
def cases(draw: st.DrawFn, tlps: st.SearchStrategy[Tlp] | None = None,
          posts: st.SearchStrategy[PostIn] | None = None) -> Case:
    directory = draw(directories())
    some = lambda raws: tuple(selector(directory, raw) for raw in raws)  # noqa: E731
    rules, defaults, post, without, membership = draw(_policy)
    policy = RoutingPolicy(
        topic_defaults={topic: some(raws) for topic, raws in defaults.items()},
        rules=tuple(RoutingRule(f"rule{i}", topics, priorities, some(to), some(add), rule_post)
                    for i, (topics, priorities, to, add, rule_post) in enumerate(rules)),
        post=draw(posts) if posts is not None else post, without_arrangement=without, membership_arrangement=membership)
    to, tlp, handling, orcon, priority, topic = draw(_draft)
    draft = ItemDraft(ItemKind.ALERT, "body", some(to), Caveat(draw(tlps) if tlps is not None else tlp, handling, orcon),
                      priority=priority, topic=topic)
    people = list(directory.contacts.values())
    originator = people[-1 - draw(_index) % len(people)]  # from the end: selectors lean to the first contacts
    return Case(directory, policy, draft, originator, draw(st.booleans()))


# --- the oracle: plain loops over the directory, no indexes, nothing from alerts.caveat_rules ---------------

def point(directory: Directory, org: str, desk: str | None) -> str | None:
    for c in directory.contacts.values():
        if c.organisation == org and c.desk == desk and Role.CONTACT in c.roles:
            return c.id
    return None


def resolve(directory: Directory, s: Selector) -> set[str] | None:
    """Who a selector names, or None when it names nobody (the router must then refuse)."""
    if s.kind is SelectorKind.PERSON:
        return {s.person} if s.person in directory.contacts else None
    if s.kind is SelectorKind.ALL:
        members = [o.code for o in directory.organisations.values() if o.standing is Standing.MEMBER]
        return {p for code in members if (p := point(directory, code, None)) is not None}
    org = directory.organisations.get(s.organisation or "")
    if org is None or (s.desk is not None and org.desks and s.desk not in org.desks):
        return None
    found = (point(directory, org.code, s.desk) if s.desk else None) or point(directory, org.code, None)
    return {found} if found else None


def first_rule(case: Case, written: tuple[Selector, ...]) -> RoutingRule | None:
    for rule in case.policy.rules:
        covered = any(w == s or (w.kind is SelectorKind.ORGANISATION and s.kind is SelectorKind.DESK
                                 and w.organisation == s.organisation) for w in rule.to for s in written)
        if ((not rule.topics or case.draft.topic in rule.topics)
                and (not rule.priorities or case.draft.priority in rule.priorities) and (not rule.to or covered)):
            return rule
    return None


def may_share(case: Case, sender: str, recipient: str) -> bool:
    orgs = case.directory.organisations
    if sender == recipient or OrgKind.COORDINATOR in (orgs[sender].kind, orgs[recipient].kind):
        return True
    if case.policy.membership_arrangement and orgs[sender].standing is orgs[recipient].standing is Standing.MEMBER:
        return True
    return any({sender, recipient} <= a.parties and (not a.topics or case.draft.topic in a.topics)
               for a in case.directory.arrangements)


def room_allowed(tlp: Tlp, room: Room | None, audience: set[str]) -> bool:
    if room is None or tlp is Tlp.RED or not room.organisations <= audience:
        return False  # the router never posts beyond the item's organisations, whatever the TLP
    if tlp is Tlp.AMBER_STRICT:
        return room.purpose in (RoomPurpose.COUNTRY, RoomPurpose.ORGANISATION) and len(room.organisations) == 1
    return tlp in (Tlp.CLEAR, Tlp.GREEN) or bool(room.organisations)


def problems(case: Case, route: Route) -> list[str]:
    d, draft, tlp = case.directory, case.draft, case.draft.caveat.tlp
    red = tlp is Tlp.RED
    written = draft.recipients if red else draft.recipients or case.policy.topic_defaults.get(draft.topic or "", ())
    named = set().union(*(resolve(d, s) or set() for s in written)) - {case.originator.id}
    allowed = set(named)
    rule = None if red else first_rule(case, written)
    for s in rule.add if rule else ():
        allowed |= resolve(d, s) or set()
    if draft.priority is Priority.URGENT and not red:
        allowed |= {c.id for c in d.contacts.values() if Role.COORDINATOR in c.roles}
    found = []
    people = route.recipients
    if len(set(people)) != len(people):
        found.append(f"delivered twice: {people}")
    if case.originator.id in people:
        found.append("the originator receives their own item")
    if not set(people) <= allowed - {case.originator.id}:
        found.append(f"outside the recipients: {set(people) - allowed}")
    if not named <= set(people):
        found.append(f"named but left out: {named - set(people)}")
    audience = {d.contacts[p].organisation for p in people if p in d.contacts} | {case.originator.organisation}
    for p in people:
        org = d.contacts[p].organisation
        if not may_share(case, case.originator.organisation, org) and org not in route.confirmed_without_arrangement:
            found.append(f"no sharing basis for {p}")
    for delivery in route.deliveries:
        contact = d.contacts[delivery.contact]
        if delivery.destination.kind is DestinationKind.DIRECT:
            owners = [c.id for c in d.contacts.values() if delivery.destination.address in c.identities]
            if delivery.also or owners != [contact.id] or tlp is not Tlp.CLEAR and contact.organisation not in audience:
                found.append(f"direct delivery to the wrong person: {delivery}")
        else:
            room = next((r for r in d.rooms if r.chat == delivery.destination.address), None)
            if not room_allowed(tlp, room, audience):
                found.append(f"{tlp.label} posted in {delivery.destination}")
            elif any(d.contacts[p].organisation not in room.organisations for p in (delivery.contact, *delivery.also)):
                found.append(f"a recipient is not in the room: {delivery}")
        named_in_to = any(s.kind is SelectorKind.PERSON and s.person == delivery.contact for s in draft.recipients)
        if red and not (delivery.destination.kind is DestinationKind.DIRECT and named_in_to):
            found.append(f"TLP:RED to someone not named: {delivery.contact}")
    return found


def reachable(case: Case, contact: Contact) -> bool:
    """Whether the contact has an account whose direct chat may carry the item's content."""
    if case.draft.caveat.tlp not in case.policy.encrypted_only:
        return True
    return any(i.platform is not Platform.TELEGRAM for i in contact.identities)


def outcome(case: Case, router: Router) -> list[str]:
    try:
        route = router.route(case.draft, case.originator, confirmed=case.confirmed)
    except RouteRefused as refused:
        return [] if str(refused) and "\n" not in str(refused) else ["a refusal without a one-line reason"]
    return problems(case, route)


@SETTINGS
@given(cases())
def test_every_route_keeps_every_caveat_and_reaches_only_its_recipients(case: Case) -> None:
    assert outcome(case, Router(case.directory, case.policy)) == []


@SETTINGS
@given(cases())
def test_a_sound_item_is_not_refused(case: Case) -> None:
    """Not vacuous: when nothing is wrong with an item, it is routed."""
    d, draft = case.directory, case.draft
    accounts = [i for c in d.contacts.values() for i in c.identities]
    named = [resolve(d, s) for s in draft.recipients]
    sound = (draft.caveat.tlp is not Tlp.RED and draft.recipients and None not in named
             and len(accounts) == len(set(accounts))
             and (people := set().union(*named) - {case.originator.id})
             and all(d.contacts[p].identities and reachable(case, d.contacts[p])
                     and may_share(case, case.originator.organisation, d.contacts[p].organisation) for p in people))
    if sound:
        Router(d, case.policy).route(draft, case.originator)


@SETTINGS
@given(cases())
def test_a_checker_that_allows_everything_is_stopped_by_the_final_check(case: Case) -> None:
    assert outcome(case, Router(case.directory, case.policy, checker=lambda *_: None)) == []


def test_the_oracle_catches_a_broken_router(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the checker broken and the final check switched off, hypothesis finds a leaking route."""
    monkeypatch.setattr(alerts.routing, "verify_route", lambda *args, **kwargs: None)
    strict_in_rooms = cases(tlps=st.just(Tlp.AMBER_STRICT), posts=st.just(PostIn.ROOMS))
    leaky = find(strict_in_rooms,
                 lambda case: bool(outcome(case, Router(case.directory, case.policy, checker=lambda *_: None))),
                 settings=settings(max_examples=5_000, deadline=None, database=None, phases=[Phase.generate]))
    assert outcome(leaky, Router(leaky.directory, leaky.policy, checker=lambda *_: None))


def test_the_oracle_catches_red_in_a_room() -> None:
    directory = Directory.build(
        [Organisation("O0", "Org 0", OrgKind.COUNTRY)],
        [Contact("c0", "A", "O0", frozenset({Role.OFFICER}), (UserRef.parse("console:a"),)),
         Contact("c1", "B", "O0", frozenset({Role.CONTACT}), (UserRef.parse("console:b"),))],
        [Room(ChatRef.parse("console:#r0"), "Room 0", RoomPurpose.COUNTRY, frozenset({"O0"}))])
    draft = ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.PERSON, person="c1"),), Caveat(Tlp.RED))
    case = Case(directory, RoutingPolicy(), draft, directory.contacts["c0"], False)
    leak = Route((alerts.routing.Delivery("c1", alerts.routing.Destination.chat(ChatRef.parse("console:#r0")), "x"),))
    assert problems(case, leak) == ["TLP:RED posted in chat:console:#r0", "TLP:RED to someone not named: c1"]
