"""The outbox dispatcher on its own: who gets what through which channel, once; quiet hours;
retries and failure; pacing into one chat; and two dispatchers sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.dispatcher import Dispatcher, Unreachable, in_quiet_hours
from bot.outbox import claim_for_person
from storage.models import ChannelAccount, Notice
from tests.conftest import requires_postgres
from workflow.core import notify
from workflow.invites import bind_account
from workflow.reach import Mending, mark_reachable, park_and_release, to_mend
from workflow.texts import Text


class Recorder:
    """A channel that records what it was asked to deliver."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail or {}
        self.lock = threading.Lock()

    async def __call__(self, external_id: str, text: str, actions: list[dict], **_) -> None:
        error = self.fail.get(external_id)
        if error is not None:
            raise error
        with self.lock:
            self.sent.append((external_id, text))


def bind_all(db, wf, people: list[int], channel: str = "telegram") -> None:
    with db.session() as session:
        for person in people:
            bind_account(wf.ctx(session, None), person, channel, f"tg-{person}")


def write(db, wf, people: list[int], key: str, *, urgent: bool = False) -> None:
    with db.session() as session:
        notify(
            wf.ctx(session, None),
            people,
            "test",
            Text("测试通知 {key}", key=key),
            key=key,
            urgent=urgent,
        )


@contextlib.contextmanager
def write_sessions(db) -> Iterator[list[int]]:
    """Counts the write sessions opened (``db.session()``) while the block runs."""
    writes: list[int] = []
    session = db.session
    db.session = lambda *a, **k: writes.append(1) or session(*a, **k)
    try:
        yield writes
    finally:
        db.session = session


def states(db) -> dict[int, str]:
    with db.read_session() as session:
        return {n.id: n.state for n in session.exec(select(Notice))}


async def test_each_notice_goes_once_to_the_recipients_channel(app, db, wf, world):
    bind_all(db, wf, [world.member, world.staff])
    write(db, wf, [world.member, world.staff, world.leader], "a")  # the leader is not bound
    channel = Recorder()
    dispatcher = Dispatcher(app, {"telegram": channel})
    assert await dispatcher.dispatch_once() == 2
    assert await dispatcher.dispatch_once() == 0
    assert sorted(channel.sent) == [
        (f"tg-{world.member}", "测试通知 a"),
        (f"tg-{world.staff}", "测试通知 a"),
    ]
    assert sorted(states(db).values()) == ["pending", "sent", "sent"]  # the leader's waits


async def test_a_wake_with_nothing_due_takes_no_write_transaction(app, db, wf, world, clock):
    """The dispatcher wakes after every handled update; when nothing is due it only reads."""
    bind_all(db, wf, [world.member])
    dispatcher = Dispatcher(app, {"telegram": Recorder()})
    with write_sessions(db) as writes:
        assert await dispatcher.dispatch_once() == 0  # an empty outbox
        write(db, wf, [world.member], "later")
        with db.session() as s:
            for notice in s.exec(select(Notice)):
                notice.not_before = clock() + timedelta(hours=1)
        writes.clear()
        assert await dispatcher.dispatch_once() == 0  # one waiting, not due yet
        assert writes == []
        clock.advance(hours=1)
        assert await dispatcher.dispatch_once() == 1  # due now: claimed and sent
        assert writes


async def test_a_wake_while_a_round_is_sending_is_not_lost(app, db, wf, world):
    """A notice committed while the dispatcher is busy sending (after its claim read) goes
    out as soon as that round ends, not on the next interval."""
    bind_all(db, wf, [world.member, world.staff])
    sending = asyncio.Event()
    release = asyncio.Event()
    sent_at: dict[str, float] = {}

    async def slow_channel(external_id: str, text: str, actions: list[dict], **_) -> None:
        if text.endswith("a"):
            sending.set()
            await release.wait()
        sent_at[text] = asyncio.get_running_loop().time()

    dispatcher = Dispatcher(app, {"telegram": slow_channel}, interval=30.0)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        write(db, wf, [world.member], "a")
        dispatcher.wake()
        await asyncio.wait_for(sending.wait(), 5)
        write(db, wf, [world.staff], "b")  # committed after the round's claim read
        dispatcher.wake()
        await asyncio.sleep(0.05)
        release.set()
        start = asyncio.get_running_loop().time()
        while "测试通知 b" not in sent_at:
            assert asyncio.get_running_loop().time() - start < 5, "the wake was lost"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    assert sent_at["测试通知 b"] >= sent_at["测试通知 a"]


