"""Every conversation of a proposal's life through a real ``proposalbot run`` process that is
killed with SIGKILL after every step and started again.

林晓 binds with a deep link and writes a proposal with an attachment and a co-signer; 何平
binds by typing his code and confirms co-signing on the invitation; 许静 files it and
assigns it to 区教育局 with 区交通运输局 co-handling, a typed due date, as a key proposal
supervised by 区政府督查室; 蒋涛 asks for adjustment of the co-handling; 高远 accepts,
records a contact and writes the reply with a file; 董宁 returns it, 高远 revises it and
董宁 approves it; 林晓 rates it step by step and 何平 with one tap.

After each step — a message sent or a button tapped, and the bot's answer to it — the
process is killed and started again: the next step's input is taken as the continuation of
the same conversation. In a few places the kill comes in the middle of a step instead:

- the update was handed out by getUpdates but the answer never reached the bot (so it was
  not stored): Telegram hands it out again after the restart;
- a file was stored but not handled yet (its download hangs, so the next getUpdates stored
  it, pending, before confirming it): it is handled from the inbox after the restart;
- a message was applied but its answer never went out, and the next message waits behind
  it: the first is not applied again, the second is handled after the restart.

Every update ends ``done``, each applied once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    ContactRecord,
    InboundUpdate,
    Proposal,
    Rating,
    Reply,
    Signer,
)
from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema
from tests.crash_harness import Bot
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_SUGGESTIONS, World, build_world
from tests.fake_telegram import CallbackQuery, ChatMessage, FakeTelegram, RateLimits
from tests.telegram_harness import TIMEOUT, Person
from workflow.core import Workflow
from workflow.invites import bind_account, issue_invite

TITLE = "关于规范校园周边接送车辆停放的建议"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CONTACT = "电话联系林晓委员，听取了对泊位设置的意见。"
BODY_1 = "一、我局已会同交警部门在城区十二所小学周边施划即停即走泊位。"
BODY_2 = "二、高峰时段安排交警和护学岗值守，下一步推广错峰放学。"
BODY_3 = "三、具体实施时间：本学期末前完成全部试点学校的泊位施划。"
RETURNED = "请补充具体实施时间。"
NOT_ADJUSTED = "校园周边接送秩序由教育部门牵头，交通部门负责周边道路的交通组织，请按期办理。"
FEEDBACK = "希望继续扩大试点范围。"
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Roster:
    world: World
    codes: dict[int, str]


@pytest.fixture
def database(request, tmp_path):
    """A database of its own (a file for SQLite, a schema on the PostgreSQL test server):
    the bot runs in other processes."""
    admin = schema = None
    if PG_URL:
        admin = request.getfixturevalue("pg_admin")
        schema, url = new_pg_schema(admin)
    else:
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session:
        world = build_world(session)
        ctx = Workflow().ctx(session, None)
        for person, uid in (
            (world.staff, 510),
            (world.handler_edu, 520),
            (world.handler_tr, 522),
            (world.supervisor, 530),
        ):
            bind_account(ctx, person, "telegram", str(uid))
        staff = Workflow().ctx(session, world.staff)
        codes = {who: issue_invite(staff, who) for who in (world.member, world.cosigner)}
    yield url, db, Roster(world, codes)
    db.dispose()
    if admin is not None:
        drop_pg_schema(admin, schema)


async def until(predicate, timeout: float = TIMEOUT):
    """Wait for a condition outside the fake server (the database), checking it often."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := predicate()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    return result


def is_update_of(update: dict, sent: ChatMessage) -> bool:
    message = update.get("message") or {}
    return (message.get("chat", {}).get("id"), message.get("message_id")) == (
        sent.chat_id,
        sent.message_id,
    )


