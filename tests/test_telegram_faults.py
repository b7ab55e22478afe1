"""Faults between the bot and Telegram, injected in the fake Bot API server: nothing is lost,
nothing is applied twice, and a person who blocked the bot does not hold up anyone else."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.dispatcher import Dispatcher, Unreachable
from bot.run import telegram_channel
from bot.telegram import channel as telegram
from bot.telegram import inbox
from handlers.messages import split_text
from storage.models import AuditEvent, ChannelAccount, InboundUpdate, Notice, Proposal
from tests.factories import Story
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import bind, make_app, running, text_message
from workflow import proposals
from workflow.core import notify
from workflow.texts import Text


@pytest.fixture
async def tg():
    async with FakeTelegram(time_scale=20) as server:
        yield server


@pytest.fixture
def app(db, wf, world, tmp_path, tg):
    return make_app(db, wf, tmp_path, tg)


def menus(person) -> list:
    return [m for m in person.user.messages if m.text and m.text.startswith("林晓，您好！")]


@pytest.mark.parametrize("fault", ["429", "500", "502", "timeout", "drop"])
async def test_a_reply_gets_through_a_transient_fault_exactly_once(app, tg, db, wf, world, fault):
    member = bind(db, wf, tg, world.member, 501, "林晓")
    async with running(app, read_timeout=1.0):
        injected = tg.inject("sendMessage", fault, times=2, retry_after=1, chat_id=501)
        await member.send("/menu", expect="林晓，您好！")
        assert injected.hits == 2
        assert len(menus(member)) == 1
    with db.read_session() as session:
        assert [u.state for u in session.exec(select(InboundUpdate))] == ["done"]


def account_of(session, person_id: int) -> ChannelAccount:
    return session.exec(select(ChannelAccount).where(ChannelAccount.person_id == person_id)).one()


async def test_rate_limit_answers_are_waited_out_not_dropped(app, tg, db, wf, world):
    member = bind(db, wf, tg, world.member, 501, "林晓")
    async with running(app):
        tg.inject("sendMessage", "429", times=1, retry_after=2, chat_id=501)
        await member.send("/menu", expect="林晓，您好！")
    limited = [r for r in tg.calls("sendMessage") if r.status == 429]
    served = [r for r in tg.calls("sendMessage") if r.status == 200]
    assert len(limited) == 1 and served
    assert served[0].time - limited[0].time >= 2.0  # retry_after honoured


async def test_a_notice_to_someone_who_blocked_the_bot_is_reported_to_staff(
    app, tg, db, wf, world
):
    member = bind(db, wf, tg, world.member, 501, "林晓")
    staff = bind(db, wf, tg, world.staff, 510, "许静")
    cosigner = bind(db, wf, tg, world.cosigner, 502, "何平")
    member.user.block(notify=False)  # Telegram tells the bot only when it next sends
    story = Story(db, wf, world)
    async with running(app):
        pid = story.submitted(cosigners=[world.cosigner], confirm=False)
        await staff.user.wait_for("无法向林晓推送消息", timeout=10)
        await cosigner.user.wait_for("邀请您联名", timeout=10)  # the others are not held up
    with db.read_session() as session:
        account = account_of(session, world.member)
        assert account.unreachable
        to_member = session.exec(select(Notice).where(Notice.person_id == world.member)).all()
        assert {n.state for n in to_member} == {"failed"}
        assert all("unreachable" in (n.last_error or "") for n in to_member)
        reports = session.exec(select(Notice).where(Notice.kind == "unreachable")).all()
        assert {n.person_id for n in reports} == {world.staff, world.staff2}
    assert pid


async def test_blocking_and_unblocking_the_bot_follow_the_account(app, tg, db, wf, world):
    member = bind(db, wf, tg, world.member, 501, "林晓")
    staff = bind(db, wf, tg, world.staff, 510, "许静")
    async with running(app):
        await member.send("/menu", expect="您好")
        member.user.block()  # the my_chat_member update
        await staff.user.wait_for("无法向林晓推送消息", timeout=10)
        member.user.unblock()
        await member.send("/menu", expect="您好")
    with db.read_session() as session:
        account = account_of(session, world.member)
        assert not account.unreachable


async def test_a_message_from_an_account_marked_unreachable_makes_it_reachable_again(
    app, tg, db, wf, world
):
    """A send refused while the member had blocked the bot marked the account; their next
    message (no my_chat_member update came) makes it reachable again, once."""
    member = bind(db, wf, tg, world.member, 501, "林晓")
    with db.session() as session:
        account = account_of(session, world.member)
        account.unreachable = True
        session.add(account)
    async with running(app):
        await member.send("/menu", expect="您好")
        await member.send("/menu", expect="您好")
    with db.read_session() as session:
        account = account_of(session, world.member)
        assert not account.unreachable
        again = session.exec(
            select(AuditEvent).where(AuditEvent.action == "channel_reachable")
        ).all()
        assert [e.detail["person_id"] for e in again] == [world.member]  # the first only


async def test_notices_get_through_transient_faults_and_arrive_once(app, tg, db, wf, world):
    member = bind(db, wf, tg, world.member, 501, "林晓")
    story = Story(db, wf, world)
    pid = story.submitted()
    # The bot starts with the submission receipt already waiting in the outbox.
    tg.inject("sendMessage", "500", times=1, chat_id=501)
    async with running(app):
        story.run(world.staff, proposals.file_proposal, pid)
        await member.user.wait_for("已立案", timeout=15)
        await tg.idle(quiet=0.3)
    texts = [m.text for m in member.user.messages]
    assert sum("已立案" in t for t in texts) == 1
    assert sum("正在等待提案委审查" in t for t in texts) == 1
    with db.read_session() as session:
        assert {
            n.state for n in session.exec(select(Notice).where(Notice.person_id == world.member))
        } == {"sent"}
        assert session.get(Proposal, pid).status == "filed"


async def test_an_update_stored_but_not_handled_before_a_crash_is_handled_on_restart(
    app, tg, db, wf, world
):
    """What a crash leaves behind: an update kept, Telegram told, nothing applied. The next
    start handles it first — once."""
    member = bind(db, wf, tg, world.member, 501, "林晓")
    update = {
        "update_id": 7001,
        **text_message(
            501, "林晓", "/new", entities=[{"type": "bot_command", "offset": 0, "length": 4}]
        ),
    }
    assert inbox.store(db, inbox.key_of(tg.bot_id, 7001), update)
    assert not inbox.store(db, inbox.key_of(tg.bot_id, 7001), update)  # kept once
    async with running(app):
        await member.user.wait_for("标题", timeout=10, since=0)
        await tg.idle(quiet=0.2)
    with db.read_session() as session:
        [row] = session.exec(select(InboundUpdate)).all()
        assert (row.state, row.attempts) == ("done", 1)
        assert session.exec(select(Proposal)).all() == []  # /new asks; the draft comes later
    assert sum("标题" in (m.text or "") for m in member.user.messages) == 1


# ---------------------------------------------------------------- the dispatcher, round by round


@contextlib.asynccontextmanager
async def dispatching(app) -> AsyncIterator[Dispatcher]:
    """The notice dispatcher on the real Telegram channel, a round at a time
    (``dispatch_once``); the channel retries a failed call at once, without the limiter."""
    channel = telegram_channel(app, rate_limit=None, retry_base_seconds=0.01)
    async with channel:
        yield Dispatcher(app, {"telegram": channel.deliver}, unreachable_errors=(Unreachable,))


# A notice three messages long: each paragraph fills most of one.
PARTS = [f"第{n}部分。" + "政协提案办理情况说明" * 300 for n in "一二三"]
LONG_TEXT = "\n".join(PARTS)


def long_notice(db, person_id: int, clock) -> int:
    with db.session() as session:
        notice = Notice(
            person_id=person_id,
            kind="test",
            text=LONG_TEXT,
            actions=[{"label": "查看", "payload": "view:1"}],
            idempotency_key="long",
            not_before=clock(),
        )
        session.add(notice)
        session.flush()
        return notice.id


def notice_row(db, notice_id: int) -> Notice:
    with db.read_session() as session:
        return session.get(Notice, notice_id)


async def test_a_long_notice_that_fails_part_way_goes_on_from_there_when_retried(
    app, tg, db, wf, world, clock
):
    """Three messages long; the second fails on every try the channel makes. What arrived
    is counted in the notice, and the retry sends the second and third: each part arrives
    once, in order, and the buttons come with the last."""
    assert len(LONG_TEXT) > 4096 and split_text(LONG_TEXT) == PARTS
    member = bind(db, wf, tg, world.member, 501, "林晓")
    notice_id = long_notice(db, world.member, clock)
    async with dispatching(app) as dispatcher:
        failing = tg.inject(
            "sendMessage", "500", times=telegram.SEND_ATTEMPTS, after=1, chat_id=501
        )
        assert await dispatcher.dispatch_once() == 1
        assert failing.hits == telegram.SEND_ATTEMPTS
        assert member.user.texts == PARTS[:1]
        notice = notice_row(db, notice_id)
        assert (notice.state, notice.parts_sent) == ("pending", 1)
        assert "NetworkError" in notice.last_error

        clock.now = notice.not_before  # the dispatcher's backoff
        assert await dispatcher.dispatch_once() == 1
        assert await dispatcher.dispatch_once() == 0
    assert member.user.texts == PARTS
    assert [m.buttons for m in member.user.messages] == [[], [], ["查看"]]
    assert notice_row(db, notice_id).state == "sent"


async def test_a_long_notice_cut_off_by_a_crash_goes_on_from_the_part_in_flight(
    app, tg, db, wf, world, clock
):
    """The process dies while the third part is on its way, the first two having arrived:
    once the claim's lease ends, the dispatcher started again sends the third alone."""
    member = bind(db, wf, tg, world.member, 501, "林晓")
    notice_id = long_notice(db, world.member, clock)
    async with dispatching(app) as dispatcher:
        stalled = tg.inject("sendMessage", "timeout", after=2, chat_id=501)
        sending = asyncio.create_task(dispatcher.dispatch_once())
        assert await tg.wait_until(lambda: stalled.hits, 10)
        sending.cancel()  # the process dies here
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    assert member.user.texts == PARTS[:2]
    notice = notice_row(db, notice_id)
    assert (notice.state, notice.parts_sent) == ("sending", 2)

    async with dispatching(app) as restarted:
        assert await restarted.dispatch_once() == 0  # the dead process's claim still runs
        clock.now = notice.not_before
        assert await restarted.dispatch_once() == 1
    assert member.user.texts == PARTS
    assert notice_row(db, notice_id).state == "sent"


