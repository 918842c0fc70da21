"""A real headless Chromium driven by Selenium: Debian's `chromium` and `chromium-driver`, which
.ci/run installs where they are missing. Where they are missing locally, the browser tests skip and
say why; on CI (LIAISON_REQUIRE_BROWSER=1, set by .ci/run) they fail instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LIAISON_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LIAISON_CHROMEDRIVER", "/usr/bin/chromedriver")


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver (.ci/run does)"
    if not (Path(CHROMEDRIVER).exists() or shutil.which(CHROMEDRIVER)):
        return f"no chromedriver at {CHROMEDRIVER}: apt-get install chromium-driver (.ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


def skip_unless_browser() -> None:
    """Skip, saying why, where there is no browser; but fail on CI (.ci/run sets LIAISON_REQUIRE_BROWSER),
    which installs it: there the browser tests must run."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("LIAISON_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


def chromium(width: int = 1100, height: int = 900, phone: bool = False,  # type: ignore[no-untyped-def]
             phone_size: tuple[int, int] = (390, 844)):
    skip_unless_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    if phone:  # a phone's screen and pixel density, as Chromium's device emulation gives them
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {
            "width": phone_size[0], "height": phone_size[1], "pixelRatio": 2.0}})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver
