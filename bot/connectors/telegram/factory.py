"""Building the Telegram connector from the settings, for the composition root (bot/runtime/app.py).

    from bot.connectors.telegram import telegram_connector_for
    if settings.telegram.enabled:
        add_receiver(runtime, telegram_connector_for(runtime, vocabulary_for(settings)))

The token (and the webhook secret) are read here, once; they live on only inside PTB's Bot.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config.connectors import TelegramMode, TelegramSettings
from bot.connectors.telegram.api import TelegramApi, build_application, quiet_library_logs
from bot.connectors.telegram.chats import ChatMigrations
from bot.connectors.telegram.connector import TelegramConnector, WebhookConfig
from bot.connectors.telegram.guided_chat import GuidedChats
from bot.connectors.telegram.intake import Intake
from bot.connectors.telegram.invite_links import InviteLinks
from bot.connectors.telegram.sender import TelegramSender, telegram_limiter
from bot.connectors.telegram.store import RuntimeTelegramStore
from bot.connectors.guided import GuidedForm
from bot.runtime.keys import ensure_keyring
from bot.connectors.ratelimit import RateLimiter
from handlers.vocabulary import Vocabulary
from storage.sealing import AesGcmSealer

if TYPE_CHECKING:
    from bot.runtime.app import Runtime


def telegram_connector_for(runtime: Runtime, vocabulary: Vocabulary, *, settings: TelegramSettings | None = None,
                           limiter: RateLimiter | None = None, poll_timeout: int = 25,
                           request_timeout: float = 10.0, form_ttl: timedelta = timedelta(hours=2)) -> TelegramConnector:
    """The connector for `runtime` (settings default to runtime.settings.telegram); SecretError when
    the token cannot be read."""
    settings = settings or runtime.settings.telegram
    if settings.token is None:
        raise ValueError("telegram.token is not set")
    quiet_library_logs()
    application = build_application(settings.token.read(), settings.api_url, timeout=request_timeout)
    api = TelegramApi(application)
    store = RuntimeTelegramStore(runtime)
    migrations = ChatMigrations()
    keyring = ensure_keyring(runtime.settings.keys.path, sys.stderr)  # created already by build_runtime
    sender = TelegramSender(api, limiter or telegram_limiter(), migrations, store)
    # The runtime's clock, as every other message's time: the form's alert is received at the bot's time.
    guided = GuidedChats(GuidedForm(vocabulary, form_ttl), store, AesGcmSealer.from_keyring(keyring), sender,
                         clock=lambda: runtime.clock.now().timestamp())
    links = InviteLinks(store)
    intake = Intake(api, sender, guided, store, runtime.directory, migrations, runtime.clock.now, links=links,
                    attachments=runtime.settings.attachments.policy())
    webhook = None
    if settings.mode is TelegramMode.WEBHOOK:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("webhook mode needs telegram.webhook_url and telegram.webhook_secret")
        webhook = WebhookConfig(settings.webhook_url, settings.webhook_listen, settings.webhook_secret.read())
    return TelegramConnector(api, sender, intake, store, migrations, webhook=webhook, poll_timeout=poll_timeout,
                             invite_links=links)
