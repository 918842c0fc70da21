"""Fixtures for the audit log tests: a key file, and an engine with the audit tables.

`audit_engine` follows the shared `db_url` fixture (tests/conftest.py), so each test using it
runs on SQLite and, where a server answers, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import keyring as keyfile
from storage.keyring import Keyring
from tests.audit.support import make_engine


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "liaison.keys"
    keyfile.generate(path)
    return path


@pytest.fixture
def keyring(keyring_path: Path) -> Keyring:
    return keyfile.load(keyring_path)


@pytest.fixture
def witness_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "witness.log"


@pytest.fixture
def audit_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()
