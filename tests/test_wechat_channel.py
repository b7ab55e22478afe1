"""The WeChat channel: the real Python Wechaty on a fake puppet (tests/fake_wechaty.py), the
real engine, workflow and notice dispatcher; people chat with the bot like transcript
lines, answering choices with their numbers and notice actions with their codes."""

from __future__ import annotations

import asyncio
import io

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from wechaty_puppet import MessageType

from bot.settings import Settings
from storage.models import (
    Attachment,
    ChannelAccount,
    Conversation,
    InboundUpdate,
    Notice,
    Proposal,
    Rating,
    Signer,
)
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_SUGGESTIONS, Story
from tests.fake_wechaty import BOT_ID, FakeWeChat, WeChatPerson, forget_emitted_ids, running
from workflow.invites import bind_account, issue_invite

TITLE = "关于规范校园周边接送车辆停放的建议"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
async def wechat(app, world):
    fake = FakeWeChat()
    async with running(app, fake):
        yield fake


def bound(db, wf, wechat: FakeWeChat, person_id: int, contact_id: str, name: str):
    """A roster person whose WeChat account is already bound (they wrote to the bot)."""
    with db.session() as session:
        bind_account(wf.ctx(session, None), person_id, "wechat", contact_id)
    return wechat.person(contact_id, name)


def conversation(db, contact_id: str) -> Conversation | None:
    with db.read_session() as session:
        return session.exec(
            select(Conversation).where(
                Conversation.channel == "wechat", Conversation.external_id == contact_id
            )
        ).first()


def step_of(db, contact_id: str) -> tuple[str | None, str | None, int]:
    conv = conversation(db, contact_id)
    assert conv is not None
    return conv.flow, conv.step, conv.version


# ---------------------------------------------------------------- binding


async def test_binding_with_an_invite_code(wechat, db, wf, world):
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
    member = wechat.person("wxid_linxiao", "林晓")
    await member.send("你好", expect="请先绑定身份")
    # There is no button to share a phone number on WeChat: the bot says to send the code.
    assert "微信中不能分享手机号：请直接发送提案委给您的邀请码。" in member.last
    await member.send("13800000001", expect="直接输入的号码无法证明是您本人的")
    await member.send("ABCDEFGHJK", expect="邀请码不正确")
    await member.send(f" {code.lower()} ", expect="绑定成功，林晓！")
    assert "1. 📝 新建提案" in member.last  # the menu, as numbered lines
    with db.read_session() as session:
        account = session.exec(select(ChannelAccount).where(ChannelAccount.channel == "wechat"))
        assert [(a.person_id, a.external_id) for a in account] == [(world.member, "wxid_linxiao")]


async def test_a_friend_request_is_accepted_and_the_new_contact_is_told_how_to_bind(
    wechat, db, wf, world
):
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
    request = wechat.puppet.request_friendship("wxid_linxiao", "林晓", hello="我是林晓委员")
    member = WeChatPerson(wechat, "wxid_linxiao", "林晓")
    await member.expect("请先绑定身份")
    assert wechat.puppet.accepted == [request]
    assert wechat.puppet.contacts["wxid_linxiao"].friend
    assert "微信中不能分享手机号：请直接发送提案委给您的邀请码。" in member.said
    # The request arrives again (a reconnection): neither accepted nor answered twice.
    from wechaty_puppet.schemas.event import EventFriendshipPayload

    wechat.puppet.events.emit("friendship", EventFriendshipPayload(friendship_id=request))
    await asyncio.sleep(0.2)
    await wechat.idle()
    assert wechat.puppet.accepted == [request] and member.said.count("请先绑定身份") == 1
    await member.send(code, expect="绑定成功，林晓！")
    with db.read_session() as session:
        kept = session.exec(select(InboundUpdate)).all()
        assert [(k.external_key, k.state) for k in kept][0] == (f"friendship:{request}", "done")


