"""What the parser may check values against: the configured topics and the directory's codes.

The parser is pure; whoever calls it builds a Vocabulary from configuration and the directory
snapshot. An empty part means "not configured": the parser then checks only the shape of a value
and leaves the rest to the router.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vocabulary:
    topics: tuple[str, ...] = ()
    """Topic slugs; empty accepts any slug-like topic."""

    organisations: frozenset[str] = frozenset()
    """Known organisation codes (TH, MY, IOM, RSO); empty accepts any country code or short name."""

    desks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Organisation code -> its desk names in lowercase; an organisation not listed has no desks
    to check against, so any desk name is accepted for it."""

    bot_username: str | None = None
    """Telegram's /cmd@BotName is accepted only for this name (any case); None accepts any name."""

    def knows_bot(self, name: str) -> bool:
        return self.bot_username is None or name.lower() == self.bot_username.lstrip("@").lower()
