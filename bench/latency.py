"""3. Notice latency: from the commit of the transaction that wrote a notice to the
sendMessage call that carries it.

Members bound on Telegram submit their drafts through the chat (/menu → 🗂 我的草稿 → the
draft → ✏️ 继续编辑 → 📤 提交) to the product as ``proposalbot run`` runs it, against the fake
Bot API server over HTTP with Telegram's flood limits in force (real time). Each submission
commits a receipt notice for the member; the dispatcher, woken by the channel after the
update, sends it. The commit moment is taken from SQLAlchemy's ``after_commit`` event of the
session that wrote the notice; the call's moment from the server's request log (the first
accepted sendMessage into that member's chat carrying the notice's text).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session, select

from bench.bots import make_app, product_bot
from bench.databases import Backend, fresh
from bench.fanout import DEFAULT_RATE
from bench.people import MENU, SIMILAR, HttpClient, content_for, make_roster, one_step
from bench.report import Section, figure
from bench.stats import percentile
from bot.outbox import render_notice
from bot.telegram import render as tr
from handlers.messages import split_text
from storage.models import ChannelAccount, Notice
from workflow import core, proposals


@dataclass
class Sizes:
    members: int = 10
    proposals: int = 5  # drafts each member submits, one after another
    think: float = 1.0  # mean seconds a member waits before each action
    runs: int = 3


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    notices: int = 0  # receipts committed
    unmatched: int = 0  # receipts with no sendMessage found
    messages: int = 0  # every accepted sendMessage / edit during the run
    refused_429: int = 0  # flood-control refusals the bot met
    seconds: float = 0.0


@contextlib.contextmanager
def notice_commits() -> Iterator[dict[str, float]]:
    """{notice idempotency key: time.monotonic() of the commit that made it durable}, for
    the block: the outbox rows each session inserts (seen as the statement is executed,
    whichever workflow function wrote them) are timed by that session's commit."""
    committed: dict[str, float] = {}

    def on_execute(state) -> None:
        statement = state.statement
        if not state.is_insert or getattr(statement, "table", None) is not core.NOTICE_TABLE:
            return
        rows = state.parameters
        rows = rows if isinstance(rows, list) else [rows]
        keys = state.session.info.setdefault(_KEYS, [])
        keys.extend(row["idempotency_key"] for row in rows if row)

    def after_commit(session) -> None:
        keys = session.info.pop(_KEYS, None)
        if keys:
            now = time.monotonic()
            for key in keys:
                committed.setdefault(key, now)

    def after_rollback(session) -> None:
        session.info.pop(_KEYS, None)

    listeners = (
        ("do_orm_execute", on_execute),
        ("after_commit", after_commit),
        ("after_rollback", after_rollback),
    )
    for name, listener in listeners:
        event.listen(Session, name, listener)
    try:
        yield committed
    finally:
        for name, listener in listeners:
            event.remove(Session, name, listener)


_KEYS = "bench_notice_keys"  # Session.info: the keys of the notices written, until commit


def draft_title(member: int, k: int, seed: int) -> str:
    base = content_for(member * 100 + k, seed).title.removeprefix("关于")
    return f"关于第{k + 1}批{base}"


def write_drafts(db, wf, bound, count: int, seed: int) -> dict[int, list[str]]:
    titles: dict[int, list[str]] = {}
    for m, (person_id, uid) in enumerate(bound):
        with db.session() as session:
            ctx = wf.ctx(session, person_id)
            for k in range(count):
                c = content_for(m * 100 + k, seed)
                title = draft_title(m, k, seed)
                proposals.create_draft(
                    ctx,
                    title=title,
                    field=c.field,
                    analysis=c.analysis,
                    suggestions=c.suggestions,
                    suggested_unit=c.unit,
                )
                titles.setdefault(uid, []).append(title)
    return titles


async def submit_drafts(client, titles: list[str], think) -> None:
    for k in range(len(titles)):
        steps = [
            ("send", "/menu", MENU),
            ("tap", "🗂 我的草稿", "份草稿"),
            ("tap", f"《关于第{k + 1}批", "最后修改"),
            ("tap", "✏️ 继续编辑", "请核对提案内容"),
            ("tap", "📤 提交", (MENU, SIMILAR)),
        ]
        for kind, arg, expect in steps:
            await asyncio.sleep(think())
            _, text = await one_step(client, kind, arg, expect)
        if SIMILAR in text:
            await asyncio.sleep(think())
            await one_step(client, "tap", "📤 仍然提交", MENU)


