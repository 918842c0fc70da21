"""The web portal: the bot's own pages (overdue board, items, statistics, an item's audit trail),
served from the same database under the same caveat rule as chat (handlers.visibility)."""
