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

from alerts.clock import Clock
from bot.runtime.clock import SystemClock
from bot.config.settings import Settings
from bot.runtime.engine import engine_for
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
    def load(args: argparse.Namespace) -> OperatorContext:
        settings = settings_from_args(args)
        engine = engine_for(settings)
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
