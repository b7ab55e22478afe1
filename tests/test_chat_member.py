"""A member's follow-up as transcripts: my proposals, 撤回, 评价 (in the flow and with one tap
on the notice), co-sign invitations, and bad input at every step."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import select

from handlers.flows import build_engine
from storage.files import AttachmentStore
from storage.models import AuditEvent, Conversation, Notice, Proposal, Rating, Signer
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY, Story
from tests.snapshot import snapshot
from workflow import proposals, replies
from workflow.record import render_record

APOLOGY = "出了问题"  # the engine's answer to a bug: no test may meet it


def rows(db) -> dict:
    """Every table but the conversation state, which changes on every event."""
    return {name: r for name, r in snapshot(db).items() if name != "conversation"}


def state(db, chat: Chat) -> tuple[str | None, str | None, int]:
    with db.read_session() as s:
        conv = s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()
        return conv.flow, conv.step, conv.version


def actions_of(db, person_id: int, kind: str) -> dict[str, str]:
    """label -> payload of the buttons the notice of this kind carries."""
    with db.read_session() as s:
        notice = s.exec(
            select(Notice).where(Notice.person_id == person_id, Notice.kind == kind)
        ).one()
        return {a["label"]: a["payload"] for a in notice.actions}


def get(db, model, **where):
    with db.read_session() as s:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return s.exec(stmt).all()


def others_proposal(db, wf, world) -> int:
    """A submitted proposal of 曹磊's, which 林晓 has nothing to do with."""
    story = Story(db, wf, world)
    draft = story.run(
        world.outsider,
        proposals.create_draft,
        title="关于完善农村饮用水安全保障的建议",
        analysis="部分村组供水管网老化，雨季水质不稳定。",
        suggestions="1、分批改造老旧管网。\n2、建立水质定期公开制度。",
    )
    story.run(world.outsider, proposals.submit, draft.id)
    return draft.id


async def open_mine(chat: Chat, label: str | None = None) -> None:
    await chat.send("/menu")
    await chat.tap("📋")
    if label:
        await chat.tap(label)


# ---------------------------------------------------------------- 我的提案


async def test_my_proposals_list_and_record_with_timeline(db, wf, world, chat_as):
    story = Story(db, wf, world)
    delivered, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    story.submitted()
    story.draft(title="关于草稿不应出现在我的提案里的建议")

    chat = chat_as(world.member)
    await open_mine(chat)
    assert "您2026年度的提案（含联名的）" in chat.said
    assert chat.buttons == [
        "未编号 关于改善城区小学放学时段交通秩… · 待审查",
        "2026年度第1号 关于改善城区小学放学时段交通秩… · 已答复",
    ]
    await chat.tap("2026年度第1号")
    assert "编 号:2026年度第1号" in chat.said and "当前状态:已答复" in chat.said
    assert "办理过程:" in chat.said and "审核通过答复 → 已答复  许静" in chat.said
    assert chat.buttons == ["⭐ 评价答复", "返回列表"]
    await chat.tap("返回列表")
    await chat.tap("未编号")
    assert "当前状态:待审查" in chat.said and "提交 → 待审查  林晓" in chat.said
    assert chat.buttons == ["↩️ 撤回提案", "返回列表"]

    cosigner = chat_as(world.cosigner)
    await open_mine(cosigner, "2026年度第1号")
    assert "提案人:林晓、何平" in cosigner.said
    assert cosigner.buttons == ["⭐ 评价答复", "返回列表"]  # rates, may not withdraw

    outsider = chat_as(world.outsider)
    await open_mine(outsider)
    assert "您还没有已提交的提案" in outsider.said and "曹磊，您好" in outsider.said
    assert delivered


@contextmanager
def proposals_read():
    """The titles of the proposals read from the database inside the block."""
    titles: list[str] = []

    def loaded(_session, instance) -> None:
        if isinstance(instance, Proposal):
            titles.append(instance.title)

    event.listen(Session, "loaded_as_persistent", loaded)
    try:
        yield titles
    finally:
        event.remove(Session, "loaded_as_persistent", loaded)


