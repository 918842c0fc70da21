"""The web portal in a real headless Chromium: log in by a one-time link, read the overdue board,
open an item, see a chart; a reused link, a RED item for someone not entitled and a form without
its CSRF token are refused. Screenshots of the main pages are written to the test's tmp folder
(and, with LIAISON_PORTAL_SCREENSHOTS=DIR, to DIR: docs/screenshots/ holds the README's)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.portal.browser import chromium, skip_unless_browser
from tests.portal.world import PortalWorld

pytestmark = pytest.mark.slow

HOSTILE = 'Two travellers <script>document.title="pwned"</script><img src=x id="injected"> flight XX123'
EARLIER = 'One traveller <img src=x id="injected-earlier"> flight XX123 at 14:30'


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalWorld]:
    skip_unless_browser()
    with PortalWorld(tmp_path_factory.mktemp("portal"), logins_per_minute=1000) as world:
        answers = world.say("my-officer", f"/alert to:TH,ID tlp:amber topic:document-fraud priority:urgent\n{HOSTILE}")
        assert any("A-2026-0001" in a for a in answers), answers
        answers = world.say("my-officer", "/alert to:@th-npoc tlp:red topic:document-fraud priority:urgent\n"
                                          "The source is at risk, do not share")
        assert any("A-2026-0002" in a for a in answers), answers
        world.say("th-npoc", "/ack A-2026-0001")
        world.say("th-npoc", "/reply A-2026-0001 Confirmed <b>stolen</b>")
        answers = world.say("my-officer", f"/alert to:TH tlp:amber topic:document-fraud\n{EARLIER}")
        assert any("A-2026-0003" in a for a in answers), answers
        world.advance(timedelta(minutes=30))
        answers = world.say("my-officer", "/correct A-2026-0003 priority:urgent\n\nOne traveller, flight XX124 at 16:10")
        assert any("A-2026-0003 rev 2" in a for a in answers), answers
        world.advance(timedelta(days=3))  # everything unanswered is overdue now
        yield world


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return tmp_path


def screenshot(driver: Any, name: str, folder: Path) -> None:
    driver.save_screenshot(str(folder / f"{name}.png"))
    extra = os.environ.get("LIAISON_PORTAL_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(extra) / f"portal-{name}.png"))


def status_of(driver: Any, world: PortalWorld, path: str, method: str = "GET") -> int:
    """The HTTP status of `path` with the browser's session cookie (the page's own scripts may not
    fetch: the Content-Security-Policy forbids it)."""
    import urllib.error
    import urllib.request

    cookie = driver.get_cookie("portal_session")
    request = urllib.request.Request(world.url + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Cookie": f"portal_session={cookie['value']}"} if cookie else {})
    try:
        with urllib.request.urlopen(request) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def wait_for_title(driver: Any, heading: str) -> None:
    """Wait until the page that a click loads has `heading` as its <h1>."""
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # While the page is being replaced, an element found may be gone by the time it is read: look again.
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda d: any(h.text == heading for h in d.find_elements(By.TAG_NAME, "h1")), f"no page titled {heading}")


def log_in(driver: Any, world: PortalWorld, contact: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(world.url + "/")
    driver.delete_all_cookies()
    driver.get(world.login_link(contact))
    driver.find_element(By.ID, "login").click()
    wait_for_title(driver, "Overdue")


def test_a_coordinator_logs_in_by_link_and_reads_the_overdue_board(world: PortalWorld, browser: Any,
                                                                    shots: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-coordinator")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overdue"
    board = browser.find_element(By.TAG_NAME, "main").text
    assert "A-2026-0001" in board and "A-2026-0002" in board
    assert [h.text for h in browser.find_elements(By.TAG_NAME, "h2")] == ["ID", "TH"]  # by country and desk
    assert "Asia/Bangkok" in board  # the viewer's own zone
    assert browser.find_elements(By.CSS_SELECTOR, "form[action='/items/A-2026-0002/escalate'] input[name=csrf]")
    cookie = browser.get_cookie("portal_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain http here
    screenshot(browser, "board", shots)


def test_an_item_page_shows_its_route_feedback_and_hostile_text_inert(world: PortalWorld, browser: Any,
                                                                     shots: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-coordinator")
    browser.find_element(By.LINK_TEXT, "A-2026-0001").click()
    wait_for_title(browser, "A-2026-0001")
    assert browser.find_element(By.ID, "body").text == HOSTILE  # shown as text, never run
    assert browser.title != "pwned" and not browser.find_elements(By.ID, "injected")
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Confirmed <b>stolen</b>" in main  # feedback, escaped too
    assert "acknowledged" in main or "answered" in main
    screenshot(browser, "item", shots)


def test_a_recipient_reads_what_a_corrected_items_earlier_revision_said(world: PortalWorld, browser: Any,
                                                                         shots: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "th-npoc")  # a recipient of rev 1 and of rev 2
    browser.find_element(By.LINK_TEXT, "Items").click()
    wait_for_title(browser, "Items")
    browser.find_element(By.LINK_TEXT, "A-2026-0003").click()
    wait_for_title(browser, "A-2026-0003 rev 2")
    assert browser.find_element(By.ID, "body").text == "One traveller, flight XX124 at 16:10"
    assert browser.find_element(By.ID, "rev-1-body").text == EARLIER  # shown as text, never run
    assert not browser.find_elements(By.ID, "injected-earlier")
    assert browser.find_element(By.ID, "rev-1-changes").text == (
        "Changed since, to the current rev 2: priority routine → urgent · the text.")
    heading = browser.find_element(By.CSS_SELECTOR, "#rev-1 h3").text
    assert heading.startswith("Rev 1 · made ") and heading.count("+07") == 2  # on the reader's clock (Bangkok)
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "rev-1"))
    screenshot(browser, "item-revisions", shots)


def test_statistics_show_charts_drawn_on_the_server(world: PortalWorld, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-coordinator")
    browser.find_element(By.LINK_TEXT, "Statistics").click()
    wait_for_title(browser, "Statistics")
    chart = browser.find_element(By.ID, "volume-chart")
    source = chart.get_attribute("src")
    assert source.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(source.split(",", 1)[1]).decode()
    assert "<svg" in svg and len(svg) > 2000
    assert browser.execute_script("return arguments[0].naturalWidth", chart) > 100  # the browser drew it
    for other in ("overdue-chart", "ack-chart", "feedback-chart"):
        assert browser.execute_script("return arguments[0].naturalWidth", browser.find_element(By.ID, other)) > 100
    # Drawn small for phones, they stand two a row on a desktop, each at least its own size.
    tops = [browser.find_element(By.ID, c).rect["y"] for c in ("volume-chart", "overdue-chart", "ack-chart")]
    assert tops[0] == tops[1] < tops[2], tops
    assert chart.rect["width"] >= browser.execute_script("return arguments[0].naturalWidth", chart)
    screenshot(browser, "stats", shots)


def test_the_charts_text_is_legible_on_a_phone(world: PortalWorld) -> None:
    """A chart is an image scaled to the screen: drawn for a desktop, its 10-point labels shrank to 8 px
    on a 375 px phone. Drawn smaller, they stay at least 10 px; a desktop shows the charts two a row."""
    from selenium.webdriver.common.by import By

    phone = chromium(phone=True, phone_size=(375, 740))
    try:
        log_in(phone, world, "rso-coordinator")
        phone.get(world.url + "/stats")
        for chart in phone.find_elements(By.CSS_SELECTOR, "img.chart"):
            shown, natural = phone.execute_script("return [arguments[0].clientWidth, arguments[0].naturalWidth]", chart)
            label_px = 10 * 4 / 3 * shown / natural  # matplotlib's 10 pt labels, at 4/3 px a point, as scaled
            assert label_px >= 10, (chart.get_attribute("id"), shown, natural, label_px)
    finally:
        phone.quit()


def test_a_used_link_is_refused(world: PortalWorld, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(world.url + "/")
    browser.delete_all_cookies()
    link = world.login_link("th-npoc")
    browser.get(link)
    browser.find_element(By.ID, "login").click()
    wait_for_title(browser, "Overdue")
    browser.delete_all_cookies()
    browser.get(link)  # said at once, with no button that could only fail
    assert browser.find_element(By.TAG_NAME, "h1").text == "Link refused"
    assert "expired or was used" in browser.find_element(By.TAG_NAME, "main").text
    assert not browser.find_elements(By.ID, "login")
    assert browser.get_cookie("portal_session") is None
    browser.get(world.url + "/board")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in"  # not logged in


def test_a_red_item_is_not_found_for_someone_not_entitled(world: PortalWorld, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "th-police")  # a TH contact, but not a recipient of the RED item
    browser.get(world.url + "/items/A-2026-0002")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "do not share" not in browser.page_source
    assert status_of(browser, world, "/items/A-2026-0002") == 404
    browser.get(world.url + "/items")
    assert "A-2026-0002" not in browser.find_element(By.TAG_NAME, "main").text
    # Its recipient sees it, and their own copy only.
    log_in(browser, world, "th-npoc")
    browser.get(world.url + "/items/A-2026-0002")
    assert browser.find_element(By.ID, "body").text == "The source is at risk, do not share"


def test_a_form_without_its_csrf_token_is_refused(world: PortalWorld, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-coordinator")
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/items/A-2026-0001/remind']")
    browser.execute_script("arguments[0].querySelector('input[name=csrf]').remove()", form)
    form.find_element(By.TAG_NAME, "button").click()
    wait_for_title(browser, "Refused")
    assert status_of(browser, world, "/items/A-2026-0001/remind", "POST") == 403
    # With its token the same form works: the reminder goes out and the bot's answer is shown.
    browser.get(world.url + "/board")
    browser.find_element(By.CSS_SELECTOR, "form[action='/items/A-2026-0001/remind'] button").click()
    wait_for_title(browser, "Remind A-2026-0001")
    main = browser.find_element(By.TAG_NAME, "main").text
    assert re.search(r"Reminded about A-2026-0001|Nobody who has received", main), main


def test_pages_read_on_a_phone(world: PortalWorld, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    phone = chromium(phone=True)
    try:
        log_in(phone, world, "rso-coordinator")
        inner, scrolled = phone.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        assert inner <= 400 and scrolled <= inner  # the page does not scroll sideways
        assert phone.find_element(By.TAG_NAME, "h1").is_displayed()
        screenshot(phone, "board-phone", shots)
    finally:
        phone.quit()


def test_the_bulletin_prints_without_the_menus_and_as_a_pdf(world: PortalWorld, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.print_page_options import PrintOptions

    log_in(browser, world, "th-npoc")
    browser.find_element(By.LINK_TEXT, "Bulletin").click()
    wait_for_title(browser, "Monthly bulletin")
    browser.get(world.url + f"/bulletin?month={world.clock.now():%Y-%m}")
    assert "Monthly bulletin" in browser.find_element(By.ID, "bulletin").text
    assert browser.find_element(By.TAG_NAME, "header").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.TAG_NAME, "header").is_displayed()
        assert browser.find_element(By.ID, "bulletin").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.print_page(PrintOptions()))
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    (shots / "bulletin.pdf").write_bytes(pdf)
    screenshot(browser, "bulletin", shots)


def test_a_coordinator_records_an_arrangement_from_its_page(world: PortalWorld, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-coordinator")
    browser.find_element(By.LINK_TEXT, "Arrangements").click()
    wait_for_title(browser, "Sharing arrangements")
    form = browser.find_element(By.ID, "add-arrangement")
    for name, value in (("between", "ID,CA"), ("doc", "MoU ID-CA <2026>"), ("topics", "document-fraud"),
                        ("from", "2026-11-01"), ("until", "2027-01-31")):
        form.find_element(By.NAME, name).send_keys(value)
    # Without its CSRF token the form is refused and records nothing.
    browser.execute_script("arguments[0].querySelector('input[name=csrf]').remove()", form)
    form.find_element(By.TAG_NAME, "button").click()
    wait_for_title(browser, "Refused")
    browser.get(world.url + "/arrangements")
    assert "MoU ID-CA" not in browser.find_element(By.ID, "arrangements").text
    form = browser.find_element(By.ID, "add-arrangement")
    for name, value in (("between", "ID,CA"), ("doc", "MoU ID-CA <2026>"), ("topics", "document-fraud"),
                        ("from", "2026-11-01"), ("until", "2027-01-31")):
        form.find_element(By.NAME, name).send_keys(value)
    form.find_element(By.TAG_NAME, "button").click()
    wait_for_title(browser, "Sharing arrangements")
    assert "Recorded arrangement" in browser.find_element(By.TAG_NAME, "main").text
    [row] = [r for r in browser.find_elements(By.CSS_SELECTOR, "#arrangements tbody tr") if "MoU ID-CA <2026>" in r.text]
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1] == "MoU ID-CA <2026>" and "2026-11-01" in cells and "2027-01-31" in cells
    assert cells[7] == "66" and cells[8].startswith("in force, last day 2027-01-31")  # today: 2026-11-26
    screenshot(browser, "arrangements", shots)


# What a phone shows of a page: the page's own width against the screen's; the controls smaller than a
# fingertip (WCAG 2.5.8's 24 CSS pixels; links in a sentence of a note excepted); anything reaching past
# the screen's right edge (a cell, a button); anything that scrolls sideways inside its own box (a
# table's wrapper), whose far side a person would have to find; and table cells not named after their
# column (on a phone each row is a card, each cell under its column's name; a cell of buttons speaks for
# itself). What is hidden on purpose
# (a table's header row on a phone, kept for screen readers) is not on the screen and not counted.
PHONE_FACTS = """
const clipped = e => { for (let a = e; a; a = a.parentElement) { const s = getComputedStyle(a);
  if (s.clip !== 'auto' || s.clipPath !== 'none') return true; } return false; };
