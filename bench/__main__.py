"""``python -m bench``: run the benchmarks and write docs/benchmarks.md.

python -m bench                        # everything at full size
python -m bench --quick                # a smoke of each, in seconds (figures meaningless)
python -m bench --only fanout,latency  # some; their sections replace those in the report
python -m bench --help                 # sizes, runs, the PostgreSQL server
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import conversation, fanout, floor, latency, machine, scale
from bench.databases import DEFAULT_POSTGRES_URL, Backend, postgres_version
from bench.datagen import Spec
from bench.report import Report, Section, kept_notes, merge

BENCHMARKS = ("conversation", "fanout", "latency", "scale", "growth")
TITLES = {
    "conversation": "1. Conversation throughput",
    "fanout": "2. Fan-out",
    "latency": "3. Notice latency",
    "scale": "4. Scale",
    "growth": "5. Growth",
}
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PREAMBLE = """
How fast the bot is, what it holds up to, and where it falls short. Every figure gives its
method, the number of runs (timings are medians), its target and a verdict (✅ met, ❌ missed,
— for information). The benchmarks live in `bench/`:

```
python -m bench                        # everything at full size (about 40 minutes)
python -m bench --quick                # a smoke of each in seconds; CI runs it (figures meaningless)
python -m bench --only fanout,scale    # some of them; their sections replace those below
python -m bench --help                 # sizes, runs, the PostgreSQL server to use
```

