"""Mastodon: the post's picture as media with its alt text, within the instance's limits; a
setting turns it off; exactly once across a crash between upload and status; quote policy
only where the instance's API version has it; the bot flag."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot.cli import cli
from bot.poster import Poster, RetryPolicy
from bot.publishing import mastodon_instance, mastodon_media
from bot.publishing.mastodon import MastodonPublisher
from bot.publishing.mastodon_media import fit_description
from bot.state import Store
from tests.helpers import ROOT, SITE, account, bundled_dataset, renderer
from tests.support.mastodon_server import MastodonTestServer
from tests.support.server import wait_until

TOKEN = "masto-token-media"
START = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _env(
    monkeypatch: pytest.MonkeyPatch, server: MastodonTestServer, url: str, **extra: str
) -> None:
    server.add_account(TOKEN, "leavex")
    monkeypatch.setenv("MASTODON_API_BASE_URL", server.base_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", url)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def _post(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["post", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _account(server: MastodonTestServer, **overrides: object) -> object:
    return account(
        name="m",
        api_base_url=server.base_url,
        access_token=SecretStr(TOKEN),
        languages=("fr",),
        **overrides,
    )


def _status_form(server: MastodonTestServer) -> list[dict[str, object]]:
    return [r.form for r in server.requests if r.path == "/api/v1/statuses" and r.method == "POST"]


def test_post_attaches_the_picture_with_alt_text_and_focus(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """`leavex-bot post` uploads the share card (POST /api/v2/media) with the alt text in the
    post's language and the focal point, and the status carries it; the file is the card."""
    _env(monkeypatch, mastodon, sqlite_url, POST_LANGUAGES="de")
    code, output = _post("--slot", START.isoformat())
    assert code == 0, output
    [status] = mastodon.statuses("leavex")
    [media] = status["media_attachments"]
    assert status["language"] == "de"
    assert media["description"].startswith("Karte des Netzwerks LeaveX: ")
    assert media["meta"]["focus"] == {"x": 0.0, "y": 0.15}
    stored = mastodon.media_file(int(media["id"]))
    assert stored is not None
    assert stored.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (stored.width, stored.height) == (1200, 630)
    assert [r.path for r in mastodon.requests if r.method == "POST"] == [
        "/api/v2/media",
        "/api/v1/statuses",
    ]