async def test_friend_requests_are_left_alone_when_the_settings_say_so(
    app, db, world, monkeypatch
):
    """PROPOSALBOT_WECHAT_ACCEPT_FRIENDS=false: whoever runs the account accepts them; set
    back to true (the default), the bot does."""
    default = app.settings
    refusing = Settings(_env_file=None, data_dir=default.data_dir, wechat_accept_friends=False)
    monkeypatch.setattr(app, "settings", refusing)
    wechat = FakeWeChat()
    async with running(app, wechat):
        wechat.puppet.request_friendship("wxid_linxiao", "林晓")
        await asyncio.sleep(0.3)
        await wechat.idle()
    assert wechat.puppet.accepted == [] and wechat.puppet.said == []
    assert not wechat.puppet.contacts["wxid_linxiao"].friend
    with db.read_session() as session:
        assert session.exec(select(InboundUpdate)).all() == []
    monkeypatch.setattr(app, "settings", default)
    async with running(app, wechat):
        request = wechat.puppet.request_friendship("wxid_heping", "何平")
        await WeChatPerson(wechat, "wxid_heping", "何平").expect("请先绑定身份")
    assert wechat.puppet.accepted == [request]


# ---------------------------------------------------------------- a whole proposal


async def write_up_to_attachments(member: WeChatPerson) -> None:
    await member.send("/new", expect="标题")
    await member.send(TITLE, expect="草稿已建立")
    await member.pick("委员提案", expect="领域")
    await member.pick("文化教育", expect="存在问题")
    await member.send(SAMPLE_ANALYSIS, expect="已记录")
    await member.pick("完成", expect="请写「建议」")
    await member.send(SAMPLE_SUGGESTIONS, expect="已记录")
    await member.pick("完成", expect="跳过")
    await member.send("区教育局", expect="附件")


async def test_a_member_writes_and_submits_a_whole_proposal_by_numbers(wechat, db, wf, world):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    cosigner = bound(db, wf, wechat, world.cosigner, "wxid_heping", "何平")
    await member.send("/menu", expect="请选择要办理的事项")
    await member.send("1", expect="标题")  # 1. 📝 新建提案
    await member.send("/menu", expect="请选择要办理的事项")
    await write_up_to_attachments(member)
    await member.send_file("现场照片说明.pdf", PDF, expect="已收到附件")
    await member.send_file("现场.png", PNG, image=True, expect="已收到附件")
    await member.pick("完成", expect="是否同意公开")
    await member.pick("是", expect="联名")
    await member.send("何平", expect="找到 1 位委员")
    await member.pick("何平（", expect="已把何平委员加入联名名单")
    await member.pick("完成", expect="请核对提案内容")
    await member.pick("提交", expect="正在等待提案委审查")

    # The co-signer's invitation arrives as a notice; its action is a code to type.
    await cosigner.expect("回复编号办理：")
    code = cosigner.code("确认联名")
    assert code.startswith("a")
    await cosigner.send(code, expect="已确认联名")

    with db.read_session() as session:
        proposal = session.exec(select(Proposal)).one()
        assert (proposal.title, proposal.status, proposal.field) == (
            TITLE,
            "submitted",
            "文化教育",
        )
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
        assert [(f.filename, f.size) for f in files] == [
            ("现场照片说明.pdf", len(PDF)),
            ("现场.png", len(PNG)),
        ]
        signers = session.exec(select(Signer).where(Signer.role == "co")).all()
        assert [(s.person_id, s.state) for s in signers] == [(world.cosigner, "confirmed")]
        # Every message was kept once, done; the bot's own messages were not handled.
        kept = session.exec(select(InboundUpdate)).all()
        assert {k.channel for k in kept} == {"wechat"} and {k.state for k in kept} == {"done"}
        assert all(k.payload["from"] != BOT_ID for k in kept)
    assert conversation(db, BOT_ID) is None


