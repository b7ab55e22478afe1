"""The whole life of a proposal on Telegram: the real python-telegram-bot Application talks
HTTP to the fake Bot API server, in polling mode and in webhook mode.

林晓 binds with a deep-link code and writes a proposal with an attachment; 何平 binds by
sharing his phone number and co-signs with one tap on the invitation; 许静 files it and
assigns it to 区教育局; 高远 asks for adjustment, 许静 reassigns it to 区交通运输局; 蒋涛 accepts
with one tap, records a contact and writes the reply; 许静 approves it and 林晓 rates it with
one tap on the delivery notice.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.models import Assignment, Attachment, InboundUpdate, Notice, Proposal, Rating
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import (
    Person,
    disclose_and_invite_up_to_preview,
    make_app,
    running,
    write_up_to_attachments,
)
from workflow.invites import issue_invite

TITLE = "关于规范校园周边接送车辆停放的建议"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
REPLY = (
    "经研究，我局已在城区十二所小学周边施划即停即走泊位，高峰时段安排交警值守。"
    "下一步将会同教育部门推广错峰放学。"
)


@pytest.fixture(params=["polling", "webhook"])
async def life(request, db, wf, world, tmp_path):
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app, webhook=request.param == "webhook"):
            yield tg, app


def person(tg, uid: int, name: str) -> Person:
    return Person(tg, tg.user(id=uid, first_name=name))


async def test_a_proposal_from_binding_to_rating(life, db, wf, world):
    tg, app = life
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
        codes = {
            who: issue_invite(wf.ctx(session, world.staff), who)
            for who in (world.staff, world.handler_edu, world.handler_tr)
        }
    member, cosigner = person(tg, 501, "林晓"), person(tg, 502, "何平")
    staff, edu, transport = (
        person(tg, 510, "许静"),
        person(tg, 520, "高远"),
        person(tg, 522, "蒋涛"),
    )

    # ---- binding: a deep link, a shared phone number, typed codes
    await member.send(f"/start {code}", expect="林晓，您好！")
    assert "绑定成功，林晓！" in member.said
    await cosigner.send("/start", expect="请先绑定身份")
    assert cosigner.user.keyboard  # the "share my phone number" button
    await cosigner.share_contact("+86 138 0000 0002", expect="绑定成功，何平！")
    for who, chat in (
        (world.staff, staff),
        (world.handler_edu, edu),
        (world.handler_tr, transport),
    ):
        await chat.send(f"/start {codes[who]}", expect="您好！")
    assert [c["command"] for c in tg.commands_for("chat", chat_id=501)][:3] == [
        "menu",
        "new",
        "drafts",
    ]
    assert "new" not in [c["command"] for c in tg.commands_for("chat", chat_id=510)]

    # ---- the member writes the proposal
    await write_up_to_attachments(member, TITLE, field="教育")
    await member.upload("现场照片说明.pdf", PDF, "application/pdf", expect="已收到附件")
    await disclose_and_invite_up_to_preview(member, "何平")
    await member.tap("提交", expect="正在等待提案委审查")

    # ---- the co-signer confirms with one tap on the invitation notice
    await cosigner.tap("确认联名", expect="已确认联名")

    # ---- staff file it and assign it to 区教育局
    await staff.send("/menu", expect="请选择要办理的事项")
    await staff.tap("审查队列", expect="待审查 1 件")
    await staff.tap(TITLE, expect="当前状态:待审查")
    await staff.tap("立案", expect="已立案，编号为2026年度第1号")
    await staff.tap("现在交办", expect="第一步：请选择主办单位")
    await staff.tap("区教育局", expect="第二步")
    await staff.tap("完成", expect="默认为交办后 3 个月")
    await staff.tap("使用默认", expect="是否列为重点提案")
    await staff.tap("否", expect="请核对交办信息")
    await staff.tap("确认交办", expect="已交办：2026年度第1号")

    # ---- 区教育局 asks for adjustment from the assignment notice; staff reassign
    await edu.tap("申请调整", expect="理由")
    await edu.send("校园周边道路停车泊位的施划和管理属于交通运输部门职责。", expect="确认")
    await edu.tap("确认申请调整", expect="调整申请已提交")
    await staff.send("/menu", expect="请选择要办理的事项")
    await staff.tap("调整申请", expect="待处理的调整申请 1 件")
    await staff.tap("2026年度第1号", expect="区教育局申请调整2026年度第1号")
    await staff.tap("同意并改交")
    await staff.tap("区交通运输局", expect="改由区交通运输局主办")
    await staff.tap("确认改交", expect="已改交")

    # ---- 区交通运输局 accepts with one tap, records a contact, writes the reply
    await transport.tap("签收", expect="已签收")
    await transport.tap("记录沟通", expect="沟通方式")
    await transport.tap("电话沟通", expect="沟通日期")
    await transport.tap("今天")
    await transport.send("电话联系林晓委员，听取了对泊位设置的意见。", expect="沟通情况已记录")
    await transport.tap("撰写答复", expect="A类：")
    await transport.tap("A类", expect="请发送答复正文")
    await transport.send(REPLY, expect="已有 1 段")
    await transport.tap("完成")
    await transport.tap("使用我的姓名", expect="联系电话")
    await transport.send("0839-8620301")
    await transport.tap("使用「区交通运输局」")
    await transport.tap("今天", expect="答复函预览")
    await transport.tap("提交审核", expect="答复已提交审核（A类，第1稿）")

    # ---- staff approve; the member rates with one tap on the delivery notice
    await staff.send("/menu", expect="请选择要办理的事项")
    await staff.tap("答复审核", expect="2026年度第1号")
    await staff.tap("2026年度第1号", expect="请审核这份答复")
    await staff.tap("通过（A类）", expect="已审核通过")
    await member.tap("满意", expect="已记录您的评价")
    await cosigner.tap("基本满意", expect="提案已办结")

    with db.read_session() as session:
        proposal = session.exec(select(Proposal)).one()
        assert (proposal.title, proposal.status, proposal.number) == (TITLE, "closed", 1)
        assignments = session.exec(select(Assignment).order_by(Assignment.id)).all()
        assert [(a.unit_id, a.status) for a in assignments] == [
            (world.education, "reassigned"),
            (world.transport, "done"),
        ]
        attachment = session.exec(select(Attachment)).one()
        assert (attachment.filename, attachment.size) == ("现场照片说明.pdf", len(PDF))
        ratings = session.exec(select(Rating).order_by(Rating.id)).all()
        assert [(r.person_id, r.work_rating, r.result_rating) for r in ratings] == [
            (world.member, "satisfied", "satisfied"),
            (world.cosigner, "basic", "basic"),
        ]
        # Every update was handled exactly once, in its own transaction.
        updates = session.exec(select(InboundUpdate)).all()
        assert {u.state for u in updates} == {"done"}
        assert len(updates) == len({u.external_key for u in updates})
        # Every notice to someone bound on Telegram went out; the others wait for them.
        on_telegram = {world.member, world.cosigner, world.staff, world.handler_edu}
        on_telegram |= {world.handler_tr}
        pending = session.exec(select(Notice).where(Notice.state != "sent")).all()
        assert [n for n in pending if n.person_id in on_telegram] == []
        assert {n.person_id for n in pending} <= {world.staff2, world.handler_edu2}

    # The bot kept within Telegram's limits: the fake refuses whatever breaks one.
    assert [(r.method, r.description) for r in tg.requests if (r.status or 200) >= 400] == []
    assert len(tg.callback_answers) == len(tg.callback_queries) > 30  # every tap answered
