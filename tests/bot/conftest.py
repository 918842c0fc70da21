"""The bot's runtime pieces run on the real storage, on SQLite and PostgreSQL, as in tests/storage."""

from tests.storage.conftest import _migrated_postgres_url, engine, migrated_url, sealer  # noqa: F401
