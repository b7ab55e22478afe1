"""The schema is made by the migrations alone, the same way on SQLite and PostgreSQL.

Each test starts from an empty database: a new SQLite file, or a new PostgreSQL schema
(skipped unless ``PROPOSALBOT_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from storage import repositories as repo
from storage.db import Database
from storage.migrate import (
    VERSIONS,
    alembic_config,
    alembic_head,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)
from storage.models import AuditEvent, Notice, Proposal, SQLModel
from tests.conftest import drop_pg_schema, new_pg_schema, requires_postgres
from tests.factories import SAMPLE_REPLY, Story, build_world
from workflow import replies
from workflow.statuses import PROPOSAL_TRANSITIONS

MODEL_TABLES = {t.name for t in SQLModel.metadata.sorted_tables}


def downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=requires_postgres)])
def empty_db(request, tmp_path):
    """A database with nothing in it yet."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.dispose()
        return
    admin = request.getfixturevalue("pg_admin")
    schema, url = new_pg_schema(admin)
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        drop_pg_schema(admin, schema)


def test_an_empty_database_upgrades_to_head_and_matches_the_models(empty_db):
    """Upgrade from nothing gives the head revision, every model table, and a schema that
    autogenerate finds nothing to change in."""
    assert current_revision(empty_db.engine) is None
    assert tables(empty_db) == set()

    upgrade(empty_db.engine)

    assert head_revision() is not None
    assert current_revision(empty_db.engine) == head_revision()
    assert tables(empty_db) == MODEL_TABLES | {"alembic_version"}
    assert schema_differences(empty_db.engine) == []


def test_downgrading_to_base_and_upgrading_again_gives_the_same_schema(empty_db):
    upgrade(empty_db.engine)
    downgrade(empty_db, "base")
    assert current_revision(empty_db.engine) is None
    assert tables(empty_db) <= {"alembic_version"}

    upgrade(empty_db.engine)
    assert current_revision(empty_db.engine) == head_revision()
    assert schema_differences(empty_db.engine) == []


# ---------------------------------------------------------------- append-only audit log


def write_audit_event(db: Database, action: str = "create") -> int:
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_event (at, action) VALUES (:at, :action)"),
            {"at": datetime(2026, 9, 14, 1, 30, tzinfo=UTC), "action": action},
        )
        return conn.execute(text("SELECT max(id) FROM audit_event")).scalar_one()


def audit_actions(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT action FROM audit_event ORDER BY id")).scalars())


def test_the_audit_log_takes_new_events_but_refuses_changes_and_deletions(empty_db):
    """Triggers keep audit_event append-only on both engines: INSERT works, UPDATE and
    DELETE are refused and leave the row as it was."""
    upgrade(empty_db.engine)
    first = write_audit_event(empty_db, "create")
    write_audit_event(empty_db, "submit")

    with pytest.raises(DBAPIError, match="append-only"), empty_db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": first}
        )
    with pytest.raises(DBAPIError, match="append-only"), empty_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": first})
    with pytest.raises(DBAPIError, match="append-only"), empty_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))

    assert audit_actions(empty_db) == ["create", "submit"]


def test_downgrading_the_append_only_revision_lifts_the_triggers(empty_db):
    """Revision 0002 adds the triggers and its downgrade removes them cleanly."""
    upgrade(empty_db.engine)
    downgrade(empty_db, "0001")
    assert current_revision(empty_db.engine) == "0001"
    first = write_audit_event(empty_db, "create")
    with empty_db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET action = 'edited' WHERE id = :id"), {"id": first}
        )
    assert audit_actions(empty_db) == ["edited"]

    upgrade(empty_db.engine)
    with pytest.raises(DBAPIError, match="append-only"), empty_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))


def test_notices_already_in_the_outbox_have_delivered_no_part_of_their_text(empty_db):
    """Revision 0010 counts the messages of a long notice that arrived: a notice kept
    before it has delivered none (its next attempt sends it whole); the downgrade drops the
    count and leaves the notice."""
    upgrade(empty_db.engine, "0009")
    at = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO person (name, phone, roles, locale, active, created_at, updated_at)"
                " VALUES ('林晓', '13900000001', 'member', 'zh', TRUE, :at, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO notice (person_id, kind, text, idempotency_key, not_before,"
                " urgent, state, attempts, created_at)"
                " SELECT id, 'test', '通知', 'test:1', :at, FALSE, 'pending', 0, :at FROM person"
            ),
            {"at": at},
        )

    upgrade(empty_db.engine)
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT state, parts_sent FROM notice")).one() == ("pending", 0)

    downgrade(empty_db, "0009")
    assert "parts_sent" not in {c["name"] for c in inspect(empty_db.engine).get_columns("notice")}
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM notice")).scalar_one() == "通知"


