"""The schema is made by the migrations alone, the same way on SQLite and PostgreSQL.

Each test starts from an empty database: a new SQLite file, or a new PostgreSQL schema
(skipped unless ``PROPOSALBOT_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from storage.db import Database
from storage.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)
from storage.models import SQLModel
from tests.conftest import drop_pg_schema, new_pg_schema, requires_postgres

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
