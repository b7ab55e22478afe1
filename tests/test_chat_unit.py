"""The handling unit's inbox, its actions and the reply wizard, as transcripts."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from sqlmodel import select

from handlers.flows import build_engine
from storage.files import AttachmentStore
from storage.models import (
    Assignment,
    Attachment,
    ContactRecord,
    Conversation,
    Countersign,
    Notice,
    Proposal,
    Reply,
    pk,
)
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY
from tests.snapshot import assert_same, shot
from tests.states import States
from workflow import assignments, attachments, countersigns, proposals, replies
from workflow.errors import InvalidTransition, PermissionDenied
from workflow.replies import CLASS_MEANINGS

APOLOGY = "抱歉，处理时出了问题"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 20
BODY_1 = "您提出的关于改善小学放学时段交通秩序的建议收悉，我局高度重视，现答复如下。"
BODY_2 = "一、已在三所小学试点错峰放学，家长接送等候时间明显缩短。"
BODY_3 = "二、护学岗排班制度正在制定，预计明年春季学期全面推行。"
OPINION_1 = "我局同意在学校周边施划临时停车泊位。"
OPINION_2 = "建议同步优化周边路口信号灯配时，由我局负责实施。"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def conversation(db, chat: Chat) -> Conversation:
    with db.read_session() as s:
        return s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()


def row(db, model, record_id):
    with db.read_session() as s:
        return s.get(model, record_id)


def notices(db, kind: str) -> list[Notice]:
    with db.read_session() as s:
        return list(s.exec(select(Notice).where(Notice.kind == kind)).all())


def said_ok(chat: Chat) -> None:
    assert chat.said.strip(), "the bot said nothing"
    assert APOLOGY not in chat.said, chat.dump()


async def open_inbox(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("📥 交办事项")


async def open_first(chat: Chat) -> None:
    await open_inbox(chat)
    await chat.tap("2026年度第1号")


# ---------------------------------------------------------------- the inbox


async def test_inbox_lists_pending_first_with_roles_and_due_dates(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()  # No. 1: 区教育局 leads, accepted
    pid2 = s.filed(title="关于增设学校周边人行过街设施的建议")  # No. 2
    s.run(
        world.staff,
        assignments.assign,
        pid2,
        lead_unit_id=world.transport,
        co_unit_ids=[world.education],
    )  # 区教育局 co-handles, pending
    chat = chat_as(world.handler_edu)
    await open_inbox(chat)
    said = chat.said
    assert "共 2 件，其中待签收 1 件" in said
    assert said.index("【待签收】") < said.index("2026年度第2号") < said.index("【办理中】")
    assert said.index("【办理中】") < said.index("2026年度第1号")
    assert "协办 · 协办意见期限 2026年10月14日 · 待签收" in said
    assert "主办 · 答复期限 2026年12月14日 · 办理中" in said
    assert chat.buttons[0].startswith("2026年度第2号") and chat.buttons[1].startswith(
        "2026年度第1号"
    )
    # another unit sees only its own
    other = chat_as(world.handler_health)
    await open_inbox(other)
    assert "目前没有需要办理的交办事项" in other.said
    # a member's menu has no inbox
    member = chat_as(world.member)
    await member.send("/menu")
    assert "📥 交办事项" not in member.buttons


async def test_inbox_pages_eight_at_a_time(db, wf, world, chat_as):
    s = States(db, wf, world)
    for i in range(10):
        s.assigned(co=False, title=f"关于第{i + 1}项民生实事的建议")
    chat = chat_as(world.handler_edu)
    await open_inbox(chat)
    assert "共 10 件" in chat.said and "第 1/2 页" in chat.said
    assert sum(b.startswith("2026年度第") for b in chat.buttons) == 8
    await chat.tap("下一页")
    assert "第 2/2 页" in chat.said and "2026年度第9号" in chat.said
    assert sum(b.startswith("2026年度第") for b in chat.buttons) == 2
    await chat.tap("上一页")
    assert "第 1/2 页" in chat.said
    await chat.tap("返回菜单")
    assert "高远，您好" in chat.said


# ---------------------------------------------------------------- accept


async def test_accept_from_the_inbox(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    assert "一、存在问题" in chat.said  # the proposal itself
    assert "本单位办理状态：待签收" in chat.said and "2026年9月20日前申请调整" in chat.said
    assert chat.buttons[:2] == ["签收", "申请调整"]
    await chat.tap("签收")
    said_ok(chat)
    assert "已签收2026年度第1号提案" in chat.said and "本单位办理状态：办理中" in chat.said
    assert {"撰写答复", "记录沟通", "申请延期"} <= set(chat.buttons)
    assert "协办意见" not in chat.buttons  # the lead unit writes the reply instead
    asg = row(db, Assignment, lead)
    assert (asg.status, asg.accepted_by) == ("accepted", world.handler_edu)


async def test_accept_with_one_tap_on_the_notice(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    notice = next(n for n in notices(db, "assigned") if n.person_id == world.handler_edu)
    accept = next(a["payload"] for a in notice.actions if a["label"] == "签收")
    assert accept == f"asg:{lead}:accept"
    chat = chat_as(world.handler_edu)
    await chat.press(accept)
    said_ok(chat)
    assert "已签收2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》" in chat.said
    assert "撰写答复" in chat.buttons  # the assignment, ready for the next action
    assert row(db, Assignment, lead).status == "accepted"
    # a colleague taps the same notice later: told who did it, nothing changes
    colleague = chat_as(world.handler_edu2)
    before = shot(db)
    await colleague.press(accept)
    assert "已由高远于2026年9月14日 09:30处理" in colleague.said
    assert_same(db, before)


async def test_accept_from_the_notice_in_the_middle_of_a_flow_asks_that_step_again(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    s.accepted()
    pid2 = s.filed(title="关于加强校园食品安全监管的建议")
    made = s.run(world.staff, assignments.assign, pid2, lead_unit_id=world.education)
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("记录沟通")
    await chat.press(f"asg:{made[0].id}:accept")
    assert "已签收2026年度第2号提案" in chat.said and "请选择沟通方式" in chat.said
    await chat.tap("电话沟通")
    assert "沟通日期" in chat.said


# ---------------------------------------------------------------- adjustment


async def test_request_adjustment_from_the_inbox(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("申请调整")
    assert "调整申请期到2026年9月20日" in chat.said
    await chat.send("校园周边道路停车管理属于交通运输部门职责。")
    assert "确认提交吗" in chat.said
    await chat.tap("修改理由")
    await chat.send("校园周边道路停车泊位的施划和管理属于交通运输部门职责，建议改交。")
    await chat.tap("确认申请调整")
    said_ok(chat)
    assert "调整申请已提交" in chat.said and "已申请调整，等待提案委决定" in chat.said
    asg = row(db, Assignment, lead)
    assert asg.status == "adjustment_requested"
    assert asg.adjustment_reason.startswith("校园周边道路停车泊位")
    assert {n.person_id for n in notices(db, "adjustment_requested")} == {
        world.staff,
        world.staff2,
    }


async def test_adjust_button_of_the_notice_opens_the_reason_step(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    notice = next(n for n in notices(db, "assigned") if n.person_id == world.handler_edu)
    chat = chat_as(world.handler_edu)
    await chat.press(notice.actions[1]["payload"])
    assert "请说明这件提案不属于本单位职责的理由" in chat.said
    await chat.send("该事项由区交通运输局统筹负责。")
    await chat.tap("确认申请调整")
    assert row(db, Assignment, lead).status == "adjustment_requested"


async def test_adjustment_refused_after_the_window(db, wf, world, clock, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("申请调整")
    await chat.send("不属于本单位职责。")
    clock.set_local(2026, 9, 22)  # the window ended on 2026-09-20
    before = shot(db)
    await chat.tap("确认申请调整")  # the workflow refuses
    said_ok(chat)
    assert "调整申请期已于2026年9月20日结束" in chat.said
    assert_same(db, before)
    # the inbox no longer offers it; the notice's button is refused at once
    await open_first(chat)
    assert "申请调整" not in chat.buttons and "调整申请期已于2026年9月20日结束" in chat.said
    await chat.press(f"asg:{lead}:adjust")
    assert "调整申请期已于2026年9月20日结束" in chat.said
    assert_same(db, before)
    assert row(db, Assignment, lead).status == "pending"


# ---------------------------------------------------------------- contact, opinion, extension


async def test_record_a_contact_with_the_proposer(db, wf, world, clock, chat_as):
    s = States(db, wf, world)
    pid, lead, _co = s.accepted()
    clock.set_local(2026, 9, 18)
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("记录沟通")
    assert set(chat.buttons) >= {"电话沟通", "上门走访", "座谈面商", "书面沟通", "网络沟通"}
    await chat.tap("上门走访")
    before = shot(db)
    await chat.send("2026-09-25")
    assert "沟通日期不能晚于今天" in chat.said
    await chat.send("9月10日")
    assert "沟通日期不能早于交办日期（2026年9月14日）" in chat.said
    await chat.send("2月30日")
    assert "没有这一天" in chat.said
    await chat.send("下周吧")
    assert "请发送日期" in chat.said
    assert_same(db, before)
    await chat.send("9月16日")
    assert "2026年9月16日上门走访" in chat.said
    await chat.send("到林晓委员工作单位面谈，委员同意先在两所学校试点。")
    said_ok(chat)
    assert "沟通情况已记录" in chat.said and "本单位办理状态：办理中" in chat.said
    with db.read_session() as session:
        contact = session.exec(select(ContactRecord)).one()
    assert (contact.proposal_id, contact.assignment_id) == (pid, lead)
    assert (contact.method, contact.contact_date) == ("visit", date(2026, 9, 16))
    assert contact.recorded_by == world.handler_edu
    # and "今天" with one tap
    await chat.tap("记录沟通")
    await chat.tap("电话沟通")
    await chat.tap("今天")
    await chat.send("电话回访，委员对试点安排表示认可。")
    with db.read_session() as session:
        days = sorted(c.contact_date for c in session.exec(select(ContactRecord)))
    assert days == [date(2026, 9, 16), date(2026, 9, 18)]


async def test_an_overdue_assignment_says_so_in_working_days(db, wf, world, clock, chat_as):
    s = States(db, wf, world)
    pid, lead, co = s.accepted()  # the reply due 2026-12-14, the opinion 2026-10-14
    lead_unit, co_unit = chat_as(world.handler_edu), chat_as(world.handler_tr)
    await open_first(lead_unit)
    await open_first(co_unit)
    assert "到期" not in lead_unit.said and "到期" not in co_unit.said
    clock.set_local(2026, 10, 19)  # Monday; 15 and 16 October were working days
    await open_first(co_unit)
    assert (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的协办意见已于"
        "2026年10月14日到期，尚未提出，请尽快向主办单位区教育局提出协办意见。"
    ) in co_unit.said
    await co_unit.tap("协办意见")
    await co_unit.send(OPINION_1)
    await co_unit.tap("完成")
    assert "到期" not in co_unit.said  # the opinion is in
    clock.set_local(2026, 12, 17)  # Thursday: 15, 16 and 17 December past the due date
    await open_first(lead_unit)
    assert (
        "的答复已于2026年12月14日到期，现已逾期 3 个工作日，请尽快办理并提交答复。"
    ) in lead_unit.said
    reply = s.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    await open_first(lead_unit)
    assert "现已逾期" not in lead_unit.said
    assert "第1稿答复正等待协办单位会签：区交通运输局" in lead_unit.said
    s.run(world.handler_tr, countersigns.agree, reply.id)
    await open_first(lead_unit)
    assert "逾期" not in lead_unit.said and "答复已提交，等待审核" in lead_unit.said


async def test_a_unit_asked_to_countersign_is_not_told_its_opinion_is_overdue(
    db, wf, world, clock, chat_as
):
    """The co-handling opinion was due 14 October; the lead unit submitted its reply
    without it on the 12th. Opening its assignment on the 15th, while the letter waits for
    its countersignature, 区交通运输局 is asked to countersign, not told that its opinion is
    overdue; neither once it has agreed and the letter is in review."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    clock.set_local(2026, 10, 12)
    reply = s.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    co_unit = chat_as(world.handler_tr)
    clock.set_local(2026, 10, 15)

    await open_first(co_unit)

    assert "主办单位的答复（B类，第1稿）等待本单位会签，期限2026年10月19日" in co_unit.said
    assert "尚未提出" not in co_unit.said
    s.run(world.handler_tr, countersigns.agree, reply.id)
    await open_first(co_unit)
    assert "尚未提出" not in co_unit.said