def test_the_countersign_table_comes_empty_and_goes_without_touching_the_rest(empty_db):
    """Revision 0011 adds the co-handling units' countersignatures (会签): replies submitted
    before it have none (they went to review as they were); the downgrade drops the table
    and leaves everything else."""
    upgrade(empty_db.engine, "0010")
    at = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO person (name, phone, roles, locale, active, created_at, updated_at)"
                " VALUES ('蒋涛', '13900000022', 'handler', 'zh', TRUE, :at, :at)"
            ),
            {"at": at},
        )
    assert "countersign" not in tables(empty_db)

    upgrade(empty_db.engine)
    columns = {c["name"] for c in inspect(empty_db.engine).get_columns("countersign")}
    assert {"reply_id", "assignment_id", "unit_id", "due_date", "decision", "comment"} <= columns
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM countersign")).scalar_one() == 0

    downgrade(empty_db, "0010")
    assert "countersign" not in tables(empty_db)
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM person")).scalar_one() == "蒋涛"


def test_a_number_asked_of_every_year_is_found_in_an_index(empty_db):
    """Revision 0012: /status 28 when this year has no 第28号 asks which years have one. The
    unique (year, number) leads with the year, so that read all of it (SQLite without
    statistics scans it; PostgreSQL walks it whole); an index on (number, year) goes
    straight to the number, the years in order."""
    upgrade(empty_db.engine, "0011")
    assert "ix_proposal_number_year" not in proposal_indexes(empty_db)
    upgrade(empty_db.engine)
    assert "ix_proposal_number_year" in proposal_indexes(empty_db)
    assert "ix_proposal_number_year" in plan_of_years_with_number(empty_db)
    downgrade(empty_db, "0011")
    assert "ix_proposal_number_year" not in proposal_indexes(empty_db)


def proposal_indexes(db: Database) -> set[str]:
    return {index["name"] for index in inspect(db.engine).get_indexes("proposal")}


def plan_of_years_with_number(db: Database) -> str:
    """The query plan of the statement ``years_with_number`` sends."""

    def run(session: Session) -> None:
        assert repo.years_with_number(session, number=28) == []

    [plan] = plans_of(db, run)
    return plan


