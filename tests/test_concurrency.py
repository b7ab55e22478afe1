"""Two people acting on the same record at the same moment.

Every test runs real threads, each with its own database session (its own connection), on
whichever engine the ``db`` fixture provides: SQLite, where ``BEGIN IMMEDIATE`` queues the
writers, or PostgreSQL (``PROPOSALBOT_TEST_DATABASE_URL``), where ``SELECT ... FOR UPDATE``
and the year counter's row lock do. The first transaction to get through is held open while
the other one starts; on PostgreSQL the test watches the other session wait on the first
one's lock (``pg_blocking_pids``) before letting the first commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import event, text
from sqlmodel import col, func, select

import storage.db
from storage.clock import as_utc
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Assignment, AuditEvent, Notice, Person, Proposal, YearCounter
from tests.conftest import requires_postgres
from tests.factories import Story
from workflow import assignments, proposals
from workflow.core import lock_proposal
from workflow.errors import AlreadyHandled

HOLD = 0.2  # seconds the first transaction stays open after its change (SQLite)
WAIT_LIMIT = 10.0  # no step of a test may take longer than this


class PowerCut(Exception):
    """Something that goes wrong after the service call, inside the same transaction."""


@dataclass
class Attempt:
    """One person's try at a service call, in a session of its own."""

    actor: int | None
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    fail_after: bool = False  # raise PowerCut after the call, before the commit

    result: Any = None
    error: BaseException | None = None
    pid: int | None = None  # PostgreSQL backend of the session
    started: float | None = None
    returned: float | None = None  # the service call came back (holding its locks)
    released: float | None = None  # just before the commit / rollback
    finished: float | None = None
    seen_blocked: set[int] = field(default_factory=set)  # attempts seen waiting on our lock

    @property
    def won(self) -> bool:
        return self.error is None and self.returned is not None


def _backend_pid(session) -> int:
    return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def _hold_open(db, me: int, attempts: list[Attempt]) -> None:
    """Keep the transaction of ``attempts[me]`` open while the others run into it.

    PostgreSQL: wait until every other attempt still inside its service call is seen
    waiting on this session's lock. SQLite has no such view: hold for ``HOLD`` seconds.
    """
    mine = attempts[me]
    if not db.is_postgres:
        time.sleep(HOLD)
        return
    deadline = time.monotonic() + WAIT_LIMIT
    with db.engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = [
                i
                for i, other in enumerate(attempts)
                if i != me and other.returned is None and other.finished is None
            ]
            for i in waiting:
                other_pid = attempts[i].pid
                if (
                    other_pid is not None
                    and watcher.execute(
                        text("SELECT CAST(:me AS integer) = ANY(pg_blocking_pids(:other))"),
                        {"me": mine.pid, "other": other_pid},
                    ).scalar_one()
                ):
                    mine.seen_blocked.add(i)
            if all(i in mine.seen_blocked for i in waiting):
                return
            time.sleep(0.005)


def contend(db, wf, attempts: list[Attempt], *, ordered: bool = False) -> list[Attempt]:
    """Run the attempts at the same moment, each in its own thread and session.

    ``ordered``: the first attempt goes alone; the others start once its change is made
    (and its transaction still open). Otherwise a barrier releases all of them together.
    """
    barrier = threading.Barrier(len(attempts), timeout=WAIT_LIMIT)
    first_holds = threading.Event()

    def run(index: int) -> None:
        attempt = attempts[index]
        try:
            with db.session() as session:
                if db.is_postgres:
                    attempt.pid = _backend_pid(session)
                barrier.wait()
                if ordered and index > 0:
                    assert first_holds.wait(WAIT_LIMIT), "the first attempt never got through"
                attempt.started = time.monotonic()
                ctx = wf.ctx(session, attempt.actor)
                attempt.result = attempt.fn(ctx, *attempt.args, **attempt.kwargs)
                attempt.returned = time.monotonic()
                if index == 0:
                    first_holds.set()
                _hold_open(db, index, attempts)
                attempt.released = time.monotonic()
                if attempt.fail_after:
                    raise PowerCut("断电")
        except BaseException as exc:  # every outcome is asserted on
            attempt.error = exc
        finally:
            attempt.finished = time.monotonic()
            if index == 0:
                first_holds.set()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_LIMIT * 2)
    assert not any(t.is_alive() for t in threads), "a session hung"
    return attempts


