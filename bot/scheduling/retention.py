"""Retention: cases older than the configured period are erased on a schedule, as the audit log's rules ask;
files kept for messages that never went (the digest's charts) are removed after the same period."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from storage.audit.erasure import erase_expired
from storage.keyring import Keyring
from storage.case_keys import truncate_wal
from storage.outbox import purge_files

log = logging.getLogger(__name__)


class RetentionSweeper:
    """Runs at most once per `every`; each run erases what has expired, in one transaction."""

    def __init__(self, engine: Engine, keyring: Keyring, retention: timedelta,
                 every: timedelta = timedelta(hours=1)) -> None:
        self._engine = engine
        self._keyring = keyring
        self._retention = retention
        self._every = every
        self._last: datetime | None = None

    def run_if_due(self, now: datetime) -> list[str]:
        if self._last is not None and now - self._last < self._every:
            return []
        self._last = now
        with self._engine.begin() as connection:
            erased = erase_expired(connection, self._keyring, now, self._retention)
            purged = purge_files(connection, now - self._retention)
        if purged:
            log.info("retention removed %d file(s) of messages never sent", purged)
        if erased:
            truncate_wal(self._engine)  # the old pages of the wrapped keys must not linger in the WAL
            log.info("retention erased %d case(s)", len(erased))
        return erased
