"""督办的重点提案: a lead leader's and a supervisor's list of the key proposals they follow,
as transcripts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from storage.models import Conversation, Person, Unit
from tests.chat import Chat
from tests.factories import Story
from workflow import key_proposals
from workflow.errors import PermissionDenied

ITEM = "⭐ 督办的重点提案"
SCHOOL = "关于改善城区小学放学时段交通秩序的建议"
ELDERLY = "关于增设社区老年食堂的建议"
BIKES = "关于规范共享单车停放的建议"


def add_person(db, name: str, phone: str, roles: str, unit_id: int | None = None) -> int:
    with db.session() as session:
        person = Person(name=name, phone=phone, roles=roles, unit_id=unit_id, title="副区长")
        session.add(person)
        session.flush()
        return person.id


def add_supervising_unit(db, name: str) -> int:
    with db.session() as session:
        unit = Unit(name=name, kind="supervising")
        session.add(unit)
        session.flush()
        return unit.id


def version(chat: Chat) -> str:
    return chat.last[-1].choices[0].payload.split("|")[0]


def conversation(db, chat: Chat) -> Conversation:
    with db.read_session() as s:
        return s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()


async def open_list(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap(ITEM)


async def test_a_lead_leader_sees_the_key_proposals_they_lead_and_opens_one(
    db, wf, world, chat_as
):
    story = Story(db, wf, world)
    other_leader = add_person(db, "孙明", "13800000041", "leader")
    story.assigned(key=True, title=SCHOOL)  # 第1号, led by 邓启明
    story.assigned(key=True, leader=other_leader, title=ELDERLY)  # 第2号, led by 孙明
    story.assigned(title=BIKES)  # 第3号, not a key proposal
    chat = chat_as(world.leader)
    await chat.send("/menu")
    assert ITEM in chat.buttons and "📥 交办事项" not in chat.buttons
    await chat.tap(ITEM)
    assert "2026年度您督办的重点提案共 1 件：" in chat.said
    assert (
        f"1. 2026年度第1号《{SCHOOL}》 办理中 · 主办：区教育局 · 答复期限 2026年12月14日"
    ) in chat.said
    assert "逾期" not in chat.said
    assert ELDERLY not in chat.said and BIKES not in chat.said
    assert chat.buttons[0].startswith("2026年度第1号 关于改善") and "办理中" in chat.buttons[0]
    assert chat.buttons[1:] == ["未办结的（各年度）", "🏠 返回菜单"]
    await chat.tap("2026年度第1号")
    # the whole record with its timeline, as 查询提案 shows it
    record = chat.last[0].text
    assert "编 号:2026年度第1号" in record and "督办单位:区政府督查室 牵头领导:邓启明" in record
    assert chat.buttons == ["返回列表", "🏠 返回菜单"]
    await chat.send("/status 1")
    assert chat.last[0].text == record
    await open_list(chat)
    await chat.tap("2026年度第1号")
    await chat.tap("返回列表")
    assert "2026年度您督办的重点提案共 1 件" in chat.said
    await chat.tap("🏠 返回菜单")
    assert "邓启明，您好" in chat.said

    other = chat_as(other_leader)
    await open_list(other)
    assert ELDERLY in other.said and SCHOOL not in other.said


async def test_a_supervisor_sees_the_key_proposals_their_unit_supervises(db, wf, world, chat_as):
    story = Story(db, wf, world)
    other_leader = add_person(db, "孙明", "13800000041", "leader")
    party_office = add_supervising_unit(db, "区委督查室")
    story.assigned(key=True, title=SCHOOL)  # 区政府督查室, 邓启明
    story.assigned(key=True, leader=other_leader, title=ELDERLY)  # 区政府督查室, 孙明
    story.assigned(key=True, supervising=party_office, title=BIKES)  # 区委督查室
    story.assigned(title="关于加强老旧小区加装电梯工作的建议")  # not key
    chat = chat_as(world.supervisor)
    await open_list(chat)
    assert "2026年度您督办的重点提案共 2 件：" in chat.said
    assert SCHOOL in chat.said and ELDERLY in chat.said
    assert BIKES not in chat.said and "电梯" not in chat.said
    await chat.tap("2026年度第2号")
    assert "督办单位:区政府督查室 牵头领导:孙明" in chat.said

    colleague = add_person(db, "葛军", "13800000031", "supervisor", party_office)
    other = chat_as(colleague)
    await open_list(other)
    assert "共 1 件" in other.said and BIKES in other.said and SCHOOL not in other.said


@pytest.mark.parametrize("who", ["member", "handler_edu", "staff"])
async def test_others_do_not_get_the_item_and_a_forged_payload_is_refused(
    db, wf, world, chat_as, who
):
    story = Story(db, wf, world)
    story.assigned(key=True)
    leader = chat_as(world.leader)
    await open_list(leader)
    copied = leader.payload_of("2026年度第1号")

    chat = chat_as(getattr(world, who))
    await chat.send("/menu")
    assert ITEM not in chat.buttons
    await chat.press(f"{version(chat)}|keys")
    assert "选项无效" in chat.said
    await chat.press(copied)  # the leader's button, copied
    assert "已过期" in chat.said or "选项无效" in chat.said
    assert "督办单位:区政府督查室" not in chat.said
    assert conversation(db, chat).flow == "menu"
    # the workflow refuses them the list and the record alike
    with db.session() as session:
        person = session.get(Person, getattr(world, who))
        ctx = wf.ctx(session, person)
        with pytest.raises(PermissionDenied, match="只有牵头领导和督办单位的人员"):
            key_proposals.years(ctx)
        with pytest.raises(PermissionDenied):
            key_proposals.followed_proposal(ctx, 1)


async def test_another_leaders_key_proposal_is_refused_by_the_workflow(db, wf, world):
    story = Story(db, wf, world)
    other_leader = add_person(db, "孙明", "13800000041", "leader")
    pid, _lead, _co = story.assigned(key=True, leader=other_leader)
    with db.session() as session:
        ctx = wf.ctx(session, session.get(Person, world.leader))
        with pytest.raises(PermissionDenied, match="这件提案不在您督办的重点提案之中"):
            key_proposals.followed_proposal(ctx, pid)
        ctx = wf.ctx(session, session.get(Person, other_leader))
        assert key_proposals.followed_proposal(ctx, pid).id == pid


async def test_an_overdue_reply_is_marked(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    story.accepted(key=True, title=SCHOOL)  # due 2026-12-14, a Monday
    story.accepted(key=True, title=ELDERLY, due_date=date(2026, 12, 11))  # a Friday
    _pid, _lead, _reply = story.replied(key=True, title=BIKES, due_date=date(2026, 12, 11))
    chat = chat_as(world.leader)
    clock.set_local(2026, 12, 12)  # Saturday: 第2号 due yesterday, no working day since
    await open_list(chat)
    lines = chat.said.split("\n")
    assert lines[1].endswith("答复期限 2026年12月14日")
    assert lines[2].endswith("答复期限 2026年12月11日 · ⚠️ 已逾期")
    assert lines[3].endswith("答复期限 2026年12月11日")  # answered in time: in review
    assert "答复待审核" in lines[3]
    clock.set_local(2026, 12, 17)  # Thursday
    await chat.send("/menu")
    await chat.tap(ITEM)
    lines = chat.said.split("\n")
    assert lines[1].endswith("答复期限 2026年12月14日 · ⚠️ 逾期 3 个工作日")
    assert lines[2].endswith("答复期限 2026年12月11日 · ⚠️ 逾期 4 个工作日")
    assert "逾期" not in lines[3]


async def test_many_key_proposals_are_shown_a_page_at_a_time(db, wf, world, chat_as):
    story = Story(db, wf, world)
    for n in range(1, 11):
        story.assigned(key=True, co=False, title=f"关于第{n}项民生实事的建议")
    chat = chat_as(world.leader)
    await open_list(chat)
    assert "共 10 件" in chat.said and "（第 1–8 件，共 10 件）" in chat.said
    assert "8. 2026年度第8号" in chat.said and "第9号" not in chat.said
    assert "更多" in chat.buttons
    await chat.tap("更多")
    assert "9. 2026年度第9号" in chat.said and "10. 2026年度第10号" in chat.said
    assert "（第 9–10 件，共 10 件）" in chat.said and "第1号《" not in chat.said
    await chat.tap("2026年度第10号")
    assert "编 号:2026年度第10号" in chat.said
    await chat.tap("返回列表")  # back to the page it was opened from
    assert "10. 2026年度第10号" in chat.said
    await chat.tap("回到第一页")
    assert "1. 2026年度第1号" in chat.said


async def test_this_years_first_then_another_year_or_the_open_ones(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    story.rated("satisfied", key=True, title=SCHOOL)  # 2026年度第1号, closed
    story.assigned(key=True, title=ELDERLY)  # 2026年度第2号, open
    clock.set_local(2027, 1, 11)
    story.assigned(key=True, title=BIKES)  # 2027年度第1号
    chat = chat_as(world.leader)
    await open_list(chat)
    assert "2027年度您督办的重点提案共 1 件：" in chat.said and BIKES in chat.said
    assert SCHOOL not in chat.said
    await chat.tap_year(2026)
    assert "2026年度您督办的重点提案共 2 件：" in chat.said
    assert f"《{SCHOOL}》 已办结" in chat.said and f"《{ELDERLY}》 办理中" in chat.said
    assert "主办：区教育局 · 已于2026年9月14日答复" in chat.said  # no due date once answered
    assert "2027年度" in chat.buttons
    await chat.tap("未办结的（各年度）")
    assert "您督办的未办结重点提案共 2 件（早的在前）：" in chat.said
    assert chat.said.index(ELDERLY) < chat.said.index(BIKES) and SCHOOL not in chat.said
    assert "未办结的（各年度）" not in chat.buttons
    await chat.tap_year(2027)
    assert "2027年度您督办的重点提案共 1 件" in chat.said


async def test_no_key_proposals_at_all_or_none_this_year(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    chat = chat_as(world.leader)
    await open_list(chat)
    assert "目前没有您督办的重点提案" in chat.said and "邓启明，您好" in chat.said
    assert conversation(db, chat).flow == "menu"

    story.assigned(key=True, title=SCHOOL)
    clock.set_local(2027, 1, 11)
    story.filed(title=BIKES)  # 2027年度第1号, not key: this year has none of 邓启明's
    await open_list(chat)
    assert "2027年度没有您督办的重点提案。" in chat.said
    assert chat.buttons == ["2026年度", "未办结的（各年度）", "🏠 返回菜单"]
    await chat.tap_year(2026)
    assert SCHOOL in chat.said


async def test_stale_and_no_longer_theirs_buttons_change_nothing(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.assigned(key=True, title=SCHOOL)
    chat = chat_as(world.supervisor)
    await open_list(chat)
    old = chat.payload_of("2026年度第1号")
    await chat.tap("2026年度第1号")
    await chat.press(old)  # a button of the list already left
    assert "按钮已过期" in chat.said and chat.buttons == ["返回列表", "🏠 返回菜单"]
    await chat.tap("返回列表")

    # 董宁 moves to another supervising unit while the list is on screen
    party_office = add_supervising_unit(db, "区委督查室")
    with db.session() as session:
        person = session.get(Person, world.supervisor)
        person.unit_id = party_office
        session.add(person)
    await chat.tap("2026年度第1号")
    assert "这件提案不在您督办的重点提案之中。" in chat.said
    assert "督办单位:区政府督查室" not in chat.said
    assert "目前没有您督办的重点提案" in chat.said  # the list asked again: nothing now
    assert conversation(db, chat).flow == "menu"


async def test_a_leader_who_loses_the_role_is_turned_back(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.assigned(key=True, title=SCHOOL)
    chat = chat_as(world.leader)
    await open_list(chat)
    with db.session() as session:
        person = session.get(Person, world.leader)
        person.roles = "member"
        session.add(person)
    await chat.tap("2026年度第1号")
    assert "这一项您无权使用" in chat.said and "督办单位:区政府督查室" not in chat.said
    assert "邓启明，您好" in chat.said and ITEM not in chat.buttons
    assert conversation(db, chat).flow == "menu"
