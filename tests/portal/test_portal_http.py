"""The portal's security over plain HTTP: headers, links stored as hashes, expiry, rate limits,
sessions ended by /member remove, Secure cookies behind TLS, fixed redirects, nothing in the logs,
auditors' pages, and every consultation in the audit log."""

from __future__ import annotations

import hashlib
import html
import logging
import socket
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config.portal import PortalSettings
from bot.config.settings import load_settings
from bot.portal.server import CSP, start_portal
from storage.audit.trail import read_entries
from storage.portal_tables import portal_links, portal_sessions
from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.portal.client import Answer, Client
from tests.portal.world import PortalWorld

BODY = "Travellers <b>X</b> on flight XX123"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[PortalWorld]:
    with PortalWorld(tmp_path) as world:
        world.say("my-officer", f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}")
        world.say("my-officer", "/alert to:@th-npoc tlp:red topic:document-fraud\nRed words")
        yield world


def test_every_answer_carries_the_strict_headers(world: PortalWorld) -> None:
    client = Client(world.url)
    for path in ("/", "/login/whatever", "/no-such-page", "/static/portal.css"):
        answer = client.get(path)
        assert answer.headers["Content-Security-Policy"] == CSP, path
        assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP and "form-action 'self'" in CSP
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/no-such-page").status == 404


def test_a_link_is_stored_as_its_hash_works_once_and_redirects_to_a_fixed_place(world: PortalWorld) -> None:
    link = world.login_link("th-npoc")
    token = link.rsplit("/", 1)[1]
    with world.runtime.engine.connect() as connection:
        stored = connection.execute(select(portal_links.c.token_hash)).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    client = Client(world.url)
    client.get(urllib.parse.urlsplit(link).path)  # a chat app's link preview: opening it spends nothing
    page = client.get(urllib.parse.urlsplit(link).path)
    answer = client.post("/login", {"csrf": page.field("csrf"), "token": token, "next": "https://evil.example"})
    assert answer.status == 400 and "Location" not in answer.headers  # no field chooses where to go
    answer = client.post("/login", {"csrf": page.field("csrf"), "token": token})  # not spent by the refusal
    assert answer.status == 303 and answer.headers["Location"] == "/board"
    assert client.get("/board").status == 200
    again = Client(world.url).log_in(link)
    assert again.status == 403 and "Link refused" in again.body


def test_a_link_expires_after_its_minutes(world: PortalWorld) -> None:
    link = world.login_link("th-npoc")
    world.advance(timedelta(minutes=5))
    assert Client(world.url).log_in(link).status == 403


def expired_page_says_so_without_a_button(answer: Answer) -> None:
    assert answer.status == 403 and "Link refused" in answer.body
    assert "This link has expired or was used" in answer.body and "/portal" in answer.body
    assert "direct chat" in answer.body
    assert "<button" not in answer.body.split("<main>")[1] and 'name="token"' not in answer.body


def test_an_expired_used_or_unknown_link_says_so_on_opening_with_no_button(world: PortalWorld) -> None:
    """Opening a link checks, without spending it, that it can still log in; one that cannot says so at
    once (no Log in button that would only fail when pressed), and sets no login cookie."""
    expired = world.login_link("th-npoc")
    used = world.login_link("th-npoc")
    assert Client(world.url).log_in(used).status == 303
    world.advance(timedelta(minutes=4))
    fresh = world.login_link("th-npoc")
    world.advance(timedelta(minutes=1))  # `expired` is 5 minutes old now: over
    for link in (expired, used, "/login/no-such-token", "/login/" + "x" * 150):
        client = Client(world.url)
        answer = client.get(urllib.parse.urlsplit(link).path)
        expired_page_says_so_without_a_button(answer)
        assert not client.cookies, link
    opened = Client(world.url)
    page = opened.get(urllib.parse.urlsplit(fresh).path)
    assert page.status == 200 and 'id="login"' in page.body  # a live link still shows its button
    page = opened.get(urllib.parse.urlsplit(fresh).path)  # opening it (twice) spent nothing
    assert opened.post("/login", {"csrf": page.field("csrf"), "token": page.field("token")}).status == 303
    expired_page_says_so_without_a_button(Client(world.url).get(urllib.parse.urlsplit(fresh).path))


def test_a_link_that_expires_while_its_page_is_open_is_refused_when_pressed(world: PortalWorld) -> None:
    link = world.login_link("th-npoc")
    client = Client(world.url)
    page = client.get(urllib.parse.urlsplit(link).path)
    assert 'id="login"' in page.body
    world.advance(timedelta(minutes=5))
    answer = client.post("/login", {"csrf": page.field("csrf"), "token": page.field("token")})
    assert answer.status == 403 and "Link refused" in answer.body and "/portal" in answer.body
    assert "portal_session" not in client.cookies


def test_portal_gives_links_only_in_a_direct_chat(world: PortalWorld) -> None:
    answers = world.say("th-npoc", "/portal", chat="console:#network")
    assert answers and "direct chat" in answers[0] and "/login/" not in answers[0]


def test_a_session_expires(world: PortalWorld) -> None:
    client = Client(world.url)
    assert client.log_in(world.login_link("th-npoc")).status == 303
    world.advance(timedelta(minutes=31))
    answer = client.get("/board")
    assert answer.status == 303 and answer.headers["Location"] == "/"


