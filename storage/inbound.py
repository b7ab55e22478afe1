"""What a chat channel receives, kept in ``inbound_update`` (one row per update or message
of a channel, by its key) so that it is applied once, never by halves, and never lost.

An update is stored ``pending`` before it is handled (``store_many``), or not at all when
it is handled at once; the transaction that applies its effects gives it its outcome,
``done`` (``mark_done``, in ``Engine.handle``'s ``within`` hook), which a second delivery
of it finds and so applies nothing; one whose handling failed is set aside, ``failed``
(``mark_failed``). At start a channel handles again what a crash left pending
(``pending``), oldest first, each start counting as an attempt, and sets aside one that
failed ``MAX_ATTEMPTS`` starts.

The statements are on the table, not the mapped class (SQLAlchemy skips the ORM's
bookkeeping: nothing of this table is loaded in the session), built once per database
dialect, with the channel a parameter like the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.clock import utcnow
from storage.db import Database
from storage.models import InboundUpdate, table_of

MAX_ATTEMPTS = 3  # an update that failed this many starts is set aside as failed
KEY_MAX = 100  # characters of ``external_key``
log = logging.getLogger(__name__)

_inbound = table_of(InboundUpdate).c
_MARK = (
    sql_update(table_of(InboundUpdate))
    .where(
        _inbound.channel == bindparam("ch"),
        _inbound.external_key == bindparam("key"),
        _inbound.state == "pending",
    )
    .values(state=bindparam("new_state"), done_at=bindparam("now"))
)


class AlreadyHandled(Exception):
    """The update was given its outcome before (by this process, an earlier run or another
    one): its transaction is rolled back, nothing of it applied."""


_KEEP: dict[str, Any] = {}  # dialect name -> the INSERT of an update with its outcome


def _keep(dialect: str):
    """Insert an update that was never stored, with its outcome; one stored pending takes
    the outcome; one settled already (done or failed) is left alone and nothing returns."""
    statement = _KEEP.get(dialect)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values = insert(table_of(InboundUpdate)).values(
            channel=bindparam("ch"),
            external_key=bindparam("key"),
            payload=bindparam("payload"),
            received_at=bindparam("now"),
            state=bindparam("new_state"),
            attempts=0,
            done_at=bindparam("now"),
        )
        statement = values.on_conflict_do_update(
            index_elements=["channel", "external_key"],
            set_={"state": values.excluded.state, "done_at": values.excluded.done_at},
            where=_inbound.state == "pending",
        ).returning(_inbound.id)
        _KEEP[dialect] = statement
    return statement


_STORE_NEW: dict[str, Any] = {}  # dialect name -> the INSERT that skips updates kept already


def _store_new(dialect: str):
    statement = _STORE_NEW.get(dialect)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(table_of(InboundUpdate))
            .values(
                channel=bindparam("ch"),
                external_key=bindparam("key"),
                payload=bindparam("payload"),
                received_at=bindparam("now"),
                state="pending",
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_key"])
            .returning(_inbound.external_key)
        )
        _STORE_NEW[dialect] = statement
    return statement


def store_many(
    db: Database, channel: str, updates: list[tuple[str, dict]], now: datetime | None = None
) -> set[str]:
    """Keep updates (key, payload), pending, in one transaction; the keys of those newly
    kept (one delivered again is kept once, and whatever it became is left alone)."""
    if not updates:
        return set()
    at = now or utcnow()
    with db.engine.begin() as conn:
        rows = conn.execute(
            _store_new(conn.dialect.name),
            [
                {"ch": channel, "key": key[:KEY_MAX], "payload": payload, "now": at}
                for key, payload in updates
            ],
        )
        return {row[0] for row in rows}


def mark_done(
    session: Session,
    channel: str,
    key: str,
    payload: dict | None = None,
    now: datetime | None = None,
) -> None:
    """Inside the update's own transaction: claim it as done, or raise ``AlreadyHandled``
    if it has an outcome already.

    ``payload``: the update as it came, when it may not be stored yet: it is inserted,
    done, unless it is stored already. Without it the update must be stored (pending)."""
    if not settle(session.connection(), channel, key, "done", payload, now or utcnow()):
        raise AlreadyHandled(key)


def mark_failed(db: Database, channel: str, key: str, payload: dict | None = None) -> bool:
    """Set an update aside, unhandled (kept, as ``mark_done`` keeps it, when ``payload``);
    False when it had an outcome already."""
    with db.session() as session:
        return settle(session.connection(), channel, key, "failed", payload, utcnow())


def settle(conn, channel: str, key: str, state: str, payload: dict | None, now: datetime) -> bool:
    """Give a pending (or, with its payload, a not yet stored) update its outcome; False
    when it had one already."""
    params = {"ch": channel, "key": key[:KEY_MAX], "new_state": state, "now": now}
    if payload is None:
        return conn.execute(_MARK, params).rowcount > 0
    statement = _keep(conn.dialect.name)
    return conn.execute(statement, {**params, "payload": payload}).first() is not None


@dataclass
class Resumed:
    """What a start finds a crash left pending: ``due``, to handle again (key, payload),
    oldest first; ``set_aside``, those that failed ``MAX_ATTEMPTS`` starts, now failed."""

    due: list[tuple[str, dict]] = field(default_factory=list)
    set_aside: list[tuple[str, dict]] = field(default_factory=list)


def pending(
    db: Database, channel: str, *, up_to: int | None = None, max_attempts: int = MAX_ATTEMPTS
) -> Resumed:
    """Updates of ``channel`` a crash left unhandled (with an id up to ``up_to``, when
    given), oldest first; each start counts as an attempt."""
    resumed = Resumed()
    with db.session() as session:
        query = select(InboundUpdate).where(
            InboundUpdate.channel == channel, InboundUpdate.state == "pending"
        )
        if up_to is not None:
            query = query.where(col(InboundUpdate.id) <= up_to)
        for row in session.exec(query.order_by(col(InboundUpdate.id))).all():
            row.attempts += 1
            if row.attempts > max_attempts:
                row.state = "failed"
                row.done_at = utcnow()
                log.error(
                    "%s update %s failed %d times; set aside",
                    channel,
                    row.external_key,
                    max_attempts,
                )
                resumed.set_aside.append((row.external_key, row.payload))
            else:
                resumed.due.append((row.external_key, row.payload))
            session.add(row)
    return resumed


def last_pending(db: Database, channel: str) -> int | None:
    """The id of the newest update of ``channel`` left pending, if any: what a start is to
    handle again, and nothing stored after it."""
    with db.read_session() as session:
        return session.exec(
            select(InboundUpdate.id)
            .where(InboundUpdate.channel == channel, InboundUpdate.state == "pending")
            .order_by(col(InboundUpdate.id).desc())
            .limit(1)
        ).first()


def state_of(db: Database, channel: str, key: str) -> str | None:
    """The state an update is kept in, or None when it is not kept."""
    with db.read_session() as session:
        return session.exec(
            select(InboundUpdate.state).where(
                InboundUpdate.channel == channel, InboundUpdate.external_key == key[:KEY_MAX]
            )
        ).first()


def counts(db: Database, channel: str) -> dict[str, int]:
    with db.read_session() as session:
        rows = session.exec(
            select(InboundUpdate.state).where(InboundUpdate.channel == channel)
        ).all()
    result: dict[str, int] = {}
    for state in rows:
        result[state] = result.get(state, 0) + 1
    return result
