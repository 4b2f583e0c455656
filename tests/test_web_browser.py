"""The status page served by the real command (``leavex-bot web``, uvicorn on 127.0.0.1) and
seen in headless Chromium: it logs in, visits every page, finds the accounts, the posts and a
failure, sees no console error, and saves a screenshot of each page as a test artifact."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import App
from bot.clock import iso
from bot.worker import run_once
from tests.helpers import SITE
from tests.support.browser import artifacts_dir, chromium, console_errors, status_page, submit

pytestmark = pytest.mark.slow  # starts the status page's server

PASSWORD = "browser-test-password-SECRET"
FAILURE = "refused by the platform: 422 Validation failed: Text character limit exceeded"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """``leavex-bot web`` on a free port of 127.0.0.1, over a state with the dry-run posts of
    one run and one refused post."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("WEB_PASSWORD", PASSWORD)
    app = App.load()
    run_once(app, app.accounts, None)
    earlier = app.now().replace(microsecond=0) - dt.timedelta(days=3)
    with app.open_store() as store:
        record, _ = store.plan(
            account="mastodon",
            platform="mastodon",
            slot_at=earlier,
            slot_key=iso(earlier),
            dry_run=True,
            item_id="helloquitx",
            slot_language="en",
            language="en",
            text="text",
            payload="{}",
            remote_key="k",
        )
        store.mark_refused(record, FAILURE)
    with status_page(tmp_path / "web.log") as base:
        yield base
    assert "Log in as 'admin' with WEB_PASSWORD" in (tmp_path / "web.log").read_text()
    assert PASSWORD not in (tmp_path / "web.log").read_text()


def test_the_real_server_asks_for_a_login(served: str) -> None:
    assert httpx.get(f"{served}/", timeout=10).status_code == 401
    assert httpx.get(f"{served}/", auth=("admin", "wrong"), timeout=10).status_code == 401
    page = httpx.get(f"{served}/history", auth=("admin", PASSWORD), timeout=10)
    assert page.status_code == 200
    assert FAILURE in page.text
    # The latest slots are posted (the refused post is of an earlier one): healthy.
    assert httpx.get(f"{served}/healthz", timeout=10).status_code == 200
    assert "server" not in {k.lower() for k in page.headers}  # no server banner


def test_every_page_in_headless_chromium(served: str) -> None:
    from selenium.webdriver.common.by import By

    shots = artifacts_dir()
    with chromium() as browser:
        # Log in (HTTP Basic: the browser sends the credentials from then on).
        host = served.removeprefix("http://")
        browser.get(f"http://admin:{PASSWORD}@{host}/")
        assert browser.title == "Overview · LeaveX bot"
        accounts = browser.find_elements(By.CSS_SELECTOR, "section.account")
        assert {a.get_attribute("id") for a in accounts} == {"account-mastodon", "account-bluesky"}
        assert "dry run" in accounts[0].text
        banner = browser.find_element(By.CSS_SELECTOR, ".banner").text
        assert "accounts" in banner
        # The style sheet is the page's own and it applies.
        assert (
            browser.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
            == "rgba(246, 247, 249, 1)"
        )
        browser.save_screenshot(str(shots / "overview.png"))
        assert console_errors(browser) == []

        browser.get(f"{served}/upcoming")
        assert browser.title == "Upcoming posts · LeaveX bot"
        posts = browser.find_elements(By.CSS_SELECTOR, "article.post")
        assert len(posts) >= 2
        for post in posts:
            links = post.find_elements(By.CSS_SELECTOR, ".text a")
            assert links and all(a.get_attribute("href").startswith("https://") for a in links)
        images = browser.find_elements(By.CSS_SELECTOR, "article.post img")
        assert images
        for image in images:
            assert image.get_attribute("alt")
            assert browser.execute_script("return arguments[0].naturalWidth", image) == 1200
        assert browser.find_elements(By.CSS_SELECTOR, "article.bluesky a.card")
        browser.save_screenshot(str(shots / "upcoming.png"))
        assert console_errors(browser) == []

        browser.get(f"{served}/history")
        assert browser.title == "History · LeaveX bot"
        statuses = [s.text for s in browser.find_elements(By.CSS_SELECTOR, "td .status")]
        assert statuses.count("posted") == 6 and statuses.count("refused") == 1
        assert FAILURE in browser.find_element(By.CSS_SELECTOR, "table.history").text
        # The filter form works: only the refused post.
        browser.find_element(By.CSS_SELECTOR, "select[name=status] option[value=refused]").click()
        submit(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
        statuses = [s.text for s in browser.find_elements(By.CSS_SELECTOR, "td .status")]
        assert statuses == ["refused"]
        browser.save_screenshot(str(shots / "history.png"))
        assert console_errors(browser) == []

        browser.get(f"{served}/dataset")
        assert browser.title == "Dataset · LeaveX bot"
        row = browser.find_element(By.ID, "item-helloquitx")
        assert "initiative" in row.text and "yes" in row.text
        browser.save_screenshot(str(shots / "dataset.png"))
        assert console_errors(browser) == []
    for name in ("overview", "upcoming", "history", "dataset"):
        assert (shots / f"{name}.png").stat().st_size > 10_000


def test_basic_credentials_in_a_header(served: str) -> None:
    """What monitors and ``curl -u`` send."""
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    answer = httpx.get(f"{served}/dataset", headers={"Authorization": f"Basic {token}"}, timeout=10)
    assert answer.status_code == 200