def test_member_remove_ends_their_sessions_at_once(world: PortalWorld) -> None:
    client = Client(world.url)
    assert client.log_in(world.login_link("th-police")).status == 303
    assert client.get("/board").status == 200
    unused = world.login_link("th-police")
    answers = world.say("rso-admin", "/member remove console:th-police left the service")
    assert any("Removed" in a for a in answers), answers
    answer = client.get("/board")
    assert answer.status == 303 and answer.headers["Location"] == "/"
    assert Client(world.url).log_in(unused).status == 403
    with world.runtime.engine.connect() as connection:  # ended in the database, not only unrecognised
        sessions = connection.execute(select(portal_sessions.c.ended_at)
                                      .where(portal_sessions.c.contact == "th-police")).scalars().all()
        links = connection.execute(select(portal_links.c.token_hash)
                                   .where(portal_links.c.contact == "th-police")).scalars().all()
    assert sessions and all(ended is not None for ended in sessions)
    assert len(links) == 1  # the one used to log in; the unused one was dropped


def test_link_redemption_is_rate_limited(tmp_path: Path) -> None:
    with PortalWorld(tmp_path, logins_per_minute=2) as world:
        client = Client(world.url)
        page = client.get(urllib.parse.urlsplit(world.login_link("th-police")).path)  # its form, then wrong tokens
        for _ in range(2):
            assert client.post("/login", {"csrf": page.field("csrf"), "token": "wrong"}).status == 403
        assert client.post("/login", {"csrf": page.field("csrf"), "token": "wrong"}).status == 429
        assert Client(world.url).log_in(world.login_link("th-npoc")).status == 429


def test_behind_tls_the_session_cookie_is_secure_and_host_bound(tmp_path: Path) -> None:
    with PortalWorld(tmp_path, public_url="https://portal.example.org") as world:
        answers = world.say("th-npoc", "/portal")
        link = next(word for a in answers for word in a.split() if word.startswith("https://portal.example.org/login/"))
        client = Client(world.url)
        answer = client.log_in(link)  # the path is what counts: the reverse proxy would pass it on
        assert answer.status == 303
        [session] = [c for c in client.set_cookies if c.startswith("__Host-portal=")]
        flags = {part.strip().lower() for part in session.split(";")}
        assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags


def test_no_token_nor_content_reaches_the_logs(world: PortalWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    link = world.login_link("rso-coordinator")
    client = Client(world.url)
    client.log_in(link)
    client.get("/items/A-2026-0001")
    token = link.rsplit("/", 1)[1]
    session = client.cookies["portal_session"]
    assert caplog.records  # the portal did log (a login), just nothing secret
    assert token not in caplog.text and session not in caplog.text and "XX123" not in caplog.text


def test_pages_escape_what_people_wrote(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))
    page = client.get("/items/A-2026-0001").body
    assert "Travellers &lt;b&gt;X&lt;/b&gt; on flight XX123" in page and "<b>X</b>" not in page


def test_auditors_read_an_items_trail_and_every_reading_is_audited(world: PortalWorld) -> None:
    auditor = Client(world.url)
    auditor.log_in(world.login_link("rso-auditor"))
    assert auditor.get("/items/A-2026-0002").status == 200  # auditors see every item, as /status
    trail = auditor.get("/items/A-2026-0002/audit")
    assert trail.status == 200 and "item.created" in trail.body and "consultation" in trail.body
    contact = Client(world.url)
    contact.log_in(world.login_link("th-npoc"))
    assert contact.get("/items/A-2026-0002").status == 200  # its recipient
    assert contact.get("/items/A-2026-0002/audit").status == 404
    assert contact.get("/stats").status == 404  # statistics: coordinators, admins and auditors, as /stats
    assert auditor.get("/stats").status == 200
    assert contact.get("/items/not-a-reference").status == 404
    with world.runtime.engine.connect() as connection:
        entries = list(read_entries(connection, world.runtime.keyring, reference="A-2026-0002"))
    portal = [(e.actor, (e.detail or {}).get("command")) for e in entries if e.channel == "portal"]
    assert ("rso-auditor", "portal item") in portal and ("rso-auditor", "portal audit") in portal
    assert ("th-npoc", "portal item") in portal


def test_an_unknown_filter_is_refused_with_what_is_accepted(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    answer = client.get("/items?tlp=PURPLE")
    assert answer.status == 400 and "is not one of CLEAR, GREEN, AMBER" in answer.body
    assert "A-2026-0002" in client.get("/items?tlp=RED").body
    assert "A-2026-0002" not in client.get("/items?tlp=AMBER").body


def test_logging_out_needs_its_token_and_ends_the_session(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))
    board = client.get("/board")
    assert client.post("/logout", {}).status == 403
    assert client.get("/board").status == 200  # still logged in
    session = client.cookies["portal_session"]
    answer = client.post("/logout", {"csrf": board.field("csrf")})
    assert answer.status == 303 and answer.headers["Location"] == "/"
    assert "portal_session" not in client.cookies
    client.cookies["portal_session"] = session  # a copy kept of the cookie opens nothing any more
    assert client.get("/board").status == 303


