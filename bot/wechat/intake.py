"""Every WeChat message is handled once, whatever the puppet service sends again.

A message's id is kept in ``inbound_update`` (channel ``wechat``), by the transaction that
applies the message's effects (``claim``, in ``Engine.handle``'s ``within`` hook): a message
seen before finds its id there, and that transaction is rolled back, nothing applied. A
message answered without the engine (a type the bot does not take, a code that is not
valid) is kept by ``record``, alone. Wechaty itself drops an id it emitted before, but only
in the memory of one process: this holds across restarts and between processes sharing
the database.

Unlike Telegram's updates, a message is not stored before it is handled, and nothing is
resumed at start: the puppet service emits a message once, to whoever listens, and offers
no way to confirm it. A message whose handling a crash interrupts is not applied (its
transaction never committed); the person sees no answer and writes again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from storage.clock import utcnow
from storage.db import Database
from storage.models import InboundUpdate, table_of

CHANNEL = "wechat"
_inbound = table_of(InboundUpdate).c
_SEEN = select(_inbound.id).where(
    _inbound.channel == CHANNEL, _inbound.external_key == bindparam("key")
)
_KEEP: dict[str, Any] = {}  # dialect name -> the INSERT that keeps a message's id once


class AlreadyHandled(Exception):
    """The message was handled before (by this process, an earlier run or another one)."""


def _keep(dialect: str):
    statement = _KEEP.get(dialect)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(table_of(InboundUpdate))
            .values(
                channel=CHANNEL,
                external_key=bindparam("key"),
                payload=bindparam("payload"),
                received_at=bindparam("now"),
                state=bindparam("new_state"),
                attempts=0,
                done_at=bindparam("now"),
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_key"])
            .returning(_inbound.id)
        )
        _KEEP[dialect] = statement
    return statement


def _insert(session: Session, key: str, payload: dict, state: str, now: datetime) -> bool:
    conn = session.connection()
    params = {"key": key[:100], "payload": payload, "new_state": state, "now": now}
    return conn.execute(_keep(conn.dialect.name), params).first() is not None


def claim(session: Session, key: str, payload: dict) -> None:
    """Inside the message's own transaction: keep its id, done, or refuse if it is kept."""
    if not _insert(session, key, payload, "done", utcnow()):
        raise AlreadyHandled(key)


def record(db: Database, key: str, payload: dict, state: str = "done") -> bool:
    """Keep a message answered without the engine; False when it was seen before."""
    with db.session() as session:
        return _insert(session, key, payload, state, utcnow())


def seen(db: Database, key: str) -> bool:
    """Whether a message was handled before (read before fetching a file again)."""
    with db.read_session() as session:
        return session.execute(_SEEN, {"key": key[:100]}).first() is not None
