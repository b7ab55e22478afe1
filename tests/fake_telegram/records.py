"""What the fake server keeps: messages, files, callback queries and answers, request log, faults."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fake_telegram.server import FakeTelegram


@dataclass(eq=False)
class StoredFile:
    """A file Telegram holds: uploaded by the bot or by a user."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str  # "document" | "photo"
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    file_path: str | None = None  # set by getFile

    @property
    def file_size(self) -> int:
        return len(self.data)

    def document_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.file_size,
                "width": self.width,
                "height": self.height,
            }
        ]

    def file_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_path:
            result["file_path"] = self.file_path
        return result


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG / JPEG / GIF / WebP / BMP image, None when it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8\xff"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
        return 0, 0
    return None


@dataclass(eq=False)
class ChatMessage:
    """One message in a chat, from the bot or from a user, in its current state (after edits)."""

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    sender: dict[str, Any]
    chat: dict[str, Any]
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    link_preview_options: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    contact: dict[str, Any] | None = None
    reply_to: ChatMessage | None = None
    edit_date: int | None = None
    history: list[str] = field(default_factory=list)  # earlier texts / captions, oldest first
    deleted: bool = False
    seq: int = 0  # server change counter at creation or at the latest edit

    # --- reading -------------------------------------------------------------------------------

    @property
    def file(self) -> StoredFile | None:
        return self.document or self.photo

    @property
    def content(self) -> str:
        """The text, or the caption of a file message ("" when there is neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]] | None:
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return self.reply_markup["inline_keyboard"]
        return None

    @property
    def button_rows(self) -> list[list[str]]:
        return [[button["text"] for button in row] for row in self.inline_keyboard or []]

    @property
    def buttons(self) -> list[str]:
        """Texts of the inline buttons, row by row."""
        return [text for row in self.button_rows for text in row]

    @property
    def callback_data(self) -> list[str]:
        return [
            button["callback_data"]
            for row in self.inline_keyboard or []
            for button in row
            if "callback_data" in button
        ]

    def button(self, text: str, *, exact: bool = True) -> dict[str, Any] | None:
        for row in self.inline_keyboard or []:
            for button in row:
                if button["text"] == text or (not exact and text in button["text"]):
                    return button
        return None

    @property
    def keyboard(self) -> list[list[str]] | None:
        """Button texts of a reply keyboard this message carried (None if it had none)."""
        if self.reply_markup and "keyboard" in self.reply_markup:
            return keyboard_texts(self.reply_markup)
        return None

    def __contains__(self, text: str) -> bool:
        return text in self.content

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else self.sender.get("first_name", "user")
        extra = f" buttons={self.buttons}" if self.inline_keyboard else ""
        if self.file is not None:
            extra += f" file={self.file.file_name or self.file.kind}"
        return f"<{who} #{self.message_id} {self.content[:80]!r}{extra}>"

    # --- Bot API shape -------------------------------------------------------------------------

    def to_api(self, *, nested: bool = True) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.text is not None:
            message["text"] = self.text
            if self.entities:
                message["entities"] = self.entities
        if self.caption:
            message["caption"] = self.caption
            if self.caption_entities:
                message["caption_entities"] = self.caption_entities
        if self.document is not None:
            message["document"] = self.document.document_dict()
        if self.photo is not None:
            message["photo"] = self.photo.photo_sizes()
        if self.contact is not None:
            message["contact"] = self.contact
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.inline_keyboard is not None:
            message["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        if nested and self.reply_to is not None and not self.reply_to.deleted:
            message["reply_to_message"] = self.reply_to.to_api(nested=False)
        return message


def keyboard_texts(markup: dict[str, Any]) -> list[list[str]]:
    return [
        [button if isinstance(button, str) else button["text"] for button in row]
        for row in markup.get("keyboard", [])
    ]


@dataclass(eq=False)
class CallbackAnswer:
    """An answerCallbackQuery call the bot made."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    time: float