async def test_the_ledger_export_arrives_as_an_excel_file(wechat, db, wf, world):
    Story(db, wf, world).delivered()
    staff = bound(db, wf, wechat, world.staff, "wxid_xujing", "许静")
    await staff.send("/menu", expect="请选择要办理的事项")
    await staff.pick("导出台账", expect="导出哪一年度的提案台账")
    await staff.pick("2026年度", expect="2026年度提案台账，共 1 件")
    [file] = staff.files()
    assert file.file_name == "提案台账-2026.xlsx"
    sheet = load_workbook(io.BytesIO(file.file_data or b"")).active
    assert [c.value for c in sheet[2]][:3] == [2026, 1, "关于改善城区小学放学时段交通秩序的建议"]


# ---------------------------------------------------------------- notices and codes


async def test_a_rating_is_given_by_the_code_of_the_delivery_notice_even_after_a_restart(
    app, db, wf, world
):
    wechat = FakeWeChat()
    async with running(app, wechat):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        Story(db, wf, world).delivered()
        await member.expect("回复编号办理：")
        notice = member.said
        assert "a1. 满意" in notice and "a2. 基本满意" in notice and "a3. 不满意" in notice
        with db.read_session() as session:
            assert session.exec(select(Rating)).all() == []

    # The bot restarts: the codes it gave are kept with the member's conversation.
    async with running(app, wechat):
        await member.send("A1", expect="已记录您的评价")
        assert "办理工作：满意" in member.said
        # The same code again: the workflow refuses, and nothing changes.
        again = await member.ask("a1")
        assert "当前状态为「已办结」，无法再满意度评价" in again
        # A code never given, and one of another person: a clear answer, nothing changed.
        await member.send("a99", expect="没有编号为 a99 的操作，或者它已过期，没有做任何更改")
        staff = bound(db, wf, wechat, world.staff, "wxid_xujing", "许静")
        await staff.send("a2", expect="没有编号为 a2 的操作")

    with db.read_session() as session:
        ratings = session.exec(select(Rating)).all()
        assert [(r.person_id, r.work_rating, r.result_rating) for r in ratings] == [
            (world.member, "satisfied", "satisfied")
        ]
        assert session.get(Proposal, 1).status == "closed"  # type: ignore[union-attr]


async def test_a_code_shaped_text_is_a_code_only_when_the_person_holds_that_code(
    wechat, db, wf, world
):
    """At a step that takes text (a proposal's title), ``a7`` is the title: no code a7 was
    given to the person. A code they hold is the code at every step, this one included."""
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    await member.send("/new", expect="标题")
    await member.send("a7", expect="草稿已建立")
    assert "没有编号" not in member.said
    with db.read_session() as session:
        assert [p.title for p in session.exec(select(Proposal))] == ["a7"]
    assert step_of(db, member.contact_id)[:2] == ("submit", "category")
    # Back at a step that takes text, with codes given by a notice.
    await member.send("/new", expect="标题")
    Story(db, wf, world).delivered()
    await member.expect("a1. 满意")
    assert step_of(db, member.contact_id)[:2] == ("submit", "title")
    await member.send("a1", expect="已记录您的评价")  # the code, not a title
    with db.read_session() as session:
        assert [r.work_rating for r in session.exec(select(Rating))] == ["satisfied"]
        assert len(session.exec(select(Proposal).where(Proposal.title == "a1")).all()) == 0
    # Not holding a9: at the menu it is answered as a code not valid, changing nothing.
    await member.send("/menu", expect="请选择要办理的事项")
    await member.send("a9", expect="没有编号为 a9 的操作")


REPLY = (
    "经研究，我局已在城区十二所小学周边施划即停即走泊位，高峰时段安排交警值守。"
    "下一步将会同教育部门推广错峰放学。"
)


