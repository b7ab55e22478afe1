"""1. Conversation throughput: the floor under one update.

What the layers under the product cost on this machine, each measured alone, one thread, no
event loop around it, so the conversation figures can be read against them:

- *driver*: the database driver itself (sqlite3, psycopg) runs the transaction every update
  begins with: read the conversation and its person, write the conversation back, commit;
- *SQLAlchemy Core* runs the same two statements (the engine's own, compiled once) on a
  connection of the product's engine (its pool, its hooks: SQLite's one-writer lock);
- *SQLAlchemy Session* runs them in ``Database.session()`` on the session's connection, and
  makes the person's columns into the ORM object, as the engine does;
- *engine, an answer only*: ``Engine.handle`` of /help (the whole turn, no domain change);
- *engine, the submission*: ``Engine.handle`` of every update of whole submissions (the
  conversation benchmark's script), called directly, its mean per update;
- *Bot API call*: one sendMessage through python-telegram-bot (``Bot.do_api_request``) to the
  in-process Bot API: what each of the product's replies, edits and answers costs the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot

from bench.botapi import TOKEN, InProcessBotAPI
from bench.bots import make_app
from bench.databases import Backend, fresh
from bench.people import SIMILAR, content_for, make_roster, submission_steps
from bench.stats import median
from handlers.engine import _CONVERSATION, _PERSON_KEYS, _WRITE_CONVERSATION
from handlers.messages import Event, Out, Sender
from storage.clock import utcnow
from storage.models import Person, attached

LAYERS = (
    ("driver", "the driver alone ({driver}): read conversation + person, write it, commit"),
    ("core", "SQLAlchemy Core: the same two statements on the product's engine"),
    ("session", "SQLAlchemy Session (`Database.session()`): the same, as the engine runs them"),
    ("turn", "the engine, an answer only (`Engine.handle` of /help)"),
    ("submission", "the engine, the submission's updates (`Engine.handle`, mean per update)"),
    ("api_call", "one Bot API call through python-telegram-bot (in-process Bot API)"),
)


@dataclass
class Sizes:
    repeats: int = 2_000  # transactions per timing of a database layer
    members: int = 40  # whole submissions per timing of the engine
    calls: int = 2_000  # Bot API calls per timing
    batches: int = 5  # timings of each; the median is reported


@dataclass
class Floor:
    driver: str
    ms: dict[str, float]  # layer -> milliseconds per transaction / update / call
    batches: int  # timings of each layer


def _timed(batches: int, count: int, body: Callable[[], None]) -> float:
    """Median over ``batches`` of the milliseconds one call of ``body`` takes."""
    body()  # warm: compiled statements, caches, connections
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(count):
            body()
        times.append((time.perf_counter() - start) / count * 1000)
    return median(times)


def _driver_sql(paramstyle: str) -> tuple[str, str]:
    mark = "?" if paramstyle == "qmark" else "%s"
    read = (
        "SELECT c.id, c.flow, c.step, c.data, c.version, a.unreachable, p.* "
        "FROM conversation c LEFT JOIN channel_account a "
        "ON a.channel = c.channel AND a.external_id = c.external_id "
        "LEFT JOIN person p ON p.id = a.person_id "
        f"WHERE c.channel = {mark} AND c.external_id = {mark}"
    )
    if paramstyle != "qmark":
        read += " FOR UPDATE OF c"
    write = (
        f"UPDATE conversation SET person_id = {mark}, flow = {mark}, step = {mark}, "
        f"data = {mark}, version = {mark}, updated_at = {mark} WHERE id = {mark}"
    )
    return read, write


def _submission_events(engine, sender: Sender, index: int) -> int:
    """One member's whole submission through ``engine.handle``; the number of updates."""
    said: list[Out] = []
    updates = 0

    def tap(label: str) -> list[Out]:
        payload = next(c.payload for o in said for c in o.choices if c.label == label)
        return engine.handle(sender, Event(kind="choice", payload=payload))

    for kind, arg, _expect in submission_steps(content_for(index)):
        said = engine.handle(sender, Event.of_text(arg)) if kind == "send" else tap(arg)
        updates += 1
    if any(SIMILAR in o.text for o in said):
        said = tap("📤 仍然提交")
        updates += 1
    return updates


