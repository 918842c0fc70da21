"""The [portal] section: the web portal the bot serves (bot/portal/).

    [portal]
    enabled = false                 # serve the portal
    listen = "127.0.0.1:8470"       # localhost: put a TLS reverse proxy in front of it
    public_url = "https://portal.example.org"   # as browsers reach it; https makes the cookie Secure
    link_lifetime = "5m"            # how long a /portal link may wait to be used (once)
    session_lifetime = "30m"        # how long a login lasts
    logins_per_minute = 10          # link redemptions one address may try per minute
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import ValidationInfo, model_validator

from bot.config.connectors import http_url
from bot.config.ops import LISTEN_EXPECT, _split, listen_address
from bot.config.reader import Check, loaded, settings
from bot.config.values import Between, Bool, Whole


@settings
class PortalSettings:
    listen: Annotated[str, Check(listen_address, LISTEN_EXPECT, text=True)] = "127.0.0.1:8470"
    # Where people's browsers reach the portal (the reverse proxy); unset: http://<listen>, this machine only.
    public_url: Annotated[str | None, Check(http_url, 'an address like "https://portal.example.org"', text=True)] = None
    link_lifetime: Annotated[timedelta, Between(timedelta(minutes=1), timedelta(minutes=30))] = timedelta(minutes=5)
    session_lifetime: Annotated[timedelta, Between(timedelta(minutes=5), timedelta(hours=12))] = timedelta(minutes=30)
    logins_per_minute: Annotated[int, Whole(1)] = 10
    enabled: Bool = False

    @property
    def host(self) -> str:
        return _split(self.listen)[0]

    @property
    def port(self) -> int:
        return int(_split(self.listen)[2])

    def base_url(self, port: int | None = None) -> str:
        """The portal's address as links give it; `port`: the one really bound (listen asked for 0)."""
        if self.public_url:
            return self.public_url
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{port if port is not None else self.port}"

    @property
    def secure(self) -> bool:
        """Served over TLS (by the reverse proxy): the session cookie is then sent only over TLS."""
        return (self.public_url or "").startswith("https://")

    @model_validator(mode="after")
    def _plain_http(self, info: ValidationInfo) -> PortalSettings:
        load = loaded(info)
        if load and self.enabled and self.host not in ("127.0.0.1", "::1", "localhost") and not self.secure:
            load.warn("portal.listen", f"the portal listens on {self.listen} without a https public_url: serve "
                                       "it behind a TLS reverse proxy, or its session cookies cross the network "
                                       "in clear")
        return self
