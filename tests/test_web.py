"""The status page in-process (Starlette's test client, no socket): every page's content, the
upcoming posts rendered like posts, the history's filters and pages, escaping, the login, the
security headers, no secret on any page, no request to another host, and nothing written."""

from __future__ import annotations

import base64
import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from bot.app import App
from bot.cli import cli
from bot.clock import iso
from bot.state import Store
from bot.web.app import create_app
from bot.web.security import CSP
from bot.worker import run_once
from tests.helpers import SITE, write_item

PAGES = ["/", "/upcoming", "/history", "/dataset", "/healthz"]
HOSTILE = """
[hostile]
kind = "initiative"
name = "<script>alert(1)</script> & Co"
urls = ["https://hostile.example.org/call?a=1&b='2'&c=3"]
hashtags = ["LeaveX"]

[hostile.description]
en = "A name with <b>markup</b> \\"quotes\\" and 'apostrophes'."
"""
SECRETS = {
    "ACCOUNTS__M1__ACCESS_TOKEN": "web-test-mastodon-token-SECRET1",
    "ACCOUNTS__B1__APP_PASSWORD": "web-test-app-password-SECRET2",
    "WEB_PASSWORD": "web-test-page-password-SECRET3",
    "ALERT_URLS": "json://user:web-test-alert-SECRET4@127.0.0.1:9/hook",
}


def client(app: App, auth: tuple[str, str] | None = None) -> TestClient:
    web = TestClient(create_app(app), base_url="http://127.0.0.1")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        web.headers["Authorization"] = f"Basic {token}"
    return web


