"""Routing decision time against a large directory, next to a raw baseline measured in the same run.

    python bench/routing_bench.py [--contacts 5000] [--rooms 500] [--decisions 20000] [--seed 1]

A directory of --contacts contacts (a national point of contact and three desks per organisation,
the rest officers) and --rooms rooms (each organisation's own room, joint rooms, network rooms),
with sharing arrangements and routing rules. Each decision is what /alert does: build a Router on
the snapshot and route one item (one to five recipients of every kind, every TLP and priority,
some rules posting in rooms). The baseline resolves the same number of recipients per decision
with plain dict lookups and nothing else (no rules, caveats or arrangements): the floor any router
pays. Goal: median decision under 1 ms. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.arrangements import Arrangement  # noqa: E402
from alerts.caveats import Caveat, Tlp  # noqa: E402
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing  # noqa: E402
from alerts.errors import RouteRefused  # noqa: E402
from alerts.identity import ChatRef, UserRef  # noqa: E402
from alerts.items import ALL, ItemDraft, ItemKind, Selector, SelectorKind  # noqa: E402
from alerts.priority import Priority  # noqa: E402
from alerts.roles import Role  # noqa: E402
from alerts.routing import PostIn, Router, RoutingPolicy, RoutingRule  # noqa: E402

DESKS = ("immigration", "police", "customs")
TOPICS = ("document-fraud", "people-smuggling", "trafficking-in-persons", "maritime", "identity-check")


def build_directory(contacts: int, rooms: int, rng: random.Random) -> Directory:
    n_orgs = max(2, contacts // 20)
    orgs = [Organisation(f"O{i:03d}", f"Organisation {i}", OrgKind.COUNTRY if i % 5 else OrgKind.ORGANISATION,
                         Standing.OBSERVER if i % 10 == 9 else Standing.MEMBER, DESKS) for i in range(n_orgs)]
    orgs.append(Organisation("RSO", "Regional Support Office", OrgKind.COORDINATOR))
    people: list[Contact] = []

    def add(org: str, roles: set[Role], desk: str | None = None) -> None:
        i = len(people)
        accounts = (UserRef.parse(f"matrix:@p{i}:example.org"), UserRef.parse(f"telegram:user:{100000 + i}"))
        people.append(Contact(f"p{i}", f"Person {i}", org, frozenset(roles), accounts, desk, "UTC"))

    for org in orgs[:-1]:
        add(org.code, {Role.CONTACT})
        for desk in DESKS:
            add(org.code, {Role.CONTACT}, desk)
    for _ in range(5):
        add("RSO", {Role.COORDINATOR})
    while len(people) < contacts:
        add(rng.choice(orgs[:-1]).code, {Role.OFFICER})
    codes = [o.code for o in orgs]
    registered = [Room(ChatRef.parse(f"console:#own{i}"), f"Room of {o.name}", RoomPurpose.COUNTRY, frozenset({o.code}))
                  for i, o in enumerate(orgs[:min(len(orgs), rooms // 2)])]
    while len(registered) < rooms:
        i = len(registered)
        if i % 25 == 0:
            registered.append(Room(ChatRef.parse(f"console:#net{i}"), f"Network {i}", RoomPurpose.NETWORK,
                                   frozenset(codes)))
        else:
            held = frozenset(rng.sample(codes, rng.randint(2, 4)))
            registered.append(Room(ChatRef.parse(f"console:#joint{i}"), f"Joint {i}", RoomPurpose.NETWORK, held))
    arrangements = [Arrangement(f"MoU {i}", frozenset(rng.sample(codes[:-1], rng.randint(2, 3))),
                                frozenset(rng.sample(TOPICS, rng.randint(0, 2)))) for i in range(len(orgs))]
    return Directory.build(orgs, people, registered, arrangements)


def random_selector(directory: Directory, rng: random.Random) -> Selector:
    org = rng.choice(list(directory.organisations.values())[:-1])
    kind = rng.random()
    if kind < 0.45:
        return Selector(SelectorKind.ORGANISATION, organisation=org.code)
    if kind < 0.9:
        return Selector(SelectorKind.DESK, organisation=org.code, desk=rng.choice(DESKS))
    return Selector(SelectorKind.PERSON, person=directory.point_of_contact(org.code).id)  # type: ignore[union-attr]


def policy_for(directory: Directory, rng: random.Random) -> RoutingPolicy:
    codes = list(directory.organisations)[:-1]
    rules = tuple(RoutingRule(f"rule{i}", frozenset({rng.choice(TOPICS)}), frozenset({rng.choice(list(Priority))}),
                              add=(Selector(SelectorKind.DESK, organisation=rng.choice(codes), desk="police"),),
                              post=rng.choice([None, PostIn.ROOMS])) for i in range(20))
    return RoutingPolicy(rules=rules, post=PostIn.DIRECT)


def drafts(directory: Directory, count: int, rng: random.Random) -> list[tuple[ItemDraft, Contact]]:
    officers = [c for c in directory.contacts.values() if Role.OFFICER in c.roles]
    made = []
    for _ in range(count):
        tlp = rng.choice(list(Tlp))
        to = tuple(random_selector(directory, rng) for _ in range(rng.randint(1, 5)))
        if tlp is Tlp.RED:
            to = tuple(Selector(SelectorKind.PERSON, person=rng.choice(officers).id) for _ in range(rng.randint(1, 3)))
        draft = ItemDraft(ItemKind.ALERT, "body", to, Caveat(tlp), priority=rng.choice(list(Priority)),
                          topic=rng.choice(TOPICS))
        made.append((draft, rng.choice(officers)))
    return made


def timed(function, arguments: list, rounds: int) -> list[float]:  # noqa: ANN001 - a callable
    """Microseconds per call, each call timed alone."""
    clock = time.perf_counter_ns
    samples = []
    for i in range(rounds):
        args = arguments[i % len(arguments)]
        start = clock()
        function(*args)
        samples.append((clock() - start) / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = time.perf_counter()
    directory = build_directory(args.contacts, args.rooms, rng)
    built = time.perf_counter() - start
    policy = policy_for(directory, rng)
    items = drafts(directory, 2000, rng)

    def decide(draft: ItemDraft, originator: Contact) -> int:
        try:
            return len(Router(directory, policy).route(draft, originator).recipients)
        except RouteRefused:
            return 0

    sizes = [decide(d, o) for d, o in items]  # also warms up
    # The baseline: the same number of recipients per decision, each a dict lookup of a point of
    # contact and of the contact's first account, collected into a list.
    points = {(c.organisation, c.desk): c for c in directory.contacts.values() if Role.CONTACT in c.roles}
    keys = list(points)

    def baseline(count: int) -> int:
        found = []
        for key in keys[:max(count, 1)]:
            contact = points[key]
            found.append((contact.id, contact.identities[0]))
        return len(found)

    everyone = ItemDraft(ItemKind.ALERT, "body", (ALL,), Caveat(Tlp.GREEN), topic="maritime")
    officer = items[0][1]
    all_size = decide(everyone, officer)
    routed = [item for item, size in zip(items, sizes) if size]
    routed_sizes = [size for size in sizes if size]
    rounds = [("typical items (1-5 selectors, every TLP)", timed(decide, items, args.decisions),
               timed(baseline, [(s,) for s in sizes], args.decisions), statistics.mean(sizes)),
              ("the same, routed ones only", timed(decide, routed, args.decisions),
               timed(baseline, [(s,) for s in routed_sizes], args.decisions), statistics.mean(routed_sizes)),
              (f"to:all ({all_size} recipients)", timed(decide, [(everyone, officer)], 500),
               timed(baseline, [(all_size,)], 500), all_size)]
    refused = len(items) - len(routed)
    print(f"directory: {len(directory.contacts)} contacts, {len(directory.rooms)} rooms, "
          f"{len(directory.organisations)} organisations, {len(directory.arrangements)} arrangements; "
          f"snapshot and indexes built in {built * 1000:.0f} ms")
    print(f"{refused} of {len(items)} sample items refused (most name one of the observers, one organisation in ten, "
          "without an arrangement): refusals are decisions too\n")
    print(f"{'decision':45} {'recipients':>10} {'median':>10} {'p90':>10} {'baseline median':>16} {'ratio':>7}")
    for name, ours, raw, recipients in rounds:
        median, p90 = statistics.median(ours), statistics.quantiles(ours, n=10)[-1]
        base = statistics.median(raw)
        print(f"{name:45} {recipients:>10.1f} {median:>8.1f}us {p90:>8.1f}us {base:>14.2f}us {median / base:>6.1f}x")
    verdict = "met" if statistics.median(rounds[0][1]) < 1000 else "NOT met"
    print(f"\ngoal routing: median decision under 1 ms against {args.contacts} contacts and {args.rooms} rooms: {verdict}")


if __name__ == "__main__":
    main()
