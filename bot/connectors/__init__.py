"""Connectors: the only code that knows a chat platform. Each maps its errors to bot.connectors.errors once."""
