"""Invite codes bind a chat account to a person on the roster.

A code is shown once and kept only as a hash; it works once, expires, and is replaced by a
newer one. Wrong codes are counted per chat account, and the count survives the refusal.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from storage.models import BindAttempt, ChannelAccount, InviteCode
from workflow.errors import InvalidInput, PermissionDenied, RateLimited, WrongInviteCode
from workflow.invites import (
    ALPHABET,
    CODE_LENGTH,
    hash_code,
    issue_invite,
    person_for_account,
    redeem_invite,
)

CHANNEL = "telegram"


@pytest.fixture
def act(db, wf):
    """Run one service call in its own transaction, as db.session() does for the bot."""

    def run(actor, fn, *args, **kwargs):
        with db.session() as session:
            return fn(wf.ctx(session, actor), *args, **kwargs)

    return run


@pytest.fixture
def issue(act, world):
    def issue_for(person_id, by=world.staff):
        return act(by, issue_invite, person_id)

    return issue_for


@pytest.fixture
def redeem(act):
    def redeem_as(external_id, code, display_name=None):
        return act(None, redeem_invite, CHANNEL, external_id, code, display_name)

    return redeem_as


def bound_person(db, wf, external_id):
    with db.session() as session:
        person = person_for_account(wf.ctx(session, None), CHANNEL, external_id)
        return person.id if person else None


def attempts(db, external_id, success=None):
    with db.read_session() as session:
        stmt = select(func.count()).where(
            BindAttempt.channel == CHANNEL, BindAttempt.external_id == external_id
        )
        if success is not None:
            stmt = stmt.where(BindAttempt.success == success)
        return session.exec(stmt).one()


# ---------------------------------------------------------------- issuing


def test_a_code_is_shown_once_and_stored_only_as_its_hash(db, world, issue):
    code = issue(world.member)
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)

    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM invite_code")).mappings().all()
        audit = conn.execute(text("SELECT * FROM audit_event")).mappings().all()
    assert len(rows) == 1
    assert rows[0]["code_hash"] == hash_code(code) != code
    stored = " ".join(str(v) for row in [*rows, *audit] for v in row.values())
    assert code not in stored
    assert code.lower() not in stored


def test_a_code_lasts_invite_ttl_hours(db, wf, world, issue, clock):
    issue(world.member)
    with db.read_session() as session:
        invite = session.exec(select(InviteCode)).one()
    assert invite.expires_at - invite.created_at == timedelta(hours=wf.rules.invite_ttl_hours)
    assert invite.created_by == world.staff


@pytest.mark.parametrize("who", ["member", "handler_edu", "supervisor", "leader"])
def test_only_staff_may_issue_codes(world, issue, who):
    with pytest.raises(PermissionDenied):
        issue(world.member, by=getattr(world, who))


def test_staff_and_the_system_may_issue_codes(db, world, issue):
    assert issue(world.member, by=world.staff)
    assert issue(world.cosigner, by=None)
    with db.read_session() as session:
        issuers = sorted((i.created_by or 0) for i in session.exec(select(InviteCode)).all())
    assert issuers == [0, world.staff]


def test_no_code_for_someone_not_on_the_roster(issue):
    with pytest.raises(InvalidInput):
        issue(999_999)


# ---------------------------------------------------------------- redeeming


def test_redeeming_a_code_binds_the_chat_account_to_its_person(db, wf, world, issue, redeem):
    code = issue(world.member)
    person = redeem("tg-1001", code, "林晓")
    assert person.id == world.member
    assert bound_person(db, wf, "tg-1001") == world.member
    assert attempts(db, "tg-1001", success=True) == 1


def test_a_code_may_be_typed_in_lower_case_with_spaces_and_dashes(db, wf, world, issue, redeem):
    code = issue(world.member)
    typed = f" {code[:5].lower()}-{code[5:].lower()} "
    assert redeem("tg-1001", typed).id == world.member


def test_a_code_works_only_once(db, wf, world, issue, redeem):
    code = issue(world.member)
    redeem("tg-1001", code)
    with pytest.raises(WrongInviteCode, match="已经用过"):
        redeem("tg-2002", code)
    assert bound_person(db, wf, "tg-2002") is None
    with pytest.raises(WrongInviteCode, match="已经用过"):
        redeem("tg-1001", code)


def test_a_code_expires_after_invite_ttl_hours(db, wf, world, issue, redeem, clock):
    late = issue(world.member)
    in_time = issue(world.cosigner)
    clock.advance(hours=wf.rules.invite_ttl_hours, minutes=-1)
    assert redeem("tg-2002", in_time).id == world.cosigner
    clock.advance(minutes=1)
    with pytest.raises(WrongInviteCode, match="已过期"):
        redeem("tg-1001", late)
    assert bound_person(db, wf, "tg-1001") is None


def test_a_newer_code_revokes_the_older_one(db, wf, world, issue, redeem):
    old = issue(world.member)
    new = issue(world.member)
    with pytest.raises(WrongInviteCode):
        redeem("tg-1001", old)
    assert redeem("tg-1001", new).id == world.member
    with db.read_session() as session:
        revoked = session.exec(select(InviteCode.revoked).order_by(InviteCode.id)).all()
    assert revoked == [True, False]


def test_a_new_code_for_one_person_leaves_other_peoples_codes_working(world, issue, redeem):
    member_code = issue(world.member)
    issue(world.cosigner)
    assert redeem("tg-1001", member_code).id == world.member


def test_an_account_bound_to_someone_else_cannot_take_another_persons_code(
    db, wf, world, issue, redeem
):
    """The refusal rolls back: the code stays unused and its owner can still bind."""
    redeem("tg-1001", issue(world.member))
    cosigner_code = issue(world.cosigner)
    with pytest.raises(InvalidInput, match="另一个人"):
        redeem("tg-1001", cosigner_code)
    assert bound_person(db, wf, "tg-1001") == world.member
    with db.read_session() as session:
        invite = session.exec(
            select(InviteCode).where(InviteCode.person_id == world.cosigner)
        ).one()
    assert invite.used_at is None
    assert redeem("tg-2002", cosigner_code).id == world.cosigner


def test_a_person_binding_a_new_account_moves_their_binding(db, wf, world, issue, redeem):
    redeem("tg-1001", issue(world.member))
    redeem("tg-1999", issue(world.member))
    assert bound_person(db, wf, "tg-1999") == world.member
    assert bound_person(db, wf, "tg-1001") is None
    with db.read_session() as session:
        accounts = session.exec(
            select(ChannelAccount).where(ChannelAccount.person_id == world.member)
        ).all()
    assert [a.external_id for a in accounts] == ["tg-1999"]


# ---------------------------------------------------------------- guessing


def test_wrong_codes_are_rate_limited_per_chat_account(db, wf, world, issue, redeem, clock):
    """After invite_max_failures wrong codes in the window, even the right code must wait;
    every failed attempt was kept although each redeem call raised."""
    code = issue(world.member)
    limit = wf.rules.invite_max_failures
    for i in range(limit):
        with pytest.raises(WrongInviteCode, match="不正确"):
            redeem("tg-guess", f"WRONG{i:05d}")
        assert attempts(db, "tg-guess", success=False) == i + 1

    with pytest.raises(RateLimited):
        redeem("tg-guess", code)
    assert attempts(db, "tg-guess") == limit
    with db.read_session() as session:
        assert session.exec(select(InviteCode)).one().used_at is None

    # Another chat account is not affected.
    assert redeem("tg-other", code).id == world.member


def test_the_rate_limit_lifts_when_the_window_has_passed(db, wf, world, issue, redeem, clock):
    code = issue(world.member)
    for i in range(wf.rules.invite_max_failures):
        with pytest.raises(WrongInviteCode):
            redeem("tg-guess", f"WRONG{i:05d}")
    clock.advance(minutes=wf.rules.invite_failure_window_minutes - 1)
    with pytest.raises(RateLimited):
        redeem("tg-guess", code)
    clock.advance(minutes=2)
    assert redeem("tg-guess", code).id == world.member


def test_used_and_expired_codes_count_as_failures_too(db, wf, world, issue, redeem, clock):
    used = issue(world.member)
    redeem("tg-1001", used)
    expired = issue(world.cosigner)
    clock.advance(hours=wf.rules.invite_ttl_hours + 1)
    for _ in range(2):
        with pytest.raises(WrongInviteCode):
            redeem("tg-guess", used)
        with pytest.raises(WrongInviteCode):
            redeem("tg-guess", expired)
    assert attempts(db, "tg-guess", success=False) == 4


def test_an_empty_code_is_a_wrong_code(db, redeem):
    with pytest.raises(WrongInviteCode):
        redeem("tg-guess", "")
    assert attempts(db, "tg-guess", success=False) == 1


def _at_once(count, fn):
    """Run ``fn(i)`` in ``count`` threads released together; returns results or errors."""
    import threading

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def work(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_wrong_guesses_from_one_account_are_all_counted(db, wf, world, redeem):
    limit = wf.rules.invite_max_failures
    results = _at_once(limit + 7, lambda i: redeem("tg-guesser", f"WRONG{i:05d}"))
    wrong = [r for r in results if isinstance(r, WrongInviteCode)]
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert len(wrong) == limit and len(limited) == 7
    with db.read_session() as s:
        assert s.exec(select(func.count()).select_from(BindAttempt)).one() == limit


def test_one_code_redeemed_by_two_accounts_at_once_binds_only_one(db, wf, world, issue, redeem):
    code = issue(world.member)
    results = _at_once(2, lambda i: redeem(f"tg-{i}", code))
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert sum(1 for r in results if isinstance(r, WrongInviteCode)) == 1
    bound = [bound_person(db, wf, f"tg-{i}") for i in range(2)]
    assert sorted(bound, key=lambda x: x is None) == [world.member, None]