@dataclass(eq=False)
class CallbackQuery:
    """A button press sent to the bot; `answer` is filled in when the bot answers it."""

    tg: FakeTelegram = field(repr=False)
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    time: float
    answer: CallbackAnswer | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None

    async def wait_answer(self, timeout: float = 5.0) -> CallbackAnswer:
        """Wait until the bot answered this query (AssertionError after timeout seconds)."""
        answer = await self.tg.wait_until(lambda: self.answer, timeout)
        if answer is None:
            raise AssertionError(
                f"the bot did not answer callback query {self.data!r} within {timeout}s"
            )
        return answer


@dataclass(eq=False)
class RequestRecord:
    """One Bot API call as the server saw it."""

    method: str  # canonical spelling ("sendMessage") or the path's spelling if unknown
    params: dict[str, Any]
    time: float  # time.monotonic() when it arrived
    wall_time: float  # time.time() when it arrived
    chat_id: int | str | None = None
    status: int | None = None  # HTTP status sent (None while in flight or when dropped)
    description: str | None = None  # error description, if any
    retry_after: int | None = None
    fault: str | None = None  # the injected fault that hit this call
    result: Any = None
    chaos: bool = False  # the fault came from chaos (FakeTelegram.chaos), not from inject()
    unheard: bool = False  # the bot had hung up (its read timeout) before the answer was ready

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def carried_out(self) -> bool:
        """The server did what was asked (a message exists, a query is answered), whether
        or not the answer reached the bot."""
        return self.status == 200 or self.answer_lost

    @property
    def answer_lost(self) -> bool:
        """Carried out, but the bot never got the answer: a fault struck after the call, or
        the bot had stopped waiting for it."""
        return self.result is not None and (self.fault is not None or self.unheard)

    @property
    def acknowledged(self) -> bool:
        """Answered ok, and the bot got the answer."""
        return self.status == 200 and not self.unheard

    def param(self, name: str) -> Any:
        """A parameter as the bot meant it: form values (all strings) JSON-decoded when they
        are JSON (reply_markup, numbers, booleans), otherwise the string itself."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass(eq=False)
class Fault:
    """An injected failure: the next `times` matching calls fail this way."""

    method: str | None  # None = any method except getUpdates
    fault: str  # "429" | "500" | "502" | "400" | "403" | "timeout" | "drop"
    times: int | None = 1  # None = until removed
    retry_after: int = 1
    chat_id: int | str | None = None
    description: str | None = None
    perform: bool = False  # run the method first, then fail the response (lost reply)
    after: int = 0  # matching calls let through before the first failure
    hits: int = 0
    passed: int = 0  # matching calls let through so far (up to `after`)

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is None:
            if method.lower() == "getupdates":
                return False
        elif self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


CHAOS_FAULTS = ("429", "500", "502", "timeout", "drop")
# the parameters that tell one request from another of the same method and chat: a retry of a
# call repeats them all
_IDENTITY = ("callback_query_id", "file_id", "message_id", "text", "caption", "document", "scope")


def call_key(record: RequestRecord) -> tuple[str, str, str]:
    """(method, chat, identity) of a call: the same for a call and its retries."""
    identity = json.dumps(
        [record.params.get(name) for name in _IDENTITY if name in record.params],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return record.method.lower(), str(record.chat_id), identity


@dataclass(eq=False)
class Chaos:
    """Faults at random, reproducible from a seed (see `FakeTelegram.chaos`).

    Each call of a chosen method is struck with probability `rate`, by one of that method's
    faults. The draw for a call depends only on the seed, the method, the chat and how many
    calls of that method that chat had before, so how calls to different chats interleave does
    not change which ones fail. A request (a call and its retries, see `call_key`) fails at most
    `max_streak` times in a row: the next try gets through. `lost_answers` is the share of
    5xx / timeout / drop faults that strike after the call was carried out (the message went
    out; the bot never learns it); a 429, and any fault of getUpdates, is a refusal.
    `redeliver` is the share of webhook deliveries whose answer is lost, so Telegram sends
    the update again (at most `max_streak` times in a row).
    """

    rate: float
    faults: dict[str, tuple[str, ...]]  # lower-case method name → the faults it may get
    seed: int | str
    retry_after: int = 1
    lost_answers: float = 0.0
    max_streak: int = 2
    redeliver: float = 0.0
    active: bool = True
    struck: list[RequestRecord] = field(default_factory=list)  # the calls a fault hit
    outstanding: dict[tuple[str, str, str], RequestRecord] = field(default_factory=dict)
    _calls: dict[tuple[str, str], int] = field(default_factory=dict)
    _streaks: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _deliveries: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not all(0 <= p <= 1 for p in (self.rate, self.lost_answers, self.redeliver)):
            raise ValueError("rate, lost_answers and redeliver are probabilities")
        for method, kinds in self.faults.items():
            unknown = set(kinds) - set(CHAOS_FAULTS)
            if unknown or not kinds:
                raise ValueError(f"{method}: faults must be some of {CHAOS_FAULTS}")

    def strike(self, record: RequestRecord) -> Fault | None:
        """The fault for this call, or None (a call that gets through settles its request)."""
        method = record.method.lower()
        key = call_key(record)
        kinds = self.faults.get(method)
        if kinds is None:
            return None
        ordinal = self._calls.get((method, key[1]), 0)
        self._calls[(method, key[1])] = ordinal + 1
        draw = random.Random(f"{self.seed}/{method}/{key[1]}/{ordinal}")
        roll, kind, late = draw.random(), draw.choice(kinds), draw.random()
        streak = self._streaks.get(key, 0)
        if not self.active or roll >= self.rate or streak >= self.max_streak:
            self._streaks.pop(key, None)
            self.outstanding.pop(key, None)
            return None
        self._streaks[key] = streak + 1
        self.outstanding[key] = record
        self.struck.append(record)
        record.chaos = True
        return Fault(
            method=record.method,
            fault=kind,
            retry_after=self.retry_after,
            # a 429 is a refusal; a long poll is struck before it waits (its answer carries
            # nothing the retry does not fetch again)
            perform=kind != "429" and method != "getupdates" and late < self.lost_answers,
        )

    def lose_webhook_answer(self, update_id: int) -> bool:
        """Whether the bot's answer to this webhook delivery of the update is lost."""
        tries = self._deliveries.get(update_id, 0)
        self._deliveries[update_id] = tries + 1
        draw = random.Random(f"{self.seed}/webhook/{update_id}/{tries}").random()
        return self.active and tries < self.max_streak and draw < self.redeliver

    def settled(self) -> bool:
        """Every request a fault hit has been tried again (and that try got through)."""
        return not self.outstanding

    def summary(self) -> dict[tuple[str, str], int]:
        """How many calls each (method, fault) struck; lost answers as fault + "+lost"."""
        counts: dict[tuple[str, str], int] = {}
        for record in self.struck:
            kind = f"{record.fault}+lost" if record.answer_lost else str(record.fault)
            counts[(record.method, kind)] = counts.get((record.method, kind), 0) + 1
        return counts


@dataclass(eq=False)
class WebhookDelivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    url: str
    time: float
    status: int | None  # HTTP status of the webhook's answer, None on connection failure
    error: str | None
    lost: bool = False  # the bot answered, but chaos lost the answer: the update comes again


@dataclass(eq=False)
class Chat:
    """Server-side state of one chat."""

    id: int
    info: dict[str, Any]
    messages: list[ChatMessage] = field(default_factory=list)
    next_message_id: int = 1
    keyboard: dict[str, Any] | None = None  # the reply keyboard currently shown
    actions: list[str] = field(default_factory=list)
    bot_member: bool = True  # groups: the bot is in the group (False after leaveChat)

    @property
    def type(self) -> str:
        return self.info["type"]

    def find(self, message_id: int) -> ChatMessage | None:
        for message in reversed(self.messages):
            if message.message_id == message_id:
                return message
        return None
