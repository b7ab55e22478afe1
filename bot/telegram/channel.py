"""The Telegram channel: python-telegram-bot's Application around the conversation engine.

Each update is kept in the database before Telegram is told it arrived
(``inbox.DurableUpdateQueue``): handled by the engine in a worker thread — one update, one
transaction, which keeps it, done — or stored first when its handling takes longer. What the
engine says is sent back. Updates of one chat are handled in the
order they came; different chats run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import filetype
from sqlmodel import select
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot.app import App
from bot.dispatcher import Progress, RetryLater, Unreachable
from bot.telegram import inbox
from bot.telegram import render as tr
from handlers.channel_texts import (
    CHOSEN,
    FILE_TOO_BIG,
    FILE_UNREADABLE,
    GROUP_DECLINED,
    LONG_TEXT_AS_FILE,
    SHARE_PHONE,
    TRY_AGAIN,
    commands_for,
)
from handlers.i18n import DEFAULT_LOCALE, gettext
from handlers.messages import Choice, Event, FileIn, Out, Sender, split_text
from storage.models import ChannelAccount, Person
from workflow.core import NOTICES_WRITTEN
from workflow.reach import mark_reachable, mark_unreachable

CHANNEL = inbox.CHANNEL
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024  # what the cloud Bot API lets a bot download
SEND_ATTEMPTS = 4
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
NO_PREVIEW = {"is_disabled": True}  # link_preview_options: no link previews, ever
log = logging.getLogger(__name__)

# The channel sends its answers with ``Bot.do_api_request`` and no return type, so that
# python-telegram-bot does not parse every sent message back into a ``Message`` the channel
# would throw away (about half a millisecond each); the library's advice to call the named
# method instead is meant for bots that want that object.
warnings.filterwarnings(
    "ignore",
    message=r"Please use 'Bot\.(sendMessage|editMessageText|editMessageReplyMarkup)'",
    category=PTBUserWarning,
)


@dataclass
class Handled:
    """What the engine's transaction learnt about the sender, for the channel's own use."""

    locale: str = DEFAULT_LOCALE
    roles: frozenset[str] | None = None  # None: not bound
    notices: bool = False  # the update wrote notices


@dataclass
class TelegramChannel:
    app: App
    token: str
    base_url: str | None = None
    base_file_url: str | None = None
    request: BaseRequest | None = None  # an in-process request (benchmarks)
    rate_limit: float | None = 28.0  # messages a second overall; None: no limiter
    concurrent_updates: int = 64
    retry_base_seconds: float = 0.5
    read_timeout: float | None = None  # seconds to wait for a Bot API answer (PTB: 5)
    on_handled: Callable[[], None] | None = None  # e.g. wake the notice dispatcher
    application: Application = field(init=False)
    _chat_locks: dict[int, asyncio.Lock] = field(init=False, default_factory=dict)
    _menus: dict[int, tuple] = field(init=False, default_factory=dict)
    _waiting: dict[int, int] = field(init=False, default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self.queue = inbox.DurableUpdateQueue(self.app.db)
        builder = (
            ApplicationBuilder()
            .token(self.token)
            .update_queue(self.queue)
            .concurrent_updates(self.concurrent_updates)
        )
        if self.base_url:
            builder = builder.base_url(self.base_url)
        if self.base_file_url:
            builder = builder.base_file_url(self.base_file_url)
        if self.read_timeout is not None and self.request is None:
            builder = builder.read_timeout(self.read_timeout)
        # Webhook updates arrive parsed; polled ones through this, which keeps their JSON.
        self.queue.raw = inbox.KeepsRawUpdates(
            self.request or HTTPXRequest(connection_pool_size=1)  # the builder's own default
        )
        self.queue.raw.before_fetch = self.queue.stored  # confirm only what is kept
        builder = builder.get_updates_request(self.queue.raw)
        if self.request is not None:
            builder = builder.request(self.request)
        if self.rate_limit:
            # python-telegram-bot types the builder's limiter as BaseRateLimiter[None];
            # AIORateLimiter is a BaseRateLimiter[dict] (it takes per-call arguments).
            limiter = AIORateLimiter(overall_max_rate=self.rate_limit, max_retries=3)
            builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    # ------------------------------------------------------------- life
    async def _post_init(self, application: Application) -> None:
        self.queue.bot_id = application.bot.id
        await self._set_default_commands()
        # Updates a crash left unhandled go first, before anything new is fetched.
        for payload in await asyncio.to_thread(inbox.pending, self.app.db):
            update = Update.de_json(payload, application.bot)
            if update is not None:
                await asyncio.Queue.put(self.queue, update)

    async def _set_default_commands(self) -> None:
        for locale in ("zh", "en"):
            commands = [BotCommand(n, d) for n, d in commands_for(None, locale)]
            await self._call(
                self.application.bot.set_my_commands,
                commands,
                scope=BotCommandScopeDefault(),
                language_code=None if locale == "zh" else locale,
            )

    async def start_polling(self, *, poll_interval: float = 0.0, timeout: int = 30) -> None:
        """Start fetching updates by long polling (the Application must be started)."""
        assert self.application.updater is not None
        await self.application.bot.delete_webhook()
        await self.application.updater.start_polling(
            poll_interval=poll_interval,
            timeout=timedelta(seconds=timeout),
            allowed_updates=ALLOWED_UPDATES,
        )

    async def start_webhook(
        self, *, url: str, listen: str, port: int, secret_token: str, url_path: str = ""
    ) -> None:
        """Receive updates on ``listen:port``; Telegram posts to ``url`` with the secret."""
        assert self.application.updater is not None
        await self.application.updater.start_webhook(
            listen=listen,
            port=port,
            url_path=url_path,
            webhook_url=url,
            secret_token=secret_token,
            allowed_updates=ALLOWED_UPDATES,
        )

    async def __aenter__(self) -> TelegramChannel:
        await self.application.initialize()
        await self._post_init(self.application)
        await self.application.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # ------------------------------------------------------------- incoming
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = inbox.key_of(context.bot.id, update.update_id)
        try:
            await self._on_update_kept(update, key)
        except BaseException:
            self.queue.settled(key, kept=False)  # stored pending: handled at the next start
            raise
        self.queue.settled(key)

    async def _on_update_kept(self, update: Update, key: str) -> None:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None or user.is_bot:
            await self._set_aside(key)
            return
        answering = None
        if update.callback_query is not None:
            # Answered while the update is handled: the button stops spinning at once, and
            # an answer that is slow or retried holds nothing up.
            answering = asyncio.create_task(self._answer(update.callback_query))
        lock = self._chat_locks.setdefault(chat.id, asyncio.Lock())
        self._waiting[chat.id] += 1
        try:
            async with lock:
                await self._handle(update, key, chat.id, chat.type, user)
        finally:
            self._waiting[chat.id] -= 1
            if not self._waiting[chat.id]:
                self._waiting.pop(chat.id, None)
                self._chat_locks.pop(chat.id, None)
            if answering is not None:
                await answering

    async def _set_aside(self, key: str, *, quietly: bool = False) -> None:
        """The update is not handled (nothing to do, or its handling failed): kept as
        failed, so it is neither handled again nor lost from the record."""
        payload = self.queue.payload(key)
        try:
            await asyncio.to_thread(inbox.mark_failed, self.app.db, key, payload)
        except Exception:
            if not quietly:
                raise
            log.warning("could not record a failed update", exc_info=True)
            # Not kept: stored pending by the next fetch, and handled again at the next start.
            self.queue.settled(key, kept=False)

    async def _handle(self, update: Update, key: str, chat_id: int, chat_type: str, user) -> None:
        if chat_type != ChatType.PRIVATE:
            await self._decline_group(update, key, chat_id)
            return
        if update.my_chat_member is not None:
            blocked = update.my_chat_member.new_chat_member.status == "kicked"
            payload = self.queue.payload(key)
            await asyncio.to_thread(self._set_reachable, key, payload, str(user.id), not blocked)
            return
        sender = Sender(CHANNEL, str(user.id), user.full_name)
        event = await self._event(update, sender, key, chat_id)
        if event is None:
            return
        handled = Handled()
        payload = self.queue.payload(key)

        def within(session, person: Person | None) -> None:
            inbox.mark_done(session, key, payload)
            mark_reachable(self.app.workflow.ctx(session, None), CHANNEL, sender.external_id)
            handled.notices = bool(session.info.get(NOTICES_WRITTEN))
            if person is not None:
                handled.locale = person.locale
                handled.roles = frozenset(person.role_set)

        try:
            outs = await asyncio.to_thread(self.app.engine.handle, sender, event, within=within)
        except inbox.AlreadyHandled:
            log.info("update %s was already handled", key)
            return
        except Exception:
            log.exception("update %s could not be handled; nothing was applied", key)
            await self._set_aside(key, quietly=True)
            await self._send_text(chat_id, gettext(handled.locale, TRY_AGAIN))
            return
        # Kept now, done, by the transaction that applied it: the next getUpdates (which
        # confirms it, and brings everyone else's updates) need not wait for its replies.
        self.queue.settled(key)
        if self.on_handled is not None and handled.notices:
            self.on_handled()  # the dispatcher also looks every second for anything else
        if update.callback_query is not None:
            # Before the next question: by the time it arrives, the tapped one has lost its
            # buttons (edited at the same time, a quick tap could still find them).
            await self._mark_chosen(update.callback_query, payload, handled.locale)
        await self._update_menu(chat_id, handled)
        await self.send_outs(chat_id, outs, handled.locale, after_contact=event.kind == "contact")

    async def _event(self, update: Update, sender: Sender, key: str, chat_id: int):
        query = update.callback_query
        if query is not None:
            return Event(kind="choice", payload=query.data or "")
        message = update.message
        if message is None:  # an edited message, a reaction…: nothing to do
            await self._set_aside(key)
            return None
        if message.contact is not None:
            contact = message.contact
            return Event(
                kind="contact",
                phone=contact.phone_number,
                contact_is_self=contact.user_id is not None
                and contact.user_id == sender_id(update),
            )
        if message.document is not None or message.photo:
            return await self._file_event(message, sender, key, chat_id)
        if message.text is not None:
            return Event.of_text(message.text)
        return Event(kind="other")

    async def _file_event(self, message: Message, sender: Sender, key: str, chat_id: int):
        if message.document is not None:
            doc = message.document
            file_id, size = doc.file_id, doc.file_size or 0
            name = doc.file_name or f"file-{doc.file_unique_id}"
            mime = doc.mime_type
        else:
            photo = message.photo[-1]  # the largest size
            file_id, size = photo.file_id, photo.file_size or 0
            name, mime = f"photo-{photo.file_unique_id}.jpg", "image/jpeg"
        locale = await asyncio.to_thread(self._locale_of, sender.external_id)
        if size > DOWNLOAD_MAX_BYTES:
            await self._set_aside(key)
            text = gettext(
                locale, FILE_TOO_BIG, size=_megabytes(size), limit=_megabytes(DOWNLOAD_MAX_BYTES)
            )
            await self._send_text(chat_id, text)
            return None
        try:
            telegram_file = await self._call(self.application.bot.get_file, file_id)
            if (telegram_file.file_size or 0) > DOWNLOAD_MAX_BYTES:
                raise BadRequest("file is too big")
            data = bytes(await telegram_file.download_as_bytearray())
            if message.document is None:  # a photo: Telegram sends JPEG; trust the content
                kind = filetype.guess(data)
                if kind is not None:
                    name, mime = f"{name.rsplit('.', 1)[0]}.{kind.extension}", kind.mime
        except (TelegramError, Unreachable):
            log.warning("file of update %s could not be fetched", key, exc_info=True)
            await self._set_aside(key)
            await self._send_text(chat_id, gettext(locale, FILE_UNREADABLE))
            return None
        return Event(kind="file", file=FileIn(name=name, data=data, mime=mime))

    async def _decline_group(self, update: Update, key: str, chat_id: int) -> None:
        """Say once, politely, that the bot works in private chats, and leave the group."""
        await self._set_aside(key)
        joined = update.my_chat_member is not None and (
            update.my_chat_member.new_chat_member.status in ("member", "administrator")
        )
        message = update.message
        addressed = message is not None and (message.text or "").startswith("/")
        if not (joined or addressed):
            return
        try:
            await self._send_text(chat_id, gettext(DEFAULT_LOCALE, GROUP_DECLINED))
            await self.application.bot.leave_chat(chat_id)
        except (TelegramError, Unreachable):
            log.info("could not leave group %s", chat_id, exc_info=True)

    # ------------------------------------------------------------- the sender's account
    def _locale_of(self, external_id: str) -> str:
        with self.app.db.read_session() as session:
            person = session.exec(
                select(Person)
                .join(ChannelAccount, ChannelAccount.person_id == Person.id)  # type: ignore[arg-type]
                .where(ChannelAccount.channel == CHANNEL)
                .where(ChannelAccount.external_id == external_id)
            ).first()
            return person.locale if person is not None else DEFAULT_LOCALE

    def _set_reachable(
        self, key: str | None, payload: dict | None, external_id: str, reachable: bool
    ) -> None:
        with self.app.db.session() as session:
            if key is not None:
                inbox.mark_done(session, key, payload)
            ctx = self.app.workflow.ctx(session, None)
            if reachable:
                mark_reachable(ctx, CHANNEL, external_id)
            else:
                mark_unreachable(ctx, CHANNEL, external_id, "blocked the bot")

    # ------------------------------------------------------------- outgoing
    async def send_outs(
        self, chat_id: int, outs: list[Out], locale: str, *, after_contact: bool = False
    ) -> None:
        """Send what the engine said; a person who blocked the bot is marked unreachable."""
        try:
            await self._send_pieces(chat_id, outs, locale, after_contact)
        except Unreachable:
            await asyncio.to_thread(self._set_reachable, None, None, str(chat_id), False)
        except TelegramError:
            log.warning("a reply to chat %s could not be sent", chat_id, exc_info=True)

    async def _send_pieces(
        self, chat_id: int, outs: list[Out], locale: str, remove_keyboard: bool
    ) -> None:
        for piece in tr.pieces(outs):
            if piece.document is not None:
                name = piece.filename or tr.document_name(piece.text, "proposal")
                caption = (
                    piece.text if piece.filename else gettext(locale, LONG_TEXT_AS_FILE, name=name)
                )
                await self._call(
                    self.application.bot.send_document,
                    chat_id,
                    document=piece.document,
                    filename=name,
                    caption=tr.escape(caption[: tr.CAPTION_MAX]),
                    parse_mode=ParseMode.HTML,
                )
                continue
            markup: Any = None
            if piece.expects == "contact":
                markup = tr.contact_keyboard(gettext(locale, SHARE_PHONE))
            elif piece.choices:
                markup = tr.inline_keyboard(piece.choices, piece.columns)
            elif remove_keyboard:
                markup = tr.REMOVE_KEYBOARD
                remove_keyboard = False
            await self._send_text(chat_id, piece.text, markup)

    async def _send_text(self, chat_id: int, text: str, markup: Any = None) -> None:
        await self._call(
            self._api,
            "sendMessage",
            chat_id=chat_id,
            text=tr.message_text(text),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )

    async def _api(self, method: str, **params) -> Any:
        """Call a Bot API method; its answer is left as the JSON Telegram sent."""
        return await self.application.bot.do_api_request(
            method, api_kwargs={k: v for k, v in params.items() if v is not None}
        )

    async def deliver(
        self,
        external_id: str,
        text: str,
        actions: list[dict],
        *,
        parts_sent: int = 0,
        progress: Progress | None = None,
    ) -> None:
        """Send one notice; its actions become buttons, on its last message, that work with
        one tap. A long text goes as several messages: the first ``parts_sent`` arrived
        before and are not sent again; ``progress`` hears of each further one but the last.

        When Telegram's flood control still refuses after ``_call`` waited it out, the
        dispatcher is told how long Telegram asked to wait (``RetryLater``)."""
        choices = [Choice(a["label"], a["payload"]) for a in actions or []]
        markup = tr.inline_keyboard(choices, columns=len(choices) if len(choices) <= 3 else 2)
        parts = split_text(text)
        # Never past the last part: it carries the buttons (a text said in another language
        # since the earlier attempt may have fewer parts).
        first = min(parts_sent, len(parts) - 1)
        try:
            for n in range(first, len(parts) - 1):
                await self._send_text(int(external_id), parts[n])
                if progress is not None:
                    await progress(n + 1)
            await self._send_text(int(external_id), parts[-1], markup)
        except RetryAfter as exc:
            raise RetryLater(timedelta(seconds=_seconds(exc.retry_after)), str(exc)) from exc

    async def _answer(self, query: CallbackQuery) -> None:
        """Every callback query is answered at once, so the button stops spinning."""
        try:
            await self._call(query.answer)
        except (TelegramError, Unreachable):
            log.info("callback query %s could not be answered", query.id, exc_info=True)

    async def _mark_chosen(self, query: CallbackQuery, payload: dict | None, locale: str) -> None:
        """The tapped message keeps its text, loses its buttons and says what was chosen.

        Read from the update as Telegram sent it (``payload``: a polled update's message is
        given to python-telegram-bot cut to its id, see ``inbox.lean``): its text gets the
        choice added after it, and its entities, as they came, keep their places in it."""
        message = query.message
        if not isinstance(message, Message):
            return
        sent = (payload or {}).get("callback_query", {}).get("message")
        if not isinstance(sent, dict):  # a webhook's update, or one queued again: made whole
            sent = message.to_dict()
        markup = sent.get("reply_markup")
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        label = next(
            (
                button.get("text")
                for row in (rows if isinstance(rows, list) else ())
                for button in (row if isinstance(row, list) else ())
                if isinstance(button, dict) and button.get("callback_data") == query.data
            ),
            None,
        )
        text, entities = sent.get("text"), sent.get("entities")
        try:
            if (
                isinstance(label, str)
                and isinstance(text, str)
                and len(text) + len(label) + 20 <= 4096
            ):
                await self._call(
                    self._api,
                    "editMessageText",
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    text=text + "\n\n" + gettext(locale, CHOSEN, label=label),
                    entities=entities if isinstance(entities, list) else None,
                    link_preview_options=NO_PREVIEW,
                )
                return
            if rows:
                await self._call(
                    self._api,
                    "editMessageReplyMarkup",
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                )
        except BadRequest:
            log.debug("tapped message %s left as it was", message.message_id, exc_info=True)
        except (TelegramError, Unreachable):
            log.info("tapped message %s could not be edited", message.message_id, exc_info=True)

    async def _update_menu(self, chat_id: int, handled: Handled) -> None:
        """The command menu of this chat follows the person's roles and language."""
        state = (handled.roles, handled.locale)
        if self._menus.get(chat_id) == state:
            return
        roles = set(handled.roles) if handled.roles is not None else None
        commands = [BotCommand(n, d) for n, d in commands_for(roles, handled.locale)]
        try:
            await self._call(
                self.application.bot.set_my_commands,
                commands,
                scope=BotCommandScopeChat(chat_id),
            )
            self._menus[chat_id] = state
        except (TelegramError, Unreachable):
            log.info("command menu of chat %s not set", chat_id, exc_info=True)

    # ------------------------------------------------------------- faults
    async def _call(self, method: Callable[..., Awaitable[Any]], *args, **kwargs) -> Any:
        """Call the Bot API, waiting out RetryAfter and retrying network faults with backoff.

        A 403 means the person blocked the bot: ``Unreachable``, never retried.
        """
        delay = self.retry_base_seconds
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await method(*args, **kwargs)
            except Forbidden as exc:
                raise Unreachable(str(exc)) from exc
            except RetryAfter as exc:
                if attempt == SEND_ATTEMPTS:
                    raise
                await asyncio.sleep(_seconds(exc.retry_after))
            except BadRequest:
                raise
            except NetworkError:  # TimedOut included; the connection or the server failed
                if attempt == SEND_ATTEMPTS:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)


def sender_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
