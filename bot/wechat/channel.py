"""The WeChat channel: Python Wechaty around the conversation engine.

One private message is one ``Event`` (channel ``wechat``, the sender's contact id as the
account), handled by the engine in a worker thread: one message, one transaction, which
also keeps the message's id (``intake``), so a message the puppet service sends again is
applied once. Messages of one contact are handled in the order they came; different
contacts run concurrently.

WeChat has no buttons: a step's choices are numbered lines the person answers with the
number (or the label), as on the console; a notice's actions are lines with a code
(``a1``…, ``codes``) the person types. Texts, files and pictures are taken; other messages
(voice, stickers, links, cards…) are answered with a sentence and change nothing. Messages
in groups and the bot's own are ignored.

Everything the bot sends goes out at least ``send_interval`` seconds apart, over all
contacts: an account that sends fast gets restricted by WeChat.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import filetype
import requests
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import select
from wechaty import Message, Wechaty, WechatyOptions
from wechaty_puppet import FileBox, MessageType, Puppet
from wechaty_puppet.file_box.type import FileBoxType
from wechaty_puppet.schemas.types import ContactType

from bot.app import App
from bot.dispatcher import Progress
from bot.wechat import codes as notice_codes
from bot.wechat import intake
from handlers.channel_texts import (
    FILE_TOO_BIG,
    FILE_UNREADABLE,
    LONG_TEXT_AS_FILE,
    TRY_AGAIN,
    WECHAT_CODE_UNKNOWN,
    WECHAT_NO_CONTACT,
    WECHAT_NOTICE_CODES,
    WECHAT_UNSUPPORTED,
)
from handlers.i18n import DEFAULT_LOCALE, gettext
from handlers.messages import Choice, Event, FileIn, Out, Sender, render_numbered, split_text
from storage.models import ChannelAccount, Person
from workflow.core import NOTICES_WRITTEN
from workflow.reach import mark_reachable

CHANNEL = intake.CHANNEL
TEXT_LIMIT = 2000  # characters a message: WeChat cuts longer texts in some clients
LONG_AS_FILE = 5  # a text that needs this many messages or more goes as a .txt file
DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024  # a file larger than this is not read at all
DOWNLOAD_TIMEOUT = 30.0
FILE_TYPES = {MessageType.MESSAGE_TYPE_ATTACHMENT, MessageType.MESSAGE_TYPE_IMAGE}
IGNORED_TYPES = {MessageType.MESSAGE_TYPE_RECALLED}  # a "message recalled" notice
log = logging.getLogger(__name__)


class FileTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass
class Handled:
    """What the engine's transaction learnt about the sender, for the channel's own use."""

    locale: str = DEFAULT_LOCALE
    notices: bool = False  # the message wrote notices


@dataclass
class WechatChannel:
    app: App
    puppet: Puppet
    send_interval: float = 1.5  # seconds between two messages the bot sends, at least
    on_handled: Callable[[], None] | None = None  # e.g. wake the notice dispatcher
    text_limit: int = TEXT_LIMIT
    reconnect_seconds: float = 5.0  # the first wait before connecting to the puppet again
    send_timeout: float = 60.0  # a send the puppet service has not answered by then failed
    bot: Wechaty = field(init=False)
    finished: int = field(init=False, default=0)  # messages whose handling has ended
    _locks: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)
    _waiting: dict[str, int] = field(init=False, default_factory=dict)
    _send_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _last_send: float | None = field(init=False, default=None)
    _running: asyncio.Task | None = field(init=False, default=None)
    _stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        # The scheduler Wechaty's plugins would use: one in memory (its default keeps a
        # job store in a SQLite file of its own); port 0: no plugin web server.
        options = WechatyOptions(puppet=self.puppet, scheduler=AsyncIOScheduler(), port=0)
        self.bot = Wechaty(options)
        self.bot.on("message", self._on_message)

    # ------------------------------------------------------------- life
    async def __aenter__(self) -> WechatChannel:
        self._stopping = False
        self._running = asyncio.create_task(self._keep_connected(), name="wechaty")
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._stopping = True
        try:
            await self.puppet.stop()  # its event stream ends: _keep_connected returns
        except Exception:
            log.warning("the Wechaty puppet did not stop cleanly", exc_info=True)
        if self._running is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._running, 5.0)

    async def _keep_connected(self) -> None:
        """Wechaty's own ``start()``, without what it does on a failure: on some it stops
        the whole event loop, on others it waits a minute and calls itself again. Here
        the puppet's event stream (which runs until the connection ends) is started again
        after a growing wait, whatever ended it, until the channel stops."""
        delay = self.reconnect_seconds
        while not self._stopping:
            try:
                await self.bot.init_puppet()
                await self.bot.init_puppet_event_bridge(self.puppet)
                self.bot.started = True
                await self.puppet.start()  # returns when its event stream ends
                delay = self.reconnect_seconds
                if self._stopping:
                    return
                log.warning("the Wechaty puppet service's event stream ended; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The service's messages carry no token (and the log redacts it anyway).
                log.error(
                    "could not reach the Wechaty puppet service (%s: %s); trying again in %g s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
            self.bot.started = False
            with contextlib.suppress(Exception):
                await self.puppet.stop()
            if self._stopping:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 300.0)

    # ------------------------------------------------------------- incoming
    async def _on_message(self, msg: Message) -> None:
        try:
            await self._on_message_guarded(msg)
        except Exception:
            log.exception("WeChat message %s could not be handled", msg.message_id)
        finally:
            self.finished += 1

    async def _on_message_guarded(self, msg: Message) -> None:
        payload = msg.payload
        if payload.room_id:
            log.info("message %s in a group: ignored", msg.message_id)
            return
        if not payload.from_id or payload.from_id == self._self_id():
            return  # the bot's own (sent from this account), or no sender
        talker = msg.talker()
        await talker.ready()
        if talker.payload is not None and talker.payload.type == ContactType.CONTACT_TYPE_OFFICIAL:
            return  # an official account's push, not a person
        if payload.type in IGNORED_TYPES:
            return
        contact_id = payload.from_id
        lock = self._locks.setdefault(contact_id, asyncio.Lock())
        self._waiting[contact_id] = self._waiting.get(contact_id, 0) + 1
        try:
            async with lock:
                await self._handle(msg, contact_id, talker.name or None)
        finally:
            self._waiting[contact_id] -= 1
            if not self._waiting[contact_id]:
                self._waiting.pop(contact_id, None)
                self._locks.pop(contact_id, None)

    async def _handle(self, msg: Message, contact_id: str, name: str | None) -> None:
        key = msg.message_id
        kind = msg.payload.type
        record = {"from": contact_id, "type": kind.name}
        if kind == MessageType.MESSAGE_TYPE_TEXT:
            text = msg.text()
            record["text"] = text
            code = notice_codes.as_code(text)
            if code is not None:
                payload = await asyncio.to_thread(
                    notice_codes.lookup, self.app.db, CHANNEL, contact_id, code
                )
                if payload is None:
                    await self._answer_alone(
                        key, record, contact_id, WECHAT_CODE_UNKNOWN, code=code
                    )
                    return
                event = Event(kind="choice", payload=payload)
            else:
                event = Event.of_text(text, numbered=True)
        elif kind in FILE_TYPES:
            if await asyncio.to_thread(intake.seen, self.app.db, key):
                return  # not fetched again
            file = await self._file_of(msg, key, record, contact_id)
            if file is None:
                return
            record["file"] = file.name
            event = Event(kind="file", file=file)
        else:
            await self._answer_alone(key, record, contact_id, WECHAT_UNSUPPORTED)
            return
        await self._run_engine(key, record, Sender(CHANNEL, contact_id, name), event)

    async def _run_engine(self, key: str, record: dict, sender: Sender, event: Event) -> None:
        handled = Handled()

        def within(session, person: Person | None) -> None:
            intake.claim(session, key, record)
            mark_reachable(self.app.workflow.ctx(session, None), CHANNEL, sender.external_id)
            handled.notices = bool(session.info.get(NOTICES_WRITTEN))
            if person is not None:
                handled.locale = person.locale

        try:
            outs = await asyncio.to_thread(self.app.engine.handle, sender, event, within=within)
        except intake.AlreadyHandled:
            log.info("WeChat message %s was already handled", key)
            return
        except Exception:
            log.exception("WeChat message %s could not be handled; nothing was applied", key)
            await self._send_safely(sender.external_id, [Out(gettext(handled.locale, TRY_AGAIN))])
            return
        if self.on_handled is not None and handled.notices:
            self.on_handled()  # the dispatcher also looks every second for anything else
        await self._send_safely(sender.external_id, outs, handled.locale)

    async def _answer_alone(
        self,
        key: str,
        record: dict,
        contact_id: str,
        text: str,
        state: str = "done",
        **params: Any,
    ) -> None:
        """Answer a message the engine does not see, once: nothing of it is applied (kept
        ``failed`` when it could not be handled, as a file that could not be fetched)."""
        if not await asyncio.to_thread(intake.record, self.app.db, key, record, state):
            return  # seen before: answered then
        locale = await asyncio.to_thread(self._locale_of, contact_id)
        await self._send_safely(contact_id, [Out(gettext(locale, text, **params))], locale)

    async def _file_of(
        self, msg: Message, key: str, record: dict, contact_id: str
    ) -> FileIn | None:
        """The file or picture a person sent, or None when it could not be read (they are
        told; the message is kept as failed)."""
        try:
            box = await msg.to_file_box()
            data = await asyncio.to_thread(file_bytes, box, DOWNLOAD_MAX_BYTES)
        except FileTooBig as exc:
            await self._answer_alone(
                key,
                record,
                contact_id,
                FILE_TOO_BIG,
                size=_megabytes(exc.size),
                limit=_megabytes(DOWNLOAD_MAX_BYTES),
            )
            return None
        except Exception:
            log.warning("file of WeChat message %s could not be fetched", key, exc_info=True)
            await self._answer_alone(key, record, contact_id, FILE_UNREADABLE, state="failed")
            return None
        name = (box.name or msg.payload.filename or "").strip() or f"file-{key[:16]}"
        mime = None
        kind = filetype.guess(data)
        if kind is not None:
            mime = kind.mime
            if msg.payload.type == MessageType.MESSAGE_TYPE_IMAGE and "." not in name:
                name = f"{name}.{kind.extension}"
        return FileIn(name=name, data=data, mime=mime)

    def _locale_of(self, contact_id: str) -> str:
        with self.app.db.read_session() as session:
            locale = session.exec(
                select(Person.locale)
                .join(ChannelAccount, ChannelAccount.person_id == Person.id)  # type: ignore[arg-type]
                .where(ChannelAccount.channel == CHANNEL)
                .where(ChannelAccount.external_id == contact_id)
            ).first()
        return locale or DEFAULT_LOCALE

    def _self_id(self) -> str | None:
        try:
            return self.puppet.self_id()
        except Exception:  # not logged in yet
            return None

    # ------------------------------------------------------------- outgoing
    async def _send_safely(self, contact_id: str, outs: list[Out], locale: str = "zh") -> None:
        """Send what the engine said; a failure is logged (the person may write again)."""
        try:
            await self.send_outs(contact_id, outs, locale)
        except Exception:
            log.warning(
                "a reply to WeChat contact %s could not be sent", contact_id, exc_info=True
            )

    async def send_outs(self, contact_id: str, outs: list[Out], locale: str) -> None:
        """Texts with their choices as numbered lines, split to WeChat's length; a long run
        of parts as a .txt file; files as files."""
        run: list[Out] = []
        for out in outs:
            if out.file is not None:
                if out.text.strip():
                    await self._send_text(contact_id, out.text)
                await self._send_file(contact_id, out.file.name, out.file.data)
                continue
            run.append(out)
            if not out.continued:
                await self._send_run(contact_id, run, locale)
                run = []
        if run:
            await self._send_run(contact_id, run, locale)

    async def _send_run(self, contact_id: str, run: list[Out], locale: str) -> None:
        """One text the engine may have split, with the choices of its last part."""
        last = run[-1]
        full = "\n".join(out.text for out in run)
        if last.expects == "contact":
            full += "\n\n" + gettext(locale, WECHAT_NO_CONTACT)
        text = render_numbered(Out(full, choices=last.choices))
        parts = split_text(text, self.text_limit)
        if len(parts) >= LONG_AS_FILE:
            name = document_name(full, "proposal")
            await self._send_text(contact_id, gettext(locale, LONG_TEXT_AS_FILE, name=name))
            await self._send_file(contact_id, name, full.encode())
            if last.choices:
                last_line = next((ln for ln in reversed(full.splitlines()) if ln.strip()), "…")
                await self._send_text(contact_id, render_numbered(Out(last_line, last.choices)))
            return
        for part in parts:
            await self._send_text(contact_id, part)

    async def deliver(
        self,
        external_id: str,
        text: str,
        actions: list[dict],
        *,
        parts_sent: int = 0,
        progress: Progress | None = None,
    ) -> None:
        """Send one notice; its actions become lines with a code the person types back. A
        long text goes as several messages: the first ``parts_sent`` arrived before and are
        not sent again, and ``progress`` hears of each further one but the last (see
        ``bot.dispatcher.Deliver``)."""
        choices = [Choice(a["label"], a["payload"]) for a in actions or []]
        lines = [text]
        if choices:
            given, locale = await asyncio.to_thread(
                notice_codes.issue,
                self.app.db,
                CHANNEL,
                external_id,
                [c.payload for c in choices],
            )
            lines += ["", gettext(locale, WECHAT_NOTICE_CODES)]
            lines += [f"{code}. {c.label}" for code, c in zip(given, choices, strict=True)]
        parts = split_text("\n".join(lines), self.text_limit)
        for n in range(min(parts_sent, len(parts) - 1), len(parts)):
            await self._send_text(external_id, parts[n])
            if progress is not None and n < len(parts) - 1:
                await progress(n + 1)

    async def _send_text(self, contact_id: str, text: str) -> None:
        text = text if text.strip() else "…"
        await self._paced(lambda: self.puppet.message_send_text(contact_id, text))

    async def _send_file(self, contact_id: str, name: str, data: bytes) -> None:
        box = FileBox.from_base64(base64.b64encode(data), name=name)
        await self._paced(lambda: self.puppet.message_send_file(contact_id, box))

    async def _paced(self, send: Callable[[], Any]) -> Any:
        """One message at a time, ``send_interval`` after the one before; one the service
        does not answer within ``send_timeout`` fails (a notice is then tried again)."""
        loop = asyncio.get_running_loop()
        async with self._send_lock:
            if self._last_send is not None:
                wait = self._last_send + self.send_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                return await asyncio.wait_for(send(), self.send_timeout)
            finally:
                self._last_send = loop.time()


def file_bytes(box: FileBox, limit: int) -> bytes:
    """The content of a FileBox as the puppet service hands it over (base64, usually; a
    URL for large files), refused past ``limit`` bytes. Runs in a worker thread."""
    kind = box.type()
    if kind == FileBoxType.Base64:
        encoded = box.base64
        if len(encoded) * 3 // 4 > limit + 3:
            raise FileTooBig(len(encoded) * 3 // 4)
        data = base64.b64decode(encoded)
    elif kind == FileBoxType.Buffer:
        data = bytes(box.buffer)
    elif kind == FileBoxType.Stream:
        data = bytes(box.stream)
    elif kind == FileBoxType.Url:
        with requests.get(
            box.remoteUrl, headers=box.headers or None, stream=True, timeout=DOWNLOAD_TIMEOUT
        ) as response:
            response.raise_for_status()
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise FileTooBig(int(response.headers.get("content-length") or size))
                chunks.append(chunk)
            data = b"".join(chunks)
    else:
        raise ValueError(f"a FileBox of type {kind.name} holds no file")
    if len(data) > limit:
        raise FileTooBig(len(data))
    return data


def document_name(text: str, fallback: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    safe = "".join(ch for ch in first if ch.isalnum() or ch in "《》（）()-_ ")[:40].strip()
    return f"{safe or fallback}.txt"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
