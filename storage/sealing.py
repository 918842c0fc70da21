"""Content sealing at rest: AES-256-GCM with the record's identity bound as associated data.

A sealed blob is self-describing: version byte, key id length and key id, 12-byte nonce, then the
ciphertext with its tag. Version 1 blobs are sealed under a master key (the key id names it);
version 2 blobs under a case's data key (the key id names the data key, and the case reference is
part of the associated data too). A blob moved to another row, or another case, fails to open
because the row's identity is part of the associated data.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection

from alerts.clock import Clock
from storage.keyring import Keyring
from storage.case_keys import CaseKeyError, CaseKeys

MASTER_BLOB = 1
CASE_BLOB = 2
NONCE_BYTES = 12


class SealError(Exception):
    """A blob that cannot be opened: wrong key, wrong row, or tampered with."""


class ContentErased(SealError):
    """The blob was sealed under a case key that has been erased: the content is gone for good.
    `erased_at` says when, where it is known."""

    def __init__(self, message: str, erased_at: datetime | None = None) -> None:
        super().__init__(message)
        self.erased_at = erased_at


class ContentSealer(Protocol):
    """`case` names the item (its reference) whose data key should seal the content, so that
    erasing one case destroys exactly that case's content; None uses the master key."""

    def seal(self, plaintext: bytes, *, aad: bytes, case: str | None = None) -> bytes: ...

    def open(self, blob: bytes, *, aad: bytes, case: str | None = None) -> bytes: ...

    def forget(self) -> None:
        """Drop what is cached about rows: a savepoint rolled back may have undone them."""
        ...

    def numbered(self, case: str) -> None:
        """The case's reference was just handed out: it has no data key yet."""
        ...


def pack_blob(version: int, key_id: bytes, nonce: bytes, body: bytes) -> bytes:
    return bytes([version, len(key_id)]) + key_id + nonce + body


def unpack_blob(blob: bytes) -> tuple[int, bytes, bytes, bytes]:
    """(version, key id, nonce, ciphertext with tag); SealError when the framing is broken."""
    if len(blob) < 2:
        raise SealError("sealed blob too short")
    n = blob[1]
    if len(blob) < 2 + n + NONCE_BYTES + 16:
        raise SealError("sealed blob too short")
    return blob[0], blob[2 : 2 + n], blob[2 + n : 2 + n + NONCE_BYTES], blob[2 + n + NONCE_BYTES :]


def case_aad(key_id: bytes, case: str, aad: bytes) -> bytes:
    return key_id + b"|" + case.encode() + b"|" + aad


class AesGcmSealer:
    """Seals with the current master key (ignoring `case`); opens with whichever key id the blob names."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current key {current!r} is not among the keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} is not 256 bits")
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> AesGcmSealer:
        """Shares the keyring's ciphers (a sealer is made per transaction; key schedules are not)."""
        sealer = cls.__new__(cls)
        sealer._aeads = {key_id: keyring.aead(key_id) for key_id in keyring.master_keys}
        sealer._current = keyring.current_id
        return sealer

    def forget(self) -> None:
        """Nothing cached: the master keys come from the key file."""

    def numbered(self, case: str) -> None:
        """No case keys here."""

    def seal(self, plaintext: bytes, *, aad: bytes, case: str | None = None) -> bytes:
        key_id = self._current.encode()
        nonce = os.urandom(NONCE_BYTES)
        body = self._aeads[self._current].encrypt(nonce, plaintext, key_id + b"|" + aad)
        return pack_blob(MASTER_BLOB, key_id, nonce, body)

    def open(self, blob: bytes, *, aad: bytes, case: str | None = None) -> bytes:
        try:
            version, key_id, nonce, body = unpack_blob(blob)
            if version != MASTER_BLOB:
                raise SealError("unknown sealed blob version")
            aead = self._aeads[key_id.decode()]
            return aead.decrypt(nonce, body, key_id + b"|" + aad)
        except SealError:
            raise
        except Exception as exc:  # InvalidTag, KeyError, IndexError: all mean "cannot open"
            raise SealError(f"cannot open sealed content ({type(exc).__name__})") from None


class CaseKeySealer:
    """ContentSealer with per-case data keys, in the caller's transaction.

    case=None seals under the current master key (same blobs as AesGcmSealer). case=REF seals
    under that case's data key, made on first use in the caller's transaction. Opening content of
    an erased case raises ContentErased; sealing new content for an erased case does too, since
    that content would outlive the erasure.
    """

    def __init__(self, connection: Connection, keyring: Keyring, clock: Clock | None = None) -> None:
        self._keyring = keyring
        self._master = AesGcmSealer.from_keyring(keyring)
        self.case_keys = CaseKeys(connection, keyring, clock)

    def forget(self) -> None:
        self.case_keys.forget()

    def numbered(self, case: str) -> None:
        self.case_keys.numbered(case)

    def seal(self, plaintext: bytes, *, aad: bytes, case: str | None = None) -> bytes:
        if case is None:
            return self._master.seal(plaintext, aad=aad)
        key = self.case_keys.get_or_create(case)
        if key.aead is None:
            raise ContentErased(f"case {case} was erased on {key.erased_at:%Y-%m-%d}; its content is not stored",
                                key.erased_at)
        key_id = key.key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        return pack_blob(CASE_BLOB, key_id, nonce, key.aead.encrypt(nonce, plaintext, case_aad(key_id, case, aad)))

    def open(self, blob: bytes, *, aad: bytes, case: str | None = None) -> bytes:
        blob = bytes(blob)
        if blob[:1] != bytes([CASE_BLOB]):
            return self._master.open(blob, aad=aad)
        if case is None:
            raise SealError("content sealed under a case key: say which case it belongs to")
        try:
            key = self.case_keys.get(case)
        except CaseKeyError as exc:
            raise SealError(str(exc)) from None
        if key is None:
            raise SealError(f"no data key for case {case}: the key row is missing (deleted, not erased)")
        if key.aead is None:
            raise ContentErased(f"content of case {case} was erased on {key.erased_at:%Y-%m-%d}", key.erased_at)
        _, key_id, nonce, body = unpack_blob(blob)
        if key_id != key.key_id.encode():
            raise SealError(f"content was not sealed under the data key of case {case}")
        try:
            return key.aead.decrypt(nonce, body, case_aad(key_id, case, aad))
        except Exception as exc:
            raise SealError(f"cannot open sealed content ({type(exc).__name__})") from None
