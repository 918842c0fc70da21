"""Following a chain of delegates (alerts.away.follow) whatever the absences stored: it always ends,
never loops, never reaches someone away, and reaches the first person on the chain who is here.
The handlers' reverse walk (who one may act for: handlers.away.stood_in_for) agrees with it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.away import MAX_HOPS, Absence, follow
from handlers.away import chain_of, stood_in_for
from tests.fakes import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
PEOPLE = [f"p{n}" for n in range(8)]

# An absence however it came about: any person, any delegate (themselves too), set before or after
# now, over or running, ended early or not; several for one person.
absences_st = st.lists(
    st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.integers(-48, 4), st.integers(1, 96),
              st.booleans()),
    max_size=20,
).map(lambda rows: [
    Absence(f"a{n}", person, delegate, NOW + timedelta(hours=start + length), "", person,
            NOW + timedelta(hours=start), ended_at=NOW if ended else None)
    for n, (person, delegate, start, length, ended) in enumerate(rows)])


def running(absences: list[Absence]) -> dict[str, Absence]:
    """Each person's running absence, the latest set when several run (as storage's `current`)."""
    found: dict[str, Absence] = {}
    for absence in sorted((a for a in absences if a.active(NOW)), key=lambda a: a.set_at):
        found[absence.person] = absence
    return found


def naive(start: str, away: dict[str, Absence]) -> tuple[list[str], bool]:
    """The walk written the plain way, with an outer bound: (the people visited, whether it repeats)."""
    walk = [start]
    while walk[-1] in away and len(walk) <= len(PEOPLE) + 1:
        following = away[walk[-1]].delegate
        if following in walk:
            return walk, True
        walk.append(following)
    return walk, False


@settings(max_examples=400, deadline=None)
@given(absences_st, st.sampled_from(PEOPLE), st.integers(1, MAX_HOPS))
def test_following_ends_and_reaches_the_first_person_here_or_nobody(absences: list[Absence], start: str,
                                                                    limit: int) -> None:
    away = running(absences)
    asked: list[str] = []

    def absence_of(person: str) -> Absence | None:
        asked.append(person)
        return away.get(person)

    chain = follow(start, absence_of, limit)
    assert len(asked) <= limit + 1  # bounded, whatever is stored
    assert len(set(asked)) == len(asked)  # nobody is looked up twice: no loop
    # Never someone away.
    assert chain.reached is None or chain.reached not in away
    # The absences followed link up from the person.
    whose = start
    for absence in chain.absences:
        assert absence.person == whose
        whose = absence.delegate
    walk, repeats = naive(start, away)
    present = None if repeats else walk[-1]
    if present is not None and len(walk) - 1 <= limit:
        assert chain.reached == present  # the first person here, whom the chain reaches within the bound
        assert not chain.circle
    else:
        assert chain.reached is None  # a circle, or longer than the bound: nobody, never someone away
        assert chain.circle == (repeats and len(walk) - 1 <= limit)
    if start not in away:
        assert chain.reached == start and chain.away is None and chain.absences == ()


@settings(max_examples=150, deadline=None)
@given(absences_st)
def test_who_one_may_act_for_is_whose_chain_one_is_on(absences: list[Absence]) -> None:
    # /mine (stood_in_for, walking back) and acting for someone (chain_of, walking forward) agree.
    store = MemoryStore()
    for absence in absences:
        store.absences[absence.id] = absence  # stored as is: no /away checked any of them
    with MemoryUnitOfWork(store) as uow:
        assert {p for p in PEOPLE if uow.absences.current(p, NOW)} == set(running(absences))
        for contact in PEOPLE:
            behind = {a.person for a in stood_in_for(uow, contact, NOW)}
            on_chain = {p for p in PEOPLE if p != contact and contact in chain_of(uow, p, NOW).delegates}
            assert behind == on_chain, (contact, behind, on_chain)
