"""A local Telegram Bot API server (aiohttp) for the connector tests and the bench.

    fake = FakeBotApi()
    await fake.start()                       # 127.0.0.1, a free port; fake.base_url for PTB
    fake.says(alice, "/whoami")              # a person writes to the bot (an update is queued)
    fake.press(alice, fake.sent[-1], "a:A-2026-0001")
    fake.fail_next("sendMessage", 429, retry_after=3, chat_id=alice.id)
    ...
    await fake.close()

People send photos and files too (`fake.sends_photo`, `fake.sends_document`): the update carries
them as Telegram does (a photo in several sizes, a caption), and the bot fetches them with getFile
and the file address; it sends them with sendPhoto and sendDocument (multipart uploads, captions of
at most 1024 characters), recorded in `sent` with their bytes.

It implements getMe, getUpdates (offset confirms, long-poll timeout, limit, allowed_updates),
sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, answerCallbackQuery, getChat, getChatMember,
banChatMember, unbanChatMember, createChatInviteLink, setWebhook and deleteWebhook, answering as
Telegram does ({"ok": true, "result": ...} or {"ok": false, "error_code", "description",
"parameters"}), enforces flood control (fake_bot_limits), and records every request in `requests`.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web

from tests.telegram.fake_bot_limits import Fault, FloodControl, Limits
from tests.telegram.fake_bot_methods import METHODS, ApiError
from tests.telegram.fake_bot_state import Chat, Sent, Upload, User, World

TOKEN = "123456789:TEST-token-for-the-fake-server"
_METHOD_NAMES = {name.lower(): name for name in METHODS}  # Bot API method names are case-insensitive
_INTS = {"chat_id", "user_id", "offset", "limit", "timeout", "message_id", "max_connections", "expire_date",
         "member_limit"}
_JSON = {"reply_markup", "allowed_updates", "reply_parameters", "link_preview_options", "protect_content",
         "show_alert", "drop_pending_updates", "disable_notification", "creates_join_request"}


@dataclass
class Request:
    at: float          # time.monotonic()
    method: str
    params: dict[str, Any]
    status: int = 0


class FakeBotApi:
    def __init__(self, token: str = TOKEN, limits: Limits | None = Limits(), bot_id: int = 7000001,
                 bot_username: str = "LiaisonTestBot") -> None:
        self.token = token
        self.world = World(User(bot_id, "Liaison", bot_username, is_bot=True))
        self.flood = FloodControl(limits)
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.updates: list[dict[str, Any]] = []  # queued, not yet confirmed by an offset
        self.webhook: dict[str, Any] | None = None
        self.duplicate_next = False
        self.max_batch: int | None = None  # at most this many updates per getUpdates answer
        self.after_batch: Callable[[list[dict[str, Any]]], None] | None = None  # called as a batch goes out
        self._last_batch: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- running ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port chosen for 0

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- people ---------------------------------------------------------------------------------

    def says(self, user: User | None, text: str | None, chat: Chat | None = None, *, reply_to: Sent | None = None,
             **extra: Any) -> int:
        """`user` writes `text` in `chat` (their private chat by default); returns the update id."""
        chat = chat or Chat(user.id, "private", user.first_name) if user else chat
        assert chat is not None
        return self.push({"message": self.world.user_message(user, chat, text, reply_to=reply_to, **extra)})

    def sends_photo(self, user: User, data: bytes, caption: str | None = None, chat: Chat | None = None, *,
                    reply_to: Sent | None = None) -> int:
        """`user` sends a photo (Telegram offers it in two sizes: a thumbnail and the photo), captioned."""
        thumb = self.world.new_file(data[:64])
        full = self.world.new_file(data)
        sizes = [{"file_id": thumb, "file_unique_id": "t" + thumb, "width": 90, "height": 67, "file_size": 64},
                 {"file_id": full, "file_unique_id": "u" + full, "width": 1280, "height": 960, "file_size": len(data)}]
        return self._sends(user, chat, caption, reply_to, photo=sizes)

    def sends_document(self, user: User, data: bytes, name: str, mime: str, caption: str | None = None,
                       chat: Chat | None = None, *, size: int | None = None) -> int:
        """`user` sends a file; `size` is what Telegram says of it (its real size unless told)."""
        file_id = self.world.new_file(data)
        document = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": name, "mime_type": mime,
                    "file_size": len(data) if size is None else size}
        return self._sends(user, chat, caption, None, document=document)

    def sends_album(self, user: User, photos: list[bytes], caption: str | None, chat: Chat | None = None, *,
                    reply_to: Sent | None = None) -> list[int]:
        """`user` sends several photos at once: one message each, one media_group_id, the caption (if any)
        on the first; sent as a reply, each message replies to `reply_to`, as Telegram has it."""
        group = f"album-{self.world.next_link_suffix()}"
        ids = []
        for index, data in enumerate(photos):
            full = self.world.new_file(data)
            sizes = [{"file_id": full, "file_unique_id": "u" + full, "width": 1280, "height": 960,
                      "file_size": len(data)}]
            ids.append(self._sends(user, chat, caption if index == 0 else None, reply_to, photo=sizes,
                                   media_group_id=group))
        return ids

    def _sends(self, user: User, chat: Chat | None, caption: str | None, reply_to: Sent | None, **media: Any) -> int:
        extra: dict[str, Any] = dict(media)
        if caption is not None:
            extra["caption"] = caption
            if caption.startswith("/"):
                word = caption.split(maxsplit=1)[0]
                extra["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        return self.says(user, None, chat, reply_to=reply_to, **extra)

    def press(self, user: User, sent: Sent, data: str) -> str:
        """`user` presses the button with `data` under `sent`; returns the callback query id."""
        query = self.world.callback_query(user, sent, data)
        self.push({"callback_query": query})
        return query["id"]

    def request_to_join(self, user: User, link: str) -> int | None:
        """`user` opens `link`: a join request (an update) when the link asks for approval; None when
        Telegram would refuse the link itself (revoked, unknown) or let them straight in."""
        made = self.world.invite_links.get(link)
        if made is None or made.is_revoked:
            return None
        if not made.creates_join_request:
            self.world.joined.add((made.chat_id, user.id))
            return None
        self.world.join_requests.add((made.chat_id, user.id))
        chat = self.world.chats[made.chat_id]
        return self.push({"chat_join_request": {
            "chat": chat.json(), "from": user.json(), "user_chat_id": user.id, "date": int(time.time()),
            "invite_link": made.json(self.world.bot)}})

    def migrate(self, group: Chat, new_id: int, by: User) -> Chat:
        """`group` becomes a supergroup: Telegram's two service messages, and the old id stops working."""
        supergroup = self.world.chat(Chat(new_id, "supergroup", group.title))
        self.world.moved[group.id] = new_id
        self.says(by, None, group, migrate_to_chat_id=new_id)
        self.says(by, None, supergroup, migrate_from_chat_id=group.id)
        return supergroup

    def push(self, payload: dict[str, Any]) -> int:
        update_id = self.world.next_update_id()
        self.updates.append({"update_id": update_id, **payload})
        self._arrived.set()
        return update_id

    @property
    def sent(self) -> list[Sent]:
        return self.world.sent

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.world.sent if s.chat_id == chat_id]

    def answered(self, query_id: str) -> str | None:
        """The text a callback query was answered with ("" for no text); None when never answered."""
        query = self.world.queries.get(query_id, {})
        return (query.get("text") or "") if query.get("answered") else None

    # --- faults ---------------------------------------------------------------------------------

    def fail_next(self, method: str, status: int, *, retry_after: int | None = None, chat_id: int | None = None,
                  times: int = 1, after: float = 0.0) -> None:
        """Refuse the next `method` with `status`; `after`: only that many seconds later (a send in
        flight meanwhile, which then fails)."""
        self.faults.append(Fault(method, "status", status=status, retry_after=retry_after, chat_id=chat_id,
                                 times=times, seconds=after))

    def stall_next(self, method: str, seconds: float, *, chat_id: int | None = None, times: int = 1) -> None:
        """Do the next `method`, then answer only after `seconds` (the client times out first)."""
        self.faults.append(Fault(method, "stall", seconds=seconds, chat_id=chat_id, times=times))

    def drop_next(self, method: str, *, chat_id: int | None = None, times: int = 1) -> None:
        """Do the next `method`, then hang up without an answer."""
        self.faults.append(Fault(method, "drop", chat_id=chat_id, times=times))

    # --- serving --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = _METHOD_NAMES.get(request.match_info["method"].lower(), request.match_info["method"])
        params = await _params(request)
        record = Request(time.monotonic(), method, params)
        self.requests.append(record)
        if request.match_info["token"] != self.token:
            return self._answer(record, ApiError(401, "Unauthorized"))
        fault = next((f for f in self.faults if f.matches(method, params.get("chat_id"))), None)
        if fault is not None:
            fault.times -= 1
            if fault.kind == "status":
                if fault.seconds:
                    await asyncio.sleep(fault.seconds)
                if fault.status == 429:
                    self.flood.open_window(fault.chat_id, fault.retry_after or 1)
                    self.flood.too_many += 1
                return self._answer(record, ApiError(fault.status, _description(fault.status),
                                                     {"retry_after": fault.retry_after} if fault.retry_after else None))
        handler = METHODS.get(method)
        if handler is None:
            return self._answer(record, ApiError(404, "Not Found"))
        try:
            result = await handler(self, params)
        except ApiError as error:
            return self._answer(record, error)
        if fault is not None and fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            record.status = -1
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # the connection is gone; nothing is answered
        record.status = 200
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        """The file address getFile's file_path points to."""
        self.requests.append(Request(time.monotonic(), "file", {"path": request.match_info["path"]}, 200))
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        data = self.world.files.get(request.match_info["path"].rsplit("/", 1)[-1])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    def _answer(self, record: Request, error: ApiError) -> web.Response:
        record.status = error.code
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    async def wait_for_update(self, timeout: float) -> None:
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except asyncio.TimeoutError:
            pass


def _description(status: int) -> str:
    return {429: "Too Many Requests: retry later", 500: "Internal Server Error", 502: "Bad Gateway",
            400: "Bad Request", 403: "Forbidden: bot was blocked by the user"}.get(status, "Error")


async def _params(request: web.Request) -> dict[str, Any]:
    """PTB posts form fields with JSON-encoded values for anything that is not a string."""
    if request.content_type == "application/json":
        return dict(await request.json())
    raw = dict(await request.post()) if request.can_read_body else {}
    raw.update(request.query)
    params: dict[str, Any] = {}
    uploads = {key: value for key, value in raw.items() if isinstance(value, web.FileField)}
    for key, field in uploads.items():  # multipart: a file part, named by an attach:// value or itself
        params[key] = Upload(field.filename, field.content_type, field.file.read())
        raw.pop(key)
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in params:
            params[key] = params.pop(value[9:])
            continue
        value = str(value)
        if key in _INTS and value.lstrip("-").isdigit():
            params[key] = int(value)
        elif key in _JSON:
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params