async def test_my_proposals_come_eight_at_a_time(db, wf, world, chat_as):
    story = Story(db, wf, world)
    for i in range(10):
        story.submitted(title=f"关于第{i + 1}个社区服务站建设的建议")
    # Neither a draft nor a withdrawn proposal is listed or counted.
    story.draft(title="关于尚在起草的建议")
    story.run(world.member, proposals.withdraw, story.submitted(title="关于已撤回的建议"))
    chat = chat_as(world.member)
    await open_mine(chat)
    assert len(chat.buttons) == 9 and chat.buttons[-1] == "更多"
    assert "第 1–8 件，共 10 件" in chat.said
    with proposals_read() as read:
        await chat.tap("更多")
    assert "第 9–10 件，共 10 件" in chat.said
    assert sorted(read) == ["关于第1个社区服务站建设的建议", "关于第2个社区服务站建设的建议"]
    assert chat.buttons[-1] == "回到第一页" and len(chat.buttons) == 3
    await chat.tap("未编号 关于第1个")
    assert "关于第1个社区服务站建设的建议" in chat.said
    await chat.tap("返回列表")
    assert "第 9–10 件" in chat.said  # the page is kept
    await chat.tap("回到第一页")
    assert "第 1–8 件" in chat.said


async def test_my_proposals_a_year_at_a_time_newest_first(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    clock.set_local(2024, 5, 13)
    story.run(world.member, proposals.withdraw, story.submitted(title="关于已撤回的旧建议"))
    clock.set_local(2025, 3, 10)
    for i in range(9):
        story.submitted(title=f"关于第{i + 1}个口袋公园建设的建议")
    story.submitted(title="关于规范老旧小区停车管理的建议", cosigners=[world.cosigner])
    # Begun on 30 December, submitted on 5 January: the new year's, as its number is.
    clock.set_local(2025, 12, 30)
    crossing = story.draft(title="关于跨年提交的增设助餐点的建议")
    clock.set_local(2026, 1, 5)
    story.run(world.member, proposals.submit, crossing)
    story.draft(title="关于尚在起草的建议")  # no one's proposal of a year yet

    chat = chat_as(world.member)
    await open_mine(chat)
    assert "您2026年度的提案（含联名的）" in chat.said
    assert chat.buttons == [
        "未编号 关于跨年提交的增设助餐点的建议 · 待审查",
        "2025年度",
        "2024年度",
    ]

    await chat.tap_year(2025)
    assert "您2025年度的提案" in chat.said and "第 1–8 件，共 10 件" in chat.said
    assert chat.buttons[-3:] == ["更多", "2026年度", "2024年度"]
    await chat.tap("更多")
    assert "第 9–10 件，共 10 件" in chat.said
    await chat.tap("未编号 关于第1个")
    assert "关于第1个口袋公园建设的建议" in chat.said
    await chat.tap("返回列表")
    assert "您2025年度的提案" in chat.said and "第 9–10 件" in chat.said  # year and page kept

    await chat.tap_year(2024)  # only a withdrawn one: said so, the other years offered
    assert "您2024年度的提案都已撤回" in chat.said and "可以查看其他年度的" in chat.said
    assert chat.buttons == ["2026年度", "2025年度"]
    await chat.tap_year(2026)
    assert "您2026年度的提案" in chat.said and chat.buttons[0].startswith("未编号 关于跨年提交")

    cosigner = chat_as(world.cosigner)  # a co-signer finds it under its year too
    await open_mine(cosigner)
    assert "您2025年度的提案" in cosigner.said
    assert cosigner.buttons == ["未编号 关于规范老旧小区停车管理的建议 · 待审查"]


async def test_a_stale_year_button_changes_nothing(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    clock.set_local(2025, 3, 10)
    story.submitted(title="关于规范老旧小区停车管理的建议")
    clock.set_local(2026, 3, 9)
    story.submitted(title="关于增设社区老年助餐点的建议")
    chat = chat_as(world.member)
    await open_mine(chat)
    old = chat.payload_of("2025年度", exactly=True)
    await chat.tap("未编号")
    before = rows(db)
    await chat.press(old)  # the list's button, tapped from the record
    assert "已过期" in chat.said and rows(db) == before
    forged = old.replace("y:2025", "y:2019")
    await chat.press(forged)
    assert "已过期" in chat.said or "无效" in chat.said
    assert rows(db) == before and APOLOGY not in chat.said


async def test_withdraw_before_review_with_a_reason(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner])
    chat = chat_as(world.member)
    await open_mine(chat, "未编号")

    await chat.tap("↩️")
    await chat.tap("跳过")
    assert "确定撤回" in chat.said and "撤回理由：未填写" in chat.said
    await chat.tap("不撤回")
    assert "当前状态:待审查" in chat.said  # back at the record, nothing done
    assert get(db, Proposal, id=pid)[0].status == "submitted"

    await chat.tap("↩️")
    assert "撤回的理由" in chat.said
    await chat.send("调研数据需要更新，修改后重新提交")
    assert "撤回理由：调研数据需要更新" in chat.said
    await chat.tap("确认撤回")
    assert "已撤回" in chat.said and "林晓，您好" in chat.said
    assert get(db, Proposal, id=pid)[0].status == "withdrawn"
    event = get(db, AuditEvent, proposal_id=pid, action="withdraw")[0]
    assert event.detail == {"reason": "调研数据需要更新，修改后重新提交"}
    told = {n.person_id for n in get(db, Notice, proposal_id=pid, kind="withdrawn")}
    assert told == {world.staff, world.staff2, world.cosigner}


async def test_a_withdrawal_is_not_told_to_a_member_who_declined_to_cosign(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    story.run(world.cosigner2, proposals.decline_cosign, pid)
    chat = chat_as(world.member)
    await open_mine(chat, "未编号")
    await chat.tap("↩️")
    await chat.tap("跳过")
    await chat.tap("确认撤回")
    told = {n.person_id for n in get(db, Notice, proposal_id=pid, kind="withdrawn")}
    assert told == {world.staff, world.staff2, world.cosigner}  # 何平 was still asked


async def test_withdraw_is_refused_once_filed(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = story.submitted()
    chat = chat_as(world.member)
    await open_mine(chat, "未编号")
    await chat.tap("↩️")
    await chat.tap("跳过")
    story.run(world.staff, proposals.file_proposal, pid)  # staff were faster
    before = rows(db)
    await chat.tap("确认撤回")
    assert "已由许静于" in chat.said and "无法再撤回" in chat.said
    assert "当前状态:已立案" in chat.said and chat.buttons == ["返回列表"]
    assert rows(db) == before

    _flow, _step, version = state(db, chat)
    await chat.press(f"{version}|withdraw")  # not offered for a filed proposal
    assert "选项无效" in chat.said
    assert rows(db) == before


# ---------------------------------------------------------------- 评价


async def test_rate_in_the_flow_work_and_result_then_feedback(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, reply_id = story.delivered()
    chat = chat_as(world.member)
    await open_mine(chat, "2026年度第1号")
    await chat.tap("⭐")
    assert "办理工作" in chat.said and chat.buttons == ["满意", "基本满意", "不满意"]
    await chat.tap("满意")
    assert "办理结果" in chat.said and chat.buttons == ["满意", "基本满意", "不满意"]
    await chat.tap("基本满意")
    assert "反馈意见" in chat.said and chat.buttons == ["跳过"]
    await chat.send("车位试点效果不错，希望推广到全部小学。")
    assert "办理工作：满意" in chat.said and "办理结果：基本满意" in chat.said
    assert "反馈意见：车位试点效果不错" in chat.said and "提案已办结" in chat.said
    (rating,) = get(db, Rating, proposal_id=pid)
    assert (rating.work_rating, rating.result_rating) == ("satisfied", "basic")
    assert rating.feedback == "车位试点效果不错，希望推广到全部小学。"
    assert rating.reply_id == reply_id
    assert get(db, Proposal, id=pid)[0].status == "closed"


async def test_rate_with_one_tap_on_the_notice_then_feedback(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    buttons = actions_of(db, world.member, "reply_delivered")
    assert list(buttons) == ["满意", "基本满意", "不满意"]

    chat = chat_as(world.member)
    await chat.press(buttons["不满意"])
    assert "办理工作：不满意" in chat.said and "办理结果：不满意" in chat.said
    assert "补充反馈意见" in chat.said and chat.buttons == ["跳过"]
    (rating,) = get(db, Rating, proposal_id=pid)
    assert (rating.work_rating, rating.result_rating, rating.feedback) == (
        "unsatisfied",
        "unsatisfied",
        None,
    )
    assert {n.person_id for n in get(db, Notice, kind="rated_unsatisfied")} >= {world.staff}
    await chat.send("接送等候区没有落实，希望重新研究。")
    assert "反馈意见：接送等候区没有落实" in chat.said and "林晓，您好" in chat.said
    (rating,) = get(db, Rating, proposal_id=pid)
    assert rating.work_rating == "unsatisfied"
    assert rating.feedback == "接送等候区没有落实，希望重新研究。"

    cosigner = chat_as(world.cosigner)
    await cosigner.press(actions_of(db, world.cosigner, "reply_delivered")["满意"])
    assert "办理工作：满意" in cosigner.said
    await cosigner.tap("跳过")
    assert "评价已记录" in cosigner.said
    ratings = {r.person_id: r.result_rating for r in get(db, Rating, proposal_id=pid)}
    assert ratings == {world.member: "unsatisfied", world.cosigner: "satisfied"}
    assert get(db, Proposal, id=pid)[0].status == "delivered"  # 不满意 waits for staff


async def test_one_tap_by_the_only_signer_closes_and_asks_nothing_more(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered()
    chat = chat_as(world.member)
    await chat.press(actions_of(db, world.member, "reply_delivered")["满意"])
    assert "办理工作：满意" in chat.said and "提案已办结" in chat.said
    assert "跳过" not in chat.buttons and "林晓，您好" in chat.said
    assert get(db, Proposal, id=pid)[0].status == "closed"


async def test_one_tap_in_the_middle_of_another_flow_comes_back_to_it(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.delivered(cosigners=[world.cosigner])
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("🔍")
    assert "搜索的关键词" in chat.said
    await chat.press(actions_of(db, world.member, "reply_delivered")["基本满意"])
    assert "补充反馈意见" in chat.said
    await chat.tap("跳过")
    assert "继续刚才的操作" in chat.said and "搜索的关键词" in chat.said
    assert state(db, chat)[:2] == ("search", "query")


async def test_a_restart_between_rating_steps_resumes(db, wf, world, chat_as, tmp_path):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    chat = chat_as(world.member)
    await open_mine(chat, "2026年度第1号")
    await chat.tap("⭐")
    await chat.tap("不满意")

    restarted = Chat(build_engine(db, wf, AttachmentStore(tmp_path / "a")), "user-1")
    restarted.last = chat.last  # the buttons still on the person's screen
    await restarted.tap("满意")
    assert "反馈意见" in restarted.said

    again = Chat(build_engine(db, wf, AttachmentStore(tmp_path / "b")), "user-1")
    await again.send("沟通很及时，但问题还没解决。")
    assert "办理工作：不满意" in again.said and "办理结果：满意" in again.said
    (rating,) = get(db, Rating, proposal_id=pid)
    assert (rating.work_rating, rating.result_rating) == ("unsatisfied", "satisfied")
    assert rating.feedback == "沟通很及时，但问题还没解决。"


async def test_rating_refused_when_the_proposal_moved_on(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    chat = chat_as(world.member)
    await open_mine(chat, "2026年度第1号")
    await chat.tap("⭐")
    await chat.tap("满意")
    await chat.tap("满意")
    story.run(world.cosigner, replies.rate, pid, work="unsatisfied")
    story.run(world.staff, replies.order_rehandle, pid)
    before = rows(db)
    await chat.tap("跳过")
    assert "答复正在重新办理，新的答复送达后再评价。没有做任何更改。" in chat.said
    assert "当前状态:办理中" in chat.said and chat.buttons == ["返回列表"]
    assert rows(db) == before


# ---------------------------------------------------------------- 联名邀请


async def test_cosign_confirm_and_decline_from_the_list(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)

    chat = chat_as(world.cosigner)
    await chat.send("/menu")
    await chat.tap("✍️")
    assert chat.buttons == ["《关于改善城区小学放学时段交通秩…》 · 领衔：林晓"]
    await chat.tap("《")
    assert "待确认联名:何平、黄蕾" in chat.said and "林晓委员邀请您联名这件提案" in chat.said
    assert chat.buttons == ["确认联名", "谢绝", "返回列表"]
    await chat.tap("确认联名")
    assert "您已确认联名提案《关于改善城区小学放学时段交通秩序的建议》" in chat.said
    assert "目前没有待您确认的联名邀请" in chat.said and "何平，您好" in chat.said

    other = chat_as(world.cosigner2)
    await open_mine(other, "未编号")  # the invitation also shows among my proposals
    assert other.buttons == ["✍️ 答复联名邀请", "返回列表"]
    await other.tap("✍️")
    assert other.buttons == ["确认联名", "谢绝", "返回列表"]
    await other.tap("谢绝")
    assert "您已谢绝联名提案" in other.said

    states = {s.person_id: s.state for s in get(db, Signer, proposal_id=pid)}
    assert states == {
        world.member: "confirmed",
        world.cosigner: "confirmed",
        world.cosigner2: "declined",
    }
    told = [n.text for n in get(db, Notice, person_id=world.member, kind="cosign_response")]
    assert sorted(told) == sorted(
        [
            "何平委员已确认联名您的提案《关于改善城区小学放学时段交通秩序的建议》。",
            "黄蕾委员已谢绝联名您的提案《关于改善城区小学放学时段交通秩序的建议》。",
        ]
    )


async def test_cosign_with_one_tap_on_the_notice(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    yes = actions_of(db, world.cosigner, "cosign_request")
    assert list(yes) == ["确认联名", "谢绝"]

    chat = chat_as(world.cosigner)
    await chat.press(yes["确认联名"])
    assert "您已确认联名提案" in chat.said and "何平，您好" in chat.said
    before = rows(db)
    await chat.press(yes["谢绝"])  # too late to change one's mind by the old button
    assert "您已确认联名（" in chat.said
    assert rows(db) == before

    other = chat_as(world.cosigner2)
    await other.press(actions_of(db, world.cosigner2, "cosign_request")["谢绝"])
    assert "您已谢绝联名提案" in other.said
    states = {s.person_id: s.state for s in get(db, Signer, proposal_id=pid)}
    assert states[world.cosigner] == "confirmed" and states[world.cosigner2] == "declined"


async def test_invitations_past_the_cutoff_are_gone(db, wf, world, chat_as, clock):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner], confirm=False)
    clock.advance(days=30)
    chat = chat_as(world.cosigner)
    await chat.send("/menu")
    await chat.tap("✍️")
    assert "目前没有待您确认的联名邀请" in chat.said
    before = rows(db)
    await chat.press(f"cosign:{pid}:yes")
    assert "联名确认已于" in chat.said and "截止" in chat.said
    assert rows(db) == before


# ---------------------------------------------------------------- forged and garbage buttons


def _payloads():
    """(who presses, payload template, what the answer says)."""
    return [
        ("outsider", "rate:{delivered}:satisfied", "只有这件提案的提案人和联名委员可以评价答复"),
        ("outsider", "cosign:{submitted}:yes", "您没有被邀请联名这件提案"),
        ("member", "cosign:{delivered}:yes", "您没有被邀请联名这件提案"),
        ("member", "rate:{others}:satisfied", "只有这件提案的提案人和联名委员可以评价答复"),
        ("member", "rate:{submitted}:basic", "不能满意度评价"),
        ("cosigner2", "rate:{submitted}:satisfied", "只有这件提案的提案人和联名委员可以评价答复"),
        ("handler_edu", "rate:{delivered}:satisfied", "需要委员身份"),
        ("staff", "cosign:{submitted}:yes", "需要委员身份"),
        ("member", "rate:424242:satisfied", "找不到编号为 424242 的提案"),
        ("member", "rate:abc:x", "无法识别这个操作"),
        ("member", "rate:1", "无法识别这个操作"),
        ("member", "rate:{delivered}:excellent", "无法识别这个操作"),
        ("member", "rate:{delivered}:satisfied:again", "无法识别这个操作"),
        ("member", "rate:99999999999999999999:satisfied", "无法识别这个操作"),
        ("member", "rate:-1:satisfied", "无法识别这个操作"),
        ("member", "rate::satisfied", "无法识别这个操作"),
        ("cosigner2", "cosign:{submitted}:maybe", "无法识别这个操作"),
        ("cosigner2", "cosign:x:yes", "无法识别这个操作"),
        ("cosigner2", "cosign", "无法识别这个操作"),
        ("member", "vote:{delivered}:yes", "无法识别这个操作"),
    ]


@pytest.mark.parametrize(("who", "template", "answer"), _payloads())
async def test_forged_and_garbage_notice_buttons_change_nothing(
    db, wf, world, chat_as, who, template, answer
):
    story = Story(db, wf, world)
    delivered, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    submitted = story.submitted(cosigners=[world.cosigner2], confirm=False)
    others = others_proposal(db, wf, world)
    chat = chat_as(getattr(world, who))
    before = rows(db)
    await chat.press(template.format(delivered=delivered, submitted=submitted, others=others))
    assert answer in chat.said, chat.said
    assert APOLOGY not in chat.said
    assert state(db, chat)[:2] == ("menu", "home")
    assert rows(db) == before


# ---------------------------------------------------------------- bad input at every step


async def _to_list(chat, ids):
    await open_mine(chat)


async def _to_record(chat, ids):
    await open_mine(chat, "2026年度第1号")


async def _to_reason(chat, ids):
    await open_mine(chat, "未编号")
    await chat.tap("↩️")


async def _to_confirm(chat, ids):
    await _to_reason(chat, ids)
    await chat.tap("跳过")


async def _to_work(chat, ids):
    await _to_record(chat, ids)
    await chat.tap("⭐")


async def _to_result(chat, ids):
    await _to_work(chat, ids)
    await chat.tap("满意")


async def _to_feedback(chat, ids):
    await _to_result(chat, ids)
    await chat.tap("满意")


async def _to_invitations(chat, ids):
    await chat.send("/menu")
    await chat.tap("✍️")


async def _to_invitation(chat, ids):
    await _to_invitations(chat, ids)
    await chat.tap("《")


STEPS = {
    ("mine", "list"): ("member", _to_list, False),
    ("mine", "record"): ("member", _to_record, False),
    ("mine", "withdraw_reason"): ("member", _to_reason, True),
    ("mine", "withdraw_confirm"): ("member", _to_confirm, False),
    ("mine", "rate_work"): ("member", _to_work, False),
    ("mine", "rate_result"): ("member", _to_result, False),
    ("mine", "feedback"): ("member", _to_feedback, True),
    ("cosign", "list"): ("cosigner2", _to_invitations, False),
    ("cosign", "open"): ("cosigner2", _to_invitation, False),
}


@pytest.mark.parametrize("where", list(STEPS), ids=lambda w: "/".join(w))
async def test_bad_input_at_every_step_changes_nothing(db, wf, world, chat_as, where):
    who, reach, takes_text = STEPS[where]
    story = Story(db, wf, world)
    delivered, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    story.submitted(cosigners=[world.cosigner2], confirm=False)
    others = others_proposal(db, wf, world)
    chat = chat_as(getattr(world, who))
    await reach(chat, None)
    assert state(db, chat)[:2] == where, chat.dump()
    stale = chat.last[-1].choices[0].payload
    before = rows(db)

    async def check(expected: str) -> None:
        assert expected in chat.said, (expected, chat.said)
        assert APOLOGY not in chat.said
        assert state(db, chat)[:2] == where
        assert rows(db) == before

    wrong_kind = "内容不能为空" if takes_text else "这一步需要"
    await chat.send("")
    await check(wrong_kind)
    await chat.send("   ")
    await check(wrong_kind)
    await chat.send("长" * 10_000)
    await check("最多" if takes_text else "这一步需要")
    await chat.send("😀🎉👍")
    await check("请用文字" if takes_text else "这一步需要")
    await chat.upload("意见.pdf", b"%PDF-1.4 sample")
    await check("这一步需要")
    if not takes_text:
        await chat.send("我觉得都挺好")
        await check("这一步需要")
    await chat.press(stale)
    await check("按钮已过期")
    version = state(db, chat)[2]
    await chat.press(f"{version}|p:{others}")  # another person's proposal, never offered
    await check("选项无效")
    await chat.press(f"rate:{others}:satisfied")
    await check("只有这件提案的提案人和联名委员可以评价答复")
    await chat.press(f"cosign:{delivered}:yes")
    await check("您没有被邀请联名这件提案")
    await chat.press("rate:abc:x")
    await check("无法识别这个操作")
    await chat.send("/review")  # no such command for a member
    await check("没有这个命令")
    assert chat.buttons, "the step is asked again with its buttons"


def rating_lines(db, wf, world, pid: int) -> list[str]:
    """The timeline's lines about ratings, as staff read the record."""
    with db.read_session() as s:
        page = render_record(wf.ctx(s, world.staff), s.get(Proposal, pid), timeline=True)
    return [line.strip() for line in page.splitlines() if "评价" in line and "2026年" in line]


async def test_the_timeline_tells_a_rating_its_added_feedback_and_a_changed_rating_apart(
    db, wf, world, chat_as
):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    buttons = actions_of(db, world.member, "reply_delivered")
    chat = chat_as(world.member)
    await chat.press(buttons["基本满意"])
    await chat.send("希望明年扩大到全部学校。")
    assert "反馈意见：希望明年扩大到全部学校。" in chat.said
    await chat.press(buttons["基本满意"])  # the notice's button once more: nothing new
    assert "办理工作：基本满意" in chat.said
    lines = rating_lines(db, wf, world, pid)
    assert [line.split("  ", 1)[1] for line in lines] == [
        "满意度评价  林晓",
        "满意度评价：补充反馈意见  林晓",
    ]

    await chat.send("/menu")
    await chat.tap("📋 我的提案")
    await chat.tap("2026年度第1号")
    await chat.tap("⭐ 修改评价")
    await chat.tap("满意")
    await chat.tap("满意")
    await chat.tap("跳过")
    assert "办理结果：满意" in chat.said
    (rating,) = get(db, Rating, proposal_id=pid, person_id=world.member)
    assert (rating.work_rating, rating.feedback) == ("satisfied", "希望明年扩大到全部学校。")
    lines = rating_lines(db, wf, world, pid)
    assert [line.split("  ", 1)[1] for line in lines] == [
        "满意度评价  林晓",
        "满意度评价：补充反馈意见  林晓",
        "修改满意度评价  林晓",
    ]
    rates = get(db, AuditEvent, proposal_id=pid, action="rate")
    assert [e.detail for e in rates] == [
        {"work": "basic", "result": "basic"},
        {"work": "basic", "result": "basic", "feedback_added": True},
        {
            "work": "satisfied",
            "result": "satisfied",
            "previous_work": "basic",
            "previous_result": "basic",
        },
    ]


# ---------------------------------------------------------------- 并案 and 重新办理

MERGED_TITLE = "关于在学校周边增设接送车辆临时停车位的建议"


def delivered_notices(db, person_id: int) -> list[Notice]:
    with db.read_session() as s:
        return list(
            s.exec(
                select(Notice)
                .where(Notice.person_id == person_id, Notice.kind == "reply_delivered")
                .order_by(Notice.id)
            ).all()
        )


async def test_a_merged_proposal_is_handled_again_with_its_main(db, wf, world, chat_as):
    """曹磊's proposal is merged into 林晓's. 林晓 rates the reply 不满意 and staff have the
    main handled again: 曹磊 is told so, his proposal shows it waits for the new reply, and
    the first reply's rating buttons rate nothing meanwhile. The new reply reaches him with
    buttons of its own, which rate it."""
    story = Story(db, wf, world)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    first = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, first.id)
    [old] = delivered_notices(db, world.outsider)
    old_buttons = {a["label"]: a["payload"] for a in old.actions}
    story.run(world.member, replies.rate, main, work="unsatisfied")
    story.run(world.staff, replies.order_rehandle, main, note="请与委员面商后重新答复")

    (merged,) = get(db, Proposal, id=other)
    assert (merged.status, merged.delivered_at) == ("merged", None)
    [told] = get(db, Notice, person_id=world.outsider, kind="rehandle_ordered_member")
    assert told.text == (
        f"您的提案《{MERGED_TITLE}》与2026年度第1号提案并案办理。"
        "该提案的答复评价为不满意，已安排区教育局重新办理，新的答复期限为2026年10月14日。"
        "此前的答复不再评价，新的答复送达后请再作评价。"
    )

    chat = chat_as(world.outsider)
    await chat.send("/menu")
    before = rows(db)
    await chat.press(old_buttons["满意"])  # the first reply's notice, while it is redone
    assert "答复正在重新办理，新的答复送达后再评价。没有做任何更改。" in chat.said
    assert APOLOGY not in chat.said and "曹磊，您好" in chat.said
    assert rows(db) == before

    await open_mine(chat)
    assert chat.buttons[0] == "未编号 关于在学校周边增设接送车辆临时… · 已并案"
    await chat.tap("未编号")
    assert "并案:并入2026年度第1号提案" in chat.said
    assert "重新办理:主案已安排重新办理，新的答复送达后再评价" in chat.said
    assert "答复期限:2026年10月14日" in chat.said
    assert "满意评价:待评价" not in chat.said and "当前状态:已并案" in chat.said
    assert "随主案重新办理 → 已并案  系统" in chat.said
    assert chat.buttons == ["返回列表"]  # no ⭐ 评价答复 while it is redone

    again = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, again.id)
    old_notice, new = delivered_notices(db, world.outsider)
    assert "（并案办理，主案为2026年度第1号）已收到区教育局的答复" in new.text
    new_buttons = {a["label"]: a["payload"] for a in new.actions}
    assert new_buttons["满意"] == f"rate:{other}:satisfied:{again.id}"
    await chat.send("/menu")
    await chat.press(old_buttons["满意"])  # still the first reply's button: refused
    assert "这个评价按钮属于此前的答复" in chat.said
    await chat.press(new_buttons["满意"])
    assert "办理工作：满意" in chat.said
    (rating,) = get(db, Rating, proposal_id=other)
    assert (rating.reply_id, rating.person_id) == (again.id, world.outsider)


async def test_the_main_proposer_cannot_rate_the_reply_being_handled_again(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, _lead, _reply = story.rated(rating="unsatisfied")
    buttons = actions_of(db, world.member, "reply_delivered")
    story.run(world.staff, replies.order_rehandle, pid)
    chat = chat_as(world.member)
    await chat.send("/menu")
    before = rows(db)
    await chat.press(buttons["满意"])
    assert "答复正在重新办理，新的答复送达后再评价。没有做任何更改。" in chat.said
    assert rows(db) == before
    await open_mine(chat, "2026年度第1号")
    assert "重新办理:已安排重新办理，新的答复送达后再评价" in chat.said
    assert "当前状态:办理中" in chat.said and chat.buttons == ["返回列表"]


async def test_the_new_reply_in_review_shows_in_the_record_of_a_proposal_handled_again(
    db, wf, world, chat_as
):
    """Handled again, the unit submits its new reply: the record says it is in review, for
    the main's proposer and for a proposal merged into it, beside the earlier reply."""
    story = Story(db, wf, world)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    first = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, first.id)
    story.run(world.member, replies.rate, main, work="unsatisfied")
    story.run(world.staff, replies.order_rehandle, main)
    story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    for person, button in ((world.member, "2026年度第1号"), (world.outsider, "未编号")):
        chat = chat_as(person)
        await open_mine(chat, button)
        assert "答复:新的答复已提交，待督办审核" in chat.said, person
        assert "重新办理:" in chat.said
    assert get(db, Proposal, id=other)[0].status == "merged"


async def test_a_merged_proposal_closed_before_its_main_is_handled_again_stays_closed(
    db, wf, world, chat_as
):
    """曹磊 rated the reply 满意 and his merged proposal closed; 林晓's 不满意 then has the
    main handled again. 曹磊's proposal is done with: not told, nothing new in its record."""
    story = Story(db, wf, world)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    first = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, first.id)
    story.run(world.outsider, replies.rate, other, work="satisfied")
    story.run(world.member, replies.rate, main, work="unsatisfied")
    story.run(world.staff, replies.order_rehandle, main)

    (merged,) = get(db, Proposal, id=other)
    assert merged.status == "closed"
    assert get(db, Notice, person_id=world.outsider, kind="rehandle_ordered_member") == []
    chat = chat_as(world.outsider)
    await open_mine(chat, "未编号")
    assert "满意评价:满意" in chat.said and "当前状态:已办结" in chat.said
    assert "重新办理:" not in chat.said and "答复期限:" not in chat.said
