"""4. Scale and 5. Growth: the sweeps, the digest and the chat queries on a generated
national-scale database, and the same at smaller sizes; the sweeps' query plans; the peak
memory of the running bot on it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, exists
from sqlmodel import select

from bench.botapi import TOKEN
from bench.bots import bench_rules, make_app
from bench.databases import Backend, fresh
from bench.datagen import TZ, Generated, Spec, generate
from bench.people import content_for
from bench.report import Section, code, figure, table
from bench.stats import median
from bot.dispatcher import Dispatcher
from handlers.flows import build_engine
from handlers.messages import Event, Sender
from handlers.similar import similar_proposals
from storage.db import Database
from storage.files import AttachmentStore
from storage.models import ChannelAccount, Person, Proposal
from workflow import proposals, queries, sweeps
from workflow.core import Workflow, notice_rows, write_notices
from workflow.texts import Text

LIST_FILTERS = ["no filter", "status", "unit", "year", "overdue", "proposer"]
BIG_TABLES = ("proposal", "audit_event", "notice", "signer", "assignment", "rating", "reply")


@dataclass
class Sizes:
    national: Spec = field(default_factory=Spec)
    growth: tuple[int, ...] = (1_000, 10_000, 100_000)
    growth_recent: int = 1_000  # the same year's work at every size; the rest is history
    growth_people: int = 10_000
    growth_units: int = 1_000
    runs: int = 5  # repetitions of each timed query (in each round)
    growth_rounds: int = 3  # growth: rounds over all its sizes, in turn
    memory_seconds: float = 30.0
    memory_people: int = 40  # people chatting with the bot while its memory is watched
    waiting: int = 50_000  # due notices for people no account reaches (years of staff's)

    def growth_spec(self, proposals: int) -> Spec:
        return Spec(
            proposals=proposals,
            people=self.growth_people,
            units=self.growth_units,
            audit_events=10 * proposals,
            recent=self.growth_recent,
        )


@dataclass
class Measured:
    """One database size on one backend."""

    spec: Spec
    generated: Generated
    timings: dict[str, list[float]] = field(default_factory=dict)  # name → seconds per run
    sql: dict[str, list[float]] = field(default_factory=dict)  # name → seconds in SQL per run
    statements: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    plans: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    profiles: dict[str, list[tuple[str, int, float, float]]] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, list[float]] = field(default_factory=dict)  # name → each round's median
    sql_rounds: dict[str, list[float]] = field(default_factory=dict)


# ---------------------------------------------------------------- timing


class SqlClock:
    """Seconds spent inside the database driver (statements executing, rows fetched by the
    driver), on both engines of a database, while ``running``."""

    def __init__(self, db: Database) -> None:
        self.engines = {id(e): e for e in (db.engine, db.read_engine)}.values()
        self.spent = 0.0
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._before)
            event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        started = conn.info.pop("bench_started", None)
        if started is not None:
            self.spent += time.perf_counter() - started

    def close(self) -> None:
        for engine in self.engines:
            if event.contains(engine, "before_cursor_execute", self._before):
                event.remove(engine, "before_cursor_execute", self._before)
                event.remove(engine, "after_cursor_execute", self._after)


def _timed(
    fn: Callable[[], object], runs: int, sql: SqlClock | None = None, into: list | None = None
) -> list[float]:
    """Seconds per run; the SQL part of each run goes to ``into``."""
    out = []
    for _ in range(runs):
        if sql is not None:
            sql.spent = 0.0
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
        if sql is not None and into is not None:
            into.append(sql.spent)
    return out


def sweep_once(db: Database, wf: Workflow, gen: Generated, name: str) -> None:
    """One sweep as the scheduler runs it, at the data's reference moment; rolled back so
    every run does the same work (the day's first round, writing its notices)."""
    with db.trial_session() as session:
        ctx = wf.ctx(session, None)
        ctx.now = gen.now
        sweeps.SWEEPS[name](ctx)
        session.flush()


def list_once(db: Database, gen: Generated, which: str) -> int:
    today = gen.now.date()
    flt = {
        "no filter": queries.ProposalFilter(),
        "status": queries.ProposalFilter(status="assigned"),
        "unit": queries.ProposalFilter(unit_id=gen.busiest_unit),
        "year": queries.ProposalFilter(year=gen.current_year),
        "overdue": queries.ProposalFilter(overdue=True),
        "proposer": queries.ProposalFilter(proposer_id=gen.busiest_member),
    }[which]
    with db.read_session() as session:
        rows = queries.list_proposals(session, flt=flt, today=today, limit=200)
        queries.lead_units(session, proposal_ids=[p.id for p in rows])
    return len(rows)


class ChatQueries:
    """/status N and 📋 我的提案 through the conversation engine, as bound people."""

    def __init__(self, db: Database, wf: Workflow, gen: Generated, workdir: Path) -> None:
        self.engine = build_engine(db, wf, AttachmentStore(workdir / "attachments"))
        self.staff = Sender("telegram", str(gen.uid(gen.staff[0])))
        self.member = Sender("telegram", str(gen.uid(gen.busiest_member)))
        year, number = gen.record_number
        self.status_text = f"/status {year}-{number}"
        self.db, self.gen = db, gen
        with db.session() as session:
            ctx = wf.ctx(session, gen.busiest_member)
            c = content_for(1)
            self.draft_id = proposals.create_draft(
                ctx,
                title=c.title,
                field=c.field,
                analysis=c.analysis,
                suggestions=c.suggestions,
                suggested_unit=c.unit,
            ).id

    def similar(self) -> None:
        """The check that runs when a member taps 📤 提交 on a new draft."""
        with self.db.read_session() as session:
            similar_proposals(session, session.get(Proposal, self.draft_id))

    def status(self) -> None:
        outs = self.engine.handle(self.staff, Event.of_text(self.status_text))
        assert any("提案" in o.text for o in outs), [o.text for o in outs]

    def mine(self) -> None:
        outs = self.engine.handle(self.member, Event.of_text("/menu"))
        payload = next(c.payload for o in outs for c in o.choices if "我的提案" in c.label)
        start = time.perf_counter()
        outs = self.engine.handle(self.member, Event(kind="choice", payload=payload))
        self.last = time.perf_counter() - start
        assert outs, "my proposals said nothing"

    def timed_mine(self, runs: int) -> list[float]:
        out = []
        for _ in range(runs):
            self.mine()
            out.append(self.last)
        return out

    def menu_item(self, sender: Sender, item: str, said: str) -> float:
        """Seconds the tap on a menu item takes to answer (with ``said`` in it), after /menu."""
        outs = self.engine.handle(sender, Event.of_text("/menu"))
        payload = next(c.payload for o in outs for c in o.choices if item in c.label)
        start = time.perf_counter()
        outs = self.engine.handle(sender, Event(kind="choice", payload=payload))
        seconds = time.perf_counter() - start
        assert any(said in o.text for o in outs), [o.text for o in outs]
        return seconds

    def lists(self) -> dict[str, tuple[Sender, str, str]]:
        """The year lists timed, by name: (who opens it, its menu item, what its answer says).
        ⭐ 督办的重点提案 of the lead leader and the supervisor with the most key proposals;
        🗄 已办结的交办 of a handler of the unit with the most assignments."""
        gen = self.gen
        people = {
            KEY_LEADER: (gen.busiest_leader, "督办的重点提案", "重点提案"),
            KEY_SUPERVISOR: (gen.busiest_supervisor, "督办的重点提案", "重点提案"),
            UNIT_HISTORY: (gen.busiest_unit_handler, "已办结的交办", "已办结的交办"),
        }
        return {
            name: (Sender("telegram", str(gen.uid(pid))), item, said)
            for name, (pid, item, said) in people.items()
            if pid is not None
        }

    def statistics(self) -> None:
        """Staff tap 📈 年度统计, then the latest full year: the year's statistics."""
        outs = self.engine.handle(self.staff, Event.of_text("/menu"))
        payload = next(c.payload for o in outs for c in o.choices if "年度统计" in c.label)
        outs = self.engine.handle(self.staff, Event(kind="choice", payload=payload))
        years = [c.payload for o in outs for c in o.choices if c.label.endswith("年度")]
        year = years[1] if len(years) > 1 else years[0]  # newest first: the year under way
        start = time.perf_counter()
        outs = self.engine.handle(self.staff, Event(kind="choice", payload=year))
        self.last = time.perf_counter() - start
        assert any("年度提案工作统计" in o.text or o.file for o in outs), [o.text for o in outs]

    def timed_statistics(self, runs: int) -> list[float]:
        out = []
        for _ in range(runs):
            self.statistics()
            out.append(self.last)
        return out


YEAR_STATISTICS = "📈 年度统计, a whole year (staff's report)"
KEY_LEADER = "⭐ 督办的重点提案, the busiest lead leader"
KEY_SUPERVISOR = "⭐ 督办的重点提案, the busiest supervising unit"
UNIT_HISTORY = "🗄 已办结的交办, the unit with the most assignments"
CLAIM_NOT_PARKED = "dispatcher: a claim that finds nothing, notices not parked"
CLAIM_PARKED = "dispatcher: a claim that finds nothing, notices parked"
PARKING_FIRST = "dispatcher: the round of parking that parks them"
PARKING = "dispatcher: a round of parking, all parked"


class WaitingNotices:
    """The dispatcher's claim (every second, and after every handled update that wrote
    notices) among ``count`` due notices for people no account reaches, before and after
    they are parked; and the rounds of parking (every minute)."""

    def __init__(self, db: Database, gen: Generated, workdir: Path, count: int) -> None:
        app = make_app(db, workdir, TOKEN)
        app.workflow.clock = lambda: gen.now  # 10:00 on a working day: no quiet hours

        async def never(external_id: str, text: str, actions: list[dict], **_) -> None:
            raise AssertionError("nothing here may be sent")

        self.dispatcher = Dispatcher(app, {"telegram": never})
        with db.session() as session:
            unbound = session.exec(
                select(Person.id).where(~exists().where(ChannelAccount.person_id == Person.id))
            ).all()
            ctx = app.workflow.ctx(session, None)
            ctx.now = gen.now - timedelta(hours=1)
            rows: list[dict] = []
            for i in range(count):
                rows += notice_rows(
                    ctx,
                    [unbound[i % len(unbound)]],
                    "bench_waiting",
                    Text("待送达的通知 {n}", n=i),
                    key=str(i),
                )
            write_notices(ctx, rows)

    def claim(self) -> None:
        assert self.dispatcher.claim() == []

    def park(self) -> None:
        self.dispatcher.park()


def capture(db: Database) -> tuple[list[tuple[str, object]], Callable[[], None]]:
    """Every statement the engine executes until the returned function is called."""
    seen: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if not executemany:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", before)


class SizeUnderTest:
    """One generated database, measured in rounds: every round times each query ``runs``
    times and keeps the round's median beside the runs, so that the growth between two sizes
    can be judged round by round (the sizes measured in turn, one round each, so that a
    passing disturbance of the machine falls on both sides of a ratio)."""

    def __init__(
        self, db: Database, spec: Spec, sizes: Sizes, workdir: Path, *, explain: bool
    ) -> None:
        self.db, self.sizes, self.workdir, self.explain = db, sizes, workdir, explain
        self.gen = generate(db, spec)
        self.wf = Workflow(rules=bench_rules())
        self.m = Measured(spec, self.gen)
        self.sql = SqlClock(db)
        self.chat: ChatQueries | None = None
        self.waiting: WaitingNotices | None = None

    def _timed(self, name: str, fn: Callable[[], object], n: int | None = None) -> None:
        m, runs = self.m, n or self.sizes.runs
        sql: list[float] = []
        values = _timed(fn, runs, self.sql, sql)
        m.timings.setdefault(name, []).extend(values)
        m.sql.setdefault(name, []).extend(sql)
        m.rounds.setdefault(name, []).append(median(values))
        m.sql_rounds.setdefault(name, []).append(median(sql))

    def _timed_rounds(self, name: str, values: list[float]) -> None:
        self.m.timings.setdefault(name, []).extend(values)
        self.m.rounds.setdefault(name, []).append(median(values))

    def round(self) -> None:
        """One round of every measurement; the first also warms each query and takes the
        measurements made once (a cold cache, the first parking) and the query plans."""
        db, wf, gen, m, first = self.db, self.wf, self.gen, self.m, self.chat is None
        runs = self.sizes.runs
        for name in sweeps.SWEEPS:
            if first:
                sweep_once(db, wf, gen, name)  # warm: the first run pays for caches
            self._timed(f"sweep {name}", lambda n=name: sweep_once(db, wf, gen, n))
            if first and self.explain:
                seen, stop = capture(db)
                try:
                    sweep_once(db, wf, gen, name)
                finally:
                    stop()
                m.statements[name] = seen
        for which in LIST_FILTERS:
            if first:
                list_once(db, gen, which)
            self._timed(f"list {which}", lambda w=which: list_once(db, gen, w))
        if self.chat is None:
            self.chat = ChatQueries(db, wf, gen, self.workdir)
            self.chat.status()
            self.chat.mine()
            self.chat.statistics()
        chat = self.chat
        self._timed("/status N", chat.status)
        self._timed_rounds("my proposals", chat.timed_mine(runs))
        for name, (sender, item, said) in chat.lists().items():
            if first:
                chat.menu_item(sender, item, said)
            self._timed_rounds(name, [chat.menu_item(sender, item, said) for _ in range(runs)])
        self._timed_rounds(YEAR_STATISTICS, chat.timed_statistics(runs))
        if first:
            self._timed("similar-proposal check, cold token cache", chat.similar, 1)
        self._timed("similar-proposal check", chat.similar)
        if self.waiting is None:
            self.waiting = WaitingNotices(db, gen, self.workdir, self.sizes.waiting)
            self.waiting.claim()
            self._timed(CLAIM_NOT_PARKED, self.waiting.claim)
            self._timed(PARKING_FIRST, self.waiting.park, 1)
            self.waiting.claim()
        self._timed(CLAIM_PARKED, self.waiting.claim)
        self._timed(PARKING, self.waiting.park)

    def finish(self) -> Measured:
        self.sql.close()
        m, db, wf, gen = self.m, self.db, self.wf, self.gen
        if self.explain:
            m.plans = plans(db, m.statements)
            for name in sweeps.SWEEPS:
                if median(m.timings[f"sweep {name}"]) > SWEEP_TARGET_S:
                    m.profiles[name] = profile(lambda n=name: sweep_once(db, wf, gen, n))
        return m


def measure_size(
    db: Database, spec: Spec, sizes: Sizes, workdir: Path, *, explain: bool
) -> Measured:
    """One size, one round."""
    size = SizeUnderTest(db, spec, sizes, workdir, explain=explain)
    try:
        with frozen():
            size.round()
    finally:
        m = size.finish()
    return m


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """The objects made so far (the generator's, the caches warmed) out of the collector's
    reach while measuring, as ``proposalbot run`` puts its start-up objects
    (``bot.run.freeze_what_lasts``): otherwise the full collections that fall in a timing
    walk the benchmark's own objects, and a few-millisecond query is timed now 2 ms, now 6.
    Let go after, so that one measurement's objects are not kept for the rest of the run."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def measure_growth(backend: Backend, sizes: Sizes, workdir: Path) -> dict[int, Measured]:
    """Every growth size generated, then ``growth_rounds`` rounds over them all, in turn
    (the order reversed every other round)."""
    grown = sorted(sizes.growth)
    with contextlib.ExitStack() as stack:
        under: dict[int, SizeUnderTest] = {}
        for size in grown:
            db = stack.enter_context(fresh(backend, f"growth{size}"))
            under[size] = SizeUnderTest(db, sizes.growth_spec(size), sizes, workdir, explain=False)
            stack.callback(under[size].sql.close)
        with frozen():
            for r in range(sizes.growth_rounds):
                for size in grown if r % 2 == 0 else reversed(grown):
                    under[size].round()
        return {size: under[size].finish() for size in grown}


SWEEP_TARGET_S = 0.2


def profile(fn: Callable[[], object], top: int = 6) -> list[tuple[str, int, float, float]]:
    """The functions ``fn`` spends most of its own time in (cProfile):
    (function, calls, own ms, cumulative ms)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_cc, calls, own, cumulative, _callers) in stats.items():
        where = filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        rows.append((f"{where}:{line} {function}", calls, own * 1000, cumulative * 1000))
    rows.sort(key=lambda r: -r[2])
    return rows[:top]