def test_the_example_configuration_serves_the_portal_with_the_documented_defaults() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2] / "config.example.toml").portal
    assert settings.enabled and settings.listen == "127.0.0.1:8470" and settings.public_url is None
    assert settings.link_lifetime == timedelta(minutes=5) and settings.session_lifetime == timedelta(minutes=30)
    assert settings.logins_per_minute == 10 and not settings.secure


async def test_a_taken_address_leaves_the_bot_running_without_a_portal(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    runtime, _ = bot_runtime(write_config(tmp_path, None))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            assert await start_portal(runtime, PortalSettings(enabled=True, listen=f"127.0.0.1:{port}")) is None
        finally:
            await runtime.close()
    assert f"web portal not served: cannot listen on 127.0.0.1:{port}" in caplog.text


def test_times_are_shown_in_the_viewers_zone(world: PortalWorld) -> None:
    created = world.clock.now()
    shown = {}
    for contact, zone in (("th-npoc", "Asia/Bangkok"), ("my-officer", "Asia/Kuala_Lumpur")):
        client = Client(world.url)
        client.log_in(world.login_link(contact))
        shown[contact] = client.get("/items/A-2026-0001").body
        local = created.astimezone(ZoneInfo(zone))
        assert f"{local:%Y-%m-%d %H:%M} {local.tzname()}" in shown[contact], contact
    assert shown["th-npoc"] != shown["my-officer"]


def test_coordinators_remind_and_escalate_from_the_portal_and_nobody_else_does(world: PortalWorld) -> None:
    coordinator = Client(world.url)
    coordinator.log_in(world.login_link("rso-coordinator"))
    page = coordinator.get("/items/A-2026-0001")
    assert "/items/A-2026-0001/escalate" in page.body
    done = coordinator.post("/items/A-2026-0001/remind", {"csrf": page.field("csrf")})
    assert done.status == 200 and "Reminded about A-2026-0001: National point of contact (Thailand)" in done.body
    # The sample network has one coordinator: /escalate's own answer says so.
    done = coordinator.post("/items/A-2026-0001/escalate", {"csrf": page.field("csrf")})
    assert done.status == 200 and "There is no other coordinator in the directory to escalate to" in done.body
    originator = Client(world.url)
    originator.log_in(world.login_link("my-officer"))
    page = originator.get("/items/A-2026-0001")
    assert page.status == 200 and "/items/A-2026-0001/escalate" not in page.body
    assert originator.post("/items/A-2026-0001/remind", {"csrf": page.field("csrf")}).status == 404
    with world.runtime.engine.connect() as connection:
        actions = [(e.action, e.actor) for e in read_entries(connection, world.runtime.keyring,
                                                              reference="A-2026-0001")]
    assert ("reminder", "rso-coordinator") in actions and ("reminder", "my-officer") not in actions


def test_items_filter_by_country_and_topic_and_a_refusal_is_audited(world: PortalWorld) -> None:
    world.say("my-officer", "/alert to:ID tlp:green topic:maritime\nBoat sighted")
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    by_country = client.get("/items?country=ID").body
    assert "A-2026-0003" in by_country and "A-2026-0001" not in by_country
    by_topic = client.get("/items?topic=maritime").body
    assert "A-2026-0003" in by_topic and "A-2026-0002" not in by_topic
    stranger = Client(world.url)
    stranger.log_in(world.login_link("th-police"))
    assert stranger.get("/items/A-2026-0002").status == 404
    with world.runtime.engine.connect() as connection:
        refusals = [e for e in read_entries(connection, world.runtime.keyring)
                    if e.action == "refusal" and e.channel == "portal"]
    assert [e.actor for e in refusals] == ["th-police"]


def test_statistics_refuse_an_unknown_period_with_what_is_accepted(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    answer = client.get("/stats?period=fortnight")
    assert answer.status == 400 and "fortnight" in answer.body and "Accepted:" in answer.body
    # The page's own example, not the chat command's: the reader is in a browser.
    assert "/stats?period=30d" in answer.body and "/stats 30d" not in answer.body
    assert client.get("/stats?period=2026-11").status == 200


def test_the_monthly_bulletin_counts_every_item_and_carries_only_clear_text(world: PortalWorld) -> None:
    world.say("my-officer", "/alert to:ID tlp:clear topic:maritime\nPublic advice, boat season")
    world.say("my-officer", "/alert to:ID tlp:green topic:maritime\nCommunity only words")
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))
    month = f"{world.clock.now():%Y-%m}"
    page = client.get(f"/bulletin?month={month}")
    assert page.status == 200
    assert "Items shared: 4 (4 alerts, 0 requests)." in page.body
    assert "Public advice, boat season" in page.body
    assert "Community only words" not in page.body and "Red words" not in page.body and "XX123" not in page.body
    assert client.get("/bulletin?month=2026-13").status == 400
    assert client.get("/bulletin?month=soon").status == 400
    observer = Client(world.url)
    observer.log_in(world.login_link("ca-npoc"))  # Canada is an observer: the bulletin is for members
    assert observer.get(f"/bulletin?month={month}").status == 404


