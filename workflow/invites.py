"""Invite codes and account binding.

A code is shown once and stored only as a hash; it is one-time and expires. Wrong codes are
counted per chat account: too many inside the window and that account must wait.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from datetime import timedelta

from sqlmodel import col, func, select

from storage import repositories as repo
from storage.locks import lock_name
from storage.models import BindAttempt, ChannelAccount, InviteCode, Person, pk
from workflow.core import Ctx, audit
from workflow.errors import InvalidInput, PermissionDenied, RateLimited, WrongInviteCode
from workflow.reach import release_parked
from workflow.roles import Role
from workflow.roster import contact_mobile

log = logging.getLogger(__name__)

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 10


def _plain(code: str) -> str:
    """A code as issued: full-width letters and digits (a Chinese input method's) made
    plain, spaces and dashes dropped, upper case."""
    return "".join(unicodedata.normalize("NFKC", code).split()).replace("-", "").upper()


def hash_code(code: str) -> str:
    return hashlib.sha256(_plain(code).encode()).hexdigest()


def is_code(text: str) -> bool:
    """Whether a typed text has the form of an invite code (its length, its letters and
    digits): only such a text is tried, and counted against the limit when wrong."""
    plain = _plain(text)
    return len(plain) == CODE_LENGTH and all(c in ALPHABET for c in plain)


def issue_invite(ctx: Ctx, person_id: int) -> str:
    """A new one-time code for a person; their earlier unused codes stop working."""
    if ctx.actor is not None and not ctx.has_role(Role.STAFF):
        raise PermissionDenied("只有提案委工作人员可以发放邀请码。")
    person = ctx.session.get(Person, person_id)
    if person is None or not person.active:
        raise InvalidInput("名册里没有这个人，或其账号已停用。")
    for old in ctx.session.exec(
        select(InviteCode).where(
            InviteCode.person_id == person_id,
            col(InviteCode.used_at).is_(None),
            InviteCode.revoked == False,  # noqa: E712
        )
    ).all():
        old.revoked = True
        ctx.session.add(old)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    ctx.session.add(
        InviteCode(
            person_id=person_id,
            code_hash=hash_code(code),
            created_at=ctx.now,
            expires_at=ctx.now + timedelta(hours=ctx.rules.invite_ttl_hours),
            created_by=ctx.actor_id,
        )
    )
    audit(ctx, "invite_issued", person_id=person_id)
    return code


def _recent_failures(ctx: Ctx, channel: str, external_id: str) -> int:
    since = ctx.now - timedelta(minutes=ctx.rules.invite_failure_window_minutes)
    return ctx.session.exec(
        select(func.count()).where(
            BindAttempt.channel == channel,
            BindAttempt.external_id == external_id,
            BindAttempt.success == False,  # noqa: E712
            BindAttempt.at >= since,
        )
    ).one()


def _check_rate(ctx: Ctx, channel: str, external_id: str) -> None:
    """Attempts from one account run one at a time, so concurrent guesses are all counted."""
    lock_name(ctx.session, f"bind:{channel}:{external_id}")
    if _recent_failures(ctx, channel, external_id) >= ctx.rules.invite_max_failures:
        log.warning("binding attempts rate-limited for a %s account", channel)
        raise RateLimited(
            "尝试次数过多，请 {minutes} 分钟后再试，或联系提案委重新发放邀请码。",
            minutes=ctx.rules.invite_failure_window_minutes,
        )


def bind_by_phone(ctx: Ctx, channel: str, external_id: str, phone: str) -> Person:
    """Bind by the phone number the person shared from their own chat account.

    The channel vouches that the contact is the sender's own; an unknown number counts as a
    failed attempt, like a wrong code.
    """
    _check_rate(ctx, channel, external_id)
    normalised = contact_mobile(phone or "")
    person = repo.person_by_phone(ctx.session, phone=normalised) if normalised else None
    ok = person is not None and person.active
    ctx.session.add(BindAttempt(channel=channel, external_id=external_id, at=ctx.now, success=ok))
    if not ok:
        ctx.session.flush()
        if person is not None:  # on the roster, but no longer active
            raise WrongInviteCode("您在名册中的账号已停用，不能绑定。如有疑问请联系提案委。")
        raise WrongInviteCode("名册中没有这个手机号。请使用邀请码，或联系提案委核对名册。")
    assert person is not None
    return bind_account(ctx, pk(person), channel, external_id)


def redeem_invite(
    ctx: Ctx, channel: str, external_id: str, code: str, display_name: str | None = None
) -> Person:
    """Bind a chat account to the person the code was issued for.

    Wrong, used or expired codes count as failures; the attempt is recorded either way and
    kept even when the refusal rolls the rest back (``WrongInviteCode.commit_anyway``).
    """
    _check_rate(ctx, channel, external_id)
    invite = ctx.session.exec(
        select(InviteCode)
        .where(InviteCode.code_hash == hash_code(code or ""))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    ok = (
        invite is not None
        and not invite.revoked
        and invite.used_at is None
        and invite.expires_at > ctx.now
    )
    ctx.session.add(BindAttempt(channel=channel, external_id=external_id, at=ctx.now, success=ok))
    if not ok:
        ctx.session.flush()
        if invite is not None and invite.used_at is not None:
            raise WrongInviteCode("这个邀请码已经用过了，请联系提案委重新发放。")
        if invite is not None and invite.expires_at <= ctx.now:
            raise WrongInviteCode("这个邀请码已过期，请联系提案委重新发放。")
        raise WrongInviteCode("邀请码不正确，请核对后重新输入。")
    assert invite is not None
    invite.used_at = ctx.now
    ctx.session.add(invite)
    return bind_account(ctx, invite.person_id, channel, external_id, display_name)


def bind_account(
    ctx: Ctx, person_id: int, channel: str, external_id: str, display_name: str | None = None
) -> Person:
    """Link (or move) a person's account on a channel to ``external_id``."""
    person = ctx.session.get(Person, person_id)
    if person is None or not person.active:
        raise InvalidInput("名册里没有这个人，或其账号已停用。")
    taken = ctx.session.exec(
        select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.external_id == external_id
        )
    ).first()
    if taken is not None and taken.person_id != person_id:
        raise InvalidInput("这个聊天账号已经绑定了名册中的另一个人，请联系提案委处理。")
    account = (
        taken
        or ctx.session.exec(
            select(ChannelAccount).where(
                ChannelAccount.person_id == person_id, ChannelAccount.channel == channel
            )
        ).first()
    )
    if account is None:
        account = ChannelAccount(person_id=person_id, channel=channel, external_id=external_id)
    account.external_id = external_id
    account.display_name = display_name
    account.unreachable = False
    account.bound_at = ctx.now
    ctx.session.add(account)
    audit(ctx, "account_bound", person_id=person_id, channel=channel)
    release_parked(ctx.session, person_id)
    return person


def person_for_account(ctx: Ctx, channel: str, external_id: str) -> Person | None:
    account = ctx.session.exec(
        select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.external_id == external_id
        )
    ).first()
    return ctx.session.get(Person, account.person_id) if account else None
