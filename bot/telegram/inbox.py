"""Updates are kept in the database before Telegram is told they arrived.

python-telegram-bot's Updater puts every update it fetches (long polling) or receives
(webhook) into ``Application.update_queue`` (``DurableUpdateQueue``):

- in polling mode, an update is handled at once, and kept by its own transaction: the one
  that applies its effects also inserts it, done (``mark_done`` with its payload, in
  ``Engine.handle``'s ``within`` hook). The offset that confirms it to Telegram is only sent
  with the next ``getUpdates``, and that call waits until every update fetched before is
  kept: handled, or, when its handling takes longer than ``HOLD_SECONDS``, stored as pending
  in one transaction with the others still being handled;
- in webhook mode, an update is stored before it is queued, and the HTTP answer that tells
  Telegram to stop retrying is only written after that; its handling marks it done.

Either way an update is kept before it is confirmed, applied once, and never by halves. On
start, the updates still pending — those a crash interrupted — are queued again. An update
Telegram sends twice is kept once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.request import BaseRequest, RequestData

from storage import inbound
from storage.db import Database

CHANNEL = "telegram"
MAX_ATTEMPTS = inbound.MAX_ATTEMPTS  # an update that failed this many starts is set aside
log = logging.getLogger(__name__)


AlreadyHandled = inbound.AlreadyHandled  # another worker (or an earlier run) applied it


def key_of(bot_id: int, update_id: int) -> str:
    return f"{bot_id}:{update_id}"


# The statements are ``storage.inbound``'s, for every channel; these name Telegram's.


def store_many(
    db: Database, updates: list[tuple[str, dict]], now: datetime | None = None
) -> set[str]:
    """Keep updates (key, payload) in one transaction; the keys of those newly kept (an
    update Telegram sent again is kept once)."""
    return inbound.store_many(db, CHANNEL, updates, now)


def store(db: Database, key: str, payload: dict, now: datetime | None = None) -> bool:
    """Keep an update; False when it was already kept (Telegram sent it again)."""
    return bool(store_many(db, [(key, payload)], now))


def mark_done(
    session: Session, key: str, payload: dict | None = None, now: datetime | None = None
) -> None:
    """Inside the update's own transaction: claim it as done, or refuse if it already is.

    ``payload``: the update as Telegram sent it, when it may not be stored yet (a polled
    update): it is inserted, done, unless it is stored already. Without it the update must
    be stored (pending)."""
    inbound.mark_done(session, CHANNEL, key, payload, now)


def mark_failed(db: Database, key: str, payload: dict | None = None) -> None:
    """Set an update aside, unhandled (kept, as ``mark_done`` keeps it, when ``payload``)."""
    inbound.mark_failed(db, CHANNEL, key, payload)


def pending(db: Database) -> list[dict]:
    """Updates a crash left unhandled, oldest first; each start counts as an attempt."""
    return [payload for _key, payload in inbound.pending(db, CHANNEL).due]


def counts(db: Database) -> dict[str, int]:
    return inbound.counts(db, CHANNEL)


class KeepsRawUpdates(BaseRequest):
    """The request that fetches updates (``getUpdates``), keeping each update's JSON as
    Telegram sent it until the queue stores it: turning the parsed ``Update`` back into a
    dict costs python-telegram-bot more than a millisecond of every three the channel spends
    on an update outside the engine, and parsing the answer's JSON again costs little."""

    KEEP = 1_000  # updates kept at most (each is taken, by the queue, moments after)

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner
        self._raw: dict[int, dict] = {}
        self._fetched: bytes | None = None  # the answer of the last getUpdates, until parsed
        # awaited before each getUpdates, whose offset confirms the updates fetched before
        self.before_fetch: Callable[[], Awaitable[None]] | None = None

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
        fetching = url.endswith("/getUpdates")
        if fetching and self.before_fetch is not None:
            await self.before_fetch()
        code, payload = await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == 200 and fetching:
            self._fetched = payload  # kept when python-telegram-bot parses it, next
        return code, payload

    def parse_json_payload(self, payload: bytes) -> dict:  # type: ignore[override]
        """The answer's JSON, parsed once: a fetch's updates are kept as they came, and given
        to python-telegram-bot ``lean``."""
        data = BaseRequest.parse_json_payload(payload)
        if payload is not self._fetched:
            return data
        self._fetched = None
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            return data  # python-telegram-bot reports what is wrong with it
        for update in result:
            if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                self._raw[update["update_id"]] = update
        while len(self._raw) > self.KEEP:
            self._raw.pop(next(iter(self._raw)))
        return {**data, "result": [lean(update) for update in result]}

    def take(self, update_id: int) -> dict | None:
        """The update's JSON as it came, once; None if it did not come through here."""
        return self._raw.pop(update_id, None)


LEAN_MESSAGE = ("message_id", "chat", "date")  # what a callback query's message keeps


