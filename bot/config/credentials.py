"""References to secrets that live outside the configuration file, read only when needed.

The file names where a secret is, `{ env = "LIAISON_TELEGRAM_TOKEN" }` or
`{ file = "/run/credentials/liaison/telegram-token" }`, never the secret itself. A `SecretRef`
holds only that name: the value is read on demand and never stored, so no repr, log line or
error message can show it.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretError(Exception):
    """A secret that cannot be read; the message names where it was looked for, never a value."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret is: exactly one of an environment variable or a file."""

    env: str | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError("SecretRef needs exactly one of env and file")
        if self.env is not None and not ENV_NAME.fullmatch(self.env):
            raise ValueError(f"not an environment variable name: {self.env!r}")

    @classmethod
    def from_env(cls, name: str) -> SecretRef:
        return cls(env=name)

    @classmethod
    def from_file(cls, path: Path | str) -> SecretRef:
        return cls(file=Path(path))

    def read(self) -> str:
        """The secret, without its trailing newline; SecretError says where it was missing."""
        value = self._read_env() if self.env is not None else self._read_file()
        value = value.rstrip("\r\n")
        if not value:
            raise SecretError(f"{self} is empty")
        return value

    def _read_env(self) -> str:
        value = os.environ.get(self.env or "")
        if value is None:
            raise SecretError(f"{self} is not set")
        return value

    def _read_file(self) -> str:
        path = self.file
        assert path is not None
        try:
            info = path.stat()
        except OSError as exc:
            raise SecretError(f"{self} cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"{self} is not a regular file")
        _refuse_loose_permissions(self, info)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(f"{self} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretError(f"{self} is not UTF-8 text") from None

    def __str__(self) -> str:
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"secret file {self.file}"

    def __repr__(self) -> str:
        where = f"env={self.env!r}" if self.env is not None else f"file={str(self.file)!r}"
        return f"SecretRef({where})"


def _refuse_loose_permissions(ref: SecretRef, info: os.stat_result) -> None:
    """PostgreSQL's rule for its private key: others never; the group only when root owns the file.

    So `chmod 600` (owned by the bot's user) and `root:liaison 0640` both pass, and a token that
    every local account can read does not. Windows has no such mode bits to check.
    """
    if os.name != "posix":
        return
    mode = stat.S_IMODE(info.st_mode)
    allowed = 0o640 if info.st_uid == 0 else 0o600
    if mode & ~allowed & 0o077:
        raise SecretError(
            f"{ref} has permissions {mode:04o}, wider than {allowed:04o}; run: chmod 600 {ref.file}"
        )
