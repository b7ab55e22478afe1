"""The type checker passes over the product code, as configured in pyproject.toml
(``[tool.mypy]``: the packages it checks and the modules still left out)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors_in_any_checked_file():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = config["tool"]["mypy"]["files"]
    sources = [path for package in packages for path in (ROOT / package).rglob("*.py")]

    # The cache (.mypy_cache) makes a run after the first one take about a second.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mypy reports errors:\n{output}"
    checked = re.search(r"Success: no issues found in (\d+) source files", result.stdout)
    assert checked is not None, output
    assert int(checked.group(1)) == len(sources), (
        f"mypy checked {checked.group(1)} files; {', '.join(packages)} hold {len(sources)}"
        f"\n{output}"
    )
