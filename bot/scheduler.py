"""The scheduled sweeps, run by APScheduler beside the channels.

Each sweep is a plain function of a system context (its session and ``now``) in
``workflow.sweeps``; this module only decides when they run:

- every sweep, every ``interval`` (five minutes) and once at start; the digest sweep itself
  waits for ``rules.digest_time`` on a working day and goes out once that day, so a process
  that was down at that time still sends it when it comes back (before the evening quiet
  hours: reminders are not written then, and the next working day's run says them);
- one more round at ``rules.digest_time`` exactly, which also deletes stored files no record
  refers to.

All sweeps of one round run in one transaction, each inside a savepoint so that one failing
sweep does not undo the others. With several bot processes on one PostgreSQL database, only
the process that takes the advisory lock for the round runs it; the others skip that round.
The sweeps are idempotent, so a round repeated after a crash writes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func
from sqlmodel import col, select

from bot.app import App
from storage.locks import try_lock_name
from storage.models import Notice, Person, pk
from workflow import sweeps

log = logging.getLogger(__name__)
LOCK = "proposalbot:sweeps"


def run_round(app: App, names: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """Run these sweeps now in one transaction; {name: notices written}. {} if another
    process holds this round."""
    written: dict[str, int] = {}
    with app.db.session() as session:
        if not try_lock_name(session, LOCK):
            log.info("another process runs the sweeps this round")
            return {}
        ctx = app.workflow.ctx(session, None)
        if now is not None:
            ctx.now = now
        for name in names:
            nested = session.begin_nested()
            try:
                written[name] = sweeps.SWEEPS[name](ctx)
                nested.commit()
            except Exception:
                nested.rollback()
                log.exception("sweep %s failed; the others go on", name)
    return written


@dataclass
class Planned:
    """A notice a sweep would write."""

    sweep: str
    person: str
    kind: str
    text: str
    not_before: datetime


def prune_files(app: App) -> int:
    """Delete stored files that no record refers to (a reply draft never sent, say)."""
    with app.db.session() as session:
        if not try_lock_name(session, LOCK):
            return 0
        return sweeps.prune_orphan_files(app.workflow.ctx(session, None), app.store)


def preview(app: App, at: datetime) -> list[Planned]:
    """What every sweep (the digest too, once its time has come) would send at ``at``;
    nothing is kept."""
    names = list(sweeps.SWEEPS)
    planned: list[Planned] = []
    with app.db.trial_session() as session:
        ctx = app.workflow.ctx(session, None)
        ctx.now = at
        last = session.exec(select(func.max(Notice.id))).one() or 0
        people = {p.id: p.name for p in session.exec(select(Person))}
        for name in names:
            sweeps.SWEEPS[name](ctx)
            session.flush()
            for notice in session.exec(
                select(Notice).where(col(Notice.id) > last).order_by(col(Notice.id))
            ):
                planned.append(
                    Planned(
                        name,
                        people.get(notice.person_id, str(notice.person_id)),
                        notice.kind,
                        notice.text,
                        notice.not_before,
                    )
                )
                last = pk(notice)
    return planned


@dataclass
class Scheduler:
    app: App
    on_notices: Callable[[], None] = lambda: None  # e.g. wake the dispatcher
    interval_seconds: float = 300.0
    scheduler: AsyncIOScheduler = field(init=False)

    def __post_init__(self) -> None:
        rules = self.app.workflow.rules
        self.scheduler = AsyncIOScheduler(timezone=rules.tz)
        hour, minute = (int(part) for part in rules.digest_time.split(":"))
        self.scheduler.add_job(
            self.sweep,
            IntervalTrigger(seconds=self.interval_seconds, timezone=rules.tz),
            id="sweeps",
            next_run_time=datetime.now(rules.tz),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.digest,
            CronTrigger(hour=hour, minute=minute, timezone=rules.tz),
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sweep(self) -> dict[str, int]:
        return await self._round(list(sweeps.SWEEPS))

    async def digest(self) -> dict[str, int]:
        written = await self._round(list(sweeps.SWEEPS))
        try:
            await asyncio.to_thread(prune_files, self.app)
        except Exception:
            log.exception("stored files could not be pruned")
        return written

    async def _round(self, names: list[str]) -> dict[str, int]:
        try:
            written = await asyncio.to_thread(run_round, self.app, names)
        except Exception:
            log.exception("a round of sweeps failed; the next one tries again")
            return {}
        if any(written.values()):
            self.on_notices()
        return written
