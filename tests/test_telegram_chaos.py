"""The whole life of a proposal on Telegram while the Bot API fails at random.

The real bot (python-telegram-bot and the notice dispatcher, as ``proposalbot run`` composes
them) talks HTTP to the fake Bot API server, which strikes calls at random from a fixed seed
(``FakeTelegram.chaos``, one run polling and one by webhook, each with its own seed): about
one call in ten of sendMessage, editMessageText, answerCallbackQuery, getFile,
setMyCommands and getUpdates gets a 429 (retry after 1 s), a 500, a 502, a connection
dropped without an answer, or — all but getUpdates — no answer at all until the bot's read
timeout (1 s here; a long poll that never answers would cost the poll's own 30 s). Three in
ten of the 5xx, timeout and drop faults strike *after* Telegram carried the call out: the
message is in the chat, the bot never hears so. By webhook, two in ten answers the bot
gives to a delivered update are lost, so Telegram sends the update again. Whatever the
seed, the attachment is fetched through a dropped connection, and the 立案 notice reaches
林晓 with its answer lost (a timeout after Telegram took it).

The conversation is the one of ``test_telegram_life`` (without the reassignment): 林晓
binds with a deep link, 何平 by sharing his phone number, 许静 and 蒋涛 with typed codes; 林晓
writes the proposal with an attachment and 何平 as co-signer, and 何平 confirms with one tap
on the invitation. Then 何平 blocks the bot (Telegram tells the bot only when it next writes
to him). 许静 files the proposal — the 立案 notice to 何平 is refused (403), so he is marked
unreachable and staff are told — and assigns it to 区交通运输局. 蒋涛 accepts with one tap,
records a contact and writes the reply. 何平 unblocks the bot and writes to it again, which
makes him reachable; 许静 approves the reply, both signers rate it with one tap on the
delivery notice, and the proposal is closed.

What the product guarantees, and what is checked:

- A notice goes out at least once, and more than once only when Telegram took the message
  but the bot never got the answer (inherent: the bot cannot tell a lost answer from a
  lost request): each notice to someone reachable ends ``sent`` after exactly one
  acknowledged sendMessage, and its text is in the chat once plus once per lost answer of
  that very text (so the 立案 notice is in 林晓's chat twice). The notice refused because
  its recipient had blocked the bot ends ``failed`` (unreachable), never reaches his chat
  and is the only one of his that does not arrive; staff get one notice that 何平 cannot be
  reached.
- Every update is stored once and applied once: one ``inbound_update`` per thing a person
  did, each ``done`` (an update Telegram sent again is kept once), every button tap
  answered exactly once, and the audit log is exactly the lifecycle's, each step once, in
  order, by its person — one proposal, one contact record, one attachment, one approved
  reply, two ratings, closed.
- Every refusal the server gave is explained: a fault chaos struck, the 403 while 何平 had
  blocked the bot, Telegram's own answer to the retry of a call whose answer was lost
  ("message is not modified", "query is too old"), or a long poll ended by the stop. The
  bot broke no limit.
- People see the answers they wait for: each step waits for its answer, which may come only
  after retries, and the next starts when nothing is in flight, pending or still to be
  tried again.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlmodel import col, select

from bot.outbox import render_notice
from bot.telegram import render as tr
from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    ChannelAccount,
    ContactRecord,
    InboundUpdate,
    Notice,
    Proposal,
    Rating,
    Reply,
    Signer,
)
from tests.fake_telegram import FakeTelegram
from tests.fake_telegram.records import CHAOS_FAULTS, call_key
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
WAIT = 30.0  # a step's answer may come only after a few retries
RUNS = [(1, "polling"), (2, "webhook")]  # (seed, how the bot gets its updates)
RATE = 0.1  # of the calls of each method struck; about thirty faults a run
STRUCK = {
    "sendMessage": CHAOS_FAULTS,
    "editMessageText": CHAOS_FAULTS,
    "answerCallbackQuery": CHAOS_FAULTS,
    "getFile": CHAOS_FAULTS,
    "setMyCommands": CHAOS_FAULTS,
    "getUpdates": ("429", "500", "502", "drop"),
}
UNREACHABLE = "无法向何平推送消息"
# What Telegram answers when the bot repeats a call that was carried out but whose answer it
# never got: a retry of an edit or of a callback answer is refused, not applied twice.
RETRY_REFUSALS = ("message is not modified", "query is too old")


class Speaker(Person):
    """A roster person whose steps wait out the faults: the answer they expect, then a server
    with nothing in flight, no update pending and every struck call tried again."""

    async def settle(self, expect: str | None) -> None:
        if expect is not None:
            await self.user.wait_for(expect, timeout=WAIT)
        await self.tg.idle(quiet=0.1, timeout=WAIT)

    async def tap(self, label: str, expect: str | None = None) -> None:
        await self.tg.wait_until(lambda: self._offers(label), WAIT)
        await self.user.tap(label)
        await self.settle(expect)


@pytest.mark.parametrize(("seed", "mode"), RUNS)
async def test_a_proposal_lives_through_random_bot_api_faults(seed, mode, db, wf, world, tmp_path):
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        chaos = tg.chaos(
            RATE, seed=seed, methods=STRUCK, lost_answers=0.3, retry_after=1, redeliver=0.2
        )
        tg.inject("getFile", "drop")
        with db.session() as session:
            codes = {
                who: issue_invite(wf.ctx(session, world.staff), who)
                for who in (world.member, world.staff, world.handler_tr)
            }
        member = Speaker(tg, tg.user(id=501, first_name="林晓"))
        cosigner = Speaker(tg, tg.user(id=502, first_name="何平"))
        staff = Speaker(tg, tg.user(id=510, first_name="许静"))
        transport = Speaker(tg, tg.user(id=522, first_name="蒋涛"))

        async with running(app, webhook=mode == "webhook", read_timeout=1.0):
            # ---- binding
            await member.send(f"/start {codes[world.member]}", expect="林晓，您好！")
            await cosigner.send("/start", expect="请先绑定身份")
            await cosigner.share_contact("+86 138 0000 0002", expect="绑定成功，何平！")
            await staff.send(f"/start {codes[world.staff]}", expect="许静，您好！")
            await transport.send(f"/start {codes[world.handler_tr]}", expect="蒋涛，您好！")

            # ---- the member writes the proposal; the co-signer confirms from the notice
            await write_up_to_attachments(member, TITLE, field="教育")
            await member.upload("现场照片说明.pdf", PDF, "application/pdf", expect="已收到附件")
            await disclose_and_invite_up_to_preview(member, "何平")
            await member.tap("提交", expect="正在等待提案委审查")
            await cosigner.tap("确认联名", expect="已确认联名")

            # ---- 何平 blocks the bot; Telegram says so only when the bot next writes to him
            tg.block(cosigner.user.id, notify=False)

            # ---- staff file it (the 立案 notice to 何平 is refused) and assign it
            await staff.send("/menu", expect="请选择要办理的事项")
            await staff.tap("审查队列", expect="待审查 1 件")
            await staff.tap(TITLE, expect="当前状态:待审查")
            # whatever the seed, the 立案 notice reaches 林晓 but its answer is lost
            tg.inject("sendMessage", "timeout", chat_id=member.user.id, perform=True)
            await staff.tap("立案", expect="已立案，编号为2026年度第1号")
            await staff.user.wait_for(UNREACHABLE, timeout=WAIT)
            await staff.tap("现在交办", expect="第一步：请选择主办单位")
            await staff.tap("区交通运输局", expect="第二步")
            await staff.tap("完成", expect="默认为交办后 3 个月")
            await staff.tap("使用默认", expect="是否列为重点提案")
            await staff.tap("否", expect="请核对交办信息")
            await staff.tap("确认交办", expect="已交办：2026年度第1号")

            # ---- 区交通运输局 accepts from the notice, records a contact, writes the reply
            await transport.tap("签收", expect="已签收")
            await transport.tap("记录沟通", expect="沟通方式")
            await transport.tap("电话沟通", expect="沟通日期")
            await transport.tap("今天", expect="请简要写下沟通情况")
            await transport.send(
                "电话联系林晓委员，听取了对泊位设置的意见。", expect="沟通情况已记录"
            )
            await transport.tap("撰写答复", expect="A类：")
            await transport.tap("A类", expect="请发送答复正文")
            await transport.send(REPLY, expect="已有 1 段")
            await transport.tap("完成", expect="联系人")
            await transport.tap("使用我的姓名", expect="联系电话")
            await transport.send("0839-8620301", expect="落款单位")
            await transport.tap("使用「区交通运输局」", expect="答复日期")
            await transport.tap("今天", expect="答复函预览")
            await transport.tap("提交审核", expect="答复已提交审核（A类，第1稿）")

            # ---- 何平 unblocks the bot and writes again: reachable once more
            tg.unblock(cosigner.user.id, notify=False)
            await cosigner.send("/menu", expect="何平，您好！")

            # ---- staff approve; both signers rate with one tap on the delivery notice
            await staff.send("/menu", expect="请选择要办理的事项")
            await staff.tap("答复审核", expect="待审核的答复 1 件")
            await staff.tap("2026年度第1号", expect="请审核这份答复")
            await staff.tap("通过（A类）", expect="已审核通过")
            await member.tap("满意", expect="已记录您的评价")
            await cosigner.tap("基本满意", expect="提案已办结")
            await member.user.wait_for("已办结。感谢您的履职建言", timeout=WAIT)
            on_telegram = (world.member, world.cosigner, world.staff, world.handler_tr)
            await outbox_settled(db, on_telegram)
            await tg.idle(quiet=0.5, timeout=WAIT)
        tg.calm()

    # Chaos struck often, in many ways; the attachment came through a dropped connection.
    assert len(chaos.struck) >= 10, chaos.summary()
    assert len({r.fault for r in chaos.struck}) >= 3, chaos.summary()
    assert len({r.method for r in chaos.struck}) >= 3, chaos.summary()
    assert [r.fault for r in tg.calls("getFile")][:1] == ["drop"]
    if mode == "webhook":  # updates whose answer was lost came again, and were kept once
        assert any(delivery.lost for delivery in tg.webhook_deliveries)
    else:
        assert any(r.method == "getUpdates" for r in chaos.struck), chaos.summary()
    # The 立案 notice whose answer was lost is in 林晓's chat twice (or more, if chaos lost
    # the answer to a retry too): once, plus once for each copy Telegram took unheard.
    tries = [
        r
        for r in tg.calls("sendMessage")
        if r.chat_id == member.user.id and "已立案" in str(r.params.get("text"))
    ]
    assert (tries[0].fault, tries[0].answer_lost) == ("timeout", True)
    filed = [m for m in tg.chat_messages(member.user.id) if "已立案" in (m.text or "")]
    assert len(filed) == 1 + sum(r.answer_lost for r in tries) >= 2
    assert len({m.text for m in filed}) == 1

    chats = {
        world.member: member.user.id,
        world.cosigner: cosigner.user.id,
        world.staff: staff.user.id,
        world.handler_tr: transport.user.id,
    }
    check_refusals_explained(tg, blocked=cosigner.user.id)
    check_notices_delivered_once(
        db, tg, chats, blocked=world.cosigner, staff=world.staff, staff2=world.staff2
    )
    check_updates_applied_once(db, tg)
    check_the_lifecycle_applied_once(db, world)


async def outbox_settled(db, people_on_telegram) -> None:
    """Wait until no notice to these people is waiting or on its way."""

    def busy() -> int:
        with db.read_session() as session:
            return len(
                session.exec(
                    select(Notice.id).where(
                        col(Notice.person_id).in_(people_on_telegram),
                        col(Notice.state).in_(["pending", "sending"]),
                    )
                ).all()
            )

    deadline = asyncio.get_running_loop().time() + WAIT
    while busy():
        assert asyncio.get_running_loop().time() < deadline, "notices still waiting"
        await asyncio.sleep(0.05)


def check_refusals_explained(tg: FakeTelegram, blocked: int) -> None:
    """Every call the server refused was struck by chaos, refused because the person had
    blocked the bot, or was the retry of a call carried out whose answer was lost."""
    lost = {call_key(r) for r in tg.requests if r.answer_lost}
    unexplained = [
        (r.method, r.chat_id, r.status, r.description)
        for r in tg.requests
        if r.status != 200
        and not r.fault
        and not (r.method == "getUpdates" and r.status == 409)  # a long poll the stop ended
        and not (r.status == 403 and r.chat_id == blocked)
        and not (
            r.status == 400
            and call_key(r) in lost
            and any(text in (r.description or "") for text in RETRY_REFUSALS)
        )
    ]
    assert unexplained == []
    assert not any(r.status == 403 and r.chat_id != blocked for r in tg.requests)


def check_notices_delivered_once(
    db, tg: FakeTelegram, chats: dict[int, int], *, blocked: int, staff: int, staff2: int
) -> None:
    sends = [r for r in tg.calls("sendMessage") if r.carried_out or r.status == 403]
    with db.read_session() as session:
        notices = session.exec(select(Notice).order_by(col(Notice.id))).all()
    assert notices
    by_text: dict[tuple[int, str], list[Notice]] = {}
    for notice in notices:
        if notice.person_id not in chats:  # not on Telegram: it waits for them
            assert (notice.state, notice.attempts) == ("pending", 0), notice
            continue
        text = tr.message_text(render_notice(notice, "zh")[0])
        by_text.setdefault((chats[notice.person_id], text), []).append(notice)

    failed = []
    for (chat_id, text), group in by_text.items():
        calls = [r for r in sends if r.chat_id == chat_id and r.params.get("text") == text]
        shown = sum(as_sent(m) == tr_plain(text) for m in tg.chat_messages(chat_id))
        lost = sum(r.answer_lost for r in calls)
        sent = [n for n in group if n.state == "sent"]
        failed += [n for n in group if n.state != "sent"]
        # one acknowledged send per notice sent; a copy more only per answer lost
        assert sum(r.acknowledged for r in calls) == len(sent), (text, calls)
        assert shown == len(sent) + lost, (text, shown, lost)

    # Only the notice that met the block failed: refused once (403), marked unreachable,
    # never shown to him; the ones before and after it reached him.
    assert [(n.person_id, n.kind, n.state) for n in failed] == [(blocked, "filed", "failed")]
    assert "unreachable on telegram" in (failed[0].last_error or "")
    [(chat_id, text)] = [key for key, group in by_text.items() if failed[0] in group]
    refused = [(r.chat_id, r.params.get("text")) for r in sends if r.status == 403]
    assert refused == [(chat_id, text)]
    assert not any(as_sent(m) == tr_plain(text) for m in tg.chat_messages(chat_id))
    assert [(n.kind, n.state) for n in notices if n.person_id == blocked] == [
        ("cosign_request", "sent"),
        ("filed", "failed"),
        ("reply_delivered", "sent"),
        ("closed", "sent"),
    ]
    # Staff were told once (each copy in 许静's chat is accounted for above); 罗成 is not on
    # Telegram, his notice waits for him.
    told = [
        (n.person_id, n.state, UNREACHABLE in n.text) for n in notices if n.kind == "unreachable"
    ]
    assert told == [(staff, "sent", True), (staff2, "pending", True)]


def as_sent(message) -> str | None:
    """A message's text as it was sent (a tapped notice was edited since)."""
    return message.history[0] if message.history else message.text


