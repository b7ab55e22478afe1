"""会签: the co-handling units countersign the lead unit's reply before the review sees it.

Transcripts of the lead unit (区教育局, 高远), the co-handling unit (区交通运输局, 蒋涛) and
the people who must not countersign: one agreement sends the letter to review; a request
for changes returns it to the lead unit, which revises it and has it countersigned again;
a unit silent past the window is recorded as 逾期未会签，视为同意 by the sweep; stale,
forged and misplaced buttons are refused and change nothing.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from storage.models import AuditEvent, Countersign, Person, Proposal, Reply, Unit
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY
from tests.snapshot import assert_same, shot
from tests.states import States
from workflow import assignments, countersigns, replies, sweeps
from workflow.errors import PermissionDenied
from workflow.record import render_record

APOLOGY = "抱歉，处理时出了问题"
CHANGES = "建议在答复中写明临时停车泊位由我局负责施划，并注明完成时间。"
TIME_ADDED = "三、临时停车泊位由区交通运输局于2026年11月底前施划完成。"


def said_ok(chat: Chat) -> None:
    assert chat.said.strip(), "the bot said nothing"
    assert APOLOGY not in chat.said, chat.dump()


def replies_by_version(db) -> dict[int, Reply]:
    with db.read_session() as session:
        return {r.version: r for r in session.exec(select(Reply))}


def countersigns_of(db, reply_id: int) -> list[Countersign]:
    with db.read_session() as session:
        return list(
            session.exec(select(Countersign).where(Countersign.reply_id == reply_id)).all()
        )


def status_of(db, pid: int) -> str:
    with db.read_session() as session:
        return session.get(Proposal, pid).status


def events(db, *actions: str) -> list[AuditEvent]:
    with db.read_session() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action).in_(actions))
                .order_by(col(AuditEvent.id))
            ).all()
        )


def asked_to_countersign(chat: Chat) -> list[tuple[str, list[dict]]]:
    return [(t, a) for t, a in chat.notices() if a and a[0]["payload"].startswith("cs:")]


async def open_first(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("📥 交办事项")
    await chat.tap("2026年度第1号")


async def revise_to_preview(lead_unit: Chat) -> None:
    """The lead unit's revision, from the class to the preview: B类, the time added to the
    body, the same contact, phone, signing unit, dated today."""
    await lead_unit.tap("B类")
    await lead_unit.send(TIME_ADDED)
    await lead_unit.tap("完成")
    await lead_unit.tap("使用我的姓名")
    await lead_unit.tap("保留：0839-8620101")
    await lead_unit.tap("使用「")
    await lead_unit.tap("今天")


def submitted(s: States, lead: int) -> Reply:
    return s.run(s.w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)


def two_co_units(s: States, *, transport_asks_adjustment: bool = False) -> tuple[int, ...]:
    """A proposal led by 区教育局 (accepted) with 区交通运输局 and 区卫生健康委员会 co-handling;
    区交通运输局 has asked for adjustment (申请调整), undecided, if told so."""
    w = s.w
    pid = s.filed()
    lead, co_tr, co_health = (
        a.id
        for a in s.run(
            w.staff,
            assignments.assign,
            pid,
            lead_unit_id=w.education,
            co_unit_ids=[w.transport, w.health],
        )
    )
    s.run(w.handler_edu, assignments.accept, lead)
    if transport_asks_adjustment:
        s.run(w.handler_tr, assignments.request_adjustment, co_tr, "停车泊位不属于本单位职责")
    return pid, lead, co_tr, co_health


def housing_unit(db) -> tuple[int, int]:
    """A fourth handling unit, 区住房和城乡建设局, with its handler 唐磊."""
    with db.session() as session:
        unit = Unit(name="区住房和城乡建设局")
        session.add(unit)
        session.flush()
        person = Person(name="唐磊", phone="13800000024", roles="handler", unit_id=unit.id)
        session.add(person)
        session.flush()
        assert unit.id is not None and person.id is not None
        return unit.id, person.id


def run_sweep(db, wf, name: str) -> int:
    with db.session() as session:
        return sweeps.SWEEPS[name](wf.ctx(session, None))


async def open_review(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("✅ 答复审核")
    await chat.tap("2026年度第1号")


# ---------------------------------------------------------------- agreement


async def test_the_co_unit_agrees_from_its_inbox_and_the_reply_goes_to_review(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    pid, lead, co = s.accepted()
    reply = submitted(s, lead)
    assert reply.status == "countersigning" and status_of(db, pid) == "assigned"

    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    said = lead_unit.said
    assert "本单位办理状态：答复会签中" in said
    assert "第1稿答复正等待协办单位会签：区交通运输局（期限2026年9月20日）" in said
    assert "撰写答复" not in lead_unit.buttons  # the letter is with the co-handling unit
    assert "会签:区交通运输局待会签（期限2026年9月20日）" in said  # the record says so too

    co_unit = chat_as(world.handler_tr)
    await co_unit.send("/menu")
    await co_unit.tap("📥 交办事项")
    assert "协办 · 协办意见期限 2026年10月14日 · 办理中 · 答复待本单位会签" in co_unit.said
    await co_unit.tap("2026年度第1号")
    said = co_unit.said
    assert "主办单位的答复（B类，第1稿）等待本单位会签，期限2026年9月20日" in said
    assert "我局已会同交警部门在五所小学周边试点即停即走车位" in said  # the letter itself
    assert "✅ 同意会签" in co_unit.buttons and "✏️ 提出修改意见" in co_unit.buttons
    await co_unit.tap("✅ 同意会签")
    said_ok(co_unit)
    assert "已会签同意2026年度第1号提案的答复（第1稿）" in co_unit.said
    assert "各协办单位均已会签，答复已提交审核。" in co_unit.said
    assert "✅ 同意会签" not in co_unit.buttons  # its inbox again, nothing left to sign

    assert status_of(db, pid) == "replied"
    [signed] = countersigns_of(db, reply.id)
    assert (signed.decision, signed.decided_by, signed.assignment_id) == (
        "agreed",
        world.handler_tr,
        co,
    )
    [event] = events(db, "countersign")
    assert (event.actor_id, event.assignment_id, event.detail["version"]) == (
        world.handler_tr,
        co,
        1,
    )
    staff = chat_as(world.staff)
    assert any("区教育局已提交2026年度第1号提案" in t for t, _ in staff.notices())
    [(told, _)] = [n for n in lead_unit.notices() if "会签" in n[0]]
    assert "协办单位均已会签，已提交审核" in told
    with db.read_session() as session:
        page = render_record(
            wf.ctx(session, world.staff), session.get(Proposal, pid), timeline=True
        )
    assert "会签:区交通运输局同意（蒋涛，2026年9月14日 09:30）" in page
    assert "会签同意（区交通运输局协办）  蒋涛" in page


# ---------------------------------------------------------------- a request for changes


async def test_a_request_for_changes_returns_the_letter_and_the_revision_is_countersigned_again(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    pid, lead, co = s.accepted()
    first = submitted(s, lead)
    co_unit = chat_as(world.handler_tr)
    [(text, actions)] = asked_to_countersign(co_unit)
    assert "请贵单位于2026年9月20日前会签" in text
    await co_unit.press(actions[1]["payload"])  # ✏️ 提出修改意见
    said_ok(co_unit)
    assert "请写下本单位对第1稿答复的修改意见（上限 2000 字）" in co_unit.said

    before = shot(db)
    await co_unit.send("   ")
    assert "不能为空" in co_unit.said
    await co_unit.send("字" * 2001)
    assert "修改意见最多 2000 个字，现在有 2001 个字" in co_unit.said
    await co_unit.send("🙂🙂")
    assert "修改意见需要写明文字内容" in co_unit.said
    await co_unit.upload("意见.pdf", b"%PDF-1.4\n%%EOF\n")
    assert "请用文字写下对答复的修改意见" in co_unit.said
    assert_same(db, before)

    await co_unit.send(CHANGES)
    said_ok(co_unit)
    assert "修改意见已送主办单位区教育局，答复已退回修改。" in co_unit.said
    first = replies_by_version(db)[1]
    assert (first.status, first.review_comment) == ("returned", CHANGES)
    [objection] = countersigns_of(db, first.id)
    assert (objection.decision, objection.comment) == ("objected", CHANGES)
    [event] = events(db, "countersign_object")
    assert event.detail["comment"] == CHANGES and event.actor_id == world.handler_tr
    assert status_of(db, pid) == "assigned"

    # the old button, tapped again: the letter went back, nothing changes
    before = shot(db)
    await co_unit.press(actions[0]["payload"])
    assert "第1稿答复本单位已由蒋涛于2026年9月14日 09:30会签（提出修改意见）" in co_unit.said
    assert_same(db, before)

    lead_unit = chat_as(world.handler_edu)
    [(told, _)] = [n for n in lead_unit.notices() if "修改意见" in n[0]]
    assert "区交通运输局对2026年度第1号提案" in told and f"修改意见（蒋涛）：{CHANGES}" in told
    await open_first(lead_unit)
    assert f"第1稿答复未通过会签，区交通运输局的修改意见：{CHANGES}" in lead_unit.said
    await lead_unit.tap("修改答复并重新提交")
    assert f"区交通运输局的修改意见：{CHANGES}" in lead_unit.said
    await revise_to_preview(lead_unit)
    assert f"上一稿区交通运输局的会签修改意见：{CHANGES}" in lead_unit.said
    await lead_unit.tap("提交审核")
    assert "答复已提交（B类，第2稿），正等待协办单位区交通运输局会签" in lead_unit.said

    # countersigned again: the new version's notice
    [(text, actions)] = asked_to_countersign(co_unit)
    assert "第2稿" in text and TIME_ADDED in text
    await co_unit.press(actions[0]["payload"])
    assert "已会签同意2026年度第1号提案的答复（第2稿）" in co_unit.said
    assert replies_by_version(db)[2].status == "submitted"
    assert status_of(db, pid) == "replied"
    with db.read_session() as session:
        page = render_record(
            wf.ctx(session, world.staff), session.get(Proposal, pid), timeline=True
        )
    assert "会签提出修改意见（区交通运输局协办）  蒋涛" in page
    assert "会签退回修改（区教育局主办）  系统" in page
    assert "会签:区交通运输局同意（蒋涛，" in page


# ---------------------------------------------------------------- the window


async def test_the_window_ends_and_the_sweep_sends_the_reply_on_to_review(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    pid, lead, co = s.accepted()
    reply = submitted(s, lead)  # Monday 14 September: countersign by Sunday 20 (a workday)
    co_unit, lead_unit = chat_as(world.handler_tr), chat_as(world.handler_edu)
    asked_to_countersign(co_unit)

    def run(name: str) -> int:
        with db.session() as session:
            return sweeps.SWEEPS[name](wf.ctx(session, None))

    clock.set_local(2026, 9, 17)
    assert run("countersign_reminders") == 0 and run("countersign_window") == 0
    clock.set_local(2026, 9, 18)  # the working day before the window ends
    assert run("countersign_reminders") == 1
    assert run("countersign_reminders") == 0  # once
    [(text, actions)] = asked_to_countersign(co_unit)
    assert "第1稿）请贵单位于2026年9月20日前会签，逾期未会签的，视为同意" in text
    assert [a["payload"] for a in actions] == [f"cs:{reply.id}:yes", f"cs:{reply.id}:no"]
    clock.set_local(2026, 9, 20)
    assert run("countersign_window") == 0  # the last day is the unit's
    assert status_of(db, pid) == "assigned"

    clock.set_local(2026, 9, 21)
    before = shot(db)
    with pytest.raises(PermissionDenied, match="「逾期未会签，视为同意」由系统自动执行"):
        s.run(world.staff, countersigns.close_window, reply.id)  # not a person's to take
    assert_same(db, before)
    run("countersign_window")
    assert status_of(db, pid) == "replied"
    [deemed] = countersigns_of(db, reply.id)
    assert (deemed.decision, deemed.decided_by) == ("deemed", None)
    [event] = events(db, "countersign_deemed")
    assert (event.actor_id, event.assignment_id) == (None, co)
    [(told, _)] = [n for n in lead_unit.notices() if "会签" in n[0]]
    assert "会签期满，区交通运输局逾期未会签，视为同意；答复已提交审核" in told
    assert any("请审核" in t for t, _ in chat_as(world.staff).notices())
    assert run("countersign_window") == 0

    before = shot(db)
    await co_unit.press(f"cs:{reply.id}:yes")  # too late
    assert (
        "第1稿答复的会签期限2026年9月20日已过，本单位已按逾期未会签，视为同意处理，不能再会签"
        in co_unit.said
    )
    assert "已由系统" not in co_unit.said  # nobody countersigned
    assert_same(db, before)
    with db.read_session() as session:
        page = render_record(wf.ctx(session, world.staff), session.get(Proposal, pid))
    assert "会签:区交通运输局逾期未会签，视为同意" in page


# ---------------------------------------------------------------- who may countersign


async def test_only_a_handler_of_a_co_handling_unit_may_countersign(db, wf, world, chat_as):
    s = States(db, wf, world)
    pid, lead, _co = s.accepted()
    reply = submitted(s, lead)
    refusals = {
        world.handler_health: "只有这件提案的协办单位可以会签答复",  # another unit
        world.handler_edu: "答复由本单位撰写，会签由协办单位进行",  # the lead unit
        world.member: "只有这件提案的协办单位可以会签答复",
        world.staff: "只有这件提案的协办单位可以会签答复",
        world.supervisor: "只有这件提案的协办单位可以会签答复",
    }
    chats = {person: chat_as(person) for person in refusals}
    for chat in chats.values():
        await chat.send("/menu")
    before = shot(db)
    for person, refusal in refusals.items():
        chat = chats[person]
        for answer in ("yes", "no"):
            await chat.press(f"cs:{reply.id}:{answer}")
            said_ok(chat)
            assert refusal in chat.said, (person, chat.said)
            assert "修改意见（上限" not in chat.said  # never asked for a comment
    assert_same(db, before)
    co_unit = chat_as(world.handler_tr)
    await co_unit.send("/menu")
    before = shot(db)
    for payload, refusal in {
        "cs:99999:yes": "找不到答复 99999",
        f"cs:{reply.id}:maybe": "无法识别这个操作",
        "cs:abc:yes": "无法识别这个操作",
        f"cs:{reply.id}": "无法识别这个操作",
    }.items():
        await co_unit.press(payload)
        said_ok(co_unit)
        assert refusal in co_unit.said, (payload, co_unit.said)
    assert_same(db, before)
    assert status_of(db, pid) == "assigned"


async def test_a_stale_button_after_approval_is_refused(db, wf, world, chat_as):
    s = States(db, wf, world)
    pid, lead, _co = s.accepted()
    reply = submitted(s, lead)
    co_unit = chat_as(world.handler_tr)
    [(_, actions)] = asked_to_countersign(co_unit)
    await co_unit.press(actions[0]["payload"])
    assert "已会签同意" in co_unit.said
    s.run(world.staff, replies.approve_reply, reply.id)
    assert status_of(db, pid) == "delivered"
    before = shot(db)
    for action in actions:  # the same notice's buttons, after approval
        await co_unit.press(action["payload"])
        said_ok(co_unit)
        assert "第1稿答复本单位已由蒋涛于2026年9月14日 09:30会签（同意），不能再次会签" in (
            co_unit.said
        )
    assert_same(db, before)


async def test_a_button_for_a_letter_returned_by_another_unit_is_refused(db, wf, world, chat_as):
    """Two co-handling units: one asks for changes, the other's button for that version is
    then stale (the letter went back); the new version asks both again."""
    s = States(db, wf, world)
    pid, lead, co_tr, co_health = two_co_units(s)
    first = submitted(s, lead)
    assert len(countersigns_of(db, first.id)) == 2
    s.run(world.handler_tr, countersigns.agree, first.id)
    assert status_of(db, pid) == "assigned"  # still waiting for 区卫生健康委员会
    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    assert "第1稿答复正等待协办单位会签：区卫生健康委员会" in lead_unit.said
    assert "已会签同意：区交通运输局" in lead_unit.said
    s.run(world.handler_health, countersigns.object_to, first.id, CHANGES)
    co_unit, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    await co_unit.send("/menu")
    await health.send("/menu")
    before = shot(db)
    await co_unit.press(f"cs:{first.id}:no")
    assert "会签（同意），不能再次会签" in co_unit.said
    await health.press(f"cs:{first.id}:yes")
    assert "会签（提出修改意见），不能再次会签" in health.said
    assert_same(db, before)
    second = submitted(s, lead)
    assert {c.assignment_id for c in countersigns_of(db, second.id)} == {co_tr, co_health}
    await co_unit.press(f"cs:{first.id}:yes")  # version 1's button: it was returned
    assert "第1稿答复本单位已由蒋涛" in co_unit.said
    s.run(world.handler_health, countersigns.object_to, second.id, "请再核对泊位数量。")
    before = shot(db)
    await co_unit.press(f"cs:{second.id}:yes")  # 区交通运输局 had not signed version 2 yet
    assert "第2稿答复已退回主办单位修改，不再会签；修改后的答复提交后会再请您会签。" in (
        co_unit.said
    )
    assert_same(db, before)
    third = submitted(s, lead)
    s.run(world.handler_tr, countersigns.agree, third.id)
    s.run(world.handler_health, countersigns.agree, third.id)
    assert status_of(db, pid) == "replied"


async def test_a_co_unit_reassigned_meanwhile_hands_the_countersignature_on(
    db, wf, world, clock, chat_as
):
    """区交通运输局 had not yet signed for the proposal when the letter came: it is asked; it
    then asks for adjustment, and once staff reassign it to 区卫生健康委员会, that unit
    countersigns instead."""
    s = States(db, wf, world)
    rec = s.assignment("pending", "co")
    s.run(world.handler_edu, assignments.accept, rec.lead)
    reply = submitted(s, rec.lead)
    [asked] = countersigns_of(db, reply.id)
    assert asked.assignment_id == rec.co
    s.run(world.handler_tr, assignments.request_adjustment, rec.co, "不属于本单位职责")
    clock.advance(days=1)
    health_asg = s.run(world.staff, assignments.reassign, rec.co, world.health)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    await transport.send("/menu")
    before = shot(db)
    await transport.press(f"cs:{reply.id}:yes")
    assert "本单位已不再协办这件提案，不需要会签" in transport.said
    assert_same(db, before)
    [(text, actions)] = asked_to_countersign(health)
    assert "请贵单位于2026年9月21日前会签" in text  # a window of its own
    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    assert "第1稿答复正等待协办单位会签：区卫生健康委员会（期限2026年9月21日）" in lead_unit.said
    assert "会签:区卫生健康委员会待会签（期限2026年9月21日）" in lead_unit.said
    assert "区交通运输局待会签" not in lead_unit.said
    await health.press(actions[0]["payload"])
    assert "各协办单位均已会签，答复已提交审核" in health.said
    assert {(c.assignment_id, c.decision) for c in countersigns_of(db, reply.id)} == {
        (rec.co, None),
        (health_asg.id, "agreed"),
    }
    assert status_of(db, rec.pid) == "replied"


# ---------------------------------------------------------------- the review sees them


async def test_the_reviewer_reads_each_co_unit_s_countersignature_beside_the_letter(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    pid, lead, _co_tr, _co_health = two_co_units(s)
    reply = submitted(s, lead)
    s.run(world.handler_tr, countersigns.agree, reply.id)
    clock.set_local(2026, 9, 21)  # 区卫生健康委员会 let its window pass
    run_sweep(db, wf, "countersign_window")
    assert status_of(db, pid) == "replied"

    for reviewer in (world.staff, world.staff2):
        chat = chat_as(reviewer)
        await open_review(chat)
        said_ok(chat)
        said = chat.said
        assert "我局已会同交警部门在五所小学周边试点即停即走车位" in said  # the letter
        assert "协办单位会签：" in said
        assert "区交通运输局：同意（蒋涛，2026年9月14日 09:30）" in said
        assert "区卫生健康委员会：逾期未会签，视为同意（会签期限2026年9月20日）" in said
        assert said.index("协办单位会签：") < said.index("请审核这份答复")
        assert "通过（B类）" in chat.buttons


# ---------------------------------------------------------------- the others, when one objects


async def test_a_request_for_changes_tells_the_units_still_asked_and_the_revision_asks_all(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    pid, lead, co_tr, co_health = two_co_units(s)
    first = submitted(s, lead)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    assert len(asked_to_countersign(transport)) == 1 and len(asked_to_countersign(health)) == 1

    await health.press(f"cs:{first.id}:no")
    await health.send(CHANGES)
    said_ok(health)
    assert "修改意见已送主办单位区教育局，答复已退回修改。" in health.said

    # 区交通运输局 had not signed yet: it is told the letter went back, in the same update
    [(told, actions)] = transport.notices()
    assert actions == []
    assert (
        "区教育局对2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的答复（第1稿），"
        "因区卫生健康委员会提出修改意见，已退回主办单位修改，贵单位不需要再会签这一稿；"
        "修改后的答复提交后会再请贵单位会签。"
    ) in told
    assert health.notices() == []  # the unit that objected knows already
    before = shot(db)
    await transport.press(f"cs:{first.id}:yes")  # the old request's button
    assert "第1稿答复已退回主办单位修改，不再会签" in transport.said
    assert_same(db, before)

    # the revision: every co-handling unit is asked again, with a new window
    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    await lead_unit.tap("修改答复并重新提交")
    await revise_to_preview(lead_unit)
    await lead_unit.tap("提交审核")
    assert (
        "答复已提交（B类，第2稿），正等待协办单位区交通运输局、区卫生健康委员会会签"
        in lead_unit.said
    )
    second = replies_by_version(db)[2]
    for chat in (transport, health):
        [(text, actions)] = asked_to_countersign(chat)
        assert "第2稿" in text and TIME_ADDED in text
        assert [a["payload"] for a in actions] == [f"cs:{second.id}:yes", f"cs:{second.id}:no"]
    assert {(c.assignment_id, c.decision) for c in countersigns_of(db, second.id)} == {
        (co_tr, None),
        (co_health, None),
    }
    await transport.press(f"cs:{second.id}:yes")
    await health.press(f"cs:{second.id}:yes")
    assert "各协办单位均已会签，答复已提交审核" in health.said
    assert status_of(db, pid) == "replied"


async def test_a_unit_that_agreed_is_not_told_and_is_asked_again_for_the_revision(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, lead, _co_tr, _co_health = two_co_units(s)
    first = submitted(s, lead)
    transport = chat_as(world.handler_tr)
    asked_to_countersign(transport)
    await transport.press(f"cs:{first.id}:yes")
    assert "已会签同意2026年度第1号提案的答复（第1稿）" in transport.said
    s.run(world.handler_health, countersigns.object_to, first.id, CHANGES)
    assert transport.notices() == []  # its countersignature stands for version 1
    second = submitted(s, lead)
    [(text, _)] = asked_to_countersign(transport)
    assert "第2稿" in text
    assert len([r for r in countersigns_of(db, second.id) if r.decision is None]) == 2


# ---------------------------------------------------------------- a unit asking for adjustment


async def test_a_unit_whose_adjustment_is_undecided_is_not_asked_until_staff_refuse_it(
    db, wf, world, clock, chat_as
):
    """区交通运输局 asked for adjustment and staff have not decided when the letter comes:
    only 区卫生健康委员会 is asked. Staff refuse the adjustment while the letter still waits:
    区交通运输局 is a co-handling unit after all and is asked then, with a window of its own."""
    s = States(db, wf, world)
    pid, lead, co_tr, co_health = two_co_units(s, transport_asks_adjustment=True)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    transport.notices()
    lead_unit = chat_as(world.handler_edu)
    await open_first(lead_unit)
    await lead_unit.tap("撰写答复")
    await lead_unit.tap("B类")
    await lead_unit.send(TIME_ADDED)
    await lead_unit.tap("完成")
    await lead_unit.tap("使用我的姓名")
    await lead_unit.send("0839-8620101")
    await lead_unit.tap("使用「")
    await lead_unit.tap("今天")
    said_ok(lead_unit)
    assert "提交后先送协办单位区卫生健康委员会会签" in lead_unit.said
    assert "区交通运输局申请调整尚待决定，暂不请其会签" in lead_unit.said
    await lead_unit.tap("提交审核")
    assert "正等待协办单位区卫生健康委员会会签" in lead_unit.said
    reply = replies_by_version(db)[1]
    assert asked_to_countersign(transport) == []
    assert len(asked_to_countersign(health)) == 1
    assert [c.assignment_id for c in countersigns_of(db, reply.id)] == [co_health]
    await open_first(lead_unit)
    assert "第1稿答复正等待协办单位会签：区卫生健康委员会（期限2026年9月20日）" in lead_unit.said
    assert "区交通运输局申请调整尚待决定，暂不请其会签；不同意调整的，届时再请其会签" in (
        lead_unit.said
    )

    clock.advance(days=1)
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    told = transport.notices()
    assert any("调整申请未获同意" in t for t, _ in told)
    [(text, actions)] = [(t, a) for t, a in told if a and a[0]["payload"].startswith("cs:")]
    assert "请贵单位于2026年9月21日前会签" in text  # its own window, from today
    await open_first(lead_unit)
    assert (
        "第1稿答复正等待协办单位会签：区交通运输局（期限2026年9月21日）、"
        "区卫生健康委员会（期限2026年9月20日）"
    ) in lead_unit.said
    assert "申请调整尚待决定" not in lead_unit.said
    with db.read_session() as session:
        page = render_record(
            wf.ctx(session, world.staff), session.get(Proposal, pid), timeline=True
        )
    assert "补请会签（区交通运输局协办）  系统" in page

    await health.press(f"cs:{reply.id}:yes")
    assert status_of(db, pid) == "assigned"  # still waiting for 区交通运输局
    await transport.press(actions[0]["payload"])
    assert "各协办单位均已会签，答复已提交审核" in transport.said
    assert status_of(db, pid) == "replied"
    staff = chat_as(world.staff)
    await open_review(staff)
    assert "区交通运输局：同意（蒋涛，2026年9月15日 09:30）" in staff.said
    assert "区卫生健康委员会：同意（彭娟，2026年9月15日 09:30）" in staff.said


async def test_a_unit_relieved_by_adjustment_hands_the_countersignature_to_its_successor(
    db, wf, world, clock, chat_as
):
    """Staff grant 区交通运输局's adjustment while the letter waits for 会签: the unit taking
    its place (区住房和城乡建设局) is asked, and the letter waits for it, not for the unit gone."""
    s = States(db, wf, world)
    pid, lead, co_tr, _co_health = two_co_units(s, transport_asks_adjustment=True)
    housing, tang = housing_unit(db)
    reply = submitted(s, lead)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    builder = chat_as(tang)
    transport.notices()
    clock.advance(days=1)
    new = s.run(world.staff, assignments.reassign, co_tr, housing)
    assert not any(a and a[0]["payload"].startswith("cs:") for _, a in transport.notices())
    [(text, actions)] = asked_to_countersign(builder)
    assert "请贵单位于2026年9月21日前会签" in text and "我局已会同交警部门" in text
    await health.press(f"cs:{reply.id}:yes")
    assert status_of(db, pid) == "assigned"
    await builder.press(actions[0]["payload"])
    said_ok(builder)
    assert "各协办单位均已会签，答复已提交审核" in builder.said
    assert {(c.assignment_id, c.decision) for c in countersigns_of(db, reply.id)} == {
        (new.id, "agreed"),
        (_co_health, "agreed"),
    }
    staff = chat_as(world.staff)
    await open_review(staff)
    assert "区住房和城乡建设局：同意（唐磊，2026年9月15日 09:30）" in staff.said
    assert "区交通运输局" not in staff.said.split("协办单位会签：")[1]


async def test_the_letter_does_not_wait_for_a_unit_whose_adjustment_is_undecided(
    db, wf, world, clock, chat_as
):
    """The others countersign before staff decide: the letter goes to review without the
    unit whose adjustment is undecided, and the reviewer reads that it was not asked. Staff
    then refusing the adjustment asks it nothing: the letter is no longer waiting."""
    s = States(db, wf, world)
    pid, lead, co_tr, _co_health = two_co_units(s, transport_asks_adjustment=True)
    reply = submitted(s, lead)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    transport.notices()
    await health.press(f"cs:{reply.id}:yes")
    assert "各协办单位均已会签，答复已提交审核" in health.said
    assert status_of(db, pid) == "replied"
    staff = chat_as(world.staff)
    await open_review(staff)
    assert "区卫生健康委员会：同意（彭娟，2026年9月14日 09:30）" in staff.said
    assert "区交通运输局：申请调整尚待决定，未请会签" in staff.said
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    assert not any(a and a[0]["payload"].startswith("cs:") for _, a in transport.notices())
    assert [c.assignment_id for c in countersigns_of(db, reply.id)] == [_co_health]
    await open_review(staff)
    assert "区交通运输局：未参加会签" in staff.said


async def test_a_letter_whose_only_co_unit_awaits_adjustment_goes_straight_to_review(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    rec = s.assignment("adjustment_requested", "co")
    s.run(world.handler_edu, assignments.accept, rec.lead)
    reply = submitted(s, rec.lead)
    assert reply.status == "submitted" and status_of(db, rec.pid) == "replied"
    assert countersigns_of(db, reply.id) == []
    assert asked_to_countersign(chat_as(world.handler_tr)) == []
    staff = chat_as(world.staff)
    await open_review(staff)
    assert "区交通运输局：申请调整尚待决定，未请会签" in staff.said
    # staff grant the adjustment now: the new unit has nothing to countersign
    s.run(world.staff, assignments.reassign, rec.co, world.health)
    assert asked_to_countersign(chat_as(world.handler_health)) == []


async def test_a_unit_asked_late_has_its_own_window_and_the_letter_still_cannot_wait_forever(
    db, wf, world, clock, chat_as
):
    """区交通运输局 is asked a day late (its adjustment refused); 区卫生健康委员会's window ends
    first and it is deemed to agree, then 区交通运输局's, and the letter goes to review."""
    s = States(db, wf, world)
    pid, lead, co_tr, _co_health = two_co_units(s, transport_asks_adjustment=True)
    reply = submitted(s, lead)
    clock.advance(days=1)
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    transport, lead_unit = chat_as(world.handler_tr), chat_as(world.handler_edu)
    transport.notices()
    clock.set_local(2026, 9, 21)
    run_sweep(db, wf, "countersign_window")
    assert status_of(db, pid) == "assigned"  # 区交通运输局's last day
    assert {c.unit_id: c.decision for c in countersigns_of(db, reply.id)} == {
        world.health: "deemed",
        world.transport: None,
    }
    run_sweep(db, wf, "countersign_reminders")
    [(text, _)] = asked_to_countersign(transport)
    assert "请贵单位于2026年9月21日前会签" in text
    clock.set_local(2026, 9, 22)
    run_sweep(db, wf, "countersign_window")
    assert status_of(db, pid) == "replied"
    [(told, _)] = [n for n in lead_unit.notices() if "审核" in n[0]]
    assert "区交通运输局逾期未会签，视为同意；答复已提交审核" in told
    staff = chat_as(world.staff)
    await open_review(staff)
    assert "区交通运输局：逾期未会签，视为同意（会签期限2026年9月21日）" in staff.said
    assert "区卫生健康委员会：逾期未会签，视为同意（会签期限2026年9月20日）" in staff.said


