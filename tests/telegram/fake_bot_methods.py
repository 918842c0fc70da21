"""The Bot API methods of the fake server, with Telegram's answers and Telegram's refusals."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from tests.telegram.fake_bot_state import DELETE_WINDOW, HtmlError, InviteLink, Sent, Upload, bot_commands, parse_html, shown_text, utf16_len

if TYPE_CHECKING:
    from tests.telegram.fake_bot_api import FakeBotApi


MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20_000_000  # getFile hands out files up to 20 MB to bots
MAX_PHOTO = 10_000_000


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


async def get_me(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    return {**fake.world.bot.json(), "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


async def get_updates(fake: FakeBotApi, params: dict[str, Any]) -> list[dict[str, Any]]:
    if fake.webhook is not None:
        raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                            "use deleteWebhook to delete the webhook first")
    offset = params.get("offset")
    if isinstance(offset, int) and offset > 0:  # confirms (forgets) everything below it
        fake.updates = [u for u in fake.updates if u["update_id"] >= offset]
    allowed = params.get("allowed_updates")
    limit = max(1, min(100, params.get("limit") or 100, fake.max_batch or 100))
    deadline = time.monotonic() + max(0, params.get("timeout") or 0)
    while True:
        ready = [u for u in fake.updates if not allowed or any(kind in u for kind in allowed)]
        if ready or time.monotonic() >= deadline:
            break
        await fake.wait_for_update(deadline - time.monotonic())
    batch = ready[:limit]
    if fake.duplicate_next and fake._last_batch:  # noqa: SLF001 - a fault: the last batch again
        fake.duplicate_next = False
        batch = fake._last_batch + batch  # noqa: SLF001
    fake._last_batch = list(batch)  # noqa: SLF001
    if batch and fake.after_batch is not None:
        fake.after_batch(batch)
    return batch


def _chat(fake: FakeBotApi, chat_id: Any) -> int:
    if not isinstance(chat_id, int):
        raise ApiError(400, "Bad Request: chat_id is empty" if chat_id is None else "Bad Request: chat not found")
    moved = fake.world.moved.get(chat_id)
    if moved is not None:
        raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                       {"migrate_to_chat_id": moved})
    if chat_id not in fake.world.chats:
        raise ApiError(400, "Bad Request: chat not found")
    if chat_id in fake.world.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return chat_id


def _flood(fake: FakeBotApi, chat_id: int) -> None:
    retry_after = fake.flood.check(chat_id)
    if retry_after is not None:
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _text(params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(as sent, as shown, entities): Telegram finds bot commands in plain text too."""
    html = str(params.get("text", ""))
    try:
        shown, entities = parse_html(html) if params.get("parse_mode") == "HTML" else (html, bot_commands(html))
    except HtmlError as error:
        raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
    if not shown.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(shown) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return html, shown, entities