async def _api_call_ms(sizes: Sizes) -> float:
    api = InProcessBotAPI()
    chat = api.chat(1, "floor")
    async with Bot(TOKEN, request=api, get_updates_request=InProcessBotAPI()) as bot:
        params = {"chat_id": chat.chat_id, "text": "请选择要办理的事项。", "parse_mode": "HTML"}
        await bot.do_api_request("sendMessage", api_kwargs=params)
        times = []
        for _ in range(sizes.batches):
            start = time.perf_counter()
            for _ in range(sizes.calls):
                await bot.do_api_request("sendMessage", api_kwargs=params)
            times.append((time.perf_counter() - start) / sizes.calls * 1000)
            chat.seen.clear()
            chat.messages.clear()
    return median(times)


def measure(backend: Backend, sizes: Sizes, workdir: Path) -> Floor:
    with fresh(backend, "floor") as db:
        members = 1 + sizes.members * sizes.batches + 1
        _world, bound = make_roster(db, members)
        app = make_app(db, workdir, TOKEN)
        engine = app.engine
        senders = [Sender("telegram", str(uid)) for _pid, uid in bound]
        first = senders[0]
        engine.handle(first, Event.of_text("/menu"))  # its conversation row
        params = {"channel": first.channel, "external_id": first.external_id}

        def write(run, row) -> None:
            run(
                _WRITE_CONVERSATION,
                {
                    "conv_id": row[0],
                    "new_person_id": row[6],
                    "new_flow": row[1],
                    "new_step": row[2],
                    "new_data": row[3],
                    "new_version": row[4] + 1,
                    "new_updated_at": utcnow(),
                },
            )

        def session_turn() -> None:
            with db.session() as session:
                conn = session.connection()
                row = conn.execute(_CONVERSATION, params).first()
                assert row is not None and row[6] is not None
                attached(session, Person, dict(zip(_PERSON_KEYS, row[6:], strict=True)))
                write(conn.execute, row)

        def core_turn() -> None:
            with db.engine.begin() as conn:
                row = conn.execute(_CONVERSATION, params).first()
                assert row is not None
                conn.execute(
                    _WRITE_CONVERSATION,
                    {
                        "conv_id": row[0],
                        "new_person_id": row[6],
                        "new_flow": row[1],
                        "new_step": row[2],
                        "new_data": row[3],
                        "new_version": row[4] + 1,
                        "new_updated_at": utcnow(),
                    },
                )

        raw = db.engine.raw_connection()
        driver = raw.dbapi_connection
        paramstyle = db.engine.dialect.paramstyle
        read_sql, write_sql = _driver_sql(paramstyle)

        if db.is_sqlite:
            moment: Callable[[], object] = lambda: utcnow().isoformat(sep=" ")  # noqa: E731
            as_json: Callable[[object], object] = lambda data: data  # noqa: E731 - the text
        else:
            from psycopg.types.json import Json

            moment, as_json = utcnow, Json

        def driver_turn() -> None:
            cursor = driver.cursor()
            if db.is_sqlite:  # the connection is in autocommit: BEGIN is said, as the product does
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(read_sql, (first.channel, first.external_id))
            row = cursor.fetchone()
            cursor.execute(
                write_sql, (row[6], row[1], row[2], as_json(row[3]), row[4] + 1, moment(), row[0])
            )
            driver.commit()
            cursor.close()

        try:
            ms = {"driver": _timed(sizes.batches, sizes.repeats, driver_turn)}
        finally:
            raw.close()
        ms["core"] = _timed(sizes.batches, sizes.repeats, core_turn)
        ms["session"] = _timed(sizes.batches, sizes.repeats, session_turn)
        ms["turn"] = _timed(
            sizes.batches, sizes.repeats // 4, lambda: engine.handle(first, Event.of_text("/help"))
        )
        spare = iter(senders[1:])
        _submission_events(engine, next(spare), 0)  # warm: the similar-proposal index
        times = []
        for batch in range(sizes.batches):
            start, updates = time.perf_counter(), 0
            for i in range(sizes.members):
                updates += _submission_events(engine, next(spare), 1 + batch * sizes.members + i)
            times.append((time.perf_counter() - start) / updates * 1000)
        ms["submission"] = median(times)
        ms["api_call"] = asyncio.run(_api_call_ms(sizes))
        name = "sqlite3" if db.is_sqlite else "psycopg"
    return Floor(name, ms, sizes.batches)


def floor_table(floors: dict[str, Floor], labels: dict[str, str]) -> str:
    """Milliseconds per transaction, update or call, one column per database."""
    from bench.report import table

    kinds = list(floors)
    rows = []
    for layer, text in LAYERS:
        drivers = "/".join(dict.fromkeys(floors[k].driver for k in kinds))
        rows.append([text.format(driver=drivers)] + [f"{floors[k].ms[layer]:.3f}" for k in kinds])
    return table(["layer (one thread, measured alone)"] + [labels[k] for k in kinds], rows)
