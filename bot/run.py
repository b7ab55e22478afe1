"""``proposalbot run``: the channels and the notice dispatcher in one process.

The engine and the workflow are synchronous; each update is handled in a worker thread, off
the event loop, in its own transaction.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import secrets
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.dispatcher import Dispatcher, Unreachable
from bot.scheduler import Scheduler
from bot.telegram.channel import TelegramChannel
from handlers import similar

log = logging.getLogger(__name__)


@dataclass
class Webhook:
    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str = ""
    url_path: str = ""

    def __post_init__(self) -> None:
        if not self.secret_token:
            self.secret_token = secrets.token_urlsafe(32)


M_ARENA_MAX = -8  # glibc's mallopt() parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let at most ``arenas`` malloc heaps serve the process's threads. glibc gives each
    thread that allocates a heap of its own, up to eight per core; the worker threads of the
    engine and the dispatcher then leave memory fragmented over several heaps that the
    process keeps (about 5 MB at national scale). Their Python work runs one at a time under
    the interpreter lock anyway. Left alone where ``MALLOC_ARENA_MAX`` says otherwise, and
    where the C library is not glibc; True when set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc: nothing to set
        return False


def warm_similarity(app: App) -> None:
    """Build this year's similar-proposal index before the first member taps 📤 提交 (at
    national scale it takes about half a second; later checks only add what is new)."""
    try:
        with app.db.read_session() as session:
            year = app.workflow.ctx(session, None).today.year
            held = similar.warm(session, year)
        log.info("similar-proposal index ready: %d proposals of %d", held, year)
    except Exception:  # the check builds the index itself if this fails
        log.exception("could not build the similar-proposal index at start-up")


async def settle_in(app: App) -> None:
    """What follows the start: the similar-proposal index, then the objects made so far put
    out of the garbage collector's reach."""
    await asyncio.to_thread(warm_similarity, app)
    freeze_what_lasts()


def freeze_what_lasts() -> None:
    """Everything made while starting (modules, the mappers and compiled statements, the
    word index, python-telegram-bot's objects) lives as long as the process. Python's full
    collections walk every object the process holds, and each one stopped every thread for
    about 100 ms (six during a minute of chat): that pause was the slowest answers. Frozen,
    they are never walked again; collections look at what the conversations make."""
    gc.collect()
    gc.freeze()
    log.info("start-up objects frozen: %d out of the collector's reach", gc.get_freeze_count())


def telegram_channel(app: App, **overrides: Any) -> TelegramChannel:
    settings = app.settings
    if settings.telegram_token is None:
        raise ValueError("PROPOSALBOT_TELEGRAM_TOKEN is not set")
    base_url, base_file_url = settings.telegram_urls()
    options: dict[str, Any] = dict(
        app=app,
        token=settings.telegram_token.get_secret_value(),
        base_url=base_url,
        base_file_url=base_file_url,
        rate_limit=settings.telegram_rate_limit,
    )
    options.update(overrides)
    return TelegramChannel(**options)


async def serve(
    app: App,
    stop: asyncio.Event,
    *,
    webhook: Webhook | None = None,
    started: asyncio.Event | None = None,
    schedule: bool = True,
    **channel_options,
) -> None:
    """Run until ``stop`` is set: Telegram (polling or webhook), the notice dispatcher and
    the scheduled sweeps (``schedule``)."""
    channel = telegram_channel(app, **channel_options)
    settings = app.settings
    dispatcher = Dispatcher(
        app,
        {"telegram": channel.deliver},
        unreachable_errors=(Unreachable,),
        lease=timedelta(seconds=settings.notice_lease_seconds),
        max_attempts=settings.notice_max_attempts,
    )
    channel.on_handled = dispatcher.wake
    async with channel:
        if webhook is not None:
            await channel.start_webhook(
                url=webhook.url,
                listen=webhook.listen,
                port=webhook.port,
                secret_token=webhook.secret_token,
                url_path=webhook.url_path,
            )
        else:
            await channel.start_polling()
        await run_beside(app, dispatcher, stop, schedule=schedule, started=started)


async def run_beside(
    app: App,
    dispatcher: Dispatcher,
    stop: asyncio.Event,
    *,
    schedule: bool = True,
    started: asyncio.Event | None = None,
) -> None:
    """Beside a channel that runs: the notice dispatcher, the warm-up (``settle_in``) and
    the scheduled sweeps (``schedule``), until ``stop`` is set; ``started`` is set once all
    of them are going."""
    scheduler = Scheduler(app, on_notices=dispatcher.wake) if schedule else None
    task = asyncio.create_task(dispatcher.run(stop), name="dispatcher")
    warming = asyncio.create_task(settle_in(app), name="warm")
    if scheduler is not None:
        scheduler.start()
    if started is not None:
        started.set()
    try:
        await stop.wait()
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        await task
        await warming
        gc.unfreeze()  # back to the collector, for a process that runs the bot again


def run(app: App, webhook: Webhook | None = None, channel: str = "telegram") -> None:
    """Run in the foreground until SIGINT or SIGTERM, on ``channel`` (telegram or wechat)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if channel == "wechat":
            from bot.wechat.serve import serve as serve_wechat

            await serve_wechat(app, stop)
            return
        await serve(app, stop, webhook=webhook)

    asyncio.run(main())
