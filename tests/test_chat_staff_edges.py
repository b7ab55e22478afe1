"""Staff and unit conversations at their edges: due dates typed wrong, a spreadsheet cell that
looks like a formula, a unit relieved by 改交, the review's outcome, phones and dates of a
reply letter, ratings of a reply 重新办理 replaced."""

from __future__ import annotations

import io
from datetime import date

from sqlmodel import select

from storage.models import Assignment, Notice, Person, Proposal, Reply
from tests.chat import Chat
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_REPLY, SAMPLE_SUGGESTIONS, Story
from tests.states import States
from workflow import assignments, proposals
from workflow.calendar import WorkCalendar, parse_calendar

APOLOGY = "抱歉，处理时出了问题"
BODY_1 = "您提出的关于改善小学放学时段交通秩序的建议收悉，我局高度重视，现答复如下。"


async def open_first(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("📥 交办事项")
    await chat.tap("2026年度第1号")


async def wizard_to_phone(chat: Chat) -> None:
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("B类")
    await chat.send(BODY_1)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")


def the_reply(db) -> Reply:
    with db.read_session() as s:
        return s.exec(select(Reply)).one()


def ledger_rows(chat: Chat) -> list[list]:
    from openpyxl import load_workbook

    [file] = chat.files
    sheet = load_workbook(io.BytesIO(file.data)).active
    return [[c for c in row] for row in sheet.iter_rows(min_row=2)]


async def export_ledger(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("📊 导出台账")
    await chat.tap("2026年度")


async def assign_with_due(chat: Chat, typed: str) -> None:
    await chat.send("/menu")
    await chat.tap("🔎 审查队列")
    await chat.tap("2026年度第1号")
    await chat.tap("交办")
    await chat.tap("区教育局")
    await chat.tap("完成")
    await chat.send(typed)


# ---------------------------------------------------------------- due dates


async def test_a_due_date_centuries_ahead_is_refused_as_a_typing_error(db, wf, world, chat_as):
    pid = Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await assign_with_due(chat, "2207-03-15")  # a typo for 2027
    # six months from Monday 14 September 2026, on a working day
    assert "答复期限不能晚于2027年3月15日（自今天起最长 6 个月）" in chat.said
    assert "是否列为重点提案" not in chat.said
    assert APOLOGY not in chat.said
    await chat.send("2027-03-16")  # a day too far
    assert "不能晚于" in chat.said
    await chat.send("2026-12-14")
    assert "是否列为重点提案" in chat.said
    await chat.tap("否")
    await chat.tap("确认交办")
    with db.read_session() as s:
        proposal = s.get(Proposal, pid)
        assert proposal is not None and proposal.due_date == date(2026, 12, 14)


async def test_the_furthest_due_date_is_a_setting(db, wf, world, chat_as):
    import dataclasses

    wf.rules = dataclasses.replace(wf.rules, due_max_months=12)
    Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await assign_with_due(chat, "2027-09-01")
    assert "是否列为重点提案" in chat.said


def test_the_workflow_refuses_a_far_due_date_whatever_the_channel(db, wf, world):
    from workflow.errors import InvalidInput

    story = Story(db, wf, world)
    pid = story.filed()
    try:
        story.run(
            world.staff,
            assignments.assign,
            pid,
            lead_unit_id=world.education,
            due_date=date(9999, 12, 31),
        )
    except InvalidInput as exc:
        assert "答复期限不能晚于" in exc.message
    else:
        raise AssertionError("a due date in 9999 was accepted")


async def test_a_due_date_typed_on_a_weekend_moves_to_the_next_working_day(db, wf, world, chat_as):
    pid = Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await assign_with_due(chat, "2026-11-14")  # a Saturday
    assert "2026年11月14日是休息日，答复期限顺延至2026年11月16日（星期一）。" in chat.said
    assert "是否列为重点提案" in chat.said
    await chat.tap("否")
    assert "答复期限：2026年11月16日" in chat.said
    await chat.tap("确认交办")
    with db.read_session() as s:
        proposal = s.get(Proposal, pid)
        assert proposal is not None and proposal.due_date == date(2026, 11, 16)
        [lead] = s.exec(select(Assignment)).all()
        assert lead.due_date == date(2026, 11, 16)
    [told, *_] = notices_of(db, "assigned")
    assert "答复请于2026年11月16日前完成" in told.text


async def test_a_due_date_typed_on_national_day_moves_past_the_holiday(db, wf, world, chat_as):
    pid = Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await assign_with_due(chat, "2026年10月1日")  # National Day: 1 to 7 October 2026 are off
    assert "2026年10月1日是休息日，答复期限顺延至2026年10月8日（星期四）。" in chat.said
    await chat.tap("否")
    assert "答复期限：2026年10月8日" in chat.said
    await chat.tap("修改答复期限")
    await chat.send("2026-10-10")  # the adjusted working Saturday (调休) is kept as typed
    assert "休息日" not in chat.said and "节假日" not in chat.said
    assert "答复期限：2026年10月10日" in chat.said
    await chat.tap("确认交办")
    with db.read_session() as s:
        proposal = s.get(Proposal, pid)
        assert proposal is not None and proposal.due_date == date(2026, 10, 10)


NOTICE_2027 = """\
2027-01-01 休 元旦
2027-02-06 ~ 2027-02-17 休 春节
2027-02-20 班 春节调休
2027-04-05 休 清明节
2027-05-01 ~ 2027-05-05 休 劳动节
2027-04-25 班 劳动节调休
2027-06-09 休 端午节
2027-09-15 休 中秋节
2027-10-01 ~ 2027-10-07 休 国庆节
2027-09-26 班
2027-10-09 班
2027 全年
"""


async def test_a_due_date_in_a_year_without_holiday_data_says_how_it_was_counted(
    db, wf, world, chat_as
):
    Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await assign_with_due(chat, "2027-02-13")  # chinesecalendar has no 2027 yet
    assert "2027年2月13日是休息日，答复期限顺延至2027年2月15日（星期一）。" in chat.said
    assert "尚无2027年的节假日安排，暂按周一至周五为工作日计算" in chat.said
    await chat.tap("↩️ 返回")  # back to the due date, with the calendar file's 2027
    wf.calendar = WorkCalendar.of(parse_calendar(NOTICE_2027))
    await chat.send("2027-02-13")
    assert "2027年2月13日是休息日，答复期限顺延至2027年2月18日（星期四）。" in chat.said
    assert "尚无2027年" not in chat.said
    await chat.send("2027-03-01")  # a Monday: kept, and nothing to say about it
    assert "休息日" not in chat.said and "尚无" not in chat.said


def test_a_due_date_given_to_the_workflow_on_a_day_off_is_moved_there_too(db, wf, world):
    story = Story(db, wf, world)
    pid = story.filed()
    [lead, *_] = story.run(
        world.staff,
        assignments.assign,
        pid,
        lead_unit_id=world.education,
        due_date=date(2026, 10, 3),
    )
    assert lead.due_date == date(2026, 10, 8)


# ---------------------------------------------------------------- the ledger


async def test_a_title_that_looks_like_a_formula_stays_text_in_the_ledger(db, wf, world, chat_as):
    story = Story(db, wf, world)
    evil = '=HYPERLINK("http://evil.example/x","关于改善交通的建议")'
    pid = story.run(
        world.member,
        proposals.create_draft,
        title=evil,
        analysis=SAMPLE_ANALYSIS,
        suggestions=SAMPLE_SUGGESTIONS,
    ).id
    story.run(world.member, proposals.submit, pid)
    chat = chat_as(world.staff)
    await export_ledger(chat)
    [row] = ledger_rows(chat)
    title = row[2]
    assert (title.value, title.data_type) == (evil, "s")


async def test_the_ledger_shows_the_ratings_of_the_reply_it_lists(db, wf, world, chat_as):
    from workflow import replies

    story = Story(db, wf, world)
    pid, lead, _reply = story.rated("unsatisfied")
    story.run(world.staff, replies.order_rehandle, pid)
    second = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, second.id)
    story.run(world.member, replies.rate, pid, work="satisfied")
    chat = chat_as(world.staff)
    await export_ledger(chat)
    [row] = ledger_rows(chat)
    assert row[15].value == "林晓：满意"  # not also the 不满意 of the first reply


# ---------------------------------------------------------------- a unit relieved by 改交


async def test_a_unit_relieved_by_reassignment_reads_only_the_public_record(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    rec = s.assignment("reassigned")  # 区教育局 asked to be relieved; 区卫生健康委员会 leads now
    with db.read_session() as session:
        new = session.exec(
            select(Assignment).where(
                Assignment.proposal_id == rec.pid, Assignment.unit_id == world.health
            )
        ).one()
    s.run(world.handler_health, assignments.accept, new.id)
    s.run(
        world.handler_health,
        assignments.record_contact,
        new.id,
        method="phone",
        contact_date=s.today(),
        summary="电话沟通，委员同意先行试点，联系电话13912345678。",
    )
    health = chat_as(world.handler_health)
    await health.send("/status 1")
    assert "13912345678" in health.said  # the unit that has it
    former = chat_as(world.handler_edu)
    await former.send("/status 1")
    assert "沟通情况" not in former.said
    assert "13912345678" not in former.said


# ---------------------------------------------------------------- the review's outcome


async def test_the_unit_hears_that_its_reply_was_approved_and_its_class_changed(
    db, wf, world, chat_as
):
    States(db, wf, world).accepted()
    chat = chat_as(world.handler_edu)
    await wizard_to_phone(chat)
    await chat.send("0839-8620101")
    await chat.tap("使用「")
    await chat.tap("今天")
    await chat.tap("提交审核")
    assert "会签完成后自动提交审核，结果会通知您" in chat.said
    co_unit = chat_as(world.handler_tr)
    await co_unit.send("/menu")
    await co_unit.tap("📥 交办事项")
    await co_unit.tap("2026年度第1号")
    await co_unit.tap("✅ 同意会签")
    assert "各协办单位均已会签，答复已提交审核" in co_unit.said
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.tap("✅ 答复审核")
    await staff.tap("2026年度第1号")
    await staff.tap("改为C类后通过")
    assert "已审核通过" in staff.said
    with db.read_session() as session:
        told = session.exec(select(Notice).where(Notice.kind == "reply_approved")).all()
    assert {n.person_id for n in told} == {world.handler_edu, world.handler_edu2}
    assert "答复类别由B类改为C类" in told[0].text


# ---------------------------------------------------------------- the reply letter


async def test_a_reply_phone_needs_five_digits(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    chat = chat_as(world.handler_edu)
    await wizard_to_phone(chat)
    await chat.send("1----")
    assert "联系电话格式不正确" in chat.said
    await chat.send("12345")  # a service hotline
    assert "第 5 步：落款单位" in chat.said


async def test_a_shared_contact_phone_loses_its_country_code(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    chat = chat_as(world.handler_edu)
    await wizard_to_phone(chat)
    await chat.share_contact("8613800000020")  # Telegram sends one's own contact without "+"
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "联系电话：13800000020" in chat.said


async def test_a_reply_date_before_the_assignment_is_refused(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    chat = chat_as(world.handler_edu)
    await wizard_to_phone(chat)
    await chat.send("0839-8620101")
    await chat.tap("使用「")
    await chat.send("2001-01-01")
    assert "答复日期不能早于交办日期" in chat.said
    assert "答复函预览" not in chat.said
    await chat.tap("今天")
    await chat.tap("提交审核")
    assert the_reply(db).reply_date == date(2026, 9, 14)


# ---------------------------------------------------------------- requests for more time


async def ask_for_more_time(chat: Chat, reason: str = "需协调多个部门，申请延期一个月") -> None:
    await open_first(chat)
    await chat.tap("申请延期")
    await chat.send(reason)


def notices_of(db, kind: str) -> list[Notice]:
    with db.read_session() as session:
        return list(session.exec(select(Notice).where(Notice.kind == kind)).all())


async def test_staff_grant_a_units_request_for_more_time_with_one_tap(db, wf, world, chat_as):
    States(db, wf, world).accepted()  # due 2026-12-14
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    assert "延期申请已提交，提案委决定后会通知您" in unit.said
    [asked, *_] = notices_of(db, "extension_requested")
    assert [a["label"] for a in asked.actions] == ["同意延期", "不同意"]
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(asked.actions[0]["payload"])
    assert "已同意延期：区教育局办理2026年度第1号提案" in staff.said
    assert "期限延至2027年1月14日。\n已通知区教育局。" in staff.said
    with db.read_session() as session:
        [lead] = session.exec(select(Assignment).where(Assignment.role == "lead")).all()
        assert lead.due_date == date(2027, 1, 14)
    assert {n.person_id for n in notices_of(db, "extended")} == {
        world.handler_edu,
        world.handler_edu2,
    }
    other = chat_as(world.staff2)  # the same notice, tapped by a colleague afterwards
    await other.send("/menu")
    await other.press(asked.actions[1]["payload"])
    assert "这项延期申请已由许静于" in other.said
    assert notices_of(db, "extension_refused") == []


async def test_staff_decide_requests_for_more_time_from_the_menu(db, wf, world, chat_as):
    """A request whose notice staff missed waits on the menu's list, with what granting it
    gives; granted there, the list is empty again and the unit is told."""
    States(db, wf, world).accepted()  # due 2026-12-14
    await ask_for_more_time(chat_as(world.handler_edu))
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.tap("⏳ 延期申请")
    assert "待决定的延期申请 1 件（申请时间从早到晚）：" in staff.said
    assert (
        "1. 2026年度第1号《关于改善城区小学放学时段交通秩序的建议》 区教育局（主办），"
        "现期限2026年12月14日，9月14日申请" in staff.said
    )
    await staff.tap("2026年度第1号")
    assert "区教育局申请延长2026年度第1号《" in staff.said
    assert "申请人：高远，2026年9月14日 09:30" in staff.said
    assert "理由：需协调多个部门，申请延期一个月" in staff.said
    assert "现期限为2026年12月14日；同意则延至2027年1月14日。" in staff.said
    assert staff.buttons == ["同意延期", "不同意", "↩️ 返回"]
    await staff.tap("同意延期")
    assert "已同意延期：区教育局办理2026年度第1号提案" in staff.said
    assert "期限延至2027年1月14日。\n已通知区教育局。" in staff.said
    assert "没有待决定的延期申请。" in staff.said  # back at the list, empty
    with db.read_session() as session:
        [lead] = session.exec(select(Assignment).where(Assignment.role == "lead")).all()
    assert lead.due_date == date(2027, 1, 14)
    assert len(notices_of(db, "extended")) == 2
    # a handler, who asks for more time, decides nothing: no such item on the menu
    unit = chat_as(world.handler_edu)
    await unit.send("/menu")
    assert "⏳ 延期申请" not in unit.buttons


async def test_a_request_refused_from_the_list_with_or_without_a_note(
    db, wf, world, clock, chat_as
):
    """不同意 asks for a note the unit is told (or none); a colleague's decision taken while
    the request was open on the screen is said at the tap, before any note is written."""
    States(db, wf, world).accepted()  # due 2026-12-14
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.tap("⏳ 延期申请")
    await staff.tap("2026年度第1号")
    await staff.tap("不同意")
    assert "请写明不同意延期的说明（将告知区教育局），或点「不写说明」：" in staff.said
    await staff.send("🙅")
    assert "说明需要用文字写明" in staff.said
    await staff.send("预算年度内须办结，请按原期限答复。")
    assert "区教育局办理2026年度第1号提案《" in staff.said
    assert "的延期申请未获同意，仍按原期限（2026年12月14日）办理。" in staff.said
    refused = notices_of(db, "extension_refused")  # the unit's two handlers
    assert len(refused) == 2
    assert all("说明：预算年度内须办结，请按原期限答复。" in n.text for n in refused)
    # asked again: 罗成 opens it, 许静 refuses it with one tap meanwhile
    clock.advance(days=1)
    await ask_for_more_time(unit, "上级部门调整了实施方案，再次申请延期。")
    colleague = chat_as(world.staff2)
    await colleague.send("/menu")
    await colleague.tap("⏳ 延期申请")
    await colleague.tap("2026年度第1号")
    second = [n for n in notices_of(db, "extension_requested") if n.person_id == world.staff]
    await staff.send("/menu")
    await staff.press(second[-1].actions[1]["payload"])
    before = len(notices_of(db, "extension_refused"))
    await colleague.tap("不同意")
    assert "这项延期申请已由许静于2026年9月15日 09:30处理。" in colleague.said
    assert "请写明不同意延期的说明" not in colleague.said
    assert len(notices_of(db, "extension_refused")) == before == 4  # 许静's refusal only
    # a third request, refused without a note
    clock.advance(days=1)
    await ask_for_more_time(unit, "仍需延期。")
    await colleague.send("/menu")
    await colleague.tap("⏳ 延期申请")
    await colleague.tap("2026年度第1号")
    await colleague.tap("不同意")
    await colleague.tap("不写说明")
    assert "的延期申请未获同意，仍按原期限（2026年12月14日）办理。" in colleague.said
    assert "说明：" not in notices_of(db, "extension_refused")[-1].text


async def test_the_button_of_a_decided_request_does_not_decide_the_units_next_one(
    db, wf, world, clock, chat_as
):
    States(db, wf, world).accepted()  # due 2026-12-14
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    first = next(n for n in notices_of(db, "extension_requested") if n.person_id == world.staff2)
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(first.actions[0]["payload"])  # 许静 grants: due 2027-01-14
    clock.advance(days=20)
    await ask_for_more_time(unit, "预算批复推迟到明年一月，需再延期一个月。")
    assert "延期申请已提交" in unit.said
    # 罗成 taps the first request's notice, still on his screen: it does not decide the
    # second request, which he has not read
    colleague = chat_as(world.staff2)
    await colleague.send("/menu")
    for payload in (p["payload"] for p in first.actions):
        await colleague.press(payload)
        assert "这项延期申请已由许静于2026年9月14日 09:30处理。" in colleague.said
        assert APOLOGY not in colleague.said
    with db.read_session() as session:
        [lead] = session.exec(select(Assignment).where(Assignment.role == "lead")).all()
    assert lead.due_date == date(2027, 1, 14)
    assert len(notices_of(db, "extended")) == 2 and notices_of(db, "extension_refused") == []
    # the second request's own notice decides it
    second = [n for n in notices_of(db, "extension_requested") if n.person_id == world.staff2]
    assert len(second) == 2 and "预算批复推迟" in second[1].text
    await colleague.press(second[1].actions[0]["payload"])
    assert "期限延至2027年2月15日。" in colleague.said
    await colleague.press(second[1].actions[1]["payload"])
    assert "这项延期申请已由罗成于2026年10月4日 09:30处理。" in colleague.said


async def test_more_time_for_a_key_proposal_is_told_to_its_supervisors(db, wf, world, chat_as):
    States(db, wf, world).accepted(key=True)  # 区政府督查室 supervises, 邓启明 leads
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    [asked, *_] = notices_of(db, "extension_requested")
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(asked.actions[0]["payload"])
    assert "期限延至2027年1月14日" in staff.said
    told = {n.person_id: n.text for n in notices_of(db, "extended")}
    assert set(told) == {world.handler_edu, world.handler_edu2, world.supervisor, world.leader}
    assert told[world.leader] == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的办理期限已由"
        "2026年12月14日延至2027年1月14日。"
    )


async def test_an_extension_ending_on_a_day_off_ends_on_the_next_working_day(
    db, wf, world, clock, chat_as
):
    clock.set_local(2026, 6, 1)
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()  # due 2026-09-01
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    [asked, *_] = notices_of(db, "extension_requested")
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(asked.actions[0]["payload"])
    # a month after 1 September is National Day: the extension ends on 8 October
    assert "期限延至2026年10月8日。" in staff.said
    # a date given for the extension (not the default) on a Sunday: the Monday after
    s.run(world.staff, assignments.extend, lead, due_date=date(2026, 10, 11))
    with db.read_session() as session:
        assignment = session.get(Assignment, lead)
        assert assignment is not None and assignment.due_date == date(2026, 10, 12)
        proposal = session.get(Proposal, assignment.proposal_id)
        assert proposal is not None and proposal.due_date == date(2026, 10, 12)
    assert any("延至2026年10月12日" in n.text for n in notices_of(db, "extended"))


async def test_staff_turn_down_a_request_for_more_time(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    [asked, *_] = notices_of(db, "extension_requested")
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(asked.actions[1]["payload"])
    assert "延期申请未获同意，仍按原期限（2026年12月14日）办理。\n已通知区教育局。" in staff.said
    [told, *_] = notices_of(db, "extension_refused")
    assert "请按原期限（2026年12月14日）办理" in told.text
    await ask_for_more_time(unit)  # decided: the unit may ask again
    assert "延期申请已提交" in unit.said


async def test_deciding_a_request_for_more_time_says_if_the_unit_cannot_hear_of_it(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    s.run(world.handler_edu, assignments.request_extension, lead, "需要等待预算批复。")
    with db.session() as session:  # 高远, who asked, has left the unit; 梁雪 never bound
        session.get(Person, world.handler_edu).active = False
    [asked] = notices_of(db, "extension_requested")[:1]
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.press(asked.actions[0]["payload"])
    said = staff.said
    assert (
        "已同意延期：区教育局办理2026年度第1号提案《" in said and "期限延至2027年1月14日。" in said
    )
    assert (
        "区教育局的承办人梁雪（13800000021）还没有绑定聊天账号，通知要等绑定后才会送达。"
        "请电话联系该单位。"
    ) in said
    assert "已通知" not in said


async def test_a_unit_asks_for_more_time_once_until_staff_decide(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    colleague = chat_as(world.handler_edu2)
    await open_first(colleague)
    assert (
        "高远已于2026年9月14日 09:30申请延期，正等待提案委决定，不必再次申请。" in colleague.said
    )
    assert "申请延期" not in colleague.buttons
    assert len(notices_of(db, "extension_requested")) == 2  # one request, to both staff


async def test_a_forged_extension_button_changes_nothing(db, wf, world, chat_as):
    States(db, wf, world).accepted()
    staff = chat_as(world.staff)
    await staff.send("/menu")
    for payload in (
        "ext:1:grant",
        "ext:1:maybe",
        "ext:x:grant",
        "ext:99999:refuse",
        "ext:1:grant:1",  # an audit event that is no request for more time
        "ext:1:grant:x",
        "ext:1:grant:99999999999999",
        "ext:1:refuse:99999",
    ):
        await staff.press(payload)
        assert APOLOGY not in staff.said, (payload, staff.said)
    with db.read_session() as session:
        [lead] = session.exec(select(Assignment).where(Assignment.role == "lead")).all()
        assert lead.due_date == date(2026, 12, 14)
    unit = chat_as(world.handler_edu)
    await ask_for_more_time(unit)
    [asked, *_] = notices_of(db, "extension_requested")
    await unit.send("/menu")
    await unit.press(asked.actions[0]["payload"])  # a unit cannot grant itself more time
    assert notices_of(db, "extended") == []
    request = int(asked.actions[0]["payload"].rsplit(":", 1)[1])
    co = chat_as(world.staff2)
    await co.send("/menu")
    with db.read_session() as session:
        [other] = session.exec(select(Assignment).where(Assignment.role == "co")).all()
    await co.press(f"ext:{other.id}:grant:{request}")  # the request of another assignment
    assert "没有待决定的延期申请" in co.said and notices_of(db, "extended") == []
    # a notice written before its buttons named the request decides the open one
    await co.press(asked.actions[0]["payload"].rsplit(":", 1)[0])
    assert "期限延至2027年1月14日" in co.said


async def test_cancel_in_a_staff_flow_says_nothing_of_drafts(db, wf, world, chat_as):
    """Staff's flows keep no drafts: /cancel says it cancelled, and nothing of drafts."""
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("🔎 审查队列")
    await chat.send("/cancel")
    assert chat.said.startswith("已取消。")
    assert "草稿" not in chat.said and "许静，您好" in chat.said