def lean(update: Any) -> Any:
    """The update as python-telegram-bot is to make objects of it: a callback query's message
    cut to what names it (id, chat, date). Telegram sends the whole message the button was
    under, its text, entities and keyboard, and making objects of those cost more than the
    rest of the update together (0.24 ms against 0.09 ms); the channel reads them, when it
    marks the choice on the message, from the update kept as it came."""
    if not isinstance(update, dict):
        return update
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return update
    message = query.get("message")
    if not isinstance(message, dict):
        return update
    cut = {key: message[key] for key in LEAN_MESSAGE if key in message}
    return {**update, "callback_query": {**query, "message": cut}}


class DurableUpdateQueue(asyncio.Queue):
    """The Application's update queue: no update is confirmed to Telegram before it is kept.

    A polled update is queued at once; its handling keeps it (see the module docstring).
    The next ``getUpdates``, whose offset confirms the updates fetched before it, first
    waits (``stored``, called by ``KeepsRawUpdates``) up to ``HOLD_SECONDS`` for them to be
    handled, then stores those still being handled, together, in one transaction. A
    webhook's update is stored before its ``put`` returns, and so before the HTTP answer that
    confirms it. Storing that fails is tried again: nothing is confirmed before it is kept.
    """

    RETRY_SECONDS = 1.0
    HOLD_SECONDS = 0.02  # an update is handled in a few milliseconds; a file may take seconds

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.bot_id: int | None = None
        self.raw: KeepsRawUpdates | None = None  # where polled updates' JSON waits
        # Polled updates being handled: key -> payload, until ``settled``.
        self._payloads: dict[str, dict] = {}
        self._open: set[str] = set()  # of those, the ones neither handled nor stored yet
        self._abandoned: set[str] = set()  # open ones whose handling broke off
        self._none_open = asyncio.Event()
        self._none_open.set()
        # To store: (key, payload, the update to queue once stored or None when it is
        # queued already, the future a webhook's put waits on or None)
        self._unstored: list[tuple[str, dict, Update | None, asyncio.Future | None]] = []
        self._storing: asyncio.Task | None = None

    async def put(self, item) -> None:
        if not isinstance(item, Update) or self.bot_id is None:
            await super().put(item)
            return
        key = key_of(self.bot_id, item.update_id)
        kept = self.raw.take(item.update_id) if self.raw is not None else None
        if kept is not None:  # polled: the getUpdates that confirms it waits for it
            if key in self._payloads:
                log.info("update %s arrived again while being handled", key)
                return
            self._payloads[key] = kept
            self._open.add(key)
            self._none_open.clear()
            self.put_nowait(item)
            return
        done = asyncio.get_running_loop().create_future()
        self._unstored.append((key, item.to_dict(), item, done))
        self._store_soon()
        await done

    def payload(self, key: str) -> dict | None:
        """A polled update's JSON while it is handled: its handling keeps it with this (None
        for an update that was stored first: a webhook's, or one queued again at start)."""
        return self._payloads.get(key)

    def settled(self, key: str, *, kept: bool = True) -> None:
        """The update's handling has ended. ``kept``: its outcome is committed (done, or set
        aside as failed). Otherwise its handling broke off before it could say so: it is
        stored, pending, by the next fetch (if it is not already), and handled again at
        the next start. Once so, it stays so (the handling's end may report it again)."""
        if key in self._abandoned:
            return
        if not kept and key in self._open:
            self._abandoned.add(key)  # ``stored`` stores it, then lets its payload go
            return
        self._payloads.pop(key, None)
        self._open.discard(key)
        if not self._open:
            self._none_open.set()

    async def stored(self) -> None:
        """Wait until every update handed over so far is kept: handled within
        ``HOLD_SECONDS``, or stored."""
        if self._open:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_open.wait(), self.HOLD_SECONDS)
        if self._open:  # still being handled: stored now, their handling marks them done
            self._unstored.extend((key, self._payloads[key], None, None) for key in self._open)
            for key in self._abandoned:
                self._payloads.pop(key, None)
            self._abandoned.clear()
            self._open.clear()
            self._none_open.set()
            self._store_soon()
        while self._storing is not None and not self._storing.done():
            await asyncio.shield(self._storing)

    def _store_soon(self) -> None:
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store_all(), name="inbox:store")

    async def _store_all(self) -> None:
        while self._unstored:
            batch, self._unstored = self._unstored, []
            try:
                new = await asyncio.to_thread(
                    store_many, self.db, [(key, payload) for key, payload, _, _ in batch]
                )
            except Exception as exc:
                log.exception("%d updates could not be stored; trying again", len(batch))
                for *_, done in batch:
                    if done is not None and not done.done():
                        done.set_exception(exc)  # the webhook answers 500: Telegram resends
                polled = [entry for entry in batch if entry[3] is None]
                self._unstored[:0] = polled
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            for key, _payload, update, done in batch:
                if update is None:
                    pass  # polled, queued already: kept now, pending or handled meanwhile
                elif key in new:
                    self.put_nowait(update)
                else:
                    log.info("update %s arrived again; already kept", key)
                if done is not None and not done.done():
                    done.set_result(None)
