"""The directory in the database: seeded from the configuration, then the source of truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, update

from alerts.directory import Contact, Directory
from alerts.identity import UserRef
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.roles import Role
from alerts.routing import Router
from bot.config.settings import load_settings
from storage.directory import DatabaseDirectory, SqlDirectoryStore
from storage.directory_tables import (DIRECTORY_TABLES, directory_contacts, directory_identities,
                                      directory_organisations, directory_roles)

EXAMPLE = load_settings(Path(__file__).resolve().parents[2] / "config.example.toml")


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in DIRECTORY_TABLES}


def test_seeding_stores_the_configured_directory_and_loads_it_back_equal(engine: Engine) -> None:
    source = DatabaseDirectory(engine, default_zone=EXAMPLE.bot.default_timezone)
    loaded = source.seed(EXAMPLE.directory())
    assert loaded == EXAMPLE.directory() and loaded.default_zone == "Asia/Bangkok"
    assert [o.code for o in loaded.members()] == [o.code for o in EXAMPLE.directory().members()]  # order kept
    assert loaded.point_of_contact("TH", "immigration").id == "th-immigration"
    assert loaded.arrangements_between("AU", "CA")


def test_seeding_twice_changes_nothing(engine: Engine) -> None:
    source = DatabaseDirectory(engine)
    first = source.seed(EXAMPLE.directory())
    before = counts(engine)
    assert source.seed(EXAMPLE.directory()) == first
    assert counts(engine) == before


def test_what_admins_added_survives_a_new_start_and_the_file_wins_for_what_it_names(engine: Engine) -> None:
    store = SqlDirectoryStore()
    with engine.begin() as conn:
        store.seed(conn, EXAMPLE.directory())
        # An admin onboards a customs desk officer and renames Thailand's national point of contact.
        conn.execute(insert(directory_contacts).values(id="th-customs", name="Customs officer", organisation="TH",
                                                       desk=None, timezone="Asia/Bangkok", backup=None, position=999))
        conn.execute(insert(directory_roles).values(contact="th-customs", role="officer"))
        conn.execute(insert(directory_identities).values(identity="matrix:@somchai:example.org", contact="th-customs",
                                                         position=0))
        conn.execute(update(directory_contacts).where(directory_contacts.c.id == "th-npoc").values(name="Renamed"))
    # The file now gives Somchai's Matrix account to th-npoc.
    npoc = EXAMPLE.directory().contacts["th-npoc"]
    moved = dataclasses.replace(npoc, identities=npoc.identities + (UserRef.parse("matrix:@somchai:example.org"),))
    configured = EXAMPLE.directory()
    with engine.begin() as conn:
        store.seed(conn, Directory.build(configured.organisations.values(),
                                         [moved if c.id == "th-npoc" else c for c in configured.contacts.values()],
                                         configured.rooms, configured.arrangements))
    with engine.connect() as conn:
        loaded = store.load(conn)
    assert loaded.contacts["th-npoc"].name == "National point of contact"  # the file wins for what it names
    assert loaded.contact_for(UserRef.parse("matrix:@somchai:example.org")).id == "th-npoc"
    customs = loaded.contacts["th-customs"]  # what the file does not name is kept
    assert (customs.roles, customs.identities, list(loaded.contacts)[-1]) == (frozenset({Role.OFFICER}), (), "th-customs")


def test_the_database_directory_is_a_cached_snapshot_until_refreshed(engine: Engine) -> None:
    source = DatabaseDirectory(engine)
    source.seed(EXAMPLE.directory())
    first = source.current()
    assert source.current() is first
    with engine.begin() as conn:
        conn.execute(update(directory_organisations).where(directory_organisations.c.code == "TH")
                     .values(name="Kingdom of Thailand"))
    assert source.current().organisations["TH"].name == "Thailand"
    assert source.refresh().organisations["TH"].name == "Kingdom of Thailand"
    assert source.current().organisations["TH"].name == "Kingdom of Thailand"


def test_a_fresh_source_loads_on_first_use_and_routes_like_the_configuration(engine: Engine) -> None:
    with engine.begin() as conn:
        SqlDirectoryStore().seed(conn, EXAMPLE.directory())
    loaded = DatabaseDirectory(engine).current()
    draft = ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.DESK, organisation="MY", desk="police"),
                                            Selector(SelectorKind.ORGANISATION, organisation="CA")),
                      topic="people-smuggling")
    officer: Contact = loaded.contacts["au-officer"]
    policy = EXAMPLE.routing_policy()
    assert Router(loaded, policy).route(draft, officer) == Router(EXAMPLE.directory(), policy).route(draft, officer)


def test_an_empty_database_is_an_empty_directory(engine: Engine) -> None:
    assert DatabaseDirectory(engine).current() == Directory.build([], [])


def test_a_matrix_room_counts_as_encrypted_while_the_room_watch_last_saw_megolm(engine: Engine) -> None:
    import json

    from alerts.directory import Room, RoomPurpose
    from alerts.identity import ChatRef
    from storage.cursors import SqlCursors
    from storage.directory import MATRIX_ROOM_SAFETY, MEGOLM

    rooms = [Room(ChatRef.parse(f"matrix:!{name}:example.org"), name, RoomPurpose.NETWORK) for name in ("a", "b", "c")]
    source = DatabaseDirectory(engine)
    seeded = source.seed(dataclasses.replace(EXAMPLE.directory(), rooms=tuple(rooms)))
    assert [r.encrypted for r in seeded.rooms] == [False, False, False]  # never looked at: unencrypted
    with engine.begin() as conn:
        seen = SqlCursors(conn)
        seen.set(MATRIX_ROOM_SAFETY + "!a:example.org", json.dumps({"encryption": MEGOLM, "in_room": True}))
        seen.set(MATRIX_ROOM_SAFETY + "!b:example.org", json.dumps({"encryption": None, "in_room": True}))
        seen.set(MATRIX_ROOM_SAFETY + "!c:example.org", "not json")
    assert [r.encrypted for r in source.refresh().rooms] == [True, False, False]


def test_a_dated_arrangement_keeps_its_number_and_a_chat_end_across_new_starts(engine: Engine) -> None:
    from datetime import date, datetime, timezone

    from alerts.arrangements import Arrangement
    from storage.directory import SqlArrangements

    dated = Arrangement("MoU MY-CA 2026", frozenset({"MY", "CA"}), frozenset({"document-fraud"}),
                        date(2026, 1, 1), date(2026, 11, 30), giver="MY")
    base = EXAMPLE.directory()
    configured = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms,
                                 base.arrangements + (dated,))
    source = DatabaseDirectory(engine)
    first = source.seed(configured)
    assert first.arrangements == configured.arrangements  # dates and direction stored and read back
    assert [a.number for a in first.arrangements] == [1, 2, 3]
    ended_at = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        assert SqlArrangements(conn).end(1, ended_at, "replaced")
    again = source.seed(configured)  # the file cannot revive what a coordinator ended
    assert again.arrangements[0].ended_at == ended_at and again.arrangements[0].end_reason == "replaced"
    assert [a.number for a in again.arrangements] == [1, 2, 3]
    assert again.arrangements[2].lapse(datetime(2026, 12, 1, tzinfo=timezone.utc)) == "ended on 2026-11-30"


def test_a_room_retired_in_chat_stays_retired_at_a_new_start_and_its_hubs_are_kept(engine: Engine) -> None:
    from datetime import datetime, timezone

    from alerts.directory import Room, RoomPurpose
    from alerts.identity import ChatRef
    from storage.directory import SqlDirectoryWriter

    base = EXAMPLE.directory()
    kul = Room(ChatRef.parse("console:#kul"), "KUL airport", RoomPurpose.NETWORK, frozenset({"MY", "TH"}),
               hubs=frozenset({"KUL", "KUL-KLIA2"}))
    configured = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms + (kul,),
                                 base.arrangements)
    source = DatabaseDirectory(engine)
    assert source.seed(configured).room(kul.chat) == kul
    with engine.begin() as conn:
        assert SqlDirectoryWriter(conn).retire_room(kul.chat, datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert source.seed(configured).room(kul.chat) is None  # the file does not bring it back
