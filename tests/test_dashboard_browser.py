"""The dashboard in a real browser: headless Chromium (Debian's, through Selenium) on a running worker.

It sees a non-empty distribution, a tier change published while it watches appear in the
live feed, the type filter hide and show it, that entity's page with its score and
history, and the search open another; screenshots go to the test's tmp dir.
``.ci/run`` installs ``chromium`` and ``chromium-driver`` when missing.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streaming import Stream
from tierstream.streams.client import publish

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.integration,
    # skipped on a machine without the driver, never under CI (.ci/run installs it)
    pytest.mark.skipif(not CHROMEDRIVER.exists() and not os.environ.get("CI"),
                       reason="no /usr/bin/chromedriver (apt-get install chromium chromium-driver)"),
]


def order(n: int, customer: str, amount: float) -> bytes:
    return json.dumps({"type": "order", "event_id": f"e{n}", "occurred_at": f"2026-05-{n:02d}T10:00:00Z",
                       "order_id": f"o{n}", "customer_id": customer, "amount": amount}).encode()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_shows_the_distribution_a_live_change_and_the_entity(
        stream: Stream, browser: WebDriver, tmp_path: Path) -> None:
    worker = stream.start_worker()
    assert publish(stream.settings, enumerate([order(1, "c1", 900.0), order(2, "c2", 300.0),
                                               order(3, "c3", 5000.0)], 1)).failed == 0
    browser.get(f"http://127.0.0.1:{worker.port}/")
    wait = WebDriverWait(browser, 30, poll_frequency=0.2)

    def customers_counted(d: WebDriver) -> bool:
        canvas = d.find_element(By.CSS_SELECTOR, 'figure[data-type="customer"] canvas')
        return int(canvas.get_attribute("data-count") or 0) >= 3

    wait.until(customers_counted, "the customer distribution never counted the 3 customers")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live", "the live feed never connected")
    browser.save_screenshot(str(tmp_path / "overview.png"))
    assert not browser.find_elements(By.CSS_SELECTOR, '#feed li[data-id="c-live"]')

    assert publish(stream.settings, enumerate([order(4, "c-live", 1200.0)], 1)).failed == 0
    item = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#feed li.change[data-id="c-live"]'),
                      "the change of c-live never reached the live feed")[0]
    assert item.get_attribute("data-type") == "customer"
    browser.save_screenshot(str(tmp_path / "live.png"))

    # the type filter hides the customers' chart and their changes, and brings them back
    kind = Select(browser.find_element(By.ID, "f-type"))
    kind.select_by_visible_text("supplier")
    customers = browser.find_element(By.CSS_SELECTOR, 'figure[data-type="customer"]')
    wait.until(lambda d: not customers.is_displayed() and not item.is_displayed(), "the type filter hid nothing")
    kind.select_by_visible_text("all")
    wait.until(lambda d: customers.is_displayed() and item.is_displayed(), "the customers never came back")

    item.find_element(By.LINK_TEXT, "c-live").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#e-history li"), "c-live's history never showed")
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/tiers/customer/c-live", timeout=5) as r:
        stored = json.loads(r.read())
    assert browser.find_element(By.ID, "e-title").text == "customer c-live"
    assert browser.find_element(By.ID, "e-tier").text == stored["tier"]
    assert browser.find_element(By.ID, "e-score").text.startswith(f"score {stored['score']:.1f}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#e-reasons li")) == len(stored["reasons"])
    browser.save_screenshot(str(tmp_path / "entity.png"))

    # the search opens another entity's page
    browser.find_element(By.ID, "s-id").send_keys("c3\n")
    wait.until(lambda d: d.find_element(By.ID, "e-title").text == "customer c3", "the search never opened c3")
