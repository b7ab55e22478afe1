"""A fan-out of notices through a real ``proposalbot run`` process killed with SIGKILL half
way, then started again: every notice arrives, and only those in flight at the kill may
arrive twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlmodel import select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Notice, Person
from tests.crash_harness import Bot
from tests.fake_telegram import FakeTelegram, RateLimits
from workflow.core import Workflow, notify
from workflow.invites import bind_account
from workflow.texts import Text

PEOPLE = 60
IN_FLIGHT_MAX = 16  # the dispatcher's concurrency: what can be mid-request at a kill


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'fanout.db'}")
    upgrade(db.engine)
    with db.session() as session:
        ctx = Workflow().ctx(session, None)
        ids = []
        for n in range(PEOPLE):
            person = Person(name=f"委员{n:02d}", phone=f"1390000{n:04d}", roles="member")
            session.add(person)
            session.flush()
            bind_account(ctx, person.id, "telegram", str(9000 + n))
            ids.append(person.id)
        notify(
            ctx, ids, "announcement", Text("全体委员：{what}", what="年度提案征集开始"), key="2026"
        )
    yield db
    db.dispose()


async def test_sigkill_in_the_middle_of_a_fan_out(database, tmp_path):
    limits = RateLimits(global_rate=20.0, global_burst=5.0)
    async with FakeTelegram(limits=limits) as tg:
        users = [
            tg.user(id=9000 + n, first_name=f"委员{n:02d}", started=True) for n in range(PEOPLE)
        ]
        bot = Bot(tg, database, tmp_path / "data")
        bot.env["PROPOSALBOT_NOTICE_LEASE_SECONDS"] = "2"
        bot.env["PROPOSALBOT_TELEGRAM_RATE_LIMIT"] = "20"
        bot.env["PROPOSALBOT_QUIET_HOURS_START"] = "00:00"  # whatever the hour of the run
        bot.env["PROPOSALBOT_QUIET_HOURS_END"] = "00:00"

        def delivered() -> int:
            return sum(1 for u in users if u.messages)

        def all_settled() -> bool:
            # A notice in flight at the kill may have reached its person unsettled: it is
            # sent again once its claim's lease has run out, and only then marked sent.
            with database.read_session() as session:
                return {n.state for n in session.exec(select(Notice))} == {"sent"}

        try:
            await bot.start()
            assert await tg.wait_until(lambda: delivered() >= PEOPLE // 3, 30)
            bot.kill()
            first_run = delivered()
            assert first_run < PEOPLE, "the fan-out finished before the kill"
            await bot.start()
            assert await tg.wait_until(lambda: delivered() == PEOPLE, 60), delivered()
            deadline = asyncio.get_running_loop().time() + 30
            while not all_settled():  # settling follows the send: not a change the server sees
                assert asyncio.get_running_loop().time() < deadline, "notices left unsettled"
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything sent twice would show up by now
        finally:
            bot.stop()
        copies = Counter(len(u.messages) for u in users)
    duplicates = sum(len(u.messages) - 1 for u in users)
    assert set(copies) <= {1, 2}
    assert duplicates <= IN_FLIGHT_MAX
    with database.read_session() as session:
        assert {n.state for n in session.exec(select(Notice))} == {"sent"}
    assert all("全体委员：年度提案征集开始" in u.messages[0].text for u in users)
