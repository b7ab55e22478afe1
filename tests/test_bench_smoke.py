"""The benchmarks keep working: a tiny run of every one of them writes a report with each
section, its method, figures, targets and verdicts, and the machine it ran on. Structure
only: the figures of a run this small mean nothing, and tests never judge timings."""

from __future__ import annotations

import os
import re

from bench.__main__ import BENCHMARKS, TITLES, main
from bench.report import Report, Section, figure, merge

PG_URL = os.environ.get("PROPOSALBOT_TEST_DATABASE_URL")


def figure_rows(text: str) -> list[list[str]]:
    """The rows of the figure tables: name, value, runs, range, target, verdict, method."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[5] in ("✅", "❌", "—"):
            rows.append(cells)
    return rows


def section_text(text: str, key: str) -> str:
    match = re.search(rf"<!-- section:{key} -->\n(.*?)<!-- /section:{key} -->", text, re.S)
    assert match, f"no section {key}"
    return match.group(1)


def test_a_quick_run_of_every_benchmark_writes_the_whole_report(tmp_path):
    out = tmp_path / "benchmarks.md"
    args = ["--quick", "--output", str(out), "--workdir", str(tmp_path / "work")]
    args += ["--postgres-url", PG_URL] if PG_URL else ["--no-postgres"]

    assert main(args) == 0

    text = out.read_text(encoding="utf-8")
    for label in ("date", "CPU", "cores", "RAM", "Python", "SQLite", "PostgreSQL"):
        assert re.search(rf"^\| {label} \| .+ \|$", text, re.M), label
    assert re.search(r"^\| Python's pace: .+ \| \d+\.\d ms \|$", text, re.M)
    assert "This benchmark failed" not in text
    summary = re.search(r"<!-- summary -->\n(.*?)<!-- /summary -->", text, re.S)
    assert summary and all(TITLES[key] in summary.group(1) for key in BENCHMARKS)

    expected = {
        "conversation": [
            "product: updates/s",
            "echo bot: updates/s",
            "ratio product ÷ echo",
            "latency p50, typing",
            "latency p99, typing",
        ],
        "fanout": ["achieved ÷ allowed rate", "429 responses", "duplicates", "losses"],
        "latency": ["p50", "p99", "receipts not found in the request log"],
        "scale": [
            "sweep `due_reminders`",
            "daily digest",
            "`list overdue`",
            "`/status N`",
            "`my proposals`",
            "peak memory of `proposalbot run`",
            "`dispatcher: a claim that finds nothing, notices not parked`",
            "`dispatcher: a claim that finds nothing, notices parked`",
            "`dispatcher: a round of parking, all parked`",
        ],
        "growth": [
            "`sweep overdue`, ×3 history",
            "`list unit`, ×3 history",
            "`dispatcher: a claim that finds nothing, notices parked`, ×3 history",
        ],
    }
    for key in BENCHMARKS:
        body = section_text(text, key)
        assert body.startswith(f"## {TITLES[key]}\n")
        rows = figure_rows(body)
        assert rows, key
        for row in rows:
            name, value, runs, _range, target, verdict, _method = row
            assert value != "n/a", (key, name)
            assert runs.isdigit() and int(runs) >= 1
            assert (verdict == "—") == (target == ""), (key, name)
        names = [row[0] for row in rows]
        for wanted in expected[key]:
            assert any(name.startswith(wanted) for name in names), (key, wanted, names)
        judged = [row for row in rows if row[5] != "—"]
        assert judged, f"{key}: no figure is judged against a target"

    conversation = section_text(text, "conversation")
    assert "in-process Bot API" in conversation and "HTTP fake Bot API server" in conversation
    assert "Where an update's time goes" in conversation
    assert "The floor under an update" in conversation
    assert "Bot API calls each update makes" in conversation  # the in-process runs count them
    scale_text = section_text(text, "scale")  # the plans belong to the national database
    assert "### Query plans of the sweeps" in scale_text and "```sql" in scale_text
    growth = section_text(text, "growth")
    assert "EXPLAIN" in growth and "benchmark 4" in growth  # where the plans are
    # growth is judged round by round: each judged figure has a ratio for every round
    judged = [row for row in figure_rows(growth) if row[5] != "—"]
    assert judged and all(row[2] == "2" for row in judged), judged
    assert all(row[6].startswith("ms per round: ") for row in judged)
    if PG_URL:
        for key in BENCHMARKS:
            assert "(PostgreSQL" in section_text(text, key), key


def test_a_partial_run_replaces_its_own_sections_only(tmp_path):
    path = tmp_path / "benchmarks.md"

    def report(value: float, keys: list[str]) -> Report:
        r = Report("Benchmarks", [("CPU", "test")], "python -m bench")
        for key in keys:
            s = Section(key, TITLES[key], f"method of {key}")
            s.add(figure(f"{key} figure", [value], "ms", target=("<", 10)))
            r.sections.append(s)
        return r

    report(5, list(BENCHMARKS)).write(path)
    merge(path, report(50, ["fanout"]))

    text = path.read_text(encoding="utf-8")
    assert [row[5] for row in figure_rows(section_text(text, "fanout"))] == ["❌"]
    assert [row[5] for row in figure_rows(section_text(text, "scale"))] == ["✅"]
    assert text.count("<!-- section:fanout -->") == 1
    summary = re.search(r"<!-- summary -->\n(.*?)<!-- /summary -->", text, re.S).group(1)
    assert "| 2. Fan-out | ❌ 0 of 1 | fanout figure |" in summary
    assert "| 4. Scale | ✅ 1 of 1 |  |" in summary


def test_the_profile_of_a_slow_step_names_where_its_time_goes():
    from datetime import date

    from bench.scale import profile
    from workflow.calendar import WorkCalendar

    calendar = WorkCalendar()
    rows = profile(lambda: calendar.workdays_between(date(2026, 1, 1), date(2026, 6, 1)), top=20)

    assert rows and all(
        calls >= 1 and own >= 0 and cumulative >= own for _, calls, own, cumulative in rows
    )
    assert any("workdays_between" in function for function, *_ in rows)