async def test_a_unit_refused_adjustment_while_the_letter_is_back_is_asked_for_the_revision(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, lead, co_tr, co_health = two_co_units(s, transport_asks_adjustment=True)
    first = submitted(s, lead)
    s.run(world.handler_health, countersigns.object_to, first.id, CHANGES)
    transport = chat_as(world.handler_tr)
    told = transport.notices()  # 交办 and its own: never asked, never told of the return
    assert told and not any(a and a[0]["payload"].startswith("cs:") for _, a in told)
    assert not any("退回主办单位修改" in t for t, _ in told)
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    assert asked_to_countersign(transport) == []  # the letter is with the lead unit
    second = submitted(s, lead)
    [(text, _)] = asked_to_countersign(transport)
    assert "第2稿" in text
    assert {c.assignment_id for c in countersigns_of(db, second.id)} == {co_tr, co_health}


async def test_the_successor_of_a_unit_that_had_agreed_is_asked_too(db, wf, world, clock, chat_as):
    """区交通运输局 agreed before signing for the proposal, then asked for adjustment and was
    relieved: the letter is countersigned by the units on the proposal, so 区住房和城乡建设局
    taking its place is asked; the review reads the units on the proposal."""
    s = States(db, wf, world)
    pid, lead, co_tr, co_health = two_co_units(s)
    housing, tang = housing_unit(db)
    reply = submitted(s, lead)
    s.run(world.handler_tr, countersigns.agree, reply.id)
    s.run(world.handler_tr, assignments.request_adjustment, co_tr, "不属于本单位职责")
    clock.advance(days=1)
    new = s.run(world.staff, assignments.reassign, co_tr, housing)
    builder = chat_as(tang)
    [(text, actions)] = asked_to_countersign(builder)
    assert "请贵单位于2026年9月21日前会签" in text
    s.run(world.handler_health, countersigns.agree, reply.id)
    assert status_of(db, pid) == "assigned"  # waiting for 区住房和城乡建设局
    await builder.press(actions[0]["payload"])
    assert "各协办单位均已会签，答复已提交审核" in builder.said
    staff = chat_as(world.staff)
    await open_review(staff)
    signed = staff.said.split("协办单位会签：")[1]
    assert "区卫生健康委员会：同意（彭娟，2026年9月15日 09:30）" in signed
    assert "区住房和城乡建设局：同意（唐磊，2026年9月15日 09:30）" in signed
    assert "区交通运输局" not in signed
    assert {(c.assignment_id, c.decision) for c in countersigns_of(db, reply.id)} == {
        (co_tr, "agreed"),
        (co_health, "agreed"),
        (new.id, "agreed"),
    }


# ---------------------------------------------------------------- what the lead unit learns


async def test_the_last_agreement_tells_the_lead_unit_every_unit_s_countersignature(
    db, wf, world, clock, chat_as
):
    """区卫生健康委员会's window ended first (逾期未会签，视为同意) while 区交通运输局, asked a
    day late, still had its own; 区交通运输局 then agrees: the lead unit's notice names both
    units and what each did, not only the one that agreed last."""
    s = States(db, wf, world)
    pid, lead, co_tr, _co_health = two_co_units(s, transport_asks_adjustment=True)
    submitted(s, lead)
    clock.advance(days=1)
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    transport, lead_unit = chat_as(world.handler_tr), chat_as(world.handler_edu)
    [(_, actions)] = asked_to_countersign(transport)
    clock.set_local(2026, 9, 21)
    run_sweep(db, wf, "countersign_window")  # 区卫生健康委员会 deemed; the letter waits
    assert status_of(db, pid) == "assigned"
    assert not [n for n in lead_unit.notices() if "审核" in n[0]]
    await open_first(lead_unit)
    assert "第1稿答复正等待协办单位会签：区交通运输局（期限2026年9月21日）" in lead_unit.said
    assert "逾期未会签，视为同意：区卫生健康委员会" in lead_unit.said

    await transport.press(actions[0]["payload"])
    assert "各协办单位均已会签，答复已提交审核" in transport.said
    assert status_of(db, pid) == "replied"
    [(told, _)] = [n for n in lead_unit.notices() if "审核" in n[0]]
    assert "2026年度第1号提案" in told and "（第1稿）会签已完成，已提交审核" in told
    assert "区交通运输局：同意（蒋涛，2026年9月21日 09:30）" in told
    assert "区卫生健康委员会：逾期未会签，视为同意（会签期限2026年9月20日）" in told
    assert "均已会签" not in told  # 区卫生健康委员会 did not sign


async def test_the_window_s_end_tells_the_lead_unit_who_had_agreed_before(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    pid, lead, _co_tr, _co_health = two_co_units(s)
    reply = submitted(s, lead)
    s.run(world.handler_tr, countersigns.agree, reply.id)
    lead_unit = chat_as(world.handler_edu)
    lead_unit.notices()
    clock.set_local(2026, 9, 21)
    run_sweep(db, wf, "countersign_window")
    assert status_of(db, pid) == "replied"
    [(told, _)] = [n for n in lead_unit.notices() if "审核" in n[0]]
    assert "会签期满，区卫生健康委员会逾期未会签，视为同意；答复已提交审核" in told
    assert "区交通运输局：同意（蒋涛，2026年9月14日 09:30）" in told


async def test_all_agreeing_tells_the_lead_unit_who_signed_for_each_unit(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co_tr, _co_health = two_co_units(s)
    reply = submitted(s, lead)
    s.run(world.handler_tr, countersigns.agree, reply.id)
    s.run(world.handler_health, countersigns.agree, reply.id)
    [(told, _)] = [n for n in chat_as(world.handler_edu).notices() if "审核" in n[0]]
    assert "（第1稿）协办单位均已会签，已提交审核" in told
    assert "区交通运输局：同意（蒋涛，2026年9月14日 09:30）" in told
    assert "区卫生健康委员会：同意（彭娟，2026年9月14日 09:30）" in told


async def test_a_held_back_unit_is_named_to_the_lead_unit_when_the_letter_goes_on(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, lead, _co_tr, _co_health = two_co_units(s, transport_asks_adjustment=True)
    reply = submitted(s, lead)
    s.run(world.handler_health, countersigns.agree, reply.id)
    [(told, _)] = [n for n in chat_as(world.handler_edu).notices() if "审核" in n[0]]
    assert "区卫生健康委员会：同意（彭娟，2026年9月14日 09:30）" in told
    assert "区交通运输局：申请调整尚待决定，未请会签" in told


# ---------------------------------------------------------------- an asked unit asking for adjustment


async def test_an_asked_unit_awaiting_adjustment_is_not_promised_the_revision(
    db, wf, world, clock, chat_as
):
    """区交通运输局 was asked, then asked for adjustment; 区卫生健康委员会 objects. The letter
    goes back; the revision will ask 区交通运输局 only if staff keep it on the proposal, and
    its notice and its stale button say so rather than promising it."""
    s = States(db, wf, world)
    pid, lead, co_tr, co_health = two_co_units(s)
    first = submitted(s, lead)
    transport, health = chat_as(world.handler_tr), chat_as(world.handler_health)
    transport.notices()
    s.run(world.handler_tr, assignments.request_adjustment, co_tr, "停车泊位不属于本单位职责")
    await health.press(f"cs:{first.id}:no")
    await health.send(CHANGES)
    said_ok(health)

    [(told, _)] = [n for n in transport.notices() if "退回主办单位修改" in n[0]]
    assert "贵单位不需要再会签这一稿" in told
    assert "修改后的答复提交后会再请贵单位会签" not in told
    assert (
        "贵单位申请调整尚待决定：提案委不予调整的，会请贵单位会签修改后的答复，除非届时该答复已完成会签"
        in (told)
    )
    before = shot(db)
    await transport.press(f"cs:{first.id}:yes")
    assert "第1稿答复已退回主办单位修改，不再会签" in transport.said
    assert "修改后的答复提交后会再请您会签" not in transport.said
    assert (
        "本单位申请调整尚待决定：提案委不予调整的，会请您会签修改后的答复，除非届时该答复已完成会签"
        in (transport.said)
    )
    assert_same(db, before)

    # the revision comes before staff decide: indeed not asked
    second = submitted(s, lead)
    assert asked_to_countersign(transport) == []
    # staff refuse the adjustment while it waits: asked then, as promised
    clock.advance(days=1)
    s.run(world.staff, assignments.refuse_adjustment, co_tr, "停车泊位施划由贵局负责")
    [(text, _)] = asked_to_countersign(transport)
    assert "第2稿" in text
    assert {c.assignment_id for c in countersigns_of(db, second.id)} == {co_tr, co_health}


async def test_a_unit_awaiting_adjustment_that_objects_is_not_promised_the_revision(
    db, wf, world, chat_as
):
    s = States(db, wf, world)
    _pid, lead, co_tr, _co_health = two_co_units(s)
    first = submitted(s, lead)
    s.run(world.handler_tr, assignments.request_adjustment, co_tr, "停车泊位不属于本单位职责")
    transport = chat_as(world.handler_tr)
    await transport.send("/menu")
    await transport.press(f"cs:{first.id}:no")
    said_ok(transport)
    assert "请写下本单位对第1稿答复的修改意见" in transport.said
    assert "修改后会再请本单位会签" not in transport.said
    assert (
        "本单位申请调整尚待决定：提案委不予调整的，会请本单位会签修改后的答复，除非届时该答复已完成会签"
        in (transport.said)
    )


async def test_a_comment_being_written_when_another_unit_returns_the_letter_is_not_asked_again(
    db, wf, world, chat_as
):
    """区交通运输局 is writing its request for changes when 区卫生健康委员会's returns the
    letter: its comment is refused with what happened, and the bot goes back to the
    assignment instead of asking again for a comment that can no longer be sent."""
    s = States(db, wf, world)
    _pid, lead, _co_tr, _co_health = two_co_units(s)
    first = submitted(s, lead)
    transport = chat_as(world.handler_tr)
    await open_first(transport)
    await transport.tap("✏️ 提出修改意见")
    assert "请写下本单位对第1稿答复的修改意见" in transport.said
    s.run(world.handler_health, countersigns.object_to, first.id, CHANGES)
    before = shot(db)
    await transport.send("停车泊位由我局施划。")
    said_ok(transport)
    assert "第1稿答复已退回主办单位修改，不再会签" in transport.said
    assert "请写下本单位对第1稿答复的修改意见" not in transport.said
    assert "本单位办理状态：待签收" in transport.said  # the assignment again
    assert "✏️ 提出修改意见" not in transport.buttons
    assert_same(db, before)


async def test_a_comment_being_written_when_the_window_ends_is_not_asked_again(
    db, wf, world, clock, chat_as
):
    s = States(db, wf, world)
    pid, lead, _co_tr, _co_health = two_co_units(s)
    submitted(s, lead)
    transport = chat_as(world.handler_tr)
    await open_first(transport)
    await transport.tap("✏️ 提出修改意见")
    clock.set_local(2026, 9, 21)
    run_sweep(db, wf, "countersign_window")
    assert status_of(db, pid) == "replied"
    before = shot(db)
    await transport.send("停车泊位由我局施划。")
    said_ok(transport)
    assert "会签期限2026年9月20日已过，本单位已按逾期未会签，视为同意处理" in transport.said
    assert "请写下本单位对第1稿答复的修改意见" not in transport.said
    assert "✏️ 提出修改意见" not in transport.buttons
    assert_same(db, before)