PostgreSQL figures need a server (`--postgres-url`, default
`postgresql://postgres@127.0.0.1:5432/test`): each measurement creates a database of its own
beside the one the URL names and drops it after. The load average at the start is in the
Machine table below, and the findings say whether anything else ran meanwhile; re-run on a
quiet machine before relying on a small difference.
"""


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke of each benchmark")
    p.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS)
    )
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the report (Markdown)")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("PROPOSALBOT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--runs", type=int, help="runs of every measurement (overrides the defaults)")
    p.add_argument(
        "--workdir", type=Path, help="where databases and files go (default: a temporary folder)"
    )
    g = p.add_argument_group("1. conversation")
    g.add_argument("--members", type=int, help="members submitting, saturated phase (200)")
    g.add_argument("--concurrency", type=int, help="members at once, saturated phase (50)")
    g.add_argument("--paced", type=int, help="members typing at once (50)")
    g.add_argument(
        "--paced-proposals", type=int, help="proposals each typing member writes in turn (2)"
    )
    g.add_argument("--think", type=float, help="mean seconds before each update when typing (1.0)")
    g.add_argument("--transports", help="inprocess,http (both)")
    g = p.add_argument_group("2. fan-out")
    g.add_argument("--notices", type=int, help="notices, one per person (3000)")
    g.add_argument("--fanout-scale", type=float, help="time scale: limits and pacing ×K (1)")
    g = p.add_argument_group("3. notice latency")
    g.add_argument("--latency-members", type=int, help="members submitting (20)")
    g.add_argument("--latency-proposals", type=int, help="drafts each submits (2)")
    g = p.add_argument_group("4-5. scale and growth")
    g.add_argument(
        "--proposals", type=int, help="proposals of the national-scale database (100000)"
    )
    g.add_argument("--growth", help="sizes for the growth benchmark (1000,10000,100000)")
    g.add_argument(
        "--growth-rounds", type=int, help="growth: rounds over all its sizes, in turn (3)"
    )
    g.add_argument("--memory-seconds", type=float, help="how long the running bot is watched (30)")
    return p.parse_args(argv)


def sizes(args: argparse.Namespace):
    if args.quick:
        conv = conversation.Sizes(members=2, concurrency=2, paced=2, think=0.01, runs=1)
        conv.floor = floor.Sizes(repeats=20, members=1, calls=20, batches=1)
        fan = fanout.Sizes(notices=40, scale=10.0, runs=1)
        lat = latency.Sizes(members=1, proposals=1, think=0.05, runs=1)
        sc = scale.Sizes(
            national=Spec(proposals=300, people=200, units=30, audit_events=3000),
            growth=(100, 300),
            growth_recent=100,
            growth_people=200,
            growth_units=30,
            runs=1,
            growth_rounds=2,
            memory_seconds=0.5,
            memory_people=1,
            waiting=300,
        )
    else:
        conv, fan, lat, sc = conversation.Sizes(), fanout.Sizes(), latency.Sizes(), scale.Sizes()
        lat.members, lat.proposals, lat.think = 20, 2, 3.0
    if args.runs:
        conv.runs = fan.runs = lat.runs = sc.runs = args.runs
    for name, target, attr in [
        ("members", conv, "members"),
        ("concurrency", conv, "concurrency"),
        ("paced", conv, "paced"),
        ("paced_proposals", conv, "paced_proposals"),
        ("think", conv, "think"),
        ("notices", fan, "notices"),
        ("fanout_scale", fan, "scale"),
        ("latency_members", lat, "members"),
        ("latency_proposals", lat, "proposals"),
        ("memory_seconds", sc, "memory_seconds"),
        ("growth_rounds", sc, "growth_rounds"),
    ]:
        value = getattr(args, name)
        if value is not None:
            setattr(target, attr, value)
    if args.proposals:
        sc.national = Spec(
            proposals=args.proposals,
            people=max(200, args.proposals // 10),
            units=max(30, args.proposals // 100),
            audit_events=10 * args.proposals,
        )
    if args.growth:
        sc.growth = tuple(int(n) for n in args.growth.split(","))
    return conv, fan, lat, sc


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    conv, fan, lat, sc = sizes(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="proposalbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pg_version = None if args.no_postgres else postgres_version(args.postgres_url)
    backends = [Backend("sqlite", workdir)]
    if pg_version is not None:
        backends.append(Backend("postgresql", workdir, args.postgres_url))
    labels = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    report = Report(
        "Benchmarks"
        + (" (quick smoke: tiny sizes, the figures mean nothing)" if args.quick else ""),
        machine.describe(pg_version),
        command,
        preamble=PREAMBLE,
    )
    failed = []
    transports = (args.transports or "inprocess,http").split(",")
    scale_results = None
    for name in chosen:
        begun = time.perf_counter()
        at = datetime.now(UTC)
        with_scale = False  # growth measured by the scale step (same run, its databases)
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        try:
            if name == "conversation":
                results = conversation.measure(backends, transports, conv, workdir)
                section = conversation.section(results, conv, labels)
            elif name == "fanout":
                section = fanout.section(fanout.measure(backends, fan, workdir), fan, labels)
            elif name == "latency":
                section = latency.section(latency.measure(backends, lat, workdir), lat, labels)
            elif name == "scale":
                scale_results = scale.measure(
                    backends, sc, workdir, scale=True, growth="growth" in chosen
                )
                section = scale.scale_section(scale_results, sc, labels)
            else:  # growth
                with_scale = scale_results is not None
                if scale_results is None:
                    scale_results = scale.measure(backends, sc, workdir, scale=False, growth=True)
                section = scale.growth_section(scale_results, sc, labels)
        except Exception as exc:
            failed.append(name)
            traceback.print_exc()
            section = Section(name, TITLES[name], "")
            section.notes.append(f"**This benchmark failed:** `{type(exc).__name__}: {exc}`")
        took = (
            "with benchmark 4, in its time"
            if with_scale
            else f"in {time.perf_counter() - begun:.0f} s"
        )
        section.notes.insert(0, f"*Measured {at:%Y-%m-%d %H:%M} UTC {took}.*")
        report.sections.append(section)
        print(f"bench: {name} done in {time.perf_counter() - begun:.0f} s", file=sys.stderr)
    if set(chosen) == set(BENCHMARKS) or not args.output.exists():
        if args.output.exists():  # the findings written by hand stay
            report.notes = kept_notes(args.output.read_text(encoding="utf-8"))
        report.write(args.output)
    else:
        merge(args.output, report)
    print(f"bench: report written to {args.output}", file=sys.stderr)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