async def test_a_unit_accepts_by_code_replies_by_numbers_and_the_member_rates_by_code(
    wechat, db, wf, world
):
    """The second half of a proposal's life on WeChat, as tests/test_telegram_life.py plays
    it on Telegram: every button a number or a code."""
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    staff = bound(db, wf, wechat, world.staff, "wxid_xujing", "许静")
    edu = bound(db, wf, wechat, world.handler_edu, "wxid_gaoyuan", "高远")
    Story(db, wf, world).assigned(co=False)  # 2026年度第1号, assigned to 区教育局

    await edu.expect("回复编号办理：")
    await edu.answer("签收", expect="已签收")
    await edu.pick("记录沟通", expect="沟通方式")
    await edu.pick("电话沟通", expect="沟通日期")
    await edu.pick("今天")
    await edu.send("电话联系林晓委员，听取了对泊位设置的意见。", expect="沟通情况已记录")
    await edu.pick("撰写答复", expect="A类：")
    await edu.pick("A类", expect="请发送答复正文")
    await edu.send(REPLY, expect="已有 1 段")
    await edu.pick("完成")
    await edu.pick("使用我的姓名", expect="联系电话")
    await edu.send("0839-8620301")
    await edu.pick("使用「区教育局」")
    await edu.pick("今天", expect="答复函预览")
    await edu.pick("提交审核", expect="答复已提交审核（A类，第1稿）")

    await staff.send("/menu", expect="请选择要办理的事项")
    await staff.pick("答复审核", expect="2026年度第1号")
    await staff.pick("2026年度第1号", expect="请审核这份答复")
    await staff.pick("通过（A类）", expect="已审核通过")

    await member.expect("a3. 不满意")
    await member.answer("基本满意", expect="已记录您的评价")
    with db.read_session() as session:
        proposal = session.exec(select(Proposal)).one()
        assert proposal.status == "closed"
        ratings = session.exec(select(Rating)).all()
        assert [(r.person_id, r.work_rating) for r in ratings] == [(world.member, "basic")]
        # Every notice to someone bound on WeChat went out.
        on_wechat = {world.member, world.staff, world.handler_edu}
        pending = session.exec(select(Notice).where(Notice.state != "sent")).all()
        assert [n for n in pending if n.person_id in on_wechat] == []


async def test_a_forged_code_for_another_persons_notice_changes_nothing(wechat, db, wf, world):
    """A code names an action of the person it was given to; typed by someone else, it is
    not theirs (and the workflow would refuse the action anyway)."""
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    cosigner = bound(db, wf, wechat, world.cosigner, "wxid_heping", "何平")
    Story(db, wf, world).delivered()
    await member.expect("a1. 满意")
    await cosigner.send("a1", expect="没有编号为 a1 的操作")
    await cosigner.send("ａ３", expect="没有编号为 a3 的操作")  # full-width, as typed on a phone
    with db.read_session() as session:
        assert session.exec(select(Rating)).all() == []


async def test_notices_are_paced_and_every_message_the_bot_sends_waits_its_turn(
    app, db, wf, world
):
    wechat = FakeWeChat()
    async with running(app, wechat, send_interval=0.2):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        Story(db, wf, world).delivered()
        await member.expect("a1. 满意")
        await member.send("/help", expect="可以使用的命令")
        await member.send("/menu", expect="请选择要办理的事项")
    times = [s.at for s in wechat.puppet.said]
    assert len(times) >= 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.19


# ---------------------------------------------------------------- files


async def test_a_file_the_bot_cannot_fetch_is_refused_and_nothing_is_stored(wechat, db, wf, world):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    await write_up_to_attachments(member)
    await member.send_file("扫描件.exe", b"MZ\x90\x00" + b"\x00" * 64, expect="附件")
    assert "已收到附件" not in member.last
    # The puppet service cannot hand the file over.
    missing = wechat.puppet.emit_message(
        member.contact_id, kind=MessageType.MESSAGE_TYPE_ATTACHMENT
    )
    await wechat.settle("没能取回这个文件，没有做任何更改", member)
    with db.read_session() as session:
        assert session.exec(select(Attachment)).all() == []
        failed = session.exec(
            select(InboundUpdate).where(InboundUpdate.external_key == missing)
        ).one()
        assert failed.payload["type"] == "MESSAGE_TYPE_ATTACHMENT"