@dataclass
class Crashes:
    """Kills the bot between steps, and in the middle of some."""

    tg: FakeTelegram
    bot: Bot
    db: Database
    kills: int = 0
    restarted: list[str] = field(default_factory=list)  # updates handled after a restart

    def updates(self) -> list[InboundUpdate]:
        with self.db.read_session() as session:
            return list(session.exec(select(InboundUpdate).order_by(InboundUpdate.id)))

    def update_of(self, sent: ChatMessage) -> InboundUpdate | None:
        """The stored update of a message a person sent."""
        return next((u for u in self.updates() if is_update_of(u.payload, sent)), None)

    def update_of_tap(self, query: CallbackQuery) -> InboundUpdate | None:
        return next(
            (
                u
                for u in self.updates()
                if u.payload.get("callback_query", {}).get("id") == query.id
            ),
            None,
        )

    async def kill_and_start(self) -> None:
        self.bot.kill()
        self.kills += 1
        await self.bot.start()

    async def between_steps(self) -> None:
        # The step is complete: its update is done, in the transaction of its effects.
        assert {u.state for u in self.updates()} == {"done"}
        await self.kill_and_start()

    async def handed_out_not_received(self, person: CrashingPerson, text: str, expect: str):
        """getUpdates hands the message out but its answer never reaches the bot, which is
        killed: nothing was stored, Telegram still has it and hands it out again."""
        self.bot.kill()
        self.kills += 1
        fault = self.tg.inject("getUpdates", "timeout", perform=True)
        await self.bot.start()
        assert fault.hits == 1  # the new process's long poll
        sent = await person.user.send(text)

        def handed_out() -> bool:
            return any(
                is_update_of(u, sent)
                for r in self.tg.calls("getUpdates")
                if r.fault and r.result
                for u in r.result
            )

        await until(handed_out)
        assert self.update_of(sent) is None
        self.tg.clear_faults()
        await self.kill_and_start()
        await person.settle(expect)

    async def stored_not_handled(
        self, person: CrashingPerson, name: str, data: bytes, mime: str, expect: str
    ):
        """The file's download hangs, so its handling outlasts the queue's hold: the next
        getUpdates stores it, pending, before confirming it. Killed there: it is handled
        from the inbox after the restart."""
        self.tg.inject("getFile", "timeout", times=None)
        sent = await person.user.upload(name, data, mime)
        await self.tg.wait_request("getFile", timeout=TIMEOUT, predicate=lambda r: bool(r.fault))
        stored = await until(lambda: self.update_of(sent))
        assert stored.state == "pending"
        await until(lambda: self.tg.updates_pending() == 0)  # confirmed: kept
        self.tg.clear_faults()
        await self.kill_and_start()
        self.restarted.append(stored.external_key)
        await person.settle(expect)

    async def answer_lost_next_waiting(
        self, person: CrashingPerson, first: str, first_answer: str, second: str, expect: str
    ):
        """The first message is applied but its answer hangs, holding the chat; the second
        is stored and waits behind it. Killed there: the first is not applied again, the
        second is handled after the restart."""
        chat = str(person.user.id)
        self.tg.inject("sendMessage", "timeout", times=None, chat_id=chat)
        one = await person.user.send(first)
        await self.tg.wait_request(
            "sendMessage",
            timeout=TIMEOUT,
            predicate=lambda r: (
                str(r.chat_id) == chat and bool(r.fault) and first_answer in str(r.param("text"))
            ),
        )
        applied = self.update_of(one)
        assert applied is not None and applied.state == "done"
        two = await person.user.send(second)
        waiting = await until(lambda: self.update_of(two))
        assert waiting.state == "pending"
        self.tg.clear_faults()
        await self.kill_and_start()
        self.restarted.append(waiting.external_key)
        await person.settle(expect)
        assert first_answer not in person.said  # that answer was lost, and not said again


@dataclass
class CrashingPerson(Person):
    """A person whose every step is followed by a SIGKILL of the bot and a restart."""

    crashes: Crashes | None = None

    async def settle(self, expect: str | None) -> None:
        await super().settle(expect)
        assert self.crashes is not None
        await self.crashes.between_steps()

    def offers(self, label: str) -> bool:
        return self._offers(label)


def newest(person: Person, text: str) -> str:
    """The newest message to this person that says ``text`` (a notice may come after it)."""
    return next(m.text for m in reversed(person.user.messages) if text in (m.text or ""))


def said_once(person: Person, text: str) -> bool:
    return sum(text in (m.text or "") for m in person.user.messages) == 1