async def send_message(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    chat_id = _chat(fake, params.get("chat_id"))
    html, shown, entities = _text(params)
    _flood(fake, chat_id)
    reply = params.get("reply_parameters") or {}
    sent = Sent(chat_id, fake.world.next_message_id(chat_id), shown, html, params.get("reply_markup"),
                bool(params.get("protect_content")), reply.get("message_id"), entities=entities, date=fake.world.now())
    fake.world.messages[(chat_id, sent.message_id)] = sent
    fake.world.sent.append(sent)
    return fake.world.bot_message_json(sent)


async def get_file(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    file_id = str(params.get("file_id", ""))
    data = fake.world.files.get(file_id)
    if data is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    if len(data) > MAX_DOWNLOAD:
        raise ApiError(400, "Bad Request: file is too big")
    return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": len(data),
            "file_path": f"documents/{file_id}"}


def _caption(params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    html = str(params.get("caption") or "")
    try:
        shown, entities = parse_html(html) if params.get("parse_mode") == "HTML" else (html, [])
    except HtmlError as error:
        raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
    if utf16_len(shown) > MAX_CAPTION:
        raise ApiError(400, "Bad Request: message caption is too long")
    return html, shown, entities


async def _send_media(fake: FakeBotApi, params: dict[str, Any], media: str) -> dict[str, Any]:
    chat_id = _chat(fake, params.get("chat_id"))
    upload = params.get(media)
    if not isinstance(upload, Upload):
        raise ApiError(400, f"Bad Request: there is no {media} in the request")
    if media == "photo" and len(upload.data) > MAX_PHOTO:
        raise ApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
    html, shown, entities = _caption(params)
    _flood(fake, chat_id)
    reply = params.get("reply_parameters") or {}
    sent = Sent(chat_id, fake.world.next_message_id(chat_id), shown, html, params.get("reply_markup"),
                bool(params.get("protect_content")), reply.get("message_id"), entities=entities, media=media,
                file=upload.data, file_name=upload.filename, date=fake.world.now())
    fake.world.messages[(chat_id, sent.message_id)] = sent
    fake.world.sent.append(sent)
    return fake.world.bot_message_json(sent)


async def send_photo(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    return await _send_media(fake, params, "photo")


async def send_document(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    return await _send_media(fake, params, "document")


def _message(fake: FakeBotApi, params: dict[str, Any]) -> Sent:
    """The bot's own message to edit, as Telegram finds it: one deleted is not found; a person's
    message is never the bot's to edit."""
    chat_id = _chat(fake, params.get("chat_id"))
    key = (chat_id, params.get("message_id"))
    sent = fake.world.messages.get(key)
    if sent is None and key in fake.world.user_messages and key not in fake.world.deleted:
        raise ApiError(400, "Bad Request: message can't be edited")
    if sent is None or key in fake.world.deleted:
        raise ApiError(400, "Bad Request: message to edit not found")
    _flood(fake, chat_id)
    return sent


async def edit_message_text(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    sent = _message(fake, params)
    if sent.media is not None:  # a photo or a file: its caption is edited with editMessageCaption
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    return _edited(fake, sent, params, *_text(params))


_NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                 "exactly the same as a current content and reply markup of the message")


async def edit_message_caption(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    sent = _message(fake, params)
    if sent.media is None:
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    return _edited(fake, sent, params, *_caption(params))


def _edited(fake: FakeBotApi, sent: Any, params: dict[str, Any], html: str, shown: str, entities: Any) -> dict[str, Any]:
    """A text's or a caption's edit, as Telegram makes it: refused when nothing changes, else kept."""
    if html == sent.html and params.get("reply_markup") == sent.reply_markup:
        raise ApiError(400, _NOT_MODIFIED)
    sent.edits.append(sent.text)
    sent.markups.append(sent.reply_markup)
    sent.html, sent.text, sent.entities, sent.reply_markup = html, shown, entities, params.get("reply_markup")
    return fake.world.bot_message_json(sent)


async def edit_message_reply_markup(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    sent = _message(fake, params)
    if params.get("reply_markup") == sent.reply_markup:
        raise ApiError(400, _NOT_MODIFIED)
    sent.markups.append(sent.reply_markup)
    sent.reply_markup = params.get("reply_markup")
    return fake.world.bot_message_json(sent)


async def answer_callback_query(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    query = fake.world.queries.get(str(params.get("callback_query_id")))
    if query is None or query["answered"]:
        raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
    query.update(answered=True, text=params.get("text"))
    return True


async def get_chat(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    return fake.world.chats[_chat(fake, params.get("chat_id"))].json()


async def get_chat_member(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    _chat(fake, params.get("chat_id"))
    user = params.get("user_id")
    status = "kicked" if (params.get("chat_id"), user) in fake.world.banned else "member"
    return {"status": status, "user": {"id": user, "is_bot": False, "first_name": "Member"}}


async def ban_chat_member(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    fake.world.banned.add((_chat(fake, params.get("chat_id")), params.get("user_id")))
    return True


async def unban_chat_member(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    fake.world.banned.discard((_chat(fake, params.get("chat_id")), params.get("user_id")))
    return True


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


async def create_chat_invite_link(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    chat_id = _chat(fake, params.get("chat_id"))
    joins_by_request = _flag(params.get("creates_join_request"))
    if joins_by_request and params.get("member_limit") is not None:
        raise ApiError(400, "Bad Request: member limit can't be specified for links requiring administrator approval")
    link = InviteLink(f"https://t.me/+fake{abs(chat_id)}{fake.world.next_link_suffix()}", chat_id,
                      joins_by_request, params.get("name"), params.get("expire_date"), params.get("member_limit"))
    fake.world.invite_links[link.invite_link] = link
    return link.json(fake.world.bot)


async def revoke_chat_invite_link(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
    chat_id = _chat(fake, params.get("chat_id"))
    link = fake.world.invite_links.get(str(params.get("invite_link")))
    if link is None or link.chat_id != chat_id:
        raise ApiError(400, "Bad Request: INVITE_HASH_EXPIRED")
    link.is_revoked = True
    return link.json(fake.world.bot)


async def _join_request(fake: FakeBotApi, params: dict[str, Any], approve: bool) -> bool:
    chat_id = _chat(fake, params.get("chat_id"))
    user_id = params.get("user_id")
    if (chat_id, user_id) not in fake.world.join_requests:
        raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
    fake.world.join_requests.discard((chat_id, user_id))
    if approve:
        fake.world.joined.add((chat_id, user_id))
    else:
        fake.world.declined.add((chat_id, user_id))
    return True


async def approve_chat_join_request(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    return await _join_request(fake, params, approve=True)


async def decline_chat_join_request(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    return await _join_request(fake, params, approve=False)


async def delete_message(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    """Telegram's rules for a bot: its own messages anywhere, and others' in a group only as an
    administrator with can_delete_messages (and in a private chat, the other side's too); any message
    only within 48 hours of its sending."""
    chat_id = _chat(fake, params.get("chat_id"))
    key = (chat_id, params.get("message_id"))
    if key in fake.world.deleted or (key not in fake.world.user_messages and key not in fake.world.messages):
        raise ApiError(400, "Bad Request: message to delete not found")
    ours = key in fake.world.messages
    date = fake.world.messages[key].date if ours else fake.world.user_messages[key]["date"]
    if fake.world.now() - date > DELETE_WINDOW:
        raise ApiError(400, "Bad Request: message can't be deleted for everyone")
    if not ours and chat_id < 0 and chat_id not in fake.world.can_delete:
        raise ApiError(400, "Bad Request: message can't be deleted")
    fake.world.deleted.add(key)
    return True


async def set_webhook(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    url = str(params.get("url", ""))
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    fake.webhook = {"url": url, "secret_token": params.get("secret_token"),
                    "allowed_updates": params.get("allowed_updates"), "max_connections": params.get("max_connections")}
    return True


async def delete_webhook(fake: FakeBotApi, params: dict[str, Any]) -> bool:
    fake.webhook = None
    if params.get("drop_pending_updates"):
        fake.updates.clear()
    await asyncio.sleep(0)
    return True


METHODS: dict[str, Callable[[FakeBotApi, dict[str, Any]], Awaitable[Any]]] = {
    "getMe": get_me, "getUpdates": get_updates, "sendMessage": send_message,
    "editMessageText": edit_message_text, "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "answerCallbackQuery": answer_callback_query, "getChat": get_chat, "getChatMember": get_chat_member,
    "banChatMember": ban_chat_member, "unbanChatMember": unban_chat_member,
    "createChatInviteLink": create_chat_invite_link, "deleteMessage": delete_message, "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook, "revokeChatInviteLink": revoke_chat_invite_link,
    "approveChatJoinRequest": approve_chat_join_request, "declineChatJoinRequest": decline_chat_join_request,
    "getFile": get_file, "sendPhoto": send_photo, "sendDocument": send_document,
}
