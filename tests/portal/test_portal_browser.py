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
    screenshot(browser, "stats", shots)


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
        assert inner <= 400 and scrolled <= inner  # wide tables scroll inside their box, the page does not
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


# What a phone shows of a page: the page's own width against the screen's, the controls smaller than a
# fingertip (WCAG 2.5.8's 24 CSS pixels; inline links in a sentence excepted), and those off the screen.
PHONE_FACTS = """
const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
const controls = [...document.querySelectorAll('nav a, button, select, input:not([type=hidden]), .filters a, .pager a')]
  .filter(visible);
const small = controls.filter(e => { const r = e.getBoundingClientRect(); return r.height < 24 || r.width < 24; })
  .map(e => `${e.tagName} ${(e.textContent || e.name).trim().slice(0, 20)} ${Math.round(e.getBoundingClientRect().height)}px`);
const off = [...document.querySelectorAll('main button')].filter(visible)
  .filter(e => e.getBoundingClientRect().right > innerWidth).map(e => e.textContent.trim());
return {inner: innerWidth, wide: document.scrollingElement.scrollWidth, small: small, off: off};
"""


def test_an_officer_and_a_coordinator_use_the_portal_on_a_phone(world: PortalWorld, shots: Path) -> None:
    """375×740: no page scrolls sideways, every control is big enough to tap, and the board's Remind and
    Escalate buttons are on the screen (not past a table's edge)."""
    from selenium.webdriver.common.by import By

    phone = chromium(phone=True, phone_size=(375, 740))
    try:
        for contact, paths in (("my-officer", ("/board", "/items", "/items/A-2026-0001")),
                               ("rso-coordinator", ("/board", "/items", "/items/A-2026-0001", "/stats",
                                                    "/arrangements", "/directory", "/bulletin"))):
            log_in(phone, world, contact)
            for path in paths:
                phone.get(world.url + path)
                assert phone.find_element(By.TAG_NAME, "h1").is_displayed()
                facts = phone.execute_script(PHONE_FACTS)
                assert facts["inner"] == 375, facts
                assert facts["wide"] <= facts["inner"], (contact, path, facts)
                assert not facts["small"], (contact, path, facts["small"])
                assert not facts["off"], (contact, path, facts["off"])
            if contact == "rso-coordinator":
                phone.get(world.url + "/board")
                assert phone.find_elements(By.CSS_SELECTOR, "form[action='/items/A-2026-0001/remind'] button")
                screenshot(phone, "board-phone-375", shots)
    finally:
        phone.quit()
