"""What the operator commands (keys, audit) need, built from the configuration only when they run."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from alerts.clock import Clock
from bot.runtime.clock import SystemClock
from bot.config.settings import Settings
from bot.runtime.engine import engine_for
from storage.db import DatabaseUnavailable, NoDatabase, shown_url
from storage.migrate import upgrade


@dataclass
class OperatorContext:
    engine: Engine
    keyring_path: Path
    witness_path: Path | None
    clock: Clock
    actor: str
    settings: Settings

    def organisation_of(self, contact_id: str) -> str | None:
        contact = self.settings.directory().contacts.get(contact_id)
        return contact.organisation if contact else None


def context_loader(settings_from_args: Callable[[argparse.Namespace], Settings]) -> Callable[[argparse.Namespace], OperatorContext]:
    """A command whose parser sets `existing_database` (the audit commands: they read what a database
    holds) is refused, creating nothing, when the configuration points at none (storage.db.NoDatabase);
    the others (`keys generate` on a new installation) make it."""
    def load(args: argparse.Namespace) -> OperatorContext:
        settings = settings_from_args(args)
        engine = _existing(settings) if getattr(args, "existing_database", False) else engine_for(settings)
        upgrade(engine)
        return OperatorContext(
            engine=engine,
            keyring_path=settings.keys.path,
            witness_path=settings.audit.witness_path,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            settings=settings,
        )

    return load


def _existing(settings: Settings) -> Engine:
    """The database the settings name, when it is there; else DatabaseUnavailable in one line that
    names it (without its password) and says where it is configured."""
    where = f"nothing was created: check [storage] url in {settings.given}"
    try:
        return engine_for(settings, existing=True)
    except NoDatabase as missing:
        raise DatabaseUnavailable(f"{missing}; {where}") from None
    except OperationalError as error:  # PostgreSQL: a database of that name not there, or no server
        raise DatabaseUnavailable(f"{database_problem(error)} ({shown_url(settings.storage.url)}); {where}") from None


def database_problem(error: Exception) -> str:
    """The driver's own first line (no SQL, no parameters: they may hold content), and a hint."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = reason[0] if reason else type(error).__name__
    hint = ""
    if "locked" in first:
        hint = " (another process holds it: is the bot, a restore or a sqlite3 shell using it?)"
    return f"the database cannot be used: {first}{hint}"


def new_private_file(path: str, example: str) -> TextIO | None:
    """`path` created for writing, readable by its owner only (0600 whatever the umask), never over an
    existing file; None, with one `error:` line said, when it cannot be. `example`: an --output to suggest."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {path} exists: choose a new name (an export never overwrites a file)", file=sys.stderr)
        return None
    except OSError as error:
        print(f"error: cannot write {path}: {error.strerror or error}; give a file in a folder that exists and "
              f"this user may write, e.g. --output {example}", file=sys.stderr)
        return None
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
