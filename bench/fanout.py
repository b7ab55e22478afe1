"""2. Fan-out: many notices to many people through the dispatcher, within Telegram's limits.

``notices`` people, each bound on Telegram, get one notice each (written by
``workflow.core.notify`` in one transaction, as a sweep or a staff action writes them). The
product's dispatcher (``bot.dispatcher.Dispatcher`` with its defaults: batches of 50, 16 in
flight) sends them through ``TelegramChannel.deliver`` (python-telegram-bot with the
``AIORateLimiter`` at ``rate_limit``) to the fake Bot API server over HTTP, which enforces
Telegram's flood limits and answers 429 "Too Many Requests: retry after N" beyond them.

Time-scaled mode (``scale`` > 1): the server's buckets refill ``scale`` times faster (and the
overall bucket holds ``scale`` × 30, as the bot's limiter at ``scale`` × 30 a second does), the
bot's limiter allows ``scale`` × 30 a second and the dispatcher's per-chat pace is ``scale`` ×
1 a second: the same run, ``scale`` times shorter.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bench.bots import make_app
from bench.databases import Backend, fresh
from bench.report import Section, figure
from bot.dispatcher import Dispatcher, Unreachable
from bot.settings import Settings
from bot.telegram.channel import TelegramChannel
from storage.models import ChannelAccount, Notice, Person
from workflow.core import notify
from workflow.texts import Text

TELEGRAM_RATE = 30.0  # messages a second overall (Telegram's FAQ)
DEFAULT_RATE = Settings.model_fields["telegram_rate_limit"].default  # the product's default
FIRST_UID = 900_000


@dataclass
class Sizes:
    notices: int = 3000
    scale: float = 1.0
    runs: int = 3
    # The bot's overall rate limit (PROPOSALBOT_TELEGRAM_RATE_LIMIT): the product's default,
    # judged, then others for comparison (SQLite only).
    bot_rates: tuple[float, ...] = (DEFAULT_RATE, TELEGRAM_RATE)
    comparison_runs: int = 1  # runs of each other bot rate


@dataclass
class Run:
    notices: int
    seconds: float  # from the dispatcher's start to the last accepted sendMessage
    delivered: int  # distinct chats that got their notice
    accepted: int  # sendMessage answered 200
    refused_429: int
    duplicates: int  # accepted sends beyond one per chat
    lost: int  # notices no chat received
    not_sent: int  # notices whose row is not "sent" at the end
    allowed_rate: float
    bot_rate: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def write_people_and_notices(db, wf, count: int) -> None:
    with db.session() as session:
        people = [
            Person(name=f"收件人{i:05d}", phone=f"137{i:08d}", roles="member")
            for i in range(count)
        ]
        session.add_all(people)
        session.flush()
        session.add_all(
            ChannelAccount(person_id=p.id, channel="telegram", external_id=str(FIRST_UID + i))
            for i, p in enumerate(people)
        )
        session.flush()
        ctx = wf.ctx(session, None)
        notify(
            ctx,
            [p.id for p in people],
            "bench_fanout",
            Text(
                "关于召开{meeting}的通知：请于{day}前在提案通中查看会议议程。",
                meeting="提案办理协商会",
                day="9月30日",
            ),
            key="fanout",
        )


async def one_run(backend: Backend, sizes: Sizes, workdir: Path, bot_rate: float) -> Run:
    from tests.fake_telegram import FakeTelegram, RateLimits

    scale = sizes.scale
    limits = RateLimits(global_burst=TELEGRAM_RATE * scale, time_scale=scale)
    with fresh(backend, "fanout") as db:
        async with FakeTelegram(limits=limits) as tg:
            app = make_app(db, workdir, tg.token, tg.url)
            write_people_and_notices(db, app.workflow, sizes.notices)
            for i in range(sizes.notices):
                tg.user(id=FIRST_UID + i, first_name=f"收件人{i}", started=True)
            channel = TelegramChannel(
                app=app,
                token=tg.token,
                base_url=tg.base_url,
                base_file_url=tg.base_file_url,
                rate_limit=bot_rate * scale,
            )
            dispatcher = Dispatcher(
                app,
                {"telegram": channel.deliver},
                unreachable_errors=(Unreachable,),
                chat_rate=1.0 * scale,
            )
            async with channel:
                before = len(tg.requests)
                stop = asyncio.Event()
                start = time.monotonic()
                task = asyncio.create_task(dispatcher.run(stop))
                deadline = start + 60 + 3 * sizes.notices / (TELEGRAM_RATE * scale)
                seen, done = before, 0
                while done < sizes.notices and not task.done() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    fresh_records = tg.requests[seen:]
                    seen += len(fresh_records)
                    done += sum(1 for r in fresh_records if r.method == "sendMessage" and r.ok)
                # Let anything still in flight land (a duplicate would show here).
                await asyncio.sleep(0.5 / scale)
                stop.set()
                await task
            sends = [r for r in tg.requests[before:] if r.method == "sendMessage"]
            accepted = [r for r in sends if r.ok]
            per_chat = Counter(r.chat_id for r in accepted)
            with db.read_session() as session:
                not_sent = session.exec(
                    select(func.count()).select_from(Notice).where(Notice.state != "sent")
                ).one()
    last = max((r.time for r in accepted), default=start)
    return Run(
        notices=sizes.notices,
        seconds=last - start,
        delivered=len(per_chat),
        accepted=len(accepted),
        refused_429=sum(1 for r in sends if r.status == 429),
        duplicates=sum(n - 1 for n in per_chat.values()),
        lost=sizes.notices - len(per_chat),
        not_sent=not_sent,
        allowed_rate=TELEGRAM_RATE * scale,
        bot_rate=bot_rate,
    )


def measure(
    backends: list[Backend], sizes: Sizes, workdir: Path
) -> dict[tuple[str, float], list[Run]]:
    out = {}
    for b in backends:
        for rate in sizes.bot_rates if b.kind == "sqlite" else sizes.bot_rates[:1]:
            runs = sizes.runs if rate == sizes.bot_rates[0] else sizes.comparison_runs
            out[(b.kind, rate)] = [
                asyncio.run(one_run(b, sizes, workdir, rate)) for _ in range(runs)
            ]
    return out


def _perfect(sizes: Sizes) -> float:
    """Achieved ÷ allowed for a sender that uses the burst and then exactly the rate."""
    burst, rate = TELEGRAM_RATE * sizes.scale, TELEGRAM_RATE * sizes.scale
    if sizes.notices <= burst:
        return float("inf")
    return sizes.notices / ((sizes.notices - burst) / rate) / rate


def section(results: dict[tuple[str, float], list[Run]], sizes: Sizes, labels: dict) -> Section:
    scaled = (
        f"time-scaled ×{sizes.scale:g} (server limit and bot pacing both ×{sizes.scale:g})"
        if sizes.scale != 1
        else "real time (30 messages/s)"
    )
    s = Section(
        "fanout",
        "2. Fan-out",
        f"""
{sizes.notices:,} notices to {sizes.notices:,} people (one each, all bound on Telegram),
written by `workflow.core.notify` in one transaction, sent by the product's dispatcher
(`bot.dispatcher.Dispatcher`, defaults: batches of 50, 16 in flight, per-chat pace) through
`TelegramChannel.deliver` (python-telegram-bot with `AIORateLimiter`) to the fake Bot API
server over HTTP, which enforces Telegram's flood limits (30 messages/s overall with a
burst of 30, 1/s per chat) and answers 429 beyond them. Mode: {scaled}.
Achieved rate = accepted sendMessage calls ÷ seconds from the dispatcher's start to the last
one; allowed rate = 30/s × scale (the initial burst of {30 * sizes.scale:g} lets a perfect
sender reach {_perfect(sizes):.3f} × allowed). 429s, duplicates (a chat
getting its notice twice) and losses (a chat getting none; notices not marked sent) are
counted from the server's request log and the outbox. The bot's own limit is the product's
default (`PROPOSALBOT_TELEGRAM_RATE_LIMIT` = {sizes.bot_rates[0]:g}), judged against the
targets; {", ".join(f"{r:g}" for r in sizes.bot_rates[1:]) or "no other"} shown for
comparison, not judged ({sizes.comparison_runs} run each). Medians of {sizes.runs} run(s).
""",
    )
    for (kind, rate), runs in results.items():
        default = rate == sizes.bot_rates[0]
        where = f"{labels[kind]}, bot limit {rate:g}/s"
        s.add(
            figure(
                f"achieved ÷ allowed rate ({where})",
                [r.rate / r.allowed_rate for r in runs],
                target=(">=", 0.9) if default else None,
                digits=3,
                method="; ".join(
                    f"{r.rate:.1f}/s of {r.allowed_rate:g}/s, {r.seconds:.1f} s" for r in runs
                ),
            ),
            figure(
                f"429 responses ({where})",
                [r.refused_429 for r in runs],
                target=("==", 0) if default else None,
                digits=0,
            ),
            figure(
                f"duplicates ({where})",
                [r.duplicates for r in runs],
                target=("==", 0) if default else None,
                digits=0,
            ),
            figure(
                f"losses ({where})",
                [max(r.lost, r.not_sent) for r in runs],
                target=("==", 0) if default else None,
                digits=0,
                method="chats without their notice, or notices not marked sent (the larger)",
            ),
        )
    return s
