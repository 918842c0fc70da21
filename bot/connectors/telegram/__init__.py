"""The Telegram connector (python-telegram-bot 22).

    from bot.connectors.telegram import telegram_connector_for
    add_receiver(runtime, telegram_connector_for(runtime, vocabulary_for(settings)))

Modules: factory (building it from the settings), connector (start/stop/send/receive), polling and
webhook (how updates arrive), intake (updates -> inbox messages, form steps, refusals), safety (who
may give commands), guided_chat (the guided /alert form in private chats), sender (HTML, parts, limits,
buttons), formatting, buttons, chats (supergroup moves), store (what it keeps in the database),
api (the PTB calls), errors (PTB exceptions -> bot.connectors.errors, in one place), batch.
"""

from bot.connectors.telegram.connector import TelegramConnector, WebhookConfig
from bot.connectors.telegram.factory import telegram_connector_for

__all__ = ["TelegramConnector", "WebhookConfig", "telegram_connector_for"]
