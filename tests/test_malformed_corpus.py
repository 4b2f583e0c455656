"""The malformed-input corpus (tests/corpus): every bad dataset, template and env file is refused
by the real CLI with exit code 2 and an error naming what is wrong, before anything is posted or
recorded. What each case must say is in tests/corpus/cases.toml."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.config import Settings

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: dict[str, dict[str, dict[str, Any]]] = tomllib.loads(
    (CORPUS / "cases.toml").read_text(encoding="utf-8")
)
KINDS = ("datasets", "templates", "env")
COMMANDS = {
    "run --once": ["run", "--once"],
    "post": ["post"],
    "check": ["check"],
    "preview": ["preview"],
}
#: The history the state database holds before each case: two slots of the dry-run accounts,
#: posted with the bundled dataset. Past slots on purpose: the current slot stays open, so a bad
#: input that slipped through would post into it and show up as a changed database.
HISTORY_SLOTS = ("2026-01-01T10:00", "2026-01-02T10:00")
#: The dry-run console publisher's first line of every post.
POST_LINE = re.compile(r"^── ", re.MULTILINE)


def _case_path(kind: str, name: str) -> Path:
    return CORPUS / kind / (f"{name}.env" if kind == "env" else name)


def _params() -> Iterator[Any]:
    for kind in KINDS:
        for name, case in CASES[kind].items():
            commands = case.get("commands", list(COMMANDS))
            for command in commands:
                marks = []
                if "xfail" in case and command in case.get("xfail_commands", commands):
                    marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
                yield pytest.param(kind, name, command, id=f"{kind}/{name}/{command}", marks=marks)


def _isolated_environment(mp: pytest.MonkeyPatch) -> None:
    names = {name.upper() for name in Settings.model_fields}
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("ACCOUNTS__"):
            mp.delenv(key)


@pytest.fixture(scope="session")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state database with some history, made by good runs of the CLI."""
    folder = tmp_path_factory.mktemp("history")
    db = folder / "state.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        _isolated_environment(mp)
        mp.chdir(folder)
        mp.setenv("XDG_STATE_HOME", str(folder / "xdg"))
        mp.setenv("DATABASE_URL", f"sqlite:///{db}")
        for slot in HISTORY_SLOTS:
            result = CliRunner().invoke(cli, ["post", "--slot", slot])
            assert result.exit_code == 0, result.output
            assert len(POST_LINE.findall(result.stdout)) == 6
    return db


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _env_keys(path: Path) -> set[str]:
    text = path.read_bytes().decode("latin-1")
    return {
        line.split("=", 1)[0].strip().upper()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }


def _expected(kind: str, name: str, case: dict[str, Any]) -> list[str]:
    """Every text the error must contain (the reason is compared case-insensitively)."""
    path = _case_path(kind, name)
    folder = path if kind != "env" else path.parent
    texts = [str(path if kind == "env" else path / case["file"])]
    if "item" in case:
        texts.append(f"item {case['item']!r}")
    if "field" in case:
        texts.append(f"field {case['field']!r}")
    if "line" in case:
        texts.append(f"line {case['line']}")
    if "variable" in case:
        texts.append(case["variable"])
    texts += [text.replace("{dir}", str(folder)) for text in case.get("also", [])]
    return texts


def _explain(result: Result) -> str:
    crash = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = f"\ncrashed with {type(result.exception).__name__}: {result.exception}"
    return f"exit {result.exit_code}{crash}\nstderr:\n{result.stderr}\nstdout:\n{result.stdout}"


@pytest.mark.parametrize(("kind", "name", "command"), list(_params()))
def test_malformed_input_is_refused_cleanly(
    kind: str,
    name: str,
    command: str,
    history_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A malformed dataset, template or env file stops the command with exit code 2 and an
    error naming the file (and item and field, template line, or setting), prints no post and
    leaves the state database byte for byte as it was."""
    case = CASES[kind][name]
    path = _case_path(kind, name)
    db = tmp_path / "state.sqlite3"
    shutil.copyfile(history_db, db)
    before_rows = _dump(db)
    before_bytes = db.read_bytes()

    args = COMMANDS[command]
    set_in_file: set[str] = set()
    if kind == "datasets":
        monkeypatch.setenv("DATA_DIR", str(path))
    elif kind == "templates":
        monkeypatch.setenv("TEMPLATES_DIR", str(path))
    else:
        args = ["--env-file", str(path), *args]
        set_in_file = _env_keys(path)
    if "DATABASE_URL" not in set_in_file:  # the variable would override the file's value
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2, _explain(result)
    for text in _expected(kind, name, case):
        assert text in result.stderr, f"{text!r} not named\n{_explain(result)}"
    if "reason" in case:
        assert case["reason"].casefold() in result.stderr.casefold(), _explain(result)
    assert not POST_LINE.search(result.stdout), _explain(result)
    assert db.read_bytes() == before_bytes, "the state database changed"
    assert _dump(db) == before_rows, "the state database's content changed"


def test_corpus_and_expectations_match() -> None:
    """Every input of the corpus has its expectation in cases.toml and vice versa, each
    dataset and template case names a file, and there are at least 30 cases."""
    on_disk = {
        "datasets": {p.name for p in (CORPUS / "datasets").iterdir() if p.is_dir()},
        "templates": {p.name for p in (CORPUS / "templates").iterdir() if p.is_dir()},
        "env": {p.stem for p in (CORPUS / "env").glob("*.env")},
    }
    assert set(CASES) == set(KINDS)
    for kind in KINDS:
        assert on_disk[kind] == set(CASES[kind]), kind
        for name, case in CASES[kind].items():
            if kind != "env":
                assert (_case_path(kind, name) / case["file"]).exists() or "missing" in name
            assert set(case.get("commands", COMMANDS)) <= set(COMMANDS), name
            assert set(case.get("xfail_commands", [])) <= set(case.get("commands", COMMANDS))
            assert "reason" in case or "variable" in case or "field" in case, name
    assert sum(len(cases) for cases in CASES.values()) >= 30


def test_template_cases_break_one_thing_only() -> None:
    """Each template case is the bundled templates with one file changed, added or removed."""
    bundled = Path(__file__).resolve().parent.parent / "templates"
    originals = {
        p.relative_to(bundled): p.read_bytes() for p in bundled.rglob("*.j2") if p.is_file()
    }
    for name in CASES["templates"]:
        folder = _case_path("templates", name)
        files = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.j2")}
        changed = {p for p in originals.keys() | files.keys() if originals.get(p) != files.get(p)}
        assert len(changed) == 1 or name == "missing-language-folder", (name, changed)