def one_winner(attempts: list[Attempt]) -> tuple[Attempt, list[Attempt]]:
    winners = [a for a in attempts if a.won]
    assert len(winners) == 1, [repr(a.error) for a in attempts]
    return winners[0], [a for a in attempts if a is not winners[0]]


def name_of(db, person_id: int | None) -> str:
    if person_id is None:
        return "系统"
    with db.read_session() as session:
        return session.get(Person, person_id).name


def assert_lost_to(db, clock, loser: Attempt, winner: Attempt, attempts: list[Attempt]) -> None:
    """The loser waited for the winner, then was told who handled it and when."""
    assert isinstance(loser.error, AlreadyHandled), repr(loser.error)
    winner_name = name_of(db, winner.actor)
    assert loser.error.by == winner_name
    assert loser.error.at is not None and as_utc(loser.error.at) == clock.now
    assert winner_name in str(loser.error)
    # It could not finish before the winner let go of its transaction ...
    assert loser.finished >= winner.released
    # ... and on PostgreSQL it was seen waiting on the winner's lock.
    if db.is_postgres:
        assert attempts.index(loser) in winner.seen_blocked


def audit_count(db, action: str, **where) -> int:
    with db.read_session() as session:
        stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, column) == value)
        return session.exec(stmt).one()


def last_number(db, year: int = 2026) -> int:
    with db.read_session() as session:
        counter = session.get(YearCounter, year)
        return counter.last_number if counter else 0


def get_proposal(db, proposal_id: int) -> Proposal:
    with db.read_session() as session:
        return session.get(Proposal, proposal_id)


# ---------------------------------------------------------------- filing the same proposal


def test_a_proposal_is_locked_once_a_transaction_and_again_in_a_savepoint(db, wf, world):
    """A step that reads its draft and then changes it locks the row once: the second lock
    in the same transaction is the proposal already loaded. A savepoint locks anew (rolling
    it back may release what it locked); a new transaction too."""
    pid = Story(db, wf, world).draft()
    selects: list[str] = []

    def watch(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM proposal" in statement:
            selects.append(statement)

    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        with db.session() as session:
            ctx = wf.ctx(session, world.member)
            first = lock_proposal(ctx, pid)
            assert lock_proposal(ctx, pid) is first and len(selects) == 1
            proposals.update_draft(ctx, pid, title="关于改善城区小学放学时段交通秩序的提案建议")
            assert len(selects) == 1  # the workflow's own lock read nothing again
            with session.begin_nested():
                assert lock_proposal(ctx, pid) is first and len(selects) == 2
            assert first.title.endswith("提案建议")
        with db.session() as session:
            ctx = wf.ctx(session, world.member)
            session.commit()
            lock_proposal(ctx, pid)  # the transaction's first statement
            assert len(selects) == 3
            session.commit()
            lock_proposal(ctx, pid)  # a new transaction's first statement again: read again
            assert len(selects) == 4
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)


@pytest.mark.parametrize("ordered", [False, True], ids=["together", "second-starts-while-held"])
def test_two_staff_filing_the_same_proposal_at_once_one_files_the_other_is_told_who(
    db, wf, world, clock, ordered
):
    """One filing wins and takes number 1; the other waits, then hears who filed it and
    when. Only one number is used and the proposer is told once."""
    pid = Story(db, wf, world).submitted(cosigners=[world.cosigner])
    attempts = contend(
        db,
        wf,
        [
            Attempt(world.staff, proposals.file_proposal, (pid,)),
            Attempt(world.staff2, proposals.file_proposal, (pid,)),
        ],
        ordered=ordered,
    )
    winner, [loser] = one_winner(attempts)
    if ordered:
        assert winner is attempts[0]
    assert_lost_to(db, clock, loser, winner, attempts)

    proposal = get_proposal(db, pid)
    assert proposal.status == "filed" and proposal.number == 1
    assert proposal.reviewed_by == winner.actor
    assert last_number(db) == 1
    assert audit_count(db, "file", proposal_id=pid) == 1
    with db.read_session() as session:
        told = session.exec(
            select(Notice.person_id).where(Notice.kind == "filed", Notice.proposal_id == pid)
        ).all()
    assert sorted(told) == sorted([world.member, world.cosigner])


