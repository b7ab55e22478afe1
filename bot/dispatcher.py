"""The outbox dispatcher: pending notices out through each recipient's chat channel.

At least once, never lost:

1. *Claim* (one short transaction): due notices of people reachable on a running channel
   are taken with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite writes one at a time) and
   set to ``sending`` with a lease (``not_before`` = now + lease). Two dispatchers never
   claim the same notice.
2. *Deliver* outside any transaction, in the recipient's language. A chat's notices go one
   after another in the order claimed, each message into it (every part of a long text)
   paced to ``chat_rate`` after a burst of ``chat_burst``; chats are served side by side. A
   text too long for one message goes as several parts: after each part but the last the
   count delivered is committed (renewing the lease), and an attempt begins after the parts
   an earlier one delivered, so no part arrives twice.
3. *Settle* (one short transaction): ``sent``; or, for a person who blocked the bot, the
   account is marked unreachable (staff are told) and the notice ``failed``; or, when the
   channel says how long to wait (Telegram's flood control: ``RetryLater``), back to
   ``pending`` until then, the person's other notices waiting as long (in the database, so
   that every bot process holds back), and not counted as a failed attempt; or, for another
   transient fault, back to ``pending`` after a backoff, ``failed`` after ``max_attempts``.

A crash between 1 and 3 leaves the notice ``sending``; when its lease runs out it is claimed
again, so only a message in flight at a crash can arrive twice. The dispatcher wakes when a
handled update may have written notices (``wake``), and on an interval for the rest.

Notices for people no account reaches are parked (``workflow.reach``) when the dispatcher
starts and every ``park_every`` seconds after, so that a claim reads only what it may send,
however many notices wait for staff who never bound an account.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from sqlalchemy import exists
from sqlalchemy import update as sa_update
from sqlmodel import col, select

from bot.app import App
from bot.outbox import render_notice
from storage.models import ChannelAccount, Notice, Person
from workflow.core import RECIPIENT_INACTIVE
from workflow.reach import PARKED, mark_unreachable, park_and_release, to_mend

log = logging.getLogger(__name__)


def in_quiet_hours(rules, moment: datetime) -> bool:
    """Whether ``moment`` falls in the quiet hours (local time; they may span midnight)."""
    start, end = (time.fromisoformat(t) for t in (rules.quiet_hours_start, rules.quiet_hours_end))
    if start == end:
        return False
    local = moment.astimezone(rules.tz).time()
    return start <= local < end if start < end else (local >= start or local < end)


class Progress(Protocol):
    """Commits how many parts of the notice's text have arrived so far."""

    def __call__(self, parts_sent: int) -> Awaitable[None]: ...


class Deliver(Protocol):
    """A channel's delivery of one notice to ``external_id``: its text, and its actions as
    buttons. A channel that sends a long text as several messages (parts) skips the first
    ``parts_sent`` (an earlier attempt delivered them), and after each further part but the
    last awaits ``progress`` with the number delivered so far, so that a failure later on
    is retried from the next part. Raises an ``unreachable_errors`` exception when the
    person blocked the bot, ``RetryLater`` when the channel was told how long to wait, and
    anything else for a transient fault."""

    def __call__(
        self,
        external_id: str,
        text: str,
        actions: list[dict],
        *,
        parts_sent: int,
        progress: Progress,
    ) -> Awaitable[None]: ...


class Unreachable(Exception):
    """A channel's refusal for good: the person blocked the bot."""


class RetryLater(Exception):
    """A channel's refusal for now that says when to try again (Telegram's flood control,
    a 429 with ``retry_after``): the notice, and the others into the same chat, wait that
    long, no less and no more; it does not count as a failed attempt."""

    def __init__(self, after: timedelta, reason: str = "") -> None:
        super().__init__(reason or f"retry after {after.total_seconds():g} s")
        self.after = after


class ClaimLost(Exception):
    """The notice is no longer this dispatcher's to send (another settled it after its
    lease ran out): the parts not yet sent are left alone."""


@dataclass
class Claimed:
    notice_id: int
    channel: str
    external_id: str
    text: str
    actions: list[dict]
    lease_until: datetime | None = None  # after this another dispatcher may claim it too
    parts_sent: int = 0  # of a long text, delivered by an earlier attempt


