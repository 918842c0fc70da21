"""The web portal's HTTP side, on aiohttp.web with Jinja2 templates (autoescaped everywhere).

    portal = await start_portal(runtime, settings.portal)   # None when disabled or the port is taken
    print(portal.base_url)
    ...
    await portal.close()

Logging in: /portal in a direct chat gives a one-time link (handlers/portal.py). Opening it shows a
button; only pressing it (a POST) uses the link up, so a chat app's link preview cannot (opening only
checks it, and a link that can no longer log in says so at once, with no button). The session
is a random token in an HttpOnly, SameSite=Strict cookie (Secure, and named __Host-, when the public
URL is https); only its hash is stored, and `/member remove` ends it in the same transaction.

Every POST form carries a CSRF token derived from the session (or, before login, from a login cookie);
a POST without it is refused with 403. Every answer carries a strict Content-Security-Policy, no
Referer leaves the portal (the login URL holds a token), and no page is cached. Redirects go to fixed
paths only. Nothing here logs a token, a URL path or any content: aiohttp's access log is off.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import re
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web

from alerts.directory import Contact
from alerts.errors import InvalidValue
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.roles import Role
from alerts.messages import InboundMessage
from bot.config.portal import PortalSettings
from bot.portal import charts, views
from alerts.audit import AuditAction
from alerts.incident import COUNT_MINIMUM
from handlers import coordination, membership
from handlers.command_list import COMMANDS
from handlers.commands import ParseError
from handlers.lexer import OPENING_QUOTES
from handlers.parse_admin import ARRANGEMENT_ADD_EXAMPLE, ARRANGEMENT_END_EXAMPLE
from handlers.context import CommandContext
from handlers.portal import LOGIN_PATH, new_token, token_hash
from handlers.ports import UnitOfWork
from handlers.values import parse_period
from storage.audit.trail import export, read_entries
from handlers.visibility import record_view

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# The chat the portal's actions are recorded as coming from: answers to it are shown on the page.
PORTAL_CHAT = ChatRef(Platform.CONSOLE, "@liaison-portal")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The query keys each page takes, and an example; any other key, or one given twice, is refused (a
# mistyped key is never ignored: the page would show something other than what was asked).
QUERIES: dict[str, tuple[tuple[str, ...], str]] = {
    "/items": (("tlp", "topic", "country"), "/items?tlp=AMBER&country=TH"),
    "/stats": (("period",), "/stats?period=30d"),
    "/bulletin": (("month",), "/bulletin?month=2026-10"),
}
SESSION_ENDED = ("Your session ended before this form was sent, so nothing was done. To log in again, type "
                 "/portal in your direct chat with the bot and open the link it gives; then send the form again.")
LINK_GONE = ("This link has expired or was used; ask the bot for /portal again in a direct chat, and open the "
             "new link within {minutes} minutes.")
# The fields each form sends; anything else is refused before the form does anything.
LOGIN_FIELDS = ("csrf", "token")
TOKEN_FIELDS = ("csrf",)
ADD_FIELDS = ("csrf", "between", "doc", "topics", "from", "until", "direction")
END_FIELDS = ("csrf", "which", "reason")


class Refused(Exception):
    """A request refused with a short page: what was wrong, what is accepted, an example. Wherever it is
    raised, `PortalServer._refused` alone answers it, so every refusal page is made one way (the menu kept
    for someone logged in)."""

    def __init__(self, status: int, title: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.message, self.headers = status, title, message, headers or {}


@dataclass
class _PortalContext(CommandContext):
    """A chat command's context for a form: notes the audit actions its handler records, so that the
    page can answer a refusal as one (no admin entry: nothing was changed)."""

    recorded: list[AuditAction] = field(default_factory=list)

    def audit(self, action: AuditAction, **fields: object) -> None:
        self.recorded.append(action)
        super().audit(action, **fields)


class RateLimit:
    """At most `per_minute` attempts per client address in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        now = self._clock()
        if len(self._seen) > 10_000:  # a flood of addresses: forget the idle ones
            self._seen = {a: q for a, q in self._seen.items() if q and q[-1] > now - 60}
        recent = self._seen.setdefault(address, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return False
        recent.append(now)
        return True


def csrf_for(secret: str) -> str:
    """The CSRF token of a session (or login) cookie: a keyed hash of it, useless without the cookie."""
    return hmac.new(secret.encode(), b"portal-csrf", "sha256").hexdigest()


class PortalServer:
    def __init__(self, runtime: Any, settings: PortalSettings) -> None:
        self.runtime = runtime  # bot.runtime.app.Runtime (not imported: it imports this package's caller)
        self.settings = settings
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self.logins = RateLimit(settings.logins_per_minute)
        self.cookie = "__Host-portal" if settings.secure else "portal_session"
        self.login_cookie = "__Host-portal-login" if settings.secure else "portal_login"
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.portal", "templates"),
            autoescape=True,  # every template, whatever its name: bodies are hostile input
            undefined=jinja2.StrictUndefined,
        )
        self.templates.globals["menu_links"] = lambda viewer: views.menu(viewer, self.runtime.directory.current())
        self.stylesheet = resources.files("bot.portal").joinpath("static/portal.css").read_bytes()

    @property
    def base_url(self) -> str:
        return self.settings.base_url(self.port)

    # --- running ---------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers, self._errors], client_max_size=64 * 1024)
        r = app.router
        r.add_get("/", self._home)
        r.add_get("/static/portal.css", self._css)
        r.add_get(LOGIN_PATH + "{token}", self._login_form)
        r.add_post("/login", self._login)
        r.add_post("/logout", self._logout)
        r.add_get("/board", self._board)
        r.add_get("/items", self._items)
        r.add_get("/items/{reference}", self._item)
        r.add_get("/items/{reference}/audit", self._audit)
        r.add_get("/items/{reference}/audit.csv", self._audit_export)
        r.add_post("/items/{reference}/{action:remind|escalate}", self._act)
        r.add_get("/stats", self._stats)
        r.add_get("/bulletin", self._bulletin)
        r.add_get("/directory", self._directory)
        r.add_get("/rooms", self._rooms)
        r.add_get("/arrangements", self._arrangements)
        r.add_post("/arrangements/{action:add|end}", self._arrangement_change)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.application(), access_log=None)  # paths hold tokens and references
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = self._runner.addresses[0][1]
        log.info("web portal listening on %s:%d", self.settings.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- plumbing --------------------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        if isinstance(response, web.HTTPException):
            raise response
        return response

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Expected refusals as short pages; anything else as a 500 page, logged without its request."""
        try:
            problem = self._check_query(request)
            if problem:
                raise Refused(400, "Not understood", problem)
            return await handler(request)
        except Refused as refusal:
            return await self._refused(request, refusal)
        except (views.NotFound, web.HTTPNotFound):
            return await self._refused(request, Refused(404, "Not found",
                                                        "There is no such page, or it is not yours to see."))
        except web.HTTPMethodNotAllowed as error:
            allowed = ", ".join(sorted(error.allowed_methods))
            return await self._refused(request, Refused(
                405, "Not allowed", f"This address does not answer {request.method[:10]}. Accepted: {allowed}. "
                                    f"Example: open {request.path[:60]} in the browser.", {"Allow": allowed}))
        except web.HTTPRequestEntityTooLarge:
            return await self._refused(request, Refused(
                413, "Too large", "This form sent more than the portal takes (64 KiB). Accepted: the page's own "
                                  "fields. Example: reload the page and send its form as it is."))
        except web.HTTPException:
            raise
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("portal page failed (error reference %s)", ref)
            return await self._refused(request, Refused(
                500, "Something went wrong", f"The page could not be made. Error reference {ref}: tell an admin."))

    async def _refused(self, request: web.Request, refusal: Refused) -> web.Response:
        """The one way a refusal's page is made: with the menu for someone logged in, so that they go on
        from there as from any page; without it for anyone else."""
        try:
            found = await self._viewer(request)
        except Exception:  # what failed may be the database itself: the page is still said, without the menu
            log.warning("portal: the session of a refusal page could not be read")
            found = None
        viewer, csrf = (found[0], csrf_for(found[1])) if found is not None else (None, "")
        page = self._page("message.html", status=refusal.status, viewer=viewer, csrf=csrf, title=refusal.title,
                          message=refusal.message)
        page.headers.update(refusal.headers)
        return page

    def _check_query(self, request: web.Request) -> str:
        """Fail closed on the address: only the query keys its page takes, each once; else what was wrong."""
        if not request.query:
            return ""
        resource = request.match_info.route.resource
        keys, example = QUERIES.get(resource.canonical if resource is not None else "", ((), request.path[:60]))
        accepted = ", ".join(keys) if keys else "nothing"
        for key in request.query:
            if key not in keys:
                problem = f"The address asks for '{key[:30]}', which this page does not take."
            elif len(request.query.getall(key)) > 1:
                problem = f"The address gives '{key}' more than once."
            else:
                continue
            return f"{problem} Accepted: {accepted}, each once. Example: {example}"
        return ""

    def _page(self, template: str, *, status: int = 200, viewer: Contact | None = None, csrf: str = "",
              **values: Any) -> web.Response:
        html = self.templates.get_template(template).render(viewer=viewer, csrf=csrf, **values)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def _now(self) -> datetime:
        return self.runtime.clock.now()  # type: ignore[no-any-return]

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.runtime.db.run(fn, *args)

    async def _viewer(self, request: web.Request) -> tuple[Contact, str] | None:
        """The logged-in person and their session token, or None."""
        token = request.cookies.get(self.cookie)
        if not token or len(token) > 100:
            return None

        def find() -> str | None:
            with self.runtime.uow_factory(read_only=True) as uow:
                return uow.portal.session(token_hash(token), self._now())  # type: ignore[no-any-return]

        contact_id = await self._db(find)
        contact = self.runtime.directory.current().contacts.get(contact_id) if contact_id else None
        return (contact, token) if contact is not None else None

    async def _session(self, request: web.Request) -> tuple[Contact, str]:
        found = await self._viewer(request)
        if found is None and request.method == "POST" and request.path != "/logout":
            # A form sent after the session ended: said so, not lost silently behind a redirect.
            raise Refused(403, "Your session ended", SESSION_ENDED)
        if found is None:
            raise web.HTTPSeeOther("/")  # a fixed path: nothing in a request chooses where a redirect goes
        return found

    async def _checked_post(self, request: web.Request, secret: str | None, fields: tuple[str, ...] = TOKEN_FIELDS,
                            refused: tuple[str, str] = ("Refused", "This form was refused: its security token is "
                                                        "missing or wrong. Go back, reload the page and try again."),
                            ) -> dict[str, str]:
        """The form's fields, after its CSRF token was checked against `secret` (403 otherwise); a field
        not among `fields`, or a file, is refused (400) before the form does anything."""
        form = await request.post()
        sent = form.get("csrf")
        if secret is None or not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_for(secret)):
            raise Refused(403, *refused)
        for key, value in form.items():
            if key not in fields or not isinstance(value, str):
                raise Refused(400, "Not understood", f"This form sent '{key[:30]}', which it does not take. "
                                                     f"Accepted: {', '.join(fields)}. Example: reload the page "
                                                     "and send its form as it is.")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _count_minimum(self) -> int:
        """The smallest count of a harmonised field shown: the one /stats and the bulletin use."""
        policy = self.runtime.posting_policy
        return policy.count_minimum if policy is not None else COUNT_MINIMUM

    def _uow(self) -> UnitOfWork:
        return self.runtime.uow_factory()  # type: ignore[no-any-return]

    def _write(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn(uow, *args)` in a unit of work that commits: pages record their consultations."""
        def run(*args: Any) -> Any:
            with self._uow() as uow:
                try:
                    result = fn(uow, *args)
                except views.NotFound:
                    uow.commit()  # the refusal it recorded stays on record, as in chat
                    raise
                uow.commit()
                return result
        return run

    # --- pages -----------------------------------------------------------------------------------

    async def _css(self, request: web.Request) -> web.Response:
        return web.Response(body=self.stylesheet, content_type="text/css")

    async def _home(self, request: web.Request) -> web.StreamResponse:
        if await self._viewer(request) is not None:
            raise web.HTTPSeeOther("/board")
        return self._page("home.html", title="Log in")

    async def _login_form(self, request: web.Request) -> web.Response:
        # Not used up here: a link preview fetching this page must not spend it. The button posts it. It
        # is only checked (read, not written), so that a link that can no longer log in says so at once
        # rather than behind a button that could only fail.
        token = request.match_info["token"]
        now = self._now()

        def holder() -> str | None:
            with self.runtime.uow_factory(read_only=True) as uow:
                return uow.portal.live_link(token_hash(token), now)  # type: ignore[no-any-return]

        contact_id = await self._db(holder) if 0 < len(token) <= 100 else None
        if contact_id is None or contact_id not in self.runtime.directory.current().contacts:
            minutes = max(1, int(self.settings.link_lifetime.total_seconds() // 60))
            raise Refused(403, "Link refused", LINK_GONE.format(minutes=minutes))
        login_secret = secrets.token_urlsafe(32)
        response = self._page("login.html", title="Log in", token=token[:100], csrf=csrf_for(login_secret))
        self._set_cookie(response, self.login_cookie, login_secret, max_age=int(self.settings.link_lifetime.total_seconds()))
        return response

    async def _login(self, request: web.Request) -> web.StreamResponse:
        # The login page's cookie lasts as long as its link: without it, the page was open too long (or
        # opened elsewhere), and only a new link helps.
        form = await self._checked_post(request, request.cookies.get(self.login_cookie), LOGIN_FIELDS, (
            "Link refused", "This login page was open longer than its link lasts, or was opened in another browser. "
                            "Ask /portal in your direct chat with the bot for a new link, and press Log in within "
                            f"{int(self.settings.link_lifetime.total_seconds() // 60)} minutes."))
        if not self.logins.allow(request.remote or "?"):
            raise Refused(429, "Too many attempts", "Too many login attempts from here. Wait a minute, then ask "
                                                    "/portal for a new link.")
        token = form.get("token", "")
        session = new_token()
        now = self._now()

        def redeem() -> str | None:
            with self._uow() as uow:
                contact = uow.portal.redeem_link(token_hash(token), now) if 0 < len(token) <= 100 else None
                if contact is not None:
                    uow.portal.add_session(token_hash(session), contact, now + self.settings.session_lifetime, now)
                uow.commit()
                return contact

        contact_id = await self._db(redeem)
        if contact_id is None or contact_id not in self.runtime.directory.current().contacts:
            raise Refused(403, "Link refused", "This login link is unknown, used already or expired. Ask /portal "
                                               "in your direct chat with the bot for a new one.")
        log.info("web portal: a login link was used")
        response = web.HTTPSeeOther("/board")
        self._set_cookie(response, self.cookie, session, max_age=int(self.settings.session_lifetime.total_seconds()))
        self._del_cookie(response, self.login_cookie)
        return response

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        viewer, token = await self._session(request)
        await self._checked_post(request, token)

        def end() -> None:
            with self._uow() as uow:
                uow.portal.end_session(token_hash(token), self._now())
                uow.commit()

        await self._db(end)
        response = web.HTTPSeeOther("/")
        self._del_cookie(response, self.cookie)
        return response

    def _set_cookie(self, response: web.StreamResponse, name: str, value: str, *, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                            secure=self.settings.secure)

    def _del_cookie(self, response: web.StreamResponse, name: str) -> None:
        # With the attributes it was set with: a browser keeps a __Host- cookie that an insecure deletion names.
        response.del_cookie(name, path="/", secure=self.settings.secure, httponly=True, samesite="Strict")

    async def _board(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        page = await self._db(self._write(views.board), self.runtime.directory.current(), viewer, self._now())
        return self._page("board.html", viewer=viewer, csrf=csrf_for(token), title="Overdue", **page)

    async def _items(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        q = request.query
        filters = views.ItemFilters(q.get("tlp", "")[:20], q.get("topic", "")[:60], q.get("country", "")[:10])
        topics = tuple(self.runtime.settings.network.topics)
        page = await self._db(self._write(views.items_list), self.runtime.directory.current(), viewer, self._now(),
                              filters, topics)
        return self._page("items.html", viewer=viewer, csrf=csrf_for(token), title="Items",
                          status=400 if page["problems"] else 200, **page)

    async def _item(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        reference = request.match_info["reference"]
        directory = self.runtime.directory.current()
        now = self._now()

        def load(uow: UnitOfWork) -> dict[str, Any]:
            return views.item_page(uow, directory, viewer, now, reference)

        page = await self._db(self._write(load))
        return self._page("item.html", viewer=viewer, csrf=csrf_for(token), title=page["reference"], **page)

    def _trail(self, uow: UnitOfWork, reference: str) -> list[Any]:
        # The whole trail, by the audit log's own reader (as `liaison-bot audit show` uses): the unit of work's
        # port reads only an item's feedback back.
        return list(read_entries(uow.connection, self.runtime.keyring, reference=reference))  # type: ignore[attr-defined]

    async def _audit(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        reference = request.match_info["reference"]
        directory = self.runtime.directory.current()
        now = self._now()

        def load(uow: UnitOfWork) -> dict[str, Any]:
            if not viewer.has(Role.AUDITOR):
                raise views.NotFound()
            try:
                canonical = str(Reference.parse(reference))
            except ValueError:
                raise views.NotFound() from None
            return views.audit_page(uow, directory, viewer, now, reference, self._trail(uow, canonical))

        page = await self._db(self._write(load))
        return self._page("audit.html", viewer=viewer, csrf=csrf_for(token), title=f"Audit {page['reference']}",
                          **page)

    async def _audit_export(self, request: web.Request) -> web.Response:
        """An item's trail as CSV, for auditors: `liaison-bot audit export --reference` by another way,
        recorded as an export (channel portal), formula-safe for spreadsheets."""
        viewer, _ = await self._session(request)
        if not viewer.has(Role.AUDITOR):
            raise views.NotFound()
        try:
            reference = str(Reference.parse(request.match_info["reference"]))
        except ValueError:
            raise views.NotFound() from None

        def write() -> str | None:
            with self.runtime.uow_factory(read_only=True) as uow:
                if uow.items.get(Reference.parse(reference)) is None:
                    return None
            out = io.StringIO()
            export(self.runtime.engine, self.runtime.keyring, out, "csv", reference=reference, actor=viewer.id,
                   clock=self.runtime.clock, channel=views.PORTAL_CHANNEL)
            return out.getvalue()

        text = await self._db(write)
        if text is None:
            raise views.NotFound()
        response = web.Response(text=text, content_type="text/csv", charset="utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="{reference}-audit.csv"'
        return response

    async def _stats(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        if not views.may_see_stats(viewer):  # who may see the page, before what its address asks
            raise views.NotFound()
        asked = request.query.get("period", "").strip()
        try:
            period = parse_period(asked[:20]) if asked else None
        except InvalidValue as error:  # fail closed: what was wrong, what is accepted, the page's own example
            raise Refused(400, "Statistics",
                          str(InvalidValue(error.what, error.got, error.accepted, QUERIES["/stats"][1]))) from None
        page = await self._db(self._write(views.stats_page), self.runtime.directory.current(), viewer,
                              self._now(), period, self._count_minimum())
        page.update(await asyncio.to_thread(_draw_charts, page))  # drawing takes a while: not on the event loop
        return self._page("stats.html", viewer=viewer, csrf=csrf_for(token), title="Statistics", **page)

    async def _bulletin(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        if not views.may_see_bulletin(viewer, self.runtime.directory.current()):
            raise views.NotFound()
        asked = request.query.get("month", "").strip()
        # The bulletin's own form and example (parse_period's message is /stats's, which takes more).
        refusal = (f"'{asked[:20]}' is not a month. Accepted: a calendar month as YYYY-MM (month 01 to 12). "
                   f"Example: {QUERIES['/bulletin'][1]}")
        try:
            month = parse_period(asked) if asked else None
        except ValueError:
            month = None
        if asked and (month is None or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", asked)):
            raise Refused(400, "Bulletin", refusal)
        page = await self._db(self._write(views.bulletin_page), self.runtime.directory.current(), viewer,
                              self._now(), month, self._count_minimum())
        return self._page("bulletin.html", viewer=viewer, csrf=csrf_for(token), title="Monthly bulletin", **page)

    async def _directory(self, request: web.Request) -> web.Response:
        viewer, token = await self._session(request)
        page = await self._db(self._write(views.directory_page), self.runtime.directory.current(), viewer,
                              self._now())
        return self._page("directory.html", viewer=viewer, csrf=csrf_for(token), title="Directory", **page)

    def _command(self, uow: UnitOfWork, viewer: Contact, text: str, now: datetime) -> _PortalContext:
        """A chat command's context, as if `viewer` typed `text` in their direct chat: the command's own
        handler runs, and its answers are collected for the page instead of being sent."""
        message = InboundMessage(f"portal-{secrets.token_hex(16)}", viewer.identities[0], PORTAL_CHAT, text, now,
                                 direct=True)
        policy = self.runtime.posting_policy
        return _PortalContext(uow=uow, message=message, sender=viewer, directory=self.runtime.directory.current(),
                              now=now, new_key=lambda: secrets.token_hex(16), in_chat=False,
                              platforms=policy.platforms, encrypted_only=policy.encrypted_only)

    async def _rooms(self, request: web.Request) -> web.Response:
        """The registered rooms with their drift, as /rooms answers coordinators and admins in chat."""
        viewer, token = await self._session(request)
        if not views.may_see_rooms(viewer) or not viewer.identities:
            raise views.NotFound()
        now = self._now()

        def run(uow: UnitOfWork) -> list[str]:
            ctx = self._command(uow, viewer, "/rooms", now)
            membership.rooms(ctx)
            return ctx.answers

        answers = await self._db(self._write(run))
        return self._page("rooms.html", viewer=viewer, csrf=csrf_for(token), title="Rooms", answers=answers)

    async def _act(self, request: web.Request) -> web.Response:
        """Remind or escalate from the board: the chat command's own handler, run as the viewer; its
        answers are shown on the page instead of in a chat."""
        viewer, token = await self._session(request)
        await self._checked_post(request, token)
        action = request.match_info["action"]
        now = self._now()
        try:
            reference = Reference.parse(request.match_info["reference"])
        except ValueError:
            raise views.NotFound() from None
        if not views.may_act(viewer) or not viewer.identities:
            raise views.NotFound()

        def run(uow: UnitOfWork) -> list[str]:
            record = uow.items.get(reference)
            if record is None or record_view(viewer, record) is None:
                raise views.NotFound()
            ctx = self._command(uow, viewer, f"/{action} {reference}", now)
            (coordination.remind if action == "remind" else coordination.escalate)(ctx, reference)
            return ctx.answers

        answers = await self._db(self._write(run))
        self.runtime.worker.wake()  # the reminders or escalations it queued go now
        return self._page("done.html", viewer=viewer, csrf=csrf_for(token), title=f"{action.title()} {reference}",
                          answers=answers, reference=str(reference))


    async def _arrangements(self, request: web.Request, answers: list[str] | None = None, status: int = 200,
                            kept: tuple[str, dict[str, str]] = ("", {})) -> web.Response:
        """The page; after a refused form, `kept` (which form, what it sent) fills that form in again."""
        viewer, token = await self._session(request)
        page = await self._db(self._write(views.arrangements_page), self.runtime.directory.current(), viewer,
                              self._now())
        may_change = bool(viewer.identities) and COMMANDS.refusal("arrangement", viewer) is None
        sent = {k: v for k, v in kept[1].items() if k != "csrf"}
        return self._page("arrangements.html", status=status, viewer=viewer, csrf=csrf_for(token),
                          title="Arrangements", may_change=may_change, answers=answers or [],
                          add_sent=sent if kept[0] == "add" else {}, end_sent=sent if kept[0] == "end" else {},
                          **page)

    async def _arrangement_change(self, request: web.Request) -> web.Response:
        """Add or end an arrangement from the page's forms: the text /arrangement would be in chat is
        made from the fields and runs through the same parser, role check and handler, so the rules,
        the audit entries and the refusals are the chat command's; its answers are shown on the page."""
        viewer, token = await self._session(request)
        action = request.match_info["action"]
        form = await self._checked_post(request, token, ADD_FIELDS if action == "add" else END_FIELDS)
        if not views.may_see_arrangements(viewer) or not viewer.identities:
            raise views.NotFound()
        text, problem = (_add_text(form) if action == "add" else _end_text(form))
        now = self._now()

        def run(uow: UnitOfWork) -> tuple[list[str], int]:
            ctx = self._command(uow, viewer, text or "/arrangement", now)
            if problem:
                ctx.audit(AuditAction.REFUSAL, detail={"command": "arrangement", "reason": problem})
                return [problem], 400
            parsed = COMMANDS.parse(text, self.runtime.vocabulary)
            if parsed is None or isinstance(parsed, ParseError):
                ctx.answer(str(parsed) if parsed else "That is not an /arrangement command.")
                return ctx.answers, 400
            ctx.audit(AuditAction.COMMAND, detail={"command": parsed.name, "event": ctx.message.event_id})
            denied = COMMANDS.refusal(parsed.name, viewer)
            if denied:
                ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": denied})
                ctx.answer(denied)
                return ctx.answers, 403
            spec = COMMANDS.spec_for(parsed.name)
            assert spec is not None
            spec.run(ctx, parsed, self.runtime.posting_policy)
            # The handler records an admin entry only when it changed something: without one, it refused.
            return ctx.answers, 200 if AuditAction.ADMIN in ctx.recorded else 400

        answers, status = await self._db(self._write(run))
        # A refused form comes back as it was sent: what was typed (on a phone, too) is not lost to one mistake.
        return await self._arrangements(request, answers, status, (action, form) if status != 200 else ("", {}))


_FIELD_WORD = re.compile(r"[A-Za-z0-9,>_.-]*")
_QUOTES = set(OPENING_QUOTES) | set("\"”’»“‘\n\r")


def _add_text(form: dict[str, str]) -> tuple[str, str]:
    """The /arrangement add text the form's fields make, or why the fields cannot make one (a value that
    would read as another field is refused rather than reinterpreted)."""
    parts = ["/arrangement add"]
    for name in ("between", "topics", "from", "until", "direction"):
        value = "".join(form.get(name, "").split())
        if not _FIELD_WORD.fullmatch(value):
            return "", (f"{name}: '{value[:30]}' holds characters it cannot: letters, digits, commas, - and > only. "
                        f"Example: {ARRANGEMENT_ADD_EXAMPLE}")
        if value:
            parts.append(f"{name}:{value}")
    document = " ".join(form.get("doc", "").split())
    if any(c in _QUOTES for c in document):
        return "", "doc: may not hold quotation marks. Give the document's reference, for example MoU MY-CA 2026."
    if document:
        parts.insert(2, f'doc:"{document}"')
    return " ".join(parts), ""


def _end_text(form: dict[str, str]) -> tuple[str, str]:
    which = form.get("which", "").strip().removeprefix("#")
    reason = " ".join(form.get("reason", "").split())
    if not which.isdigit():
        return "", f"Choose the arrangement to end by its number. Example: {ARRANGEMENT_END_EXAMPLE}"
    return f"/arrangement end {which} {reason}".rstrip(), ""


def _draw_charts(page: dict[str, Any]) -> dict[str, str]:
    labels = [t["label"] for t in page["times"]]
    return {
        "volume_chart": charts.stacked_bars(page["months"], page["volume"], "Items per month, by topic"),
        "overdue_chart": charts.line(page["overdue_days"], page["overdue_counts"],
                                     "Copies overdue at the end of each day (UTC)", "copies"),
        "ack_chart": charts.paired_bars(labels, [t["ack_median"] for t in page["times"]],
                                        [t["ack_p90"] for t in page["times"]], ("median", "p90"),
                                        "Time to acknowledge, by country", "hours"),
        "feedback_chart": charts.paired_bars(labels, [t["feedback_median"] for t in page["times"]],
                                             [t["feedback_p90"] for t in page["times"]], ("median", "p90"),
                                             "Time to feedback, by country", "hours"),
    }


async def start_portal(runtime: Any, settings: PortalSettings) -> PortalServer | None:
    """Serve the portal when [portal] enabled; None otherwise, or when its address cannot be bound
    (the bot goes on without it, and says so once)."""
    if not settings.enabled:
        return None
    server = PortalServer(runtime, settings)
    try:
        await server.start()
    except OSError as error:
        log.warning("web portal not served: cannot listen on %s (%s)", settings.listen, error.strerror or error)
        return None
    return server