# ---------------------------------------------------------------- query plans

INDEX_RE = re.compile(
    r"(?:USING (?:COVERING )?INDEX|Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)"
)


def plans(db: Database, statements: dict[str, list[tuple[str, object]]]) -> dict:
    """{sweep: [(statement, plan, times executed)]} for the distinct SELECTs of each sweep."""
    out: dict[str, list[tuple[str, str, int]]] = {}
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    with db.engine.connect() as conn:
        for name, seen in statements.items():
            counts: dict[str, int] = {}
            first: dict[str, object] = {}
            for statement, parameters in seen:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                counts[statement] = counts.get(statement, 0) + 1
                first.setdefault(statement, parameters)
            rows = []
            for statement, count in counts.items():
                result = conn.exec_driver_sql(prefix + statement, first[statement]).all()
                if db.is_sqlite:
                    plan = "\n".join(str(r[-1]) for r in result)
                else:
                    plan = "\n".join(str(r[0]) for r in result)
                rows.append((statement, plan, count))
            out[name] = rows
    return out


def full_scans(plan: str) -> list[str]:
    """Big tables read whole (SQLite "SCAN t" without an index, PostgreSQL "Seq Scan on t")."""
    found = []
    for line in plan.splitlines():
        m = re.search(r"\bSCAN (\w+)(?! USING)", line) or re.search(r"Seq Scan on (\w+)", line)
        if m and m.group(1) in BIG_TABLES and "USING" not in line.split(m.group(1), 1)[1][:20]:
            found.append(m.group(1))
    return sorted(set(found))


