"""Deactivating and reactivating people: a member who leaves the committee, a handler who
moves on, a staff member who retires. What follows from it, in the database and in the chat,
and every refusal, which changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.dispatcher import Dispatcher
from storage.models import AuditEvent, InviteCode, Notice, Person
from tests.chat import Chat
from tests.factories import Story
from workflow import invites, people, queries
from workflow.core import notify
from workflow.errors import InvalidInput, NotFound, PermissionDenied, WrongInviteCode
from workflow.texts import Text


def deactivate(db, wf, who: int, actor=None) -> people.Deactivation:
    with db.session() as session:
        return people.deactivate(wf.ctx(session, actor), who)


def reactivate(db, wf, who: int, actor=None) -> None:
    with db.session() as session:
        people.reactivate(wf.ctx(session, actor), who)


def write_notice(db, wf, person: int, key: str) -> None:
    with db.session() as session:
        notify(wf.ctx(session, None), [person], "test", Text("测试通知 {key}", key=key), key=key)


def notices_of(db, person: int) -> list[Notice]:
    with db.read_session() as session:
        return list(
            session.exec(
                select(Notice).where(Notice.person_id == person).order_by(col(Notice.id))
            ).all()
        )


def is_active(db, person: int) -> bool:
    with db.read_session() as session:
        found = session.get(Person, person)
        assert found is not None
        return found.active


def audit_actions(db) -> list[str]:
    with db.read_session() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]


async def test_a_deactivated_member_is_told_so_and_finds_their_draft_when_back(
    db, wf, world, chat_as
):
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("📝 新建提案")
    await chat.send("关于增设社区养老服务站的建议")
    assert "请选择提案类别" in chat.said
    stale = chat.payload_of("委员提案")

    deactivate(db, wf, world.member, actor=world.staff)
    for attempt in (chat.send("/menu"), chat.send("委员提案"), chat.press(stale)):
        await attempt
        assert chat.said == "您的账号已停用，不能再通过提案通办理事项。如有疑问，请联系提案委。"
    await chat.send("/start KV3HBQ7M2P")  # not asked for an invite code, nor taken as one
    assert "账号已停用" in chat.said and "邀请码" not in chat.said

    reactivate(db, wf, world.member, actor=world.staff)
    await chat.send("/menu")
    await chat.tap("🗂 我的草稿")
    assert "您有 1 份草稿" in chat.said
    await chat.tap("《关于增设社区")
    await chat.tap("✏️ 继续编辑")
    assert "请选择提案类别" in chat.said
    assert audit_actions(db)[-2:] == ["person_deactivated", "person_reactivated"]


async def test_deactivating_cancels_what_waits_for_them_and_revokes_their_codes(
    db, wf, world, engine
):
    write_notice(db, wf, world.member, "before")  # no account yet: it will be parked
    with db.session() as session:
        code = invites.issue_invite(wf.ctx(session, world.staff), world.member)

    done = deactivate(db, wf, world.member)
    assert (done.notices_cancelled, done.codes_revoked, done.units_left) == (1, 1, ())
    [before] = notices_of(db, world.member)
    assert (before.state, before.last_error) == ("cancelled", "收件人已停用")
    with db.read_session() as session:
        assert all(c.revoked for c in session.exec(select(InviteCode)))
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "person_deactivated"))
        assert event.one().detail == {
            "person_id": world.member,
            "notices_cancelled": 1,
            "codes_revoked": 1,
            "units_left": [],
        }

    chat = Chat(engine, "tg-new-phone")
    await chat.send(code)
    assert "邀请码不正确" in chat.said
    with db.read_session() as session, pytest.raises(WrongInviteCode):
        invites.redeem_invite(wf.ctx(session, None), "test", "tg-x", code)

    write_notice(db, wf, world.member, "after")  # written while away: kept, but cancelled
    assert [(n.state, n.last_error) for n in notices_of(db, world.member)][-1] == (
        "cancelled",
        "收件人已停用",
    )
    reactivate(db, wf, world.member)
    assert {n.state for n in notices_of(db, world.member)} == {"cancelled"}  # not sent late
    with db.session() as session, pytest.raises(InvalidInput, match="没有停用"):
        people.reactivate(wf.ctx(session, None), world.member)


async def test_the_dispatcher_sends_nothing_to_someone_deactivated_meanwhile(
    app, db, wf, world, chat_as
):
    """A notice committed as its recipient was being deactivated is cancelled when claimed."""
    chat_as(world.member, "telegram")
    write_notice(db, wf, world.member, "racing")
    with db.session() as session:  # deactivated without the cancelling, as if in between
        person = session.get(Person, world.member)
        assert person is not None
        person.active = False
    sent: list[str] = []

    async def deliver(external_id, text, actions, **_):
        sent.append(text)

    assert await Dispatcher(app, {"telegram": deliver}).dispatch_once() == 0
    assert sent == []
    [notice] = notices_of(db, world.member)
    assert (notice.state, notice.last_error) == ("cancelled", "收件人已停用")


async def test_a_unit_keeps_its_work_and_staff_hear_when_its_last_handler_leaves(
    db, wf, world, chat_as
):
    _pid, lead, _co = Story(db, wf, world).assigned(co=False)
    staff = chat_as(world.staff)
    staff.notices()  # what the assignment told them

    first = deactivate(db, wf, world.handler_edu)
    assert first.units_left == ()
    colleague = chat_as(world.handler_edu2)
    await colleague.send("/menu")
    await colleague.tap("📥 交办事项")
    assert "关于改善城区小学放学" in "\n".join(colleague.buttons)
    assert staff.notices() == []  # 梁雪 still handles 区教育局's work

    last = deactivate(db, wf, world.handler_edu2)
    assert [(u.name, u.open_assignments) for u in last.units_left] == [("区教育局", 1)]
    [(text, _actions)] = staff.notices()
    assert text == (
        "梁雪已停用，区教育局在名册上已没有在用的承办人，该单位正在办理的 1 件提案无人办理。"
        "请在名册中为该单位添加承办人，并电话联系该单位。"
    )

    _pid2, _lead2, co = Story(db, wf, world).assigned()
    deactivate(db, wf, world.handler_health)  # a unit with nothing open
    [(text, _actions)] = staff.notices()[-1:]
    assert "区卫生健康委员会在名册上已没有在用的承办人，今后交办给该单位的提案将无人办理" in text


async def test_the_last_staff_member_and_others_cannot_be_deactivated(db, wf, world):
    deactivate(db, wf, world.staff2, actor=world.staff)
    before = audit_actions(db)
    only = "许静是名册中唯一在用的提案委工作人员"
    with db.session() as session, pytest.raises(InvalidInput, match=only):
        people.deactivate(wf.ctx(session, world.staff), world.staff)
    with db.session() as session, pytest.raises(PermissionDenied, match="只有提案委工作人员"):
        people.deactivate(wf.ctx(session, world.handler_edu), world.member)
    with db.session() as session, pytest.raises(InvalidInput, match="罗成已经是停用状态"):
        people.deactivate(wf.ctx(session, None), world.staff2)
    with db.session() as session, pytest.raises(NotFound):
        people.deactivate(wf.ctx(session, None), 9999)
    assert is_active(db, world.staff) and is_active(db, world.member)
    assert audit_actions(db) == before


def test_someone_is_found_by_id_phone_or_a_name_only_they_have(db, world):
    with db.session() as session:
        namesake = Person(name="林晓", phone="13900000001", roles="member", active=False)
        session.add(namesake)
        session.flush()
        other = namesake.id
    with db.read_session() as session:
        assert queries.find_person(session, str(world.staff)).id == world.staff
        assert queries.find_person(session, f"#{world.staff}").id == world.staff
        assert queries.find_person(session, "138 0000 0010").id == world.staff
        assert queries.find_person(session, "许静").id == world.staff
        with pytest.raises(InvalidInput) as ambiguous:
            queries.find_person(session, "林晓")
        assert ambiguous.value.message == (
            f"名册里有 2 位「林晓」：#{world.member}（13800000001）、"
            f"#{other}（13900000001，已停用）。请用编号或手机号指定。"
        )
        with pytest.raises(NotFound, match="名册里没有「无名氏」"):
            queries.find_person(session, "无名氏")


def test_a_co_signing_invitation_waiting_for_them_is_left_to_expire(db, wf, world):
    from storage.models import Signer

    pid = Story(db, wf, world).submitted(cosigners=[world.cosigner], confirm=False)
    done = deactivate(db, wf, world.cosigner)
    assert done.notices_cancelled == 1  # the request to co-sign
    with db.read_session() as session:
        signer = session.exec(
            select(Signer).where(Signer.proposal_id == pid, Signer.person_id == world.cosigner)
        ).one()
        assert signer.state == "pending"  # the co-signing window closes on it as on any other
    assert [n.kind for n in notices_of(db, world.cosigner) if n.state != "cancelled"] == []