async def one_run(backend: Backend, sizes: Sizes, workdir: Path, seed: int) -> Run:
    from tests.fake_telegram import FakeTelegram

    run = Run()
    rng = random.Random(seed)

    def think() -> float:
        return rng.uniform(0.5, 1.5) * sizes.think

    with fresh(backend, "latency") as db:
        _world, bound = make_roster(db, sizes.members)
        async with FakeTelegram() as tg:
            app = make_app(db, workdir, tg.token, tg.url)
            titles = write_drafts(db, app.workflow, bound, sizes.proposals, seed)
            with notice_commits() as committed:
                async with product_bot(app):
                    before = len(tg.requests)
                    start = time.monotonic()
                    await asyncio.gather(
                        *(
                            submit_drafts(
                                HttpClient(tg.user(id=uid, first_name=f"委员{uid}", started=True)),
                                titles[uid],
                                think,
                            )
                            for _pid, uid in bound
                        )
                    )
                    # The last receipts may still be on their way.
                    deadline = time.monotonic() + 10
                    while (
                        _receipts_sent(db) < sizes.members * sizes.proposals
                        and time.monotonic() < deadline
                    ):
                        await asyncio.sleep(0.05)
                    run.seconds = time.monotonic() - start
            records = tg.requests[before:]
        sends = [r for r in records if r.ok and r.method in ("sendMessage", "editMessageText")]
        run.messages = len(sends)
        run.refused_429 = sum(1 for r in records if r.status == 429)
        by_chat: dict[int, list] = {}
        for record in sends:
            if record.method == "sendMessage":
                by_chat.setdefault(int(record.chat_id), []).append(record)
        with db.read_session() as session:
            rows = session.exec(
                select(Notice, ChannelAccount.external_id)
                .join(ChannelAccount, ChannelAccount.person_id == Notice.person_id)
                .where(Notice.kind == "submitted_receipt", ChannelAccount.channel == "telegram")
            ).all()
            for notice, external_id in rows:
                if notice.idempotency_key not in committed:
                    continue
                run.notices += 1
                text, _ = render_notice(notice, "zh")
                first = tr.message_text(split_text(text)[0])
                call = next(
                    (
                        r
                        for r in by_chat.get(int(external_id), [])
                        if r.params.get("text") == first
                    ),
                    None,
                )
                if call is None:
                    run.unmatched += 1
                    continue
                run.latencies.append(call.time - committed[notice.idempotency_key])
    return run


def _receipts_sent(db) -> int:
    with db.read_session() as session:
        return len(
            session.exec(
                select(Notice.id).where(Notice.kind == "submitted_receipt", Notice.state == "sent")
            ).all()
        )


def measure(backends: list[Backend], sizes: Sizes, workdir: Path) -> dict[str, list[Run]]:
    return {
        b.kind: [asyncio.run(one_run(b, sizes, workdir, seed=11 + i)) for i in range(sizes.runs)]
        for b in backends
    }


def section(results: dict[str, list[Run]], sizes: Sizes, labels: dict) -> Section:
    s = Section(
        "latency",
        "3. Notice latency",
        f"""
{sizes.members} members bound on Telegram each submit {sizes.proposals} draft(s) through the
chat (/menu → 🗂 我的草稿 → the draft → ✏️ 继续编辑 → 📤 提交), pausing
{0.5 * sizes.think:g}–{1.5 * sizes.think:g} s before each action, to the product as
`proposalbot run` composes it (default rate limit {DEFAULT_RATE:g} messages/s), against the fake Bot API
server over HTTP with Telegram's flood limits in force at real speed; the offered load stays
under the limits (see the message rate below). Each submission commits a receipt notice for
its member. Latency = from the commit of the transaction that wrote the notice (SQLAlchemy
`after_commit`) to the server receiving the sendMessage that carries it (the first accepted
sendMessage into that chat with the notice's text). Medians of {sizes.runs} run(s).
""",
    )
    for kind, runs in results.items():
        where = labels[kind]
        s.add(
            figure(
                f"p50 ({where})",
                [percentile(r.latencies, 50) * 1000 for r in runs],
                "ms",
                method=f"{sum(len(r.latencies) for r in runs)} notices in all",
            ),
            figure(
                f"p99 ({where})",
                [percentile(r.latencies, 99) * 1000 for r in runs],
                "ms",
                target=("<", 1000),
            ),
            figure(
                f"receipts not found in the request log ({where})",
                [r.unmatched for r in runs],
                target=("==", 0),
                digits=0,
                method="of " + ", ".join(str(r.notices) for r in runs),
            ),
            figure(
                f"429 responses during the run ({where})",
                [r.refused_429 for r in runs],
                digits=0,
                method="the load must stay under Telegram's limits for the target to apply",
            ),
            figure(
                f"messages sent per second during the run ({where})",
                [r.messages / r.seconds if r.seconds else 0 for r in runs],
                "msg/s",
                method="replies and notices; Telegram allows about 30",
            ),
        )
    return s