async def test_a_date_without_its_year_typed_in_january_is_last_decembers(
    db, wf, world, clock, chat_as
):
    clock.set_local(2026, 12, 21)
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted(co=False)  # assigned on 21 December 2026
    clock.set_local(2027, 1, 5)
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("记录沟通")
    await chat.tap("电话沟通")
    await chat.send("12月28日")  # last week, before the new year
    said_ok(chat)
    assert "2026年12月28日电话沟通" in chat.said
    await chat.send("电话联系林晓委员，约定一月中旬到学校实地查看。")
    with db.read_session() as session:
        contact = session.exec(select(ContactRecord)).one()
    assert contact.contact_date == date(2026, 12, 28)
    # a day of this year still means this year, and one still to come is refused
    await chat.tap("记录沟通")
    await chat.tap("座谈面商")
    await chat.send("1月4日")
    assert "2027年1月4日座谈面商" in chat.said
    await chat.tap("返回")
    await chat.tap("记录沟通")
    await chat.tap("座谈面商")
    await chat.send("2027-01-06")
    assert "沟通日期不能晚于今天" in chat.said
    await chat.send("1月20日")  # a slip for 1月2日: still to come, refused, not last year's
    assert "沟通日期不能晚于今天" in chat.said and "2026年1月20日" not in chat.said
    # the reply letter's date, too
    await chat.send("/menu")
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("A类")
    await chat.send(BODY_1)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.send("0839-8620101")
    await chat.tap("使用「")
    await chat.send("12月30日")
    assert "答复函预览" in chat.said and "2026年12月30日" in chat.said


