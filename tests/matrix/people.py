"""People on Matrix for the tests: real nio clients with end-to-end encryption, each with a store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)
from nio.api import Api
from nio.crypto.attachments import decrypt_attachment, encrypt_attachment
from nio.store import SqliteStore

from tests.matrix.synapse import Account

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class Person:
    """A Matrix user with a phone: syncs, decrypts, sends, reacts, replies."""

    def __init__(self, homeserver: str, account: Account, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(homeserver, account.user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=True, store=SqliteStore,
                                                           store_sync_tokens=False, request_timeout=60))
        self.events: list[tuple[str, Any]] = []  # (room id, event) in the order received, decrypted
        self.invites: dict[str, dict[str, Any]] = {}  # room id -> the invite member event's source
        self._unreachable: set[tuple[str, str]] = set()  # devices no room key could be given to in time

    async def login(self) -> Person:
        self.client.restore_login(self.account.user_id, self.account.device_id, self.account.access_token)
        await self.sync()
        return self

    async def close(self) -> None:
        await self.client.close()

    async def sync(self, timeout_ms: int = 0) -> None:
        client = self.client
        # A timeline long enough for a burst (the server's default is 10): a limited one would skip events.
        response = await client.sync(timeout=timeout_ms, since=client.next_batch or None,
                                     sync_filter={"room": {"timeline": {"limit": 100}}})
        assert isinstance(response, SyncResponse), response
        # nio reads a one-time key count of 0 as no count and then never uploads keys again (a device
        # whose keys were all claimed would stay out of reach for good); a phone's app uploads more.
        if response.device_key_count.signed_curve25519 == 0 and client.olm is not None:
            client.olm.uploaded_key_count = 0
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self.events.append((room_id, event))
        for room_id, info in response.rooms.invite.items():
            for event in info.invite_state:
                if isinstance(event, InviteMemberEvent) and event.state_key == self.user_id:
                    self.invites[room_id] = {"sender": event.sender, "content": event.content}
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def wait_for(self, found: Callable[[], Any], timeout: float = 90.0, what: str = "") -> Any:
        """Sync until `found()` is truthy; its value. Fails after `timeout` seconds (never a timing test)."""
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user_id} waited {timeout:.0f}s in vain for {what or found}")
            await self.sync(timeout_ms=1000)

    # --- what they see ---------------------------------------------------------------------------

    def messages(self, room_id: str | None = None, sender: str | None = None) -> list[tuple[str, Any]]:
        """Decrypted m.room.message events (room id, event), optionally of one room and sender."""
        found = []
        for rid, event in self.events:
            source = getattr(event, "source", {})
            if source.get("type") != "m.room.message":
                continue
            if room_id is not None and rid != room_id:
                continue
            if sender is not None and event.sender != sender:
                continue
            found.append((rid, event))
        return found

    def undecrypted(self) -> list[Any]:
        return [event for _, event in self.events if isinstance(event, MegolmEvent)]

    # --- what they do ----------------------------------------------------------------------------

    async def create_room(self, invite: list[str], encrypted: bool = False, name: str = "") -> str:
        response = await self.client.room_create(name=name or None, invite=invite, preset=RoomPreset.private_chat,
                                                 initial_state=[ENCRYPTION] if encrypted else [])
        assert isinstance(response, RoomCreateResponse), response
        await self.wait_for(lambda: response.room_id in self.client.rooms, what=f"room {response.room_id}")
        return response.room_id

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        assert isinstance(response, JoinResponse), response
        await self.wait_for(lambda: room_id in self.client.rooms, what=f"joined {room_id}")

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_invite(room_id, user_id)
        assert not hasattr(response, "status_code") or response.status_code is None, response

    async def share_room_key(self, room_id: str, budget: float = 5.0) -> None:
        """Before a send into an encrypted room: its group session given to every device of its members,
        as a phone's app does. nio shares it once, skips a device whose one-time key claim came back
        empty (Synapse on PostgreSQL hands one of two concurrent claimers nothing; a device may not have
        uploaded keys yet) and marks it shared, so that device could never read what this person says.
        Here the claim is made again, the same session given to the devices still without it, for up to
        `budget` seconds; then the send goes on (a lost message is then what a benchmark counts), and
        that device is offered the session once per later send, without waiting for it again."""
        client = self.client
        room = client.rooms[room_id]
        if not room.encrypted or client.olm is None:
            return
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        deadline = time.monotonic() + budget
        first = True
        while True:
            if client.olm.should_share_group_session(room_id):
                await client.share_group_session(room_id, ignore_unverified_devices=True)
            session = client.olm.outbound_group_sessions[room_id]
            self._unreachable -= session.users_shared_with
            missing = self._without_key(room_id)
            waiting = [device for device in missing if device not in self._unreachable]
            if not missing or (not waiting and not first) or time.monotonic() > deadline:
                self._unreachable.update(waiting)
                return
            first = False
            session.shared = False  # nio's next share gives this same session to those without it
            if waiting:
                await asyncio.sleep(0.25)

    def _without_key(self, room_id: str) -> list[tuple[str, str]]:
        client = self.client
        assert client.olm is not None
        session = client.olm.outbound_group_sessions[room_id]
        return [(user, device.id) for user in client.rooms[room_id].users
                for device in client.device_store.active_user_devices(user)
                if device.id != client.device_id and (user, device.id) not in session.users_shared_with
                and (user, device.id) not in session.users_ignored and not client.olm.is_device_blacklisted(device)]

    async def send(self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        await self.share_room_key(room_id)
        response = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": text})

    async def reply(self, room_id: str, to_event: Any, text: str, thread: bool = False) -> str:
        """A reply with the classic fallback (quoted original, empty line), as many clients send it."""
        quoted = "\n".join(f"> {line}" for line in [f"<{to_event.sender}> " + to_event.body.split("\n")[0],
                                                     *to_event.body.split("\n")[1:3]])
        relates: dict[str, Any] = {"m.in_reply_to": {"event_id": to_event.event_id}}
        if thread:
            relates = {"rel_type": "m.thread", "event_id": to_event.event_id, "is_falling_back": False,
                       "m.in_reply_to": {"event_id": to_event.event_id}}
        return await self.send(room_id, {"msgtype": "m.text", "body": f"{quoted}\n\n{text}",
                                         "m.relates_to": relates})

    async def send_file(self, room_id: str, data: bytes, name: str, mime: str, caption: str,
                        reply_to: str | None = None) -> str:
        """A photo (m.image) or file (m.file) with a caption, as Element sends it: in an encrypted room
        the upload is encrypted with a key of its own, carried in the event's `file` object."""
        encrypted = self.client.rooms[room_id].encrypted
        upload, keys = encrypt_attachment(data) if encrypted else (data, None)
        response, _ = await self.client.upload(lambda *_: upload, content_type="application/octet-stream"
                                               if encrypted else mime, filesize=len(upload))
        assert isinstance(response, UploadResponse), response
        content: dict[str, Any] = {"msgtype": "m.image" if mime.startswith("image/") else "m.file",
                                   "body": caption, "filename": name, "info": {"mimetype": mime, "size": len(data)}}
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if keys is not None:
            content["file"] = {"url": response.content_uri, **keys}
        else:
            content["url"] = response.content_uri
        return await self.send(room_id, content)

    async def fetch_file(self, event: Any) -> bytes:
        """The bytes of an m.image or m.file event as a client shows them: downloaded from the
        (authenticated) media repository and, for an encrypted room's `file`, decrypted and checked."""
        content = event.source["content"]
        encrypted = content.get("file")
        server, _, media_id = (encrypted["url"] if encrypted else content["url"]).removeprefix("mxc://").partition("/")
        session = self.client.client_session
        assert session is not None
        async with session.get(f"{self.client.homeserver}/_matrix/client/v1/media/download/{server}/{media_id}",
                               headers={"Authorization": f"Bearer {self.client.access_token}"}) as response:
            assert response.status == 200, response.status
            data = await response.read()
        if encrypted:
            data = decrypt_attachment(data, encrypted["key"]["k"], encrypted["hashes"]["sha256"], encrypted["iv"])
        return data

    async def react(self, room_id: str, event_id: str, key: str, encrypted: bool = False) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        if not encrypted:
            return await self.send(room_id, content, "m.reaction")
        # nio sends reactions in clear; Element encrypts them: do what Element does.
        client = self.client
        await self.share_room_key(room_id)
        event_type, encrypted_content = client.encrypt(room_id, "m.reaction", content)
        method, path, data = Api.room_send(client.access_token, room_id, event_type, encrypted_content,
                                           f"react-{time.monotonic_ns()}")
        response = await client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(response, RoomSendResponse), response
        return response.event_id


async def gather_people(*people: Person) -> None:
    await asyncio.gather(*(p.login() for p in people))
