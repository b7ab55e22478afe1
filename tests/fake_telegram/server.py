"""The fake Bot API server: aiohttp on 127.0.0.1, real HTTP, Telegram's answers and limits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import os
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from tests.fake_telegram import limits as L
from tests.fake_telegram.limits import FloodControl, RateLimits
from tests.fake_telegram.markup import (
    EntityParseError,
    detect_entities,
    parse_text,
    strip_text,
)
from tests.fake_telegram.records import (
    CHAOS_FAULTS,
    CallbackAnswer,
    CallbackQuery,
    Chaos,
    Chat,
    ChatMessage,
    Fault,
    RequestRecord,
    StoredFile,
    WebhookDelivery,
    image_size,
)
from tests.fake_telegram.users import FakeUser

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForTests-0123456789"
FAULTS = ("429", "500", "502", "400", "403", "timeout", "drop")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# update types delivered when the bot never asked for particular ones
DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
_dumps = partial(json.dumps, ensure_ascii=False)


class ApiError(Exception):
    """A Bot API error answer: {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


class Call:
    """The parameters of one API call with Telegram's coercions (form values are strings)."""

    def __init__(self, params: dict[str, Any], busy: list[bool]) -> None:
        self.params = params
        self.busy = busy  # [True] while the call counts as in flight (see FakeTelegram.idle)

    def raw(self, name: str) -> Any:
        value = self.params.get(name)
        return None if value == "" else value

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, web.FileField):
            raise bad_request(f"{name} must be a string")
        return value if isinstance(value, str) else str(value)

    def int(self, name: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def float(self, name: str, default: float = 0.0) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def obj(self, name: str, error: str | None = None) -> Any:
        value = self.raw(name)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {name} JSON object") from None


class FakeTelegram:
    """A Bot API server for tests; see the package docstring for the whole API."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: RateLimits | None = None,
        time_scale: float | None = None,
        bot_first_name: str = "提案通",
        bot_username: str = "proposal_test_bot",
        callback_timeout: float = 15.0,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 10.0,
        stall_seconds: float = 120.0,
    ) -> None:
        self.token = token
        self.host = host
        self._port = port
        limits = limits or RateLimits()
        if time_scale is not None:
            limits = limits.scaled(time_scale)
        self._limits = limits
        self.flood = FloodControl(limits)
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 7000000001
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.callback_timeout = callback_timeout
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.stall_seconds = stall_seconds

        # state
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self._file_paths: dict[str, StoredFile] = {}
        self.requests: list[RequestRecord] = []
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.faults: list[Fault] = []
        self.chaos_state: Chaos | None = None
        self.downloads: list[str] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._commands: dict[tuple[Any, str], list[dict[str, str]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(700000001)
        self._query_ids = itertools.count(4000000000000000001)
        self._file_counter = itertools.count(1)
        self._user_ids = itertools.count(10001)
        self._allowed_updates: list[str] | None = None
        self._webhook: dict[str, Any] | None = None
        self._poll_generation = 0
        self.seq = 0  # change counter: bumped on every message sent, edited or deleted
        self._busy = 0
        self._last_activity = time.monotonic()
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._methods: dict[str, tuple[str, Callable[[Call], Awaitable[Any]]]] = {}
        for name in (
            "getMe",
            "logOut",
            "close",
            "getUpdates",
            "sendMessage",
            "editMessageText",
            "editMessageCaption",
            "editMessageReplyMarkup",
            "deleteMessage",
            "answerCallbackQuery",
            "sendDocument",
            "sendPhoto",
            "getFile",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "setWebhook",
            "deleteWebhook",
            "getWebhookInfo",
            "sendChatAction",
            "getChat",
            "leaveChat",
        ):
            handler = getattr(self, "_api_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower())
            self._methods[name.lower()] = (name, handler)

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=L.MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/_fake/updates", self._http_push_update)
        app.router.add_route("GET", "/_fake/chats/{chat_id}/messages", self._http_messages)
        app.router.add_route("*", "/{tail:.*}", self._http_api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._webhook_loop())

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """For python-telegram-bot's `base_url` (the token is appended to it)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For python-telegram-bot's `base_file_url`."""
        return f"{self.url}/file/bot"

    @property
    def limits(self) -> RateLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: RateLimits) -> None:
        """Replace the flood limits (buckets start full)."""
        self._limits = limits
        self.flood = FloodControl(limits)

    # --- waiting -------------------------------------------------------------------------------

    def _notify(self) -> None:
        self._last_activity = time.monotonic()
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float | None) -> Any:
        """Wait until predicate() is truthy (re-checked on every server change); returns its
        value, or None after timeout seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            event = self._changed
            if deadline is None:
                await event.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def updates_pending(self) -> int:
        """Updates not yet confirmed by getUpdates (or not yet taken by the webhook)."""
        return len(self._updates)

    async def idle(self, quiet: float = 0.15, timeout: float = 10.0) -> None:
        """Wait until no update is pending, no API call is in flight (long polls excepted),
        every call chaos struck was tried again, and nothing happened for `quiet` seconds.
        TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = time.monotonic()
            chaos = self.chaos_state
            unsettled = [] if chaos is None else list(chaos.outstanding.values())
            if (
                not self._updates
                and self._busy == 0
                and not unsettled
                and now - self._last_activity >= quiet
            ):
                return
            if loop.time() >= deadline:
                retries = ", ".join(f"{r.method} to {r.chat_id} ({r.fault})" for r in unsettled)
                raise TimeoutError(
                    f"fake Telegram not idle after {timeout}s: {len(self._updates)} updates "
                    f"pending, {self._busy} calls in flight"
                    + (f", not tried again: {retries}" if retries else "")
                )
            await asyncio.sleep(min(0.02, quiet))

    async def wait_request(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[RequestRecord], bool] | None = None,
        *,
        answered: bool = False,
    ) -> list[RequestRecord]:
        """Wait until `count` calls of `method` (matching predicate) arrived — or, with
        `answered=True`, were answered; returns them."""

        def found() -> list[RequestRecord] | None:
            calls = [
                r
                for r in self.calls(method)
                if (not answered or r.status is not None or r.fault)
                and (predicate is None or predicate(r))
            ]
            return calls if len(calls) >= count else None

        result = await self.wait_until(found, timeout)
        if result is None:
            raise AssertionError(f"fewer than {count} {method} calls within {timeout}s")
        return result

    def calls(self, method: str) -> list[RequestRecord]:
        """Logged calls of one method (any spelling)."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    # --- users and chats -----------------------------------------------------------------------

    def user(
        self,
        id: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = "zh-hans",
        started: bool = False,
    ) -> FakeUser:
        """The user with this id (created on first call, same object afterwards).

        A user who never wrote to the bot cannot be messaged by it (403 like Telegram) unless
        `started=True`; any action of the user (send, tap, ...) starts the chat.
        """
        if id is not None and id in self.users:
            return self.users[id]
        if id is None:
            id = next(self._user_ids)
            while id in self.users:
                id = next(self._user_ids)
        user = FakeUser(
            self,
            id,
            first_name or f"User{id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        self.users[id] = user
        self.chats[id] = Chat(id=id, info=user.chat_dict())
        return user

    def group(self, chat_id: int = -1001, title: str = "Test group") -> Chat:
        """A group chat (negative id), created on first use."""
        if chat_id not in self.chats:
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            kind = (
                "supergroup"
                if str(chat_id).startswith("-100") and chat_id < -(10**12)
                else "group"
            )
            self.chats[chat_id] = Chat(
                id=chat_id, info={"id": chat_id, "type": kind, "title": title}
            )
        return self.chats[chat_id]

    def chat(self, chat_id: int) -> Chat:
        return self.chats[chat_id]

    def chat_messages(self, chat_id: int) -> list[ChatMessage]:
        """What the bot sent to a chat (any chat, groups included), deleted ones left out."""
        return [m for m in self.chats[chat_id].messages if m.from_bot and not m.deleted]

    def block(self, user_id: int, *, notify: bool = True) -> None:
        """The user blocks the bot: sends to them fail with 403 "bot was blocked by the user".
        With notify, the bot gets the my_chat_member update Telegram sends."""
        user = self.users[user_id]
        if user.blocked:
            return
        user.blocked = True
        if notify:
            self._member_update(user, "member", "kicked")

    def unblock(self, user_id: int, *, notify: bool = True) -> None:
        user = self.users[user_id]
        if not user.blocked:
            return
        user.blocked = False
        if notify:
            self._member_update(user, "kicked", "member")

    def _member_update(self, user: FakeUser, old: str, new: str) -> None:
        self.member_update(self.chats[user.id], user.as_dict(), old, new)

    def member_update(self, chat: Chat, actor: dict[str, Any], old: str, new: str) -> None:
        """Enqueue a my_chat_member update: the bot's status in `chat` went from old to new."""

        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": self.bot_user, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        self.push_update(
            {
                "my_chat_member": {
                    "chat": chat.info,
                    "from": actor,
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    # --- commands ------------------------------------------------------------------------------

    @property
    def commands(self) -> dict[Any, list[dict[str, str]]]:
        """setMyCommands state without a language code, by scope: "default",
        "all_private_chats", ..., ("chat", chat_id), ("chat_administrators", chat_id),
        ("chat_member", chat_id, user_id)."""
        return {scope: list(cmds) for (scope, lang), cmds in self._commands.items() if not lang}

    def commands_for(
        self,
        scope: str = "default",
        chat_id: int | None = None,
        user_id: int | None = None,
        language_code: str = "",
    ) -> list[dict[str, str]]:
        key: Any = scope
        if scope in ("chat", "chat_administrators"):
            key = (scope, chat_id)
        elif scope == "chat_member":
            key = (scope, chat_id, user_id)
        return list(self._commands.get((key, language_code or ""), []))

    def visible_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """The command list a client shows in this private chat (Telegram's scope order)."""
        for scope in (("chat", chat_id), "all_private_chats", "default"):
            for lang in ((language_code or "")[:2], ""):
                commands = self._commands.get((scope, lang))
                if commands:
                    return list(commands)
        return []

    # --- faults --------------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = "sendMessage",
        fault: str = "500",
        *,
        times: int | None = 1,
        retry_after: int = 1,
        chat_id: int | str | None = None,
        description: str | None = None,
        perform: bool = False,
        after: int = 0,
    ) -> Fault:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail, once
        `after` such calls went through (say the second message of a long text):
        "429" Too Many Requests with retry_after, "500"/"502" server errors, "400" (with
        `description`), "403" bot blocked, "timeout" (no answer until the client gives up),
        "drop" (connection closed without an answer). `perform=True` runs the method first
        and then fails the answer (the message was sent but the bot never learns it).
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        entry = Fault(
            method=method,
            fault=fault,
            times=times,
            retry_after=retry_after,
            chat_id=chat_id,
            description=description,
            perform=perform,
            after=after,
        )
        self.faults.append(entry)
        return entry

    def clear_faults(self) -> None:
        """Remove the injected faults and end chaos (see `calm`)."""
        self.faults.clear()
        self.calm()

    def chaos(
        self,
        rate: float = 0.15,
        faults: tuple[str, ...] = CHAOS_FAULTS,
        *,
        seed: int | str = 0,
        methods: Any = None,
        retry_after: int = 1,
        lost_answers: float = 0.0,
        max_streak: int = 2,
        redeliver: float = 0.0,
    ) -> Chaos:
        """Faults at random from now on, reproducible from `seed`: each call of `methods`
        fails with probability `rate` by one of `faults` ("429" with `retry_after`, "500",
        "502", "timeout", "drop"). `methods`: names (each gets `faults`), a mapping of name →
        faults, or None for every method but getUpdates. A request fails at most `max_streak`
        times in a row; `lost_answers` is the share of faults that strike after the call was
        carried out (never a 429, never getUpdates); `redeliver` is the share of webhook
        deliveries whose answer is lost (the update is sent again, as Telegram does after a
        read timeout). Faults from `inject` go first. Replaces an earlier chaos; the returned
        `Chaos` lists what it struck (``.struck``, ``.summary()``) and ``idle()`` waits until
        each struck request was tried again.
        """
        if methods is None:
            chosen = {name: tuple(faults) for name in self._methods if name != "getupdates"}
        elif isinstance(methods, dict):
            chosen = {name.lower(): tuple(kinds) for name, kinds in methods.items()}
        else:
            chosen = {name.lower(): tuple(faults) for name in methods}
        unknown = set(chosen) - set(self._methods)
        if unknown:
            raise ValueError(f"unknown methods {sorted(unknown)}")
        self.chaos_state = Chaos(
            rate=rate,
            faults=chosen,
            seed=seed,
            retry_after=retry_after,
            lost_answers=lost_answers,
            max_streak=max_streak,
            redeliver=redeliver,
        )
        return self.chaos_state

    def calm(self) -> Chaos | None:
        """No more random faults; retries of requests chaos struck still settle them."""
        if self.chaos_state is not None:
            self.chaos_state.active = False
        return self.chaos_state

    def _take_fault(self, method: str, chat_id: int | str | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, chat_id):
                if fault.passed < fault.after:
                    fault.passed += 1
                    continue
                fault.hits += 1
                if fault.spent:
                    self.faults.remove(fault)
                return fault
        return None

    # --- state changes used by users and API methods -------------------------------------------

    def _bump(self) -> int:
        self.seq += 1
        return self.seq

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Enqueue a raw update ({"message": {...}} etc.); update_id is assigned here."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._notify()
        return update

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        n = next(self._file_counter)
        prefix = "AgAC" if kind == "photo" else "BQAC"
        stored = StoredFile(
            file_id=f"{prefix}{n:06d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{n:06d}{secrets.token_urlsafe(6)}",
            data=data,
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    def _add_message(
        self, chat: Chat, *, from_bot: bool, sender: dict[str, Any], **fields: Any
    ) -> ChatMessage:
        message = ChatMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            date=int(time.time()),
            from_bot=from_bot,
            sender=sender,
            chat=chat.info,
            seq=self._bump(),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        self._notify()
        return message

    def add_user_message(
        self,
        user: FakeUser,
        chat_id: int,
        *,
        reply_to: ChatMessage | int | None = None,
        **fields: Any,
    ) -> ChatMessage:
        chat = self.chats[chat_id]
        if isinstance(reply_to, int):
            reply_to = chat.find(reply_to)
        return self._add_message(
            chat, from_bot=False, sender=user.as_dict(), reply_to=reply_to, **fields
        )

    def add_callback_query(self, user: FakeUser, message_id: int, data: str) -> CallbackQuery:
        chat = self.chats[user.id]
        message = chat.find(message_id)
        query = CallbackQuery(
            tg=self,
            id=str(next(self._query_ids)),
            user_id=user.id,
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            time=time.monotonic(),
        )
        self.callback_queries[query.id] = query
        if message is not None and not message.deleted:
            message_dict = message.to_api()
        else:  # an InaccessibleMessage, as Telegram sends for messages the bot cannot see
            message_dict = {"chat": chat.info, "message_id": message_id, "date": 0}
        self.push_update(
            {
                "callback_query": {
                    "id": query.id,
                    "from": user.as_dict(),
                    "message": message_dict,
                    "chat_instance": str(abs(hash((self.bot_id, chat.id))) % 10**18),
                    "data": data,
                }
            }
        )
        return query

    # --- HTTP ----------------------------------------------------------------------------------

    def _json(self, body: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(body, status=status, dumps=_dumps)

    async def _http_push_update(self, request: web.Request) -> web.Response:
        update = await request.json()
        update.pop("update_id", None)
        return self._json({"ok": True, "result": self.push_update(update)})

    async def _http_messages(self, request: web.Request) -> web.Response:
        chat = self.chats.get(int(request.match_info["chat_id"]))
        if chat is None:
            return self._json(bad_request("chat not found").body(), 400)
        return self._json(
            {"ok": True, "result": [m.to_api() for m in chat.messages if not m.deleted]}
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method not in ("POST", "PUT") or not request.body_exists:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise bad_request("can't parse JSON request body") from None
                if isinstance(body, dict):
                    params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                params[key] = value
        return params

    async def _http_api(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._download(path[len("/file/bot") :])
        match = re.fullmatch(r"/bot([^/]*)/([^/]*)", path)
        if not match:
            return self._json(ApiError(404, "Not Found").body(), 404)
        token, method_name = match.groups()
        if token != self.token:
            return self._json(ApiError(401, "Unauthorized").body(), 401)
        try:
            params = await self._read_params(request)
        except web.HTTPRequestEntityTooLarge:
            return self._json(ApiError(413, "Request Entity Too Large").body(), 413)
        except ApiError as error:
            return self._json(error.body(), error.code)
        entry = self._methods.get(method_name.lower())
        canonical = entry[0] if entry else method_name
        chat_id = self._chat_key(params.get("chat_id"))
        record = RequestRecord(
            method=canonical,
            params={k: _loggable(v) for k, v in params.items()},
            time=time.monotonic(),
            wall_time=time.time(),
            chat_id=chat_id,
        )
        self.requests.append(record)
        self._busy += 1
        self._notify()
        busy = [True]
        fault: Fault | None = None
        try:
            if entry is None:
                raise ApiError(404, "Not Found")
            fault = self._take_fault(canonical, chat_id)
            if fault is None and self.chaos_state is not None:
                fault = self.chaos_state.strike(record)
            if fault is not None:
                record.fault = fault.fault
                if not fault.perform:
                    return await self._apply_fault(request, fault, record, busy)
            retry_after = self.flood.retry_after(canonical, chat_id)
            if retry_after is not None:
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
            call = Call(params, busy)
            result = await entry[1](call)
            self.flood.consume(canonical, chat_id)
            record.result = result
            if fault is not None:
                return await self._apply_fault(request, fault, record, busy)
            record.status = 200
            if request.transport is None or request.transport.is_closing():
                record.unheard = True  # the bot gave up waiting: it never learns of this
            return self._json({"ok": True, "result": result})
        except ApiError as error:
            if fault is not None and fault.perform:
                # the call was tried and refused, and that answer is lost too: the bot gets
                # the fault (a retry meets the refusal)
                return await self._apply_fault(request, fault, record, busy)
            record.status = error.code
            record.description = error.description
            record.retry_after = error.retry_after
            return self._json(error.body(), error.code)
        finally:
            if busy[0]:
                self._busy -= 1
            self._notify()

    async def _apply_fault(
        self, request: web.Request, fault: Fault, record: RequestRecord, busy: list[bool]
    ) -> web.StreamResponse:
        if fault.fault == "drop":
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        if fault.fault == "timeout":
            # the client gives up waiting; this call no longer counts as in flight
            busy[0] = False
            self._busy -= 1
            await self.wait_until(lambda: self._closing, self.stall_seconds)
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        error = {
            "429": ApiError(
                429, f"Too Many Requests: retry after {fault.retry_after}", fault.retry_after
            ),
            "500": ApiError(500, "Internal Server Error"),
            "502": ApiError(502, "Bad Gateway"),
            "400": ApiError(400, fault.description or "Bad Request: chat not found"),
            "403": ApiError(403, fault.description or BLOCKED),
        }[fault.fault]
        record.status = error.code
        record.description = error.description
        record.retry_after = error.retry_after
        return self._json(error.body(), error.code)

    async def _download(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return self._json(ApiError(401, "Unauthorized").body(), 401)
        stored = self._file_paths.get(file_path)
        if stored is None:
            return self._json(ApiError(404, "Not Found").body(), 404)
        self.downloads.append(file_path)
        self._notify()
        return web.Response(body=stored.data, content_type="application/octet-stream")

    @staticmethod
    def _chat_key(value: Any) -> int | str | None:
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)

    # --- helpers for API methods ---------------------------------------------------------------

    def _target(self, call: Call) -> Chat:
        """The chat a method addresses, with Telegram's refusals."""
        raw = call.raw("chat_id")
        if raw is None:
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            wanted = str(raw).lstrip("@").lower()
            chat_id = next(
                (
                    c.id
                    for c in self.chats.values()
                    if c.info.get("username", "").lower() == wanted
                ),
                0,
            )
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.type != "private" and not chat.bot_member:
            kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
        user = self.users.get(chat_id)
        if user is not None:
            if user.blocked:
                raise ApiError(403, BLOCKED)
            if not user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _formatted(
        self,
        call: Call,
        field: str,
        entities_field: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        text = call.str(field)
        if text is None:
            if empty is not None:
                raise bad_request(empty)
            return None, []
        explicit = call.obj(entities_field)
        parse_mode = call.str("parse_mode")
        if explicit is not None:
            if not isinstance(explicit, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in explicit
            ):
                raise bad_request("can't parse entities JSON object")
            entities = explicit
        else:
            try:
                text, entities = parse_text(text, parse_mode)
            except KeyError:
                raise bad_request("unsupported parse_mode") from None
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        text, entities = strip_text(text, entities)
        if not text:
            if empty is not None:
                raise bad_request(empty)
            return None, []
        if len(text) > limit:
            raise bad_request(too_long)
        return text, detect_entities(text, entities)

    def _text(self, call: Call) -> tuple[str, list[dict[str, Any]]]:
        text, entities = self._formatted(
            call,
            "text",
            "entities",
            limit=L.MAX_TEXT,
            too_long="message is too long",
            empty="message text is empty",
        )
        assert text is not None
        return text, entities

    def _caption(self, call: Call) -> tuple[str | None, list[dict[str, Any]]]:
        return self._formatted(
            call,
            "caption",
            "caption_entities",
            limit=L.MAX_CAPTION,
            too_long="message caption is too long",
            empty=None,
        )

    def _reply_markup(self, call: Call, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = call.obj("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        unparsable = bad_request("can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            raise unparsable
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise unparsable
            if sum(len(row) for row in rows) > L.MAX_BUTTONS:
                raise bad_request("reply markup is too long")
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
            return {"inline_keyboard": rows}
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise unparsable
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(text, str) or not text:
                        raise bad_request(
                            'can\'t parse keyboard button: Field "text" must be of type String'
                        )
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise unparsable

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise bad_request(
                "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
            )
        if not isinstance(button.get("text"), str):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        if not button["text"].strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        actions = [name for name in INLINE_ACTIONS if name in button]
        if not actions:
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if (
                not isinstance(data, str)
                or not 1 <= len(data.encode("utf-8")) <= L.MAX_CALLBACK_DATA
            ):
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
                raise bad_request("BUTTON_URL_INVALID")

    def _reply_to(self, call: Call, chat: Chat) -> ChatMessage | None:
        parameters = call.obj("reply_parameters")
        if isinstance(parameters, dict):
            message_id = parameters.get("message_id")
            allow = bool(parameters.get("allow_sending_without_reply"))
        else:
            message_id = call.int("reply_to_message_id")
            allow = call.bool("allow_sending_without_reply")
        if message_id is None:
            return None
        target = chat.find(int(message_id))
        if target is None or target.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _bot_message(self, chat: Chat, call: Call, **fields: Any) -> dict[str, Any]:
        markup = self._reply_markup(call)
        reply_to = self._reply_to(call, chat)
        message = self._add_message(
            chat,
            from_bot=True,
            sender=self.bot_user,
            parse_mode=call.str("parse_mode"),
            reply_markup=markup,
            reply_to=reply_to,
            **fields,
        )
        if markup is not None:
            if "keyboard" in markup:
                chat.keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.keyboard = None
        return message.to_api()

    def _editable(self, call: Call) -> tuple[Chat, ChatMessage]:
        if call.raw("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._target(call)
        message_id = call.int("message_id", required=True)
        assert message_id is not None
        message = chat.find(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    def _input_file(self, call: Call, field: str, kind: str) -> StoredFile:
        value = call.raw(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = call.raw(value[len("attach://") :])
        if value is None:
            raise bad_request(f"there is no {field} in the request")
        if isinstance(value, web.FileField):
            data = value.file.read()
            if not data:
                raise bad_request("file must be non-empty")
            if kind == "photo":
                size = image_size(data)
                if size is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                if len(data) > L.MAX_PHOTO:
                    raise bad_request("PHOTO_SAVE_FILE_INVALID")
                return self.store_file(data, "photo", width=size[0], height=size[1])
            file_name = os.path.basename(value.filename or "") or "file"
            mime = mimetypes.guess_type(file_name)[0] or value.content_type
            if mime == "application/octet-stream" and not mimetypes.guess_type(file_name)[0]:
                mime = None
            return self.store_file(data, "document", file_name=file_name, mime_type=mime)
        if not isinstance(value, str):
            raise bad_request(WRONG_FILE)
        stored = self.files.get(value)
        if stored is None:
            raise bad_request(WRONG_FILE)
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    # --- API methods ---------------------------------------------------------------------------

    async def _api_get_me(self, call: Call) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_log_out(self, call: Call) -> Any:
        return True

    async def _api_close(self, call: Call) -> Any:
        return True

    def _deliverable(self) -> list[dict[str, Any]]:
        """Pending updates of allowed types (others are dropped, as Telegram does)."""
        allowed = self._allowed_updates
        kept = []
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            if (kind in allowed) if allowed else (kind not in DEFAULT_UPDATE_TYPES_EXCLUDED):
                kept.append(update)
        if len(kept) != len(self._updates):
            self._updates = kept
        return kept

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        before = len(self._updates)
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if len(self._updates) != before:
            self._notify()

    def _set_allowed(self, call: Call) -> None:
        allowed = call.obj("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            self._allowed_updates = [str(kind) for kind in allowed]

    async def _api_get_updates(self, call: Call) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = call.int("offset")
        limit = min(max(call.int("limit", 100) or 100, 1), 100)
        timeout = max(call.float("timeout", 0.0), 0.0)
        self._set_allowed(call)
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older waiting getUpdates ends with 409
        if not self._deliverable() and timeout > 0 and not self._closing:
            busy = call.busy
            busy[0] = False
            self._busy -= 1
            try:
                await self.wait_until(
                    lambda: (
                        self._deliverable()
                        or generation != self._poll_generation
                        or self._webhook is not None
                        or self._closing
                    ),
                    timeout,
                )
            finally:
                busy[0] = True
                self._busy += 1
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if self._webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if self._closing:
                return []
        return self._deliverable()[:limit]

    async def _api_send_message(self, call: Call) -> Any:
        chat = self._target(call)
        text, entities = self._text(call)
        return self._bot_message(
            chat,
            call,
            text=text,
            entities=entities,
            link_preview_options=call.obj("link_preview_options"),
        )

    async def _api_send_document(self, call: Call) -> Any:
        chat = self._target(call)
        caption, caption_entities = self._caption(call)
        stored = self._input_file(call, "document", "document")
        return self._bot_message(
            chat, call, document=stored, caption=caption, caption_entities=caption_entities
        )

    async def _api_send_photo(self, call: Call) -> Any:
        chat = self._target(call)
        caption, caption_entities = self._caption(call)
        stored = self._input_file(call, "photo", "photo")
        return self._bot_message(
            chat, call, photo=stored, caption=caption, caption_entities=caption_entities
        )

    def _edited(self, message: ChatMessage, old: str | None) -> dict[str, Any]:
        if old is not None:
            message.history.append(old)
        message.edit_date = int(time.time())
        message.seq = self._bump()
        self._notify()
        return message.to_api()

    async def _api_edit_message_text(self, call: Call) -> Any:
        _, message = self._editable(call)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._text(call)
        markup = self._reply_markup(call, inline_only=True)
        if text == message.text and entities == message.entities and markup == _inline(message):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        old = message.text
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.parse_mode = call.str("parse_mode")
        link_preview = call.obj("link_preview_options")
        if link_preview is not None:
            message.link_preview_options = link_preview
        return self._edited(message, old)

    async def _api_edit_message_caption(self, call: Call) -> Any:
        _, message = self._editable(call)
        if message.file is None:
            raise bad_request("there is no caption in the message to edit")
        caption, caption_entities = self._caption(call)
        markup = self._reply_markup(call, inline_only=True)
        if (
            caption == message.caption
            and caption_entities == message.caption_entities
            and markup == _inline(message)
        ):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        old = message.caption or ""
        message.caption, message.caption_entities, message.reply_markup = (
            caption,
            caption_entities,
            markup,
        )
        return self._edited(message, old)

    async def _api_edit_message_reply_markup(self, call: Call) -> Any:
        _, message = self._editable(call)
        markup = self._reply_markup(call, inline_only=True)
        if markup == _inline(message):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.reply_markup = markup
        return self._edited(message, None)

    async def _api_delete_message(self, call: Call) -> Any:
        chat = self._target(call)
        message_id = call.int("message_id", required=True)
        assert message_id is not None
        message = chat.find(message_id)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        if not message.from_bot and chat.type != "private":
            raise bad_request("message can't be deleted")
        message.deleted = True
        message.seq = self._bump()
        self._notify()
        return True

    async def _api_answer_callback_query(self, call: Call) -> Any:
        query_id = call.str("callback_query_id")
        if query_id is None:
            raise bad_request("callback_query_id is empty")
        query = self.callback_queries.get(query_id)
        if (
            query is None
            or query.answer is not None
            or time.monotonic() - query.time > self.callback_timeout
        ):
            raise bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = call.str("text")
        if text is not None and len(text) > L.MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=query_id,
            text=text,
            show_alert=call.bool("show_alert"),
            url=call.str("url"),
            cache_time=call.int("cache_time", 0) or 0,
            time=time.monotonic(),
        )
        query.answer = answer
        self.callback_answers.append(answer)
        self._notify()
        return True

    async def _api_get_file(self, call: Call) -> Any:
        file_id = call.str("file_id")
        if file_id is None:
            raise bad_request("file_id is empty")
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > L.MAX_DOWNLOAD:
            raise bad_request("file is too big")
        if stored.file_path is None:
            folder = "photos" if stored.kind == "photo" else "documents"
            ext = os.path.splitext(stored.file_name or "")[1] or (
                ".jpg" if stored.kind == "photo" else ""
            )
            stored.file_path = f"{folder}/file_{next(self._file_counter)}{ext}"
            self._file_paths[stored.file_path] = stored
        return stored.file_dict()

    def _scope_key(self, call: Call) -> Any:
        scope = call.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return kind
        if kind in ("chat", "chat_administrators", "chat_member"):
            try:
                chat_id = int(scope.get("chat_id"))
            except (TypeError, ValueError):
                raise bad_request("chat not found") from None
            if chat_id not in self.chats:
                raise bad_request("chat not found")
            if kind == "chat_member":
                return (kind, chat_id, int(scope.get("user_id", 0)))
            return (kind, chat_id)
        raise bad_request("unsupported bot command scope type")

    async def _api_set_my_commands(self, call: Call) -> Any:
        commands = call.obj("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > L.MAX_COMMANDS:
            raise bad_request("too many commands")
        clean: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        key = (self._scope_key(call), call.str("language_code") or "")
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        self._notify()
        return True

    async def _api_get_my_commands(self, call: Call) -> Any:
        key = (self._scope_key(call), call.str("language_code") or "")
        return list(self._commands.get(key, []))

    async def _api_delete_my_commands(self, call: Call) -> Any:
        key = (self._scope_key(call), call.str("language_code") or "")
        self._commands.pop(key, None)
        self._notify()
        return True

    async def _api_set_webhook(self, call: Call) -> Any:
        url = call.str("url") or ""
        self._set_allowed(call)
        if call.bool("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self._webhook = None
            self._notify()
            return True
        if not re.match(r"https?://[^/\s]+", url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = call.str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = call.int("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("invalid max_connections specified")
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "ip_address": call.str("ip_address"),
            "last_error_date": None,
            "last_error_message": None,
        }
        self._poll_generation += 1
        self._notify()
        return True

    async def _api_delete_webhook(self, call: Call) -> Any:
        if call.bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        self._notify()
        return True

    async def _api_get_webhook_info(self, call: Call) -> Any:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._deliverable()),
        }
        hook = self._webhook
        if hook is not None:
            info["url"] = hook["url"]
            info["max_connections"] = hook["max_connections"]
            if hook["ip_address"]:
                info["ip_address"] = hook["ip_address"]
            if hook["last_error_date"]:
                info["last_error_date"] = hook["last_error_date"]
                info["last_error_message"] = hook["last_error_message"]
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    async def _api_send_chat_action(self, call: Call) -> Any:
        chat = self._target(call)
        action = call.str("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        self._notify()
        return True

    async def _api_get_chat(self, call: Call) -> Any:
        key = self._chat_key(call.raw("chat_id"))
        chat = self.chats.get(key) if isinstance(key, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return {**chat.info, "accent_color_id": 0, "max_reaction_count": 11}

    async def _api_leave_chat(self, call: Call) -> Any:
        chat = self._target(call)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.bot_member = False
        self.member_update(chat, self.bot_user, "member", "left")
        return True

    # --- webhook delivery ----------------------------------------------------------------------

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        while not self._closing:
            await self.wait_until(
                lambda: self._closing or (self._webhook is not None and self._deliverable()),
                None,
            )
            if self._closing:
                return
            hook = self._webhook
            assert hook is not None
            update = self._deliverable()[0]
            headers = {}
            if hook["secret_token"]:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            status: int | None = None
            error: str | None = None
            self._busy += 1
            try:
                assert self._session is not None
                async with self._session.post(
                    hook["url"],
                    data=_dumps(update).encode(),
                    headers={"Content-Type": "application/json", **headers},
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    status = response.status
                    await response.read()
                    if not 200 <= status < 300:
                        error = f"Wrong response from the webhook: {status} {response.reason}"
            except TimeoutError:
                error = "Read timeout expired"
            except aiohttp.ClientConnectorError:
                error = "Connection refused"
            except (aiohttp.ClientError, ValueError) as exc:
                error = f"Connection error: {exc.__class__.__name__}"
            finally:
                self._busy -= 1
            chaos = self.chaos_state
            lost = (
                error is None
                and chaos is not None
                and chaos.lose_webhook_answer(update["update_id"])
            )
            if lost:
                error = "Read timeout expired"  # as far as Telegram knows
            self.webhook_deliveries.append(
                WebhookDelivery(
                    update_id=update["update_id"],
                    url=hook["url"],
                    time=time.monotonic(),
                    status=status,
                    error=error,
                    lost=lost,
                )
            )
            if error is None:
                self._updates = [u for u in self._updates if u is not update]
                delay = self.webhook_retry_delay
                self._notify()
                continue
            hook["last_error_date"] = int(time.time())
            hook["last_error_message"] = error
            self._notify()
            await self.wait_until(lambda h=hook: self._closing or self._webhook is not h, delay)
            delay = min(delay * 2, 2.0)


def _inline(message: ChatMessage) -> dict[str, Any] | None:
    keyboard = message.inline_keyboard
    return {"inline_keyboard": keyboard} if keyboard is not None else None


def _loggable(value: Any) -> Any:
    if isinstance(value, web.FileField):
        value.file.seek(0, os.SEEK_END)
        size = value.file.tell()
        value.file.seek(0)
        return {"filename": value.filename, "content_type": value.content_type, "size": size}
    return value