async def test_a_notice_turned_away_by_flood_control_waits_as_long_as_telegram_asked(
    app, tg, db, wf, world, clock, monkeypatch
):
    """Telegram answers 429 "retry after 30" and the channel gives up on it (here at the
    first answer): the notice is tried again after exactly those 30 s, not the dispatcher's
    own 5 s, and the next notice into the same chat waits as long instead of provoking
    another 429. Waiting is not a failed attempt."""
    monkeypatch.setattr(telegram, "SEND_ATTEMPTS", 1)
    member = bind(db, wf, tg, world.member, 501, "林晓")
    with db.session() as session:
        for key in ("a", "b"):
            notify(wf.ctx(session, None), [world.member], "test", Text("通知 {k}", k=key), key=key)
    async with dispatching(app) as dispatcher:
        dispatcher.chat_burst, dispatcher.chat_rate = 1, 4.0  # b a quarter second after a
        limited = tg.inject("sendMessage", "429", retry_after=30, chat_id=501)
        assert await dispatcher.dispatch_once() == 2
        assert limited.hits == 1 and member.user.texts == []
        with db.read_session() as session:
            waiting = session.exec(select(Notice).order_by(Notice.id)).all()
        assert [n.state for n in waiting] == ["pending", "pending"]
        assert [n.not_before - clock() for n in waiting] == [timedelta(seconds=30)] * 2
        assert [n.attempts for n in waiting] == [0, 0]
        assert "Flood control exceeded" in waiting[0].last_error

        clock.advance(seconds=29)
        assert await dispatcher.dispatch_once() == 0
        clock.advance(seconds=1)
        assert await dispatcher.dispatch_once() == 2
    assert member.user.texts == ["通知 a", "通知 b"]  # in the order written
    assert len(tg.calls("sendMessage")) == 3  # the one refused, then each once