async def test_co_handler_gives_an_opinion_in_several_messages(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, _lead, co = s.accepted()
    chat = chat_as(world.handler_tr)
    await open_first(chat)
    assert "撰写答复" not in chat.buttons
    await chat.tap("协办意见")
    assert "上限 2500 字" in chat.said
    await chat.send(OPINION_1)
    assert "已收到 1 段" in chat.said
    await chat.send(OPINION_2)
    assert f"已收到 2 段，共 {len(OPINION_1) + 1 + len(OPINION_2)} 字" in chat.said
    await chat.send("完成")
    said_ok(chat)
    assert "协办意见已送主办单位" in chat.said and OPINION_2 in chat.said
    asg = row(db, Assignment, co)
    assert (asg.status, asg.opinion) == ("opinion_given", f"{OPINION_1}\n{OPINION_2}")
    told = notices(db, "opinion_given")
    assert {n.person_id for n in told} == {world.handler_edu, world.handler_edu2}
    # revised later: the new text replaces the old
    await chat.tap("修改协办意见")
    assert "将被新的内容替换" in chat.said
    await chat.send("补充：我局将在十月底前完成泊位施划。")
    await chat.tap("完成")
    assert row(db, Assignment, co).opinion == "补充：我局将在十月底前完成泊位施划。"


async def test_a_half_written_opinion_survives_the_menu_cancel_and_a_notice(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, _lead, co = s.accepted()
    pid2 = s.filed(title="关于加强校园食品安全监管的建议")
    made = s.run(world.staff, assignments.assign, pid2, lead_unit_id=world.transport)
    chat = chat_as(world.handler_tr)
    await open_first(chat)
    await chat.tap("协办意见")
    await chat.send(OPINION_1)
    await chat.send("/menu")  # to look something up
    await open_first(chat)
    await chat.tap("协办意见")
    assert "已收到 1 段" in chat.said, chat.dump()
    await chat.send(OPINION_2)
    await chat.send("/cancel")
    assert "草稿不会丢失" in chat.said
    await open_first(chat)
    await chat.tap("协办意见")
    assert "已收到 2 段" in chat.said
    await chat.press(f"asg:{made[0].id}:adjust")  # another assignment's notice
    assert "请说明这件提案不属于本单位职责的理由" in chat.said
    await chat.tap("返回")
    await chat.tap("返回列表")
    await chat.tap("2026年度第1号")
    await chat.tap("协办意见")
    assert f"已收到 2 段，共 {len(OPINION_1) + 1 + len(OPINION_2)} 字" in chat.said
    await chat.tap("完成")
    assert "协办意见已送主办单位" in chat.said
    assert row(db, Assignment, co).opinion == f"{OPINION_1}\n{OPINION_2}"
    # once sent, the next opinion starts empty (it replaces the one given)
    await chat.tap("修改协办意见")
    assert "已收到" not in chat.said and "将被新的内容替换" in chat.said
    assert "opinions" not in conversation(db, chat).data.get("_keep", {}) or not (
        conversation(db, chat).data["_keep"]["opinions"].get(str(co))
    )


async def test_done_typed_with_a_full_stop_ends_the_text_and_is_not_part_of_it(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, _lead, co = s.accepted()
    co_unit = chat_as(world.handler_tr)
    await open_first(co_unit)
    await co_unit.tap("协办意见")
    await co_unit.send(OPINION_1)
    await co_unit.send("完成。")
    assert "协办意见已送主办单位" in co_unit.said
    assert row(db, Assignment, co).opinion == OPINION_1
    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    await lead_unit.tap("撰写答复")
    await lead_unit.tap("B类")
    await lead_unit.send(BODY_1)
    await lead_unit.send("ＤＯＮＥ!")
    assert "第 3 步" in lead_unit.said
    await lead_unit.tap("使用我的姓名")
    await lead_unit.send("0839-8620101")
    await lead_unit.tap("使用「")
    await lead_unit.tap("今天")
    await lead_unit.tap("修改正文")
    await lead_unit.send("完成！")
    assert "答复函预览" in lead_unit.said and "完成！" not in lead_unit.said
    # the word inside a sentence is text like any other
    await lead_unit.tap("修改正文")
    await lead_unit.send("改造工程预计年底完成。")
    assert "答复正文已有 2 段" in lead_unit.said


async def test_request_an_extension(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("申请延期")
    assert "现在的期限是2026年12月14日" in chat.said
    await chat.send("需要等待年度预算批复后才能确定实施方案。")
    said_ok(chat)
    assert "延期申请已提交" in chat.said
    told = notices(db, "extension_requested")
    assert {n.person_id for n in told} == {world.staff, world.staff2}
    assert "需要等待年度预算批复" in told[0].text


async def test_a_request_for_more_time_waiting_for_staff_is_shown_not_asked_again(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    colleague = chat_as(world.handler_edu2)
    await open_first(colleague)  # 梁雪 has the assignment open…
    clock.advance(hours=1)
    s.run(world.handler_edu, assignments.request_extension, lead, "需要等待年度预算批复。")
    before = shot(db)
    await colleague.tap("申请延期")  # …and taps 申请延期 after 高远 asked
    said_ok(colleague)
    assert "高远已于2026年9月14日 10:30申请延期，正等待提案委决定，不必再次申请。" in (
        colleague.said
    )
    assert "请说明需要延期的理由" not in colleague.said  # no reason typed for nothing
    assert conversation(db, colleague).step == "detail"
    assert_same(db, before)
    # the assignment says the request is waiting, and does not offer another
    await colleague.tap("返回列表")
    await colleague.tap("2026年度第1号")
    assert "高远已于2026年9月14日 10:30申请延期，正等待提案委决定，不必再次申请。" in (
        colleague.said
    )
    assert "申请延期" not in colleague.buttons
    # once staff decide, the unit may ask again
    s.run(world.staff, assignments.refuse_extension, lead)
    await open_first(colleague)
    assert "正等待提案委决定" not in colleague.said and "申请延期" in colleague.buttons


# ---------------------------------------------------------------- the reply wizard


async def wizard_to_preview(chat: Chat) -> None:
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("B类")
    await chat.send(BODY_1)
    await chat.send(BODY_2)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.send("0839-8620101")
    await chat.tap("使用「")
    await chat.tap("今天")


async def test_reply_wizard_end_to_end(db, wf, world, chat_as):
    s = States(db, wf, world)
    pid, lead, co = s.accepted()
    s.run(world.handler_tr, assignments.give_opinion, co, OPINION_1)
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("撰写答复")
    for code, meaning in CLASS_MEANINGS.items():
        assert f"{code}类：{meaning}" in chat.said
        assert f"{code}类：{meaning}" in chat.buttons
    await chat.tap("B类")
    assert "请发送答复正文" in chat.said and "完成" not in chat.buttons
    await chat.send(BODY_1)
    assert f"已有 1 段，共 {len(BODY_1)} 字" in chat.said
    await chat.send(BODY_2)
    assert f"已有 2 段，共 {len(BODY_1) + 1 + len(BODY_2)} 字" in chat.said
    await chat.send(BODY_3)
    assert "已有 3 段" in chat.said
    await chat.tap("完成")
    assert "使用我的姓名（高远）" in chat.buttons
    await chat.tap("使用我的姓名")
    assert "联系电话" in chat.said
    before = shot(db)
    await chat.send("电话8620")
    assert "联系电话格式不正确" in chat.said and "第 4 步" in chat.said
    assert_same(db, before)
    await chat.send("0839-8620101")
    assert "使用「区教育局」" in chat.buttons
    await chat.tap("使用「区教育局」")
    await chat.tap("今天")
    said = chat.said
    assert "答复函预览" in said and "关于七届二次会议第1号提案的答复" in said
    assert "尊敬的林晓委员：" in said and BODY_1 in said and BODY_3 in said
    assert "（联系人：高远　联系电话：0839-8620101）" in said
    assert "区教育局\n2026年9月14日" in said
    assert f"答复类别：（B）类　{CLASS_MEANINGS['B']}" in said
    assert f"· 区交通运输局：{OPINION_1}" in said  # the co-handling opinion
    assert "提交后先送协办单位区交通运输局会签，各单位会签后自动提交审核。" in said
    assert "提交审核" in chat.buttons
    await chat.tap("提交审核")
    said_ok(chat)
    assert "答复已提交（B类，第1稿），正等待协办单位区交通运输局会签" in chat.said
    assert "答复会签中" in chat.said
    with db.read_session() as session:
        reply = session.exec(select(Reply)).one()
    assert row(db, Proposal, pid).status == "assigned"  # not yet for review
    assert reply.status == "countersigning" and not notices(db, "reply_submitted")
    # 会签: the co-handling unit's handler gets the letter with the two buttons, and agrees
    co_unit = chat_as(world.handler_tr)
    [(text, actions)] = [n for n in co_unit.notices() if "会签" in n[0]]
    assert "区教育局已拟好2026年度第1号提案" in text and "请贵单位于2026年9月20日前会签" in text
    assert BODY_3 in text and "联系电话：0839-8620101" in text
    assert [a["label"] for a in actions] == ["✅ 同意会签", "✏️ 提出修改意见"]
    await co_unit.press(actions[0]["payload"])
    said_ok(co_unit)
    assert "已会签同意2026年度第1号提案的答复（第1稿）" in co_unit.said
    assert "各协办单位均已会签，答复已提交审核。" in co_unit.said
    [(done, _)] = [n for n in chat.notices() if "会签" in n[0]]
    assert "协办单位均已会签，已提交审核" in done
    with db.read_session() as session:
        reply = session.exec(select(Reply)).one()
        proposal = session.get(Proposal, pid)
        signed = session.exec(select(Countersign)).one()
    assert proposal.status == "replied"
    assert (signed.decision, signed.decided_by) == ("agreed", world.handler_tr)
    assert (reply.assignment_id, reply.reply_class, reply.status) == (lead, "B", "submitted")
    assert reply.body == f"{BODY_1}\n{BODY_2}\n{BODY_3}"
    assert (reply.contact_person, reply.contact_phone) == ("高远", "0839-8620101")
    assert (reply.signing_unit, reply.reply_date) == ("区教育局", date(2026, 9, 14))
    assert reply.title == "关于七届二次会议第1号提案的答复"
    assert {n.person_id for n in notices(db, "reply_submitted")} == {world.staff, world.staff2}
    assert conversation(db, chat).data["_keep"]["replies"] == {}  # the draft is gone once sent


async def test_the_reply_class_may_be_typed_as_its_letter(db, wf, world, chat_as):
    """On a channel where a person types rather than taps (WeChat, the console), the class
    step that asks for "A、B 或 C" takes the letter typed, as 高远 would write it."""
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("撰写答复")
    before = shot(db)
    await chat.send("D")
    said_ok(chat)
    assert (
        "答复类别只能是 A、B、C，请点选或发送其中一个字母" in chat.said and "第 1 步" in chat.said
    )
    await chat.send("ｂ类")  # full-width, lower case, with 类
    said_ok(chat)
    assert "第 2 步：请发送答复正文" in chat.said
    await chat.send(BODY_1)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.send("0839-8620101")
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "答复类别：（B）类" in chat.said
    await chat.tap("修改类别")
    await chat.send("C")
    assert "答复类别：（C）类" in chat.said  # back to the preview
    assert_same(db, before)


async def test_on_a_typed_channel_a_choice_may_be_typed_without_its_details(
    db, wf, world, chat_as
):
    """On WeChat or the console the choices are numbered lines; a handler typing the words of
    a choice without what follows them (使用我的姓名 for 使用我的姓名（高远）, 提出修改意见 for
    ✏️ 提出修改意见) picks it: "使用我的姓名" never becomes the letter's contact person."""
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.send("撰写答复", numbered=True)
    await chat.send("B类", numbered=True)
    assert "第 2 步：请发送答复正文" in chat.said
    await chat.send(BODY_1, numbered=True)
    await chat.send("完成", numbered=True)
    await chat.send("使用我的姓名", numbered=True)
    assert "第 4 步" in chat.said
    await chat.send("0839-8620101", numbered=True)
    await chat.send("使用「区教育局」", numbered=True)
    await chat.send("今天", numbered=True)
    assert "联系人：高远" in chat.said and "使用我的姓名" not in chat.said.split("答复函预览")[1]
    await chat.send("提交审核", numbered=True)
    assert "答复已提交（B类，第1稿）" in chat.said

    transport = chat_as(world.handler_tr)
    await open_first(transport)
    await transport.send("提出修改意见", numbered=True)
    assert "请写下本单位对第1稿答复的修改意见" in transport.said


async def test_reply_wizard_edits_from_the_preview_and_other_values(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await wizard_to_preview(chat)
    await chat.tap("修改类别")
    assert "当前选的是 B 类" in chat.said
    await chat.tap("A类")
    assert "答复函预览" in chat.said and "（A）类" in chat.said  # straight back to the preview
    await chat.tap("修改联系人")
    await chat.send("梁雪")
    assert "（联系人：梁雪" in chat.said
    await chat.tap("修改电话")
    await chat.send("１３８０００００１２１")  # full-width digits are fine
    assert "联系电话：13800000121" in chat.said
    await chat.tap("修改落款")
    await chat.send("区教育局办公室")
    await chat.tap("修改日期")
    await chat.send("2026年9月30日")
    assert "答复日期不能晚于今天" in chat.said
    await chat.send("9月11日")  # before the proposal was assigned to the unit
    assert "答复日期不能早于交办日期（2026年9月14日）" in chat.said
    await chat.send("9月14日")
    assert "区教育局办公室\n2026年9月14日" in chat.said
    await chat.tap("修改正文")
    await chat.tap("清空重写")
    assert "请发送答复正文" in chat.said
    await chat.send(BODY_3)
    await chat.tap("完成")
    assert BODY_3 in chat.said and BODY_1 not in chat.said
    await chat.tap("暂不提交")  # back to the assignment; the draft stays
    await chat.tap("撰写答复")
    assert "当前选的是 A 类" in chat.said
    await chat.tap("A类")
    await chat.tap("提交审核")
    with db.read_session() as session:
        reply = session.exec(select(Reply)).one()
    assert (reply.reply_class, reply.contact_person, reply.body) == ("A", "梁雪", BODY_3)
    assert (reply.signing_unit, reply.reply_date) == ("区教育局办公室", date(2026, 9, 14))


async def test_the_unit_sees_and_receives_the_files_attached_to_the_proposal(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    chat = chat_as(world.handler_tr)
    store = chat.engine.store
    pid = s.draft()
    s.run(world.member, attachments.attach_to_proposal, store, pid, "调研报告.pdf", PDF)
    s.run(world.member, proposals.submit, pid)
    s.run(world.staff, proposals.file_proposal, pid)
    s.run(
        world.staff,
        assignments.assign,
        pid,
        lead_unit_id=world.education,
        co_unit_ids=[world.transport],
    )
    await open_first(chat)  # the co-handling unit
    assert "附件：调研报告.pdf" in chat.said and chat.files == []
    await chat.tap("提案全文")
    said_ok(chat)
    assert "一、存在问题" in chat.said
    [sent] = chat.files
    assert (sent.name, sent.data, sent.mime) == ("调研报告.pdf", PDF, "application/pdf")
    assert "请选择要办理的事项" in chat.said
    # a unit not on the proposal gets none of it
    with pytest.raises(PermissionDenied):
        s.run(world.handler_health, attachments.proposal_files, store, pid)


async def test_reply_with_uploaded_documents(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("C类")
    await chat.upload("答复函.docx", docx_bytes())
    assert "已收到文件《答复函.docx》" in chat.said
    assert "请再发送一段简短的答复正文" in chat.said
    await chat.send("完成")
    assert "答复正文还是空的" in chat.said
    text = f"{BODY_1}\n{BODY_2}"
    await chat.upload("答复正文.txt", text.encode())
    assert f"已用文件《答复正文.txt》的内容作为答复正文（{len(text)} 字）" in chat.said
    await chat.upload("现场照片.png", PNG)
    assert "只接受 .docx、.pdf 或 .txt" in chat.said
    await chat.upload("说明.pdf", PNG)  # a disguised file
    assert "扩展名 .pdf 与内容" in chat.said
    await chat.upload("附表.pdf", PDF)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.tap("使用我的手机号")
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "附件：答复函.docx、答复正文.txt、附表.pdf" in chat.said
    await chat.tap("提交审核")
    assert "附件 3 个" in chat.said
    with db.read_session() as session:
        reply = session.exec(select(Reply)).one()
        files = session.exec(select(Attachment).where(Attachment.reply_id == reply.id)).all()
    assert reply.body == text and reply.contact_phone == "13800000020"
    assert sorted(f.filename for f in files) == ["答复函.docx", "答复正文.txt", "附表.pdf"]


async def test_a_returned_reply_fills_the_wizard(db, wf, world, chat_as):
    s = States(db, wf, world)
    rec = s.proposal("assigned")  # the first reply was returned: 请补充具体实施时间。
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    assert "第1稿答复被退回，审核意见：请补充具体实施时间。" in chat.said
    await chat.tap("修改答复并重新提交")
    assert "请补充具体实施时间" in chat.said and "当前选的是 B 类" in chat.said
    await chat.tap("B类")
    assert "已有 1 段" in chat.said
    await chat.send("三、具体实施时间：2026年11月底前完成全部试点学校的泊位施划。")
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.tap("使用我的手机号")  # the last version's phone offered too
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "一、我局已会同交警部门" in chat.said and "三、具体实施时间" in chat.said
    assert "上一稿的审核意见：请补充具体实施时间。" in chat.said
    await chat.tap("提交审核")
    assert "第2稿" in chat.said and "正等待协办单位区交通运输局会签" in chat.said
    with db.read_session() as session:
        latest = session.exec(select(Reply).where(Reply.version == 2)).one()
    assert latest.body.endswith("2026年11月底前完成全部试点学校的泊位施划。")
    assert latest.body.startswith("您提出的关于改善城区小学放学时段交通秩序的建议收悉")
    assert row(db, Proposal, rec.pid).status == "assigned"  # the new letter is countersigned
    s.run(world.handler_tr, countersigns.agree, pk(latest))  # again (会签) before review
    assert row(db, Proposal, rec.pid).status == "replied"


async def test_a_returned_letter_keeps_its_attachments_unless_removed(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("B类")
    await chat.send(BODY_1)
    await chat.upload("附表.pdf", PDF)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.tap("使用我的手机号")
    await chat.tap("使用「")
    await chat.tap("今天")
    await chat.tap("提交审核")
    with db.read_session() as session:
        first = session.exec(select(Reply)).one()
    s.run(world.handler_tr, countersigns.agree, pk(first))  # 会签, then the review
    s.run(world.staff, replies.return_reply, pk(first), "请补充具体实施时间。")

    await open_first(chat)
    await chat.tap("修改答复并重新提交")
    await chat.tap("B类")
    assert "已上传的文件（提交后作为答复附件）：附表.pdf" in chat.said
    await chat.send(BODY_2)
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.tap("使用我的手机号")
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "附件：附表.pdf" in chat.said
    await chat.tap("提交审核")
    assert "答复已提交（B类，第2稿，附件 1 个），正等待协办单位区交通运输局会签" in chat.said
    s.run(world.handler_tr, countersigns.agree, pk(latest_reply_of(db, 2)))
    s.run(world.staff, replies.return_reply, pk(latest_reply_of(db, 2)), "附表有误，请删去。")

    await open_first(chat)
    await chat.tap("修改答复并重新提交")
    await chat.tap("B类")
    await chat.tap("移除全部附件")
    assert "已移除附件：附表.pdf" in chat.said and "移除全部附件" not in chat.buttons
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    await chat.tap("使用我的手机号")
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "附件：" not in chat.said
    await chat.tap("提交审核")
    assert "答复已提交（B类，第3稿），正等待协办单位区交通运输局会签" in chat.said
    with db.read_session() as session:
        files = {
            r.version: [
                a.filename
                for a in session.exec(select(Attachment).where(Attachment.reply_id == r.id))
            ]
            for r in session.exec(select(Reply))
        }
    assert files == {1: ["附表.pdf"], 2: ["附表.pdf"], 3: []}


def latest_reply_of(db, version: int) -> Reply:
    with db.read_session() as session:
        return session.exec(select(Reply).where(Reply.version == version)).one()


async def test_returned_reply_keeps_its_own_phone(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.proposal("assigned")
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("修改答复并重新提交")
    await chat.tap("B类")
    await chat.tap("完成")
    await chat.tap("使用我的姓名")
    assert "保留：0839-8620101" in chat.buttons
    await chat.tap("保留：0839-8620101")
    await chat.tap("使用「")
    await chat.tap("今天")
    assert "联系电话：0839-8620101" in chat.said


async def test_a_colleagues_returned_letter_replaces_an_older_draft(db, wf, world, chat_as):
    """Two handlers of one unit: 梁雪's unsent draft does not hide the letter 高远 submitted
    and the review returned; she continues from that letter and gets her own text back."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    liang = chat_as(world.handler_edu2)
    await open_first(liang)
    await liang.tap("撰写答复")
    await liang.tap("A类")
    await liang.send(BODY_3)
    await liang.send("/cancel")  # her draft is kept
    first = s.submit_reply(lead)  # 高远 writes the unit's letter
    s.run(world.staff, replies.return_reply, first, "请补充具体实施时间。")

    await open_first(liang)
    assert "第1稿答复被退回，审核意见：请补充具体实施时间。" in liang.said
    await liang.tap("修改答复并重新提交")
    said = liang.said
    assert "您之前开始写的答复没有提交，已不是本单位的最新一稿" in said
    assert "高远于2026年9月14日 09:30提交了第1稿答复" in said
    assert "这一稿已被退回，现在从它继续修改" in said
    assert f"您那份没有提交的答复正文如下，需要的内容请复制后使用：\n\n{BODY_3}" in said
    assert "第1稿答复被退回，审核意见：请补充具体实施时间。" in said
    assert "当前选的是 B 类" in said  # the returned letter's class, not her A
    await liang.tap("B类")
    assert f"已有 1 段，共 {len(SAMPLE_REPLY['body'])} 字" in liang.said
    await liang.send("三、具体实施时间：2026年11月底前完成。")
    await liang.tap("完成")
    await liang.tap("使用我的姓名")
    await liang.tap("保留：0839-8620101")
    await liang.tap("使用「")
    await liang.tap("今天")
    assert "我局已会同交警部门" in liang.said and BODY_3 not in liang.said
    await liang.tap("暂不提交")  # her revision of the returned letter is current: kept
    await liang.tap("修改答复并重新提交")
    assert "没有提交" not in liang.said and "当前选的是 B 类" in liang.said
    await liang.tap("B类")  # straight back to her preview
    assert "答复函预览" in liang.said and "三、具体实施时间" in liang.said
    await liang.tap("提交审核")
    assert "答复已提交（B类，第2稿），正等待协办单位区交通运输局会签" in liang.said
    with db.read_session() as session:
        second = session.exec(select(Reply).where(Reply.version == 2)).one()
    assert second.submitted_by == world.handler_edu2 and second.contact_person == "梁雪"
    assert second.body == f"{SAMPLE_REPLY['body']}\n三、具体实施时间：2026年11月底前完成。"


async def test_a_draft_left_behind_while_open_is_not_submitted_over_the_unit_letter(
    db, wf, world, chat_as
):
    """梁雪 has her letter on the preview when 高远 submits his: hers is refused while his
    waits for review, and once it is returned she is moved onto it, not over it."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    liang = chat_as(world.handler_edu2)
    await wizard_to_preview(liang)
    first = s.submit_reply(lead)
    before = shot(db)
    await liang.tap("提交审核")
    assert "已答复待审核" in liang.said and "答复函预览" in liang.said
    assert_same(db, before)
    s.run(world.staff, replies.return_reply, first, "请补充具体实施时间。")
    before = shot(db)
    await liang.tap("提交审核")
    said = liang.said
    assert "高远于2026年9月14日 09:30提交了第1稿答复" in said and BODY_1 in said
    assert "审核意见：请补充具体实施时间。" in said and "第 1 步" in said
    assert_same(db, before)  # nothing submitted over the returned letter
    await liang.tap("B类")
    assert f"已有 1 段，共 {len(SAMPLE_REPLY['body'])} 字" in liang.said


async def test_a_draft_from_before_the_approved_letter_does_not_come_back_on_rehandling(
    db, wf, world, chat_as
):
    """梁雪's draft of the first round, left when 高远's letter was approved, is not what
    the unit writes for 重新办理: she starts afresh and is given her old text."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted(co=False)
    liang = chat_as(world.handler_edu2)
    await open_first(liang)
    await liang.tap("撰写答复")
    await liang.tap("A类")
    await liang.send(BODY_3)
    await liang.send("/cancel")
    first = s.submit_reply(lead)
    s.run(world.staff, replies.approve_reply, first)
    s.run(world.member, replies.rate, _pid, work="unsatisfied")
    s.run(world.staff, replies.order_rehandle, _pid)
    await open_first(liang)
    await liang.tap("撰写答复")
    said = liang.said
    assert "高远于2026年9月14日 09:30提交了第1稿答复" in said
    assert "这一稿已审核通过，这次的答复请重新撰写" in said and BODY_3 in said
    assert "当前选的是" not in said  # a new letter, not her first-round A
    await liang.tap("C类")
    assert "请发送答复正文" in liang.said


async def test_the_assignment_handled_again_says_why_and_what_staff_require(
    db, wf, world, clock, chat_as
):
    """A handler who did not see the 重新办理 notice (a colleague's, or read long ago) finds
    it on the assignment itself, until the new reply is approved."""
    s = States(db, wf, world)
    pid, lead, _reply = s.rated("unsatisfied")
    clock.advance(days=1)
    s.run(
        world.staff,
        replies.order_rehandle,
        pid,
        note="请与林晓委员当面沟通后重新答复。",
    )
    chat = chat_as(world.handler_edu2)
    await open_first(chat)
    said = chat.said
    assert (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》因委员不满意，须重新办理，"
        "请于2026年10月15日前重新答复。要求：请与林晓委员当面沟通后重新答复。"
    ) in said
    assert "撰写答复" in chat.buttons
    # the due date said is the one in force: an extension moves it
    s.run(world.staff, assignments.extend, lead)
    await chat.tap("返回列表")
    await chat.tap("2026年度第1号")
    assert "请于2026年11月16日前重新答复。要求：请与林晓委员当面沟通后重新答复。" in chat.said
    # the first round's assignment said nothing of it; the new reply approved, it is gone
    new = s.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    s.run(world.staff, replies.approve_reply, new.id)
    await chat.tap("返回列表")
    assert "目前没有需要办理的交办事项" in chat.said
    # no requirement written: the reason alone
    pid2, lead2, _r2 = s.rated("unsatisfied", title="关于加强校园食品安全监管的建议")
    s.run(world.staff, replies.order_rehandle, pid2)
    await chat.tap("返回菜单")
    await chat.tap("📥 交办事项")
    await chat.tap("2026年度第2号")
    assert "因委员不满意，须重新办理，请于2026年10月15日前重新答复。\n" in chat.said
    assert "要求：" not in chat.said


async def test_a_first_round_assignment_says_nothing_of_handling_again(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    assert "重新办理" not in chat.said
    with pytest.raises(PermissionDenied):  # another unit's assignment is not theirs to read
        s.run(world.handler_tr, replies.rehandle_order, 1)


def test_the_workflow_refuses_a_letter_begun_before_the_units_latest(db, wf, world):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    start = s.run(world.handler_edu2, replies.draft_start, lead)
    assert (start.version, start.returned) == (0, None)
    first = s.submit_reply(lead)
    s.run(world.staff, replies.return_reply, first, "请补充具体实施时间。")
    with pytest.raises(InvalidTransition, match="本单位已有更新的第1稿答复（高远于"):
        s.run(world.handler_edu2, replies.submit_reply, lead, based_on=0, **SAMPLE_REPLY)
    start = s.run(world.handler_edu2, replies.draft_start, lead)
    assert (start.version, start.returned.id) == (1, first)
    second = s.run(world.handler_edu2, replies.submit_reply, lead, based_on=1, **SAMPLE_REPLY)
    assert second.version == 2
    with pytest.raises(PermissionDenied):
        s.run(world.handler_tr, replies.draft_start, lead)


async def test_a_notice_button_mid_wizard_keeps_the_reply_draft(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()
    pid2 = s.filed(title="关于加强校园食品安全监管的建议")
    made = s.run(world.staff, assignments.assign, pid2, lead_unit_id=world.education)
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("撰写答复")
    await chat.tap("A类")
    await chat.send(BODY_1)
    await chat.press(f"asg:{made[0].id}:adjust")
    assert "请说明这件提案不属于本单位职责的理由" in chat.said
    await chat.tap("返回")
    assert "2026年度第2号提案" in chat.said
    await chat.tap("返回列表")
    await chat.tap("2026年度第1号")
    await chat.tap("撰写答复")
    assert "当前选的是 A 类" in chat.said
    await chat.tap("A类")
    assert f"已有 1 段，共 {len(BODY_1)} 字" in chat.said


# The reply wizard, one event at a time; a restart may come between any two of them.
WIZARD = [
    lambda c: c.send("/menu"),
    lambda c: c.tap("📥 交办事项"),
    lambda c: c.tap("2026年度第1号"),
    lambda c: c.tap("撰写答复"),
    lambda c: c.tap("A类"),
    lambda c: c.send(BODY_1),
    lambda c: c.upload("答复函.pdf", PDF),
    lambda c: c.send(BODY_2),
    lambda c: c.tap("完成"),
    lambda c: c.tap("使用我的姓名"),
    lambda c: c.send("0839-8620101"),
    lambda c: c.tap("使用「"),
    lambda c: c.send("9月14日"),
    lambda c: c.tap("提交审核"),
]


@pytest.mark.parametrize("restart_after", range(1, len(WIZARD)))
async def test_reply_wizard_survives_a_restart_between_any_two_steps(
    db, wf, world, chat_as, tmp_path, restart_after
):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    chat = chat_as(world.handler_edu)
    for i, step in enumerate(WIZARD):
        if i == restart_after:
            fresh = build_engine(db, wf, AttachmentStore(tmp_path / "attachments"))
            resumed = Chat(fresh, chat.sender.external_id, chat.sender.channel)
            resumed.last = chat.last  # the buttons are still on the person's screen
            chat = resumed
        await step(chat)
        said_ok(chat)
    assert "答复已提交（A类，第1稿，附件 1 个），正等待协办单位区交通运输局会签" in chat.said
    with db.read_session() as session:
        reply = session.exec(select(Reply)).one()
        files = session.exec(select(Attachment).where(Attachment.reply_id == reply.id)).all()
    assert reply.assignment_id == lead and reply.body == f"{BODY_1}\n{BODY_2}"
    assert (reply.contact_person, reply.reply_date) == ("高远", date(2026, 9, 14))
    assert [f.filename for f in files] == ["答复函.pdf"]


# ---------------------------------------------------------------- forged and misplaced buttons


async def test_forged_notice_payloads_change_nothing(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, co = s.assigned()
    chat = chat_as(world.handler_edu)
    others = [chat_as(person) for person in (world.member, world.staff, world.supervisor)]
    await chat.send("/menu")
    before = shot(db)
    refusals = {
        f"asg:{co}:accept": "这项交办不属于您所在的单位",  # 区交通运输局's assignment
        f"asg:{co}:adjust": "这项交办不属于您所在的单位",
        "asg:99999:accept": "找不到交办记录 99999",
        f"asg:{lead}:delete": "无法识别这个操作",
        f"asg:{lead}": "无法识别这个操作",
        "asg:abc:accept": "无法识别这个操作",
        f"asg:{lead}:accept:x": "无法识别这个操作",
        "asg::accept": "无法识别这个操作",
    }
    for payload, message in refusals.items():
        await chat.press(payload)
        said_ok(chat)
        assert message in chat.said, payload
        assert "请选择要办理的事项" in chat.said  # and the menu again
    assert_same(db, before)
    for other in others:
        await other.press(f"asg:{lead}:accept")
        said_ok(other)
        assert "没有「签收」的权限" in other.said
        await other.press(f"asg:{lead}:adjust")
        assert "没有「申请调整」的权限" in other.said
    assert_same(db, before)
    assert row(db, Assignment, co).status == "pending"


async def test_stale_and_forged_buttons_inside_the_inbox(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    accept = chat.payload_of("签收")
    await chat.tap("申请调整")
    before = shot(db)
    await chat.press(accept)  # from the previous question
    assert "按钮已过期" in chat.said and "理由" in chat.said
    v = conversation(db, chat).version
    await chat.press(f"{v}|a:{co}")  # another unit's assignment, never offered
    assert "选项无效" in chat.said
    await chat.press(f"{v + 1}|accept")
    assert "选项无效" in chat.said
    assert_same(db, before)
    assert row(db, Assignment, lead).status == "pending"


async def test_a_colleague_acting_first_is_reported(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    s.run(world.handler_edu2, assignments.accept, lead)
    before = shot(db)
    await chat.tap("申请调整")
    assert "已由梁雪于" in chat.said and "无法再申请调整" in chat.said
    assert_same(db, before)


async def test_an_extension_reason_typed_after_a_colleague_asked_is_not_asked_for_again(
    db, wf, world, chat_as
):
    """高远 is typing the reason for more time when 梁雪 asks first: he is told, and taken back
    to the assignment instead of being asked for a reason that would be refused again."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("申请延期")
    s.run(world.handler_edu2, assignments.request_extension, lead, "需要会同交警部门调研。")
    before = shot(db)
    await chat.send("需要更多时间调研。")
    said_ok(chat)
    assert "梁雪已于2026年9月14日 09:30申请延期，正等待提案委决定，不必再次申请" in chat.said
    assert "请说明需要延期的理由" not in chat.said
    assert "本单位办理状态：办理中" in chat.said and "申请延期" not in chat.buttons
    assert_same(db, before)


async def test_adjustment_confirmed_after_the_window_goes_back_to_the_assignment(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    _pid, _lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_first(chat)
    await chat.tap("申请调整")
    await chat.send("不属于本单位职责。")
    clock.set_local(2026, 9, 22)
    before = shot(db)
    await chat.tap("确认申请调整")
    assert "调整申请期已于2026年9月20日结束" in chat.said
    assert "确认提交吗" not in chat.said and "确认申请调整" not in chat.buttons
    assert "签收" in chat.buttons  # the assignment, to accept it
    assert_same(db, before)


async def test_a_contact_or_opinion_finished_after_the_proposal_was_answered_leaves_the_step(
    db, wf, world, chat_as
):
    """区交通运输局 is writing a contact record and then an opinion when the reply is
    approved (its assignment ends): each is refused once, and the bot does not ask again."""
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    chat = chat_as(world.handler_tr)
    await open_first(chat)
    await chat.tap("记录沟通")
    await chat.tap("电话沟通")
    await chat.send("今天")
    rid = s.submit_reply(lead)
    s.run(world.staff, replies.approve_reply, rid)
    before = shot(db)
    await chat.send("电话沟通，委员同意先行试点。")
    said_ok(chat)
    assert "无法再记录沟通" in chat.said
    assert "请简要写下沟通情况" not in chat.said
    assert "不在本单位的待办中了" in chat.said  # the assignment ended: the inbox
    assert_same(db, before)

    s2 = States(db, wf, world)
    _pid2, lead2, _co2 = s2.accepted(title="关于增设社区公共停车场的建议")
    await open_inbox(chat)
    await chat.tap("2026年度第2号")
    await chat.tap("协办意见")
    await chat.send(OPINION_1)
    rid2 = s2.submit_reply(lead2)
    s2.run(world.staff, replies.approve_reply, rid2)
    before = shot(db)
    await chat.tap("完成")
    said_ok(chat)
    assert "无法再提出协办意见" in chat.said
    assert "协办意见已收到" not in chat.said and "完成" not in chat.buttons
    assert_same(db, before)


async def test_a_reassigned_assignment_leaves_the_inbox(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = chat_as(world.handler_edu)
    await open_inbox(chat)
    s.run(world.handler_edu, assignments.request_adjustment, lead, "不属于本单位职责。")
    s.run(world.staff, assignments.reassign, lead, world.health)
    await chat.tap("2026年度第1号")
    assert "已办结或已改交" in chat.said and "目前没有需要办理的交办事项" in chat.said


# ---------------------------------------------------------------- bad input at every step


async def to_detail(c):
    await open_first(c)


async def to_pending_step(c, label):
    await open_first(c)
    await c.tap(label)


async def to_accepted_step(c, *labels, texts=()):
    await open_first(c)
    for label in labels:
        await c.tap(label)
    for text in texts:
        await c.send(text)


async def to_reply_step(c, n):
    script = [
        lambda: c.tap("B类"),
        lambda: c.send(BODY_1),
        lambda: c.tap("完成"),
        lambda: c.tap("使用我的姓名"),
        lambda: c.send("0839-8620101"),
        lambda: c.tap("使用「"),
        lambda: c.tap("今天"),
    ]
    await open_first(c)
    await c.tap("撰写答复")
    for action in script[:n]:
        await action()


# step -> (handler, state of the assignment, how to get there, takes text, takes files)
STEPS = {
    "list": ("edu", "pending", open_inbox, False, False),
    "detail": ("edu", "pending", to_detail, False, False),
    "adjust_reason": ("edu", "pending", lambda c: to_pending_step(c, "申请调整"), True, False),
    "adjust_confirm": (
        "edu",
        "pending",
        lambda c: to_accepted_step(c, "申请调整", texts=["不属于本单位职责。"]),
        False,
        False,
    ),
    "contact_method": ("edu", "accepted", lambda c: to_accepted_step(c, "记录沟通"), False, False),
    "contact_date": (
        "edu",
        "accepted",
        lambda c: to_accepted_step(c, "记录沟通", "电话沟通"),
        True,
        False,
    ),
    "contact_summary": (
        "edu",
        "accepted",
        lambda c: to_accepted_step(c, "记录沟通", "电话沟通", "今天"),
        True,
        False,
    ),
    "opinion": ("tr", "accepted", lambda c: to_accepted_step(c, "协办意见"), True, False),
    "extend_reason": ("edu", "accepted", lambda c: to_accepted_step(c, "申请延期"), True, False),
    "r_class": ("edu", "accepted", lambda c: to_reply_step(c, 0), False, False),
    "r_body": ("edu", "accepted", lambda c: to_reply_step(c, 1), True, True),
    "r_contact": ("edu", "accepted", lambda c: to_reply_step(c, 3), True, False),
    "r_phone": ("edu", "accepted", lambda c: to_reply_step(c, 4), True, False),
    "r_unit": ("edu", "accepted", lambda c: to_reply_step(c, 5), True, False),
    "r_date": ("edu", "accepted", lambda c: to_reply_step(c, 6), True, False),
    "r_preview": ("edu", "accepted", lambda c: to_reply_step(c, 7), False, False),
}


@pytest.mark.parametrize("step", list(STEPS))
async def test_bad_input_at_every_step_changes_nothing(db, wf, world, chat_as, step):
    who, state, reach, takes_text, takes_files = STEPS[step]
    s = States(db, wf, world)
    _pid, lead, co = s.assigned() if state == "pending" else s.accepted()
    other = s.run(
        world.staff,
        assignments.assign,
        s.filed(title="关于规范校外培训机构的建议"),
        lead_unit_id=world.health,
    )[0].id  # another unit's assignment
    handler = world.handler_edu if who == "edu" else world.handler_tr
    chat = chat_as(handler)
    await reach(chat)
    assert conversation(db, chat).step == step, chat.dump()
    before = shot(db)

    def version() -> int:
        return conversation(db, chat).version

    inputs = [
        lambda: chat.send(""),
        lambda: chat.send("   "),
        lambda: chat.send("字" * 10_001),
        lambda: chat.send("字" * 10_000),
        lambda: chat.send("🙂🙂🙂"),
        lambda: chat.upload(*(("现场照片.png", PNG) if takes_files else ("说明.pdf", PDF))),
        lambda: chat.press(f"{version() - 1}|back"),  # a stale button
        lambda: chat.press(f"{version()}|a:{other}"),  # never offered: another unit's
        lambda: chat.press(f"asg:{other}:accept"),  # another unit's, by the notice action
        lambda: chat.press(f"asg:{co or lead}:frobnicate"),
        lambda: chat.press("rate:1:satisfied"),  # a member's button
    ]
    if not takes_text:
        inputs.append(lambda: chat.send("这是一段随手写的话"))  # text where a choice is expected
    for i, feed in enumerate(inputs):
        await feed()
        said_ok(chat)
        assert conversation(db, chat).step == step, (i, chat.dump()[-800:])
        assert_same(db, before)


async def test_a_reply_draft_survives_cancel_and_the_menu(db, wf, world, chat_as):
    """/cancel leaves the wizard but keeps what was written, as the engine promises."""
    from tests.factories import Story

    story = Story(db, wf, world)
    _pid, lead, _co = story.accepted(co=False)
    chat = chat_as(world.handler_edu)
    await chat.send("/menu")
    await chat.tap("📥")
    await chat.tap("2026年度第1号")
    await chat.tap("撰写答复")
    await chat.tap("B")
    await chat.send("我局已在五所小学周边试点即停即走车位。")
    await chat.send("/cancel")
    assert "草稿不会丢失" in chat.said
    await chat.tap("📥")
    await chat.tap("2026年度第1号")
    await chat.tap("撰写答复")
    assert "当前选的是 B 类" in chat.said
    kept = conversation(db, chat).data["_keep"]["replies"][str(lead)]
    assert "试点即停即走车位" in str(kept)


async def test_oversized_ids_in_notice_payloads_are_refused_plainly(db, wf, world, chat_as):
    chat = chat_as(world.handler_edu)
    await chat.send("/menu")
    for payload in (
        "asg:99999999999999999999:accept",
        "asg:٣:accept",
        "cosignadd:1:99999999999999",
    ):
        await chat.press(payload)
        assert "无法识别这个操作" in chat.said, payload
        assert "抱歉" not in chat.said
