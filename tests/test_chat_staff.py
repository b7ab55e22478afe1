"""Committee staff in the chat, as transcripts: the review queue and 交办, adjustment
requests, reply review (staff and supervisors) and 重新办理 after 不满意."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import col, select

from handlers.staff_common import PAGE_SIZE, parse_date
from storage.models import (
    Assignment,
    AuditEvent,
    Conversation,
    Notice,
    Person,
    Proposal,
    Rating,
    Reply,
    Unit,
    YearCounter,
)
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY
from tests.snapshot import assert_same, shot
from tests.states import MAIN_TITLE, OTHER_TITLE, States
from workflow import assignments, attachments, proposals, reach, replies
from workflow.errors import PermissionDenied

TITLE = "关于改善城区小学放学时段交通秩序的建议"  # Story's default title
THIRD_TITLE = "关于推进社区养老服务中心建设的建议"


# ---------------------------------------------------------------- helpers


def get(db, model, record_id):
    with db.read_session() as s:
        return s.get(model, record_id)


def notices(db, kind: str) -> list[Notice]:
    with db.read_session() as s:
        return list(s.exec(select(Notice).where(Notice.kind == kind)).all())


def conversation(db, chat: Chat) -> Conversation:
    with db.read_session() as s:
        return s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()


async def tap_with(chat: Chat, text: str):
    """Tap the button whose label contains ``text``."""
    for out in reversed(chat.last):
        for choice in out.choices:
            if text in choice.label:
                return await chat.press(choice.payload)
    raise AssertionError(f"no button with {text!r}; buttons: {chat.buttons}")


def version(chat: Chat) -> str:
    return chat.last[-1].choices[0].payload.split("|")[0]


async def open_item(chat: Chat, menu_label: str):
    await chat.send("/menu")
    await chat.tap(menu_label)


def story(db, wf, world) -> States:
    return States(db, wf, world)


# ================================================================ review: the four decisions


async def test_file_then_assign_with_search_and_co_units(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.submitted(cosigners=[world.cosigner])
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    assert "待审查 1 件" in chat.said and f"《{TITLE}》 林晓，9月14日提交" in chat.said
    await chat.tap(TITLE)
    assert "编 号:未编号" in chat.said and "当前状态:待审查" in chat.said
    assert chat.buttons == ["立案", "不予立案", "并案", "转为意见建议", "↩️ 返回"]
    await chat.tap("立案")
    assert "已立案，编号为2026年度第1号（第〔1〕号）" in chat.said
    p = get(db, Proposal, pid)
    assert (p.status, p.number) == ("filed", 1)
    assert {n.person_id for n in notices(db, "filed")} == {world.member, world.cosigner}

    await chat.tap("现在交办")
    assert "第一步：请选择主办单位" in chat.said
    assert chat.buttons[:3] == ["区教育局", "区交通运输局", "区卫生健康委员会"]
    assert "区政府督查室" not in chat.buttons  # a supervising unit never handles
    await chat.send("交通")  # part of a name
    assert "名称含「交通」的单位（1 个）" in chat.said
    assert chat.buttons == ["区交通运输局", "显示全部", "↩️ 返回"]
    await chat.send("税务")
    assert "没有名称含「税务」的单位，以下是全部单位" in chat.said
    assert "区教育局" in chat.buttons
    await chat.send("教育")
    await chat.tap("区教育局")
    assert "第二步" in chat.said and "主办单位：区教育局" in chat.said
    assert "区教育局" not in chat.buttons  # the lead unit is not offered as co-handler
    await chat.tap("区交通运输局")
    await chat.tap("区卫生健康委员会")
    assert "已选协办单位：区交通运输局、区卫生健康委员会" in chat.said
    await chat.tap("✅ 区卫生健康委员会")  # tapped again: unselected
    assert "已选协办单位：区交通运输局" in chat.said
    assert "✅ 区交通运输局" in chat.buttons and "区卫生健康委员会" in chat.buttons
    await chat.tap("完成")
    default_due = wf.calendar.add_months(date(2026, 9, 14), wf.rules.reply_due_months)
    assert default_due == date(2026, 12, 14)
    assert "默认为交办后 3 个月：2026年12月14日" in chat.said
    await chat.tap("使用默认")
    assert "是否列为重点提案" in chat.said
    await chat.tap("否")
    assert "请核对交办信息" in chat.said
    for line in (
        "主办单位：区教育局",
        "协办单位：区交通运输局",
        "答复期限：2026年12月14日（默认，交办后 3 个月）",
        "是否重点：否",
    ):
        assert line in chat.said
    assert "督办单位" not in chat.said
    await chat.tap("确认交办")
    assert "已交办：2026年度第1号" in chat.said and "由区教育局主办，区交通运输局协办" in chat.said
    assert "审查队列是空的" in chat.said

    p = get(db, Proposal, pid)
    assert (p.status, p.due_date, p.is_key) == ("assigned", default_due, False)
    with db.read_session() as session:
        made = session.exec(select(Assignment).order_by(Assignment.id)).all()
    assert [(a.unit_id, a.role, a.status) for a in made] == [
        (world.education, "lead", "pending"),
        (world.transport, "co", "pending"),
    ]
    told = {n.person_id for n in notices(db, "assigned")}
    assert told == {world.handler_edu, world.handler_edu2, world.handler_tr}
    assert notices(db, "assigned_watch") == []


async def test_key_proposal_with_a_typed_date_and_edits_from_the_summary(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.filed()
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    assert "【待交办】" in chat.said and "【待审查】" not in chat.said
    await chat.tap("2026年度第1号")
    assert chat.buttons == ["交办", "↩️ 返回"]
    await chat.tap("交办")
    await chat.tap("区交通运输局")
    await chat.tap("完成")
    await chat.send("2027年3月15日")
    await chat.tap("是")
    assert "请选择督办单位" in chat.said and chat.buttons == ["区政府督查室", "↩️ 返回"]
    await chat.tap("区政府督查室")
    assert "请选择牵头领导" in chat.said and chat.buttons == ["邓启明（副区长）", "↩️ 返回"]
    await chat.tap("邓启明")
    for line in (
        "主办单位：区交通运输局",
        "协办单位：无",
        "答复期限：2027年3月15日",
        "是否重点：是",
        "督办单位：区政府督查室",
        "牵头领导：邓启明（副区长）",
    ):
        assert line in chat.said
    # Edits go back to the summary; a co-handler that becomes the lead is dropped.
    await chat.tap("修改协办单位")
    await chat.tap("区教育局")
    await chat.tap("完成")
    assert "协办单位：区教育局" in chat.said
    await chat.tap("修改主办单位")
    await chat.tap("区教育局")
    assert "区教育局改为主办单位，已从协办单位中去掉" in chat.said
    assert "主办单位：区教育局" in chat.said and "协办单位：无" in chat.said
    await chat.tap("修改答复期限")
    assert "当前已填：2027年3月15日" in chat.said
    await chat.send("2027/3/1")
    assert "答复期限：2027年3月1日" in chat.said
    await chat.tap("确认交办")
    assert "列为重点提案" in chat.said

    p = get(db, Proposal, pid)
    assert (p.status, p.due_date, p.is_key) == ("assigned", date(2027, 3, 1), True)
    assert (p.supervising_unit_id, p.lead_leader_id) == (world.inspection, world.leader)
    with db.read_session() as session:
        made = session.exec(select(Assignment)).all()
    assert [(a.unit_id, a.role) for a in made] == [(world.education, "lead")]
    assert {n.person_id for n in notices(db, "assigned_watch")} == {
        world.supervisor,
        world.leader,
    }


async def test_key_proposal_can_be_turned_back_to_normal(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.filed()
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap("2026年度第1号")
    await chat.tap("交办")
    await chat.tap("区教育局")
    await chat.tap("完成")
    await chat.tap("使用默认")
    await chat.tap("是")
    await chat.tap("区政府督查室")
    await chat.tap("邓启明")
    await chat.tap("修改重点设置")
    await chat.tap("否")
    assert "是否重点：否" in chat.said and "督办单位" not in chat.said
    await chat.tap("确认交办")
    p = get(db, Proposal, pid)
    assert (p.is_key, p.supervising_unit_id, p.lead_leader_id) == (False, None, None)


async def test_unit_lists_are_paged_searchable_and_only_active(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.filed()
    with db.session() as session:
        for name in ("区财政局", "区民政局", "区司法局", "区人力资源和社会保障局", "区自然资源局"):
            session.add(Unit(name=name))
        for name in ("区生态环境分局", "区住房和城乡建设局", "区水利局"):
            session.add(Unit(name=name))
        session.add(Unit(name="区原文化局", active=False))
        session.add(Unit(name="区审计局", short_name="审计"))
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap("2026年度第1号")
    await chat.tap("交办")
    assert "（第 1/2 页）" in chat.said and "下一页 ▶" in chat.buttons
    await chat.tap("下一页")
    assert "（第 2/2 页）" in chat.said and "区审计局" in chat.buttons
    assert not any("文化" in b for b in chat.buttons)  # an inactive unit is not offered
    await chat.send("文化")
    assert "没有名称含「文化」的单位" in chat.said
    await chat.send("局")  # many matches: still paged
    assert "名称含「局」的单位（11 个）" in chat.said and "（第 1/2 页）" in chat.said
    await chat.send("审计")
    assert chat.buttons[:2] == ["区审计局", "显示全部"]
    await chat.tap("显示全部")
    assert "（第 1/2 页）" in chat.said
    await chat.send("人力资源")
    await chat.tap("区人力资源和社会保障局")
    await chat.send("资源")  # the co-handling list is searched the same way
    assert chat.buttons[0] == "区自然资源局" and "区人力资源和社会保障局" not in chat.buttons
    await chat.tap("区自然资源局")
    assert "已选协办单位：区自然资源局" in chat.said
    await chat.tap("完成")
    await chat.tap("使用默认")
    await chat.tap("否")
    await chat.tap("确认交办")
    with db.read_session() as session:
        names = [
            session.get(Unit, a.unit_id).name
            for a in session.exec(select(Assignment).order_by(Assignment.id)).all()
        ]
    assert names == ["区人力资源和社会保障局", "区自然资源局"]
    assert get(db, Proposal, pid).status == "assigned"


async def test_review_tells_of_co_signers_still_to_confirm(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    s.run(world.cosigner, proposals.confirm_cosign, pid)
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    assert "注意：黄蕾尚未确认联名（截止2026年9月" in chat.said and "不再列入" in chat.said
    await chat.tap("立案")
    with db.read_session() as session:
        from storage.models import Signer

        states = {
            x.person_id: x.state
            for x in session.exec(select(Signer).where(Signer.proposal_id == pid)).all()
        }
    assert states == {
        world.member: "confirmed",
        world.cosigner: "confirmed",
        world.cosigner2: "expired",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-15", date(2027, 3, 15)),
        ("2027/3/15", date(2027, 3, 15)),
        ("2027.3.15", date(2027, 3, 15)),
        ("2027年3月15日", date(2027, 3, 15)),
        ("2027 年 3 月 15 号", date(2027, 3, 15)),
        ("２０２７－０３－１５", date(2027, 3, 15)),
        ("2027-02-30", None),
        ("2027-13-01", None),
        ("3月15日", None),
        ("明年春天", None),
        ("", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


async def test_due_date_refusals(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.filed()
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap("2026年度第1号")
    await chat.tap("交办")
    await chat.tap("区教育局")
    await chat.tap("完成")
    before = shot(db)
    for text in ("2026-09-14", "2026年9月1日", "2025-12-31"):  # today and the past
        await chat.send(text)
        assert "答复期限必须晚于今天（2026年9月14日）" in chat.said, text
        assert "第三步：答复期限" in chat.said
    await chat.send("2027-02-30")
    assert "看不懂这个日期，或者没有这一天" in chat.said
    await chat.send("下个月")
    assert "看不懂这个日期" in chat.said and "2027-03-15" in chat.said
    assert conversation(db, chat).step == "due"
    assert_same(db, before)
    await chat.send("2026-09-15")
    assert "第四步" in chat.said


async def test_reject_asks_the_reason_and_confirms(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.submitted(cosigners=[world.cosigner])
    chat_as(world.member)  # 林晓 has bound her account
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("不予立案")
    assert "请写明" in chat.said and "不予立案的理由" in chat.said
    await chat.send("👎👎")
    assert "不予立案的理由需要用文字写明" in chat.said
    await chat.send("属于学校日常管理")
    assert "确认《" in chat.said and "理由：属于学校日常管理" in chat.said
    await chat.tap("修改理由")
    await chat.send("属于学校日常管理事务，建议通过社情民意渠道反映。")
    assert get(db, Proposal, pid).status == "submitted"  # nothing until confirmed
    await chat.tap("确认不予立案")
    assert "不予立案。\n已通知提案人。" in chat.said and "审查队列是空的" in chat.said
    p = get(db, Proposal, pid)
    assert p.status == "not_filed" and p.number is None
    assert p.review_reason == "属于学校日常管理事务，建议通过社情民意渠道反映。"
    assert {n.person_id for n in notices(db, "not_filed")} == {world.member, world.cosigner}


async def test_merge_into_a_target_found_by_keyword_or_number(db, wf, world, chat_as):
    s = story(db, wf, world)
    first = s.filed(title=MAIN_TITLE)  # 2026年度第1号
    second, _lead, _co = s.assigned(title=THIRD_TITLE)  # 2026年度第2号, assigned
    s.submitted(title="关于完善农村饮水安全保障的建议")  # submitted: not a target
    pid = s.submitted(title=OTHER_TITLE)
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(OTHER_TITLE[:10])
    await chat.tap("并案")
    assert "2026年度已立案或办理中" in chat.said
    assert chat.buttons[0].startswith("2026年度第1号 关于加强") and chat.buttons[0].endswith("…")
    assert chat.buttons[1].startswith("2026年度第2号 关于推进社区养老")
    assert not any("饮水" in b for b in chat.buttons)
    await chat.send("养老")
    assert "含「养老」的提案（1 件）" in chat.said
    assert chat.buttons[0].startswith("2026年度第2号")
    await chat.send("2026年度第1号")
    assert chat.buttons[0].startswith("2026年度第1号") and "2026年度第2号" not in chat.said
    await chat.send("99")
    assert "没有找到含「99」的提案" in chat.said
    await chat.send("1")
    await chat.tap("2026年度第1号")
    assert f"并入2026年度第1号《{MAIN_TITLE}》" in chat.said
    await chat.tap("重新选择")
    await chat.tap("2026年度第2号")
    await chat.tap("确认并案")
    assert "已并入2026年度第2号提案" in chat.said
    p = get(db, Proposal, pid)
    assert (p.status, p.merged_into_id, p.number) == ("merged", second, None)
    assert get(db, Proposal, first).status == "filed"
    assert [n.person_id for n in notices(db, "merged")] == [world.member]


async def test_convert_with_an_optional_note(db, wf, world, chat_as):
    s = story(db, wf, world)
    with_note = s.submitted()
    without = s.submitted(title=OTHER_TITLE)
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("转为意见建议")
    await chat.send("转区交通运输局参考")
    assert "说明：转区交通运输局参考" in chat.said
    await chat.tap("确认转为意见建议")
    assert "已转为意见建议" in chat.said
    await chat.tap(OTHER_TITLE[:10])
    await chat.tap("转为意见建议")
    await chat.tap("不写说明")
    assert "说明：（无）" in chat.said
    await chat.tap("确认转为意见建议")
    assert get(db, Proposal, with_note).review_reason == "转区交通运输局参考"
    p = get(db, Proposal, without)
    assert (p.status, p.review_reason) == ("converted", None)
    assert len(notices(db, "converted")) == 2


async def test_filed_proposal_waits_in_the_queue_and_is_assigned_later(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.submitted()
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("立案")
    await chat.tap("稍后交办")
    assert "待审查 0 件，待交办 1 件" in chat.said and "【待交办】" in chat.said
    assert f"1. 2026年度第1号《{TITLE}》 林晓" in chat.said
    await chat.tap("2026年度第1号")
    await chat.tap("交办")
    await chat.tap("区教育局")
    await chat.tap("完成")
    await chat.tap("使用默认")
    await chat.tap("否")
    await chat.tap("确认交办")
    assert get(db, Proposal, pid).status == "assigned"


async def test_queue_oldest_first_in_pages(db, wf, world, clock, chat_as):
    s = story(db, wf, world)
    ids = []
    for i in range(PAGE_SIZE + 2):
        ids.append(s.submitted(title=f"关于第{i + 1}个社区问题的建议"))
        clock.advance(minutes=5)
    s.run(world.staff, proposals.file_proposal, ids[0])  # now waits for 交办
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    assert "待审查 9 件，待交办 1 件" in chat.said and "（第 1/2 页）" in chat.said
    assert chat.buttons[0] == "关于第2个社区问题的建议"
    assert chat.buttons[PAGE_SIZE - 1] == "关于第9个社区问题的建议"
    assert chat.buttons[PAGE_SIZE:] == ["下一页 ▶", "🏠 返回菜单"]
    await chat.tap("下一页")
    assert "（第 2/2 页）" in chat.said and "9. 《关于第10个社区问题的建议》" in chat.said
    assert chat.buttons[:2] == [
        "关于第10个社区问题的建议",
        "2026年度第1号 关于第1个社区问题的建议",
    ]
    assert "【待审查】" in chat.said and "【待交办】" in chat.said
    await chat.tap("◀ 上一页")
    assert "（第 1/2 页）" in chat.said
    await chat.tap("🏠 返回菜单")
    assert "许静，您好" in chat.said


# ================================================================ two staff, one proposal


async def test_two_staff_on_one_proposal(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid = s.submitted()
    a, b = chat_as(world.staff), chat_as(world.staff2)
    await open_item(b, "🔎 审查队列")
    await b.tap(TITLE)
    await open_item(a, "🔎 审查队列")
    await a.tap(TITLE)
    await a.tap("立案")
    assert "第1号" in a.said
    before = shot(db)
    await b.tap("立案")
    assert "已由许静于2026年9月14日 09:30处理" in b.said and "无法再立案" in b.said
    assert "这件提案已立案（2026年度第1号），尚未交办" in b.said  # asked again, as it is now
    assert_same(db, before)
    assert get(db, Proposal, pid).number == 1
    with db.read_session() as session:
        assert session.get(YearCounter, 2026).last_number == 1
        files = session.exec(select(AuditEvent).where(AuditEvent.action == "file")).all()
    assert len(files) == 1

    # Both go on to 交办; the second confirmation finds it done.
    for chat in (a, b):
        if chat is b:
            await chat.tap("交办")
        else:
            await chat.tap("现在交办")
        await chat.tap("区教育局")
        await chat.tap("完成")
        await chat.tap("使用默认")
        await chat.tap("否")
    await a.tap("确认交办")
    before = shot(db)
    await b.tap("确认交办")
    assert "已由许静" in b.said and "无法再交办" in b.said
    assert "当前为「办理中」，不能再交办" in b.said and b.buttons == ["返回审查队列"]
    assert_same(db, before)
    await b.tap("返回审查队列")
    assert "审查队列是空的" in b.said


# ================================================================ restart inside the wizard


async def test_a_restart_between_wizard_steps_resumes(db, wf, world, chat_as, tmp_path):
    from handlers.flows import build_engine
    from storage.files import AttachmentStore

    s = story(db, wf, world)
    pid = s.submitted()
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("立案")

    def restart(old: Chat) -> Chat:
        engine = build_engine(db, wf, AttachmentStore(tmp_path / "attachments"))
        new = Chat(engine, old.sender.external_id)
        new.last = old.last  # the buttons still on the person's screen
        return new

    steps = [
        ("tap", "现在交办", "第一步"),
        ("send", "交通", "名称含「交通」"),
        ("tap", "区交通运输局", "第二步"),
        ("tap", "区卫生健康委员会", "已选协办单位：区卫生健康委员会"),
        ("tap", "完成", "第三步"),
        ("send", "2027-01-20", "第四步"),
        ("tap", "是", "请选择督办单位"),
        ("tap", "区政府督查室", "请选择牵头领导"),
        ("tap", "邓启明", "请核对交办信息"),
    ]
    for kind, what, expected in steps:
        chat = restart(chat)
        await (chat.tap(what) if kind == "tap" else chat.send(what))
        assert expected in chat.said, (what, chat.said)
    assert "协办单位：区卫生健康委员会" in chat.said and "答复期限：2027年1月20日" in chat.said
    chat = restart(chat)
    await chat.send("/help")  # the step is known after the restart
    assert "请核对后点选确认交办" in chat.said
    chat = restart(chat)
    await chat.tap("确认交办")
    p = get(db, Proposal, pid)
    assert (p.status, p.due_date, p.is_key) == ("assigned", date(2027, 1, 20), True)


# ================================================================ adjustments


async def test_adjustment_granted_to_a_unit_found_by_search(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.assignment("adjustment_requested")  # 区教育局 (lead) asks
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    assert "待处理的调整申请 1 件" in chat.said and "区教育局（主办）" in chat.said
    await chat.tap("2026年度第1号")
    assert "区教育局申请调整2026年度第1号" in chat.said and "理由：不属于本单位职责" in chat.said
    assert "申请人：高远" in chat.said
    assert chat.buttons == ["同意并改交", "不予调整", "↩️ 返回"]
    await chat.tap("同意并改交")
    # Units already on the proposal are not offered.
    assert "区卫生健康委员会" in chat.buttons
    assert "区教育局" not in chat.buttons and "区交通运输局" not in chat.buttons
    await chat.send("卫生")
    assert chat.buttons[0] == "区卫生健康委员会"
    await chat.tap("区卫生健康委员会")
    assert "改由区卫生健康委员会主办" in chat.said
    await chat.tap("确认改交")
    assert "已改交：2026年度第1号提案改由区卫生健康委员会主办" in chat.said
    assert "没有待处理的调整申请" in chat.said
    assert get(db, Assignment, rec.lead).status == "reassigned"
    with db.read_session() as session:
        new = session.exec(select(Assignment).where(Assignment.unit_id == world.health)).one()
    assert (new.role, new.status) == ("lead", "pending")
    assert {n.person_id for n in notices(db, "adjustment_granted")} == {
        world.handler_edu,
        world.handler_edu2,
    }


async def test_the_lead_unit_is_told_its_co_handling_unit_changed(db, wf, world, chat_as):
    """区交通运输局 (co-handling) is relieved for 区卫生健康委员会: 区教育局, which receives the
    co-handling opinions and has its letter countersigned by that unit, is told too."""
    s = story(db, wf, world)
    s.assignment("adjustment_requested", role="co")  # 区交通运输局 asks
    lead_unit = chat_as(world.handler_edu)
    lead_unit.notices()
    chat_as(world.handler_tr)
    chat_as(world.handler_health)
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    await chat.tap("2026年度第1号")
    await chat.tap("同意并改交")
    await chat.tap("区卫生健康委员会")
    await chat.tap("确认改交")
    assert "已改交：2026年度第1号提案改由区卫生健康委员会协办" in chat.said
    assert "已通知区交通运输局、区卫生健康委员会、区教育局。" in chat.said
    [(told, _)] = lead_unit.notices()
    assert (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的协办单位"
        "区交通运输局已改为区卫生健康委员会。"
    ) in told


async def test_the_co_handling_unit_is_told_its_lead_unit_changed(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.assignment("adjustment_requested")  # 区教育局 (lead) asks
    co_unit = chat_as(world.handler_tr)
    co_unit.notices()
    s.run(world.staff, assignments.reassign, rec.lead, world.health)
    [(told, _)] = co_unit.notices()
    assert (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的主办单位"
        "已由区教育局改为区卫生健康委员会。"
    ) in told


async def test_a_key_proposals_watchers_are_told_its_new_lead_unit(db, wf, world, clock, chat_as):
    s = story(db, wf, world)
    pid, lead, co = s.assigned(key=True)  # 区教育局 leads, due 2026-12-14
    s.run(world.handler_edu, assignments.request_adjustment, lead, "不属于本单位职责")
    clock.advance(days=2)
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    await chat.tap("2026年度第1号")
    await chat.tap("同意并改交")
    await chat.tap("区卫生健康委员会")
    await chat.tap("确认改交")
    assert "已改交：2026年度第1号提案改由区卫生健康委员会主办，期限2026年12月16日。" in chat.said
    # the supervising unit and the lead leader follow the proposal's new lead unit
    watched = [n for n in notices(db, "assigned_watch") if "区卫生健康委员会" in n.text]
    assert sorted(n.person_id for n in watched) == sorted([world.supervisor, world.leader])
    assert {n.text for n in watched} == {
        "重点提案2026年度第1号《关于改善城区小学放学时段交通秩序的建议》已改由区卫生健康委员会"
        "主办（原主办单位：区教育局），答复期限2026年12月16日，请予督办。"
    }
    assert len(notices(db, "assigned_watch")) == 4  # two at 交办, two at 改交
    # a co-handling unit changed: the lead unit, all they were told of, stays
    s.run(world.handler_tr, assignments.request_adjustment, co, "不属于本单位职责")
    s.run(world.staff, assignments.reassign, co, world.education)
    assert len(notices(db, "assigned_watch")) == 4
    assert get(db, Proposal, pid).due_date == date(2026, 12, 16)


async def test_an_adjustment_request_a_colleague_decided_is_refused_at_once(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    rec = s.assignment("adjustment_requested")  # 区教育局 (lead) asks
    chat = chat_as(world.staff2)
    await open_item(chat, "🔁 调整申请")
    await chat.tap("2026年度第1号")  # 罗成 reads the request…
    s.run(world.staff, assignments.refuse_adjustment, rec.lead, "属于贵局职责。")  # …许静 decides
    before = shot(db)
    await chat.tap("同意并改交")
    said = chat.said
    assert "已由许静于2026年9月14日 09:30处理" in said and "无法再改交" in said
    assert "请选择改由哪个单位" not in said  # no unit to pick for nothing
    assert_same(db, before)
    await chat.tap("↩️ 返回")
    assert "没有待处理的调整申请" in chat.said


async def test_adjustment_refused_with_a_reason(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.assignment("adjustment_requested", role="co")  # 区交通运输局 (co) asks
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    assert "区交通运输局（协办）" in chat.said
    await chat.tap("2026年度第1号")
    await chat.tap("不予调整")
    assert "将告知区交通运输局" in chat.said
    await chat.send("🙅")
    assert "需要用文字写明" in chat.said and get(db, Assignment, rec.co).status == (
        "adjustment_requested"
    )
    await chat.send("校园周边交通组织属于贵局职责。")
    assert "已不予调整：区交通运输局须按期办理" in chat.said
    a = get(db, Assignment, rec.co)
    assert (a.status, a.adjustment_decision) == ("accepted", "校园周边交通组织属于贵局职责。")
    assert [n.person_id for n in notices(db, "adjustment_refused")] == [world.handler_tr]


# ================================================================ reply review


async def test_reply_letter_is_shown_and_approved_as_it_is(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.assignment("opinion_given", role="co")
    reply_id = s.submit_reply(rec.lead)
    chat = chat_as(world.staff)
    await open_item(chat, "✅ 答复审核")
    assert "待审核的答复 1 件" in chat.said and "区教育局，B类，第1稿" in chat.said
    await chat.tap("2026年度第1号")
    for part in (
        "答复类别：B类（所提问题正在解决或已列入计划逐步解决）",
        "我局已会同交警部门",
        "联系人：高远　联系电话：0839-8620101",
        "落款单位：区教育局",
        "答复日期：2026年9月14日",
        "协办意见：",
        "区交通运输局：建议优化信号灯配时。",
    ):
        assert part in chat.said, part
    assert chat.buttons == ["通过（B类）", "改为A类后通过", "改为C类后通过", "退回修改", "↩️ 返回"]
    await chat.tap("通过")
    assert (
        "已审核通过2026年度第1号提案的答复（B类）" in chat.said and "没有待审核的答复" in chat.said
    )
    r = get(db, Reply, reply_id)
    assert (r.status, r.reply_class, r.reviewed_by) == ("approved", "B", world.staff)
    assert get(db, Proposal, rec.pid).status == "delivered"
    assert [n.person_id for n in notices(db, "reply_delivered")] == [world.member]


async def test_reply_class_changed_on_approval(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.proposal("replied")
    chat = chat_as(world.staff)
    await open_item(chat, "✅ 答复审核")
    await chat.tap("2026年度第1号")
    await chat.tap("改为A类后通过")
    assert "答复（A类）" in chat.said
    r = get(db, Reply, rec.reply)
    assert (r.status, r.reply_class, r.proposed_class) == ("approved", "A", "B")


async def test_reply_returned_with_a_comment(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.proposal("replied")
    chat = chat_as(world.staff)
    await open_item(chat, "✅ 答复审核")
    await chat.tap("2026年度第1号")
    await chat.tap("退回修改")
    await chat.send("   ")
    assert "内容不能为空" in chat.said
    await chat.send("请写明试点学校名单和推行时间。")
    assert "已退回2026年度第1号提案的答复" in chat.said
    r = get(db, Reply, rec.reply)
    assert (r.status, r.review_comment) == ("returned", "请写明试点学校名单和推行时间。")
    assert get(db, Proposal, rec.pid).status == "assigned"
    assert get(db, Assignment, rec.lead).status == "accepted"
    assert {n.person_id for n in notices(db, "reply_returned")} == {
        world.handler_edu,
        world.handler_edu2,
    }


async def test_an_approved_key_reply_is_told_to_its_co_unit_supervisor_and_leader(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    rec = s.proposal("replied", key=True)  # 区交通运输局 co-handles it and has countersigned
    co_unit, supervisor, leader, staff = (
        chat_as(world.handler_tr),
        chat_as(world.supervisor),
        chat_as(world.leader),
        chat_as(world.staff),
    )
    for chat in (co_unit, supervisor, leader, staff):
        chat.notices()  # what they were told before the review
    await open_item(staff, "✅ 答复审核")
    await staff.tap("2026年度第1号")
    await staff.tap("改为A类后通过")
    assert "已审核通过2026年度第1号提案的答复（A类）" in staff.said

    [(told, buttons)] = co_unit.notices()
    assert told == (
        f"2026年度第1号提案《{TITLE}》的答复（主办单位：区教育局）已审核通过，并已送达提案人。"
        "贵单位的协办工作已经完成，无需再办理。"
    )
    assert buttons == []
    watch = (
        f"重点提案2026年度第1号《{TITLE}》的答复已由许静审核通过，答复类别由B类改为A类"
        "（所提问题已经解决或基本解决），已送达提案人。"
    )
    assert [text for text, _ in supervisor.notices()] == [watch]
    assert [text for text, _ in leader.notices()] == [watch]
    assert get(db, Assignment, rec.co).status == "done"
    # the reviewer is not told what they did
    assert staff.notices() == []


async def test_a_key_reply_returned_by_its_supervisor_is_told_to_the_lead_leader(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    s.proposal("replied", key=True)
    supervisor, leader = chat_as(world.supervisor), chat_as(world.leader)
    for chat in (supervisor, leader):
        chat.notices()
    await open_item(supervisor, "✅ 答复审核")
    await supervisor.tap("2026年度第1号")
    await supervisor.tap("退回修改")
    await supervisor.send("请写明试点学校名单和推行时间。")
    assert "已退回2026年度第1号提案的答复" in supervisor.said

    assert [text for text, _ in leader.notices()] == [
        f"重点提案2026年度第1号《{TITLE}》的答复（第1稿）已由董宁退回主办单位区教育局修改。"
        "\n审核意见：请写明试点学校名单和推行时间。"
    ]
    assert supervisor.notices() == []  # who returned it is not told
    assert notices(db, "co_reply_approved") == []  # nothing ended for the co-handling unit


def test_review_outcomes_reach_each_follower_once_and_skip_the_deactivated(db, wf, world):
    """A lead leader who also works in the supervising unit is told once; a deactivated
    one's notice is cancelled, as every notice to a deactivated person is."""
    s = story(db, wf, world)
    with db.session() as session:
        leader = session.get(Person, world.leader)
        leader.roles, leader.unit_id = "leader,supervisor", world.inspection
        session.add(leader)
    rec = s.proposal("replied", key=True)
    s.run(world.staff, replies.return_reply, rec.reply, "请补充具体实施时间。")
    assert sorted(n.person_id for n in notices(db, "reply_returned_watch")) == sorted(
        [world.supervisor, world.leader]
    )
    again = s.submit_reply(rec.lead)
    with db.session() as session:
        leader = session.get(Person, world.leader)
        leader.active = False
        session.add(leader)
    s.run(world.staff, replies.approve_reply, again)
    watched = {n.person_id: n.state for n in notices(db, "reply_approved_watch")}
    assert watched == {world.supervisor: "pending", world.leader: "cancelled"}


