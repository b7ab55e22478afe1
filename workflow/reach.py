"""Whether a person can be reached on a chat channel.

A channel that is refused for good (the person blocked the bot) marks the account
unreachable and tells staff once, so someone can get in touch another way; the person's
next message through that channel makes it reachable again.

Notices for people no account reaches (not bound yet, or every account they bound
unreachable) are *parked*: set aside from ``pending`` so that the dispatcher, which looks for
due notices every second, does not read them again each time. They go back to ``pending``
the moment the person binds an account or writes again (``release_parked``), and the
dispatcher's periodic ``park_and_release`` mends any that a race left on the wrong side.
"""

from __future__ import annotations

from sqlalchemy import CursorResult, bindparam, exists, update
from sqlalchemy.orm import Session
from sqlmodel import select

from storage.models import ChannelAccount, Notice, Person, table_of
from workflow.core import Ctx, audit, notify, people_with_role
from workflow.roles import Role
from workflow.texts import Text, label

CHANNEL_LABELS = {
    "telegram": label("Telegram"),
    "wechat": label("微信"),
    "console": label("控制台"),
}


def mark_unreachable(ctx: Ctx, channel: str, external_id: str, reason: str) -> bool:
    """Mark the account unreachable and tell staff; False if it already was (or is unknown)."""
    account = ctx.session.exec(
        select(ChannelAccount)
        .where(ChannelAccount.channel == channel, ChannelAccount.external_id == external_id)
        .with_for_update()
    ).first()
    if account is None or account.unreachable:
        return False
    account.unreachable = True
    ctx.session.add(account)
    person = ctx.session.get(Person, account.person_id)
    audit(ctx, "channel_unreachable", channel=channel, person_id=account.person_id, reason=reason)
    notify(
        ctx,
        people_with_role(ctx.session, Role.STAFF),
        "unreachable",
        Text(
            "无法向{name}推送消息（{channel}：对方已屏蔽或停用机器人）。请通过其他方式联系。",
            name=person.name if person else external_id,
            channel=CHANNEL_LABELS.get(channel, channel),
        ),
        key=f"{channel}:{external_id}:{ctx.now:%Y%m%d%H%M%S}",
        exclude=[account.person_id],
    )
    return True


# Runs for every incoming update: one statement, built once, that changes a row only when
# the account was unreachable, and says whose it was.
_accounts = table_of(ChannelAccount).c
_REACHABLE_AGAIN = (
    update(table_of(ChannelAccount))  # the table: a plain statement, no ORM bookkeeping
    .where(
        _accounts.channel == bindparam("account_channel"),
        _accounts.external_id == bindparam("account_id"),
        _accounts.unreachable,
    )
    .values(unreachable=False)
    .returning(_accounts.person_id)
)


# Session.info key: (channel, external id) of an account this transaction has read as
# reachable (the conversation engine reads it with the conversation), so that
# ``mark_reachable`` has nothing to write for it.
KNOWN_REACHABLE = "known_reachable"


def mark_reachable(ctx: Ctx, channel: str, external_id: str) -> None:
    """The person wrote through this channel: it reaches them (again)."""
    if ctx.session.info.get(KNOWN_REACHABLE) == (channel, external_id):
        return
    person_id = ctx.session.execute(
        _REACHABLE_AGAIN, {"account_channel": channel, "account_id": external_id}
    ).scalar()
    if person_id is not None:
        # A loaded account object would still say unreachable.
        for account in ctx.session.identity_map.values():
            if (
                isinstance(account, ChannelAccount)
                and account.channel == channel
                and account.external_id == external_id
            ):
                ctx.session.expire(account, ["unreachable"])
        audit(ctx, "channel_reachable", channel=channel, person_id=person_id)
        release_parked(ctx.session, person_id)


# ---------------------------------------------------------------- parked notices

PENDING, PARKED = "pending", "parked"
_notices = table_of(Notice).c
# Some account of the notice's recipient reaches them, on whatever channel.
_REACHES = exists().where(
    _accounts.person_id == _notices.person_id, _accounts.unreachable.is_(False)
)


def _changed(session: Session, statement) -> int:
    """Run an UPDATE past the ORM; how many rows it changed."""
    result: CursorResult = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False)
    )
    return result.rowcount


def park_and_release(session: Session) -> tuple[int, int]:
    """Park the pending notices of people no account reaches and release the parked ones of
    people reachable again; (parked, released). Each statement reads only the notices in
    its own state (the index on state), so this costs what is waiting, once a minute."""
    released = _changed(
        session,
        update(table_of(Notice)).where(_notices.state == PARKED, _REACHES).values(state=PENDING),
    )
    parked = _changed(
        session,
        update(table_of(Notice)).where(_notices.state == PENDING, ~_REACHES).values(state=PARKED),
    )
    return parked, released


def release_parked(session: Session, person_id: int) -> int:
    """The person can be reached now: their parked notices are due again; how many."""
    return _changed(
        session,
        update(table_of(Notice))
        .where(_notices.person_id == person_id, _notices.state == PARKED)
        .values(state=PENDING),
    )
