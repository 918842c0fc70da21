"""Webhook mode: Telegram posts each update to an unguessable path behind the operator's TLS proxy.

- The path is webhook_url's path plus 32 random bytes (URL-safe), new at every start and set with
  setWebhook, so the address cannot be guessed or reused by someone who saw an old one.
- The X-Telegram-Bot-Api-Secret-Token header must equal webhook_secret, compared in constant time.
- An update is answered 200 only once it is recorded; on any failure the answer is 500 and
  Telegram delivers it again (the inbox drops a repeat). setWebhook asks for one connection, so
  updates come one at a time, in order.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from bot.connectors.telegram.polling import Receive

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1 << 20


def webhook_address(webhook_url: str) -> tuple[str, str]:
    """(public URL to give setWebhook, local path to serve) with a fresh random last segment."""
    token = secrets.token_urlsafe(32)
    base = webhook_url.rstrip("/")
    return f"{base}/{token}", f"{urlsplit(base).path}/{token}"


class WebhookServer:
    def __init__(self, listen: tuple[str, int], path: str, secret: str, receive: Receive) -> None:
        self._listen = listen
        self._path = path
        self._secret = secret.encode()
        self._receive = receive
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post(self._path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # the access log would print the secret path
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen[0], self._listen[1]).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook call refused: wrong or missing secret token")
            return web.Response(status=403)
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400)
        try:
            await self._receive([update])
        except Exception:  # Telegram will post it again; the inbox drops it if it was recorded after all
            log.exception("recording Telegram update %s failed; answered 500", update["update_id"])
            return web.Response(status=500)
        return web.Response(status=200)
