"""Transaction-scoped locks on a name, for work that has no single row to lock.

PostgreSQL takes an advisory lock released at commit or rollback; SQLite needs none, since
its write transactions begin IMMEDIATE and so already run one at a time.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session


def lock_name(session: Session, name: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name})


def try_lock_name(session: Session, name: str) -> bool:
    """Take the lock if nobody holds it; False at once otherwise (released at commit).

    For work that one process of several should do, such as the scheduled sweeps: the others
    skip that round instead of waiting and repeating it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    taken = session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name}
    ).scalar()
    return bool(taken)