async def test_the_reviewer_receives_the_files_of_the_reply_letter(db, wf, world, chat_as):
    """The unit may put the letter itself in a file and only its gist in the body: the
    reviewer gets the files with the letter, once each time they open it."""
    s = story(db, wf, world)
    s.accepted(key=True)
    letter = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    unit = chat_as(world.handler_edu)
    await unit.send("/menu")
    await unit.tap("📥 交办事项")
    await unit.tap("2026年度第1号")
    await unit.tap("撰写答复")
    await unit.tap("B类")
    await unit.upload("答复函（盖章件）.pdf", letter)
    await unit.send("答复要点：试点即停即走车位，下学期推行护学岗排班。")
    await unit.tap("完成")
    await unit.tap("使用我的姓名")
    await unit.send("0839-8620101")
    await unit.tap("使用「")
    await unit.tap("今天")
    await unit.tap("提交审核")
    assert "附件 1 个" in unit.said
    co_unit = chat_as(world.handler_tr)  # 会签 by the co-handling unit first
    [(_, actions)] = [n for n in co_unit.notices() if n[1] and n[1][0]["payload"][:3] == "cs:"]
    await co_unit.press(actions[0]["payload"])
    assert "各协办单位均已会签，答复已提交审核" in co_unit.said
    supervisor = chat_as(world.supervisor)
    await open_item(supervisor, "✅ 答复审核")
    await supervisor.tap("2026年度第1号")
    assert "附件：答复函（盖章件）.pdf" in supervisor.said
    [sent] = supervisor.files
    assert (sent.name, sent.data, sent.mime) == ("答复函（盖章件）.pdf", letter, "application/pdf")
    await supervisor.send("看过了")  # a word instead of a button: asked again, not sent again
    assert "请审核这份答复" in supervisor.said and supervisor.files == []
    await supervisor.tap("↩️ 返回")
    await supervisor.tap("2026年度第1号")
    assert len(supervisor.files) == 1
    # whoever may not review the letter does not get its files
    with pytest.raises(PermissionDenied):
        s.run(world.handler_tr, attachments.reply_files, unit.engine.store, 1)
    with pytest.raises(PermissionDenied):
        s.run(world.member, attachments.reply_files, unit.engine.store, 1)


