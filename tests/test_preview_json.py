"""``leavex-bot preview --json``, and that no description makes ``check`` or ``preview`` crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.rendering import graphemes as gr
from tests.support.mastodon_server import count_status_length

KEYS = {
    "account",
    "platform",
    "item",
    "language",
    "slot",
    "text",
    "length",
    "limit",
    "shortened",
    "facets",
    "card",
    "image",
    "note",
}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_preview_json_is_one_object_per_post() -> None:
    """Every line is a JSON object with the same keys; its length is what the platform counts
    (Mastodon's count, or grapheme clusters within 3,000 bytes on Bluesky), and every facet's
    byte range shows its link or tag."""
    code, out, err = invoke("preview", "--json", "-n", "3")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert {post["platform"] for post in lines} == {"mastodon", "bluesky"}
    images = [post["image"] for post in lines if post["image"]]
    assert images, "every bundled item has a picture (its share card)"
    assert all(image["file"] and image["alt"] for image in images)
    for post in lines:
        assert set(post) == KEYS
        if post["text"] is None:
            assert post["note"]
            continue
        assert post["length"] <= post["limit"]
        if post["platform"] == "mastodon":
            assert post["length"] == count_status_length(post["text"])
            assert post["card"] is None
        else:
            assert post["length"] == gr.graphemes(post["text"])
            assert len(post["text"].encode()) <= 3000
            assert post["card"]["uri"].startswith("https://")
        raw = post["text"].encode()
        for facet in post["facets"]:
            shown = raw[facet["start"] : facet["end"]].decode()
            if facet["kind"] == "tag":
                assert shown[1:] == facet["value"], facet
            else:
                assert facet["value"].startswith(("http://", "https://")), facet


HOSTILE = [
    "Fragt http://[eure-instanz]/about oder http://[::1]:99999/x und https://exa mple.org",
    "„https://leavex.eu/zitat“ **https://leavex.eu/x** «#LeaveX» $TSLA @josé@mastodon.social",
    "कि्या " + "👩‍👩‍👧‍👦" * 200 + " https://" + "日本" * 50 + ".example/" + "ü" * 300,
]


@pytest.mark.parametrize("description", HOSTILE)
def test_no_description_crashes_check_or_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, description: str
) -> None:
    """A description with a bracketed host the URL parser refuses, glued quotes, mentions and
    huge emoji runs is posted as plain text or refused with a reason: check and preview never
    end in a traceback."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        "[hostile]\nkind = 'initiative'\nname = 'Hostile'\nurls = ['https://h.example.org']\n"
        f"[hostile.description]\nde = {json.dumps(description, ensure_ascii=False)}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("POST_LANGUAGES", "de")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    assert "hostile" in result.output
    code, out, err = invoke("preview", "--json", "-n", "1")
    assert code == 0, err
    assert all(json.loads(line)["item"] in ("hostile", None) for line in out.splitlines())
