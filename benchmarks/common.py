"""Helpers shared by the benchmarks: clean subprocess environments, RSS, medians, results."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable
BOT = str(VENV_BIN / "leavex-bot")


@dataclass
class Result:
    """One figure of the table."""

    figure: str
    measured: str
    baseline: str
    ratio: float | None
    budget: str
    passed: bool
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> str:
        return "pass" if self.passed else "MISS"


def _setting_names() -> set[str]:
    from bot.config import Settings

    return {name.upper() for name in Settings.model_fields}


def clean_env(
    work: Path, extra: Mapping[str, str] | None = None, *, bytecode: bool = True
) -> dict[str, str]:
    """The environment for a measured subprocess: no bot setting inherited from the caller,
    state in ``work``, and (``bytecode=True``) compiled bytecode cached in ``work/pycache`` the
    way an installed package has it (``pip install`` compiles; this machine's
    ``PYTHONDONTWRITEBYTECODE=1`` would otherwise recompile the bot on every start)."""
    names = _setting_names()
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in names and not key.upper().startswith("ACCOUNTS__")
    }
    env["XDG_STATE_HOME"] = str(work / "state")
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(ROOT)  # the benchmark children import benchmarks.*
    if extra:
        env.update(extra)
    return env


@contextmanager
def workdir(prefix: str = "leavex-bench-") -> Iterator[Path]:
    """A temporary folder (also the cwd of the measured commands: no ``.env`` there)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        path = Path(folder)
        (path / "cwd").mkdir()
        yield path


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_parts_kb(pid: int) -> dict[str, int]:
    """RSS split by kind (kB): anonymous memory (heaps, stacks), mapped files, shared
    memory (``RssAnon``, ``RssFile``, ``RssShmem`` of /proc/PID/status)."""
    parts = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
            name, value = line.split(":", 1)
            parts[name.removeprefix("Rss").lower()] = int(value.split()[0])
    return parts


def rss_kb(pid: int) -> int:
    """Resident set size of a process (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def timed_run(argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 120) -> float:
    """Wall time of one run of ``argv`` (stdout discarded); raises if it fails."""
    return timed_run_cpu(argv, env, cwd, timeout)[0]


def timed_run_cpu(
    argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> tuple[float, float]:
    """(wall time, CPU time user+system) of one run of ``argv``; raises if it fails. CPU time
    is less disturbed by other processes on a busy machine than wall time."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}: {errors.read().decode()[-2000:]}"
            )
    return elapsed, usage.ru_utime + usage.ru_stime


def interleaved(
    runs: Mapping[str, Callable[[], Any]], repeat: int, warmup: int = 2
) -> dict[str, list[Any]]:
    """Run each measurement ``repeat`` times, interleaved (A B A B ...) so drift hits all
    alike; the first ``warmup`` rounds are discarded."""
    samples: dict[str, list[Any]] = {name: [] for name in runs}
    for index in range(warmup + repeat):
        for name, run in runs.items():
            value = run()
            if index >= warmup:
                samples[name].append(value)
    return samples


def child(
    name: str,
    args: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``python -m benchmarks.child NAME`` with JSON ``args``; return its JSON result
    (the last stdout line). Lines on stderr starting with ``progress:`` are passed on."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.child", name, json.dumps(dict(args))],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("progress:") and progress is not None:
                progress(line.removeprefix("progress:").strip())
            else:
                errors.append(line)
                del errors[:-200]

    chunks: list[str] = []

    def collect() -> None:
        assert proc.stdout is not None
        chunks.append(proc.stdout.read())

    # stderr is read by ``pump`` only (``communicate`` would read it too, racing with it)
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"benchmark child {name} timed out after {timeout:.0f} s") from None
    collector.join(timeout=30)
    reader.join(timeout=5)
    out = "".join(chunks)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {name} failed ({proc.returncode}):\n{''.join(errors)}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def pty_run(
    argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 600
) -> tuple[float, float, int]:
    """Run ``argv`` on a pseudo-terminal (as an operator sees it: progress bars draw only on a
    terminal); return (wall time, longest time without any output, exit code)."""
    import pty
    import select

    master, slave = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    last = started
    longest = 0.0
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now
        else:
            proc.kill()
            raise RuntimeError(f"{' '.join(argv)} timed out after {timeout:.0f} s")
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
    ended = time.perf_counter()
    return ended - started, max(longest, ended - last), code
