"""Lint and type checks run as part of the test suite, so one command covers the dev loop."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name)
    if path is None:
        candidate = ROOT.parent / ".venv" / "bin" / name
        if not candidate.exists():
            pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
        path = str(candidate)
    return path


def test_ruff_lint() -> None:
    """The code passes ruff's rule set configured in pyproject.toml."""
    result = subprocess.run(
        [_tool("ruff"), "check", "bot", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    """The whole tree (bot, tests, benchmarks) is formatted with ruff format."""
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "bot", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    """The bot package type-checks under mypy --strict."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, check=False, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
