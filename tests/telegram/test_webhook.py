"""Webhook mode: an unguessable path, the secret header checked, updates recorded before the 200."""

from __future__ import annotations

import socket
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp

from bot.config.settings import SecretRef, TelegramMode
from tests.telegram.support import OFFICER, eventually, relaxed, running_bot, settings_for

SECRET = "s3cret-token_for-the-webhook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode(tmp_path, fake, monkeypatch) -> None:
    monkeypatch.setenv("LIAISON_TEST_WEBHOOK_SECRET", SECRET)
    port = free_port()
    settings = settings_for(tmp_path, fake.base_url)
    telegram = replace(settings.telegram, mode=TelegramMode.WEBHOOK, webhook_url="https://bot.example.org/telegram",
                       webhook_listen=("127.0.0.1", port),
                       webhook_secret=SecretRef.from_env("LIAISON_TEST_WEBHOOK_SECRET"))
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake),
                           settings=replace(settings, telegram=telegram)) as bot:
        await eventually(lambda: fake.webhook is not None, "setWebhook")
        hook = fake.webhook
        assert hook["secret_token"] == SECRET and hook["max_connections"] == 1
        assert hook["allowed_updates"] == ["message", "edited_message", "callback_query", "chat_join_request"]
        path = urlsplit(hook["url"]).path
        assert path.startswith("/telegram/") and len(path) > len("/telegram/") + 40  # 32 random bytes
        local = f"http://127.0.0.1:{port}{path}"
        update = {"update_id": 9001, "message": fake.world.user_message(OFFICER, fake.world.chats[OFFICER.id],
                                                                         "/whoami")}
        async with aiohttp.ClientSession() as http:
            async def post(url: str, secret: str | None) -> int:
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
                async with http.post(url, json=update, headers=headers) as response:
                    return response.status

            assert await post(local, None) == 403
            assert await post(local, SECRET[:-1] + "X") == 403
            assert await post(f"http://127.0.0.1:{port}/telegram/guess", SECRET) == 404
            assert bot.inbox_events() == []
            assert await post(local, SECRET) == 200
            assert bot.inbox_events() == ["telegram:9001"]  # recorded before the 200
            assert await post(local, SECRET) == 200  # Telegram repeats an update it thinks was lost
        await eventually(lambda: any("You are" in s.text for s in fake.sent_to(OFFICER.id)), "the answer")
        assert len([s for s in fake.sent_to(OFFICER.id) if "You are" in s.text]) == 1
        assert not [r for r in fake.requests if r.method == "getUpdates"]