def tr_plain(html_text: str) -> str:
    """A message as the chat shows it (HTML entities resolved, trimmed like Telegram)."""
    import html

    return html.unescape(html_text).strip()


def check_updates_applied_once(db, tg: FakeTelegram) -> None:
    with db.read_session() as session:
        updates = session.exec(select(InboundUpdate)).all()
    actions = sum(1 for chat in tg.chats.values() for m in chat.messages if not m.from_bot) + len(
        tg.callback_queries
    )
    assert len(updates) == actions
    assert Counter((u.state, u.attempts) for u in updates) == {("done", 0): actions}
    assert len({u.external_key for u in updates}) == actions
    # every tap was answered, and exactly once
    assert len(tg.callback_answers) == len(tg.callback_queries)
    assert all(query.answered for query in tg.callback_queries.values())


def step(event: AuditEvent) -> tuple:
    """An audit event as (action, new status, by whom, what: fields changed or the person)."""
    detail = event.detail or {}
    what = detail.get("fields") or detail.get("person_id")
    return event.action, event.to_status, event.actor_id, what


def lifecycle(w) -> list[tuple]:
    """The audit log of the conversation above: each step once, in order, by its person."""
    member, drafted = w.member, lambda *fields: ("edit_draft", None, w.member, list(fields))
    return [
        *[("invite_issued", None, w.staff, who) for who in (member, w.staff, w.handler_tr)],
        *[
            ("account_bound", None, None, who)
            for who in (member, w.cosigner, w.staff, w.handler_tr)
        ],
        ("create", "draft", member, None),
        # 委员提案 is what a draft starts with: chosen, it changes nothing; a draft begun in
        # the chat is not public until the member says 公开: 是
        drafted("field"),
        drafted("analysis"),
        drafted("suggestions"),
        drafted("suggested_unit"),
        ("attach", None, member, None),
        drafted("disclose"),
        ("invite_cosigner", None, member, w.cosigner),
        ("submit", "submitted", member, None),
        ("confirm_cosign", None, w.cosigner, w.cosigner),
        ("file", "filed", w.staff, None),
        ("channel_unreachable", None, None, w.cosigner),
        ("assign", "assigned", w.staff, None),
        ("assignment_create", "pending", w.staff, None),
        ("assignment_accept", "accepted", w.handler_tr, None),
        ("assignment_record_contact", None, w.handler_tr, None),
        ("assignment_submit_reply", "replied", w.handler_tr, None),
        ("submit_reply", "replied", w.handler_tr, None),
        ("channel_reachable", None, None, w.cosigner),
        ("assignment_approve_reply", "done", w.staff, None),
        ("approve_reply", "delivered", w.staff, None),
        ("rate", None, member, None),
        ("rate", None, w.cosigner, None),
        ("close", "closed", None, None),
    ]