def test_media_setting_off_posts_text_only(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """MASTODON_MEDIA=false: no card drawn, no upload, no media (Mastodon then shows its link
    preview)."""
    monkeypatch.setenv("XDG_CACHE_HOME", os.environ["XDG_CACHE_HOME"] + "-own")  # empty
    _env(monkeypatch, mastodon, sqlite_url, MASTODON_MEDIA="false")
    assert _post("--slot", START.isoformat())[0] == 0
    [status] = mastodon.statuses("leavex")
    assert status["media_attachments"] == []
    assert not [r for r in mastodon.requests if r.path == "/api/v2/media"]
    cards = Path(os.environ["XDG_CACHE_HOME"]) / "leavex-bot" / "cards"
    assert not cards.exists() or not list(cards.iterdir())


def test_a_picture_over_the_instance_limits_is_left_out(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """An instance that takes smaller files or other types gets the post without media."""
    mastodon.image_size_limit = 1000
    _env(monkeypatch, mastodon, sqlite_url)
    assert _post("--slot", START.isoformat())[0] == 0
    mastodon.image_size_limit = 16 * 1024 * 1024
    mastodon.supported_image_types = ("image/jpeg",)
    mastodon_instance.forget_all()  # the server's answer is kept for hours
    assert _post("--slot", (START + dt.timedelta(days=1)).isoformat())[0] == 0
    assert [s["media_attachments"] for s in mastodon.statuses("leavex")] == [[], []]
    assert not [r for r in mastodon.requests if r.path == "/api/v2/media"]


def test_a_rate_limited_upload_leaves_the_picture_out(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """Past 30 uploads in 30 minutes the post still goes out on time, without its picture."""
    mastodon.set_rate_limit("media", 1)
    _env(monkeypatch, mastodon, sqlite_url)
    assert _post("--slot", START.isoformat())[0] == 0
    code, output = _post("--slot", (START + dt.timedelta(days=1)).isoformat())
    assert code == 0, output
    assert [len(s["media_attachments"]) for s in mastodon.statuses("leavex")] == [1, 0]


def test_accounts_on_one_server_ask_it_about_itself_once(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """Three accounts on one server post with their pictures after one GET /api/v2/instance
    between them: no account asks again, and Mastodon.py asks nothing itself (it used to ask
    v1 and v2 for its version on every account's first upload)."""
    _env(monkeypatch, mastodon, sqlite_url, POST_LANGUAGES="en")
    for name in ("second", "third"):
        mastodon.add_account(f"{TOKEN}-{name}", name)
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__PLATFORM", "mastodon")
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__API_BASE_URL", mastodon.base_url)
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__ACCESS_TOKEN", f"{TOKEN}-{name}")
    code, output = _post("--slot", START.isoformat())
    assert code == 0, output
    for username in ("leavex", "second", "third"):
        [status] = mastodon.statuses(username)
        assert len(status["media_attachments"]) == 1
    asked = [r.path.rstrip("/") for r in mastodon.requests if "/instance" in r.path]
    assert asked == ["/api/v2/instance"]
    media_posts = [r.path for r in mastodon.requests if r.path == "/api/v2/media"]
    assert len(media_posts) == 3  # the v2 endpoint: the client knows the server's version


def test_a_server_that_did_not_answer_is_asked_again(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """An instance request that failed is not kept: the post goes out with 500/23 and its
    picture (Mastodon.py, left to ask for the version itself, recursed until it crashed), and
    the next one asks the server again and gets its limits."""
    mastodon.instance_error = 503
    _env(monkeypatch, mastodon, sqlite_url)
    assert _post("--slot", START.isoformat())[0] == 0
    mastodon.instance_error = None
    mastodon.max_characters = 900
    acct = _account(mastodon)
    assert MastodonPublisher(acct).limits.max_graphemes == 900  # type: ignore[arg-type]
    [status] = mastodon.statuses("leavex")
    assert len(status["media_attachments"]) == 1  # Mastodon.py did not ask for its version


def test_a_picture_processed_later_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """A server that processes uploads later (202, then 206) is asked again until the picture
    is ready, and the status carries it; one that never finishes gets the post on time
    without it (after a bounded number of requests)."""
    monkeypatch.setattr(mastodon_media, "PROCESSING_WAIT_S", 0.01)
    mastodon.media_processing_polls = 2
    _env(monkeypatch, mastodon, sqlite_url)
    code, output = _post("--slot", START.isoformat())
    assert code == 0, output
    [status] = mastodon.statuses("leavex")
    assert len(status["media_attachments"]) == 1
    polls = [r for r in mastodon.requests if r.path.startswith("/api/v1/media/")]
    assert [r.status for r in polls] == [206, 206, 200]
    mastodon.media_processing_polls = 1000
    code, output = _post("--slot", (START + dt.timedelta(days=1)).isoformat())
    assert code == 0, output
    assert "mastodon.media_processing" in output
    assert [len(s["media_attachments"]) for s in mastodon.statuses("leavex")] == [1, 0]
    polls = [r for r in mastodon.requests if r.path.startswith("/api/v1/media/")]
    assert len(polls) == 3 + mastodon_media.PROCESSING_POLLS


def test_long_alt_text_is_cut_to_the_description_limit(mastodon: MastodonTestServer) -> None:
    """The alt text is cut at a word, with an ellipsis, to the instance's description limit."""
    text = "word " * 400
    cut = fit_description(text, 1500)
    assert len(cut) <= 1500
    assert cut.endswith("word…")
    assert fit_description("short", 1500) == "short"


@pytest.mark.parametrize("fault", ["lost_response", "drop"])
def test_crash_between_upload_and_status_never_makes_a_second_status(
    mastodon: MastodonTestServer, sqlite_url: str, fault: str
) -> None:
    """The first process uploads the picture and then loses the status call (its answer, or
    the request); a new process resumes the planned post: one status, with a picture."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.inject(fault)  # type: ignore[arg-type]
    acct = _account(mastodon)
    with Store(sqlite_url) as store:
        first = Poster(store, bundled_dataset(), renderer(), retry=RetryPolicy(attempts=1))
        assert first.run_slot(acct, MastodonPublisher(acct), START)[0].status == "unknown"  # type: ignore[arg-type]
    with Store(sqlite_url) as store:
        again = Poster(store, bundled_dataset(), renderer())
        outcome = again.run_slot(acct, MastodonPublisher(acct), START)[0]  # type: ignore[arg-type]
        assert outcome.status == "posted"
        [row] = store.history(limit=10)
    [status] = mastodon.statuses("leavex")
    assert row.remote_id == status["id"]
    [media] = status["media_attachments"]
    assert media["description"].startswith("Carte du réseau LeaveX")
    uploads = [r for r in mastodon.requests if r.path == "/api/v2/media"]
    assert len(uploads) == 2  # one orphan upload: Mastodon discards unattached media


def test_retry_in_the_same_process_reuses_the_upload(
    mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """A retry after a 502 attaches the media uploaded for the first attempt."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.inject("error_502")
    acct = _account(mastodon)
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer())
        assert poster.run_slot(acct, MastodonPublisher(acct), START)[0].status == "posted"  # type: ignore[arg-type]
    assert len([r for r in mastodon.requests if r.path == "/api/v2/media"]) == 1
    assert len(mastodon.statuses("leavex")[0]["media_attachments"]) == 1


@pytest.mark.parametrize(
    ("api_version", "policy", "sent", "automatic"),
    [
        (11, "nobody", "nobody", []),
        (11, "followers", "followers", ["followers"]),
        (7, "everyone", "public", ["public"]),
        (6, "nobody", None, ["public"]),
    ],
)
def test_quote_policy_only_where_the_api_version_has_it(
    mastodon: MastodonTestServer,
    sqlite_url: str,
    api_version: int,
    policy: str,
    sent: str | None,
    automatic: list[str],
) -> None:
    """QUOTE_POLICY becomes quote_approval_policy from API version 7 on, and is left out
    before (the server would ignore it; check --online says so)."""
    mastodon.api_version = api_version
    mastodon.add_account(TOKEN, "leavex")
    acct = _account(mastodon, quote_policy=policy)
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer())
        assert poster.run_slot(acct, MastodonPublisher(acct), START)[0].status == "posted"  # type: ignore[arg-type]
    [form] = _status_form(mastodon)
    assert form.get("quote_approval_policy") == sent
    assert mastodon.statuses("leavex")[0]["quote_approval"]["automatic"] == automatic


def test_check_online_warns_when_the_instance_takes_no_png(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """`check --online` says so when the instance's media types leave the share cards out."""
    mastodon.supported_image_types = ("image/jpeg",)
    _env(monkeypatch, mastodon, sqlite_url)
    result = CliRunner().invoke(cli, ["check", "--online"], catch_exceptions=False)
    assert "warning: the instance takes no PNG images" in result.output
    monkeypatch.setenv("MASTODON_MEDIA", "false")
    result = CliRunner().invoke(cli, ["check", "--online"], catch_exceptions=False)
    assert "no PNG" not in result.output


def test_bot_flag_is_read_and_set(mastodon: MastodonTestServer) -> None:
    """bot_mark reads the bot flag; mark_bot sets it once and keeps the display name."""
    mastodon.add_account(TOKEN, "leavex")
    publisher = MastodonPublisher(_account(mastodon))  # type: ignore[arg-type]
    handle, marked = publisher.bot_mark()
    assert (handle, marked) == ("@leavex", False)
    name = mastodon.account("leavex")["display_name"]
    assert publisher.mark_bot() is True
    assert publisher.mark_bot() is False
    assert mastodon.account("leavex")["bot"] is True
    assert mastodon.account("leavex")["display_name"] == name


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["drop", "lost_response"])
def test_leavex_bot_post_killed_between_upload_and_status(
    tmp_path: Path, mastodon: MastodonTestServer, sqlite_url: str, fault: str
) -> None:
    """`leavex-bot post` is killed (SIGKILL) after its upload, while its status request hangs
    (never processed, or processed with the answer lost); `leavex-bot post` for the same slot
    afterwards leaves exactly one status, with its picture and alt text."""
    mastodon.add_account(TOKEN, "leavex")
    # lost_response: processed at once, its answer held back; drop: held back, never processed
    mastodon.inject(fault, delay=20)  # type: ignore[arg-type]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MASTODON_", "BLUESKY_"))},
        "MASTODON_API_BASE_URL": mastodon.base_url,
        "MASTODON_ACCESS_TOKEN": TOKEN,
        "SITE_BASE_URL": SITE,
        "DATABASE_URL": sqlite_url,
        "POST_LANGUAGES": "en",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "bot", "post", "--slot", START.isoformat()]
    victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        asked = wait_until(
            lambda: any(r.path == "/api/v1/statuses" for r in mastodon.requests), timeout=60
        )
        assert asked, "the status request never arrived"
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    mastodon.clear_faults()
    with Store(sqlite_url) as store:
        assert [r.status for r in store.history(limit=5)] == ["planned"]
    rerun = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    [status] = mastodon.statuses("leavex")
    [media] = status["media_attachments"]
    assert media["description"].startswith("Share card of the LeaveX network")
    with Store(sqlite_url) as store:
        [row] = store.history(limit=5)
    assert (row.status, row.remote_id) == ("posted", status["id"])


def test_a_servers_answer_is_kept_for_hours_then_asked_again() -> None:
    """shared_info keeps a server's answer for KEEP_S (whoever asks on that server), asks
    again after it, and never keeps a failure."""
    from bot.post import PlatformLimits
    from bot.publishing.mastodon_instance import DEFAULTS, KEEP_S, InstanceInfo, shared_info
    from bot.publishing.mastodon_media import MediaLimits

    now = [1000.0]
    answers: list[InstanceInfo | None] = [
        None,
        InstanceInfo(PlatformLimits(600, url_length=23), MediaLimits(), 0, "4.3.0"),
        InstanceInfo(PlatformLimits(700, url_length=23), MediaLimits(), 0, "4.4.0"),
    ]
    asked: list[int] = []

    def ask() -> InstanceInfo | None:
        asked.append(1)
        return answers[len(asked) - 1]

    def info() -> InstanceInfo:
        return shared_info("https://Kept.Example.org/", ask, clock=lambda: now[0])

    assert info() is DEFAULTS  # no answer: not kept
    assert info().limits.max_graphemes == 600
    now[0] += KEEP_S - 1
    assert info().limits.max_graphemes == 600
    assert len(asked) == 2
    now[0] += 2
    assert info().limits.max_graphemes == 700
    assert len(asked) == 3