@dataclass
class Dispatcher:
    app: App
    channels: dict[str, Deliver]  # channel name → deliver; earlier names are preferred
    unreachable_errors: tuple[type[BaseException], ...] = (Unreachable,)
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=5)
    interval: float = 1.0
    concurrency: int = 16
    chat_rate: float = 1.0  # messages a second into one chat (Telegram: about one)
    chat_burst: int = 3  # a few may go at once before the pace applies
    park_every: float = 60.0  # seconds between rounds of parking (workflow.reach)
    _buckets: dict[tuple[str, str], tuple[float, float]] = field(init=False, default_factory=dict)
    _wake: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = field(init=False, default=None)
    # Accounts found unreachable in the current round: their other notices are not sent.
    _refused: set[tuple[str, str]] = field(init=False, default_factory=set)
    # Chats a channel was told to leave alone for a while (RetryLater): not before this.
    _held: dict[tuple[str, str], datetime] = field(init=False, default_factory=dict)

    def now(self) -> datetime:
        return self.app.workflow.clock()

    # ------------------------------------------------------------- running
    def wake(self) -> None:
        """Ask for a round now; safe to call from any thread."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        park_at = self._loop.time()
        while not stop.is_set():
            if self._loop.time() >= park_at:
                park_at = self._loop.time() + self.park_every
                try:
                    await asyncio.to_thread(self.park)
                except Exception:
                    log.exception("parking notices failed; trying again later")
            # Cleared before the round, not after: a wake while it claims or sends (a notice
            # committed after the claim read) makes the next round start at once.
            self._wake.clear()
            try:
                sent = await self.dispatch_once()
            except Exception:
                log.exception("a dispatch round failed; trying again shortly")
                sent = 0
            if sent >= self.batch:
                continue  # more are waiting
            waiters = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            await asyncio.wait(waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def dispatch_once(self) -> int:
        """Claim a batch, deliver it, settle it; returns how many were claimed."""
        claimed = await asyncio.to_thread(self.claim)
        if not claimed:
            return 0
        self._refused.clear()
        now = self.now()
        self._held = {key: until for key, until in self._held.items() if until > now}
        limit = asyncio.Semaphore(self.concurrency)
        # One chat's notices go one after another, in the order claimed (urgent first, then
        # oldest): sent side by side, two could reach the person in either order. Chats
        # are served side by side; one waiting for its pace holds no place of the others.
        chats: dict[tuple[str, str], list[Claimed]] = {}
        for item in claimed:
            chats.setdefault((item.channel, item.external_id), []).append(item)

        async def one_chat(items: list[Claimed]) -> None:
            for item in items:
                await self._pace(item)
                async with limit:
                    await self._deliver(item)

        await asyncio.gather(*(one_chat(items) for items in chats.values()))
        return len(claimed)

    async def _pace(self, item: Claimed) -> None:
        """Keep to ``chat_rate`` a second into one chat, after a burst of ``chat_burst``."""
        loop = asyncio.get_running_loop()
        key = (item.channel, item.external_id)
        while True:
            now = loop.time()
            tokens, since = self._buckets.get(key, (float(self.chat_burst), now))
            tokens = min(float(self.chat_burst), tokens + (now - since) * self.chat_rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return
            self._buckets[key] = (tokens, now)
            await asyncio.sleep((1 - tokens) / self.chat_rate)

    async def _deliver(self, item: Claimed) -> None:
        """Deliver one notice, its chat's pace kept (``_pace``) before it and before each
        further part of a long one, and settle it."""
        key = (item.channel, item.external_id)
        if key in self._refused:  # blocked, as a notice sent earlier in the round found
            await asyncio.to_thread(self.settle_unreachable, item, "blocked (found this round)")
            return
        held = self._held.get(key)
        if held is not None and self.now() < held:  # the channel asked to wait, for the chat
            await asyncio.to_thread(
                self.settle_later, item, held, "RetryLater: the chat was asked to wait"
            )
            return
        if item.lease_until is not None and self.now() >= item.lease_until - self.lease / 4:
            # Pacing into one chat took most of the claim's lease: another dispatcher may
            # claim the notice once it ends. Not sent here; it is claimed again then.
            log.info("notice %s left for the next round: its claim is ending", item.notice_id)
            return

        async def progress(parts_sent: int) -> None:
            if not await asyncio.to_thread(self.settle_progress, item, parts_sent):
                raise ClaimLost(f"notice {item.notice_id} was settled elsewhere")
            await self._pace(item)  # each part is a message into the chat

        keeper = asyncio.ensure_future(self._keep_claim(item))
        try:
            try:
                await self.channels[item.channel](
                    item.external_id,
                    item.text,
                    item.actions,
                    parts_sent=item.parts_sent,
                    progress=progress,
                )
            finally:
                keeper.cancel()
        except ClaimLost as exc:
            log.info("notice %s not sent on: %s", item.notice_id, exc)
        except self.unreachable_errors as exc:
            self._refused.add(key)
            await asyncio.to_thread(self.settle_unreachable, item, str(exc))
        except RetryLater as exc:
            until = self.now() + exc.after
            self._held[key] = max(until, self._held.get(key, until))
            log.info("notice %s waits until %s: %s", item.notice_id, until, exc)
            await asyncio.to_thread(self.settle_later, item, until, f"RetryLater: {exc}")
        except Exception as exc:
            log.warning("notice %s not delivered: %s", item.notice_id, exc)
            await asyncio.to_thread(self.settle_retry, item, f"{type(exc).__name__}: {exc}")
        else:
            await asyncio.to_thread(self.settle_sent, item)

    def park(self) -> tuple[int, int]:
        """Park the notices no account can carry, release those that one can now;
        (parked, released). What there is to do is read first, outside any write
        transaction: a round with nothing to do (almost every round) holds up no writer."""
        with self.app.db.read_session() as session:
            mending = to_mend(session)
        if not mending:
            return 0, 0
        with self.app.db.session() as session:
            parked, released = park_and_release(session, mending)
        if parked or released:
            log.info("notices parked: %d, released: %d", parked, released)
        return parked, released

    # ------------------------------------------------------------- the three transactions
    def claim(self) -> list[Claimed]:
        now = self.now()
        names = list(self.channels)
        reachable = (
            select(ChannelAccount.id)
            .where(
                ChannelAccount.person_id == Notice.person_id,
                col(ChannelAccount.channel).in_(names),
                ChannelAccount.unreachable == False,  # noqa: E712
            )
            .correlate(Notice)
        )
        quiet = in_quiet_hours(self.app.workflow.rules, now)
        due = [
            col(Notice.state).in_(["pending", "sending"]),
            col(Notice.not_before) <= now,
        ]
        if quiet:  # only urgent notices at night; the rest wait for the morning
            due.append(col(Notice.urgent).is_(True))
        # Most wakes (one after every handled update) find nothing due, or only notices
        # for people not reachable yet: a read says so without taking the write lock.
        with self.app.db.read_session() as session:
            found = select(Notice.id).where(*due, exists(reachable)).limit(1)
            if session.exec(found).first() is None:
                return []
        with self.app.db.session() as session:
            stmt = select(Notice).where(*due, exists(reachable))
            notices = session.exec(
                stmt.order_by(col(Notice.urgent).desc(), col(Notice.id))
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            ids = {n.person_id for n in notices}
            people = session.exec(
                select(Person.id, Person.locale, Person.active).where(col(Person.id).in_(ids))
            ).all()
            locales = {person_id: locale for person_id, locale, _active in people}
            inactive = {person_id for person_id, _locale, active in people if not active}
            accounts: dict[int, ChannelAccount] = {}  # the preferred reachable account
            for account in session.exec(
                select(ChannelAccount).where(
                    col(ChannelAccount.person_id).in_(ids),
                    col(ChannelAccount.channel).in_(names),
                    ChannelAccount.unreachable == False,  # noqa: E712
                )
            ):
                best = accounts.get(account.person_id)
                if best is None or names.index(account.channel) < names.index(best.channel):
                    accounts[account.person_id] = account
            claimed = []
            for notice in notices:
                if notice.person_id in inactive:  # written as they were being deactivated
                    notice.state, notice.last_error = "cancelled", RECIPIENT_INACTIVE
                    session.add(notice)
                    continue
                account = accounts[notice.person_id]
                text, actions = render_notice(notice, locales.get(notice.person_id) or "zh")
                notice.state = "sending"
                notice.attempts += 1
                notice.not_before = now + self.lease
                session.add(notice)
                claimed.append(
                    Claimed(
                        notice.id,  # type: ignore[arg-type]
                        account.channel,
                        account.external_id,
                        text,
                        actions,
                        lease_until=notice.not_before,
                        parts_sent=notice.parts_sent,
                    )
                )
            return claimed

    async def _keep_claim(self, item: Claimed) -> None:
        """While the channel is sending, renew the claim every third of the lease: a send
        that waits out Telegram's flood control (python-telegram-bot's limiter and ``_call``
        both wait inside the call) or a slow network keeps the notice to this dispatcher,
        instead of another claiming it when the lease runs out and sending it too."""
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                if not await asyncio.to_thread(self.settle_progress, item, None):
                    return
            except Exception:  # the database away for a moment: try again next period
                log.warning("claim of notice %s not renewed", item.notice_id, exc_info=True)

    def settle_progress(self, item: Claimed, parts_sent: int | None) -> bool:
        """Part of the notice's text arrived (``parts_sent``; None: the send goes on): the
        count is kept and the claim renewed for what is still to send. False if the notice
        is no longer being sent."""
        with self.app.db.session() as session:
            notice = session.get(Notice, item.notice_id)
            if notice is None or notice.state != "sending":
                return False
            if parts_sent is not None:
                notice.parts_sent = max(notice.parts_sent, parts_sent)
            notice.not_before = self.now() + self.lease
            session.add(notice)
        if parts_sent is not None:
            item.parts_sent = parts_sent
        item.lease_until = notice.not_before
        return True

    def settle_sent(self, item: Claimed) -> None:
        with self.app.db.session() as session:
            notice = session.get(Notice, item.notice_id)
            if notice is not None and notice.state == "sending":
                notice.state = "sent"
                notice.sent_at = self.now()
                notice.last_error = None
                session.add(notice)

    def settle_unreachable(self, item: Claimed, reason: str) -> None:
        """The account refused the notice (the person blocked the bot). The notice that found
        out fails, and staff are told; any other of theirs settled here after it (claimed in
        the same round) is parked, and goes out when the person writes again."""
        with self.app.db.session() as session:
            ctx = self.app.workflow.ctx(session, None)
            newly = mark_unreachable(ctx, item.channel, item.external_id, reason)
            notice = session.get(Notice, item.notice_id)
            if notice is not None and notice.state == "sending":
                # Another channel of the person may still carry it.
                others = session.exec(
                    select(ChannelAccount).where(
                        ChannelAccount.person_id == notice.person_id,
                        col(ChannelAccount.channel).in_(list(self.channels)),
                        ChannelAccount.unreachable == False,  # noqa: E712
                    )
                ).first()
                notice.state = "pending" if others else "failed" if newly else PARKED
                notice.not_before = self.now()
                if others:  # what this chat got of a long text, another has not
                    notice.parts_sent = 0
                notice.last_error = f"unreachable on {item.channel}: {reason}"[:500]
                session.add(notice)

    def settle_retry(self, item: Claimed, error: str) -> None:
        with self.app.db.session() as session:
            notice = session.get(Notice, item.notice_id)
            if notice is None or notice.state != "sending":
                return
            notice.last_error = error[:500]
            if notice.attempts >= self.max_attempts:
                notice.state = "failed"
            else:
                notice.state = "pending"
                notice.not_before = self.now() + self.retry_base * 2 ** (notice.attempts - 1)
            session.add(notice)

    def settle_later(self, item: Claimed, until: datetime, error: str) -> None:
        """The channel said when to try again: pending until then. Not a failed attempt:
        the notice is not given up on for waiting as long as it was asked to. The person's
        other pending notices wait as long, in the database: a second bot process (or this
        one after a restart) does not provoke the same refusal with them."""
        with self.app.db.session() as session:
            notice = session.get(Notice, item.notice_id)
            if notice is None or notice.state != "sending":
                return
            notice.last_error = error[:500]
            notice.state = "pending"
            notice.not_before = until
            notice.attempts = max(notice.attempts - 1, 0)
            session.add(notice)
            session.execute(
                sa_update(Notice)
                .where(
                    col(Notice.person_id) == notice.person_id,
                    col(Notice.state) == "pending",
                    col(Notice.not_before) < until,
                    col(Notice.id) != notice.id,
                )
                .values(not_before=until)
                .execution_options(synchronize_session=False)
            )