def test_forty_proposals_filed_by_eight_concurrent_sessions_are_numbered_1_to_40(db, wf, world):
    """Numbers never repeat and never skip, however the filings interleave."""
    story = Story(db, wf, world)
    pids = [story.submitted(title=f"关于第{i}件民生实事的建议") for i in range(40)]
    todo = list(pids)
    todo_lock = threading.Lock()
    barrier = threading.Barrier(8, timeout=WAIT_LIMIT)
    taken: list[int] = []
    errors: list[BaseException] = []

    def staff_desk(staff_id: int) -> None:
        try:
            barrier.wait()
            while True:
                with todo_lock:
                    if not todo:
                        return
                    pid = todo.pop()
                with db.session() as session:
                    filed = proposals.file_proposal(wf.ctx(session, staff_id), pid)
                    time.sleep(0.002)  # keep the counter locked while others queue up
                taken.append(filed.number)
        except BaseException as exc:  # asserted on below
            errors.append(exc)

    desks = [
        threading.Thread(target=staff_desk, args=(sid,), daemon=True)
        for sid in [world.staff, world.staff2] * 4
    ]
    for desk in desks:
        desk.start()
    for desk in desks:
        desk.join(WAIT_LIMIT * 3)
    assert not any(d.is_alive() for d in desks), "a filing session hung"
    assert errors == []

    assert sorted(taken) == list(range(1, 41))
    with db.read_session() as session:
        stored = session.exec(select(Proposal.number).where(col(Proposal.id).in_(pids))).all()
    assert sorted(stored) == list(range(1, 41))
    assert last_number(db) == 40


# ---------------------------------------------------------------- a filing that fails


def test_a_filing_that_fails_after_taking_a_number_gives_the_number_back(db, wf, world):
    """The number goes back with the rollback: the next filing gets the same number and
    the failed proposal is still waiting for review, unnumbered."""
    story = Story(db, wf, world)
    first, second = story.submitted(), story.submitted(title="关于增设社区老年食堂的建议")

    with pytest.raises(PowerCut), db.session() as session:
        filed = proposals.file_proposal(wf.ctx(session, world.staff), first)
        assert filed.number == 1
        raise PowerCut("断电")

    assert get_proposal(db, first).status == "submitted"
    assert get_proposal(db, first).number is None
    assert last_number(db) == 0
    assert story.run(world.staff, proposals.file_proposal, second).number == 1
    assert story.run(world.staff, proposals.file_proposal, first).number == 2


def file_and_tell_number(ctx, proposal_id: int) -> int:
    return proposals.file_proposal(ctx, proposal_id).number


def test_a_filing_waiting_behind_one_that_fails_gets_the_number_it_gave_back(db, wf, world, clock):
    """The first filing of the year takes No. 1 and fails while another filing waits on it;
    the waiting one then gets No. 1, not No. 2."""
    story = Story(db, wf, world)
    doomed, other = story.submitted(), story.submitted(title="关于增设社区老年食堂的建议")
    attempts = contend(
        db,
        wf,
        [
            Attempt(world.staff, file_and_tell_number, (doomed,), fail_after=True),
            Attempt(world.staff2, file_and_tell_number, (other,)),
        ],
        ordered=True,
    )
    failed, waited = attempts
    assert failed.result == 1 and isinstance(failed.error, PowerCut)
    assert waited.error is None, repr(waited.error)
    assert waited.result == 1
    assert waited.finished >= failed.released
    if db.is_postgres:
        assert 1 in failed.seen_blocked
    assert get_proposal(db, doomed).number is None
    assert get_proposal(db, other).number == 1
    assert last_number(db) == 1


def test_concurrent_filings_where_some_fail_midway_leave_no_gaps(db, wf, world):
    """Of 24 filings by 6 sessions, every third fails after taking its number; the ones
    that succeed are numbered 1..16, and the failed ones, filed again, get 17..24."""
    story = Story(db, wf, world)
    pids = [story.submitted(title=f"关于第{i}件民生实事的建议") for i in range(24)]
    doomed = set(pids[::3])
    todo = list(pids)
    todo_lock = threading.Lock()
    barrier = threading.Barrier(6, timeout=WAIT_LIMIT)
    taken: list[int] = []
    errors: list[BaseException] = []

    def staff_desk(staff_id: int) -> None:
        try:
            barrier.wait()
            while True:
                with todo_lock:
                    if not todo:
                        return
                    pid = todo.pop()
                try:
                    with db.session() as session:
                        filed = proposals.file_proposal(wf.ctx(session, staff_id), pid)
                        time.sleep(0.002)
                        if pid in doomed:
                            raise PowerCut("断电")
                    taken.append(filed.number)
                except PowerCut:
                    pass
        except BaseException as exc:  # asserted on below
            errors.append(exc)

    desks = [
        threading.Thread(target=staff_desk, args=(sid,), daemon=True)
        for sid in [world.staff, world.staff2] * 3
    ]
    for desk in desks:
        desk.start()
    for desk in desks:
        desk.join(WAIT_LIMIT * 3)
    assert not any(d.is_alive() for d in desks), "a filing session hung"
    assert errors == []
    assert sorted(taken) == list(range(1, 17))
    assert last_number(db) == 16

    again = [story.run(world.staff, proposals.file_proposal, pid).number for pid in doomed]
    assert sorted(again) == list(range(17, 25))


