"""The bots under measurement: the product (``bot.run.serve``: the python-telegram-bot
Application around the conversation engine, and the notice dispatcher) and a plain
python-telegram-bot echo bot, each on the in-process Bot API or on the HTTP fake server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import App
from bot.run import serve
from bot.settings import Settings
from storage.db import Database
from storage.files import AttachmentStore
from workflow.core import Workflow
from workflow.rules import Rules

START_TIMEOUT = 30.0


def bench_rules(**overrides) -> Rules:
    """The default rules, with no quiet hours (the benchmarks run at any hour)."""
    names = {f.name for f in dataclasses.fields(Rules)}
    wanted = {"quiet_hours_start": "00:00", "quiet_hours_end": "00:00", **overrides}
    return Rules(**{k: v for k, v in wanted.items() if k in names})


def make_app(db: Database, workdir: Path, token: str, api_url: str | None = None) -> App:
    settings = Settings(
        _env_file=None,
        database_url=db.url,
        telegram_token=SecretStr(token),
        telegram_api_url=api_url,
        data_dir=workdir,
    )
    return App(
        settings=settings,
        db=db,
        workflow=Workflow(rules=bench_rules()),
        store=AttachmentStore(workdir / "attachments"),
    )


@contextlib.asynccontextmanager
async def product_bot(app: App, **channel_options) -> AsyncIterator[None]:
    """``proposalbot run`` in this event loop (polling) until the block ends."""
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(app, stop, started=started, **channel_options))
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait(
        {task, waiter}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
    )
    if task in done:
        waiter.cancel()
        task.result()
    if not started.is_set():
        raise RuntimeError("the bot did not start")
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, START_TIMEOUT)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


def echo_application(token: str, *, request=None, base_url: str | None = None) -> Application:
    """A plain python-telegram-bot bot that answers every text with the same text."""
    builder = ApplicationBuilder().token(token)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if base_url is not None:
        builder = builder.base_url(base_url)
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, _echo))
    return application


@contextlib.asynccontextmanager
async def echo_bot(token: str, **options) -> AsyncIterator[Application]:
    application = echo_application(token, **options)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=10)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
