"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


LOOP_STEPS = 1_000_000


def loop_ms(runs: int = 5) -> float:
    """Milliseconds an empty Python loop of a million steps takes, the best of ``runs``: the
    same CPU name is seen on machines several times faster or slower than each other, and
    this tells them apart (figures of two machines compare at the ratio of theirs)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _step in range(LOOP_STEPS):
            pass
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "?"


def describe(postgres_version: str | None) -> list[tuple[str, str]]:
    """(label, value) rows for the report's machine table."""
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("Python's pace: a loop of a million empty steps (best of 5)", f"{loop_ms():.1f} ms"),
        ("RAM", _memory()),
        ("load average at start (1/5/15 min)", _load()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", sys.version.split()[0]),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres_version or "not reachable (PostgreSQL figures not measured)"),
        ("python-telegram-bot", _version("python-telegram-bot")),
        ("SQLAlchemy / psycopg", f"{_version('SQLAlchemy')} / {_version('psycopg')}"),
    ]
