"""The portal's links and sessions behave alike on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alerts.clock import ManualClock
from tests.contract.conftest import Backend


def test_a_link_is_redeemed_once_before_it_expires_and_only_by_its_hash(backend: Backend, clock: ManualClock) -> None:
    now = clock.now()
    with backend.factory() as uow:
        uow.portal.add_link("a" * 64, "th-lo", now + timedelta(minutes=5), now)
        uow.portal.add_link("b" * 64, "th-lo", now + timedelta(minutes=5), now)
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.redeem_link("c" * 64, now) is None
        assert uow.portal.redeem_link("a" * 64, now) == "th-lo"
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.redeem_link("a" * 64, now) is None  # used
        assert uow.portal.redeem_link("b" * 64, now + timedelta(minutes=5)) is None  # expired at its time


def test_a_link_is_checked_without_being_used(backend: Backend, clock: ManualClock) -> None:
    """What opening a link's page asks: whose link it is while it can still log in, spending nothing."""
    now = clock.now()
    with backend.factory() as uow:
        uow.portal.add_link("a" * 64, "th-lo", now + timedelta(minutes=5), now)
        uow.portal.add_link("b" * 64, "th-lo", now + timedelta(minutes=5), now)
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.live_link("a" * 64, now) == "th-lo"
        assert uow.portal.live_link("a" * 64, now) == "th-lo"  # checking twice spends nothing
        assert uow.portal.live_link("c" * 64, now) is None  # unknown
        assert uow.portal.live_link("a" * 64, now + timedelta(minutes=5)) is None  # expired at its time
        assert uow.portal.redeem_link("b" * 64, now) == "th-lo"
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.live_link("b" * 64, now) is None  # used
        assert uow.portal.redeem_link("a" * 64, now) == "th-lo"  # the checks left it usable


def test_a_session_lives_until_it_expires_or_ends(backend: Backend, clock: ManualClock) -> None:
    now = clock.now()
    with backend.factory() as uow:
        uow.portal.add_session("s1", "th-lo", now + timedelta(minutes=30), now)
        uow.portal.add_session("s2", "th-lo", now + timedelta(minutes=30), now)
        uow.portal.add_session("s3", "my-npoc", now + timedelta(minutes=30), now)
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.session("s1", now) == "th-lo"
        assert uow.portal.session("s1", now + timedelta(minutes=30)) is None
        uow.portal.end_session("s3", now)
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.session("s3", now) is None
        assert uow.portal.session("s2", now) == "th-lo"


def test_ending_a_persons_sessions_drops_their_unused_links_too(backend: Backend, clock: ManualClock) -> None:
    now = clock.now()
    with backend.factory() as uow:
        uow.portal.add_session("s1", "th-lo", now + timedelta(minutes=30), now)
        uow.portal.add_session("s2", "th-lo", now + timedelta(minutes=30), now)
        uow.portal.add_session("s3", "my-npoc", now + timedelta(minutes=30), now)
        uow.portal.add_link("a" * 64, "th-lo", now + timedelta(minutes=5), now)
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.end_sessions("th-lo", now) == 2
        uow.commit()
    with backend.factory() as uow:
        assert uow.portal.session("s1", now) is None and uow.portal.session("s2", now) is None
        assert uow.portal.session("s3", now) == "my-npoc"
        assert uow.portal.redeem_link("a" * 64, now) is None
        assert uow.portal.end_sessions("th-lo", now) == 0
