"""Schema management through Alembic, the only way the schema is made.

Alembic is loaded only to change the schema (``proposalbot init``) or compare it: the running
bot checks the database's revision with one query and the numbered migration files, so it
does not keep Alembic in memory (~12 MB) for its whole life.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from storage.db import normalise_url, prepare_sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``; a SQLite file is created by
    its first upgrade (with the folder it goes in)."""
    from alembic import command

    prepare_sqlite_file(engine.url)

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before its first upgrade."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    """The newest revision. Migrations are numbered one after another (``NNNN_what.py``
    holds revision ``NNNN``, revising the one before), so the head is the highest number;
    tests/test_migrations.py checks that Alembic agrees."""
    return max(path.name[:4] for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def alembic_head() -> str | None:
    """The head as Alembic finds it, reading every migration script."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_differences(engine: Engine) -> list:
    """What autogenerate would change to make the database match the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401 - every table in the metadata

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)
