"""Telegram's documented limits and the flood control (token buckets) of the fake server."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

MAX_TEXT = 4096  # characters of message text after entity parsing
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_CALLBACK_ANSWER = 200  # characters of answerCallbackQuery text
MAX_BUTTONS = 100
MAX_COMMANDS = 100
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile
MAX_UPLOAD = 50 * 1024 * 1024  # sendDocument by multipart upload
MAX_PHOTO = 10 * 1024 * 1024  # sendPhoto by multipart upload

# Methods that count against the flood limits (sending or changing a message).
LIMITED_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendaudio",
        "sendvideo",
        "sendvoice",
        "sendanimation",
        "sendsticker",
        "sendlocation",
        "sendcontact",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
        "editmessagemedia",
    }
)


@dataclass(frozen=True)
class RateLimits:
    """Flood limits as token buckets: `rate` tokens per second refill, `burst` capacity.

    Defaults follow Telegram's FAQ: about 30 messages per second overall, about one message
    per second in one private chat (a short burst goes through), 20 messages per minute in a
    group. `time_scale` multiplies every rate (10 = ten times faster refill) so benchmarks and
    long conversation tests can run at test speed; `enabled=False` switches flood control off.
    """

    global_rate: float = 30.0
    global_burst: float = 30.0
    chat_rate: float = 1.0
    chat_burst: float = 10.0
    group_rate: float = 20.0 / 60.0
    group_burst: float = 20.0
    time_scale: float = 1.0
    enabled: bool = True
    methods: frozenset[str] = field(default=LIMITED_METHODS)

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)

    def scaled(self, time_scale: float) -> RateLimits:
        return replace(self, time_scale=time_scale)


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; take() answers the seconds to wait."""

    def __init__(self, rate: float, burst: float, clock=time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.clock = clock
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        """Seconds until one token is available (0 when one is there now)."""
        self._refill()
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self.tokens -= 1


class FloodControl:
    """One global bucket plus one bucket per chat; check() takes tokens or says retry_after."""

    def __init__(self, limits: RateLimits, clock=time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        scale = limits.time_scale
        self._global = TokenBucket(limits.global_rate * scale, limits.global_burst, clock)
        self._chats: dict[int | str, TokenBucket] = {}

    def _chat_bucket(self, chat_id: int | str) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            scale = self.limits.time_scale
            is_group = isinstance(chat_id, int) and chat_id < 0
            if is_group:
                bucket = TokenBucket(
                    self.limits.group_rate * scale, self.limits.group_burst, self.clock
                )
            else:
                bucket = TokenBucket(
                    self.limits.chat_rate * scale, self.limits.chat_burst, self.clock
                )
            self._chats[chat_id] = bucket
        return bucket

    def _buckets(self, method: str, chat_id: int | str | None) -> list[TokenBucket]:
        if not self.limits.enabled or method.lower() not in self.limits.methods:
            return []
        buckets = [self._global]
        if chat_id is not None:
            buckets.append(self._chat_bucket(chat_id))
        return buckets

    def retry_after(self, method: str, chat_id: int | str | None) -> int | None:
        """None when the call may go through now, else Telegram's retry_after in seconds."""
        buckets = self._buckets(method, chat_id)
        wait = max((bucket.wait_time() for bucket in buckets), default=0.0)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def consume(self, method: str, chat_id: int | str | None) -> None:
        """Take the tokens of a call that went through."""
        for bucket in self._buckets(method, chat_id):
            bucket.take()