async def test_quiet_hours_hold_back_all_but_urgent_notices(app, db, wf, world, clock):
    bind_all(db, wf, [world.member])
    clock.set_local(2026, 9, 14, 22, 30)
    assert in_quiet_hours(wf.rules, clock())
    write(db, wf, [world.member], "ordinary")
    write(db, wf, [world.member], "urgent", urgent=True)
    channel = Recorder()
    dispatcher = Dispatcher(app, {"telegram": channel})
    await dispatcher.dispatch_once()
    assert [text for _, text in channel.sent] == ["测试通知 urgent"]
    clock.set_local(2026, 9, 15, 7, 59)
    assert await dispatcher.dispatch_once() == 0
    clock.set_local(2026, 9, 15, 8, 0)
    assert not in_quiet_hours(wf.rules, clock())
    await dispatcher.dispatch_once()
    assert [text for _, text in channel.sent] == ["测试通知 urgent", "测试通知 ordinary"]


def test_quiet_hours_may_span_midnight_or_not(wf):
    import dataclasses

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 9, 14, hour, minute, tzinfo=wf.rules.tz)

    rules = wf.rules
    assert [in_quiet_hours(rules, at(h)) for h in (20, 21, 23, 0, 7, 8, 12)] == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    lunch = dataclasses.replace(rules, quiet_hours_start="12:00", quiet_hours_end="13:30")
    assert [in_quiet_hours(lunch, at(*t)) for t in ((11, 59), (12, 0), (13, 29), (13, 30))] == [
        False,
        True,
        True,
        False,
    ]
    never = dataclasses.replace(rules, quiet_hours_start="00:00", quiet_hours_end="00:00")
    assert not any(in_quiet_hours(never, at(h)) for h in range(24))


async def test_a_transient_failure_is_retried_with_backoff_then_marked_failed(
    app, db, wf, world, clock
):
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "x")
    channel = Recorder(fail={f"tg-{world.member}": ConnectionError("connection reset")})
    dispatcher = Dispatcher(app, {"telegram": channel}, max_attempts=3)
    waits = []
    for _ in range(3):
        assert await dispatcher.dispatch_once() == 1
        assert await dispatcher.dispatch_once() == 0  # not before the backoff
        with db.read_session() as session:
            notice = session.exec(select(Notice)).one()
        waits.append(notice.not_before - clock())
        clock.now = notice.not_before
    assert notice.state == "failed" and notice.attempts == 3
    assert "ConnectionError: connection reset" in notice.last_error
    assert waits[0] == timedelta(seconds=5) and waits[1] == timedelta(seconds=10)


async def test_a_blocked_person_fails_once_and_the_others_still_get_theirs(app, db, wf, world):
    bind_all(db, wf, [world.member, world.cosigner, world.staff])
    write(db, wf, [world.member, world.cosigner], "y")
    channel = Recorder(fail={f"tg-{world.member}": Unreachable("blocked")})
    dispatcher = Dispatcher(app, {"telegram": channel})
    await dispatcher.dispatch_once()
    assert [who for who, _ in channel.sent] == [f"tg-{world.cosigner}"]
    with db.read_session() as session:
        failed = session.exec(select(Notice).where(Notice.state == "failed")).one()
        reports = session.exec(select(Notice).where(Notice.kind == "unreachable")).all()
    assert failed.person_id == world.member and "unreachable on telegram" in failed.last_error
    assert {r.person_id for r in reports} == {world.staff, world.staff2}
    await dispatcher.dispatch_once()  # the report goes to the bound staff member
    assert channel.sent[-1][0] == f"tg-{world.staff}" and "林晓" in channel.sent[-1][1]


