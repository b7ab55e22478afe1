"""Fresh, migrated databases for one measurement: a SQLite file, or a PostgreSQL database of
its own (``bench_<name>_<random>``, created beside the one the URL names and dropped after; the
database in the URL itself is never touched)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import Database, normalise_url
from storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Backend:
    kind: str  # sqlite | postgresql
    workdir: Path
    admin_url: str | None = None  # postgresql: where CREATE / DROP DATABASE are said

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"


def postgres_version(admin_url: str) -> str | None:
    """The server's version, or None when it cannot be reached."""
    engine = create_engine(normalise_url(admin_url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    except Exception:
        return None
    finally:
        engine.dispose()


def _admin(admin_url: str):
    return create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")


def url_of(backend: Backend, name: str) -> str:
    if backend.kind == "sqlite":
        return f"sqlite:///{backend.workdir / f'{name}.db'}"
    assert backend.admin_url is not None
    return (
        make_url(normalise_url(backend.admin_url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def create(backend: Backend, name: str) -> str:
    """A new empty database (schema migrated); returns its URL."""
    if backend.kind == "sqlite":
        backend.workdir.mkdir(parents=True, exist_ok=True)
        _remove_sqlite(backend.workdir / f"{name}.db")
    else:
        assert backend.admin_url is not None
        admin = _admin(backend.admin_url)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
    url = url_of(backend, name)
    db = Database(url)
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    return url


def drop(backend: Backend, name: str) -> None:
    if backend.kind == "sqlite":
        _remove_sqlite(backend.workdir / f"{name}.db")
        return
    assert backend.admin_url is not None
    admin = _admin(backend.admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def unique_name(label: str) -> str:
    return f"bench_{label}_{secrets.token_hex(4)}"


@contextlib.contextmanager
def fresh(backend: Backend, label: str) -> Iterator[Database]:
    """A fresh migrated database for the block, dropped after it."""
    name = unique_name(label)
    url = create(backend, name)
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        drop(backend, name)