def test_the_directory_shows_admins_everyone_and_a_focal_point_their_own_people(world: PortalWorld) -> None:
    admin = Client(world.url)
    admin.log_in(world.login_link("rso-admin"))
    page = admin.get("/directory").body
    assert "console:th-police" in page and "console:my-officer" in page and "Sharing arrangements" in page
    focal = Client(world.url)
    focal.log_in(world.login_link("th-npoc"))
    page = focal.get("/directory").body
    assert "The people of TH" in page and "console:th-police" in page and "console:my-officer" not in page
    assert "Sharing arrangements" not in page
    coordinator = Client(world.url)
    coordinator.log_in(world.login_link("rso-coordinator"))
    page = coordinator.get("/directory").body
    assert "Sharing arrangements" in page and "console:th-police" not in page
    officer = Client(world.url)
    officer.log_in(world.login_link("my-officer"))
    assert officer.get("/directory").status == 404


def test_a_recipient_sees_their_own_feedback_and_the_originators_updates_only(world: PortalWorld) -> None:
    world.say("my-officer", "/alert to:TH,ID tlp:amber topic:document-fraud\nShared with two")
    world.say("th-npoc", "/reply A-2026-0003 Thai feedback here, " + "checked at the gate " * 8 + "end of the Thai word")
    world.say("id-npoc", "/reply A-2026-0003 Indonesian feedback here")
    world.say("my-officer", "/reply A-2026-0003 Update for everyone")
    # /history cuts a feedback at 100 characters; the item page shows it whole.
    [history] = world.say("my-officer", "/history A-2026-0003")
    assert "Thai feedback here" in history and "end of the Thai word" not in history
    pages = {}
    for contact in ("th-npoc", "id-npoc", "my-officer"):
        client = Client(world.url)
        client.log_in(world.login_link(contact))
        pages[contact] = client.get("/items/A-2026-0003").body
    assert "Thai feedback here" in pages["th-npoc"] and "Indonesian feedback here" not in pages["th-npoc"]
    assert "Indonesian feedback here" in pages["id-npoc"] and "Thai feedback here" not in pages["id-npoc"]
    assert all("Update for everyone" in page for page in pages.values())
    assert "Thai feedback here" in pages["my-officer"] and "Indonesian feedback here" in pages["my-officer"]
    assert "end of the Thai word" in pages["my-officer"] and "end of the Thai word" in pages["th-npoc"]
    # A recipient's route shows their own copy only.
    assert "National point of contact (Indonesia)" not in pages["th-npoc"].split("<h2>Feedback</h2>")[0]


def test_rooms_with_their_drift_for_coordinators_and_admins_as_rooms_answers(world: PortalWorld) -> None:
    admin = Client(world.url)
    admin.log_in(world.login_link("rso-admin"))
    page = admin.get("/rooms")
    assert page.status == 200 and "registered rooms:" in page.body and "(expected " in page.body
    contact = Client(world.url)
    contact.log_in(world.login_link("th-npoc"))
    assert contact.get("/rooms").status == 404
    with world.runtime.engine.connect() as connection:
        consulted = [(e.actor, (e.detail or {}).get("command")) for e in read_entries(connection, world.runtime.keyring)
                     if e.action == "consultation"]
    assert ("rso-admin", "rooms") in consulted


def test_an_items_trail_shows_relayed_feedback_as_a_delivery_with_its_chat_and_message_id(world: PortalWorld) -> None:
    """Feedback relayed to the originator was once in the trail only as the recipient's /reply, with the
    chat it was typed in: now its delivery is an entry too, as a copy's is."""
    world.say("th-npoc", "/reply A-2026-0001 seen at the border")
    auditor = Client(world.url)
    auditor.log_in(world.login_link("rso-auditor"))
    trail = auditor.get("/items/A-2026-0001/audit").body
    rows = [row for row in trail.split("<tr>") if "sent_as: feedback" in row]
    assert len(rows) == 1, trail
    assert ">delivery<" in rows[0] and ">direct:console:my-officer<" in rows[0] and ">my-officer<" in rows[0]
    assert "platform_message_id: " in rows[0] and "kind: feedback" in rows[0]


def test_auditors_export_an_items_trail_as_csv_recorded_as_an_export(world: PortalWorld) -> None:
    world.say("th-npoc", "/reply A-2026-0001 =HYPERLINK(\"http://evil\") found")
    auditor = Client(world.url)
    auditor.log_in(world.login_link("rso-auditor"))
    answer = auditor.get("/items/A-2026-0001/audit.csv")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert 'filename="A-2026-0001-audit.csv"' in answer.headers["Content-Disposition"]
    assert answer.body.startswith("seq,recorded_at,action,reference") and "item.created" in answer.body
    assert "HYPERLINK" in answer.body and "\n=HYPERLINK" not in answer.body and ",=HYPERLINK" not in answer.body
    assert auditor.get("/items/A-2026-0099/audit.csv").status == 404
    contact = Client(world.url)
    contact.log_in(world.login_link("th-npoc"))
    assert contact.get("/items/A-2026-0001/audit.csv").status == 404
    with world.runtime.engine.connect() as connection:
        exports = [(e.actor, e.channel) for e in read_entries(connection, world.runtime.keyring, reference="A-2026-0001")
                   if e.action == "export"]
    assert exports == [("rso-auditor", "portal")]