async def test_a_flood_control_wait_holds_back_every_bot_process(
    app, tg, db, wf, world, clock, monkeypatch
):
    """Two bot processes share the outbox. The first sends the member a notice and Telegram
    answers 429 "retry after 30": the second, which never heard that answer, does not send
    the member's next notice into the same chat before the 30 s are over either."""
    monkeypatch.setattr(telegram, "SEND_ATTEMPTS", 1)
    member = bind(db, wf, tg, world.member, 501, "林晓")
    with db.session() as session:
        for key in ("a", "b"):
            notify(wf.ctx(session, None), [world.member], "test", Text("通知 {k}", k=key), key=key)
    async with dispatching(app) as first, dispatching(app) as second:
        first.batch = 1  # it claims "a" only; "b" is left for whoever looks next
        tg.inject("sendMessage", "429", retry_after=30, chat_id=501)
        assert await first.dispatch_once() == 1
        assert await second.dispatch_once() == 0
        with db.read_session() as session:
            waiting = session.exec(select(Notice).order_by(Notice.id)).all()
        assert [n.not_before - clock() for n in waiting] == [timedelta(seconds=30)] * 2
        clock.advance(seconds=30)
        assert await second.dispatch_once() == 2
    assert member.user.texts == ["通知 a", "通知 b"]
