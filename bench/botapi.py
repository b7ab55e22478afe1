"""An in-process Bot API: a ``telegram.request.BaseRequest`` that answers python-telegram-bot
itself, with no network in between, and the people who chat through it.

It answers getMe, getUpdates (long polling: waits for an update up to ``timeout``),
sendMessage, sendDocument, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
setMyCommands, deleteMyCommands, deleteWebhook, setWebhook and sendChatAction, like the Bot
API would (the message it answers is the one Telegram would return). There is no flood
control: the benchmarks that need Telegram's limits use ``tests.fake_telegram`` over HTTP.

Every message the bot sends or edits is stamped with ``time.perf_counter()`` when the call
arrives, so a benchmark can read exactly when the person would have seen it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

TOKEN = "123456:bench-token-bench-token-bench-token"
BOT_ID = 123456


@dataclass
class Seen:
    """A message the bot sent or edited, as the person sees it at that moment."""

    seq: int
    message_id: int
    text: str
    buttons: list[dict]  # inline buttons, flat: {"text", "callback_data"}
    at: float  # perf_counter() when the call arrived


@dataclass
class ApiChat:
    chat_id: int
    first_name: str
    messages: dict[int, dict] = field(default_factory=dict)  # message id → as Telegram keeps it
    seen: list[Seen] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, seq: int, message: dict, at: float) -> None:
        markup = message.get("reply_markup") or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        self.seen.append(Seen(seq, message["message_id"], message.get("text", ""), buttons, at))
        event, self.changed = self.changed, asyncio.Event()
        event.set()


class InProcessBotAPI(BaseRequest):
    """The Bot API in the bot's own process (see the module docstring)."""

    def __init__(self, token: str = TOKEN, bot_id: int = BOT_ID) -> None:
        self.token = token
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "提案通",
            "username": "proposal_bench_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, ApiChat] = {}
        self.calls: Counter[str] = Counter()
        self._pending: deque[dict] = deque()
        self._arrived = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._query_ids = itertools.count(1)

    # ------------------------------------------------------------- BaseRequest
    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=None,
        write_timeout=None,
        connect_timeout=None,
        pool_timeout=None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        self.calls[name] += 1
        handler = getattr(self, f"_api_{name.lower()}", None)
        if handler is None:
            return 404, json.dumps(
                {"ok": False, "error_code": 404, "description": "Not Found"}
            ).encode()
        result = await handler(params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # ------------------------------------------------------------- people
    def chat(self, chat_id: int, first_name: str = "") -> ApiChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = ApiChat(chat_id, first_name or str(chat_id))
        return chat

    def user(self, user_id: int, first_name: str) -> ApiUser:
        self.chat(user_id, first_name)
        return ApiUser(self, user_id, first_name)

    def push(self, update: dict) -> int:
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, **update})
        self._arrived.set()
        return update_id

    @property
    def seq(self) -> int:
        """The sequence number the next bot message will be above."""
        return self._last_seq

    _last_seq = 0

    def _next_seq(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    # ------------------------------------------------------------- methods
    async def _api_getme(self, params: dict) -> dict:
        return self.bot

    async def _api_getupdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()
        if not self._pending and timeout > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        return list(itertools.islice(self._pending, limit))

    async def _ok(self, params: dict) -> bool:
        return True

    _api_setmycommands = _ok
    _api_deletemycommands = _ok
    _api_deletewebhook = _ok
    _api_setwebhook = _ok
    _api_sendchataction = _ok
    _api_answercallbackquery = _ok

    def _message(self, chat: ApiChat, text: str, markup: Any) -> dict:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat.chat_id, "type": "private", "first_name": chat.first_name},
            "from": self.bot,
            "text": text,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    async def _api_sendmessage(self, params: dict) -> dict:
        at = time.perf_counter()
        chat = self.chat(int(params["chat_id"]))
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            text = html.unescape(text)
        message = self._message(chat, text, params.get("reply_markup"))
        chat.messages[message["message_id"]] = message
        chat.record(self._next_seq(), message, at)
        return message

    async def _api_senddocument(self, params: dict) -> dict:
        at = time.perf_counter()
        chat = self.chat(int(params["chat_id"]))
        caption = html.unescape(str(params.get("caption") or ""))
        message = self._message(chat, caption, None)
        message.pop("text")
        message["caption"] = caption
        message["document"] = {
            "file_id": f"doc{message['message_id']}",
            "file_unique_id": f"u{message['message_id']}",
            "file_name": "document.txt",
        }
        chat.messages[message["message_id"]] = message
        chat.record(self._next_seq(), {**message, "text": caption}, at)
        return message

    async def _edit(self, params: dict, *, text: str | None) -> dict | bool:
        at = time.perf_counter()
        chat = self.chat(int(params["chat_id"]))
        message = chat.messages.get(int(params["message_id"]))
        if message is None:
            return True
        message = dict(message)
        if text is not None:
            message["text"] = html.unescape(text) if params.get("parse_mode") == "HTML" else text
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        chat.messages[message["message_id"]] = message
        chat.record(self._next_seq(), message, at)
        return message

    async def _api_editmessagetext(self, params: dict) -> dict | bool:
        return await self._edit(params, text=str(params.get("text", "")))

    async def _api_editmessagereplymarkup(self, params: dict) -> dict | bool:
        return await self._edit(params, text=None)

    def next_query_id(self) -> str:
        return f"q{next(self._query_ids)}"


@dataclass
class ApiUser:
    """A person in their private chat with the bot."""

    api: InProcessBotAPI
    user_id: int
    first_name: str
    mark: int = 0  # the bot's messages after this are answers to the latest action

    @property
    def _user(self) -> dict:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name}

    @property
    def chat(self) -> ApiChat:
        return self.api.chats[self.user_id]

    async def send(self, text: str) -> None:
        self.mark = self.api.seq
        message = {
            "message_id": next(self.api._message_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private", "first_name": self.first_name},
            "from": self._user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.api.push({"message": message})

    async def tap(self, label: str) -> None:
        """Press the inline button with this text (exact, else containing it) on the newest
        message that shows one."""
        for exact in (True, False):
            for seen in reversed(self.chat.seen):
                current = self.chat.messages.get(seen.message_id)
                if current is None or "reply_markup" not in current:
                    continue
                for row in current["reply_markup"]["inline_keyboard"]:
                    for button in row:
                        text = button.get("text", "")
                        if text == label if exact else label in text:
                            self._press(current, button["callback_data"])
                            return
        raise LookupError(f"no button {label!r} in chat {self.user_id}")

    def _press(self, message: dict, data: str) -> None:
        self.mark = self.api.seq
        self.api.push(
            {
                "callback_query": {
                    "id": self.api.next_query_id(),
                    "from": self._user,
                    "chat_instance": str(self.user_id),
                    "data": data,
                    "message": message,
                }
            }
        )

    async def wait_for(self, expect: str | tuple[str, ...], timeout: float = 30.0) -> Seen:
        """The first bot message after the latest action whose text holds ``expect`` (one of
        them, for a tuple)."""
        wanted = (expect,) if isinstance(expect, str) else expect
        deadline = time.perf_counter() + timeout
        checked = 0
        while True:
            seen = self.chat.seen
            for item in seen[checked:]:
                if item.seq > self.mark and any(w in item.text for w in wanted):
                    return item
            checked = len(seen)
            left = deadline - time.perf_counter()
            if left <= 0:
                said = [s.text[:80] for s in seen if s.seq > self.mark]
                raise TimeoutError(f"chat {self.user_id}: no {wanted!r} within {timeout}s: {said}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.chat.changed.wait(), left)
