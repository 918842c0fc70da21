"""The bot's Matrix session: log in once, then keep the same device across restarts.

Under `store_path` (0700):

    session.json        user id, device id and access token (0600)
    crypto/             nio's SqliteStore: the Olm account, Olm and Megolm sessions, device keys and
                        their trust, every secret pickled by vodozemac under the pickle key (0600)
    direct_rooms.json   the direct chat the bot uses with each person (0600; see sending.DirectChats)
    undecrypted.json    encrypted events still waiting for their room key (0600)

Keeping the device id is what makes a resend after a crash safe: Matrix de-duplicates transaction ids
per device. The sync token is *not* kept here: nio is told not to store it (store_sync_tokens=False)
and the connector passes `since` from the bot's own database on every sync.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, LoginResponse, SyncResponse, WhoamiResponse
from nio.store import SqliteStore

from bot.connectors.matrix.errors import SessionExpired, from_response
from bot.connectors.matrix.files import private_dir, read_json, touch_private, write_json
from bot.connectors.matrix.sansio.outbound import FILES_FIELD, KEY_FIELD
from bot.config.credentials import SecretRef

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
CRYPTO_DIR = "crypto"


class MatrixStartError(Exception):
    """The session cannot be opened and retrying will not help (bad credentials, wrong pickle key)."""


@dataclass(frozen=True)
class SessionPaths:
    root: Path

    @property
    def session(self) -> Path:
        return self.root / SESSION_FILE

    @property
    def crypto(self) -> Path:
        return self.root / CRYPTO_DIR

    @property
    def direct_rooms(self) -> Path:
        return self.root / "direct_rooms.json"

    @property
    def undecrypted(self) -> Path:
        return self.root / "undecrypted.json"

    def crypto_db(self, user_id: str, device_id: str) -> Path:
        return self.crypto / f"{user_id}_{device_id}.db"  # nio's MatrixStore naming

    def prepare(self) -> None:
        private_dir(self.root)
        private_dir(self.crypto)


def client_config(pickle_key: str, request_timeout: float) -> AsyncClientConfig:
    return AsyncClientConfig(
        encryption_enabled=True,
        store=SqliteStore,  # one SQLite file, trust state included (the default store adds text files)
        pickle_key=pickle_key,
        store_sync_tokens=False,  # the bot keeps the sync token, in the same transaction as the inbox
        max_limit_exceeded=0,  # hand every 429 back to us: the connector honours it and the worker retries
        max_timeouts=0,  # and every timeout: a send that timed out is an unknown outcome, not a silent loop
        request_timeout=request_timeout,
    )


class KeyedClient(AsyncClient):
    """An AsyncClient whose encrypted events carry the outbox key outside the ciphertext too: another
    device of the bot (the standby after a failover) may hold no room key for them, yet must find an
    earlier send by its key. The key is random and says nothing about the content. So do the ids of the
    photos sent with a text (FILES_FIELD): any device of the bot can then take them back with it.

    It also uploads one-time keys again once all were claimed: nio reads a count of 0 in a sync as no
    count at all and keeps the last one, so a burst of claims between two syncs (many people starting
    to write to the bot at once) would leave the bot with no one-time key for good, and nobody could
    start an Olm session with it, so nobody could give it the room keys of what they write."""

    async def receive_response(self, response: Any) -> None:
        await super().receive_response(response)
        if (isinstance(response, SyncResponse) and self.olm is not None
                and response.device_key_count.signed_curve25519 == 0):
            self.olm.uploaded_key_count = 0  # should_upload_keys: then the upkeep uploads a full set

    def encrypt(self, room_id: str, message_type: str, content: dict[Any, Any]) -> tuple[str, dict[str, Any]]:
        kind, encrypted = super().encrypt(room_id, message_type, content)
        encrypted_: dict[str, Any] = encrypted
        if isinstance(content.get(KEY_FIELD), str):
            encrypted_[KEY_FIELD] = content[KEY_FIELD]
        if isinstance(content.get(FILES_FIELD), list):
            encrypted_[FILES_FIELD] = list(content[FILES_FIELD])
        return kind, encrypted_


def new_device_id() -> str:
    return "LIAISON" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(8))


async def open_session(
    *,
    homeserver: str,
    user_id: str,
    password: SecretRef | None,
    access_token: SecretRef | None,
    pickle_key: SecretRef,
    device_name: str,
    paths: SessionPaths,
    request_timeout: float = 30.0,
) -> AsyncClient:
    """A logged-in AsyncClient with its crypto store loaded; raises MatrixStartError or a PlatformError
    (a transient failure: the caller tries again later)."""
    paths.prepare()
    try:
        key = pickle_key.read()
    except Exception as exc:  # SecretError: say where, never what
        raise MatrixStartError(f"matrix.pickle_key: {exc}") from None
    client = KeyedClient(homeserver, user_id, store_path=str(paths.crypto), config=client_config(key, request_timeout))
    try:
        device_id, token = await _credentials(client, homeserver, user_id, password, access_token, device_name, paths)
        touch_private(paths.crypto_db(user_id, device_id))
        try:
            client.restore_login(user_id, device_id, token)
        except Exception as exc:
            raise MatrixStartError(
                f"the crypto store {paths.crypto_db(user_id, device_id)} cannot be opened with matrix.pickle_key "
                f"({type(exc).__name__}); a changed pickle key needs a new device: move {paths.root} aside"
            ) from None
        for path in paths.crypto.iterdir():  # journals and anything nio made itself: 0600 as well
            if path.is_file():
                touch_private(path)
        return client
    except BaseException:
        await client.close()
        raise


async def _credentials(client: AsyncClient, homeserver: str, user_id: str, password: SecretRef | None,
                       access_token: SecretRef | None, device_name: str, paths: SessionPaths) -> tuple[str, str]:
    saved = read_json(paths.session) or {}
    if saved.get("user_id") != user_id or saved.get("homeserver") != homeserver:
        saved = {}
    if access_token is not None:
        token = _read(access_token, "matrix.access_token")
        device_id = await _whoami(client, user_id, token)
        if device_id is None:
            raise MatrixStartError("matrix.access_token: the homeserver refuses this access token")
        _save(paths, homeserver, user_id, device_id, token)
        return device_id, token
    if saved.get("device_id") and saved.get("access_token"):
        device_id = await _whoami(client, user_id, saved["access_token"])
        if device_id is not None:
            if device_id != saved["device_id"]:
                raise MatrixStartError(f"{paths.session}: the saved token now belongs to device {device_id}")
            return device_id, saved["access_token"]
        log.warning("the saved Matrix session has expired; logging in again with the same device")
    if password is None:
        raise MatrixStartError("matrix: no access_token, and the saved session (if any) has expired")
    device_id = saved.get("device_id") or new_device_id()
    touch_private(paths.crypto_db(user_id, device_id))
    client.device_id = device_id
    response = await client.login(_read(password, "matrix.password"), device_name=device_name)
    if not isinstance(response, LoginResponse):
        error = from_response(response, "login")
        if error.retryable and not isinstance(error, SessionExpired):
            raise error
        raise MatrixStartError(f"matrix: login as {user_id} refused: {response.message}")
    if response.user_id != user_id:
        raise MatrixStartError(f"matrix: logged in as {response.user_id}, not {user_id}")
    _save(paths, homeserver, user_id, response.device_id, response.access_token)
    # The login response already loaded the store under this device id.
    return response.device_id, response.access_token


async def _whoami(client: AsyncClient, user_id: str, token: str) -> str | None:
    """The device id the token belongs to; None when the homeserver does not know the token."""
    client.access_token, client.user_id = token, user_id
    try:
        response = await client.whoami()
    finally:
        client.access_token = ""
    if isinstance(response, WhoamiResponse):
        if response.user_id != user_id:
            raise MatrixStartError(f"matrix: the access token belongs to {response.user_id}, not {user_id}")
        if not response.device_id:
            raise MatrixStartError("matrix: the access token has no device (an appservice token?)")
        return response.device_id
    error = from_response(response, "whoami")
    if isinstance(error, SessionExpired):
        return None
    if error.retryable:
        raise error
    raise MatrixStartError(f"matrix: whoami refused: {response.message}")


def _save(paths: SessionPaths, homeserver: str, user_id: str, device_id: str, token: str) -> None:
    write_json(paths.session, {"homeserver": homeserver, "user_id": user_id, "device_id": device_id,
                               "access_token": token})


def _read(ref: SecretRef, key: str) -> str:
    try:
        return ref.read()
    except Exception as exc:
        raise MatrixStartError(f"{key}: {exc}") from None
