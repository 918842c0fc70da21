"""Writes to the directory: add, update and remove a contact, and the rooms' roster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.directory import Contact
from alerts.identity import ChatRef, UserRef
from alerts.roles import Role
from bot.config.settings import load_settings
from storage.directory import DatabaseDirectory, SqlDirectoryWriter
from storage.roster import SqlRoomRoster

EXAMPLE = load_settings(Path(__file__).resolve().parents[2] / "config.example.toml")
NEW = Contact("somsak", "Somsak", "TH", frozenset({Role.CONTACT, Role.OFFICER}),
              (UserRef.parse("console:somsak"), UserRef.parse("telegram:user:77")), "police", "Asia/Bangkok", "th-npoc")


def test_a_contact_is_added_updated_and_removed_and_the_snapshot_follows(engine: Engine) -> None:
    source = DatabaseDirectory(engine)
    source.seed(EXAMPLE.directory())
    with engine.begin() as conn:
        writer = SqlDirectoryWriter(conn)
        writer.add_contact(NEW)
        assert writer.changed
    assert source.current().contact("somsak") is None  # the snapshot changes only on refresh
    loaded = source.refresh().contact("somsak")
    assert loaded == NEW
    assert list(source.current().contacts)[-1] == "somsak"  # after what the configuration gave
    moved = dataclasses.replace(NEW, roles=frozenset({Role.ADMIN}), identities=(UserRef.parse("console:somsak"),))
    with engine.begin() as conn:
        SqlDirectoryWriter(conn).update_contact(moved)
    directory = source.refresh()
    assert directory.contact("somsak") == moved and directory.contact_for(UserRef.parse("telegram:user:77")) is None
    with engine.begin() as conn:
        assert SqlDirectoryWriter(conn).remove_contact("somsak") is True
        assert SqlDirectoryWriter(conn).remove_contact("somsak") is False
    assert source.refresh().contact("somsak") is None


def test_an_account_of_someone_else_or_a_taken_id_is_refused(engine: Engine) -> None:
    DatabaseDirectory(engine).seed(EXAMPLE.directory())
    with engine.begin() as conn:
        writer = SqlDirectoryWriter(conn)
        with pytest.raises(ValueError, match="belongs to th-npoc"):
            writer.add_contact(dataclasses.replace(NEW, identities=(UserRef.parse("console:th-npoc"),)))
        with pytest.raises(ValueError, match="already"):
            writer.add_contact(dataclasses.replace(NEW, id="th-npoc", identities=(UserRef.parse("console:x9"),)))
        with pytest.raises(KeyError):
            writer.update_contact(dataclasses.replace(NEW, id="nobody"))


def test_the_roster_and_run_progress(engine: Engine) -> None:
    DatabaseDirectory(engine).seed(EXAMPLE.directory())
    room, who = ChatRef.parse("telegram:-1001"), UserRef.parse("telegram:user:77")
    with engine.begin() as conn:
        roster = SqlRoomRoster(conn)
        assert roster.present(room) is None
        roster.mark(room, who, "invited")
        assert roster.present(room) == {who: "invited"}
        roster.mark(room, who, None)
        assert roster.present(room) == {}
        assert roster.progress("op", "k1", "joined") == {"k1": "joined"}
        assert roster.progress("op", "k1", "failed:x") == {"k1": "joined"}  # once per action
        assert roster.progress("op", "k2", "failed:x") == {"k1": "joined", "k2": "failed:x"}


def test_another_process_change_is_picked_up_and_a_rolled_back_one_is_not(engine: Engine) -> None:
    running = DatabaseDirectory(engine)  # the bot's snapshot
    running.seed(EXAMPLE.directory())
    assert running.refresh_if_changed() is False  # nothing since it loaded
    cli = DatabaseDirectory(engine)  # `liaison-bot member import` in another process
    with engine.connect() as conn, conn.begin():
        SqlDirectoryWriter(conn).add_contact(NEW)
        conn.rollback()
    assert running.refresh_if_changed() is False
    with engine.begin() as conn:
        writer = SqlDirectoryWriter(conn)
        writer.add_contact(NEW)
        writer.update_contact(dataclasses.replace(NEW, desk=None))  # one bump per transaction is enough
    assert cli.current().contact("somsak") is not None
    assert running.current().contact("somsak") is None
    assert running.refresh_if_changed() is True
    assert running.current().contact("somsak").desk is None
    assert running.refresh_if_changed() is False
    with engine.begin() as conn:
        SqlDirectoryWriter(conn).remove_contact("somsak")
    assert running.refresh_if_changed() is True and running.current().contact("somsak") is None