# ---------------------------------------------------------------- memory of the running bot


def _vm(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])  # kB
    except (OSError, ValueError):
        pass
    return out


def _bot_command() -> list[str]:
    script = Path(sys.executable).parent / "proposalbot"
    if script.exists():
        return [str(script), "run"]
    found = shutil.which("proposalbot")
    if found:
        return [found, "run"]
    return [sys.executable, "-c", "from bot.cli import main; main()", "run"]


async def peak_memory(
    db_url: str, gen: Generated, workdir: Path, seconds: float, people: int
) -> dict[str, float]:
    """``proposalbot run`` in its own process on the database, against the fake Bot API
    server (Telegram's limits in force), while bound people use it and the start-up round
    of sweeps writes its notices; its peak resident memory from /proc (VmHWM)."""
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram() as tg:
        bound = [int(uid) for uid in _bound_uids(db_url)]
        for uid in bound:
            tg.user(id=uid, first_name=str(uid), started=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PROPOSALBOT_")},
            "PROPOSALBOT_DATABASE_URL": db_url,
            "PROPOSALBOT_TELEGRAM_TOKEN": tg.token,
            "PROPOSALBOT_TELEGRAM_API_URL": tg.url,
            "PROPOSALBOT_DATA_DIR": str(workdir / "bot-data"),
            "PROPOSALBOT_QUIET_HOURS_START": "00:00",
            "PROPOSALBOT_QUIET_HOURS_END": "00:00",
            "PROPOSALBOT_LOG_LEVEL": "ERROR",
        }
        proc = await asyncio.create_subprocess_exec(
            *_bot_command(),
            cwd=str(workdir),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            up = await tg.wait_until(
                lambda: any(r.method == "getUpdates" for r in tg.requests), 60
            )
            if not up:
                raise RuntimeError("proposalbot run did not start polling within 60 s")
            started = time.monotonic()
            year, number = gen.record_number
            talkers = [gen.uid(gen.staff[0]), gen.uid(gen.busiest_member)]
            talkers += [u for u in bound if u not in talkers][: max(0, people - 2)]
            answered = 0

            async def talk(uid: int, offset: float) -> None:
                nonlocal answered
                user = tg.user(id=uid)
                await asyncio.sleep(offset)
                k = 0
                while time.monotonic() - started < seconds:
                    text = [f"/status {year}-{number}", "/menu", "/drafts"][k % 3]
                    k += 1
                    await user.send(text)
                    try:
                        await user.wait_for(lambda m: True, timeout=15)
                        answered += 1
                    except AssertionError:
                        pass
                    await asyncio.sleep(3.0)

            await asyncio.gather(*(talk(uid, i * 0.1) for i, uid in enumerate(talkers)))
            vm = _vm(proc.pid)
            sent = sum(1 for r in tg.requests if r.method == "sendMessage" and r.ok)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            err = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
        if not vm:
            raise RuntimeError(f"could not read the bot's memory; it said: {err[-500:]}")
        return {
            "peak_mb": vm.get("VmHWM", 0) / 1024,
            "rss_mb": vm.get("VmRSS", 0) / 1024,
            "answered": answered,
            "sent": sent,
            "seconds": seconds,
        }


def _bound_uids(db_url: str) -> list[str]:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            from sqlalchemy import text

            return [
                row[0]
                for row in conn.execute(
                    text("SELECT external_id FROM channel_account WHERE channel = 'telegram'")
                )
            ]
    finally:
        db.dispose()


# ---------------------------------------------------------------- running both


@dataclass
class Results:
    national: dict[str, Measured] = field(default_factory=dict)  # backend kind → measured
    growth: dict[str, dict[int, Measured]] = field(default_factory=dict)


def measure(backends: list[Backend], sizes: Sizes, workdir: Path, *, scale: bool, growth: bool):
    out = Results()
    for backend in backends:
        if scale:
            with fresh(backend, "national") as db:
                m = measure_size(db, sizes.national, sizes, workdir, explain=True)
                m.memory = asyncio.run(
                    peak_memory(
                        db.url, m.generated, workdir, sizes.memory_seconds, sizes.memory_people
                    )
                )
            out.national[backend.kind] = m
        if growth:
            out.growth[backend.kind] = measure_growth(backend, sizes, workdir)
    return out


def _info_only(name: str) -> bool:
    """Measured once (a cold cache, the first parking) or for comparison (the claim before
    parking): shown, not judged."""
    return "cold" in name or name in (CLAIM_NOT_PARKED, PARKING_FIRST, YEAR_STATISTICS)


def _chat_query(name: str) -> bool:
    """Judged against the chat queries' 50 ms (the dispatcher's work has no target of its
    own: it is shown, and its growth judged)."""
    return not _info_only(name) and not name.startswith("dispatcher")


def _method(name: str, sizes: Sizes) -> str:
    if "cold" in name:
        return "once, after a restart"
    if name == YEAR_STATISTICS:
        return "a report asked for now and then: shown, not judged against 50 ms"
    if name.startswith("dispatcher"):
        return f"{sizes.waiting:,} due notices for people no account reaches" + (
            "; once" if name == PARKING_FIRST else ""
        )
    return ""


def _ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def scale_section(results: Results, sizes: Sizes, labels: dict) -> Section:
    spec = sizes.national
    s = Section(
        "scale",
        "4. Scale",
        f"""
A generated committee (`bench/datagen.py`, seeded, written by bulk insert on SQLite and COPY
on PostgreSQL, then `VACUUM (ANALYZE)` on PostgreSQL, as autovacuum leaves tables written
long ago; SQLite is measured as the product leaves it, without `ANALYZE`):
{spec.describe()}, at least {spec.audit_events:,} audit events, with signers, assignments, replies, ratings, contacts and sent notices, each proposal in the state
its age gives it (the last days' awaiting review or co-signers, the last three months' being
handled, some overdue or asking for adjustment, replies awaiting review and rating, older ones
closed and published). The reference moment is 10:00 Beijing time on the latest working day
that follows a day off (a Monday, most weeks): the sweeps' heaviest ordinary morning.

- *each sweep* (`workflow.sweeps.SWEEPS`, the daily digest among them): one sweep in one
  transaction at the reference moment, as the scheduler runs it, rolled back after so that
  every run does the day's first round (writing its notices); one warm-up run, then the
  median of {sizes.runs}.
- *`list`*: `workflow.queries.list_proposals` (limit 200, as `proposalbot list`) and the lead
  units of the rows, with each filter: none, `--status assigned`, `--unit` (the unit with the
  most assignments), `--year` (this year), `--overdue`, and a proposer (the most prolific
  member).
- *`/status N`*: the conversation engine handling `/status <year>-<N>` from a bound staff
  member, for the proposal with the longest audit trail (record and timeline rendered), in
  its own transaction as the channel runs it.
- *my proposals*: the engine handling the 📋 我的提案 button of the most prolific member.
- *⭐ 督办的重点提案*: the engine handling that menu button (this year's key proposals, a page
  of them with their lead units, due dates and overdue marks) for the lead leader with the
  most key proposals, and for a supervisor of the unit supervising the most.
- *🗄 已办结的交办*: the engine handling that menu button (this year's finished assignments of
  the unit, a page of them with the class of each approved reply) for a handler of the unit
  with the most assignments.
- *📈 年度统计*: the engine handling staff's choice of the latest whole year in the statistics
  (`workflow.statistics`: every proposal, assignment, reply and rating of that year counted,
  unit by unit), the answer rendered. A report, not one of the issue's chat queries: shown.
- *dispatcher*: {sizes.waiting:,} due notices written for the people with no chat account
  (staff who never bound one, years of their notices), then the dispatcher's claim that
  finds nothing to send — it runs every second and after every handled update — before
  and after the round of parking that sets them aside (`workflow.reach`), and a later
  round of parking (every minute) with all of them parked. Shown, not judged; their growth
  is judged in benchmark 5.
- *peak memory*: `proposalbot run` in its own process on this database (the dispatcher's
  {sizes.waiting:,} parked notices included), against the fake Bot
  API server (Telegram's limits in force), for {sizes.memory_seconds:g} s while
  {sizes.memory_people} bound people send `/status N`, `/menu` and `/drafts` every 3 s, the
  start-up round of sweeps runs and the dispatcher sends what it wrote; VmHWM from /proc.
""",
    )
    for kind, m in results.national.items():
        where = labels[kind]
        g = m.generated
        s.blocks.append(
            f"**Generated on {where}** in {g.seconds:.1f} s, reference moment "
            f"{g.now.astimezone(TZ):%Y-%m-%d %H:%M} Beijing time ({g.now.astimezone(TZ):%A}): "
            + ", ".join(f"{name} {count:,}" for name, count in g.rows.items())
        )
        for name, values in m.timings.items():
            if name.startswith("sweep "):
                sweep = name.removeprefix("sweep ")
                label = "daily digest" if sweep == sweeps.DIGEST else f"sweep `{sweep}`"
                count = sum(c for _, _, c in m.plans.get(sweep, []))
                in_sql = median(m.sql.get(name) or [0]) * 1000
                s.add(
                    figure(
                        f"{label} ({where})",
                        _ms(values),
                        "ms",
                        target=("<", 200),
                        method=f"{count} SELECTs; {in_sql:.0f} ms of it in SQL",
                    )
                )
        for name, values in m.timings.items():
            if not name.startswith("sweep "):
                s.add(
                    figure(
                        f"`{name}` ({where})",
                        _ms(values),
                        "ms",
                        target=("<", 50) if _chat_query(name) else None,
                        method=_method(name, sizes),
                    )
                )
        total = sum(median(v) for n, v in m.timings.items() if n.startswith("sweep "))
        s.add(
            figure(
                f"one whole round of sweeps, digest included ({where})",
                [total * 1000],
                "ms",
                method="sum of the medians",
            )
        )
        if m.profiles:
            parts = [
                f"**Where the sweeps over 200 ms spend their time** ({where}; one run under "
                "cProfile, which slows Python code down; the functions with the most time of "
                "their own)"
            ]
            for sweep, rows in m.profiles.items():
                parts.append(
                    f"`{sweep}`:\n\n"
                    + table(
                        ["function", "calls", "own ms", "cumulative ms"],
                        [[f"`{f}`", c, f"{own:.0f}", f"{cum:.0f}"] for f, c, own, cum in rows],
                    )
                )
            s.blocks.append("\n\n".join(parts))
        if m.memory:
            s.add(
                figure(
                    f"peak memory of `proposalbot run` ({where})",
                    [m.memory["peak_mb"]],
                    "MB",
                    target=("<", 150),
                    method=f"VmHWM, one run; {m.memory['answered']} answers, "
                    f"{m.memory['sent']} messages sent in {m.memory['seconds']:g} s",
                )
            )
    s.blocks.extend(plans_blocks(results, labels))
    return s


def growth_section(results: Results, sizes: Sizes, labels: dict) -> Section:
    grown = sorted(sizes.growth)
    small, large = (grown[-2], grown[-1]) if len(grown) >= 2 else (grown[0], grown[0])
    s = Section(
        "growth",
        "5. Growth",
        f"""
The same measurements on databases of {", ".join(f"{n:,}" for n in grown)} proposals with
the same current work — {sizes.growth_recent:,} proposals in the last 12 months, the same
roster of {sizes.growth_people:,} people and {sizes.growth_units:,} units — and the rest as
history over the 19 years before: what grows is the archive, as it does year after year
(the last 12 months are generated from random streams of their own, so their proposals are
in the same states at every size).
All sizes are generated first, then measured in {sizes.growth_rounds} rounds, one size after
the other in each (the order reversed every other round), so that a passing disturbance of
the machine falls on both sides of a comparison; a round runs each query {sizes.runs} times.
Times in the tables are medians of all {sizes.growth_rounds * sizes.runs} runs in ms, in all
and inside the database driver (SQL). The verdicts, for the whole time and for its SQL part:
in each round, the cost at {large:,} ÷ the cost at {small:,} (the round's medians, each
floored at 1 ms, below which differences are noise); the median of the rounds' ratios must be
at most 2 — ten times the history may cost a little more (logarithmic: an index one level
deeper) but not ten times more (linear: reading the history). The query plans (`EXPLAIN
QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL) of every distinct SELECT each sweep runs, on
the national-scale database, with the indexes it uses and the big tables it reads whole, are
at the end of benchmark 4.
""",
    )
    for kind, by_size in results.growth.items():
        where = labels[kind]
        names = list(next(iter(by_size.values())).timings)
        rows = []
        for name in names:
            cells = []
            for n in grown:
                if n in by_size:
                    total = median(by_size[n].timings[name]) * 1000
                    part = by_size[n].sql.get(name)
                    cells.append(
                        f"{total:.1f} / {median(part) * 1000:.1f}" if part else f"{total:.1f}"
                    )
            rows.append([f"`{name}`", *cells])
            if small not in by_size or large not in by_size or small == large or _info_only(name):
                continue
            for what, source in (("", "rounds"), ("SQL of ", "sql_rounds")):
                before = getattr(by_size[small], source).get(name)
                after = getattr(by_size[large], source).get(name)
                if not before or not after:
                    continue
                pairs = list(zip(before, after, strict=True))  # one pair a round
                ratios = [max(b, 0.001) / max(a, 0.001) for a, b in pairs]
                s.add(
                    figure(
                        f"{what}`{name}`, ×{large // small} history ({where})",
                        ratios,
                        "×",
                        target=("<=", 2),
                        digits=2,
                        method="ms per round: "
                        + ", ".join(f"{a * 1000:.1f} → {b * 1000:.1f}" for a, b in pairs),
                    )
                )
        s.blocks.append(
            f"**{where}**: total ms / of which in SQL ms (medians)\n\n"
            + table(["query", *(f"{n:,} proposals" for n in grown)], rows)
        )
    return s


def plans_blocks(results: Results, labels: dict) -> list[str]:
    """The query plans of the sweeps on the national-scale database, with the indexes they
    use and the big tables they read whole."""
    blocks = []
    for kind, m in results.national.items():
        if not m.plans:
            continue
        where = labels[kind]
        parts = [f"### Query plans of the sweeps ({where}, {m.spec.proposals:,} proposals)"]
        for sweep, rows in m.plans.items():
            total = sum(count for _, _, count in rows)
            parts.append(f"#### `{sweep}` — {len(rows)} distinct SELECTs, {total} executed")
            for statement, plan, count in rows:
                indexes = sorted(set(INDEX_RE.findall(plan)))
                scans = full_scans(plan)
                parts.append(
                    f"- run {count}×; indexes: {', '.join(indexes) or 'none'}"
                    + (f"; **reads whole: {', '.join(scans)}**" if scans else "")
                )
                parts.append(code(_short(statement), "sql"))
                parts.append(code(plan))
        blocks.append("\n\n".join(parts))
    return blocks


def _short(statement: str, limit: int = 1500) -> str:
    """The statement on one line, its long column list shortened."""
    statement = " ".join(statement.split())
    head = re.match(r"SELECT (.*?) FROM ", statement)
    if head and len(head.group(1)) > 100:
        statement = f"SELECT … FROM {statement[head.end() :]}"
    return statement if len(statement) <= limit else statement[:limit] + " …"