# ---------------------------------------------------------------- conflicting decisions


CONFLICTS = {
    "file-vs-reject": (
        ("staff", proposals.file_proposal, ()),
        ("staff2", proposals.reject, ("与去年第12号提案内容重复。",)),
    ),
    "file-vs-withdraw": (
        ("staff", proposals.file_proposal, ()),
        ("member", proposals.withdraw, ("情况已有变化，暂不提交。",)),
    ),
    "reject-vs-convert": (
        ("staff", proposals.reject, ("不属于政协提案受理范围。",)),
        ("staff2", proposals.convert, ("转有关部门参考。",)),
    ),
}
OUTCOME = {
    proposals.file_proposal: "filed",
    proposals.reject: "not_filed",
    proposals.withdraw: "withdrawn",
    proposals.convert: "converted",
}


@pytest.mark.parametrize("conflict", list(CONFLICTS))
def test_conflicting_decisions_on_one_proposal_at_once_one_stands(db, wf, world, clock, conflict):
    """Two different decisions on a proposal awaiting review, made at the same moment:
    the first one through stands, the other is told it was already handled, by whom and
    when. A number is used only if the filing won."""
    pid = Story(db, wf, world).submitted()
    attempts = contend(
        db,
        wf,
        [Attempt(getattr(world, who), fn, (pid, *args)) for who, fn, args in CONFLICTS[conflict]],
    )
    winner, [loser] = one_winner(attempts)
    assert_lost_to(db, clock, loser, winner, attempts)

    proposal = get_proposal(db, pid)
    assert proposal.status == OUTCOME[winner.fn]
    filed = winner.fn is proposals.file_proposal
    assert proposal.number == (1 if filed else None)
    assert last_number(db) == (1 if filed else 0)
    with db.read_session() as session:
        moves = session.exec(
            select(AuditEvent.action).where(
                AuditEvent.proposal_id == pid, AuditEvent.from_status == "submitted"
            )
        ).all()
    assert len(moves) == 1


# ---------------------------------------------------------------- assignments


def test_two_handlers_of_a_unit_accepting_one_assignment_at_once_one_accepts(db, wf, world, clock):
    """高远 and 梁雪 of 区教育局 both press 签收: one acceptance is recorded, the other
    handler is told the colleague already took it and when."""
    _pid, lead, _co = Story(db, wf, world).assigned(co=False)
    attempts = contend(
        db,
        wf,
        [
            Attempt(world.handler_edu, assignments.accept, (lead,)),
            Attempt(world.handler_edu2, assignments.accept, (lead,)),
        ],
    )
    winner, [loser] = one_winner(attempts)
    assert_lost_to(db, clock, loser, winner, attempts)
    with db.read_session() as session:
        assignment = session.get(Assignment, lead)
    assert assignment.status == "accepted" and assignment.accepted_by == winner.actor
    assert audit_count(db, "assignment_accept", assignment_id=lead) == 1


def test_accepting_and_asking_for_adjustment_at_once_one_stands(db, wf, world, clock):
    """One handler accepts while a colleague asks for adjustment of the same assignment."""
    _pid, lead, _co = Story(db, wf, world).assigned(co=False)
    attempts = contend(
        db,
        wf,
        [
            Attempt(world.handler_edu, assignments.accept, (lead,)),
            Attempt(
                world.handler_edu2,
                assignments.request_adjustment,
                (lead, "该事项属于交通部门职责。"),
            ),
        ],
    )
    winner, [loser] = one_winner(attempts)
    assert_lost_to(db, clock, loser, winner, attempts)
    with db.read_session() as session:
        status = session.get(Assignment, lead).status
    expected = "accepted" if winner.fn is assignments.accept else "adjustment_requested"
    assert status == expected