async def test_a_crash_while_sending_resends_only_what_was_in_flight(app, db, wf, world, clock):
    bind_all(db, wf, [world.member, world.cosigner])
    write(db, wf, [world.member, world.cosigner], "z")
    dispatcher = Dispatcher(app, {"telegram": Recorder()})
    claimed = dispatcher.claim()  # ... and the process dies before settling
    assert len(claimed) == 2 and set(states(db).values()) == {"sending"}
    channel = Recorder()
    restarted = Dispatcher(app, {"telegram": channel})
    assert await restarted.dispatch_once() == 0  # the lease still runs
    clock.advance(seconds=61)
    assert await restarted.dispatch_once() == 2
    assert len(channel.sent) == 2 and set(states(db).values()) == {"sent"}


async def test_notices_into_one_chat_are_paced(app, db, wf, world):
    bind_all(db, wf, [world.member])
    for n in range(5):
        write(db, wf, [world.member], f"p{n}")
    times = []

    async def channel(external_id, text, actions, **_):
        times.append(asyncio.get_running_loop().time())

    dispatcher = Dispatcher(app, {"telegram": channel}, chat_rate=20.0, chat_burst=2)
    await dispatcher.dispatch_once()
    assert len(times) == 5
    assert times[1] - times[0] < 0.03  # the burst
    # Then the bucket's own rule, which holds however the loop is delayed (a stall lets
    # tokens build up again, so two sends may follow each other closely after one): any
    # k + 1 sends in a row span at least (k + 1 - burst) / rate seconds.
    for i in range(5):
        for j in range(i + 2, 5):
            assert times[j] - times[i] >= (j - i + 1 - 2) / 20.0 - 0.002, (i, j, times)


async def test_a_chats_notices_arrive_in_the_order_they_were_written(app, db, wf, world):
    """Three notices into one chat, the first the slowest to send (a long text, a slow
    connection): the member still reads them in the order they were written, while another
    member's chat is served beside them."""
    bind_all(db, wf, [world.member, world.cosigner])
    for key in ("first", "second", "third"):
        write(db, wf, [world.member], key)
    write(db, wf, [world.cosigner], "other")
    arrived: list[tuple[str, str]] = []
    delays = {"first": 0.06, "second": 0.03, "third": 0.0, "other": 0.0}

    async def channel(external_id, text, actions, **_):
        key = text.removeprefix("测试通知 ")
        await asyncio.sleep(delays[key])
        arrived.append((external_id, key))

    dispatcher = Dispatcher(app, {"telegram": channel}, chat_rate=100.0, chat_burst=5)
    assert await dispatcher.dispatch_once() == 4
    mine = [key for chat, key in arrived if chat == f"tg-{world.member}"]
    assert mine == ["first", "second", "third"]
    assert arrived[0] == (f"tg-{world.cosigner}", "other")  # not held up behind them


async def test_each_part_of_a_long_notice_keeps_the_chats_pace(app, db, wf, world):
    """A notice sent as three messages is three messages into the chat: after the burst,
    each part waits its turn like a notice of its own (Telegram limits messages a chat)."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "long")
    times: list[float] = []

    async def channel(external_id, text, actions, *, parts_sent, progress):
        for part in range(parts_sent, 3):
            times.append(asyncio.get_running_loop().time())
            if part < 2:
                await progress(part + 1)

    dispatcher = Dispatcher(app, {"telegram": channel}, chat_rate=10.0, chat_burst=1)
    assert await dispatcher.dispatch_once() == 1
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1 - 0.002 and times[2] - times[1] >= 0.1 - 0.002, times


async def test_each_part_of_a_long_notice_is_kept_and_renews_the_claim(app, db, wf, world, clock):
    """A channel that sends a notice as several messages reports each but the last: the
    count is committed at once, and the claim lasts a lease from then. Once the notice was
    settled elsewhere (another dispatcher took it after a lease ran out), no further part
    is sent from here, and what the other settled is left as it is."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "long")
    sent: list[int] = []
    kept: list[tuple[int, timedelta]] = []

    async def channel(external_id, text, actions, *, parts_sent, progress):
        for part in range(parts_sent, 3):
            sent.append(part)
            if part == 2:
                return  # the last part: the notice is settled sent
            clock.advance(seconds=50)
            await progress(part + 1)
            with db.read_session() as session:
                notice = session.exec(select(Notice)).one()
            kept.append((notice.parts_sent, notice.not_before - clock()))
            if part == 0:  # meanwhile another dispatcher delivered it and settled it
                notice.state = "sent"
                with db.session() as session:
                    session.merge(notice)

    dispatcher = Dispatcher(app, {"telegram": channel})
    assert await dispatcher.dispatch_once() == 1
    assert sent == [0, 1]  # the third part is not sent
    assert kept == [(1, timedelta(seconds=60))]
    with db.read_session() as session:
        notice = session.exec(select(Notice)).one()
    assert (notice.state, notice.parts_sent) == ("sent", 1)