def plans_of(db: Database, run: Callable[[Session], object]) -> list[str]:
    """The query plans of the SELECT statements ``run`` sends, in order."""
    seen: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        with Session(db.engine) as session:
            run(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    plans = []
    for statement, parameters in seen:
        if not statement.lstrip().startswith("SELECT"):
            continue
        with db.engine.connect() as conn:
            if db.is_sqlite:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                plans.append("\n".join(str(row[-1]) for row in rows))
                continue
            # An empty table costs nothing whichever way it is read: the planner is told to
            # prefer an index, then shows which one the statement can use.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            plans.append("\n".join(str(row[0]) for row in rows))
    return plans


def test_the_key_proposals_a_person_follows_are_found_in_indexes(empty_db):
    """Revision 0014: 督办的重点提案 reads a lead leader's key proposals, or a supervising
    unit's, from partial indexes of the key proposals alone (neither column had an index:
    the list read the whole year). Someone both leader and supervisor reads each index."""
    from storage.models import Person
    from workflow import key_proposals
    from workflow.core import Workflow
    from workflow.rules import Rules

    upgrade(empty_db.engine, "0013")
    assert not {"ix_proposal_key_leader", "ix_proposal_key_supervising"} & proposal_indexes(
        empty_db
    )
    upgrade(empty_db.engine)
    assert {"ix_proposal_key_leader", "ix_proposal_key_supervising"} <= proposal_indexes(empty_db)
    wf = Workflow(rules=Rules(session_label="七届二次会议", committee_name="示范区政协"))
    for roles, indexes in (
        ("leader", ["ix_proposal_key_leader"]),
        ("supervisor", ["ix_proposal_key_supervising"]),
        ("leader,supervisor", ["ix_proposal_key_leader", "ix_proposal_key_supervising"]),
    ):
        reader = Person(id=7, name="邓启明", phone="13800000040", roles=roles, unit_id=3)

        def run(session: Session, reader: Person = reader) -> None:
            ctx = wf.ctx(session, reader)
            assert key_proposals.years(ctx) == []
            for year in (2026, None):
                assert key_proposals.count(ctx, year=year) == 0
                assert key_proposals.page(ctx, year=year, offset=0, limit=8) == []

        plans = plans_of(empty_db, run)
        assert len(plans) == 5, roles
        for plan in plans:
            if empty_db.is_sqlite:  # the planner without statistics: the index meant
                assert all(index in plan for index in indexes), (roles, plan)
            else:  # an empty table: any key proposals' index shows it can use them
                assert "ix_proposal_key_" in plan, (roles, plan)
    downgrade(empty_db, "0013")
    assert not {"ix_proposal_key_leader", "ix_proposal_key_supervising"} & proposal_indexes(
        empty_db
    )


def test_a_units_finished_assignments_are_read_from_its_indexes(empty_db):
    """已办结的交办 needs no proposal read to find a year: its years and count read only the
    unit's entries of ``ix_assignment_unit_status_year`` (unit, state, year; the count one
    range of it), its page seeks that range, and the check of the one opened reads the
    unit's entries of ``ix_assignment_unit_proposal``. No statement scans a table."""
    from storage.models import Person
    from workflow import unit_history
    from workflow.core import Workflow
    from workflow.errors import PermissionDenied
    from workflow.rules import Rules

    upgrade(empty_db.engine)
    wf = Workflow(rules=Rules(session_label="七届二次会议", committee_name="示范区政协"))
    reader = Person(id=7, name="高远", phone="13800000020", roles="handler", unit_id=3)

    def run(session: Session) -> None:
        ctx = wf.ctx(session, reader)
        assert unit_history.years(ctx) == []
        assert unit_history.count(ctx, year=2026) == 0
        assert unit_history.page(ctx, year=2026, offset=0, limit=8) == []
        with pytest.raises(PermissionDenied):
            unit_history.finished_proposal(ctx, 1)

    plans = plans_of(empty_db, run)
    assert len(plans) == 4
    for plan in plans:
        assert "ix_assignment_unit_" in plan, plan
        if empty_db.is_sqlite:  # the planner without statistics: the index meant
            assert "SCAN" not in plan, plan
    if empty_db.is_sqlite:
        assert "COVERING INDEX ix_assignment_unit_status_year (unit_id=? AND status=?)" in plans[0]
        for plan in plans[1:3]:
            assert "ix_assignment_unit_status_year (unit_id=? AND status=? AND year=?)" in plan
        assert "ix_assignment_unit_proposal (unit_id=? AND proposal_id=?" in plans[3]
    else:  # empty tables: the years and the count show they can read the new index
        for plan in plans[:2]:
            assert "ix_assignment_unit_status_year" in plan, plan


def test_assignments_made_before_take_the_year_of_their_proposal(empty_db, wf):
    """Revision 0015 keeps the proposal's year on each assignment (a unit's finished
    assignments of a year, one range of an index): those made before it take their
    proposal's. Made at the head, taken down to 0014 (the column dropped, the index it
    replaced given back, nothing else lost) and up again."""
    upgrade(empty_db.engine)
    with empty_db.session() as session:
        world = build_world(session)
    story = Story(empty_db, wf, world)
    earlier, _lead, _co = story.accepted(co=True)
    later, _lead, _co = story.accepted(co=False)

    downgrade(empty_db, "0014")
    assert "year" not in {c["name"] for c in inspect(empty_db.engine).get_columns("assignment")}
    assert "ix_assignment_unit_status" in assignment_indexes(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE proposal SET year = year - 1 WHERE id = :id"), {"id": earlier})

    upgrade(empty_db.engine)
    assert "ix_assignment_unit_status" not in assignment_indexes(empty_db)
    assert "ix_assignment_unit_status_year" in assignment_indexes(empty_db)
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT assignment.proposal_id, assignment.year, proposal.year FROM assignment"
                " JOIN proposal ON proposal.id = assignment.proposal_id"
            )
        ).all()
    assert sorted(row[0] for row in rows) == [earlier, earlier, later]  # lead and co, lead
    assert all(row[1] == row[2] for row in rows), rows
    assert {row[1] for row in rows if row[0] == earlier} == {
        next(row[2] for row in rows if row[0] == later) - 1
    }