def test_a_late_acceptance_racing_the_window_sweep_one_stands(db, wf, world, clock):
    """After the adjustment window, the system's sweep confirms the assignment while a
    handler accepts it: one stands; a losing handler is told the system did it."""
    _pid, lead, _co = Story(db, wf, world).assigned(co=False)
    clock.advance(days=14)
    attempts = contend(
        db,
        wf,
        [
            Attempt(None, assignments.close_adjustment_window, (lead,)),
            Attempt(world.handler_edu, assignments.accept, (lead,)),
        ],
    )
    winner, [loser] = one_winner(attempts)
    assert_lost_to(db, clock, loser, winner, attempts)
    if winner.actor is None:
        assert loser.error.by == "系统"
    with db.read_session() as session:
        assert session.get(Assignment, lead).status == "accepted"


def test_two_staff_assigning_one_proposal_at_once_make_one_set_of_assignments(
    db, wf, world, clock
):
    """Two staff 交办 the same filed proposal to different units at once: one assignment
    stands, the units of the other are never told."""
    pid = Story(db, wf, world).filed()
    attempts = contend(
        db,
        wf,
        [
            Attempt(world.staff, assignments.assign, (pid,), {"lead_unit_id": world.education}),
            Attempt(world.staff2, assignments.assign, (pid,), {"lead_unit_id": world.health}),
        ],
    )
    winner, [loser] = one_winner(attempts)
    assert_lost_to(db, clock, loser, winner, attempts)
    with db.read_session() as session:
        units = session.exec(select(Assignment.unit_id).where(Assignment.proposal_id == pid)).all()
        told = session.exec(select(Notice.person_id).where(Notice.kind == "assigned")).all()
    assert units == [winner.kwargs["lead_unit_id"]]
    losing_unit = loser.kwargs["lead_unit_id"]
    losing_handlers = {world.education: world.handler_edu, world.health: world.handler_health}
    assert losing_handlers[losing_unit] not in told


# ---------------------------------------------------------------- PostgreSQL row locks