def _local(moment: object, zone: str) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def test_a_corrected_and_withdrawn_items_page_shows_its_revisions_and_withdrawal_escaped(world: PortalWorld) -> None:
    world.say("my-officer", "/alert to:TH,ID tlp:amber topic:document-fraud\n"
                            "Two travellers <script>alert('rev1')</script>, flight XX123")
    made = world.clock.now()
    world.advance(timedelta(minutes=20))
    world.say("th-npoc", "/ack A-2026-0003")
    world.advance(timedelta(minutes=20))
    superseded = world.clock.now()
    world.say("my-officer", "/correct A-2026-0003 to:TH,ID,MY tlp:amber+strict priority:urgent\n\n"
                            "<img src=x onerror=alert(1)> Three travellers")
    world.say("th-npoc", "/reply A-2026-0003 <script>alert('feedback')</script> held at the gate")
    world.advance(timedelta(minutes=20))
    withdrawn = world.clock.now()
    answers = world.say("my-officer", "/withdraw A-2026-0003 <b onclick=x()>sent</b> to the wrong desk")
    assert any("A-2026-0003" in a for a in answers), answers
    pages = {}
    for contact in ("my-officer", "th-npoc", "my-npoc", "rso-auditor"):
        client = Client(world.url)
        client.log_in(world.login_link(contact))
        answer = client.get("/items/A-2026-0003")
        assert answer.status == 200, contact
        pages[contact] = answer.body
    officer = pages["my-officer"]
    zone = "Asia/Kuala_Lumpur"
    # The revisions, each with when it was made and superseded on the viewer's clock, and its copies.
    assert "<h1>A-2026-0003 rev 2</h1>" in officer and "<h2>Earlier revisions</h2>" in officer
    assert f"Rev 1 · made {_local(made, zone)} · superseded {_local(superseded, zone)}" in officer
    assert f"<dt>Revised</dt><dd>{_local(superseded, zone)} (rev 2)</dd>" in officer
    rev1 = officer.split('id="rev-1"', 1)[1].split("</section>", 1)[0]
    assert "National point of contact (Thailand)" in rev1 and "National point of contact (Indonesia)" in rev1
    assert "acknowledged" in rev1 and "(Malaysia)" not in rev1  # Malaysia came with rev 2
    # The withdrawal: who, when, why, escaped; said once, not again as a closure.
    assert (f"Withdrawn {_local(withdrawn, zone)} by Immigration liaison officer (Malaysia): "
            "&lt;b onclick=x()&gt;sent&lt;/b&gt; to the wrong desk") in officer
    assert "<dt>Closed</dt>" not in officer
    # Hostile bodies are inert: the corrected text, the feedback and the reason are escaped.
    for page in pages.values():
        assert "<img src=x" not in page and "<script>alert" not in page and "<b onclick" not in page
        assert "&lt;img src=x onerror=alert(1)&gt; Three travellers" in page
    assert "&lt;script&gt;alert(&#39;feedback&#39;)&lt;/script&gt; held at the gate" in officer
    # A recipient sees their own copy of each revision, and the withdrawal on their own clock.
    thai = pages["th-npoc"]
    rev1 = thai.split('id="rev-1"', 1)[1].split("</section>", 1)[0]
    assert "National point of contact (Thailand)" in rev1 and "(Indonesia)" not in rev1
    assert f"superseded {_local(superseded, 'Asia/Bangkok')}" in thai
    assert f"Withdrawn {_local(withdrawn, 'Asia/Bangkok')}" in thai
    assert "held at the gate" in thai
    # Malaysia received rev 2 only: no copy of theirs in rev 1, and not the Thai feedback.
    malaysian = pages["my-npoc"]
    assert "No copy of yours." in malaysian.split('id="rev-1"', 1)[1].split("</section>", 1)[0]
    assert "held at the gate" not in malaysian and "(Thailand)" not in malaysian.split("<h2>Earlier revisions</h2>")[1]
    # What rev 1 said: what differs from the current revision, then its body, escaped; to those who may
    # see it: overseers (the originator, an auditor) and the recipients of rev 1, never Malaysia.
    said = ('id="rev-1-changes">Changed since, to the current rev 2: TLP:AMBER H0 → TLP:AMBER+STRICT H0 · '
            "priority routine → urgent · the text.</p>")
    rev1_body = 'id="rev-1-body">Two travellers &lt;script&gt;alert(&#39;rev1&#39;)&lt;/script&gt;, flight XX123</pre>'
    for contact in ("my-officer", "rso-auditor", "th-npoc"):
        assert said in pages[contact] and rev1_body in pages[contact], contact
    assert "Two travellers" not in malaysian and 'id="rev-1-changes"' not in malaysian
    assert "TLP:AMBER →" not in malaysian and "routine" not in malaysian
    for page in pages.values():
        assert "<script>alert('rev1')" not in page
    # Each reading is recorded, naming the earlier texts it showed.
    with world.runtime.engine.connect() as connection:
        readings = [(e.actor, (e.detail or {}).get("earlier_texts"))
                    for e in read_entries(connection, world.runtime.keyring, reference="A-2026-0003")
                    if e.action == "consultation" and (e.detail or {}).get("command") == "portal item"]
    assert sorted(readings, key=str) == sorted([("my-officer", "1"), ("th-npoc", "1"), ("my-npoc", None),
                                                ("rso-auditor", "1")], key=str)


