"""The command line, driven through click's CliRunner."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.helpers import DATA, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help_and_is_documented() -> None:
    """Each command has help text and appears in the README."""
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"leavex-bot {name}" in README, name
        code, out, _ = invoke(name, "--help")
        assert code == 0
        assert "Usage:" in out


def test_run_once_dry_run_shows_posts_in_every_language() -> None:
    """With no account, `run --once` prints what a Mastodon and a Bluesky account would post
    in de, en and fr, and remembers it in the dry-run history."""
    code, out, _ = invoke("run", "--once")
    assert code == 0
    heads = re.findall(r"^── (\w+) \[(\w+), dry run\] · (\w\w) · ", out, re.MULTILINE)
    assert sorted(heads) == sorted(
        (p, p, lang) for p in ("mastodon", "bluesky") for lang in ("de", "en", "fr")
    )
    code, out, _ = invoke("history")
    assert code == 0
    assert "dry-run history" in out
    assert out.count("posted") == 6
    code, again, _ = invoke("run", "--once")
    assert code == 0
    assert "──" not in again  # the same slot is not posted twice


def test_preview_shows_counted_length_without_recording() -> None:
    """`preview` prints the next posts with their length and records nothing."""
    code, out, _ = invoke("preview", "-n", "2", "--account", "bluesky")
    assert code == 0
    assert re.search(r"· \d+/300 characters", out)
    assert "# bluesky (bluesky, dry run)" in out
    code, out, _ = invoke("history")
    assert "nothing posted yet" in out


def test_post_twice_for_the_same_slot_posts_once() -> None:
    """`post --slot` publishes a slot once; the second call publishes nothing."""
    code, out, _ = invoke("post", "--account", "mastodon", "--slot", "2026-03-01T10:00")
    assert code == 0
    assert out.count("── mastodon") == 3
    code, out, _ = invoke("post", "--account", "mastodon", "--slot", "2026-03-01T10:00")
    assert code == 0
    assert "──" not in out


def test_check_renders_everything_and_passes() -> None:
    """`check` renders every item × language × platform of the bundled dataset in a table."""
    code, out, _ = invoke("check")
    assert code == 0, out
    assert re.search(r"^helloquitx\s+de\s+\d+/500\*?\s+\d+/300\*?\s+", out, re.MULTILINE)
    assert "leavex" in out and "SITE_BASE_URL" in out
    assert "juntas" in out and "no de text" in out


def test_check_fails_on_an_item_that_cannot_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check` exits non-zero when an item cannot be rendered within a platform's limits."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        "[long]\nkind = 'petition'\nname = '" + "Very long title " * 30 + "'\n"
        "urls = ['https://example.org']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    code, out, _ = invoke("check")
    assert code == 1
    assert "error" in out and "long" in out


def test_bad_dataset_exits_2_and_posts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed dataset stops every command with exit code 2, naming file, item and field,
    before anything is posted or recorded."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        (DATA / "petitions.toml").read_text().replace('country = "FR"', 'country = "France"'),
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    for command in (["run", "--once"], ["post"], ["preview"], ["check"]):
        code, out, err = invoke(*command)
        assert code == 2, command
        assert "items.toml: item 'cesser-twitter-x', field 'country'" in err
        assert "──" not in out
    monkeypatch.delenv("DATA_DIR")
    code, out, _ = invoke("history")
    assert "nothing posted yet" in out


def test_bad_config_exits_2_listing_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad configuration prints one message with every bad variable and exits 2."""
    monkeypatch.setenv("TIMEZONE", "Berlin")
    monkeypatch.setenv("POST_LANGUAGES", "")
    code, _, err = invoke("preview")
    assert code == 2
    assert "TIMEZONE" in err and "POST_LANGUAGES" in err


