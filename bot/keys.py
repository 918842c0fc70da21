"""The key file at start: loaded when it exists; on a first start, generated with a notice."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from storage import keyring as keyring_file
from storage.keyring import Keyring


def ensure_keyring(path: Path, notice: TextIO) -> Keyring:
    if path.exists():
        return keyring_file.load(path)
    keyring = keyring_file.generate(path)
    notice.write(
        f"Created a new key file at {path} (mode 0600). It encrypts and signs the audit log: back it up "
        "apart from the database, or what is recorded cannot be read or verified.\n"
    )
    return keyring