async def test_a_send_that_outlasts_the_lease_keeps_its_claim(app, db, wf, world, clock):
    """A send can wait long inside the channel (Telegram's flood control is waited out
    within the call): while it does, the claim is renewed, so a second dispatcher never
    takes the notice and sends it too."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "slow")
    lease = timedelta(milliseconds=300)
    other = Dispatcher(app, {"telegram": Recorder()}, lease=lease)
    taken_meanwhile: list[int] = []

    async def channel(external_id, text, actions, *, parts_sent, progress):
        for _ in range(4):  # twice the lease in all
            clock.advance(seconds=0.15)
            await asyncio.sleep(0.25)  # the dispatcher's own time to renew (every 0.1 s)
            taken_meanwhile.extend(c.notice_id for c in await asyncio.to_thread(other.claim))

    dispatcher = Dispatcher(app, {"telegram": channel}, lease=lease)
    assert await dispatcher.dispatch_once() == 1
    assert taken_meanwhile == []
    with db.read_session() as session:
        notice = session.exec(select(Notice)).one()
    assert (notice.state, notice.attempts) == ("sent", 1)


async def test_a_notice_another_channel_takes_over_begins_at_its_first_part(app, db, wf, world):
    """Two parts of a long notice reached the member on Telegram, then Telegram found the
    bot blocked: the notice goes by the member's other account, whole."""
    bind_all(db, wf, [world.member])
    bind_all(db, wf, [world.member], channel="wechat")
    write(db, wf, [world.member], "long")
    with db.session() as session:
        for notice in session.exec(select(Notice)):
            notice.parts_sent = 2
            session.add(notice)
    begun: list[tuple[str, int]] = []

    async def telegram(external_id, text, actions, *, parts_sent, progress):
        begun.append(("telegram", parts_sent))
        raise Unreachable("blocked")

    async def wechat(external_id, text, actions, *, parts_sent, progress):
        begun.append(("wechat", parts_sent))

    dispatcher = Dispatcher(app, {"telegram": telegram, "wechat": wechat})
    await dispatcher.dispatch_once()
    await dispatcher.dispatch_once()
    assert begun == [("telegram", 2), ("wechat", 0)]


# ---------------------------------------------------------------- parked notices


async def test_notices_for_someone_no_account_reaches_are_parked_until_they_bind(
    app, db, wf, world
):
    """The leader has bound no account: the dispatcher's first round parks their notices
    (its claims no longer read them); the moment they bind, they are due again and go out
    in the next round, in order."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member, world.leader], "a")
    write(db, wf, [world.leader], "b")
    channel = Recorder()
    dispatcher = Dispatcher(app, {"telegram": channel})
    assert dispatcher.park() == (2, 0)
    assert dispatcher.park() == (0, 0)  # nothing more to do
    assert await dispatcher.dispatch_once() == 1
    assert sorted(states(db).values()) == ["parked", "parked", "sent"]

    bind_all(db, wf, [world.leader])  # their parked notices are released as they bind
    assert sorted(states(db).values()) == ["pending", "pending", "sent"]
    assert await dispatcher.dispatch_once() == 2
    assert channel.sent[1:] == [(f"tg-{world.leader}", "测试通知 a"), (f"tg-{world.leader}", "测试通知 b")]  # fmt: skip


async def test_a_blocked_person_s_later_notices_are_parked_until_they_write_again(
    app, db, wf, world
):
    """The member blocked the bot: the notice that found out fails (staff are told), the
    ones written after are parked; when the member writes again they go out."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "before")
    dispatcher = Dispatcher(
        app, {"telegram": Recorder(fail={f"tg-{world.member}": Unreachable("blocked")})}
    )
    await dispatcher.dispatch_once()
    write(db, wf, [world.member], "after")
    dispatcher.park()
    with db.read_session() as session:
        mine = {
            n.text: n.state
            for n in session.exec(select(Notice).where(Notice.person_id == world.member))
        }
    assert mine == {"测试通知 before": "failed", "测试通知 after": "parked"}

    with db.session() as session:  # the member writes to the bot again
        mark_reachable(wf.ctx(session, None), "telegram", f"tg-{world.member}")
    channel = Recorder()
    assert await Dispatcher(app, {"telegram": channel}).dispatch_once() == 1
    assert channel.sent == [(f"tg-{world.member}", "测试通知 after")]


