"""Updates are kept in the database before Telegram is told they arrived.

python-telegram-bot's Updater puts every update it fetches (long polling) or receives
(webhook) into ``Application.update_queue``. ``DurableUpdateQueue.put`` first stores the
update in ``inbound_update``, so:

- in polling mode, the offset that confirms an update to Telegram is only sent after the
  update is stored (the Updater confirms with its next ``getUpdates`` call);
- in webhook mode, the HTTP answer that tells Telegram to stop retrying is only written after
  the update is stored (the webhook handler awaits ``put``).

An update is marked done inside the same transaction as its effects (``mark_done`` runs in
``Engine.handle``'s ``within`` hook). On start, the updates still pending — those a crash
interrupted — are queued again. An update Telegram sends twice is stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import insert as sql_insert
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from telegram import Update
from telegram.request import BaseRequest, RequestData

from storage.clock import utcnow
from storage.db import Database
from storage.models import InboundUpdate, table_of

CHANNEL = "telegram"
MAX_ATTEMPTS = 3  # an update that failed this many starts is set aside as failed
log = logging.getLogger(__name__)


# Built once: these run for every update, and SQLAlchemy reuses a statement object's
# compiled form without building the expression again.
_STORE = sql_insert(table_of(InboundUpdate)).values(
    channel=CHANNEL,
    external_key=bindparam("key"),
    payload=bindparam("payload"),
    received_at=bindparam("now"),
    state="pending",
    attempts=0,
)
_inbound = table_of(InboundUpdate).c
_MARK = (
    sql_update(table_of(InboundUpdate))  # the table: a plain statement, no ORM bookkeeping
    .where(
        _inbound.channel == CHANNEL,
        _inbound.external_key == bindparam("key"),
        _inbound.state == "pending",
    )
    .values(state=bindparam("new_state"), done_at=bindparam("now"))
)


class AlreadyHandled(Exception):
    """Another worker (or an earlier run) already applied this update."""


def key_of(bot_id: int, update_id: int) -> str:
    return f"{bot_id}:{update_id}"


def store(db: Database, key: str, payload: dict, now: datetime | None = None) -> bool:
    """Keep an update; False when it was already kept (Telegram sent it again)."""
    try:
        with db.engine.begin() as conn:  # a plain INSERT: this runs for every update
            conn.execute(_STORE, {"key": key, "payload": payload, "now": now or utcnow()})
    except IntegrityError:
        return False
    return True


def mark_done(session: Session, key: str, now: datetime | None = None) -> None:
    """Inside the update's own transaction: claim it as done, or refuse if it already is.

    A statement on the table, not the mapped class: SQLAlchemy skips the ORM's bulk-update
    bookkeeping (nothing of this table is loaded in the session)."""
    result = session.connection().execute(
        _MARK, {"key": key, "new_state": "done", "now": now or utcnow()}
    )
    if result.rowcount == 0:
        raise AlreadyHandled(key)


def mark_failed(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(_MARK, {"key": key, "new_state": "failed", "now": utcnow()})


def pending(db: Database) -> list[dict]:
    """Updates a crash left unhandled, oldest first; each start counts as an attempt."""
    with db.session() as session:
        rows = session.exec(
            select(InboundUpdate)
            .where(InboundUpdate.channel == CHANNEL, InboundUpdate.state == "pending")
            .order_by(col(InboundUpdate.id))
        ).all()
        payloads = []
        for row in rows:
            row.attempts += 1
            if row.attempts > MAX_ATTEMPTS:
                row.state = "failed"
                row.done_at = utcnow()
                log.error("update %s failed %d times; set aside", row.external_key, MAX_ATTEMPTS)
            else:
                payloads.append(row.payload)
            session.add(row)
        return payloads


def counts(db: Database) -> dict[str, int]:
    with db.read_session() as session:
        rows = session.exec(
            select(InboundUpdate.state).where(InboundUpdate.channel == CHANNEL)
        ).all()
    result: dict[str, int] = {}
    for state in rows:
        result[state] = result.get(state, 0) + 1
    return result


class KeepsRawUpdates(BaseRequest):
    """The request that fetches updates (``getUpdates``), keeping each update's JSON as
    Telegram sent it until the queue stores it: turning the parsed ``Update`` back into a
    dict costs python-telegram-bot more than a millisecond of every three the channel spends
    on an update outside the engine, and parsing the answer's JSON again costs little."""

    KEEP = 1_000  # updates kept at most (each is taken, by the queue, moments after)

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner
        self._raw: dict[int, dict] = {}

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # timeouts: float, None, or python-telegram-bot's "not given"
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == 200 and url.endswith("/getUpdates"):
            self._keep(payload)
        return code, payload

    def _keep(self, payload: bytes) -> None:
        try:
            result = json.loads(payload)["result"]
        except (ValueError, KeyError, TypeError):
            return  # python-telegram-bot reports what is wrong with it
        if not isinstance(result, list):
            return
        for update in result:
            if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                self._raw[update["update_id"]] = update
        while len(self._raw) > self.KEEP:
            self._raw.pop(next(iter(self._raw)))

    def take(self, update_id: int) -> dict | None:
        """The update's JSON as it came, once; None if it did not come through here."""
        return self._raw.pop(update_id, None)


class DurableUpdateQueue(asyncio.Queue):
    """The Application's update queue; an update is stored before it is queued."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.bot_id: int | None = None
        self.raw: KeepsRawUpdates | None = None  # where polled updates' JSON waits

    async def put(self, item) -> None:
        if isinstance(item, Update) and self.bot_id is not None:
            kept = self.raw.take(item.update_id) if self.raw is not None else None
            payload = kept if kept is not None else item.to_dict()
            key = key_of(self.bot_id, item.update_id)
            if not await asyncio.to_thread(store, self.db, key, payload):
                log.info("update %s arrived again; already kept", key)
                return
        await super().put(item)
