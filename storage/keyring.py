"""The key file: AES-256 master keys with ids, which one is current, and the checkpoint signing key.

The file lives outside the database, so that a copy of the database alone reads nothing. It is
JSON, written atomically with mode 0600 and refused when its permissions are any wider:

    {"format": "liaison-bot-keyring/1",
     "current": "mk-20261123-3f9a1c",
     "master_keys": [{"id": "mk-20261123-3f9a1c", "created_at": "2026-11-23T09:00:00Z", "key": "<base64>"}],
     "signing_key": {"id": "sk-20261123-77d0e2", "created_at": "...", "private": "<base64>"}}

Rotation adds a master key and makes it current; old keys stay so old content stays readable.
Nothing here logs or prints key bytes; reprs show ids only.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat, NoEncryption

FORMAT = "liaison-bot-keyring/1"


class KeyringError(Exception):
    """The key file is missing, malformed, or unsafe; the message names the file, never a key."""


class KeyFilePermissionError(KeyringError):
    pass


class UnknownKeyError(KeyringError, KeyError):
    pass


@dataclass(frozen=True)
class MasterKey:
    id: str
    created_at: datetime
    key: bytes = field(repr=False)


class Keyring:
    """The loaded key file. Hands out AEADs by key id and signs checkpoints; shows ids only."""

    def __init__(self, path: Path | None, master_keys: Mapping[str, MasterKey], current: str,
                 signing_key_id: str, signing_key: Ed25519PrivateKey, signing_created_at: datetime) -> None:
        if current not in master_keys:
            raise KeyringError(f"key file {path}: current key {current!r} is not among its master keys")
        for key in master_keys.values():
            if len(key.key) != 32:
                raise KeyringError(f"key file {path}: master key {key.id!r} is not 256 bits")
        self.path = path
        self.master_keys = dict(master_keys)
        self.current_id = current
        self.signing_key_id = signing_key_id
        self.signing_created_at = signing_created_at
        self._signing_key = signing_key
        self._aeads: dict[str, AESGCM] = {}
        self._derived: dict[bytes, bytes] = {}

    def __repr__(self) -> str:
        return f"Keyring(path={self.path!s}, current={self.current_id!r}, keys={sorted(self.master_keys)!r})"

    @property
    def current(self) -> MasterKey:
        return self.master_keys[self.current_id]

    def aead(self, key_id: str) -> AESGCM:
        """The AES-256-GCM cipher of master key `key_id` (cached: building one costs a key schedule)."""
        aead = self._aeads.get(key_id)
        if aead is None:
            try:
                aead = self._aeads[key_id] = AESGCM(self.master_keys[key_id].key)
            except KeyError:
                raise UnknownKeyError(f"master key {key_id!r} is not in the key file {self.path}") from None
        return aead

    def aeads(self) -> dict[bytes, AESGCM]:
        """Every master key's cipher by its id as bytes, for hot loops that parse ids out of blobs."""
        return {key_id.encode(): self.aead(key_id) for key_id in self.master_keys}

    def sign(self, message: bytes) -> bytes:
        return self._signing_key.sign(message)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._signing_key.public_key()

    def public_key_bytes(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        """SHA256:<base64> of the public signing key, as OpenSSH shows keys: the signing key stays
        through rotations, so this names the key file a database belongs to, and reveals nothing."""
        digest = hashlib.sha256(self.public_key_bytes()).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def derive(self, label: bytes) -> bytes:
        """A 256-bit key for one purpose (`label`), HKDF-SHA-256 from the signing key: it needs no
        new field in the key file and does not change when master keys rotate."""
        key = self._derived.get(label)
        if key is None:
            seed = self._signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            key = self._derived[label] = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                              info=b"liaison-bot/" + label).derive(seed)
        return key

    def verify_signature(self, key_id: str, signature: bytes, message: bytes) -> bool:
        if key_id != self.signing_key_id:
            return False
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def load(path: str | Path) -> Keyring:
    """Read the key file; refuse it when group or others may read or write it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        # No advice here: whether a new key file is safe depends on the database (storage.key_binding).
        raise KeyringError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyringError(f"key file {path} cannot be opened: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # checked before fdopen, which refuses a folder naming only its descriptor
        os.close(fd)
        raise KeyringError(f"key file {path} is not a regular file: give the path of the key file itself "
                           "([keys] path), e.g. var/keys/liaison.keys")
    with os.fdopen(fd, "rb") as handle:
        if stat.S_IMODE(mode) & ~0o600:  # any bit beyond owner read/write, execute and setuid included
            raise KeyFilePermissionError(
                f"key file {path} has permissions {stat.S_IMODE(mode):04o}, wider than 0600; "
                f"run `chmod 600 {path}` (and consider rotating: others may have read it)"
            )
        raw = handle.read()
    return _parse(path, raw)


def generate(path: str | Path, *, force: bool = False, now: datetime | None = None) -> Keyring:
    """Create a new key file with one master key and a signing key; never overwrites unless `force`."""
    path = Path(path)
    now = _utc(now)
    signing = Ed25519PrivateKey.generate()
    master = MasterKey(_new_id("mk", now), now, os.urandom(32))
    keyring = Keyring(path, {master.id: master}, master.id, _new_id("sk", now), signing, now)
    with _locked(path):
        _write_atomically(path, _serialise(keyring), replace=force)
    return keyring


def rotate(path: str | Path, *, now: datetime | None = None) -> Keyring:
    """Add a new master key and make it current; older keys stay so their content stays readable."""
    path = Path(path)
    now = _utc(now)
    with _locked(path):  # two rotations at once must not lose a key
        old = load(path)
        master = MasterKey(_new_id("mk", now), now, os.urandom(32))
        keys = {**old.master_keys, master.id: master}
        keyring = Keyring(path, keys, master.id, old.signing_key_id, old._signing_key, old.signing_created_at)
        _write_atomically(path, _serialise(keyring), replace=True)
    return keyring


def _new_id(prefix: str, now: datetime) -> str:
    # Random, not derived from the key: an id must reveal nothing about the key it names.
    return f"{prefix}-{now:%Y%m%d}-{os.urandom(3).hex()}"


def _utc(now: datetime | None) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("naive datetime: key creation times are UTC")
    return now.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _serialise(keyring: Keyring) -> bytes:
    private = keyring._signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    document = {
        "format": FORMAT,
        "current": keyring.current_id,
        "master_keys": [
            {"id": k.id, "created_at": _iso(k.created_at), "key": base64.b64encode(k.key).decode()}
            for k in sorted(keyring.master_keys.values(), key=lambda k: (k.created_at, k.id))
        ],
        "signing_key": {
            "id": keyring.signing_key_id,
            "created_at": _iso(keyring.signing_created_at),
            "private": base64.b64encode(private).decode(),
            "public": base64.b64encode(keyring.public_key_bytes()).decode(),
        },
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def _parse(path: Path, raw: bytes) -> Keyring:
    # Errors name the file and the field, never a value: the values are the secrets.
    try:
        document = json.loads(raw)
        if document.get("format") != FORMAT:
            raise KeyringError(f"key file {path}: unknown format (expected {FORMAT})")
        masters = {}
        for entry in document["master_keys"]:
            masters[entry["id"]] = MasterKey(
                entry["id"], datetime.fromisoformat(entry["created_at"]), base64.b64decode(entry["key"], validate=True)
            )
        signing = document["signing_key"]
        private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(signing["private"], validate=True))
        return Keyring(path, masters, document["current"], signing["id"], private,
                       datetime.fromisoformat(signing["created_at"]))
    except KeyringError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyringError(f"key file {path} is malformed ({type(exc).__name__} in its structure)") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a sidecar file: the key file itself is replaced, so it cannot carry the lock."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Temp file (0600) + fsync + link or rename + fsync of the directory: all or nothing on disk."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # the umask can only narrow the mode, but say it anyway
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path exists: never clobber a key file by accident
            except FileExistsError:
                raise KeyringError(f"key file {path} already exists; pass --force to replace it "
                                   "(content sealed under its keys becomes unreadable)") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
