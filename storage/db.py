"""Engine and sessions for SQLite (default) and PostgreSQL.

On SQLite every connection runs in WAL mode with foreign keys on, and write sessions open
with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing halfway. On PostgreSQL
the workflow locks the rows it changes (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

DEFAULT_SQLITE_URL = "sqlite:///data/proposalbot.db"


def normalise_url(url: str) -> str:
    """Let people write ``postgresql://``; we talk to PostgreSQL through psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL, an in-memory database or a
    ``file:`` URI (whose file SQLite's own options govern)."""
    url = make_url(url) if isinstance(url, str) else url
    database = url.database
    if not url.drivername.startswith("sqlite") or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def prepare_sqlite_file(url: str | URL) -> None:
    """Make the folder a SQLite database file is to be created in. Only what creates the
    database calls it (its first migration): an engine made or connected to a file that is
    not there must not leave an empty folder behind."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, immediate: bool = True, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # errors and logs never carry what people wrote
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver hook
            # Let SQLAlchemy, not the driver, issue BEGIN.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if not immediate:

            @event.listens_for(engine, "begin")
            def _on_begin_read(conn):  # pragma: no cover - driver hook
                _begin(conn, "BEGIN")

            return engine
        _one_writer_at_a_time(engine)
        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": _utc_options(url)},
    )


WRITER_WAIT_S = 30.0  # as long as SQLite's own busy timeout


def _one_writer_at_a_time(engine: Engine) -> None:
    """SQLite takes one writer at a time. Threads of this process queue for it on a lock of
    their own, handed straight to the next when a transaction ends, before ``BEGIN IMMEDIATE``:
    left to SQLite, a writer that finds the database locked sleeps and retries (1, 2, 5,
    10 … 100 ms), and an update that lost the race twice waited tens of milliseconds for a
    lock freed long before. Other processes (the CLI beside the bot) still meet SQLite's busy
    timeout. A lock, not a re-entrant one: a transaction may end in another thread than it
    began in; a thread that opened a second write transaction inside its first waits its
    30 s, then is refused as SQLite would refuse it."""
    writer = threading.Lock()
    holder: list[Any] = [None]  # the DBAPI connection whose transaction holds the lock

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        if not writer.acquire(timeout=WRITER_WAIT_S):
            # what SQLAlchemy raises when SQLite's own busy timeout runs out
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        holder[0] = conn.connection.dbapi_connection
        try:
            _begin(conn, "BEGIN IMMEDIATE")
        except BaseException:
            _release(holder[0])
            raise

    def _release(dbapi_connection) -> None:
        # the pool's proxy of a connection, or the driver's connection itself
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if raw is not None and raw is holder[0]:
            holder[0] = None
            writer.release()

    # The transaction's end, once SQLite has ended it: the "commit" and "rollback" events
    # come before the COMMIT is sent, and a writer let in then would find SQLite still
    # locked and sleep in its busy loop. And should a connection leave without ending its
    # transaction (closed, invalidated, returned to the pool), that too.
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback"):
        setattr(dialect, name, _then_release(getattr(dialect, name), _release))
    event.listen(engine, "checkin", lambda dbapi_connection, _record: _release(dbapi_connection))
    event.listen(
        engine, "invalidate", lambda dbapi_connection, _record, _exc: _release(dbapi_connection)
    )


def _begin(conn, statement: str) -> None:
    """Say BEGIN on the driver's connection itself: every transaction starts with it, and
    through SQLAlchemy's statement machinery it cost more than the conversation's own read.
    A failure is raised as SQLAlchemy raises the driver's errors."""
    try:
        conn.connection.dbapi_connection.execute(statement)
    except sqlite3.Error as exc:
        raise OperationalError(statement, None, exc) from exc


def _then_release(end: Callable[[Any], None], release: Callable[[Any], None]):
    """The dialect's commit or rollback, then the writer lock let go."""

    def ended(dbapi_connection) -> None:  # pragma: no cover - driver hook
        try:
            end(dbapi_connection)
        finally:
            release(dbapi_connection)

    return ended


def _utc_options(url: str) -> str:
    """The URL's server options with the session time zone set to UTC: times are kept as
    UTC in columns without a time zone, and a server (or database) set to local time would
    otherwise store aware times converted to its own wall clock."""
    options = make_url(url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    return f"{options} -c timezone=UTC".strip()


class Database:
    """The configured database: a write engine and, on SQLite, a reader that never blocks."""

    def __init__(self, url: str = DEFAULT_SQLITE_URL, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, immediate=True, echo=echo)
        self.read_engine = (
            make_engine(self.url, immediate=False, echo=echo) if self.is_sqlite else self.engine
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                # Some refusals must still keep what they recorded (a failed invite-code
                # attempt counts towards the rate limit); they say so with this flag.
                if getattr(exc, "commit_anyway", False):
                    session.commit()
                else:
                    session.rollback()
                raise

    @contextmanager
    def trial_session(self) -> Iterator[Session]:
        """A write session that is always rolled back: to see what something would do."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for queries only; it never commits."""
        with Session(self.read_engine, expire_on_commit=False) as session:
            yield session  # closing releases the connection; loaded objects stay readable

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