def test_an_erased_items_earlier_revisions_say_their_text_was_erased(world: PortalWorld) -> None:
    from alerts.items import Reference
    from storage.audit.erasure import erase
    from storage.audit.log import SqlAuditLog

    world.say("my-officer", "/alert to:TH tlp:amber topic:document-fraud\nFirst words about flight XX123")
    world.advance(timedelta(minutes=5))
    world.say("my-officer", "/correct A-2026-0003 priority:urgent\n\nSecond words about flight XX123")
    officer = Client(world.url)
    officer.log_in(world.login_link("my-officer"))
    assert "First words about flight XX123" in officer.get("/items/A-2026-0003").body  # until the case is erased
    erase(world.runtime.engine, world.runtime.keyring, "A-2026-0003", reason="retention", actor="rso-admin",
          clock=world.clock)
    page = officer.get("/items/A-2026-0003").body
    assert 'id="rev-1"' in page and "Its text was erased with the case." in page
    assert "First words" not in page and "Second words" not in page and 'id="rev-1-body"' not in page
    # The log itself can no longer open what either revision said.
    with world.runtime.engine.connect() as connection:
        assert SqlAuditLog(connection, world.runtime.keyring).revisions(Reference.parse("A-2026-0003")) == []


def test_anything_unknown_in_a_query_or_a_form_is_refused_with_a_short_page(world: PortalWorld) -> None:
    """Fail closed: a query key a page does not take (a mistyped ?period= on the bulletin would otherwise
    show another month than asked), a key given twice, a form field no form has, a file, a method a path
    does not answer and a body too big: 400 (405, 413) with a short page that says what was wrong, what
    is accepted and an example; nothing is changed and no traceback is shown."""
    coordinator = Client(world.url)
    coordinator.log_in(world.login_link("rso-coordinator"))
    csrf = coordinator.get("/board").field("csrf")
    for path, accepted in (("/bulletin?period=2026-10", "month"), ("/items?tlp=RED&colour=red", "tlp, topic, country"),
                           ("/board?x=1", "nothing"), ("/items/A-2026-0001?view=all", "nothing"),
                           ("/stats?period=30d&period=3m", "period")):
        answer = coordinator.get(path)
        assert answer.status == 400, path
        assert "<h1>" in answer.body and "Traceback" not in answer.body
        assert f"Accepted: {accepted}" in answer.body and "Example:" in answer.body, (path, answer.body)
        assert "<nav>" in answer.body and "Log out" in answer.body, path  # the menu stays, as on any page
    assert coordinator.get("/bulletin?month=2026-10").status == 200
    assert coordinator.get("/items?tlp=RED&topic=document-fraud").status == 200
    answer = coordinator.post("/items/A-2026-0001/remind", {"csrf": csrf, "force": "yes"})
    assert answer.status == 400 and "force" in answer.body and "Accepted: csrf" in answer.body
    before = coordinator.get("/arrangements").body
    assert coordinator.post("/arrangements/add", {"csrf": csrf, "between": "MY,TH", "doc": "MoU",
                                                  "colour": "red"}).status == 400
    assert coordinator.get("/arrangements").body == before  # nothing recorded
    assert coordinator.post("/items/A-2026-0001/remind", {"csrf": ""}).status == 403  # the token first
    for method, path in (("POST", "/board"), ("DELETE", "/items/A-2026-0001")):
        answer = coordinator.request(method, path)
        assert answer.status == 405 and answer.headers["Content-Type"].startswith("text/html"), path
        assert "<h1>" in answer.body and "Accepted: GET" in answer.body
        assert "<nav>" in answer.body, path
    answer = coordinator.post("/items/A-2026-0001/remind", {"csrf": csrf, "reason": "x" * 70_000})
    assert answer.status == 413 and answer.headers["Content-Type"].startswith("text/html") and "<h1>" in answer.body


def test_a_focal_point_reads_the_people_they_manage(world: PortalWorld) -> None:
    """A national focal point as the portal's member list makes one (officer and focal point, not a point of
    contact) gets the Directory with their country's people; an organisational focal point of a desk, the
    people of that desk: whose entries /member lets them manage (alerts/focal.py), nobody else's."""
    for text in ("/member add console:somsak country:TH role:nfp name:Somsak",
                 "/member add console:niran country:TH desk:police role:ofp name:Niran"):
        answers = world.say("rso-admin", text)
        assert any("Added" in a for a in answers), answers
    national = Client(world.url)
    national.log_in(world.login_link("somsak"))
    assert 'href="/directory"' in national.get("/board").body
    page = national.get("/directory")
    assert page.status == 200
    assert "th-immigration" in page.body and "th-police" in page.body and "my-officer" not in page.body
    organisational = Client(world.url)
    organisational.log_in(world.login_link("niran"))
    page = organisational.get("/directory")
    assert page.status == 200
    assert "th-police" in page.body and "th-immigration" not in page.body and "my-officer" not in page.body
    assert "The people you manage" in page.body
    officer = Client(world.url)
    officer.log_in(world.login_link("th-officer"))
    assert officer.get("/directory").status == 404


