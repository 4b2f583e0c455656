"""The status page's engagement page in-process (Starlette's test client): the stored counts
per item, language and platform and over time, in tables under charts that are PNG pictures
drawn by matplotlib (with text alternatives), the period, the security headers, and nothing
asked from a platform."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import App
from bot.web.app import create_app
from bot.web.security import CSP
from tests.helpers import SITE
from tests.support.engagement_data import seed


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> TestClient:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    seed(sqlite_url)
    return TestClient(create_app(App.load()), base_url="http://127.0.0.1")


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts, and every img's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[dict[str, str | None]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    tables = Tables()
    tables.feed(html)
    return tables


def rows_of(table: list[list[str]]) -> dict[str, list[int]]:
    return {row[0]: [int(c) for c in row[1:]] for row in table[1:]}


def test_the_numbers_under_each_chart(web: TestClient) -> None:
    page = web.get("/engagement")
    assert page.status_code == 200
    found = parse(page.text)
    totals, by_item, by_language, by_platform, by_day, top = found.tables
    assert rows_of(totals) == {"4": [9, 7, 3, 1, 20]}  # posts, likes, reposts, replies, quotes
    assert rows_of(by_item) == {
        "HelloQuitX": [3, 9, 3, 3, 1, 16],
        "Bye Bye, Elon": [1, 0, 4, 0, 0, 4],
    }
    assert rows_of(by_language) == {
        "de": [1, 5, 2, 1, 0, 8],
        "fr": [1, 3, 1, 2, 1, 7],
        "en": [2, 1, 4, 0, 0, 5],
    }
    assert rows_of(by_platform) == {"mastodon": [2, 6, 2, 1, 0, 9], "bluesky": [2, 3, 5, 2, 1, 11]}
    days = rows_of(by_day)
    assert len(days) == 31
    assert list(days.values())[-1] == [9, 7, 3, 1, 20]  # today: every latest reading
    assert next(iter(days.values())) == [0, 0, 0, 0, 0]
    assert len(top) == 5  # header and four posts, the most engaging first
    assert top[1][4:8] == ["5", "2", "1", "0"]
    # Four charts, each a picture of this server with a text alternative.
    assert [i["src"] for i in found.images] == [
        f"/engagement/chart/{name}.png?days=30" for name in ("item", "language", "platform", "time")
    ]
    assert all(i["alt"] and "table below" in str(i["alt"]) for i in found.images)
    assert "HelloQuitX leads with 16" in str(found.images[0]["alt"])


def test_charts_are_png_pictures(web: TestClient) -> None:
    for name in ("item", "language", "platform", "time"):
        chart = web.get(f"/engagement/chart/{name}.png?days=30")
        assert chart.status_code == 200
        assert chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(chart.content[16:20], "big")
        assert width == 800
        assert chart.headers["content-security-policy"] == CSP
    assert web.get("/engagement/chart/nothing.png").status_code == 404


def test_the_period(web: TestClient) -> None:
    found = parse(web.get("/engagement?days=60").text)
    assert rows_of(found.tables[0]) == {"5": [18, 16, 12, 10, 56]}
    assert len(rows_of(found.tables[4])) == 61
    assert all("days=60" in str(i["src"]) for i in found.images)
    for odd in ("0", "-3", "abc", "100000"):
        assert web.get(f"/engagement?days={odd}").status_code == 200


def test_no_posts(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    web = TestClient(create_app(App.load()), base_url="http://127.0.0.1")
    page = web.get("/engagement")
    assert page.status_code == 200
    assert "No post was published in the last 30 days" in page.text
    assert "dry runs have no counts" in page.text
    assert "<img" not in page.text


def test_the_page_is_in_the_navigation(web: TestClient) -> None:
    page = web.get("/").text
    assert re.search(r'<a href="/engagement"[^>]*>Engagement</a>', page)


def test_the_page_loads_nothing_from_elsewhere(web: TestClient) -> None:
    page = web.get("/engagement").text
    sources: list[Any] = re.findall(r'(?:src|href)="([^"]+)"', page)
    external = [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert all(s.startswith("https://social.example/") for s in external)
    assert "<script" not in page
