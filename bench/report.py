"""The report: figures with their method, runs, target and verdict, written as Markdown."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import median, spread

OPS = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "==": lambda v, t: v == t,
}
SHOWN_OP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Target:
    op: str
    threshold: float

    def met(self, value: float) -> bool:
        return not math.isnan(value) and OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{SHOWN_OP[self.op]} {self.threshold:g}"


@dataclass
class Figure:
    """One measured quantity: the median of its runs, judged against its target (if any)."""

    name: str
    runs: list[float]
    unit: str = ""
    target: Target | None = None
    method: str = ""
    digits: int = 1

    @property
    def value(self) -> float:
        return median(self.runs)

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "—"
        return "✅" if self.target.met(self.value) else "❌"

    def shown(self) -> str:
        value = self.value
        if math.isnan(value):
            return "n/a"
        text = f"{value:,.{self.digits}f}"
        return f"{text} {self.unit}".strip()


def figure(
    name: str,
    runs: Sequence[float] | float,
    unit: str = "",
    *,
    target: tuple[str, float] | None = None,
    method: str = "",
    digits: int = 1,
) -> Figure:
    values = [float(runs)] if isinstance(runs, int | float) else [float(v) for v in runs]
    return Figure(
        name,
        values,
        unit,
        Target(*target) if target is not None else None,
        method,
        digits,
    )


@dataclass
class Section:
    key: str  # conversation | fanout | latency | scale | growth
    title: str
    method: str
    figures: list[Figure] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)  # further Markdown (tables, plans)
    notes: list[str] = field(default_factory=list)

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    @property
    def verdicts(self) -> list[str]:
        return [f.verdict for f in self.figures if f.target is not None]

    def wrapped(self) -> str:
        """The section between markers, so that a partial run can replace it alone."""
        return f"<!-- section:{self.key} -->\n{self.markdown()}\n<!-- /section:{self.key} -->\n"

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.method.strip(), ""]
        if self.figures:
            lines += [
                "| figure | value (median) | runs | range | target | verdict | method |",
                "| --- | ---: | ---: | --- | --- | :---: | --- |",
            ]
            for f in self.figures:
                lines.append(
                    f"| {f.name} | {f.shown()} | {len(f.runs)} | {spread(f.runs)} | "
                    f"{f'{f.target} {f.unit}'.strip() if f.target else ''} | {f.verdict} | "
                    f"{f.method} |"
                )
            lines.append("")
        for note in self.notes:
            lines += [note.strip(), ""]
        for block in self.blocks:
            lines += [block.rstrip(), ""]
        return "\n".join(lines)


@dataclass
class Report:
    title: str
    machine: list[tuple[str, str]]
    command: str
    sections: list[Section] = field(default_factory=list)
    preamble: str = ""
    notes: str = ""  # findings written by hand, between NOTES markers; kept across runs

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.preamble:
            lines += [self.preamble.strip(), ""]
        lines += [f"Produced by `{self.command}`.", "", "## Machine", ""]
        lines += ["| | |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in self.machine]
        lines.append("")
        lines.append(summary([section.wrapped() for section in self.sections]))
        if self.notes:
            lines += [self.notes.rstrip(), ""]
        for section in self.sections:
            lines.append(section.wrapped())
        return "\n".join(lines).rstrip() + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown(), encoding="utf-8")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        out.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(out)


def code(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


SECTION_RE = re.compile(r"<!-- section:(\w+) -->\n.*?<!-- /section:\1 -->\n", re.S)


def merge(path: Path, report: Report) -> None:
    """Put the report's sections into the report at ``path`` in place of those with the same
    key (each section says when it was measured); sections it lacks are added at the end."""
    old = path.read_text(encoding="utf-8")
    fresh = {s.key: s.wrapped() for s in report.sections}

    def replace(match: re.Match) -> str:
        return fresh.pop(match.group(1), match.group(0))

    text = SECTION_RE.sub(replace, old)
    text = text.rstrip() + "\n" + "".join("\n" + block for block in fresh.values())
    blocks = [m.group(0) for m in SECTION_RE.finditer(text)]
    text = SUMMARY_RE.sub(lambda _m: summary(blocks), text)
    path.write_text(text, encoding="utf-8")


SUMMARY_RE = re.compile(r"<!-- summary -->\n.*?<!-- /summary -->\n", re.S)


def summary(blocks: list[str]) -> str:
    """The targets met in each section (read back from the sections' tables)."""
    lines = ["<!-- summary -->", "## Summary", "", "| benchmark | targets met | missed |"]
    lines.append("| --- | --- | --- |")
    for block in blocks:
        title = next((ln[3:] for ln in block.splitlines() if ln.startswith("## ")), "?")
        rows = [ln for ln in block.splitlines() if re.search(r"\| (✅|❌) \|", ln)]
        missed = [ln.split("|")[1].strip() for ln in rows if "| ❌ |" in ln]
        met = len(rows) - len(missed)
        if "This benchmark failed" in block:
            lines.append(f"| {title} | failed | |")
            continue
        shown = "; ".join(missed[:8]) + (
            f"; … ({len(missed) - 8} more)" if len(missed) > 8 else ""
        )
        lines.append(
            f"| {title} | {'✅' if not missed else '❌'} {met} of {len(rows)} | {shown} |"
        )
    return "\n".join(lines) + "\n<!-- /summary -->\n"


NOTES_RE = re.compile(r"<!-- notes -->\n.*?<!-- /notes -->\n", re.S)


def kept_notes(text: str) -> str:
    """The hand-written findings of an earlier report (``<!-- notes -->`` … ``<!-- /notes -->``)."""
    match = NOTES_RE.search(text)
    return match.group(0) if match else ""
