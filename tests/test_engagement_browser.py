"""The engagement page served by the real command (``leavex-bot web``, uvicorn on 127.0.0.1)
in headless Chromium: logged in, it shows the four charts as loaded pictures with text
alternatives and the numbers in tables, with no console error (so nothing the page's security
policy refuses), and a screenshot is saved as a test artifact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import SITE
from tests.support.browser import artifacts_dir, chromium, console_errors, status_page, submit
from tests.support.engagement_data import seed

pytestmark = pytest.mark.slow  # starts the status page's server

PASSWORD = "engagement-browser-PASSWORD"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("WEB_PASSWORD", PASSWORD)
    seed(sqlite_url)
    with status_page(tmp_path / "web.log") as base:
        yield base


def test_the_engagement_page_in_headless_chromium(served: str) -> None:
    from selenium.webdriver.common.by import By

    shots = artifacts_dir()
    host = served.removeprefix("http://")
    with chromium(height=2400) as browser:
        browser.get(f"http://admin:{PASSWORD}@{host}/engagement")
        assert browser.title == "Engagement · LeaveX bot"
        charts = browser.find_elements(By.CSS_SELECTOR, "section.chart img")
        assert len(charts) == 4
        for chart in charts:
            assert chart.get_attribute("alt")
            assert browser.execute_script("return arguments[0].complete", chart)
            assert browser.execute_script("return arguments[0].naturalWidth", chart) == 800
        by_language = browser.find_element(By.CSS_SELECTOR, "#language table").text
        assert "de 1 5 2 1 0 8" in by_language
        assert "HelloQuitX 3 9 3 3 1 16" in browser.find_element(By.ID, "item").text
        assert "mastodon 2 6 2 1 0 9" in browser.find_element(By.ID, "platform").text
        # The period form works.
        browser.find_element(By.CSS_SELECTOR, "select[name=days] option[value='90']").click()
        submit(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
        assert "last 90 days" in browser.find_element(By.TAG_NAME, "h1").text
        assert "mastodon 3 15 11 10 9 45" in browser.find_element(By.ID, "platform").text
        browser.save_screenshot(str(shots / "engagement.png"))
        assert console_errors(browser) == []
    assert (shots / "engagement.png").stat().st_size > 10_000
