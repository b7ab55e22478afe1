"""When the sweeps run: rounds that are idempotent, one process per round on PostgreSQL, a
dry run that keeps nothing, the APScheduler jobs, and the scheduler inside ``serve``."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import func, select

from bot.scheduler import LOCK, Scheduler, preview, run_round
from storage.locks import try_lock_name
from storage.models import Notice
from tests.conftest import requires_postgres
from tests.factories import Story
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import bind, make_app, running
from workflow import sweeps


def notice_count(db, kind: str | None = None) -> int:
    stmt = select(func.count()).select_from(Notice)
    if kind:
        stmt = stmt.where(Notice.kind == kind)
    with db.read_session() as session:
        return session.exec(stmt).one()


@pytest.fixture
def waiting(db, wf, world, clock):
    """A proposal submitted on Monday 14 Sep and not reviewed by Monday 21 Sep, 10:00."""
    pid = Story(db, wf, world).submitted()
    clock.set_local(2026, 9, 21, 10, 0)
    return pid


def test_a_round_runs_every_sweep_and_a_second_round_writes_nothing(app, db, waiting):
    written = run_round(app, list(sweeps.SWEEPS))
    assert list(written) == list(sweeps.SWEEPS)
    assert written["review_backlog"] == 2  # both staff members
    assert notice_count(db, "review_backlog") == 2
    again = run_round(app, list(sweeps.SWEEPS))
    assert sum(again.values()) == 0 and notice_count(db, "review_backlog") == 2


def test_a_failing_sweep_does_not_stop_the_others(app, db, waiting, monkeypatch):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(sweeps.SWEEPS, "broken", broken)
    written = run_round(app, ["broken", "review_backlog"])
    assert written == {"review_backlog": 2}


@requires_postgres
def test_only_the_process_holding_the_round_runs_it(app, db, waiting):
    with db.session() as other:
        assert try_lock_name(other, LOCK)  # another process is in the middle of a round
        assert run_round(app, list(sweeps.SWEEPS)) == {}
    assert notice_count(db, "review_backlog") == 0
    assert run_round(app, list(sweeps.SWEEPS))["review_backlog"] == 2


def test_a_dry_run_shows_what_would_be_sent_and_keeps_nothing(app, db, waiting, clock):
    before = notice_count(db)
    planned = preview(app, clock())
    backlog = [p for p in planned if p.sweep == "review_backlog"]
    assert {p.person for p in backlog} == {"许静", "罗成"}
    assert all("尚未审查" in p.text for p in backlog)
    assert notice_count(db) == before


async def test_the_scheduler_runs_a_round_at_start_and_wakes_the_dispatcher(app, db, waiting):
    woken = asyncio.Event()
    scheduler = Scheduler(app, on_notices=woken.set, interval_seconds=3600)
    scheduler.start()
    try:
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        scheduler.shutdown()
    assert notice_count(db, "review_backlog") == 2
    await asyncio.sleep(0.05)  # AsyncIOScheduler stops on the loop's next turn
    assert not scheduler.scheduler.running


def test_the_digest_job_fires_at_the_digest_time_in_the_committees_timezone(app):
    scheduler = Scheduler(app)
    trigger = scheduler.scheduler.get_job("digest").trigger
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("9", "0")
    assert str(trigger.timezone) == "Asia/Shanghai"


async def test_proposalbot_run_sends_what_the_sweeps_write(db, wf, world, clock, tmp_path):
    Story(db, wf, world).submitted()
    clock.set_local(2026, 9, 21, 10, 0)
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        staff = bind(db, wf, tg, world.staff, 510, "许静")
        async with running(app, schedule=True):
            await staff.user.wait_for("尚未审查，请及时审查", timeout=15, since=0)
