"""Headless Chromium for the status page's browser test: Debian's ``chromium`` driven through
``chromium-driver`` by Selenium (``apt-get install chromium chromium-driver``; ``.ci/run``
installs them). Selenium is pointed at both binaries, so it never downloads a browser or a
driver. Outside CI a missing browser skips the test with the reason; in CI (``CI=true``) it
fails.

Screenshots are test artifacts: they go to ``$TEST_ARTIFACTS_DIR/web`` (default
``build/test-artifacts/web``, ignored by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver", "chromium-driver")


def artifacts_dir() -> Path:
    base = Path(os.environ.get("TEST_ARTIFACTS_DIR") or ROOT / "build" / "test-artifacts")
    folder = base / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _find(names: tuple[str, ...], extra: tuple[str, ...] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((path for path in extra if Path(path).is_file()), None)


def binaries() -> tuple[str, str]:
    """(chromium, chromedriver), or skip (fail in CI) when they are not installed."""
    browser = _find(CHROMIUM, ("/usr/lib/chromium/chromium",))
    driver = _find(DRIVER, ("/usr/lib/chromium/chromedriver",))
    if browser is None or driver is None:
        message = (
            "headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return browser, driver


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium session that keeps the browser console's messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",  # no request to any other host
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_page_load_timeout(60)
    try:
        yield session
    finally:
        session.quit()


def console_errors(session: Any) -> list[dict[str, Any]]:
    """The console's errors since the last call (the log is emptied by reading it)."""
    return [entry for entry in session.get_log("browser") if entry.get("level") == "SEVERE"]


def submit(session: Any, button: Any, timeout: float = 30.0) -> None:
    """Click a form's submit button and wait (bounded) until the next page has replaced this
    one. Chromium may return from the click before the navigation starts; reading the page
    right away then finds the old document's elements, which go stale under the reader."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = session.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(session, timeout).until(expected_conditions.staleness_of(old_page))
    WebDriverWait(session, timeout).until(
        lambda s: s.execute_script("return document.readyState") == "complete"
    )


@contextmanager
def status_page(log_file: Path) -> Iterator[str]:
    """``leavex-bot web`` (the real command, uvicorn) on a free port of 127.0.0.1 with the
    current environment, until it answers ``/healthz`` (at most 60 s); its output goes to
    ``log_file``. Yields the base URL and stops the server after."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from tests.support.server import stop_process

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the status page did not start: {log_file.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            stop_process(server, 15)