def test_a_login_page_left_open_too_long_says_to_ask_for_a_new_link(world: PortalWorld) -> None:
    """The login page's cookie lasts as long as the link: pressing Log in after that (the browser dropped
    the cookie) is refused with what to do (ask /portal again), not with a reload that cannot help."""
    link = world.login_link("th-npoc")
    client = Client(world.url)
    page = client.get(urllib.parse.urlsplit(link).path)
    client.cookies.clear()  # what the browser does once the cookie's Max-Age is over
    answer = client.post("/login", {"csrf": page.field("csrf"), "token": page.field("token")})
    assert answer.status == 403 and "Link refused" in answer.body
    assert "/portal" in answer.body and "reload" not in answer.body


def test_someone_added_without_a_zone_reads_times_on_the_configured_default_in_chat_and_portal(
        world: PortalWorld) -> None:
    # The example configuration's default_timezone is Asia/Bangkok.
    added = world.say("rso-admin", "/member add console:th-newcomer country:TH role:officer")
    assert any("time zone Asia/Bangkok (the network's default)" in a for a in added), added
    whoami = world.say("th-newcomer", "/whoami")
    assert any("Time zone: Asia/Bangkok (the network's default)" in a for a in whoami), whoami
    sent = world.say("my-officer", "/alert to:@th-newcomer tlp:amber topic:document-fraud\nCheck the manifest")
    assert sent, sent
    world.call(world.runtime.worker.settle())
    delivered = [m.text for m in world.sink.sent if str(m.destination) == "direct:console:th-newcomer"]
    assert any("UTC+7" in text for text in delivered), delivered  # Bangkok's clock, as the portal's
    client = Client(world.url)
    client.log_in(world.login_link("th-newcomer"))
    page = client.get("/items/A-2026-0003")
    assert page.status == 200 and "Times in Asia/Bangkok" in page.body and "Times in UTC" not in page.body
    local = world.clock.now().astimezone(ZoneInfo("Asia/Bangkok"))
    assert f"{local:%Y-%m-%d %H:%M}" in page.body
    assert "Times in Asia/Bangkok" in client.get("/board").body


def test_a_form_sent_after_the_session_ended_says_so_and_does_nothing(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    csrf = client.get("/board").field("csrf")
    sent = len(world.sink.sent)
    world.advance(timedelta(minutes=31))
    answer = client.post("/items/A-2026-0001/remind", {"csrf": csrf})
    assert answer.status == 403 and "Location" not in answer.headers
    assert "session ended" in answer.body and "nothing was done" in answer.body.lower()
    assert "/portal" in answer.body  # how to log in again
    world.call(world.runtime.worker.settle())
    assert not [m for m in world.sink.sent[sent:] if "A-2026-0001" in (m.text or "")]
    add = client.post("/arrangements/add", {"csrf": csrf, "between": "TH,CA"})
    assert add.status == 403 and "session ended" in add.body


def test_a_page_not_theirs_answers_404_before_its_query_is_read(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))  # no access to Statistics
    for path in ("/stats?period=x", "/stats?period=30d", "/stats"):
        answer = client.get(path)
        assert answer.status == 404 and "Statistics" not in answer.body.split("<main>")[1], path


def test_an_invalid_bulletin_month_gives_the_bulletins_own_form_and_example(world: PortalWorld) -> None:
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))
    for month in ("2026-13", "2026-00", "Nov"):
        answer = client.get(f"/bulletin?month={month}")
        assert answer.status == 400 and "/stats" not in answer.body, month
        assert "YYYY-MM" in answer.body and "/bulletin?month=2026-10" in answer.body, month
    assert client.get("/bulletin?month=2026-10").status == 200


def test_the_not_found_page_keeps_the_menu_for_a_logged_in_viewer(world: PortalWorld) -> None:
    client = Client(world.url)
    assert "<nav>" not in client.get("/no-such-page").body  # nobody logged in: no menu
    client.log_in(world.login_link("rso-coordinator"))
    for path in ("/no-such-page", "/items/A-2099-0001", "/items/nonsense"):
        answer = client.get(path)
        assert answer.status == 404 and "<nav>" in answer.body and 'href="/board"' in answer.body, path
        assert "Log out" in answer.body, path


def test_every_refused_form_keeps_the_menu_for_a_logged_in_viewer(world: PortalWorld) -> None:
    """A form refused (403 without or with a wrong CSRF token, 400 for a field no form has, 413 for a body
    too big) is a page like any other refusal: the menu and Log out stay, with a token that works, so the
    person goes on from there. Before login, the same pages have no menu."""
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    csrf = client.get("/board").field("csrf")
    refused = [
        (403, client.post("/items/A-2026-0001/remind", {"csrf": ""})),
        (403, client.post("/items/A-2026-0001/escalate", {"csrf": "forged"})),
        (403, client.post("/arrangements/add", {"between": "MY,TH"})),
        (403, client.post("/logout", {})),
        (400, client.post("/items/A-2026-0001/remind", {"csrf": csrf, "force": "yes"})),
        (400, client.post("/arrangements/end", {"csrf": csrf, "which": "1", "colour": "red"})),
        (413, client.post("/items/A-2026-0001/remind", {"csrf": csrf, "reason": "x" * 70_000})),
    ]
    for status, answer in refused:
        assert answer.status == status, (status, answer.body)
        assert "<h1>" in answer.body and "Traceback" not in answer.body
        assert "<nav>" in answer.body and 'href="/board"' in answer.body and "Log out" in answer.body, (
            status, answer.body)
        assert answer.field("csrf") == csrf  # the menu's Log out works from here
    assert client.post("/logout", {"csrf": refused[0][1].field("csrf")}).status == 303
    nobody = Client(world.url)
    answer = nobody.post("/login", {"csrf": "forged", "token": "x"})
    assert answer.status == 403 and "<nav>" not in answer.body and "Log out" not in answer.body


