"""Every WeChat message is kept before it is handled, and handled once.

The puppet service emits a message once, to whoever listens, and offers no way to confirm
it: the bot keeps it itself. On receipt a message is stored in ``inbound_update`` (channel
``wechat``, its message id as the key), ``pending``, in a small transaction of its own
(``keep``), with what handling it again needs: who sent it, its type, its text (a file is
fetched again from the puppet service by the message id). The transaction that applies its
effects marks it ``done`` (``mark_done``, in ``Engine.handle``'s ``within`` hook); one
answered without the engine (a type the bot does not take, a code that is not valid, a file
that cannot be fetched) is given its outcome alone (``settle``). A message the puppet
service sends again finds itself kept and is not handled again — Wechaty drops an id it
emitted before only in the memory of one process.

A message whose handling a crash (or a stop) interrupted stays pending: the next start
handles it again once the puppet service has logged in (``pending``), oldest first, each
start counting as an attempt; one that failed ``MAX_ATTEMPTS`` starts is set aside as
failed. The statements are ``storage.inbound``'s, shared with Telegram.
"""

from __future__ import annotations

from sqlmodel import Session

from storage import inbound
from storage.clock import utcnow
from storage.db import Database

CHANNEL = "wechat"
MAX_ATTEMPTS = inbound.MAX_ATTEMPTS
AlreadyHandled = inbound.AlreadyHandled
Resumed = inbound.Resumed


def keep(db: Database, key: str, payload: dict) -> bool:
    """Store a message, pending, before it is handled; False when it was kept before (the
    puppet service sent it again)."""
    return bool(inbound.store_many(db, CHANNEL, [(key, payload)]))


def mark_done(session: Session, key: str) -> None:
    """Inside the message's own transaction: claim it as done, or raise ``AlreadyHandled``
    when it has an outcome already (the transaction is then rolled back)."""
    inbound.mark_done(session, CHANNEL, key)


def settle(db: Database, key: str, state: str = "done") -> bool:
    """Give a message answered without the engine its outcome (``done``, or ``failed`` when
    it could not be handled); False when it had one already (it was answered then)."""
    with db.session() as session:
        return inbound.settle(session.connection(), CHANNEL, key, state, None, utcnow())


def last_pending(db: Database) -> int | None:
    """Where a start's resumption ends: what is stored after it is this run's own."""
    return inbound.last_pending(db, CHANNEL)


def pending(db: Database, up_to: int | None) -> Resumed:
    """Messages a crash left unhandled, up to ``up_to``, oldest first (an attempt each)."""
    if up_to is None:
        return Resumed()
    return inbound.pending(db, CHANNEL, up_to=up_to, max_attempts=MAX_ATTEMPTS)


def state_of(db: Database, key: str) -> str | None:
    return inbound.state_of(db, CHANNEL, key)