@requires_postgres
def test_on_postgres_work_on_different_proposals_does_not_wait(db, wf, world):
    """Row locks, not a database lock: two units accepting assignments of two different
    proposals run side by side, each finding the other's change already made and not yet
    committed."""
    assert db.is_postgres
    story = Story(db, wf, world)
    _p1, edu_lead, _ = story.assigned(co=False)
    p2 = story.filed(title="关于加强基层医疗机构人才队伍建设的建议")
    [health_lead] = story.run(world.staff, assignments.assign, p2, lead_unit_id=world.health)
    both_in = threading.Barrier(2, timeout=WAIT_LIMIT)
    outcomes: dict[int, BaseException | None] = {}

    def accept(handler: int, assignment_id: int) -> None:
        try:
            with db.session() as session:
                assignments.accept(wf.ctx(session, handler), assignment_id)
                both_in.wait()  # both changes made, both transactions open
            outcomes[handler] = None
        except BaseException as exc:  # asserted on below
            outcomes[handler] = exc

    threads = [
        threading.Thread(target=accept, args=(world.handler_edu, edu_lead), daemon=True),
        threading.Thread(target=accept, args=(world.handler_health, health_lead.id), daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_LIMIT * 2)
    assert outcomes == {world.handler_edu: None, world.handler_health: None}


# ---------------------------------------------------------------- SQLite's one writer


@dataclass
class TwoPeople:
    db: Database
    first: int
    second: int


@pytest.fixture
def sqlite_pair(tmp_path) -> Iterator[TwoPeople]:
    """A migrated SQLite database of its own (whatever database the other tests run on)
    with two people in it."""
    db = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    upgrade(db.engine)
    with db.session() as session:
        people = [Person(name="甲", phone="13800000001"), Person(name="乙", phone="13800000002")]
        session.add_all(people)
        session.flush()
        ids = [p.id for p in people]
    yield TwoPeople(db, *ids)
    db.dispose()


def test_on_sqlite_a_second_writer_begins_only_once_the_first_has_ended(sqlite_pair):
    """Two threads write at once: the second one's BEGIN IMMEDIATE is sent only after the
    first transaction's COMMIT, never into the locked database (where SQLite would have it
    sleep and retry), and both changes are kept."""
    db = sqlite_pair.db
    said: list[tuple[str, str]] = []
    lock = threading.Lock()

    def watch(statement: str) -> None:  # what SQLite runs, BEGIN included
        with lock:
            said.append((threading.current_thread().name, statement.split()[0].upper()))

    def traced(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(watch)

    def committing(_conn) -> None:
        with lock:
            said.append((threading.current_thread().name, "COMMIT"))

    db.engine.dispose()  # new connections, each traced
    event.listen(db.engine, "connect", traced)
    event.listen(db.engine, "commit", committing, insert=True)  # before the queue moves on
    first_in = threading.Event()

    def rename(person_id: int, name: str, hold: bool) -> None:
        with db.session() as session:
            person = session.get(Person, person_id)
            person.name = name
            session.add(person)
            session.flush()
            if hold:
                first_in.set()
                time.sleep(HOLD)

    try:
        a = threading.Thread(target=rename, args=(sqlite_pair.first, "甲", True), name="A")
        b = threading.Thread(target=rename, args=(sqlite_pair.second, "乙", False), name="B")
        a.start()
        assert first_in.wait(WAIT_LIMIT)
        b.start()
        a.join(WAIT_LIMIT)
        b.join(WAIT_LIMIT)
    finally:
        event.remove(db.engine, "connect", traced)
        event.remove(db.engine, "commit", committing)
        db.engine.dispose()

    a_commit = said.index(("A", "COMMIT"))
    b_begin = said.index(("B", "BEGIN"))
    assert a_commit < b_begin
    with db.read_session() as session:
        assert session.get(Person, sqlite_pair.first).name == "甲"
        assert session.get(Person, sqlite_pair.second).name == "乙"


def test_on_sqlite_the_next_writer_is_let_in_once_sqlite_has_committed(sqlite_pair):
    """With SQLite's own busy wait switched off, writers of eight threads at once never find
    the database locked: the queue moves on once SQLite has ended the transaction, not when
    SQLAlchemy is about to send COMMIT (the next BEGIN IMMEDIATE would meet a lock still
    held, and sleep in SQLite's busy loop)."""
    db = sqlite_pair.db
    db.engine.dispose()  # new connections, each with the pragma below

    def no_busy_wait(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(db.engine, "connect", no_busy_wait)
    failures: list[BaseException] = []
    rounds = 40

    def rename(worker: int) -> None:
        for i in range(rounds):
            try:
                with db.session() as session:
                    person = session.get(Person, sqlite_pair.first)
                    person.name = f"甲{worker}-{i}"
                    session.add(person)
            except BaseException as exc:
                failures.append(exc)

    try:
        threads = [threading.Thread(target=rename, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_LIMIT)
    finally:
        event.remove(db.engine, "connect", no_busy_wait)
    assert failures == []
    with db.read_session() as session:
        assert session.get(Person, sqlite_pair.first).name.endswith(f"-{rounds - 1}")


def test_on_sqlite_a_writer_that_leaves_without_ending_frees_the_queue(sqlite_pair):
    """A connection closed in the middle of its transaction (rolled back as it goes) lets
    the next writer in at once."""
    db = sqlite_pair.db
    conn = db.engine.connect()
    conn.execute(text("UPDATE person SET name = '丙' WHERE id = :id"), {"id": sqlite_pair.first})
    conn.close()  # no commit: rolled back, the queue freed

    done = threading.Event()

    def write() -> None:
        with db.session() as session:
            session.execute(
                text("UPDATE person SET name = '丁' WHERE id = :id").bindparams(
                    id=sqlite_pair.first
                )
            )
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(WAIT_LIMIT)
    with db.read_session() as session:
        assert session.get(Person, sqlite_pair.first).name == "丁"


def test_on_sqlite_a_write_inside_a_write_of_the_same_thread_is_refused_as_locked(
    sqlite_pair, monkeypatch
):
    """SQLite refuses a second writer while the first is open, after its busy timeout; the
    queue does the same (its wait shortened here), and the first transaction goes on."""
    db = sqlite_pair.db
    monkeypatch.setattr(storage.db, "WRITER_WAIT_S", 0.2)
    with db.session() as outer:
        outer.execute(
            text("UPDATE person SET name = '戊' WHERE id = :id").bindparams(id=sqlite_pair.first)
        )
        with (
            pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"),
            db.session() as inner,
        ):
            inner.execute(text("SELECT 1"))
    with db.read_session() as session:
        assert session.get(Person, sqlite_pair.first).name == "戊"