# ---------------------------------------------------------------- bad input


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(wechat, db, wf, world):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    await member.send("/new", expect="标题")
    before = step_of(db, member.contact_id)

    for kind in (
        MessageType.MESSAGE_TYPE_AUDIO,
        MessageType.MESSAGE_TYPE_EMOTICON,
        MessageType.MESSAGE_TYPE_URL,
        MessageType.MESSAGE_TYPE_CONTACT,
        MessageType.MESSAGE_TYPE_VIDEO,
    ):
        await member.send_kind(kind, expect="这类消息（语音、表情、链接、名片、视频等）暂不能处理")
    assert step_of(db, member.contact_id) == before  # not even a version spent

    await member.send("   ", expect="内容不能为空")
    await member.send("长" * 12_000, expect="消息太长了（12000 字）")
    with db.read_session() as session:
        assert session.exec(select(Proposal)).all() == []
    await member.send("/menu", expect="请选择要办理的事项")
    await member.send("99", expect="请点选菜单中的一项")  # there is no 99th item
    assert step_of(db, member.contact_id)[:2] == ("menu", "home")
    await member.send("a7", expect="没有编号为 a7 的操作")


async def test_group_messages_and_the_bots_own_are_ignored(wechat, db, wf, world):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    wechat.puppet.add_room("room-1@chatroom", "政协委员群", [member.contact_id, BOT_ID])
    wechat.puppet.emit_message(member.contact_id, text="/new", room_id="room-1@chatroom")
    wechat.puppet.emit_message(BOT_ID, text="/menu")  # sent from the bot's own phone
    wechat.puppet.add_contact("gh_news", "某公众号", official=True)
    wechat.puppet.emit_message("gh_news", text="今日要闻")
    await wechat.idle()
    assert wechat.puppet.said == []
    assert conversation(db, member.contact_id) is None
    assert conversation(db, BOT_ID) is None and conversation(db, "gh_news") is None
    with db.read_session() as session:
        assert session.exec(select(InboundUpdate)).all() == []
    # The member's private chat still works.
    await member.send("/menu", expect="请选择要办理的事项")


async def test_a_message_sent_again_after_a_restart_is_handled_once(app, db, wf, world):
    wechat = FakeWeChat()
    async with running(app, wechat):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        await member.send("/new", expect="标题")
        title_id = await member.send(TITLE, expect="草稿已建立")
        voice_id = await member.send_kind(MessageType.MESSAGE_TYPE_AUDIO, expect="暂不能处理")
    said = len(wechat.puppet.said)
    version = step_of(db, member.contact_id)

    # A new process: Wechaty's own memory of the ids it emitted is gone; the puppet service
    # sends the same messages again.
    forget_emitted_ids()
    async with running(app, wechat):
        wechat.puppet.events.emit("message", _event(title_id))
        wechat.puppet.events.emit("message", _event(voice_id))
        await wechat.idle()
    assert len(wechat.puppet.said) == said  # nothing said again
    assert step_of(db, member.contact_id) == version
    with db.read_session() as session:
        assert len(session.exec(select(Proposal)).all()) == 1
        kept = session.exec(select(InboundUpdate)).all()
        assert len(kept) == 3 and len({k.external_key for k in kept}) == 3


def _event(message_id: str):
    from wechaty_puppet.schemas.event import EventMessagePayload

    return EventMessagePayload(message_id=message_id)


# ---------------------------------------------------------------- long texts


async def test_long_texts_are_split_for_wechat_and_a_very_long_one_arrives_as_a_file(
    wechat, db, wf, world
):
    from handlers.messages import Choice, Out

    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    channel = wechat.channel
    paragraph = "第一段。" * 100  # 400 characters
    await channel.send_outs(
        member.contact_id,
        [Out("\n".join([paragraph] * 9), choices=[Choice("返回", "3|back")])],
        "zh",
    )
    texts = wechat.puppet.texts_to(member.contact_id)
    assert len(texts) == 3 and all(len(t) <= 2000 for t in texts)  # 4 paragraphs a message
    assert texts[-1].endswith("1. 返回")
    await channel.send_outs(member.contact_id, [Out("\n".join([paragraph] * 30))], "zh")
    [file] = member.files()
    assert file.file_name == "第一段" * 13 + "第.txt"  # its first line, cut at 40
    assert (file.file_data or b"").decode().count("第一段。") == 3000
    assert "内容较长，已作为文件发送" in wechat.puppet.texts_to(member.contact_id)[-1]