def test_an_alert_url_apprise_does_not_know_stops_the_bot_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mistyped ALERT_URLS entry is found before anything is posted (not when the first
    alert would have gone out), named by its position: the URLs hold tokens."""
    monkeypatch.setenv("ALERT_URLS", "ntfy://leavex-alerts, ntfyy://user:HOOKSECRET@ntfy.example")
    for command in (["run", "--once"], ["post"], ["check"]):
        code, out, err = invoke(*command)
        assert code == 2, command
        assert "ALERT_URLS: entry 2 of 2 is not a URL Apprise knows" in err
        assert "HOOKSECRET" not in out + err
        assert "──" not in out
    monkeypatch.setenv("ALERT_URLS", "ntfy://leavex-alerts json://127.0.0.1:9/hook")
    code, _, _ = invoke("check")
    assert code == 0
    code, out, _ = invoke("history")
    assert "nothing posted yet" in out


def test_a_link_that_would_lose_its_end_is_never_posted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset link both platforms would cut (a final '.') is an error in `check`, naming
    item and field; `post` passes over that item and posts the next one."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        "[broken-link]\nkind = 'initiative'\nname = 'Broken'\n"
        "urls = ['https://example.org/page.']\ndescription = { en = 'Loses its end.' }\n"
        "[good-link]\nkind = 'initiative'\nname = 'Good'\n"
        "urls = ['https://example.org/page']\ndescription = { en = 'Stays whole.' }\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("POST_LANGUAGES", "en")
    code, out, _ = invoke("check")
    assert code == 1
    assert "item 'broken-link', field 'urls.0'" in out
    assert "Mastodon would link 'https://example.org/page'" in out
    code, out, _ = invoke("post")
    assert code == 0
    assert out.count("· en · good-link ·") == 2
    assert "broken-link" not in out.replace("post.unrenderable", "")
    assert "page." not in out


def test_check_warns_about_accounts_a_post_would_mention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A description that names @someone@server would mention (and notify) that account on
    Mastodon: `check` says so as a warning (it still passes); an e-mail address is no mention."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        "[mentioning]\nkind = 'initiative'\nname = 'Mentioning'\n"
        "urls = ['https://example.org/m']\n"
        "description = { en = 'Follow @leavex@mastodon.social for news.' }\n"
        "[mailing]\nkind = 'initiative'\nname = 'Mailing'\n"
        "urls = ['https://example.org/n']\n"
        "description = { en = 'Write to team@example.org for news.' }\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("POST_LANGUAGES", "en")
    code, out, _ = invoke("check")
    assert code == 0, out
    [row] = [line for line in out.splitlines() if line.startswith("mentioning")]
    assert "warning: mentions @leavex@mastodon.social: Mastodon notifies them" in row
    [row] = [line for line in out.splitlines() if line.startswith("mailing")]
    assert "mention" not in row


def test_preview_warns_once_about_an_item_it_cannot_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item that cannot be posted is named once per account in a preview of many slots,
    not once per slot shown."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        f"[too-long]\nkind = 'petition'\nname = '{'N' * 600}'\n"
        "urls = ['https://example.org/long']\n"
        "[fine]\nkind = 'petition'\nname = 'Fine'\nurls = ['https://example.org/fine']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("POST_LANGUAGES", "en")
    code, out, err = invoke("preview", "-n", "4")
    assert code == 0
    assert out.count("· en · fine ·") == 8
    warnings = [line for line in (out + err).splitlines() if "post.unrenderable" in line]
    assert len(warnings) == 2, warnings
    assert {"account=mastodon" in w for w in warnings} == {True, False}


def test_bad_template_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template with a syntax error stops the bot with the file and line, exit code 2."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "fr" / "petition.j2").write_text("{% if %}\n")
    monkeypatch.setenv("TEMPLATES_DIR", str(templates))
    code, out, err = invoke("run", "--once")
    assert code == 2
    assert "fr/petition.j2, line 1" in err
    assert "──" not in out


def test_a_template_that_writes_nothing_posts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template whose output is blank (only a comment left) is an error for each item in
    `check`, naming the template; `post` sends no empty post."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    for name in ("initiative.j2", "petition.j2"):
        (templates / "en" / name).write_text("{# to be written #}\n   \n")
    monkeypatch.setenv("TEMPLATES_DIR", str(templates))
    monkeypatch.setenv("POST_LANGUAGES", "en")
    code, out, _ = invoke("check")
    assert code == 1
    assert "en/initiative.j2 writes nothing for it (an empty post)" in out
    code, out, _ = invoke("post")
    assert "──" not in out
    code, out, _ = invoke("history")
    assert "nothing posted yet" in out


def test_unknown_account_is_an_error() -> None:
    """Asking for an account that does not exist lists the accounts there are."""
    code, _, err = invoke("preview", "--account", "nope")
    assert code == 2
    assert "mastodon, bluesky" in err


def test_bad_slot_is_an_error() -> None:
    """A slot that is not ISO-8601 is refused."""
    code, _, err = invoke("post", "--slot", "tomorrow")
    assert code == 2
    assert "ISO-8601" in err


def test_python_m_bot_help_does_not_import_sdks() -> None:
    """`python -m bot --help` works and never imports Mastodon.py or atproto (start-up cost)."""
    code = (
        "import sys, runpy; sys.argv=['bot','--help']\n"
        "try:\n runpy.run_module('bot', run_name='__main__')\nexcept SystemExit: pass\n"
        "bad=[m for m in ('mastodon','atproto','apscheduler.schedulers') if m in sys.modules]\n"
        "print('LOADED', bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "Usage:" in out
    assert "LOADED []" in out


@pytest.mark.parametrize("command", [["preview", "-n", "1"], ["check"]])
def test_preview_and_check_do_not_import_sdks(command: list[str]) -> None:
    """preview and check never import the platform SDKs."""
    code = (
        "import sys\nfrom bot.cli import cli\n"
        f"try:\n cli({command!r})\nexcept SystemExit: pass\n"
        "bad=[m for m in ('mastodon','atproto') if m in sys.modules]\n"
        "print('LOADED', bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "LOADED []" in out


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs the README's test command verbatim, so what newcomers run is what CI runs."""
    blocks = re.findall(r"```sh\n(.+?)\n```", README, re.DOTALL)
    assert len(blocks) >= 2
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
