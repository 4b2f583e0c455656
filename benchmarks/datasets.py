"""Generated datasets for the benchmarks: the bundled items, cloned and varied to any size.

Cloning the bundled items keeps the real mix (initiatives and petitions, long and short
descriptions, missing translations, departures, several links) so that rendering costs what it
costs on the real data: the same share of posts needs its description shortened.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = ROOT / "data"
SITE = "https://leavex.example.org"

_WORDS = [
    *("digital", "democracy", "platforms", "community", "federated", "open", "public"),
    *("civil", "society", "network", "solidarity", "organisations", "independent"),
    *("transparent", "alternative"),
]


def bundled_items() -> list[tuple[str, dict[str, Any]]]:
    """(id, raw table) of every bundled item, in file order."""
    items: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(BUNDLED_DATA.glob("*.toml")):
        items.extend(tomllib.loads(path.read_text(encoding="utf-8")).items())
    return items


def generated_items(
    count: int, seed: int = 11, closed_petitions: float = 0.25
) -> list[tuple[str, dict[str, Any]]]:
    """``count`` valid items: the bundled ones round-robin, each with its own id, link and a
    description varied by a few words (lengths spread around the originals'); a share of the
    petitions is closed (``ends`` in the past), as petitions are."""
    rng = random.Random(seed)
    base = bundled_items()
    out: list[tuple[str, dict[str, Any]]] = []
    for index in range(count):
        item_id, raw = base[index % len(base)]
        item = dict(raw)
        item.pop("image", None)  # the benchmark folder has no pictures
        new_id = f"{item_id}-{index}"[:64].strip("-")
        item["urls"] = [f"{url.rstrip('/')}/{index}" for url in raw["urls"]]
        if raw.get("description"):
            item["description"] = {
                lang: _vary(text, rng) for lang, text in raw["description"].items()
            }
        if item["kind"] == "petition" and rng.random() < closed_petitions:
            item["ends"] = dt.date(2025, 6, 30)  # closed: never posted again
        out.append((new_id, item))
    return out


def _vary(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:  # shorter: drop the last sentence or words
        words = text.split(" ")
        keep = max(4, int(len(words) * rng.uniform(0.3, 0.9)))
        return " ".join(words[:keep]).rstrip(",;:") + "."
    if roll < 0.6:  # longer
        extra = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 30)))
        return f"{text} {extra.capitalize()}."
    return text


def _toml(value: Any) -> str:
    """A TOML value for the types items use (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | dt.date):
        return str(value) if isinstance(value, int) else value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def write_dataset(folder: Path, count: int, seed: int = 11) -> Path:
    """Write ``count`` generated items to ``folder/items.toml`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for item_id, raw in generated_items(count, seed):
        lines.append(f"[{item_id}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in raw.items())
        lines.append("")
    (folder / "items.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder


def write_site(folder: Path, count: int, seed: int = 11) -> Path:
    """Hugo network pages (``index.<language>.md``) listing the same ``count`` generated items
    as :func:`write_dataset`, every 20th description changed, for ``import-site``."""
    from babel import Locale

    folder.mkdir(parents=True, exist_ok=True)
    items = generated_items(count, seed)
    for language in ("de", "en", "fr"):
        territories = Locale.parse(language).territories
        lines = ["---", f"title: network {language}", "---", "", "## Initiatives", ""]
        petitions = ["", "## Petitions", ""]
        for index, (_, raw) in enumerate(items):
            country = raw.get("country")
            name = "Europe" if country == "Europe" else territories.get(country) if country else ""
            tail = f" ({name})" if name else ""
            if raw["kind"] == "petition":
                petitions.append(f"* [{raw['name']}]({raw['urls'][0]}){tail}")
                continue
            text = raw.get("description", {}).get(language)
            if not text:
                continue
            if index % 20 == 0:
                text += " Updated."
            lines.append(f"* [**{raw['name']}**]({raw['urls'][0]}): {text}{tail}")
        (folder / f"index.{language}.md").write_text(
            "\n".join(lines + petitions) + "\n", encoding="utf-8"
        )
    return folder
