"""The code's shape: data flows one way through the pipeline (dataset → selection → rendering →
publishing → state → schedule), neutral modules import nothing of ours, publishers import no
Jinja2, and modules and classes stay small. Read from the source (every import statement,
also those inside functions), and for the publishers from a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

BOT = ROOT / "bot"
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 200

#: Modules every stage may use; they import nothing of ours.
NEUTRAL = ("bot.post", "bot.clock", "bot.cache", "bot.errors")
#: What each part of the pipeline must not import (it sits upstream of those).
FORBIDDEN = {
    "bot.dataset": ("bot.selection", "bot.rendering", "bot.publishing", "bot.state", "bot.poster"),
    "bot.rendering": (
        "bot.config",
        "bot.selection",
        "bot.publishing",
        "bot.state",
        "bot.poster",
        "bot.app",
    ),
    "bot.selection": ("bot.rendering", "bot.publishing", "bot.poster", "bot.app"),
    "bot.publishing": (
        "jinja2",
        "bot.dataset",
        "bot.rendering",
        "bot.selection",
        "bot.state",
        "bot.poster",
        "bot.app",
    ),
    "bot.state": ("bot.dataset", "bot.rendering", "bot.publishing", "bot.selection", "bot.poster"),
    "bot.config": ("bot.dataset", "bot.rendering", "bot.publishing", "bot.state", "bot.poster"),
    "bot.importer": ("bot.rendering", "bot.publishing", "bot.state", "bot.poster"),
    # The status page reads; it never posts.
    "bot.web": ("bot.publishing.mastodon", "bot.publishing.bluesky", "bot.worker"),
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, names, line) of every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_modules_and_classes_stay_small() -> None:
    """No module in bot/ over ~400 lines, no class over ~200."""
    too_long = []
    for name, path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_long.append(f"{name}.{node.name}: class of {size} lines")
    assert too_long == []


@pytest.mark.parametrize("neutral", NEUTRAL)
def test_neutral_modules_import_nothing_of_ours(neutral: str) -> None:
    path = dict(_modules())[neutral]
    ours = [(m, line) for m, _, line in _imports(path) if _within(m, "bot")]
    assert ours == []


def test_no_upward_imports() -> None:
    """Each stage imports only what sits upstream of it (or the neutral modules)."""
    wrong = []
    for name, path in _modules():
        for stage, forbidden in FORBIDDEN.items():
            if not _within(name, stage):
                continue
            for module, _, line in _imports(path):
                if any(_within(module, f) for f in forbidden):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert wrong == []


def test_no_private_names_across_modules() -> None:
    """No module imports another module's private (underscore) names."""
    wrong = []
    for _, path in _modules():
        for module, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if _within(module, "bot") and private:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {private} from {module}")
    assert wrong == []


def test_publishers_load_no_jinja2_dataset_or_renderer() -> None:
    """Importing every publisher, in a fresh interpreter, loads none of the upstream stages."""
    code = (
        "import json, sys\n"
        "import bot.publishing.mastodon, bot.publishing.bluesky, bot.publishing.console\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    upstream = ("jinja2", "bot.dataset", "bot.rendering", "bot.selection", "bot.poster")
    assert [m for m in loaded if any(_within(m, u) for u in upstream)] == []