async def test_a_blocked_person_s_other_notices_of_the_round_are_parked_not_lost(
    app, db, wf, world
):
    """Three notices wait for the member, who blocked the bot: the first sent finds out and
    fails (staff are told once); the other two are not sent into the block but parked, and
    go out when the member writes again."""
    bind_all(db, wf, [world.member, world.staff])
    for n in range(3):
        write(db, wf, [world.member], f"n{n}")
    blocked = Recorder(fail={f"tg-{world.member}": Unreachable("blocked")})
    await Dispatcher(app, {"telegram": blocked}, chat_burst=1).dispatch_once()
    with db.read_session() as session:
        mine = {
            n.text: n.state
            for n in session.exec(
                select(Notice).where(Notice.person_id == world.member, Notice.kind == "test")
            )
        }
        told = session.exec(select(Notice).where(Notice.kind == "unreachable")).all()
    assert mine == {"测试通知 n0": "failed", "测试通知 n1": "parked", "测试通知 n2": "parked"}
    assert sorted(n.person_id for n in told) == [world.staff, world.staff2]  # once each

    with db.session() as session:  # the member writes to the bot again
        mark_reachable(wf.ctx(session, None), "telegram", f"tg-{world.member}")
    channel = Recorder()
    await Dispatcher(app, {"telegram": channel}).dispatch_once()
    mine_sent = [text for who, text in channel.sent if who == f"tg-{world.member}"]
    assert sorted(mine_sent) == ["测试通知 n1", "测试通知 n2"]


async def test_a_notice_whose_claim_ran_out_while_paced_is_sent_once(app, db, wf, world):
    """Six notices into one chat, paced one a second after a burst of three, while the
    claim lasts two seconds (the clock runs thirty times faster than the pace): the ones
    the pace would send as the claim ends are left, a second dispatcher claims them after
    it, and each goes out once."""
    bind_all(db, wf, [world.member])
    for n in range(6):
        write(db, wf, [world.member], f"q{n}")
    start, began = wf.clock(), time.monotonic()
    wf.clock = lambda: start + timedelta(seconds=(time.monotonic() - began) * 30)
    sent: list[str] = []

    async def channel(external_id: str, text: str, actions: list[dict], **_) -> None:
        sent.append(text)

    first = Dispatcher(app, {"telegram": channel}, chat_rate=1.0, chat_burst=3)
    second = Dispatcher(app, {"telegram": channel}, chat_rate=1.0, chat_burst=3)

    async def rounds() -> None:
        for _ in range(40):
            await asyncio.sleep(0.2)
            await second.dispatch_once()
            if len(set(sent)) == 6:
                return

    await asyncio.gather(first.dispatch_once(), rounds())
    assert sorted(sent) == [f"测试通知 q{n}" for n in range(6)]  # each once


