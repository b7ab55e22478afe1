"""已办结的交办: a handling unit's list of the assignments it has finished, as transcripts."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.models import Assignment, Conversation, Person
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY, Story
from workflow import assignments, countersigns, replies, unit_history
from workflow.errors import PermissionDenied

ITEM = "🗄 已办结的交办"
SCHOOL = "关于改善城区小学放学时段交通秩序的建议"
ELDERLY = "关于增设社区老年食堂的建议"
BIKES = "关于规范共享单车停放的建议"


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


def approved_as(story: Story, reply_class: str, **kw) -> int:
    """A proposal whose reply the review approved in ``reply_class``; its id."""
    pid, _lead, reply_id = story.replied(**kw)
    story.run(story.w.staff, replies.approve_reply, reply_id, reply_class)
    return pid


def co_reassigned_to_health(story: Story, **kw) -> int:
    """区交通运输局 asks to be relieved of co-handling, staff give it to 区卫生健康委员会,
    and the reply is approved after 区卫生健康委员会 countersigned it; the proposal's id."""
    w = story.w
    pid, lead, co = story.assigned(**kw)
    story.run(w.handler_tr, assignments.request_adjustment, co, "不属于本单位职责")
    story.run(w.staff, assignments.reassign, co, w.health)
    with story.db.read_session() as s:
        [health] = s.exec(
            select(Assignment.id).where(
                Assignment.proposal_id == pid, Assignment.unit_id == w.health
            )
        ).all()
    story.run(w.handler_edu, assignments.accept, lead)
    story.run(w.handler_health, assignments.accept, health)
    reply = story.run(w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(w.handler_health, countersigns.agree, reply.id)
    story.run(w.staff, replies.approve_reply, reply.id)
    return pid


async def test_a_handler_finds_what_their_unit_finished_as_lead_and_as_co(
    db, wf, world, chat_as, clock
):
    story = Story(db, wf, world)
    clock.set_local(2026, 12, 10, hour=7)  # still the 9th in UTC: the day said is Beijing's
    approved_as(story, "A", title=SCHOOL)  # 第1号: 区教育局 leads, 区交通运输局 co-handles
    clock.set_local(2026, 12, 11)
    story.delivered(co=False, title=ELDERLY)  # 第2号: 区教育局 alone, class B as proposed
    story.accepted(title=BIKES)  # 第3号: still being handled
    chat = chat_as(world.handler_edu)
    await chat.send("/menu")
    assert chat.buttons.index(ITEM) == chat.buttons.index("📥 交办事项") + 1
    await chat.tap(ITEM)
    assert "2026年度区教育局已办结的交办共 2 件：" in chat.said
    assert f"1. 2026年度第1号《{SCHOOL}》 主办 · 2026年12月10日办结 · 答复A类" in chat.said
    assert f"2. 2026年度第2号《{ELDERLY}》 主办 · 2026年12月11日办结 · 答复B类" in chat.said
    assert BIKES not in chat.said
    assert chat.buttons[0].startswith("2026年度第1号 关于改善") and "已答复" in chat.buttons[0]
    assert chat.buttons[2:] == ["🏠 返回菜单"]
    await chat.tap("2026年度第1号")
    # the whole record with its timeline, as 查询提案 shows it
    record = chat.last[0].text
    assert "编 号:2026年度第1号" in record and "审核通过" in record
    assert chat.buttons == ["返回列表", "🏠 返回菜单"]
    await chat.send("/status 1")
    assert chat.last[0].text == record
    await open_list(chat)
    await chat.tap("2026年度第2号")
    await chat.tap("返回列表")
    assert "已办结的交办共 2 件" in chat.said
    await chat.tap("🏠 返回菜单")
    assert "高远，您好" in chat.said

    co = chat_as(world.handler_tr)
    await open_list(co)
    assert "2026年度区交通运输局已办结的交办共 1 件：" in co.said
    assert f"1. 2026年度第1号《{SCHOOL}》 协办 · 2026年12月10日办结" in co.said
    assert "答复A类" not in co.said  # the class is the lead unit's
    assert ELDERLY not in co.said and BIKES not in co.said

    other = chat_as(world.handler_health)
    await open_list(other)
    assert "区卫生健康委员会还没有已办结的交办。" in other.said and "彭娟，您好" in other.said
    assert conversation(db, other).flow == "menu"


async def test_a_unit_relieved_by_reassignment_does_not_list_it(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = co_reassigned_to_health(story, title=SCHOOL)
    relieved = chat_as(world.handler_tr)
    await open_list(relieved)
    assert "区交通运输局还没有已办结的交办。" in relieved.said and SCHOOL not in relieved.said
    taker = chat_as(world.handler_health)
    await open_list(taker)
    assert f"1. 2026年度第1号《{SCHOOL}》 协办" in taker.said
    await taker.tap("2026年度第1号")
    assert "编 号:2026年度第1号" in taker.said
    with db.session() as session:
        ctx = wf.ctx(session, session.get(Person, world.handler_tr))
        with pytest.raises(PermissionDenied, match="不在本单位已办结的交办之中"):
            unit_history.finished_proposal(ctx, pid)


async def test_this_years_first_then_the_units_other_years(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    story.rated("satisfied", title=SCHOOL)  # 2026年度第1号
    story.delivered(co=False, title=ELDERLY)  # 2026年度第2号
    clock.set_local(2027, 1, 11)
    story.filed(title="关于加强老旧小区加装电梯工作的建议")  # 2027年度第1号, not assigned
    chat = chat_as(world.handler_edu)
    await open_list(chat)
    assert "2027年度区教育局没有已办结的交办。" in chat.said
    assert chat.buttons == ["2026年度", "🏠 返回菜单"]
    await chat.tap_year(2026)
    assert "2026年度区教育局已办结的交办共 2 件：" in chat.said
    assert SCHOOL in chat.said and ELDERLY in chat.said
    assert "2026年度" not in chat.buttons  # no button to the year shown

    story.delivered(co=False, title=BIKES)  # 2027年度第2号
    await open_list(chat)
    assert "2027年度区教育局已办结的交办共 1 件：" in chat.said and BIKES in chat.said
    assert SCHOOL not in chat.said
    await chat.tap_year(2026)
    assert "共 2 件" in chat.said and "2027年度" in chat.buttons
    await chat.tap_year(2027)
    assert BIKES in chat.said


async def test_many_finished_are_shown_a_page_at_a_time(db, wf, world, chat_as):
    story = Story(db, wf, world)
    for n in range(1, 11):
        story.delivered(co=False, title=f"关于第{n}项民生实事的建议")
    chat = chat_as(world.handler_edu2)  # any handler of the unit
    await open_list(chat)
    assert "共 10 件" in chat.said and "（第 1–8 件，共 10 件）" in chat.said
    assert "8. 2026年度第8号" in chat.said and "第9号" not in chat.said
    await chat.tap("更多")
    assert "9. 2026年度第9号" in chat.said and "10. 2026年度第10号" in chat.said
    assert "（第 9–10 件，共 10 件）" in chat.said and "第1号《" not in chat.said
    await chat.tap("2026年度第10号")
    assert "编 号:2026年度第10号" in chat.said
    await chat.tap("返回列表")  # back to the page it was opened from
    assert "10. 2026年度第10号" in chat.said
    await chat.tap("回到第一页")
    assert "1. 2026年度第1号" in chat.said


async def test_an_empty_inbox_offers_the_finished_ones(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.delivered(title=SCHOOL)
    chat = chat_as(world.handler_tr)
    await chat.send("/menu")
    await chat.tap("📥 交办事项")
    assert "区交通运输局目前没有需要办理的交办事项。" in chat.said
    assert chat.buttons == [ITEM, "返回菜单"]
    await chat.tap(ITEM)
    assert f"1. 2026年度第1号《{SCHOOL}》 协办" in chat.said
    assert conversation(db, chat).flow == "unit_history"


@pytest.mark.parametrize("who", ["member", "staff", "supervisor", "leader"])
async def test_others_do_not_get_the_item_and_a_forged_payload_is_refused(
    db, wf, world, chat_as, who
):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered(title=SCHOOL)
    handler = chat_as(world.handler_edu)
    await open_list(handler)
    copied = handler.payload_of("2026年度第1号")

    chat = chat_as(getattr(world, who))
    await chat.send("/menu")
    assert ITEM not in chat.buttons
    await chat.press(f"{version(chat)}|finished")
    assert "选项无效" in chat.said
    await chat.press(copied)  # the handler's button, copied
    assert "已过期" in chat.said or "选项无效" in chat.said
    assert "编 号:2026年度第1号" not in chat.said
    assert conversation(db, chat).flow == "menu"
    # the workflow refuses them the list and the record alike
    with db.session() as session:
        ctx = wf.ctx(session, session.get(Person, getattr(world, who)))
        with pytest.raises(PermissionDenied, match="只有承办单位的办理人员"):
            unit_history.years(ctx)
        with pytest.raises(PermissionDenied):
            unit_history.finished_proposal(ctx, pid)


async def test_the_workflow_refuses_what_is_not_the_units_finished_one(db, wf, world):
    story = Story(db, wf, world)
    done, _lead, _reply = story.delivered(co=False, title=SCHOOL)
    active, _lead, _co = story.accepted(title=ELDERLY)
    with db.session() as session:
        unitless = Person(name="田野", phone="13800000050", roles="handler")
        session.add(unitless)
        session.flush()
        ctx = wf.ctx(session, unitless)
        with pytest.raises(PermissionDenied, match="只有承办单位的办理人员"):
            unit_history.count(ctx, year=2026)
        edu = wf.ctx(session, session.get(Person, world.handler_edu))
        assert unit_history.finished_proposal(edu, done).id == done
        with pytest.raises(PermissionDenied, match="这件提案不在本单位已办结的交办之中。"):
            unit_history.finished_proposal(edu, active)  # still being handled
        with pytest.raises(PermissionDenied, match="这件提案不在本单位已办结的交办之中。"):
            unit_history.finished_proposal(edu, 999)
        transport = wf.ctx(session, session.get(Person, world.handler_tr))
        with pytest.raises(PermissionDenied, match="这件提案不在本单位已办结的交办之中。"):
            unit_history.finished_proposal(transport, done)  # 区教育局's alone


async def test_stale_and_no_longer_theirs_buttons_change_nothing(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.delivered(title=SCHOOL)
    chat = chat_as(world.handler_edu)
    await open_list(chat)
    old = chat.payload_of("2026年度第1号")
    await chat.tap("2026年度第1号")
    await chat.press(old)  # a button of the list already left
    assert "按钮已过期" in chat.said and chat.buttons == ["返回列表", "🏠 返回菜单"]
    await chat.tap("返回列表")

    # 高远 moves to 区卫生健康委员会 while the list is on screen
    with db.session() as session:
        person = session.get(Person, world.handler_edu)
        person.unit_id = world.health
        session.add(person)
    await chat.tap("2026年度第1号")
    assert "这件提案不在本单位已办结的交办之中。" in chat.said
    assert "编 号:2026年度第1号" not in chat.said
    assert "区卫生健康委员会还没有已办结的交办。" in chat.said  # the list asked again
    assert conversation(db, chat).flow == "menu"


async def test_a_handler_who_loses_the_role_is_turned_back(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.delivered(title=SCHOOL)
    chat = chat_as(world.handler_edu)
    await open_list(chat)
    with db.session() as session:
        person = session.get(Person, world.handler_edu)
        person.roles = "member"
        session.add(person)
    await chat.tap("2026年度第1号")
    assert "这一项您无权使用" in chat.said and "编 号:2026年度第1号" not in chat.said
    assert ITEM not in chat.buttons
    assert conversation(db, chat).flow == "menu"


async def test_an_assignment_handled_again_leaves_the_lead_units_list(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.rated("unsatisfied", title=SCHOOL)
    story.run(world.staff, replies.order_rehandle, pid)  # 区教育局 replies again
    lead = chat_as(world.handler_edu)
    await open_list(lead)
    assert "区教育局还没有已办结的交办。" in lead.said and SCHOOL not in lead.said
    await lead.tap("📥 交办事项")
    assert SCHOOL in lead.said  # back among the unit's work
    co = chat_as(world.handler_tr)  # its co-handling ended with the first reply
    await open_list(co)
    assert f"1. 2026年度第1号《{SCHOOL}》 协办" in co.said