def check_the_lifecycle_applied_once(db, world) -> None:
    with db.read_session() as session:
        proposal = session.exec(select(Proposal)).one()
        assert (proposal.title, proposal.status, proposal.number) == (TITLE, "closed", 1)
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        # each step once, in order, by the person who took it; nothing applied twice
        assert [step(e) for e in events] == lifecycle(world)
        signers = session.exec(select(Signer).order_by(col(Signer.position))).all()
        assert [(s.person_id, s.state) for s in signers] == [
            (world.member, "confirmed"),
            (world.cosigner, "confirmed"),
        ]
        [assignment] = session.exec(select(Assignment)).all()
        assert (assignment.unit_id, assignment.status) == (world.transport, "done")
        assert len(session.exec(select(ContactRecord)).all()) == 1
        [attachment] = session.exec(select(Attachment)).all()
        assert (attachment.filename, attachment.size) == ("现场照片说明.pdf", len(PDF))
        [reply] = session.exec(select(Reply)).all()
        assert (reply.status, reply.reply_class, reply.version) == ("approved", "A", 1)
        ratings = session.exec(select(Rating).order_by(col(Rating.id))).all()
        assert [(r.person_id, r.work_rating, r.result_rating) for r in ratings] == [
            (world.member, "satisfied", "satisfied"),
            (world.cosigner, "basic", "basic"),
        ]
        account = session.exec(
            select(ChannelAccount).where(ChannelAccount.person_id == world.cosigner)
        ).one()
        assert not account.unreachable
