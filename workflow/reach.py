"""Whether a person, or a unit's handlers, can be reached on a chat channel.

A channel that is refused for good (the person blocked the bot) marks the account
unreachable and tells staff once, so someone can get in touch another way; the person's
next message through that channel makes it reachable again.

Notices for people no account reaches (not bound yet, or every account they bound
unreachable) are *parked*: set aside from ``pending`` so that the dispatcher, which looks for
due notices every second, does not read them again each time. They go back to ``pending``
the moment the person binds an account or writes again (``release_parked``), and the
dispatcher's periodic ``park_and_release`` mends any that a race left on the wrong side.

A notice to a unit goes to its active handlers (承办人); ``unit_reach`` says whether any of
them will receive it, so that staff are never told a unit was notified when nobody there
can read it (no handler on the roster, or none with a chat account that reaches them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import CursorResult, bindparam, exists, literal_column, update
from sqlalchemy.orm import Session
from sqlmodel import col, select

from storage.models import ChannelAccount, Notice, Person, Unit, table_of
from workflow.core import Ctx, audit, notify, people_with_role
from workflow.errors import PermissionDenied
from workflow.roles import Role
from workflow.texts import Text, label

CHANNEL_LABELS = {
    "telegram": label("Telegram"),
    "wechat": label("微信"),
    "console": label("控制台"),
}


@dataclass(frozen=True)
class UnitReach:
    """Who would read a notice to a unit now: its active handlers (name and phone, for a
    call), how many have bound a chat account, how many some bound account reaches."""

    unit_id: int
    unit: str
    handlers: tuple[Text, ...]
    bound: int
    reachable: int

    def gap(self) -> Text | None:
        """What to say instead of "notified" when no handler of the unit will read the
        notice; None when one will."""
        if self.reachable:
            return None
        if not self.handlers:
            return Text(
                "{unit}在名册上没有承办人，这条通知没有发给任何人。"
                "请电话联系该单位，并在名册中添加承办人。",
                unit=self.unit,
            )
        if not self.bound:
            return Text(
                "{unit}的承办人{people}还没有绑定聊天账号，通知要等绑定后才会送达。"
                "请电话联系该单位。",
                unit=self.unit,
                people=list(self.handlers),
            )
        return Text(
            "{unit}的承办人{people}暂时收不到机器人的消息（未绑定聊天账号或已停用机器人），"
            "通知要等他们绑定或再给机器人发消息后才会送达。请电话联系该单位。",
            unit=self.unit,
            people=list(self.handlers),
        )


@dataclass(frozen=True)
class PersonReach:
    """Whether a notice to the proposer reaches them now: name and phone, for a call."""

    name: str
    phone: str
    bound: bool
    reachable: bool
    active: bool = True  # a deactivated person's notices are cancelled, bound or not

    def gap(self) -> Text | None:
        """What to say instead of "the proposer was notified" when they will not read it
        yet; None when they will."""
        if not self.active:
            return Text(
                "提案人{name}已在名册中停用，通知不会送达。如需告知，请电话联系（{phone}）。",
                name=self.name,
                phone=self.phone,
            )
        if self.reachable:
            return None
        if not self.bound:
            return Text(
                "提案人{name}还没有绑定聊天账号，通知要等绑定后才会送达。"
                "如需尽快告知，请电话联系（{phone}）。",
                name=self.name,
                phone=self.phone,
            )
        return Text(
            "提案人{name}暂时收不到机器人的消息（已停用机器人），通知要等他再给机器人发消息后"
            "才会送达。如需尽快告知，请电话联系（{phone}）。",
            name=self.name,
            phone=self.phone,
        )


def _require_staff_or_supervisor(ctx: Ctx) -> None:
    if ctx.actor is not None and not (ctx.has_role(Role.STAFF) or ctx.has_role(Role.SUPERVISOR)):
        raise PermissionDenied("只有提案委和督办单位可以查看承办单位能否收到通知。")


def person_reach(ctx: Ctx, person_id: int) -> PersonReach:
    """Whether notices to this person reach them, for staff who just told them something."""
    _require_staff_or_supervisor(ctx)
    person = ctx.session.get(Person, person_id)
    accounts = ctx.session.exec(
        select(ChannelAccount.unreachable).where(ChannelAccount.person_id == person_id)
    ).all()
    return PersonReach(
        name=person.name if person else "",
        phone=person.phone if person and person.phone else "",
        bound=bool(accounts),
        reachable=any(not unreachable for unreachable in accounts),
        active=person is not None and person.active,
    )


def unit_reach(ctx: Ctx, unit_ids: Iterable[int]) -> list[UnitReach]:
    """Whether notices to these units' handlers reach anyone, unit by unit (in the order
    given, each once). For staff and supervisors, who act on units and phone them."""
    _require_staff_or_supervisor(ctx)
    found = []
    for unit_id in dict.fromkeys(unit_ids):
        unit = ctx.session.get(Unit, unit_id)
        handlers = people_with_role(ctx.session, Role.HANDLER, unit_id)
        people = (
            ctx.session.exec(select(Person).where(col(Person.id).in_(handlers))).all()
            if handlers
            else []
        )
        accounts = (
            ctx.session.exec(
                select(ChannelAccount.person_id, ChannelAccount.unreachable).where(
                    col(ChannelAccount.person_id).in_(handlers)
                )
            ).all()
            if handlers
            else []
        )
        found.append(
            UnitReach(
                unit_id=unit_id,
                unit=unit.name if unit else "",
                handlers=tuple(
                    Text("{name}（{phone}）", name=p.name, phone=p.phone)
                    for p in sorted(people, key=_id)
                ),
                bound=len({person for person, _ in accounts}),
                reachable=len({person for person, unreachable in accounts if not unreachable}),
            )
        )
    return found


def _id(person: Person) -> int:
    return person.id or 0


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


# Whoever some account reaches and who has notices parked: for each reachable account, one
# probe of the index of parked notices (``ix_notice_parked``; partial, so the state is
# written out as a literal for the databases to see the query is within it), however many
# notices wait for people who never bound one.
_PARKED_BUT_REACHABLE = (
    select(_accounts.person_id)
    .where(
        _accounts.unreachable.is_(False),
        exists().where(
            _notices.person_id == _accounts.person_id,
            _notices.state == literal_column(f"'{PARKED}'"),
        ),
    )
    .distinct()
)
# A pending notice no account can carry.
_TO_PARK = select(_notices.id).where(_notices.state == PENDING, ~_REACHES).limit(1)


@dataclass(frozen=True)
class Mending:
    """What a round of parking has to change, read without writing."""

    park: bool  # some pending notice has no account to carry it
    release: tuple[int, ...]  # people reachable again whose notices are parked

    def __bool__(self) -> bool:
        return self.park or bool(self.release)


def to_mend(session: Session) -> Mending:
    """What ``park_and_release`` would change; reads only. Nothing, almost always: the
    dispatcher reads this first, so that a round with nothing to do takes no write lock."""
    park = session.execute(_TO_PARK).first() is not None
    release = tuple(sorted(session.execute(_PARKED_BUT_REACHABLE).scalars()))
    return Mending(park, release)


def park_and_release(session: Session, mending: Mending | None = None) -> tuple[int, int]:
    """Park the pending notices of people no account reaches and release the parked ones of
    people reachable again; (parked, released). ``mending``: what ``to_mend`` read, in
    another transaction (each statement checks its conditions again); without it, read
    here. Parking reads the pending notices (the index on state); releasing, an index probe
    for each reachable account, whatever the number of parked notices."""
    if mending is None:
        mending = to_mend(session)
    released = 0
    if mending.release:
        released = _changed(
            session,
            update(table_of(Notice))
            .where(
                _notices.person_id.in_(mending.release),
                _notices.state == PARKED,
                _REACHES,
            )
            .values(state=PENDING),
        )
    parked = 0
    if mending.park:
        parked = _changed(
            session,
            update(table_of(Notice))
            .where(_notices.state == PENDING, ~_REACHES)
            .values(state=PARKED),
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
