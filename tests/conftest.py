"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL when
PROPOSALBOT_TEST_DATABASE_URL is set), a controllable clock and a sample roster."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.db import Database, normalise_url
from storage.migrate import upgrade
from storage.models import SQLModel
from tests.factories import World, build_world
from workflow.core import Workflow
from workflow.rules import Rules

PG_URL = os.environ.get("PROPOSALBOT_TEST_DATABASE_URL")

requires_postgres = pytest.mark.skipif(
    not PG_URL, reason="set PROPOSALBOT_TEST_DATABASE_URL to run PostgreSQL tests"
)


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{normalise_url(url)}{sep}options=-csearch_path%3D{schema}"


def _reachable_admin() -> Database:
    """An engine on the PostgreSQL test server; fails (never skips) if it is unreachable."""
    db = Database(PG_URL)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - CI misconfiguration
        pytest.fail(f"PROPOSALBOT_TEST_DATABASE_URL is set but unreachable: {exc}")
    return db


@pytest.fixture(scope="session")
def pg_admin():
    if not PG_URL:
        pytest.skip("set PROPOSALBOT_TEST_DATABASE_URL to run PostgreSQL tests")
    db = _reachable_admin()
    yield db
    db.dispose()


def new_pg_schema(admin: Database) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    return schema, with_search_path(PG_URL, schema)


def drop_pg_schema(admin: Database, schema: str) -> None:
    with admin.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """One migrated database per test session: a SQLite file to copy, or a PG schema."""
    if PG_URL:
        admin = _reachable_admin()
        schema, url = new_pg_schema(admin)
        db = Database(url)
        upgrade(db.engine)
        yield ("postgres", url, db)
        db.dispose()
        drop_pg_schema(admin, schema)
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db.engine)
        db.dispose()
        yield ("sqlite", str(path), None)


@pytest.fixture
def db(_template, tmp_path):
    """A freshly migrated, empty database for this test."""
    kind, where, shared = _template
    if kind == "postgres":
        tables = ", ".join(
            t.name for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"
        )
        with shared.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield shared
        return
    path = tmp_path / "test.db"
    shutil.copyfile(where, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


class FakeClock:
    """A clock tests move by hand. Starts on a working Monday morning in Beijing."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 9, 14, 1, 30, tzinfo=UTC)  # 09:30 Beijing

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)

    def set_local(self, year, month, day, hour=9, minute=30) -> None:
        local = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))
        self.now = local.astimezone(UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wf(clock) -> Workflow:
    return Workflow(
        rules=Rules(session_label="七届二次会议", committee_name="示范区政协"), clock=clock
    )


@pytest.fixture
def world(db) -> World:
    """The sample roster: members, staff, units with handlers, a supervisor and a leader."""
    with db.session() as session:
        return build_world(session)


@pytest.fixture
def engine(db, wf, tmp_path):
    from handlers.flows import build_engine
    from storage.files import AttachmentStore

    return build_engine(db, wf, AttachmentStore(tmp_path / "attachments"))


@pytest.fixture
def chat_as(db, wf, engine):
    """A chat for a roster person, already bound: ``chat = chat_as(world.member)``."""
    from tests.chat import Chat
    from workflow.invites import bind_account

    def make(person_id: int, channel: str = "test") -> Chat:
        external_id = f"user-{person_id}"
        with db.session() as session:
            bind_account(wf.ctx(session, None), person_id, channel, external_id)
        return Chat(engine, external_id, channel)

    return make


@pytest.fixture
def app(db, wf, tmp_path):
    """The composition root over the test database and clock, with no channel settings."""
    from bot.app import App
    from bot.settings import Settings
    from storage.files import AttachmentStore

    return App(
        settings=Settings(_env_file=None, data_dir=tmp_path),
        db=db,
        workflow=wf,
        store=AttachmentStore(tmp_path / "attachments"),
    )