async def test_a_resubmitted_reply_is_reviewed_beside_the_comment_it_answers(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    rec = s.proposal("replied", key=True)
    supervisor = chat_as(world.supervisor)
    await open_item(supervisor, "✅ 答复审核")
    await supervisor.tap("2026年度第1号")
    assert "上一稿的审核意见" not in supervisor.said  # the first letter answers no comment
    await supervisor.tap("退回修改")
    await supervisor.send("请写明试点学校名单和推行时间。")
    second = s.submit_reply(rec.lead)
    staff = chat_as(world.staff)  # another reviewer than the one who returned it
    await open_item(staff, "✅ 答复审核")
    await staff.tap("2026年度第1号")
    assert "的答复（第2稿，区教育局主办）" in staff.said
    assert "上一稿的审核意见：请写明试点学校名单和推行时间。" in staff.said
    await staff.tap("通过")
    assert get(db, Reply, second).status == "approved"
    # 重新办理: the new round's first letter answers the member, not an old comment
    s.run(world.member, replies.rate, rec.pid, work="unsatisfied")
    s.run(world.staff, replies.order_rehandle, rec.pid)
    s.submit_reply(rec.lead)
    await open_item(staff, "✅ 答复审核")
    await staff.tap("2026年度第1号")
    assert "的答复（第3稿，区教育局主办）" in staff.said
    assert "上一稿的审核意见" not in staff.said


async def test_supervisor_reviews_only_the_proposals_their_unit_supervises(db, wf, world, chat_as):
    s = story(db, wf, world)
    key = s.proposal("replied", key=True)  # supervised by 区政府督查室
    plain = s.proposal("replied")
    with db.session() as session:
        other_unit = Unit(name="区发展和改革局督查科", kind="supervising")
        session.add(other_unit)
        session.flush()
        other = Person(name="韩冬", phone="13800000031", roles="supervisor", unit_id=other_unit.id)
        session.add(other)
        session.flush()
        other_id = other.id

    staff = chat_as(world.staff)
    await open_item(staff, "✅ 答复审核")
    assert "待审核的答复 2 件" in staff.said

    elsewhere = chat_as(other_id)
    await open_item(elsewhere, "✅ 答复审核")
    assert "没有待审核的答复" in elsewhere.said

    chat = chat_as(world.supervisor)
    await chat.send("/menu")
    assert "✅ 答复审核" in chat.buttons and "🔎 审查队列" not in chat.buttons
    await chat.tap("✅ 答复审核")
    assert "待审核的答复 1 件" in chat.said
    assert len([b for b in chat.buttons if b.startswith("2026年度第")]) == 1
    before = shot(db)
    await chat.press(f"{version(chat)}|r:{plain.reply}")  # not offered to them
    assert "选项无效" in chat.said
    assert_same(db, before)
    await chat.tap("2026年度第")
    await chat.tap("改为C类后通过")
    assert "答复（C类）" in chat.said
    r = get(db, Reply, key.reply)
    assert (r.status, r.reply_class, r.reviewed_by) == ("approved", "C", world.supervisor)
    assert get(db, Reply, plain.reply).status == "submitted"


async def test_two_reviewers_on_one_reply(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.proposal("replied", key=True)
    supervisor, staff = chat_as(world.supervisor), chat_as(world.staff)
    for chat in (supervisor, staff):
        await open_item(chat, "✅ 答复审核")
        await chat.tap("2026年度第1号")
    await staff.tap("通过")
    before = shot(db)
    await supervisor.tap("退回修改")  # refused before a comment is asked for
    assert "已由许静" in supervisor.said and "无法再退回答复" in supervisor.said
    assert "请写明退回意见" not in supervisor.said
    await supervisor.send("请补充经费来源。")
    assert_same(db, before)
    r = get(db, Reply, rec.reply)
    assert (r.status, r.reviewed_by, r.review_comment) == ("approved", world.staff, None)


async def test_a_reviewer_writing_a_return_comment_learns_the_reply_was_approved_meanwhile(
    db, wf, world, chat_as
):
    """The supervisor is writing the return comment when staff approve the reply: the answer
    says who approved it, not a status of the lead unit's assignment ("已办结" would read as
    the proposal closed), and the bot stops asking for a comment that cannot be used."""
    s = story(db, wf, world)
    rec = s.proposal("replied", key=True)
    supervisor = chat_as(world.supervisor)
    await open_item(supervisor, "✅ 答复审核")
    await supervisor.tap("2026年度第1号")
    await supervisor.tap("退回修改")
    assert "请写明退回意见" in supervisor.said
    s.run(world.staff, replies.approve_reply, rec.reply)
    before = shot(db)
    await supervisor.send("请补充经费来源。")
    said = supervisor.said
    assert "2026年度第1号提案的第1稿答复已由许静于2026年9月14日 09:30审核通过，无法再退回答复" in (
        said
    )
    assert "已办结" not in said
    assert "请写明退回意见" not in said  # not asked again
    assert "这一稿答复已经审核过了" in said and "退回修改" not in supervisor.buttons
    assert_same(db, before)
    await supervisor.send("还是要退回")  # typed anyway: nothing to write it into
    assert "已由许静" not in supervisor.said
    assert_same(db, before)


async def test_a_reviewer_tapping_approve_after_another_returned_it_learns_who(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    rec = s.proposal("replied", key=True)
    supervisor = chat_as(world.supervisor)
    await open_item(supervisor, "✅ 答复审核")
    await supervisor.tap("2026年度第1号")
    s.run(world.staff, replies.return_reply, rec.reply, "请补充经费来源。")
    before = shot(db)
    await supervisor.tap("通过")
    said = supervisor.said
    assert (
        "2026年度第1号提案的第1稿答复已由许静于2026年9月14日 09:30退回修改，无法再审核通过答复"
        in (said)
    )
    assert "办理中" not in said
    assert_same(db, before)


# ================================================================ whether a unit heard of it

NOT_BOUND = "还没有绑定聊天账号，通知要等绑定后才会送达。请电话联系该单位。"
NO_HANDLER = "在名册上没有承办人，这条通知没有发给任何人。请电话联系该单位，并在名册中添加承办人。"
BLOCKED = "暂时收不到机器人的消息（未绑定聊天账号或已停用机器人）"


def leave_roster(db, person_id: int) -> None:
    with db.session() as session:
        person = session.get(Person, person_id)
        person.active = False
        session.add(person)


def block_bot(db, wf, person_id: int) -> None:
    """The person blocked the bot on the chat ``chat_as`` bound."""
    with db.session() as session:
        reach.mark_unreachable(wf.ctx(session, None), "test", f"user-{person_id}", "blocked")


async def assign_through_the_chat(chat: Chat, co: list[str]) -> None:
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("立案")
    await chat.tap("现在交办")
    await chat.tap("区教育局")
    for unit in co:
        await chat.tap(unit)
    await chat.tap("完成")
    await chat.tap("使用默认")
    await chat.tap("否")
    await chat.tap("确认交办")


async def test_assigning_says_which_units_were_notified(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.submitted()
    chat_as(world.handler_edu)  # 区教育局: 高远 is bound; 区交通运输局: 蒋涛 is too
    chat_as(world.handler_tr)
    chat = chat_as(world.staff)
    await assign_through_the_chat(chat, ["区交通运输局"])
    assert "由区教育局主办，区交通运输局协办" in chat.said
    assert "已通知区教育局、区交通运输局。" in chat.said
    assert "没有绑定" not in chat.said and "没有承办人" not in chat.said


async def test_assigning_tells_staff_of_a_unit_with_no_handler_or_none_bound(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    s.submitted()
    chat_as(world.handler_edu2)  # 区教育局: 梁雪 is bound (高远 is not)
    leave_roster(db, world.handler_health)  # 区卫生健康委员会: nobody handles for it
    chat = chat_as(world.staff)  # 区交通运输局: 蒋涛 has not bound an account
    await assign_through_the_chat(chat, ["区交通运输局", "区卫生健康委员会"])
    said = chat.said
    assert "已交办：2026年度第1号" in said and "已通知各承办单位" not in said
    assert "已通知区教育局。" in said
    assert f"区交通运输局的承办人蒋涛（13800000022）{NOT_BOUND}" in said
    assert f"区卫生健康委员会{NO_HANDLER}" in said
    assert [n.person_id for n in notices(db, "assigned")] == [
        world.handler_edu,
        world.handler_edu2,
        world.handler_tr,
    ]  # 蒋涛's waits for his account; 区卫生健康委员会's was written for nobody


async def test_reassigning_tells_staff_the_new_unit_has_no_handler(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.assignment("adjustment_requested")  # 区教育局 (lead) asks
    chat_as(world.handler_edu)
    leave_roster(db, world.handler_health)
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    await chat.tap("2026年度第1号")
    await chat.tap("同意并改交")
    await chat.tap("区卫生健康委员会")
    await chat.tap("确认改交")
    said = chat.said
    assert "已改交：2026年度第1号提案改由区卫生健康委员会主办" in said
    assert "已通知区教育局。" in said and f"区卫生健康委员会{NO_HANDLER}" in said
    assert "已通知原单位和新单位" not in said


async def test_refusing_an_adjustment_to_a_unit_that_blocked_the_bot(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.assignment("adjustment_requested", role="co")  # 区交通运输局 asks
    chat_as(world.handler_tr)
    block_bot(db, wf, world.handler_tr)
    chat = chat_as(world.staff)
    await open_item(chat, "🔁 调整申请")
    await chat.tap("2026年度第1号")
    await chat.tap("不予调整")
    await chat.send("校园周边交通组织属于贵局职责。")
    said = chat.said
    assert "已不予调整：区交通运输局须按期办理（2026年10月14日前）。" in said
    assert f"区交通运输局的承办人蒋涛（13800000022）{BLOCKED}" in said
    assert "已通知" not in said


async def test_returning_a_reply_tells_staff_whether_the_lead_unit_heard(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.proposal("replied")
    chat = chat_as(world.staff)  # nobody of 区教育局 bound an account
    await open_item(chat, "✅ 答复审核")
    await chat.tap("2026年度第1号")
    await chat.tap("退回修改")
    await chat.send("请写明试点学校名单和推行时间。")
    said = chat.said
    assert "已退回2026年度第1号提案的答复，请主办单位修改后重新提交。" in said
    assert f"区教育局的承办人高远（13800000020）、梁雪（13800000021）{NOT_BOUND}" in said
    assert "已通知" not in said


async def test_returning_a_reply_does_not_claim_the_proposer_was_told(db, wf, world, chat_as):
    s = story(db, wf, world)
    s.proposal("replied", key=True)
    chat_as(world.member)  # 林晓 is bound: a notice to her would reach her
    chat_as(world.handler_edu)
    chat = chat_as(world.supervisor)
    await open_item(chat, "✅ 答复审核")
    await chat.tap("2026年度第1号")
    await chat.tap("退回修改")
    await chat.send("请写明试点学校名单和推行时间。")
    said = chat.said
    assert "已退回2026年度第1号提案的答复，请主办单位修改后重新提交。\n已通知区教育局。" in said
    # the review stays between the reviewers and the unit: the proposer hears of the reply
    # only once it is approved, and the reviewer is not told otherwise
    assert "提案人" not in said
    assert notices(db, "reply_returned") and all(
        n.person_id in (world.handler_edu, world.handler_edu2)
        for n in notices(db, "reply_returned")
    )
    with db.read_session() as session:
        told_member = session.exec(select(Notice).where(Notice.person_id == world.member)).all()
    assert all("退回" not in n.text for n in told_member)


async def test_filing_the_proposal_of_a_member_since_deactivated_says_they_were_not_told(
    db, wf, world, chat_as
):
    """A member who submitted, then left the roster: notices to them are cancelled, so the
    staff member who files it is not told 已通知提案人, but given the phone to call."""
    from workflow import people

    s = story(db, wf, world)
    pid = s.proposal("submitted").pid
    chat_as(world.member)  # 林晓 bound an account before she left
    s.run(world.staff, people.deactivate, world.member)
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    await chat.tap("立案")
    assert "已通知提案人" not in chat.said
    assert (
        "提案人林晓已在名册中停用，通知不会送达。如需告知，请电话联系（13800000001）。"
        in chat.said
    )
    assert get(db, Proposal, pid).status == "filed"
    [filed] = [n for n in notices(db, "filed") if n.person_id == world.member]
    assert filed.state == "cancelled"


def test_only_staff_and_supervisors_ask_whether_a_unit_hears_its_notices(db, wf, world):
    s = story(db, wf, world)
    [edu] = s.run(world.supervisor, reach.unit_reach, [world.education])
    assert (edu.unit, len(edu.handlers), edu.bound, edu.reachable) == ("区教育局", 2, 0, 0)
    for who in (world.handler_edu, world.member):
        with pytest.raises(PermissionDenied):
            s.run(who, reach.unit_reach, [world.education])
    him = s.run(world.staff, reach.person_reach, world.cosigner)
    assert (him.name, him.phone, him.bound, him.reachable) == ("何平", "13800000002", False, False)
    for who in (world.handler_edu, world.member, world.cosigner):
        with pytest.raises(PermissionDenied):  # who can be reached is staff's to know
            s.run(who, reach.person_reach, world.cosigner)


# ================================================================ 不满意 → 重新办理 / 办结


async def test_rehandle_ordered_with_a_typed_date_and_a_note(db, wf, world, chat_as):
    s = story(db, wf, world)
    rec = s.proposal("delivered")  # 林晓 with 何平
    s.run(
        world.member,
        replies.rate,
        rec.pid,
        work="basic",
        result="unsatisfied",
        feedback="试点范围太小",
    )
    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    assert "评价为不满意的提案 1 件" in chat.said
    await chat.tap("2026年度第1号")
    for part in (
        "评价情况（第1稿答复，B类）",
        "林晓：办理工作基本满意，办理结果不满意；意见：试点范围太小",
        "何平：尚未评价",
        "评价期至：",
        "已重新办理 0 次（最多 1 次）",
    ):
        assert part in chat.said, part
    assert chat.buttons == ["重新办理", "办结", "↩️ 返回"]
    await chat.tap("重新办理")
    assert "由区教育局重新答复" in chat.said and "默认为 1 个月后：2026年10月14日" in chat.said
    before = shot(db)
    await chat.send("2026-09-01")
    assert "新的答复期限必须晚于今天（2026年9月14日）" in chat.said
    assert_same(db, before)
    await chat.send("2026年11月30日")
    assert "新的答复期限：2026年11月30日" in chat.said
    await chat.send("请扩大试点范围并与委员当面沟通。")
    assert "已下达重新办理：2026年度第1号提案由区教育局在2026年11月30日前重新答复" in chat.said
    assert f"区教育局的承办人高远（13800000020）、梁雪（13800000021）{NOT_BOUND}" in chat.said
    p = get(db, Proposal, rec.pid)
    assert (p.status, p.rehandle_count, p.due_date) == ("assigned", 1, date(2026, 11, 30))
    lead = get(db, Assignment, rec.lead)
    assert (lead.status, lead.due_date) == ("accepted", date(2026, 11, 30))
    ordered = notices(db, "rehandle_ordered")
    assert {n.person_id for n in ordered} == {world.handler_edu, world.handler_edu2}
    assert "要求：请扩大试点范围并与委员当面沟通。" in ordered[0].text
    assert "没有评价为不满意" in chat.said


async def test_a_rehandling_due_date_typed_on_a_holiday_moves_to_the_next_working_day(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    pid, lead, _reply = s.rated()
    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    await chat.tap("2026年度第1号")
    await chat.tap("重新办理")
    await chat.send("2026-10-04")  # a Sunday in the National Day holiday
    assert "2026年10月4日是休息日，新的答复期限顺延至2026年10月8日（星期四）。" in chat.said
    assert "新的答复期限：2026年10月8日" in chat.said
    await chat.tap("不写要求")
    assert "在2026年10月8日前重新答复" in chat.said
    assert get(db, Proposal, pid).due_date == date(2026, 10, 8)
    assert get(db, Assignment, lead).due_date == date(2026, 10, 8)


async def test_rehandle_with_the_default_date_and_no_note(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid, lead, _reply = s.rated()
    chat_as(world.handler_edu)
    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    await chat.tap("2026年度第1号")
    await chat.tap("重新办理")
    await chat.tap("使用默认")
    await chat.tap("不写要求")
    assert (
        "在2026年10月14日前重新答复。\n"
        "提案人林晓还没有绑定聊天账号，通知要等绑定后才会送达。"
        "如需尽快告知，请电话联系（13800000001）。\n"
        "已通知区教育局。"
    ) in chat.said
    assert get(db, Proposal, pid).due_date == date(2026, 10, 14)


async def test_close_waits_for_the_rating_window(db, wf, world, clock, chat_as):
    s = story(db, wf, world)
    pid, _lead, _reply = s.rated(cosigners=[world.cosigner])  # 何平 has not rated
    chat_as(world.member)
    block_bot(db, wf, world.member)  # 林晓 has blocked the bot since
    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    await chat.tap("2026年度第1号")
    before = shot(db)
    await chat.tap("办结")
    assert "评价期到" in chat.said and "评价期满后才能办结" in chat.said
    assert chat.buttons == ["重新办理", "办结", "↩️ 返回"]  # asked again
    assert_same(db, before)
    clock.advance(days=30)
    await chat.tap("办结")
    assert (
        "已办结。\n提案人林晓暂时收不到机器人的消息（已停用机器人），"
        "通知要等他再给机器人发消息后才会送达。如需尽快告知，请电话联系（13800000001）。"
    ) in chat.said
    assert get(db, Proposal, pid).status == "closed"
    with db.read_session() as session:
        missing = session.exec(select(Rating).where(col(Rating.not_given).is_(True))).all()
    assert [r.person_id for r in missing] == [world.cosigner]


async def test_a_second_rehandle_is_refused_by_the_workflow(db, wf, world, chat_as):
    s = story(db, wf, world)
    pid, lead, _reply = s.rated()
    s.run(world.staff, replies.order_rehandle, pid)
    second = s.run(
        world.handler_edu, replies.submit_reply, lead, **dict(SAMPLE_REPLY, reply_class="A")
    )
    s.run(world.staff, replies.approve_reply, second.id)
    s.run(world.member, replies.rate, pid, work="unsatisfied")
    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    await chat.tap("2026年度第1号")
    assert "评价情况（第2稿答复" in chat.said and "已重新办理 1 次" in chat.said
    await chat.tap("重新办理")
    await chat.tap("使用默认")
    before = shot(db)
    await chat.tap("不写要求")
    assert "已经重新办理过 1 次，不能再次重新办理" in chat.said
    assert_same(db, before)


async def test_an_unsatisfied_rating_of_a_merged_proposal_lets_staff_handle_the_main_again(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    main, lead, _co = s.accepted(co=False)  # 林晓's, nobody co-signs
    other = s.merged_into(main, author=world.outsider)  # 曹磊's, merged into it
    s.run(world.staff, replies.approve_reply, s.submit_reply(lead))
    s.run(world.outsider, replies.rate, other, work="unsatisfied", feedback="停车位仍然不够")
    s.run(world.member, replies.rate, main, work="satisfied")
    assert get(db, Proposal, main).status == "delivered"  # 曹磊's 不满意 waits for staff
    told = notices(db, "rated_unsatisfied")
    assert {n.person_id for n in told} == {
        world.staff,
        world.staff2,
        world.handler_edu,
        world.handler_edu2,
    }
    assert told[0].text == (  # the reply rated is the main proposal's
        "曹磊委员对2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的答复评价为"
        "不满意，意见：停车位仍然不够"
    )

    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    assert "评价为不满意的提案 1 件" in chat.said
    await chat.tap("2026年度第1号")
    assert "林晓：办理工作满意，办理结果满意" in chat.said
    assert (
        f"曹磊（《{OTHER_TITLE}》）：办理工作不满意，办理结果不满意；意见：停车位仍然不够"
    ) in chat.said
    assert chat.buttons == ["重新办理", "办结", "↩️ 返回"]
    await chat.tap("重新办理")
    await chat.tap("使用默认")
    await chat.tap("不写要求")
    assert "已下达重新办理：2026年度第1号提案由区教育局在2026年10月14日前重新答复" in chat.said
    assert get(db, Proposal, main).status == "assigned"
    assert get(db, Proposal, other).status == "merged"  # waits for the new reply with it
    told = {n.person_id: n.text for n in notices(db, "rehandle_ordered_member")}
    assert told[world.outsider] == (
        f"您的提案《{OTHER_TITLE}》与2026年度第1号提案并案办理。该提案的答复评价为不满意，"
        "已安排区教育局重新办理，新的答复期限为2026年10月14日。"
        "此前的答复不再评价，新的答复送达后请再作评价。"
    )
    assert set(told) == {world.member, world.outsider}


async def test_a_merged_proposal_rated_unsatisfied_after_its_main_closed_can_be_closed(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    main, lead, _co = s.accepted(co=False)
    other = s.merged_into(main, author=world.outsider)
    s.run(world.staff, replies.approve_reply, s.submit_reply(lead))
    s.run(world.member, replies.rate, main, work="satisfied")
    assert get(db, Proposal, main).status == "closed"
    s.run(world.outsider, replies.rate, other, work="unsatisfied")

    chat = chat_as(world.staff)
    await open_item(chat, "⚠️ 不满意待处理")
    assert "评价为不满意的提案 1 件" in chat.said
    await chat.tap(OTHER_TITLE[:6])
    assert "曹磊：办理工作不满意，办理结果不满意" in chat.said
    assert "并案:并入2026年度第1号提案" in chat.said  # and that one is closed: no 重新办理
    assert chat.buttons == ["办结", "↩️ 返回"]
    await chat.tap("办结")
    assert f"《{OTHER_TITLE}》已办结。" in chat.said
    assert get(db, Proposal, other).status == "closed"
    assert "没有评价为不满意" in chat.said


# ================================================================ empty lists and roles


@pytest.mark.parametrize(
    ("label", "empty"),
    [
        ("🔎 审查队列", "审查队列是空的"),
        ("🔁 调整申请", "没有待处理的调整申请"),
        ("✅ 答复审核", "没有待审核的答复"),
        ("⚠️ 不满意待处理", "没有评价为不满意"),
    ],
)
async def test_empty_lists(db, wf, world, chat_as, label, empty):
    chat = chat_as(world.staff)
    await open_item(chat, label)
    assert empty in chat.said and chat.buttons == ["🏠 返回菜单"]
    await chat.tap("🏠 返回菜单")
    assert "许静，您好" in chat.said


@pytest.mark.parametrize("who", ["member", "handler_edu", "leader"])
async def test_others_cannot_get_at_staff_buttons(db, wf, world, chat_as, who):
    s = story(db, wf, world)
    s.submitted()
    staff = chat_as(world.staff)
    await open_item(staff, "🔎 审查队列")
    await staff.tap(TITLE)
    file_payload = staff.payload_of("立案")

    other = chat_as(getattr(world, who))
    await other.send("/menu")
    assert "🔎 审查队列" not in other.buttons and "🔁 调整申请" not in other.buttons
    before = shot(db)
    for value in ("review", "adjust", "replies", "rehandle"):
        await other.press(f"{version(other)}|{value}")
        assert "选项无效" in other.said, value
    await other.press(file_payload)  # a staff member's button, copied
    assert "已过期" in other.said or "选项无效" in other.said
    await other.press(f"{version(other)}|file")
    assert "选项无效" in other.said
    assert_same(db, before)
    assert conversation(db, other).flow == "menu"


async def test_a_staff_member_who_loses_the_role_is_refused_by_the_workflow(
    db, wf, world, chat_as
):
    s = story(db, wf, world)
    pid = s.submitted()
    chat = chat_as(world.staff2)
    await open_item(chat, "🔎 审查队列")
    await chat.tap(TITLE)
    with db.session() as session:
        person = session.get(Person, world.staff2)
        person.roles = "member"
        session.add(person)
    before = shot(db)
    await chat.tap("立案")
    assert "您没有「立案」的权限" in chat.said
    assert "这一项您无权使用" in chat.said and "罗成，您好" in chat.said
    assert_same(db, before)
    assert get(db, Proposal, pid).status == "submitted"


# ================================================================ bad input at every step


def _review_setup(s: States) -> None:
    s.filed(title=MAIN_TITLE)  # 2026年度第1号, a merge target
    s.submitted(cosigners=[s.w.cosigner])


PRE_WIZARD = [("tap", TITLE), ("tap", "立案"), ("tap", "现在交办")]

STEPS = {
    # step: (menu item, setup, path to it)
    ("review", "queue"): ("🔎 审查队列", _review_setup, []),
    ("review", "open"): ("🔎 审查队列", _review_setup, [("tap", TITLE)]),
    ("review", "after_file"): ("🔎 审查队列", _review_setup, PRE_WIZARD[:2]),
    ("review", "reject_reason"): ("🔎 审查队列", _review_setup, [("tap", TITLE), ("tap", "不予")]),
    ("review", "reject_confirm"): (
        "🔎 审查队列",
        _review_setup,
        [("tap", TITLE), ("tap", "不予"), ("send", "不属于提案范围")],
    ),
    ("review", "merge_target"): ("🔎 审查队列", _review_setup, [("tap", TITLE), ("tap", "并案")]),
    ("review", "merge_confirm"): (
        "🔎 审查队列",
        _review_setup,
        [("tap", TITLE), ("tap", "并案"), ("tap", "2026年度第1号")],
    ),
    ("review", "convert_note"): ("🔎 审查队列", _review_setup, [("tap", TITLE), ("tap", "转为")]),
    ("review", "convert_confirm"): (
        "🔎 审查队列",
        _review_setup,
        [("tap", TITLE), ("tap", "转为"), ("tap", "不写说明")],
    ),
    ("review", "lead"): ("🔎 审查队列", _review_setup, PRE_WIZARD),
    ("review", "co"): ("🔎 审查队列", _review_setup, [*PRE_WIZARD, ("tap", "区教育局")]),
    ("review", "due"): (
        "🔎 审查队列",
        _review_setup,
        [*PRE_WIZARD, ("tap", "区教育局"), ("tap", "完成")],
    ),
    ("review", "key"): (
        "🔎 审查队列",
        _review_setup,
        [*PRE_WIZARD, ("tap", "区教育局"), ("tap", "完成"), ("tap", "使用默认")],
    ),
    ("review", "supervising"): (
        "🔎 审查队列",
        _review_setup,
        [*PRE_WIZARD, ("tap", "区教育局"), ("tap", "完成"), ("tap", "使用默认"), ("tap", "是")],
    ),
    ("review", "leader"): (
        "🔎 审查队列",
        _review_setup,
        [
            *PRE_WIZARD,
            ("tap", "区教育局"),
            ("tap", "完成"),
            ("tap", "使用默认"),
            ("tap", "是"),
            ("tap", "区政府督查室"),
        ],
    ),
    ("review", "confirm"): (
        "🔎 审查队列",
        _review_setup,
        [
            *PRE_WIZARD,
            ("tap", "区教育局"),
            ("tap", "完成"),
            ("tap", "使用默认"),
            ("tap", "是"),
            ("tap", "区政府督查室"),
            ("tap", "邓启明"),
        ],
    ),
    ("adjustments", "list"): (
        "🔁 调整申请",
        lambda s: s.assignment("adjustment_requested"),
        [],
    ),
    ("adjustments", "open"): (
        "🔁 调整申请",
        lambda s: s.assignment("adjustment_requested"),
        [("tap", "2026年度第1号")],
    ),
    ("adjustments", "new_unit"): (
        "🔁 调整申请",
        lambda s: s.assignment("adjustment_requested"),
        [("tap", "2026年度第1号"), ("tap", "同意并改交")],
    ),
    ("adjustments", "reassign_confirm"): (
        "🔁 调整申请",
        lambda s: s.assignment("adjustment_requested"),
        [("tap", "2026年度第1号"), ("tap", "同意并改交"), ("tap", "区卫生健康委员会")],
    ),
    ("adjustments", "refuse_reason"): (
        "🔁 调整申请",
        lambda s: s.assignment("adjustment_requested"),
        [("tap", "2026年度第1号"), ("tap", "不予调整")],
    ),
    ("reply_review", "list"): ("✅ 答复审核", lambda s: s.proposal("replied"), []),
    ("reply_review", "open"): (
        "✅ 答复审核",
        lambda s: s.proposal("replied"),
        [("tap", "2026年度第1号")],
    ),
    ("reply_review", "return_comment"): (
        "✅ 答复审核",
        lambda s: s.proposal("replied"),
        [("tap", "2026年度第1号"), ("tap", "退回修改")],
    ),
    ("rehandle", "list"): ("⚠️ 不满意待处理", lambda s: s.rated(), []),
    ("rehandle", "open"): ("⚠️ 不满意待处理", lambda s: s.rated(), [("tap", "2026年度第1号")]),
    ("rehandle", "due"): (
        "⚠️ 不满意待处理",
        lambda s: s.rated(),
        [("tap", "2026年度第1号"), ("tap", "重新办理")],
    ),
    ("rehandle", "note"): (
        "⚠️ 不满意待处理",
        lambda s: s.rated(),
        [("tap", "2026年度第1号"), ("tap", "重新办理"), ("tap", "使用默认")],
    ),
}

# Steps that take text (a search, a reason, a date): there a text is an answer, not a mistake.
TEXT_STEPS = {
    ("review", s) for s in ("reject_reason", "merge_target", "convert_note", "lead", "co", "due")
} | {
    ("adjustments", "new_unit"),
    ("adjustments", "refuse_reason"),
    ("reply_review", "return_comment"),
    ("rehandle", "due"),
    ("rehandle", "note"),
}

CLEAR = (
    "内容不能为空",
    "这一步需要",
    "最多",
    "太长",
    "需要用文字写明",
    "没有名称含",
    "没有找到",
    "看不懂这个日期",
    "已过期",
    "选项无效",
    "没有这个命令",
    "无法识别",
    "您没有",
    "不属于您",
    "只有",
)


@pytest.mark.parametrize("where", list(STEPS), ids=lambda w: "-".join(w))
async def test_bad_input_at_every_step(db, wf, world, chat_as, where):
    label, setup, path = STEPS[where]
    s = story(db, wf, world)
    setup(s)
    other_draft = s.draft_by(world.outsider)  # another member's draft
    other_pid, other_lead, _co = s.assigned(title=THIRD_TITLE)  # an unrelated assignment
    chat = chat_as(world.staff)
    await chat.send("/menu")
    stale = chat.payload_of(label)
    await chat.tap(label)
    for kind, what in path:
        await (tap_with(chat, what) if kind == "tap" else chat.send(what))
    flow, step = where
    conv = conversation(db, chat)
    assert (conv.flow, conv.step) == where, chat.dump()
    before = shot(db)

    bad = [
        ("send", ""),
        ("send", "  \n "),
        ("send", "字" * 10_000),
        ("send", "😀😀😀"),
        ("upload", "说明.pdf"),
        ("press", stale),
        ("forge", f"p:{other_draft}"),
        ("forge", f"a:{other_lead}"),
        ("forge", f"u:{world.inspection}"),
        ("forge", "r:999"),
        ("send", "/file 1"),
    ]
    if where not in TEXT_STEPS:
        bad.append(("send", "请帮我立案"))
    # Buttons of other roles' notices, pressed by staff: the workflow refuses them.
    bad += [("press", f"asg:{other_lead}:accept"), ("press", f"rate:{other_pid}:satisfied")]
    for kind, what in bad:
        if kind == "send":
            await chat.send(what)
        elif kind == "upload":
            await chat.upload(what, b"%PDF-1.4 sample")
        elif kind == "press":
            await chat.press(what)
        else:
            await chat.press(f"{version(chat)}|{what}")
        shown = f"{kind} {what[:20]!r}"
        assert any(c in chat.said for c in CLEAR), (shown, chat.said)
        assert "抱歉，处理时出了问题" not in chat.said, shown
        assert_same(db, before)
        if not what.startswith(("asg:", "rate:")):
            conv = conversation(db, chat)
            assert (conv.flow, conv.step) == where, shown
            assert chat.buttons, shown  # the question is asked again, with its buttons


async def test_a_collective_proposal_is_from_its_body_in_the_queue_and_the_notices(
    db, wf, world, chat_as, clock
):
    """A 集体提案 is made in a body's name (林晓 leads it): the queue and the notices to staff
    name the body, as the record does, one as filed too."""
    s = story(db, wf, world)
    pid = s.draft(title=THIRD_TITLE)
    s.run(world.member, proposals.update_draft, pid, category="collective")
    s.run(world.member, proposals.update_draft, pid, collective_body="民盟区委")
    s.run(world.member, proposals.submit, pid)
    [queued, _] = notices(db, "review_queue")
    assert queued.text == f"新提案待审查：《{THIRD_TITLE}》（提案人：民盟区委（集体提案））。"

    filed = s.filed(title=TITLE)
    with db.session() as session:
        proposal = session.get(Proposal, filed)
        proposal.category, proposal.collective_body = "collective", "区工商联"
        session.add(proposal)
    chat = chat_as(world.staff)
    await open_item(chat, "🔎 审查队列")
    assert f"《{THIRD_TITLE}》 民盟区委（集体提案），9月14日提交" in chat.said
    assert f"2026年度第1号《{TITLE}》 区工商联（集体提案）" in chat.said
    assert "林晓" not in chat.said

    clock.advance(days=10)
    with db.session() as session:
        from workflow import sweeps

        sweeps.SWEEPS["review_backlog"](wf.ctx(session, None))
    [backlog, _] = notices(db, "review_backlog")
    assert f"提案《{THIRD_TITLE}》（提案人：民盟区委（集体提案））已提交" in backlog.text