def test_a_page_that_fails_says_so_with_a_reference_and_keeps_the_menu(world: PortalWorld,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A page that fails is a refusal page too (500, an error reference, no traceback), with the menu
    for someone logged in; when even the session cannot be read, the page is said without the menu."""
    from bot.portal import views

    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))

    def broken(*args: object) -> None:
        raise RuntimeError("the board broke")

    monkeypatch.setattr(views, "board", broken)
    answer = client.get("/board")
    assert answer.status == 500 and "Error reference" in answer.body and "Traceback" not in answer.body
    assert "<nav>" in answer.body and "Log out" in answer.body
    reference = answer.body.split("Error reference ")[1][:8]
    assert reference in caplog.text and "the board broke" in caplog.text

    async def unreadable(request: object) -> None:
        raise RuntimeError("the database is away")

    monkeypatch.setattr(world.portal, "_viewer", unreadable)
    answer = client.get("/board")
    assert answer.status == 500 and "Error reference" in answer.body and "<nav>" not in answer.body


SEES_OWN = "You see the lines you owe or sent; coordinators and admins see every line."
FOCAL_POINT = "As a focal point you manage your people's entries in the directory, not their items"


def test_a_focal_points_overdue_board_says_what_it_shows_them_as_overdue_does_in_chat(world: PortalWorld) -> None:
    """The overdue list is a coordinators' view (handlers/visibility.py): a national focal point manages
    their country's directory entries (README "Focal points"), not its items, so their board shows what
    they owe or sent, as /overdue does in chat for anyone not a coordinator or admin. A short or empty
    list says so, in chat and on the board alike, rather than "Nothing is overdue" while Thailand owes."""
    for text in ("/member add console:somsak country:TH role:nfp name:Somsak",
                 "/member add console:somchai country:TH role:officer name:Somchai",  # as the portal's list
                 "/member add console:somchai country:TH role:nfp name:Somchai"):    # makes one: both
        answers = world.say("rso-admin", text)
        assert any("Added" in a or "Updated" in a for a in answers), answers
    world.advance(timedelta(days=3))  # Thailand owes A-2026-0001 and A-2026-0002
    # Chat: /overdue is not a focal point's command (README "Who may do what")...
    [refused] = world.say("somsak", "/overdue")
    assert "/overdue needs one of these roles" in refused and "A-2026" not in refused
    # ...and whoever may ask it but sees only their own lines is told so.
    [officer] = world.say("th-officer", "/overdue")
    assert officer == f"Nothing of yours is overdue. {SEES_OWN}"
    [both] = world.say("somchai", "/overdue")
    assert both.startswith(f"Nothing of yours is overdue. {SEES_OWN} {FOCAL_POINT}") and "A-2026" not in both
    [owing] = world.say("th-npoc", "/overdue")
    assert "A-2026-0001" in owing and owing.endswith(SEES_OWN)
    [coordinator] = world.say("rso-coordinator", "/overdue")
    assert "A-2026-0001" in coordinator and "You see" not in coordinator
    # The portal: the same rule, said the same way.
    for contact in ("somsak", "somchai"):
        client = Client(world.url)
        client.log_in(world.login_link(contact))
        board = html.unescape(client.get("/board").body)
        assert "A-2026" not in board, contact
        assert "Nothing of yours is overdue." in board and "Nothing is overdue" not in board, contact
        assert SEES_OWN in board and FOCAL_POINT in board, contact
    client = Client(world.url)
    client.log_in(world.login_link("th-npoc"))
    board = client.get("/board").body
    assert "A-2026-0001" in board and SEES_OWN in board and FOCAL_POINT not in board
    client = Client(world.url)
    client.log_in(world.login_link("rso-coordinator"))
    board = client.get("/board").body
    assert "A-2026-0001" in board and "You see" not in board


PAGES = ("/board", "/items", "/stats", "/bulletin", "/directory", "/rooms", "/arrangements")


def test_the_menu_offers_exactly_the_pages_its_viewer_may_open(world: PortalWorld) -> None:
    """The menu is made from the pages' own checks: every link it shows opens, and every page it leaves
    out answers 404, for each kind of person."""
    seen: set[tuple[str, ...]] = set()
    for person in ("rso-coordinator", "rso-admin", "rso-auditor", "th-npoc", "th-officer", "ca-npoc", "th-police"):
        client = Client(world.url)
        client.log_in(world.login_link(person))
        nav = client.get("/board").body.split("<nav>")[1].split("</nav>")[0]
        offered = tuple(page for page in PAGES if f'href="{page}"' in nav)
        seen.add(offered)
        for page in PAGES:
            status = client.get(page).status
            assert status == (200 if page in offered else 404), (person, page, status)
    assert len(seen) >= 3  # the people differ in what they may see: the test is not of one menu