def test_signatures_made_before_take_the_year_of_their_submitted_proposal(empty_db, wf):
    """Revision 0016 keeps the proposal's year on each signature once it is submitted (a
    member's proposals of a year, one range of an index): those made before it take their
    proposal's; a draft's stay without one. Made at the head, taken down to 0015 (the column
    dropped, the index it replaced given back) and up again."""
    upgrade(empty_db.engine)
    with empty_db.session() as session:
        world = build_world(session)
    story = Story(empty_db, wf, world)
    earlier = story.submitted(cosigners=[world.cosigner])
    later = story.submitted()
    draft = story.draft(title="关于尚在起草中的建议")

    downgrade(empty_db, "0015")
    assert "year" not in {c["name"] for c in inspect(empty_db.engine).get_columns("signer")}
    assert "ix_signer_person" in signer_indexes(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE proposal SET year = year - 1 WHERE id = :id"), {"id": earlier})

    upgrade(empty_db.engine)
    assert signer_indexes(empty_db) >= {"ix_signer_person_year"}
    assert "ix_signer_person" not in signer_indexes(empty_db)
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT signer.proposal_id, signer.year, proposal.year FROM signer"
                " JOIN proposal ON proposal.id = signer.proposal_id ORDER BY signer.id"
            )
        ).all()
    years = {(pid, year) for pid, year, _ in rows}
    this_year = next(proposal_year for pid, _, proposal_year in rows if pid == later)
    assert years == {(earlier, this_year - 1), (later, this_year), (draft, None)}
    assert len([row for row in rows if row[0] == earlier]) == 2  # the lead and the co-signer


def signer_indexes(db: Database) -> set[str]:
    return {index["name"] for index in inspect(db.engine).get_indexes("signer")}


def assignment_indexes(db: Database) -> set[str]:
    return {index["name"] for index in inspect(db.engine).get_indexes("assignment")}


def test_the_numbered_head_is_the_head_alembic_finds_and_each_revises_the_one_before():
    """The running bot knows the newest revision from the file names; Alembic reads the
    scripts: both must agree, and every migration must follow the one before it."""
    from alembic.script import ScriptDirectory

    assert head_revision() == alembic_head()
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    numbers = sorted(p.name[:4] for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]
    for before, number in zip([None, *numbers], numbers, strict=False):
        assert scripts.get_revision(number).down_revision == before


def test_the_running_bot_checks_the_schema_without_loading_alembic(empty_db, tmp_path):
    """What `proposalbot run` does before it serves: the check that the database is at the
    newest revision, in a process of its own, with Alembic never imported."""
    upgrade(empty_db.engine)
    url = empty_db.engine.url.render_as_string(hide_password=False)
    check = (
        "import sys\n"
        "import bot.run, bot.cli\n"
        "from bot.app import build_app\n"
        "build_app().require_schema()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    env = {**os.environ, "PROPOSALBOT_DATABASE_URL": url, "PROPOSALBOT_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "请先运行 proposalbot init 升级" in done.stderr


def test_merged_proposals_an_earlier_rehandle_left_delivered_wait_for_the_new_reply(
    empty_db, wf, monkeypatch
):
    """Revision 0013: 重新办理 takes the proposals merged into the main back to 已并案
    (rehandle_merged). One an earlier 重新办理 left 已答复, its signers still able to rate the
    earlier reply, is moved the same way, with the system's audit event, and receives the
    new reply when it is approved. The state is made at the head with 重新办理 as it was,
    then the database goes down to 0012 (nothing to undo) and up again."""
    upgrade(empty_db.engine)
    with empty_db.session() as session:
        world = build_world(session)
    story = Story(empty_db, wf, world)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    first = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, first.id)
    story.run(world.member, replies.rate, main, work="unsatisfied")
    with monkeypatch.context() as before_0013:  # 重新办理 as it was: the merged one stays
        move = PROPOSAL_TRANSITIONS["rehandle_merged"]
        before_0013.setitem(
            PROPOSAL_TRANSITIONS, "rehandle_merged", replace(move, sources=frozenset())
        )
        story.run(world.staff, replies.order_rehandle, main)
    with empty_db.read_session() as session:
        assert session.get(Proposal, other).status == "delivered"

    downgrade(empty_db, "0012")
    upgrade(empty_db.engine)

    with empty_db.read_session() as session:
        moved = session.get(Proposal, other)
        assert (moved.status, moved.delivered_at) == ("merged", None)
        assert session.get(Proposal, main).status == "assigned"
        event = session.exec(
            select(AuditEvent).where(AuditEvent.proposal_id == other).order_by(AuditEvent.id)
        ).all()[-1]
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (
        "rehandle_merged",
        "delivered",
        "merged",
        None,
    )
    assert event.detail == {"target_id": main}
    again = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, again.id)
    with empty_db.read_session() as session:
        assert session.get(Proposal, other).status == "delivered"
        delivered = session.exec(
            select(Notice.text).where(
                Notice.person_id == world.outsider, Notice.kind == "reply_delivered"
            )
        ).all()
    assert len(delivered) == 2  # the earlier reply, and the new one