async def test_a_notice_parked_by_a_race_is_released_by_the_next_round(app, db, wf, world):
    """Parking in one process and binding in another can cross: a notice parked for a
    person who can be reached is released by the next round of parking, and sent."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.member], "crossed")
    with db.session() as session:
        for notice in session.exec(select(Notice)):
            notice.state = "parked"
            session.add(notice)
    channel = Recorder()
    dispatcher = Dispatcher(app, {"telegram": channel})
    assert await dispatcher.dispatch_once() == 0
    assert dispatcher.park() == (0, 1)
    assert await dispatcher.dispatch_once() == 1 and channel.sent


async def test_a_round_of_parking_with_nothing_to_do_takes_no_write_transaction(
    app, db, wf, world
):
    """Once the notices of people no account reaches are parked, the rounds after (every
    minute) only read, and so hold up no update waiting to write; a new notice for them,
    or a person reachable again, is the next round's work."""
    bind_all(db, wf, [world.member])
    write(db, wf, [world.leader, world.staff], "a")
    dispatcher = Dispatcher(app, {"telegram": Recorder()})
    assert dispatcher.park() == (2, 0)
    with write_sessions(db) as writes:
        assert dispatcher.park() == (0, 0)
        assert writes == []  # nothing to do: read only
        write(db, wf, [world.leader], "b")
        writes.clear()
        assert dispatcher.park() == (1, 0)
        assert writes  # the new notice is parked
        with db.session() as s:  # an account reaches the leader, but nothing released them
            s.add(ChannelAccount(person_id=world.leader, channel="telegram", external_id="tg-9"))
        writes.clear()
        assert dispatcher.park() == (0, 2)
        assert writes
    assert sorted(states(db).values()) == ["parked", "pending", "pending"]


def test_what_a_round_of_parking_would_change_is_read_per_reachable_person(db, wf, world):
    """``to_mend`` says whether any pending notice waits for someone no account reaches,
    and who, reachable, has notices parked: each once, whatever the number of notices."""
    bind_all(db, wf, [world.member, world.cosigner])
    write(db, wf, [world.member, world.leader], "a")
    write(db, wf, [world.member], "b")
    with db.read_session() as session:
        assert to_mend(session) == Mending(park=True, release=())
    with db.session() as session:
        park_and_release(session)
        for notice in session.exec(select(Notice).where(Notice.person_id == world.member)):
            notice.state = "parked"  # as a race between two processes may leave them
            session.add(notice)
    with db.read_session() as session:
        assert to_mend(session) == Mending(park=False, release=(world.member,))
    with db.session() as session:
        assert park_and_release(session) == (0, 2)
    with db.read_session() as session:
        assert not to_mend(session)


async def test_the_running_dispatcher_parks_at_start_and_every_park_every_seconds(
    app, db, wf, world
):
    write(db, wf, [world.leader], "first")
    dispatcher = Dispatcher(app, {"telegram": Recorder()}, interval=0.01, park_every=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        for _ in range(100):
            if set(states(db).values()) == {"parked"}:
                break
            await asyncio.sleep(0.01)
        assert set(states(db).values()) == {"parked"}  # at start
        write(db, wf, [world.leader], "second")
        for _ in range(200):
            if list(states(db).values()) == ["parked", "parked"]:
                break
            await asyncio.sleep(0.01)
        assert list(states(db).values()) == ["parked", "parked"]  # a later round
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)


def test_the_console_shows_a_person_their_parked_notices(db, wf, world, clock):
    """The console reaches a person with no chat account: their parked notices show there."""
    write(db, wf, [world.leader], "c")
    with db.session() as session:
        park_and_release(session)
    with db.session() as session:
        shown = claim_for_person(session, world.leader, clock())
        assert [n.text for n in shown] == ["测试通知 c"]
    assert set(states(db).values()) == {"sent"}


@requires_postgres
async def test_two_dispatchers_never_send_the_same_notice(app, db, wf, world):
    import dataclasses

    people = [world.member, world.cosigner, world.cosigner2, world.outsider, world.staff]
    bind_all(db, wf, people)
    for n in range(60):
        write(db, wf, people, f"k{n}")  # 300 notices
    first, second = Recorder(), Recorder()
    a = Dispatcher(app, {"telegram": first}, batch=7, chat_rate=1e6, chat_burst=1000)
    b = dataclasses.replace(a, channels={"telegram": second})

    async def drain(dispatcher):
        while await dispatcher.dispatch_once():
            pass

    await asyncio.gather(drain(a), drain(b))
    assert len(first.sent) + len(second.sent) == 300
    assert first.sent and second.sent  # both took part
    assert not set(first.sent) & set(second.sent)
    assert set(states(db).values()) == {"sent"}


def test_the_clock_of_the_dispatcher_is_the_workflows(app, clock):
    clock.now = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)
    assert Dispatcher(app, {}).now() == clock.now