const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && !clipped(e); };
const name = e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''} `
  + `'${(e.textContent || e.name || '').trim().slice(0, 20)}'`;
const controls = [...document.querySelectorAll('a, button, select, input:not([type=hidden])')]
  .filter(visible).filter(e => !e.closest('.note'));
const small = controls.filter(e => { const r = e.getBoundingClientRect(); return r.height < 24 || r.width < 24; })
  .map(e => `${name(e)} ${Math.round(e.getBoundingClientRect().width)}x${Math.round(e.getBoundingClientRect().height)}px`);
const inPage = [...document.querySelectorAll('body *')].filter(visible);
const off = inPage.filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .map(e => `${name(e)} right ${Math.round(e.getBoundingClientRect().right)}px`);
const sideways = inPage.filter(e => !['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName))
  .filter(e => getComputedStyle(e).overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${name(e)} ${e.scrollWidth}px in ${e.clientWidth}px`);
const unlabelled = [];
for (const table of document.querySelectorAll('main table')) {
  const columns = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  for (const row of table.querySelectorAll('tbody tr'))
    [...row.children].forEach((cell, i) => { if (cell.dataset.label !== columns[i] && !cell.matches('.actions'))
      unlabelled.push(`${table.className || table.id} cell ${i + 1}: ${cell.dataset.label} for ${columns[i]}`); });
}
return {inner: innerWidth, wide: document.scrollingElement.scrollWidth, small: small.slice(0, 8), off: off.slice(0, 8),
        sideways: sideways.slice(0, 8), unlabelled: unlabelled.slice(0, 8)};
