"""The WeChat channel: Python Wechaty around the conversation engine.

One private message is one ``Event`` (channel ``wechat``, the sender's contact id as the
account), handled by the engine in a worker thread. A message is kept, pending, before it is
handled, and marked done by the transaction that applies it (``intake``): a message the
puppet service sends again is applied once, and one whose handling a crash interrupted is
handled again at the next start. Messages of one contact are handled in the order they
came; different contacts run concurrently. Friend requests are accepted (unless the
settings say not to) and the new contact is told how to bind.

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
from wechaty import Friendship, Message, Wechaty, WechatyOptions
from wechaty_puppet import FileBox, MessageType, Puppet
from wechaty_puppet.file_box.type import FileBoxType
from wechaty_puppet.schemas.types import ContactType, FriendshipType

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
    WECHAT_FILE_AGAIN,
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
FILE_TYPE_NAMES = {kind.name for kind in FILE_TYPES}
FRIENDSHIP = "FRIENDSHIP"  # the type kept for a friend request
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


class PluginScheduler(AsyncIOScheduler):
    """Wechaty starts its plugins' scheduler at every login, and the puppet service logs in
    again at every connection: started once, it is left running (APScheduler refuses a
    second start, and Wechaty's login handler would stop there)."""

    def start(self, *args: Any, **kwargs: Any) -> None:
        if not self.running:
            super().start(*args, **kwargs)


@dataclass
class WechatChannel:
    app: App
    puppet: Puppet
    send_interval: float = 1.5  # seconds between two messages the bot sends, at least
    on_handled: Callable[[], None] | None = None  # e.g. wake the notice dispatcher
    text_limit: int = TEXT_LIMIT
    reconnect_seconds: float = 5.0  # the first wait before connecting to the puppet again
    send_timeout: float = 60.0  # a send the puppet service has not answered by then failed
    accept_friends: bool = True  # accept friend requests and greet the new contact
    stop_grace: float = 5.0  # seconds messages being handled get to finish at a stop
    bot: Wechaty = field(init=False)
    finished: int = field(init=False, default=0)  # messages whose handling has ended
    resumed: int = field(init=False, default=0)  # of those left pending, handled at start
    # per contact, the end of the handling of their latest message (the next one waits)
    _tails: dict[str, asyncio.Future] = field(init=False, default_factory=dict)
    _handling: set[asyncio.Task] = field(init=False, default_factory=set)
    _resuming: asyncio.Task | None = field(init=False, default=None)
    _resumed: bool = field(init=False, default=False)
    _resume_up_to: int | None = field(init=False, default=None)
    _send_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _last_send: float | None = field(init=False, default=None)
    _running: asyncio.Task | None = field(init=False, default=None)
    _stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        # The scheduler Wechaty's plugins would use: one in memory (its default keeps a
        # job store in a SQLite file of its own); port 0: no plugin web server.
        options = WechatyOptions(puppet=self.puppet, scheduler=PluginScheduler(), port=0)
        self.bot = Wechaty(options)
        self.bot.on("message", self._on_message)
        self.bot.on("friendship", self._on_friendship)

    # ------------------------------------------------------------- life
    async def __aenter__(self) -> WechatChannel:
        self._stopping = False
        self._resumed = False
        # What a crash left pending is handled once the puppet service has logged in; what
        # is stored after this is this run's own.
        self._resume_up_to = await asyncio.to_thread(intake.last_pending, self.app.db)
        self._running = asyncio.create_task(self._keep_connected(), name="wechaty")
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._stopping = True  # a message that arrives now is kept, for the next start
        handling = [t for t in (*self._handling, self._resuming) if t is not None]
        if handling:
            # Messages being handled get a moment to finish and be answered; the rest stay
            # pending and are handled at the next start.
            _done, late = await asyncio.wait(handling, timeout=self.stop_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
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
                self.puppet.on("login", self._on_login)  # each connection starts with it
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

    def _on_login(self, _payload: Any = None) -> None:
        """The puppet service is logged in (at every connection): the first time, what a
        crash left pending is handled again."""
        if self._resumed or self._stopping:
            return
        self._resumed = True
        self._resuming = asyncio.create_task(self._resume(), name="wechat:resume")

    async def _resume(self) -> None:
        try:
            resumed = await asyncio.to_thread(intake.pending, self.app.db, self._resume_up_to)
        except Exception:
            log.exception("WeChat messages left pending could not be read")
            return
        for _key, payload in resumed.set_aside:
            # Tried at MAX_ATTEMPTS starts, and set aside: the person is asked to try again.
            if payload.get("from"):
                await self._say(payload["from"], TRY_AGAIN)
        if resumed.due:
            log.warning("handling %d WeChat messages left pending", len(resumed.due))
        for key, payload in resumed.due:
            try:
                await self._take(key, payload, resumed=True)
            except Exception:
                log.exception("WeChat message %s could not be handled", key)
            finally:
                self.resumed += 1

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
        # What handling it again needs: a file is fetched again by the message's id.
        record: dict[str, Any] = {
            "from": payload.from_id,
            "name": talker.name or None,
            "type": payload.type.name,
            "message": msg.message_id,
        }
        if payload.type == MessageType.MESSAGE_TYPE_TEXT:
            record["text"] = msg.text()
        elif payload.type in FILE_TYPES:
            record["file"] = payload.filename or None
        await self._take(msg.message_id, record, msg=msg)

    async def _on_friendship(self, friendship: Friendship) -> None:
        """A friend request: accepted (unless the settings say not to), and the new contact
        is told how to bind, as a message is answered: kept first, once."""
        try:
            if not self.accept_friends:
                log.info("friend request %s left to the account's owner", friendship.friendship_id)
                return
            if friendship.type() != FriendshipType.FRIENDSHIP_TYPE_RECEIVE:
                return  # a confirmation of one accepted, or a request the bot sent
            contact_id = friendship.payload.contact_id
            if not contact_id:
                return
            record = {
                "from": contact_id,
                "name": None,
                "type": FRIENDSHIP,
                "friendship": friendship.friendship_id,
            }
            key = f"friendship:{friendship.friendship_id}"
            await self._take(key, record, friendship=friendship)
        except Exception:
            log.exception("friend request %s could not be handled", friendship.friendship_id)

    async def _take(
        self,
        key: str,
        record: dict,
        *,
        msg: Message | None = None,
        friendship: Friendship | None = None,
        resumed: bool = False,
    ) -> None:
        """Keep a message (unless it is resumed: kept already), then handle it after the
        sender's earlier ones: messages of one contact are handled in the order they
        came, different contacts concurrently."""
        contact_id = record["from"]
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        earlier = self._tails.get(contact_id)
        mine = asyncio.get_running_loop().create_future()
        self._tails[contact_id] = mine
        try:
            if not resumed:
                try:
                    kept = await asyncio.to_thread(intake.keep, self.app.db, key, record)
                except Exception:
                    log.exception("WeChat message %s could not be kept; not handled", key)
                    await self._say(contact_id, TRY_AGAIN)
                    return
                if not kept:
                    log.info("WeChat message %s arrived again; already kept", key)
                    return
            if earlier is not None:
                await asyncio.shield(earlier)
            if self._stopping:
                return  # kept pending: handled at the next start
            await self._handle(key, record, msg, friendship, resumed)
        finally:
            mine.set_result(None)
            if self._tails.get(contact_id) is mine:
                del self._tails[contact_id]
            if task is not None:
                self._handling.discard(task)

    async def _handle(
        self,
        key: str,
        record: dict,
        msg: Message | None,
        friendship: Friendship | None,
        resumed: bool,
    ) -> None:
        contact_id = record["from"]
        kind = record.get("type")
        sender = Sender(CHANNEL, contact_id, record.get("name"))
        if kind == FRIENDSHIP:
            if not await self._accept(key, record, friendship, resumed):
                return
            event = Event.of_text("/start")  # the engine's own greeting, bound or not
        elif kind == MessageType.MESSAGE_TYPE_TEXT.name:
            found = await self._text_event(key, contact_id, str(record.get("text") or ""))
            if found is None:
                return
            event = found
        elif kind in FILE_TYPE_NAMES:
            file = await self._file_of(key, record, msg, resumed)
            if file is None:
                return
            event = Event(kind="file", file=file)
        else:
            await self._answer_alone(key, contact_id, WECHAT_UNSUPPORTED)
            return
        await self._run_engine(key, sender, event)

    async def _text_event(self, key: str, contact_id: str, text: str) -> Event | None:
        """A text as the engine takes it: a code the person holds names its action; one
        shaped like a code they do not hold is text at a step that takes text, and answered
        as not valid elsewhere (None: answered here)."""
        code = notice_codes.as_code(text)
        if code is None:
            return Event.of_text(text, numbered=True)
        payload, flow, step = await asyncio.to_thread(
            notice_codes.lookup, self.app.db, CHANNEL, contact_id, code
        )
        if payload is not None:
            return Event(kind="choice", payload=payload)
        if self.app.engine.takes_text(flow, step):
            return Event.of_text(text, numbered=True)
        await self._answer_alone(key, contact_id, WECHAT_CODE_UNKNOWN, code=code)
        return None

    async def _accept(
        self, key: str, record: dict, friendship: Friendship | None, resumed: bool
    ) -> bool:
        """Accept a friend request; False when it could not be (set aside, nobody told: a
        stranger cannot be written to)."""
        try:
            if friendship is None:
                friendship = self.bot.Friendship.load(record["friendship"])
                await friendship.ready()
            await friendship.accept()
        except Exception:
            if resumed:
                # Accepted before the crash, maybe: the greeting tells.
                log.warning("friend request %s could not be accepted again", key, exc_info=True)
                return True
            log.warning("friend request %s could not be accepted", key, exc_info=True)
            await asyncio.to_thread(intake.settle, self.app.db, key, "failed")
            return False
        log.info("friend request %s accepted", key)
        return True

    async def _run_engine(self, key: str, sender: Sender, event: Event) -> None:
        handled = Handled()

        def within(session, person: Person | None) -> None:
            intake.mark_done(session, key)
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
            try:
                await asyncio.to_thread(intake.settle, self.app.db, key, "failed")
            except Exception:  # left pending: handled again at the next start
                log.warning("could not set WeChat message %s aside", key, exc_info=True)
            await self._send_safely(sender.external_id, [Out(gettext(handled.locale, TRY_AGAIN))])
            return
        if self.on_handled is not None and handled.notices:
            self.on_handled()  # the dispatcher also looks every second for anything else
        await self._send_safely(sender.external_id, outs, handled.locale)

    async def _answer_alone(
        self, key: str, contact_id: str, text: str, state: str = "done", **params: Any
    ) -> None:
        """Answer a message the engine does not see, once: nothing of it is applied (kept
        ``failed`` when it could not be handled, as a file that could not be fetched)."""
        if not await asyncio.to_thread(intake.settle, self.app.db, key, state):
            return  # given its outcome before: answered then
        await self._say(contact_id, text, **params)

    async def _say(self, contact_id: str, text: str, **params: Any) -> None:
        locale = await asyncio.to_thread(self._locale_of, contact_id)
        await self._send_safely(contact_id, [Out(gettext(locale, text, **params))], locale)

    async def _file_of(
        self, key: str, record: dict, msg: Message | None, resumed: bool
    ) -> FileIn | None:
        """The file or picture a person sent, or None when it could not be read (they are
        told; the message is kept as failed). A message handled again after a crash is
        fetched again from the puppet service by its id."""
        try:
            if msg is None:
                msg = self.bot.Message.load(record.get("message") or key)
                await msg.ready()
            box = await msg.to_file_box()
            data = await asyncio.to_thread(file_bytes, box, DOWNLOAD_MAX_BYTES)
        except FileTooBig as exc:
            await self._answer_alone(
                key,
                record["from"],
                FILE_TOO_BIG,
                size=_megabytes(exc.size),
                limit=_megabytes(DOWNLOAD_MAX_BYTES),
            )
            return None
        except Exception:
            log.warning("file of WeChat message %s could not be fetched", key, exc_info=True)
            if resumed:  # the puppet service no longer has it: sent again, or never
                name = record.get("file")
                await self._answer_alone(
                    key,
                    record["from"],
                    WECHAT_FILE_AGAIN,
                    "failed",
                    name=f"「{name}」" if name else "",
                )
            else:
                await self._answer_alone(key, record["from"], FILE_UNREADABLE, "failed")
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
