"""1. Conversation throughput and latency.

Members each write and submit a whole proposal through the wizard (about 14 updates: /menu,
新建提案, title, category, field, text, 完成, …, 提交) to the product as ``proposalbot run`` runs
it: python-telegram-bot's Application with the durable update queue, the engine in worker
threads, and the notice dispatcher. A plain python-telegram-bot echo bot then answers the same
number of updates, from the same number of people, through a fresh copy of the same Bot API.

Two phases per run:

- *saturated*: ``members`` people, at most ``concurrency`` of them at once, each acting the
  moment the bot has answered their previous update. Updates per second is the capacity; the
  latency of each update here is mostly waiting in line (Little's law: concurrency ÷ rate).
- *typing*: ``paced`` people at once, each reading and typing for a while (uniform 0.5–1.5 ×
  ``think`` seconds) before each update: the latency a person feels while that many are busy.
  Each writes ``paced_proposals`` proposals, one after the other, so that a p99 rests on more
  than a handful of updates (the 99th percentile of 750 moved from 6.5 to 45.4 ms between two
  runs of one build).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import floor
from bench.botapi import TOKEN, InProcessBotAPI
from bench.bots import echo_bot, make_app, product_bot
from bench.costs import NESTED, STEPS, Costs, counting
from bench.databases import Backend, fresh
from bench.people import (
    HttpClient,
    InProcessClient,
    content_for,
    echo_messages,
    make_roster,
    submit_proposal,
)
from bench.report import Section, figure, table
from bench.stats import median, percentile

TRANSPORTS = {"inprocess": "in-process Bot API", "http": "HTTP fake Bot API server"}


@dataclass
class Sizes:
    members: int = 200
    concurrency: int = 50
    paced: int = 50
    paced_proposals: int = 2  # proposals each typing member writes, one after the other
    think: float = 1.0
    runs: int = 3
    floor: floor.Sizes = field(default_factory=floor.Sizes)


@dataclass
class Run:
    bot_updates: int = 0
    bot_seconds: float = 0.0
    echo_updates: int = 0
    echo_seconds: float = 0.0
    saturated: list[float] = field(default_factory=list)
    paced: list[float] = field(default_factory=list)
    echo: list[float] = field(default_factory=list)
    costs: Costs | None = None  # the product's saturated phase
    echo_cpu: float = 0.0  # process CPU seconds of the echo bot's saturated phase
    api_calls: int | None = None  # the product's Bot API calls (getUpdates aside), saturated

    @property
    def bot_rate(self) -> float:
        return self.bot_updates / self.bot_seconds

    @property
    def echo_rate(self) -> float:
        return self.echo_updates / self.echo_seconds


ClientFactory = Callable[[int, str], object]


def _calls(api: InProcessBotAPI) -> int:
    """Bot API calls the bot made so far, its long polls aside."""
    return sum(n for method, n in api.calls.items() if method != "getUpdates")


@contextlib.asynccontextmanager
async def product_on(
    transport: str, db, workdir: Path
) -> AsyncIterator[tuple[ClientFactory, Callable[[], int] | None]]:
    """(people's clients, the count of the bot's Bot API calls where it can be read)."""
    if transport == "inprocess":
        api = InProcessBotAPI()
        app = make_app(db, workdir, TOKEN)
        async with product_bot(app, request=api, rate_limit=None):
            yield (lambda uid, name: InProcessClient(api.user(uid, name))), lambda: _calls(api)
        return
    from tests.fake_telegram import FakeTelegram, RateLimits

    async with FakeTelegram(limits=RateLimits.off()) as tg:
        app = make_app(db, workdir, tg.token, tg.url)
        async with product_bot(app, rate_limit=None):
            yield (
                (lambda uid, name: HttpClient(tg.user(id=uid, first_name=name, started=True))),
                None,
            )


@contextlib.asynccontextmanager
async def echo_on(transport: str) -> AsyncIterator[ClientFactory]:
    if transport == "inprocess":
        api = InProcessBotAPI()
        async with echo_bot(TOKEN, request=api):
            yield lambda uid, name: InProcessClient(api.user(uid, name))
        return
    from tests.fake_telegram import FakeTelegram, RateLimits

    async with (
        FakeTelegram(limits=RateLimits.off()) as tg,
        echo_bot(tg.token, base_url=tg.base_url),
    ):
        yield lambda uid, name: HttpClient(tg.user(id=uid, first_name=name, started=True))


async def crowd(
    jobs: list[Callable[[], Awaitable[list[float]]]], concurrency: int
) -> tuple[list[list[float]], float]:
    """Run the jobs, at most ``concurrency`` at once; (each job's latencies, seconds)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(job):
        async with limit:
            return await job()

    start = time.perf_counter()
    results = await asyncio.gather(*(one(job) for job in jobs))
    return list(results), time.perf_counter() - start


async def one_run(backend: Backend, transport: str, sizes: Sizes, workdir: Path, seed: int) -> Run:
    run = Run()
    rng = random.Random(seed)
    with fresh(backend, "conversation") as db:
        _world, bound = make_roster(db, 1 + sizes.members + sizes.paced)
        warm, busy, paced = bound[0], bound[1 : 1 + sizes.members], bound[1 + sizes.members :]
        async with product_on(transport, db, workdir) as (client_for, api_calls):

            def client(uid):
                return client_for(uid, f"委员{uid}")

            # One member first: imports, the word list of the similar-proposal check, caches.
            await submit_proposal(client(warm[1]), content_for(0, seed))
            calls_before = api_calls() if api_calls else 0
            with counting() as run.costs:
                results, seconds = await crowd(
                    [
                        (lambda i=i, uid=uid: submit_proposal(client(uid), content_for(i, seed)))
                        for i, (_pid, uid) in enumerate(busy, 1)
                    ],
                    sizes.concurrency,
                )
            if api_calls:
                run.api_calls = api_calls() - calls_before
            counts = [len(r) for r in results]
            run.bot_updates, run.bot_seconds = sum(counts), seconds
            run.saturated = [x for r in results for x in r]

            def think() -> float:
                return rng.uniform(0.5, 1.5) * sizes.think

            async def typing(i: int, uid: int) -> list[float]:
                latencies: list[float] = []
                for k in range(sizes.paced_proposals):
                    content = content_for(10_000 + k * len(paced) + i, seed)
                    latencies += await submit_proposal(client(uid), content, think)
                return latencies

            results, _ = await crowd(
                [(lambda i=i, uid=uid: typing(i, uid)) for i, (_pid, uid) in enumerate(paced)],
                max(1, sizes.paced),
            )
            run.paced = [x for r in results for x in r]
    async with echo_on(transport) as client_for:
        await echo_messages(client_for(1, "warm"), 1, 3)
        cpu = time.process_time()
        results, seconds = await crowd(
            [
                (lambda uid=uid, n=n: echo_messages(client_for(uid, str(uid)), uid, n))
                for (_pid, uid), n in zip(busy, counts, strict=True)
            ],
            sizes.concurrency,
        )
        run.echo_cpu = time.process_time() - cpu
        run.echo_updates, run.echo_seconds = sum(len(r) for r in results), seconds
        run.echo = [x for r in results for x in r]
    return run


@dataclass
class Measured:
    runs: dict[tuple[str, str], list[Run]]  # (database, transport) -> its runs
    floors: dict[str, floor.Floor]  # database -> the layers under an update


def measure(
    backends: list[Backend], transports: list[str], sizes: Sizes, workdir: Path
) -> Measured:
    out: dict[tuple[str, str], list[Run]] = {}
    floors = {b.kind: floor.measure(b, sizes.floor, workdir) for b in backends}
    for backend in backends:
        for transport in transports:
            if transport == "http" and backend.kind != "sqlite":
                continue  # the HTTP variant is measured on SQLite only
            out[(backend.kind, transport)] = [
                asyncio.run(one_run(backend, transport, sizes, workdir, seed=7 + i))
                for i in range(sizes.runs)
            ]
    return Measured(out, floors)


def section(measured: Measured, sizes: Sizes, labels: dict) -> Section:
    results = measured.runs
    s = Section(
        "conversation",
        "1. Conversation throughput",
        f"""
Each member writes and submits a whole proposal through the wizard (about 14 updates each:
/menu, 📝 新建提案, title, category, field, 存在问题, ✅ 完成, 建议, ✅ 完成, unit, ✅ 完成 (no
attachment), 公开: 是, ✅ 完成 (no co-signer), 📤 提交, and 📤 仍然提交 when similar proposals are
shown) to the product exactly as `proposalbot run` composes it (`bot.run.serve`: the
python-telegram-bot Application with the durable update queue, the engine in worker threads,
the notice dispatcher), on a fresh migrated database with one warm-up member first.
The members' accounts are bound already; staff are not on Telegram, so their notices wait.
A plain python-telegram-bot echo bot (`MessageHandler` answering each text with the same text,
`ApplicationBuilder` defaults) then answers the same number of updates from the same number
of people, at the same concurrency, through a fresh copy of the same Bot API, in the same run.
Neither bot has a rate limiter here (the Bot API fake has no flood control; Telegram's limits
are benchmark 2's subject).

*Saturated*: {sizes.members} members, at most {sizes.concurrency} at once, each sending the
next update as soon as the answer it waits for arrives; updates per second = updates ÷ wall
time. Latency = from the update entering the Bot API to the answer the member waits for
reaching it. Under saturation that latency is mostly queueing (≈ concurrency ÷ rate), so it is
reported but not judged. *Typing*: {sizes.paced} members at once, each pausing
{0.5 * sizes.think:g}–{1.5 * sizes.think:g} s (uniform) before every update, as people reading
and typing do, and writing {sizes.paced_proposals} proposals one after the other: the p50/p99
there are judged against the 10 ms target.
Medians of {sizes.runs} run(s); every run uses a fresh database.
""",
    )
    for (kind, transport), runs in results.items():
        where = f"{labels[kind]}, {TRANSPORTS[transport]}"
        judged = kind == "sqlite" and transport == "inprocess"
        if transport == "inprocess":
            s.blocks.append(cost_table(runs, where))
        s.add(
            figure(
                f"product: updates/s ({where})",
                [r.bot_rate for r in runs],
                "updates/s",
                method=f"{runs[0].bot_updates} updates, saturated",
            ),
            figure(
                f"echo bot: updates/s ({where})",
                [r.echo_rate for r in runs],
                "updates/s",
                method=f"{runs[0].echo_updates} updates, saturated",
            ),
            figure(
                f"ratio product ÷ echo ({where})",
                [r.bot_rate / r.echo_rate for r in runs],
                "",
                target=(">=", 0.2) if judged else None,
                method="per run, then the median",
                digits=3,
            ),
            figure(
                f"latency p50, typing ({where})",
                [percentile(r.paced, 50) * 1000 for r in runs],
                "ms",
                method=f"{len(runs[0].paced)} updates per run",
            ),
            figure(
                f"latency p99, typing ({where})",
                [percentile(r.paced, 99) * 1000 for r in runs],
                "ms",
                target=("<", 10) if judged else None,
                method=f"{len(runs[0].paced)} updates per run",
            ),
            figure(
                f"latency p50 / p99, saturated ({where})",
                [percentile(r.saturated, 50) * 1000 for r in runs],
                "ms",
                method="p99: "
                + ", ".join(f"{percentile(r.saturated, 99) * 1000:.0f}" for r in runs)
                + " ms",
            ),
            figure(
                f"echo latency p50, saturated ({where})",
                [percentile(r.echo, 50) * 1000 for r in runs],
                "ms",
                digits=2,
                method="p99: "
                + ", ".join(f"{percentile(r.echo, 99) * 1000:.1f}" for r in runs)
                + " ms",
            ),
        )
    if measured.floors:
        s.blocks.append(floor_block(measured, labels))
    return s


def floor_block(measured: Measured, labels: dict) -> str:
    """The floor table, and what it leaves for the ratio's target on SQLite."""
    text = (
        "**The floor under an update** (ms per transaction, update or call; each layer "
        "timed alone in one thread before the runs, medians of "
        f"{next(iter(measured.floors.values())).batches} timings):\n\n"
        + floor.floor_table(measured.floors, labels)
    )
    sqlite = measured.floors.get("sqlite")
    runs = measured.runs.get(("sqlite", "inprocess"))
    if sqlite is None or not runs:
        return text
    echo = median([r.echo_cpu / r.echo_updates * 1000 for r in runs])
    counted = [r.api_calls / r.bot_updates for r in runs if r.api_calls is not None]
    if not counted:
        return text
    calls = median(counted)
    budget = echo / 0.2
    needed = sqlite.ms["submission"] + calls * sqlite.ms["api_call"]
    return text + (
        f"\n\nAt 0.2 of the echo bot's rate the product may spend {budget:.2f} ms of CPU per "
        f"update (5 × the echo bot's {echo:.2f} ms, its whole process). On SQLite the engine "
        f"alone, outside any event loop, spends {sqlite.ms['submission']:.2f} ms on an update "
        f"of the submission; with the {calls:.1f} Bot API calls each update makes "
        f"({sqlite.ms['api_call']:.3f} ms each) that is {needed:.2f} ms before "
        "python-telegram-bot has read a single update. The Session's read and write of the "
        f"conversation alone cost {sqlite.ms['session']:.2f} ms, the driver's "
        f"{sqlite.ms['driver']:.3f} ms."
    )


def cost_table(runs: list[Run], where: str) -> str:
    """Milliseconds per update of each step (medians over the runs)."""
    rows = []
    top = [name for name, _, _ in STEPS if not name.startswith(NESTED)]
    for name, _, _ in STEPS:
        cpu = median([r.costs.cpu.get(name, 0) / r.bot_updates * 1000 for r in runs if r.costs])
        wall = median([r.costs.wall.get(name, 0) / r.bot_updates * 1000 for r in runs if r.costs])
        calls = median([r.costs.calls.get(name, 0) / r.bot_updates for r in runs if r.costs])
        rows.append([name, f"{cpu:.2f}", f"{wall:.2f}", f"{calls:.2f}"])
    process = median([r.costs.process_cpu / r.bot_updates * 1000 for r in runs if r.costs])
    counted = median(
        [sum(r.costs.cpu.get(n, 0) for n in top) / r.bot_updates * 1000 for r in runs if r.costs]
    )
    rows.append(
        [
            "everything else: the event loop (python-telegram-bot, replies, the Bot API fake), "
            "other worker-thread calls",
            f"{process - counted:.2f}",
            "",
            "",
        ]
    )
    rows.append(["**the product's process, per update**", f"**{process:.2f}**", "", ""])
    echo = median([r.echo_cpu / r.echo_updates * 1000 for r in runs])
    rows.append(["**the echo bot's process, per update**", f"**{echo:.2f}**", "", ""])
    busy = median([r.costs.process_cpu / r.costs.seconds for r in runs if r.costs])
    return (
        f"**Where an update's time goes** ({where}, saturated phase; CPU = time on a core, "
        f"wall = from call to return, waits included; the process kept {busy:.2f} cores "
        "busy):\n\n"
        + table(["step", "CPU ms / update", "wall ms / update", "calls / update"], rows)
    )