@pytest.fixture
def dry_app(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> App:
    """The newcomer's case: no account configured (two dry-run accounts), one run done."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    app = App.load()
    run_once(app, app.accounts, None)
    return app


@pytest.fixture
def live_app(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> App:
    """Two real accounts (never contacted), a hostile item, secrets everywhere."""
    write_item(tmp_path / "data", HOSTILE)
    for name, value in {
        "DATABASE_URL": sqlite_url,
        "DATA_DIR": str(tmp_path / "data"),
        "POST_LANGUAGES": "en",
        "SITE_BASE_URL": SITE,
        "ACCOUNTS__M1__PLATFORM": "mastodon",
        "ACCOUNTS__M1__API_BASE_URL": "https://social.example",
        "ACCOUNTS__B1__PLATFORM": "bluesky",
        "ACCOUNTS__B1__HANDLE": "bot.bsky.example",
        **SECRETS,
    }.items():
        monkeypatch.setenv(name, value)
    return App.load()


def _record(app: App, account: str, slot: dt.datetime, status: str, **extra: Any) -> None:
    with app.open_store() as store:
        record, _ = store.plan(
            account=account,
            platform="mastodon" if account == "m1" else "bluesky",
            slot_at=slot,
            slot_key=iso(slot),
            dry_run=False,
            item_id=extra.get("item", "hostile"),
            slot_language=extra.get("language", "en"),
            language=extra.get("language", "en"),
            text="text",
            payload="{}",
            remote_key="k",
        )
        if status == "posted":
            store.mark_posted(record, "1", extra.get("url", "https://social.example/@bot/1"))
        elif status == "failed":
            store.mark_failed(record, extra.get("error", "401 the access token was rejected"))


class Links(HTMLParser):
    """Every URL a page makes the browser load (and every link)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        for name in ("src", "srcset", "data", "poster"):
            if values.get(name):
                self.loads.append(values[name] or "")
        if tag == "link" and values.get("href"):
            self.loads.append(values["href"] or "")
        assert tag not in ("script", "iframe", "object", "embed"), tag


def _parse(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def test_a_newcomer_sees_the_dry_run_posts(dry_app: App) -> None:
    web = client(dry_app)
    overview = web.get("/")
    assert overview.status_code == 200
    for name in ("mastodon", "bluesky"):
        assert f'id="account-{name}"' in overview.text
    assert "dry run" in overview.text
    assert "All 2 accounts are fine." in overview.text
    history = web.get("/history")
    assert "dry run: not published" in history.text
    assert history.text.count('class="status posted"') == 6  # 2 accounts × 3 languages
    dataset = web.get("/dataset")
    assert 'id="item-helloquitx"' in dataset.text


def test_upcoming_posts_are_rendered_like_posts(dry_app: App) -> None:
    """Links and hashtags are links, the picture has its alt text, Bluesky has a link card; the
    text is exactly preview --json's."""
    from bot.poster import Poster
    from bot.schedule import next_slots
    from bot.web.pages import NeverPosts

    web = client(dry_app)
    page = web.get("/upcoming?n=1")
    assert page.status_code == 200
    html = page.text
    links = _parse(html)
    assert any(href.startswith("https://bsky.app/hashtag/") for href in links.links)
    assert any(href.startswith("https://mastodon.example/tags/") for href in links.links)
    account = dry_app.select("bluesky")[0]
    with dry_app.open_store() as store:
        poster = Poster(store, dry_app.dataset, dry_app.renderer, today=dry_app.today)
        slot = next(iter(next_slots(account, dry_app.settings.timezone, dry_app.now(), 1)))
        _, post, _ = poster.preview(account, NeverPosts("bluesky"), [slot])[0]
    assert post is not None and post.card is not None and post.picture is not None
    first_link = next(f for f in post.facets if f.kind == "link")
    assert f'href="{first_link.value}"' in html
    assert 'class="card"' in html
    from markupsafe import escape

    assert f'alt="{escape(post.picture.alt)}"' in html
    assert str(escape(post.card.title)) in html
    pictures = [src for src in links.loads if src.startswith("/picture/")]
    assert pictures
    image = web.get(pictures[0])
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")
    assert web.get("/picture/not-a-known-picture").status_code == 404


def test_every_string_is_escaped(live_app: App) -> None:
    now = live_app.now()
    _record(
        live_app, "m1", now - dt.timedelta(days=1), "failed", error="<img src=x onerror=alert(2)>"
    )
    # A platform answering with a script link: shown without the link.
    _record(live_app, "b1", now - dt.timedelta(days=2), "posted", url="javascript:alert(3)")
    web = client(live_app, ("admin", SECRETS["WEB_PASSWORD"]))
    for path in ["/", "/upcoming", "/history", "/dataset"]:
        html = web.get(path).text
        assert "javascript:" not in html, path
        assert "<script>alert(1)</script>" not in html, path
        assert "<img src=x" not in html, path
        _parse(html)  # no script element at all
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in web.get("/dataset").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in web.get("/history").text


def test_the_dataset_page_names_an_item_the_bot_cannot_post(
    monkeypatch: pytest.MonkeyPatch, live_app: App, tmp_path: Path
) -> None:
    """An item whose link a platform would cut is shown as not postable, with check's reason
    (not as "yes" while the worker passes over it)."""
    (tmp_path / "data" / "more.toml").write_text(
        '[cut-link]\nkind = "petition"\nname = "Cut"\nurls = ["https://example.org/page."]\n',
        encoding="utf-8",
    )
    web = client(App.load(), ("admin", SECRETS["WEB_PASSWORD"]))
    page = web.get("/dataset").text
    row = page[page.index('id="item-cut-link"') :].split("</tr>")[0]
    assert '<span class="status failed">no</span>' in row
    assert "field &#39;urls.0&#39;" in row and "would not be one whole link" in row
    hostile = page[page.index('id="item-hostile"') :].split("</tr>")[0]
    assert '<span class="status posted">yes</span> in en' in hostile


def test_security_headers_on_every_answer(dry_app: App) -> None:
    web = client(dry_app)
    for path in [*PAGES, "/static/style.css", "/no-such-page"]:
        answer = web.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in CSP and "default-src 'none'" in CSP


def test_no_request_to_another_host(dry_app: App) -> None:
    web = client(dry_app)
    for path in ["/", "/upcoming", "/history", "/dataset"]:
        loads = _parse(web.get(path).text).loads
        assert loads, path
        assert all(url.startswith("/") and not url.startswith("//") for url in loads), loads


def test_login(live_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("bot.web.security.hmac.compare_digest", spy)
    password = SECRETS["WEB_PASSWORD"]
    anonymous = client(live_app)
    refused = anonymous.get("/")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic ")
    assert client(live_app, ("admin", "wrong")).get("/history").status_code == 401
    assert client(live_app, ("someone", password)).get("/history").status_code == 401
    assert client(live_app, ("admin", password)).get("/history").status_code == 200
    # Both compared in constant time.
    assert (b"admin", b"admin") in compared
    assert (password.encode(), password.encode()) in compared
    # Monitors need no login for /healthz (and it carries no text of a post).
    assert anonymous.get("/healthz").status_code in (200, 503)


def test_without_a_password_only_loopback_hosts_are_answered(dry_app: App) -> None:
    web = TestClient(create_app(dry_app), base_url="http://evil.example")
    assert web.get("/").status_code == 403
    assert client(dry_app).get("/").status_code == 200


def test_no_secret_on_any_page(live_app: App) -> None:
    now = live_app.now()
    _record(
        live_app,
        "m1",
        now - dt.timedelta(hours=30),
        "failed",
        error=f"401 token {SECRETS['ACCOUNTS__M1__ACCESS_TOKEN']} rejected",
    )
    web = client(live_app, ("admin", SECRETS["WEB_PASSWORD"]))
    bodies = [web.get(path).text for path in [*PAGES, "/history?status=failed", "/nope"]]
    for secret in SECRETS.values():
        for needle in (secret, secret.split("@")[0].split(":")[-1]):
            assert all(needle not in body for body in bodies), needle


def test_pages_change_nothing(live_app: App) -> None:
    now = live_app.now()
    _record(live_app, "m1", now - dt.timedelta(hours=30), "posted")
    with live_app.open_store() as store:
        before = store.execute("SELECT * FROM posts ORDER BY id").fetchall()
    web = client(live_app, ("admin", SECRETS["WEB_PASSWORD"]))
    for path in PAGES:
        web.get(path)
    with live_app.open_store() as store:
        assert store.execute("SELECT * FROM posts ORDER BY id").fetchall() == before
        assert store.open_alerts() == []


def test_history_filters_and_pages(live_app: App) -> None:
    start = live_app.now().replace(microsecond=0) - dt.timedelta(days=200)
    for n in range(120):
        status = "failed" if n % 10 == 0 else "posted"
        account = "m1" if n % 2 == 0 else "b1"
        _record(
            live_app,
            account,
            start + dt.timedelta(hours=n),
            status,
            url=f"https://social.example/@bot/{n}",
        )
    web = client(live_app, ("admin", SECRETS["WEB_PASSWORD"]))
    first = web.get("/history")
    urls = re.findall(r"https://social\.example/@bot/(\d+)", first.text)
    assert urls[:2] == ["119", "118"] and len(urls) == 50 - 5  # 5 failures on the page have none
    assert "← Newer" not in first.text
    older = _parse(first.text).links
    nxt = next(link for link in older if "before=" in link)
    second = web.get("/history" + nxt.replace("&amp;", "&"))
    urls2 = re.findall(r"https://social\.example/@bot/(\d+)", second.text)
    assert urls2[0] == "69"
    assert "← Newer" in second.text
    back = next(link for link in _parse(second.text).links if "after=" in link)
    again = web.get("/history" + back)
    assert re.findall(r"https://social\.example/@bot/(\d+)", again.text) == urls
    failed = web.get("/history?status=failed&account=m1")
    assert failed.text.count('class="status failed"') == 12
    assert "401 the access token was rejected" in failed.text
    assert "Nothing recorded for this filter" in web.get("/history?item=nothing-like-it").text
    assert "Nothing recorded for this filter" in web.get("/history?language=de").text
    assert web.get("/history?language=en&item=hostile").text.count('class="status ') == 50


def test_health(live_app: App) -> None:
    from bot.health import health_of
    from bot.schedule import current_slot

    now = live_app.now()
    slot = current_slot(live_app.select("m1")[0], live_app.settings.timezone, now)
    assert slot is not None
    _record(live_app, "m1", slot, "posted")
    _record(live_app, "b1", slot, "failed", error="400 refused <x>")
    code, body = health_of(live_app)
    assert code == 503
    states = {a["account"]: a for a in body["accounts"]}
    assert states["m1"]["state"] == "ok"
    assert states["b1"]["state"] == "problem" and "400 refused" in states["b1"]["reason"]
    assert "text" not in str(body)  # never a post's text
    web = client(live_app)
    answer = web.get("/healthz")
    assert answer.status_code == 503 and answer.json()["status"] == "problem"


def test_health_waits_within_the_retry_window(
    live_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot that fell due a minute ago and has no post yet is being posted: healthy."""
    from bot.health import health_of

    moment = dt.datetime(2026, 5, 4, 8, 1, tzinfo=dt.UTC)  # 10:01 in Berlin, slot 10:00
    monkeypatch.setattr(App, "now", lambda app: moment.astimezone(app.tz))
    code, body = health_of(live_app)
    assert code == 200
    assert {a["state"] for a in body["accounts"]} == {"waiting"}
    moment = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)  # past the grace: a problem
    code, body = health_of(live_app)
    assert code == 503
    assert "no post" in body["accounts"][0]["reason"]


def test_health_command_exit_codes(dry_app: App) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["health"])
    assert result.exit_code == 0, result.output
    assert '"status": "ok"' in result.output
    with Store(dry_app.settings.database_url) as store:
        store.execute("UPDATE posts SET status = 'failed', error = 'boom'")
    result = runner.invoke(cli, ["health"])
    assert result.exit_code == 1
    assert '"state": "problem"' in result.output


def test_web_refuses_another_interface_without_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["web", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "WEB_PASSWORD" in result.output


def test_the_status_page_imports_nothing_that_posts() -> None:
    import ast

    from tests.helpers import ROOT

    forbidden = ("bot.publishing", "bot.worker", "bot.retract", "bot.accounts", "bot.importer")
    found = []
    for path in [*sorted((ROOT / "bot" / "web").glob("*.py")), ROOT / "bot" / "health.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            found += [f"{path.name}: {m}" for m in modules if m.startswith(forbidden)]
    assert found == []


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        ({}, [], ("127.0.0.1", 8000)),
        ({"PORT": "9123"}, [], ("127.0.0.1", 9123)),
        ({"PORT": "9123"}, ["--port", "9124"], ("127.0.0.1", 9124)),
        ({"WEB_PASSWORD": "pw-0123456789"}, [], ("0.0.0.0", 8000)),
        ({"WEB_PASSWORD": "pw-0123456789"}, ["--host", "10.0.0.5"], ("10.0.0.5", 8000)),
        ({}, ["--host", "::1"], ("::1", 8000)),
    ],
)
def test_web_listens_where_it_should(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str], expected: Any
) -> None:
    """$PORT (hosting platforms' convention), loopback without a password, every interface
    with one; what it says about it. The server itself is not started here."""
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(
        "bot.web.command.serve", lambda app, host, port: served.append((host, port))
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["web", *argv])
    assert result.exit_code == 0, result.output
    assert served == [expected]
    if "WEB_PASSWORD" in env:
        assert "Log in as 'admin'" in result.output
        assert env["WEB_PASSWORD"] not in result.output
    else:
        assert "only this computer can open the page" in result.output
