"""Times are kept as UTC whatever time zone the PostgreSQL server is set to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import select

from storage.clock import as_utc
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Notice, Person
from tests.conftest import PG_URL, requires_postgres


@requires_postgres
def test_a_server_on_beijing_time_keeps_times_in_utc(pg_admin):
    name = f"tz_{uuid.uuid4().hex[:10]}"
    with pg_admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        conn.execute(text(f"ALTER DATABASE {name} SET timezone = 'Asia/Shanghai'"))
    db = Database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(db.engine)
        due = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
        with db.session() as session:
            person = Person(name="周敏", phone="13900000001", roles="member")
            session.add(person)
            session.flush()
            session.add(
                Notice(
                    person_id=person.id,
                    kind="test",
                    text="提案已收到。",
                    idempotency_key="test:1",
                    not_before=due,
                    created_at=due,
                )
            )
        with db.read_session() as session:
            # Every connection speaks UTC, so SQL that reads the session's zone agrees too.
            assert session.execute(text("SELECT current_setting('TimeZone')")).scalar() == "UTC"
            notice = session.exec(select(Notice)).one()
            assert as_utc(notice.not_before) == due
            # Compared in SQL against an aware time, as the dispatcher claims notices.
            assert session.exec(select(Notice).where(Notice.not_before <= due)).all()
            before = datetime(2026, 12, 7, 0, 59, tzinfo=UTC)
            assert not session.exec(select(Notice).where(Notice.not_before <= before)).all()
    finally:
        db.dispose()
        with pg_admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