"""


def test_everyone_uses_the_portal_on_a_phone(world: PortalWorld, shots: Path) -> None:
    """375×740, every page as an officer, a coordinator, an auditor, a national focal point and an admin
    see it, and the login pages: nothing needs sideways scrolling (not the page, not a table inside its
    box), nothing lies past the screen's edge (the board's Remind and Escalate buttons included), every
    control is big enough to tap, and every table reads as one card a row with each cell named."""
    from selenium.webdriver.common.by import By

    added = world.say("rso-admin", "/member add console:somsak country:TH role:nfp name:Somsak")
    assert any("Added" in a for a in added), added
    phone = chromium(phone=True, phone_size=(375, 740))

    def check(who: str, path: str) -> None:
        assert phone.find_element(By.TAG_NAME, "h1").is_displayed()
        facts = phone.execute_script(PHONE_FACTS)
        assert facts["inner"] == 375, facts
        assert facts["wide"] <= facts["inner"], (who, path, facts)
        for fact in ("sideways", "off", "small", "unlabelled"):
            assert not facts[fact], (who, path, fact, facts[fact])

    try:
        for contact, paths in (
                ("my-officer", ("/board", "/items", "/items/A-2026-0001")),
                ("rso-coordinator", ("/board", "/items", "/items/A-2026-0001", "/items/A-2026-0003", "/stats",
                                     "/arrangements", "/directory", "/rooms", "/bulletin", "/no-such-page",
                                     "/stats?period=soon")),
                ("rso-auditor", ("/board", "/items", "/items/A-2026-0001", "/items/A-2026-0001/audit", "/stats",
                                 "/arrangements")),
                ("somsak", ("/board", "/items", "/directory", "/bulletin")),
                ("rso-admin", ("/directory", "/rooms", "/arrangements"))):
            log_in(phone, world, contact)
            for path in paths:
                phone.get(world.url + path)
                check(contact, path)
                if (contact, path) in {("rso-coordinator", "/board"), ("rso-coordinator", "/arrangements"),
                                       ("rso-auditor", "/items/A-2026-0001/audit"), ("somsak", "/directory")}:
                    screenshot(phone, f"{path.strip('/').replace('/', '-')}-phone-375", shots)
            if contact == "rso-coordinator":
                phone.get(world.url + "/board")
                assert phone.find_elements(By.CSS_SELECTOR, "form[action='/items/A-2026-0001/remind'] button")
        phone.delete_all_cookies()
        link = world.login_link("th-npoc")
        for path in ("/", link.removeprefix(world.url)):  # the login pages, before any session
            phone.get(world.url + path)
            check("nobody", path)
        phone.find_element(By.ID, "login").click()
        wait_for_title(phone, "Overdue")
        phone.delete_all_cookies()
        phone.get(link)  # used now: refused at once
        check("nobody", "a used link")
    finally:
        phone.quit()


# A header on a phone is one row: the brand and a Menu to open; more would push every page's content
# down (three rows of links, 190 px, for a coordinator). The bound: a fingertip-high control and its padding.
HEADER_MOST_PX = 64


def test_the_header_is_one_row_on_a_phone_and_its_menu_reaches_every_page(world: PortalWorld,
                                                                           browser: Any) -> None:
    """At 375 px the header takes one row; its menu, opened by a tap (a <details>: the CSP allows no
    script), holds a fingertip-high link to every page the desktop menu has, and Log out; each link
    opens its page. On a desktop the menu is in the header as before."""
    from urllib.parse import urlsplit

    from selenium.webdriver.common.by import By

    def shown_links(driver: Any) -> list[Any]:
        return [a for a in driver.find_elements(By.CSS_SELECTOR, "header a") if a.is_displayed()]

    phone = chromium(phone=True, phone_size=(375, 740))
    try:
        for contact in ("rso-coordinator", "rso-auditor", "my-officer"):
            log_in(browser, world, contact)
            pages = [urlsplit(a.get_attribute("href")).path for a in shown_links(browser)]
            assert browser.find_element(By.CSS_SELECTOR, "header button").is_displayed()  # Log out
            if contact == "rso-coordinator":
                assert pages == ["/board", "/items", "/stats", "/bulletin", "/directory", "/rooms", "/arrangements"]
            log_in(phone, world, contact)
            for path in pages:
                header = phone.find_element(By.TAG_NAME, "header")
                assert header.rect["height"] <= HEADER_MOST_PX, (contact, header.rect)
                assert phone.find_element(By.TAG_NAME, "h1").rect["y"] < HEADER_MOST_PX + 40
                assert not shown_links(phone)  # closed until tapped
                menu = phone.find_element(By.CSS_SELECTOR, "header summary")
                assert menu.rect["height"] >= 44 and menu.rect["x"] + menu.rect["width"] <= 375
                menu.click()
                links = shown_links(phone)
                assert [urlsplit(a.get_attribute("href")).path for a in links] == pages, contact
                for link in links:
                    assert link.rect["height"] >= 44 and link.rect["x"] + link.rect["width"] <= 375, link.text
                [logout] = [b for b in phone.find_elements(By.CSS_SELECTOR, "header button") if b.is_displayed()]
                assert logout.text == "Log out" and logout.rect["height"] >= 44
                [link] = [a for a in links if urlsplit(a.get_attribute("href")).path == path]
                title = link.text
                link.click()
                wait_for_path(phone, path)
                assert phone.find_element(By.TAG_NAME, "h1").text, (contact, path, title)
    finally:
        phone.quit()


def wait_for_path(driver: Any, path: str) -> None:
    """Wait until the page a click loads is at `path`."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: d.current_url.split("?")[0].endswith(path), f"not at {path}")


def test_wide_tables_stay_tables_on_a_desktop(world: PortalWorld, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, world, "rso-auditor")
    for path in ("/items", "/items/A-2026-0001/audit", "/stats", "/arrangements"):
        browser.get(world.url + path)
        tables = browser.find_elements(By.CSS_SELECTOR, "main table")
        assert tables, path
        for table in tables:
            assert browser.execute_script("return getComputedStyle(arguments[0]).display", table) == "table", path
            assert table.find_element(By.TAG_NAME, "thead").is_displayed(), path