async def test_a_notice_whose_send_failed_is_sent_again_after_its_backoff(
    wechat, db, wf, world, clock
):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    wechat.puppet.fail_sends = 1  # the puppet service fails once
    Story(db, wf, world).delivered()
    await wechat.wait_until(lambda: _failed_once(db) is not None)
    notice = _failed_once(db)
    assert notice is not None and "ConnectionError" in (notice.last_error or "")
    clock.advance(seconds=10)  # past the first backoff (5 s)
    await wechat.wait_until(lambda: _state(db, notice.id) == "sent")
    with db.read_session() as session:
        states = session.exec(select(Notice.state).where(Notice.person_id == world.member))
        assert set(states) == {"sent"}
    await member.expect("a1. 满意")


async def test_a_long_notice_that_failed_part_way_goes_on_from_the_part_that_failed(
    wechat, db, wf, world, clock
):
    """Three messages long (WeChat takes 2,000 characters a message); the second fails: the
    retry sends the second and the third, each part arriving once, the codes with the last."""
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    parts = [f"第{n}部分。" + "政协提案办理情况说明" * 150 for n in "一二三"]
    wechat.puppet.fail_sends, wechat.puppet.fail_after = 1, 1
    with db.session() as session:
        notice = Notice(
            person_id=world.member,
            kind="test",
            text="\n".join(parts),
            actions=[{"label": "查看", "payload": "view:1"}],
            idempotency_key="long",
            not_before=clock(),
        )
        session.add(notice)
        session.flush()
        notice_id = notice.id
    await wechat.wait_until(lambda: _failed_once(db) is not None)
    with db.read_session() as session:
        assert session.get(Notice, notice_id).parts_sent == 1
    clock.advance(seconds=10)  # past the first backoff (5 s)
    await wechat.wait_until(lambda: _state(db, notice_id) == "sent")
    texts = wechat.puppet.texts_to("wxid_linxiao")
    assert [t[:4] for t in texts] == ["第一部分", "第二部分", "第三部分"]
    assert texts[:2] == parts[:2] and texts[2].startswith(parts[2])
    await member.expect("a1. 查看")


async def test_a_send_the_puppet_service_never_answers_fails_and_is_tried_again(
    app, db, wf, world, clock
):
    wechat = FakeWeChat()
    async with running(app, wechat, send_timeout=0.2):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        wechat.puppet.hang_sends = 1
        Story(db, wf, world).delivered()
        await wechat.wait_until(lambda: _failed_once(db) is not None)
        notice = _failed_once(db)
        assert notice is not None and "TimeoutError" in (notice.last_error or "")
        await member.send("/menu", expect="请选择要办理的事项")  # the channel goes on
        clock.advance(seconds=10)
        await member.expect("a1. 满意")


def _failed_once(db) -> Notice | None:
    with db.read_session() as session:
        return session.exec(
            select(Notice).where(Notice.state == "pending", Notice.attempts == 1)
        ).first()


def _state(db, notice_id) -> str:
    with db.read_session() as session:
        notice = session.get(Notice, notice_id)
        return notice.state if notice is not None else ""


async def test_the_bot_connects_again_when_the_puppet_service_fails_or_drops(
    app, db, wf, world, caplog
):
    wechat = FakeWeChat()
    wechat.puppet.fail_starts = 2  # the service cannot be reached at first
    async with running(app, wechat, reconnect_seconds=0.05):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        await member.send("/menu", expect="请选择要办理的事项")
        assert wechat.puppet.starts == 3
        wechat.puppet.drop_connection()  # the connection to the service is lost
        await wechat.wait_until(wechat.puppet.started.is_set)
        await member.send("/cancel", expect="当前没有进行中的操作")
        assert wechat.puppet.starts == 4
    assert caplog.text.count("could not reach the Wechaty puppet service") == 2
    assert "WechatyPuppetGrpcError" in caplog.text and "Traceback" not in caplog.text
    assert "event stream ended; reconnecting" in caplog.text