async def test_every_flow_resumes_after_a_sigkill_between_any_two_steps(database, tmp_path):
    url, db, roster = database
    w = roster.world
    due = datetime.now(BEIJING).date() + timedelta(days=100)
    due_text = f"{due.year}年{due.month}月{due.day}日"
    async with FakeTelegram(limits=RateLimits.off()) as tg:
        bot = Bot(tg, url, tmp_path / "data", warm=True)
        bot.env["PROPOSALBOT_NOTICE_LEASE_SECONDS"] = "2"  # a notice a kill caught mid-send
        bot.env["PROPOSALBOT_QUIET_HOURS_START"] = "00:00"  # whatever the hour of the run
        bot.env["PROPOSALBOT_QUIET_HOURS_END"] = "00:00"
        crashes = Crashes(tg, bot, db)

        def person(uid: int, name: str, bound: bool) -> CrashingPerson:
            user = tg.user(id=uid, first_name=name, started=bound)
            return CrashingPerson(tg, user, crashes)

        member, cosigner = person(501, "林晓", False), person(502, "何平", False)
        staff, edu = person(510, "许静", True), person(520, "高远", True)
        transport, supervisor = person(522, "蒋涛", True), person(530, "董宁", True)
        try:
            await bot.start()

            # ---- binding: a deep link; a code typed after /start
            await member.send(f"/start {roster.codes[w.member]}", expect="林晓，您好！")
            await cosigner.send("/start", expect="请先绑定身份")
            await cosigner.send(roster.codes[w.cosigner], expect="绑定成功，何平！")

            # ---- the member writes the proposal
            await member.send("/new", expect="标题")
            await member.send(TITLE, expect="草稿已建立")
            await member.tap("委员提案", expect="领域")
            await member.tap("文化教育", expect="存在问题")
            await crashes.handed_out_not_received(member, SAMPLE_ANALYSIS, expect="已记录")
            with db.read_session() as session:
                draft = session.exec(select(Proposal)).one()
            assert (draft.title, draft.field) == (TITLE, "文化教育")  # kept
            assert draft.analysis == SAMPLE_ANALYSIS  # handled once, after the restart
            await member.tap("完成", expect="请写「建议」")
            await member.send(SAMPLE_SUGGESTIONS, expect="已记录")
            await member.tap("完成", expect="跳过")
            await member.send("区教育局", expect="附件")
            await crashes.stored_not_handled(
                member, "现场照片说明.pdf", PDF, "application/pdf", expect="已收到附件"
            )
            await member.tap("完成", expect="是否同意公开")
            await member.tap("是", expect="联名")
            await member.send("何平", expect="找到 1 位委员")
            await member.tap("何平（", expect="已把何平委员加入联名名单")
            await member.tap("完成", expect="请核对提案内容")
            preview = newest(member, "请核对提案内容")
            body = (SAMPLE_ANALYSIS + "\n" + SAMPLE_SUGGESTIONS).splitlines()
            for entered in (TITLE, "领域:文化教育", "区教育局", *body):
                assert entered in preview, entered
            assert "现场照片说明.pdf" in preview and "何平" in preview
            await member.tap("提交", expect="正在等待提案委审查")

            # ---- the co-signer confirms on the invitation
            await cosigner.tap("确认联名", expect="已确认联名")

            # ---- staff file it and assign it
            await staff.send("/menu", expect="请选择要办理的事项")
            await staff.tap("审查队列", expect="待审查 1 件")
            await staff.tap(TITLE, expect="当前状态:待审查")
            await staff.tap("立案", expect="已立案，编号为")
            await staff.tap("现在交办", expect="第一步：请选择主办单位")
            await staff.tap("区教育局", expect="第二步")
            await staff.tap("区交通运输局", expect="已选协办单位：区交通运输局")
            await staff.tap("完成", expect="第三步：答复期限")
            await staff.send(due.isoformat(), expect="第四步")
            await staff.tap("是", expect="请选择督办单位")
            await staff.tap("区政府督查室", expect="请选择牵头领导")
            await staff.tap("邓启明", expect="请核对交办信息")
            summary = newest(staff, "请核对交办信息")
            for line in (
                "主办单位：区教育局",
                "协办单位：区交通运输局",
                f"答复期限：{due_text}",
                "是否重点：是",
                "督办单位：区政府督查室",
                "牵头领导：邓启明（副区长）",
            ):
                assert line in summary, line
            await staff.tap("确认交办", expect="已交办：2026年度第1号")

            # ---- the co-handling unit asks for adjustment on its notice
            await transport.tap("申请调整", expect="理由")
            await transport.send("校园周边接送秩序属于教育部门职责，我局仅配合。", expect="确认")
            await transport.tap("确认申请调整", expect="调整申请已提交")
            # ---- staff refuse it: the unit stays on, and countersigns the letter
            await staff.send("/menu", expect="请选择要办理的事项")
            await staff.tap("调整申请", expect="区交通运输局（协办）")
            await staff.tap("2026年度第1号", expect="理由：校园周边接送")
            await staff.tap("不予调整", expect="将告知区交通运输局")
            await staff.send(NOT_ADJUSTED, expect="已不予调整")

            # ---- the lead unit accepts, records a contact, writes the reply
            await edu.tap("签收", expect="已签收")
            await edu.tap("记录沟通", expect="沟通方式")
            await edu.tap("电话沟通", expect="沟通日期")
            await edu.tap("今天", expect="沟通情况")
            await edu.send(CONTACT, expect="沟通情况已记录")
            await edu.tap("撰写答复", expect="B类：")
            await edu.tap("B类", expect="请发送答复正文")
            await crashes.answer_lost_next_waiting(
                edu, BODY_1, "已有 1 段", BODY_2, expect="已有 2 段"
            )
            await edu.upload("答复函附表.pdf", PDF, "application/pdf", expect="已收到文件")
            await edu.tap("完成", expect="联系人")
            await edu.tap("使用我的姓名", expect="联系电话")
            await edu.send("0839-8620301", expect="落款")
            await edu.tap("使用「区教育局」", expect="日期")
            await edu.tap("今天", expect="答复函预览")
            letter = newest(edu, "答复函预览")
            for entered in (
                "（B）类",
                BODY_1,
                BODY_2,
                "（联系人：高远　联系电话：0839-8620301）",
                "答复函附表.pdf",
            ):
                assert entered in letter, entered
            today = datetime.now(BEIJING).date()
            assert f"区教育局\n{today.year}年{today.month}月{today.day}日" in letter
            await edu.tap("提交审核", expect="答复已提交（B类，第1稿")
            # ---- 会签: the co-handling unit countersigns
            await transport.tap("同意会签", expect="答复已提交审核")

            # ---- the supervisor returns it; the unit revises it; the supervisor approves
            await supervisor.send("/menu", expect="请选择要办理的事项")
            await supervisor.tap("答复审核", expect="待审核的答复 1 件")
            await supervisor.tap("2026年度第1号", expect="请审核这份答复")
            await supervisor.tap("退回修改", expect="退回意见")
            await supervisor.send(RETURNED, expect="已退回2026年度第1号提案的答复")
            await edu.send("/menu", expect="请选择要办理的事项")
            await edu.tap("交办事项", expect="2026年度第1号")
            await edu.tap("2026年度第1号", expect=f"审核意见：{RETURNED}")
            await edu.tap("修改答复并重新提交", expect="当前选的是 B 类")
            await edu.tap("A类", expect="答复正文已有 1 段")
            await edu.send(BODY_3, expect="已有 2 段")
            await edu.tap("完成", expect="联系人")
            await edu.tap("使用我的姓名", expect="联系电话")
            await edu.tap("保留：0839-8620301", expect="落款")
            await edu.tap("使用「区教育局」", expect="日期")
            await edu.tap("今天", expect=f"上一稿的审核意见：{RETURNED}")
            letter = newest(edu, "上一稿的审核意见")
            assert all(part in letter for part in ("（A）类", BODY_1, BODY_2, BODY_3))
            await edu.tap("提交审核", expect="答复已提交（A类，第2稿")
            await transport.tap("同意会签", expect="已会签同意2026年度第1号提案的答复（第2稿）")
            await supervisor.send("/menu", expect="请选择要办理的事项")
            await supervisor.tap("答复审核", expect="待审核的答复 1 件")
            await supervisor.tap("2026年度第1号", expect="请审核这份答复")
            await supervisor.tap("通过（A类）", expect="已审核通过")

            # ---- the member rates step by step; the co-signer with one tap
            await member.send("/menu", expect="请选择要办理的事项")
            await member.tap("我的提案", expect="点选一件查看记录")
            await member.tap("2026年度第1号", expect="编 号:2026年度第1号")
            await member.tap("评价答复", expect="请评价承办单位的办理工作")
            await member.tap("满意", expect="请评价办理结果")
            await member.tap("基本满意", expect="反馈意见")
            await member.send(FEEDBACK, expect="已记录您的评价")
            await cosigner.tap("满意", expect="提案已办结")
        finally:
            bot.stop()

    # Each effect once, whatever the kills interrupted.
    for who, text in (
        (member, "草稿已建立"),
        (member, "已收到附件"),
        (staff, "已立案，编号为"),
        (staff, "已交办：2026年度第1号"),
        (edu, "已签收"),
        (edu, "沟通情况已记录"),
        (cosigner, "已确认联名"),
        (transport, "调整申请已提交"),
        (staff, "已不予调整"),
        (edu, "答复已提交（B类，第1稿"),
        (transport, "已会签同意2026年度第1号提案的答复（第1稿）"),
        (supervisor, "已退回2026年度第1号提案的答复"),
        (edu, "答复已提交（A类，第2稿"),
        (transport, "已会签同意2026年度第1号提案的答复（第2稿）"),
        (supervisor, "已审核通过"),
        (member, "已记录您的评价"),
    ):
        assert said_once(who, text), (who.user.first_name, text)
    with db.read_session() as session:
        proposal = session.exec(select(Proposal)).one()
        signers = session.exec(select(Signer).order_by(Signer.position)).all()
        assignments = session.exec(select(Assignment).order_by(Assignment.id)).all()
        contacts = session.exec(select(ContactRecord)).all()
        replies = session.exec(select(Reply).order_by(Reply.version)).all()
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
        ratings = session.exec(select(Rating).order_by(Rating.id)).all()
        actions = Counter(e.action for e in session.exec(select(AuditEvent)))
    assert (proposal.title, proposal.field, proposal.category) == (TITLE, "文化教育", "member")
    assert (proposal.analysis, proposal.suggestions) == (SAMPLE_ANALYSIS, SAMPLE_SUGGESTIONS)
    assert (proposal.suggested_unit, proposal.disclose) == ("区教育局", True)
    assert (proposal.status, proposal.number, proposal.due_date) == ("closed", 1, due)
    assert (proposal.is_key, proposal.supervising_unit_id) == (True, w.inspection)
    assert [(s.person_id, s.state) for s in signers] == [
        (w.member, "confirmed"),
        (w.cosigner, "confirmed"),
    ]
    assert [(a.unit_id, a.role, a.status) for a in assignments] == [
        (w.education, "lead", "done"),
        (w.transport, "co", "done"),
    ]
    assert assignments[1].adjustment_reason is not None
    assert [(c.method, c.summary) for c in contacts] == [("phone", CONTACT)]
    assert [(r.version, r.reply_class, r.status) for r in replies] == [
        (1, "B", "returned"),
        (2, "A", "approved"),
    ]
    assert replies[0].body == f"{BODY_1}\n{BODY_2}"
    assert replies[1].body == f"{BODY_1}\n{BODY_2}\n{BODY_3}"
    assert {(r.contact_person, r.contact_phone, r.signing_unit) for r in replies} == {
        ("高远", "0839-8620301", "区教育局")
    }
    assert [(f.filename, f.reply_id) for f in files] == [
        ("现场照片说明.pdf", None),
        ("答复函附表.pdf", replies[0].id),
        ("答复函附表.pdf", replies[1].id),  # the returned letter's file went on with it
    ]
    assert [(r.person_id, r.work_rating, r.result_rating, r.feedback) for r in ratings] == [
        (w.member, "satisfied", "basic", FEEDBACK),
        (w.cosigner, "satisfied", "satisfied", None),
    ]
    assert actions == Counter(
        account_bound=6,  # four bound beforehand, 林晓 and 何平 in the chat
        invite_issued=2,
        create=1,
        edit_draft=5,  # field, analysis, suggestions, unit, disclosure (a draft begins private)
        attach=3,  # the proposal's file, the reply's, and again on the letter after it was returned
        invite_cosigner=1,
        submit=1,
        confirm_cosign=1,
        file=1,
        assign=1,
        assignment_create=2,
        assignment_request_adjustment=1,
        assignment_refuse_adjustment=1,
        assignment_accept=1,
        assignment_record_contact=1,
        submit_reply=2,  # by the system, once countersigned
        assignment_submit_for_countersign=2,
        countersign=2,
        assignment_countersigned=2,
        return_reply=1,
        assignment_return_reply=1,
        approve_reply=1,
        assignment_approve_reply=1,
        assignment_complete=1,  # the co-handling unit's, with the reply approved
        rate=2,
        close=1,
    ), actions

    # Every update handled, once: those a kill interrupted on the start after it.
    updates = crashes.updates()
    assert {u.state for u in updates} == {"done"}
    assert len({u.external_key for u in updates}) == len(updates)
    assert len(crashes.restarted) == 2
    assert {u.external_key: u.attempts for u in updates if u.attempts} == dict.fromkeys(
        crashes.restarted, 1
    )
    # A kill after each step (the two messages sent into a hanging answer settle as one),
    # one more in the middle of three steps, and one before the message that is never received.
    assert crashes.kills == (len(updates) - 1) + 3 + 1 and bot.starts == crashes.kills + 1
