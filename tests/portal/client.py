"""A small HTTP client for the portal's tests: keeps cookies, never follows redirects, so that each
answer (its status, headers and Set-Cookie) can be looked at as the server gave it."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def field(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.body)
        assert found, f"no {name} field in the page"
        return found.group(1)


@dataclass
class Client:
    base: str  # http://127.0.0.1:PORT
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        parts = urllib.parse.urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read().decode())
        finally:
            connection.close()
        for line in answer.headers.get_all("Set-Cookie") or []:
            self.set_cookies.append(line)
            cookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Answer:
        return self.request("POST", path, form)

    def log_in(self, link: str) -> Answer:
        """Open the link and press its button: the redemption's answer (303 to /board when it worked), or
        the page itself when it has no button (a link that can no longer log in is refused on opening)."""
        path = urllib.parse.urlsplit(link).path
        page = self.get(path)
        if 'id="login"' not in page.body:
            return page
        return self.post("/login", {"csrf": page.field("csrf"), "token": page.field("token")})
