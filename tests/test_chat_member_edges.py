"""Member conversations at their edges: digits that are not ASCII, a role lost mid-flow, a
draft deleted or carried into a new year, a rating tapped twice or given again."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from handlers.messages import Event
from storage.models import Attachment, Notice, Person, Proposal, Rating
from tests.chat import Chat
from tests.factories import SAMPLE_REPLY, Story
from tests.test_chat_search import make
from tests.test_chat_submit import my_draft, open_draft, rows
from workflow import export, proposals, replies

FAILED = "出了问题"  # the engine's answer to a step that failed: never for what a user types
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


async def test_a_circled_or_superscript_digit_is_searched_for_as_text(db, wf, world, chat_as):
    make(db, wf, world, "关于加快老旧小区加装电梯的建议", "老旧小区多为六层住宅。")
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("🔍")
    for query in ("①", "²²", "① 电梯"):
        await chat.send(query)
        assert FAILED not in chat.said, (query, chat.said)
    assert "找到 1 件与「① 电梯」相关" in chat.said  # 电梯 found it; ① was a word, not a number


async def test_a_circled_digit_on_a_numbered_channel_is_not_a_choice(db, wf, world, chat_as):
    chat = chat_as(world.member, channel="console")
    await chat.send("/new")
    await chat.send("关于加快老旧小区加装电梯的建议")
    await chat.tap("委员提案")  # now at 领域, choices numbered 1, 2, …
    out = await asyncio.to_thread(
        chat.engine.handle, chat.sender, Event.of_text("①", numbered=True)
    )
    said = "\n".join(o.text for o in out)
    assert FAILED not in said, said
    assert said.startswith("这一步需要：请点选提案所属的领域。")  # asked again, nothing chosen
    with db.read_session() as session:
        assert session.exec(select(Proposal.field)).one() is None


async def test_a_member_who_lost_the_role_can_neither_add_nor_remove_files(db, wf, world, chat_as):
    my_draft(db, wf, world)
    chat = chat_as(world.member)
    await open_draft(chat)
    await chat.tap("✏️ 附件")
    await chat.upload("a.pdf", PDF)
    assert "已收到附件" in chat.said
    with db.session() as s:  # staff take the member role away meanwhile
        person = s.get(Person, world.member)
        assert person is not None
        person.roles = "staff"
        s.add(person)
    await chat.tap("删除「a.pdf」")
    assert "需要委员身份" in chat.said
    await chat.upload("b.pdf", PDF)
    assert "需要委员身份" in chat.said
    assert [a.filename for a in rows(db, Attachment)] == ["a.pdf"]  # nothing changed


async def test_a_draft_deleted_unsubmitted_is_in_no_ledger_or_list(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send("关于我个人私下想法的建议")
    await chat.send("/drafts")
    await chat.tap("《关于我个人私下想法")
    await chat.tap("🗑 删除草稿")
    await chat.tap("确认删除")
    assert "已删除" in chat.said
    with db.session() as s:
        ctx = wf.ctx(s, world.staff)
        assert export.years(ctx) == []
        assert export.ledger(ctx, 2026)[1] == 0
    staff = chat_as(world.staff)
    await staff.send("/list")
    assert "私下想法" not in staff.said


async def test_a_draft_begun_in_december_and_submitted_in_january_is_of_the_new_year(
    db, wf, world, chat_as, clock
):
    clock.set_local(2026, 12, 30)
    my_draft(db, wf, world)
    clock.set_local(2027, 1, 5)
    chat = chat_as(world.member)
    await open_draft(chat)
    await chat.tap("📤 提交")
    assert "已于2027年1月5日" in chat.said
    [p] = rows(db, Proposal)
    assert (p.status, p.year) == ("submitted", 2027)
    with db.session() as s:
        filed = proposals.file_proposal(wf.ctx(s, world.staff), p.id)
        assert (filed.year, filed.number) == (2027, 1)


async def test_the_same_one_tap_rating_twice_tells_staff_and_the_unit_once(db, wf, world, chat_as):
    pid, _lead, _reply = Story(db, wf, world).delivered()
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.press(f"rate:{pid}:unsatisfied")
    await chat.send("/menu")
    await chat.press(f"rate:{pid}:unsatisfied")  # the notice's button, tapped again
    told = [n.person_id for n in rows(db, Notice, Notice.kind == "rated_unsatisfied")]
    assert told and len(told) == len(set(told)), told


async def test_a_rating_given_again_after_an_earlier_one_tap_is_recorded(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, lead, _reply = story.delivered()
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.press(f"rate:{pid}:unsatisfied")  # one tap: on to the feedback question
    assert "反馈意见" in chat.said
    story.run(world.staff, replies.order_rehandle, pid)  # meanwhile staff order 重新办理
    await chat.send("答复没有回应我提的问题")  # refused: the reply is no longer delivered
    new = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, new.id)
    await chat.tap("返回列表")
    await chat.tap("2026年度第1号")
    await chat.tap("⭐ 评价答复")
    await chat.tap("满意")
    await chat.tap("满意")
    await chat.tap("跳过")
    with db.read_session() as s:
        rating = s.exec(select(Rating).where(Rating.reply_id == new.id)).one()
    assert (rating.work_rating, rating.result_rating) == ("satisfied", "satisfied")


async def test_a_draft_resumed_past_the_disclosure_question_is_not_made_public(
    db, wf, world, chat_as
):
    from tests.test_chat_submit import A1, S1, TITLE

    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send(TITLE)
    await chat.tap("委员提案")
    await chat.tap("城乡建设")
    await chat.send(A1)
    await chat.tap("✅ 完成")
    await chat.send(S1)
    await chat.tap("✅ 完成")
    await chat.send("/cancel")  # left before 信息公开 was asked
    await chat.send("/drafts")
    await chat.tap("《关于加快")
    await chat.tap("✏️ 继续编辑")
    assert "请核对提案内容" in chat.said  # the required answers are all there
    assert "信息公开:否" in chat.said  # and it says it is not public, with ✏️ 信息公开 to change
    await chat.tap("✏️ 信息公开")
    await chat.tap("是")
    assert "信息公开:是" in chat.said
    await chat.tap("📤 提交")
    [p] = rows(db, Proposal)
    assert (p.status, p.disclose) == ("submitted", True)


async def test_many_drafts_are_listed_a_page_at_a_time(db, wf, world, chat_as):
    with db.session() as s:
        ctx = wf.ctx(s, world.member)
        for i in range(120):
            proposals.create_draft(ctx, title=f"关于第{i}件事的建议")
    chat = chat_as(world.member)
    await chat.send("/drafts")
    assert "您有 120 份草稿" in chat.said
    assert "（第 1–8 份，共 120 份）" in chat.said
    assert len(chat.buttons) <= 10
    await chat.tap("下一页 ▶")
    assert "（第 9–16 份，共 120 份）" in chat.said
    await chat.tap("◀ 上一页")
    await chat.tap("《关于第119件事的建议》")  # the latest written comes first
    assert "✏️ 继续编辑" in chat.buttons


async def test_the_rating_buttons_of_a_reply_handled_again_rate_nothing(db, wf, world, chat_as):
    story = Story(db, wf, world)
    pid, lead, first = story.rated(rating="unsatisfied")
    with db.read_session() as s:
        (old,) = s.exec(
            select(Notice).where(
                Notice.person_id == world.member, Notice.kind == "reply_delivered"
            )
        ).all()
        old_buttons = {a["label"]: a["payload"] for a in old.actions}
    story.run(world.staff, replies.order_rehandle, pid)
    new = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, new.id)

    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.press(old_buttons["满意"])  # the first reply's notice, not the new one's
    assert (
        "这个评价按钮属于此前的答复：提案已重新办理并送达新的答复，请用新答复通知里的按钮评价。"
        "没有做任何更改。" in chat.said
    )
    assert FAILED not in chat.said and "林晓，您好" in chat.said
    with db.read_session() as s:
        assert s.exec(select(Rating).where(Rating.reply_id == new.id)).all() == []
        assert s.get(Proposal, pid).status == "delivered"
        (latest,) = s.exec(
            select(Notice)
            .where(Notice.person_id == world.member, Notice.kind == "reply_delivered")
            .where(Notice.id != old.id)
        ).all()
        new_buttons = {a["label"]: a["payload"] for a in latest.actions}
    await chat.press(new_buttons["满意"])  # the new notice's button rates the new reply
    assert "办理工作：满意" in chat.said and "提案已办结" in chat.said
    with db.read_session() as s:
        (rating,) = s.exec(select(Rating).where(Rating.reply_id == new.id)).all()
        assert rating.person_id == world.member and rating.result_rating == "satisfied"
    assert first != new.id


async def test_a_review_before_the_cosign_cutoff_says_so_and_tells_who_was_still_asked(
    db, wf, world, chat_as
):
    """Staff may file a proposal before its co-signing cut-off: the member still asked drops
    off. The proposer reads that review began (the cut-off has not passed), and the member
    whose invitation ended early is told, not left with a notice that looks open."""
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    member, cosigner = chat_as(world.member), chat_as(world.cosigner)
    cosigner2 = chat_as(world.cosigner2)
    cosigner2.notices()
    await cosigner.send("/menu")
    await cosigner.tap("✍️")
    await cosigner.tap("《")
    await cosigner.tap("确认联名")
    assert "您已确认联名" in cosigner.said
    cosigner.notices(), member.notices()

    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.tap("🔎")
    await staff.tap("关于改善城区小学放学时段交通秩序的建议")
    assert "黄蕾尚未确认联名（截止2026年9月20日 23:59）" in staff.said
    await staff.tap("立案")

    [dropped, filed] = [text for text, _ in member.notices()]
    assert "已截止" not in dropped
    assert dropped == (
        "提案《关于改善城区小学放学时段交通秩序的建议》已开始审查，"
        "黄蕾未在审查前确认联名，已不在联名名单中。"
    )
    assert "已立案" in filed
    [(told, buttons)] = cosigner2.notices()
    assert told == (
        "林晓委员的提案《关于改善城区小学放学时段交通秩序的建议》已开始审查，"
        "您尚未确认的联名邀请随之结束，您不在联名名单中。"
    )
    assert buttons == []
    assert not [
        t for t, _ in cosigner.notices() if "联名" in t
    ]  # 何平 co-signs: told of 立案 only
    assert [p for p in proposals_signers(db, pid)] == [
        (world.member, "confirmed"),
        (world.cosigner, "confirmed"),
        (world.cosigner2, "expired"),
    ]


async def test_the_cosign_cutoff_still_says_the_cutoff_passed(db, wf, world, chat_as, clock):
    from workflow import sweeps

    story = Story(db, wf, world)
    story.submitted(cosigners=[world.cosigner2], confirm=False)
    member = chat_as(world.member)
    member.notices()
    clock.set_local(2026, 9, 21, 9, 0)
    with db.session() as s:
        sweeps.cosign_cutoff(wf.ctx(s, None))
    [(text, _)] = member.notices()
    assert text == (
        "提案《关于改善城区小学放学时段交通秩序的建议》的联名确认已截止，"
        "黄蕾未确认，已不在联名名单中。"
    )


def proposals_signers(db, pid: int) -> list[tuple[int, str]]:
    from storage.models import Signer

    with db.read_session() as s:
        rows_ = s.exec(select(Signer).where(Signer.proposal_id == pid).order_by(Signer.position))
        return [(r.person_id, r.state) for r in rows_.all()]


async def test_the_timeline_names_who_was_invited_removed_or_dropped(db, wf, world, chat_as):
    """A removal from the co-signers' list is not shown as one more invitation: each line
    of the timeline says whom it concerns; the public record shows none of them."""
    story = Story(db, wf, world)
    pid = story.draft(cosigners=[world.cosigner, world.cosigner2, world.outsider])
    story.run(world.member, proposals.remove_cosigner, pid, world.cosigner2)
    story.run(world.member, proposals.submit, pid)
    story.run(world.cosigner, proposals.confirm_cosign, pid)
    story.run(world.staff, proposals.file_proposal, pid)

    member = chat_as(world.member)
    await member.send("/menu")
    await member.tap("📋")
    await member.tap("2026年度第1号")
    timeline = member.said.split("办理过程:")[1]
    steps = [line.strip().split("  ")[1] for line in timeline.strip().splitlines()]
    assert steps == [
        "创建草稿 → 草稿",
        "邀请联名（何平）",
        "邀请联名（黄蕾）",
        "邀请联名（曹磊）",
        "移出联名（黄蕾）",
        "提交 → 待审查",
        "确认联名",
        "联名确认截止（曹磊未确认）",
        "立案，编号2026年度第1号 → 已立案",
    ]

    public = chat_as(world.cosigner2)  # no longer on it: reads the public record
    await public.send("/status 1")
    assert "联名确认截止\n" in public.said + "\n" or "联名确认截止  " in public.said
    for name in ("（何平）", "（黄蕾）", "（曹磊", "移出联名"):
        assert name not in public.said


async def made_collective_submitted_and_opened(story, world, chat_as, pid: int) -> Chat:
    """林晓 makes her draft a collective proposal of 民进区委会, submits it and opens its
    record from 📋 我的提案: her chat."""
    story.run(
        world.member,
        proposals.update_draft,
        pid,
        category="collective",
        collective_body="民进区委会",
    )
    story.run(world.member, proposals.submit, pid)
    member = chat_as(world.member)
    await member.send("/menu")
    await member.tap("📋")
    await member.tap("未编号")
    return member


async def test_a_draft_turned_collective_says_in_its_timeline_whom_it_dropped(
    db, wf, world, chat_as
):
    story = Story(db, wf, world)
    pid = story.draft(cosigners=[world.cosigner])
    member = await made_collective_submitted_and_opened(story, world, chat_as, pid)
    assert "邀请联名（何平）  林晓" in member.said
    assert "修改草稿，移出联名（何平）  林晓" in member.said


async def test_a_merged_proposal_answered_and_rated_reads_merged_and_closed_by_its_ratings(
    db, wf, world, chat_as
):
    """A proposal merged into another keeps 审查结果:已并案 once the reply reaches it; closed
    because its own signers all rated while the main one is still open, its timeline says
    so, not 随主案办结."""
    from workflow import assignments

    story = Story(db, wf, world)
    main = story.filed(title="关于主案的建议")
    merged = story.run(
        world.outsider,
        proposals.create_draft,
        title="关于规范校门口接送秩序的建议",
        analysis="放学时校门口拥堵。",
        suggestions="1、设置即停即走车位。",
    ).id
    story.run(world.outsider, proposals.submit, merged)
    story.run(world.staff, proposals.merge, merged, main)
    [lead] = story.run(world.staff, assignments.assign, main, lead_unit_id=world.education)
    story.run(world.handler_edu, assignments.accept, lead.id)
    reply = story.run(world.handler_edu, replies.submit_reply, lead.id, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)

    chat = chat_as(world.outsider)
    [delivered] = [actions for text, actions in chat.notices() if "收到区教育局的答复" in text]
    await chat.press(delivered[0]["payload"])  # 满意, with one tap
    assert "提案已办结" in chat.said
    await chat.send("/menu")
    await chat.tap("📋")
    await chat.tap("未编号")
    assert "审查结果:已并案 信息公开:是" in chat.said
    assert "并案:并入2026年度第1号提案《关于主案的建议》" in chat.said
    assert "全部评价完成，办结 → 已办结  系统" in chat.said
    assert "随主案办结" not in chat.said
    with db.read_session() as s:
        assert s.get(Proposal, main).status == "delivered"  # 林晓 has not rated yet


async def test_an_invitation_tapped_after_the_cutoff_says_when_it_ended(
    db, wf, world, chat_as, clock
):
    from workflow import sweeps

    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner2], confirm=False)
    chat = chat_as(world.cosigner2)
    [(_, buttons)] = chat.notices()
    clock.set_local(2026, 9, 22, 10, 0)
    with db.session() as s:
        sweeps.cosign_cutoff(wf.ctx(s, None))
    await chat.press(buttons[0]["payload"])  # 确认联名, two days late
    assert chat.said.startswith(
        "联名确认已于2026年9月20日 23:59截止，您未在截止前确认，已不在联名名单中。"
    )
    assert proposals_signers(db, pid)[1] == (world.cosigner2, "expired")


async def test_a_run_of_draft_edits_is_one_line_of_the_timeline(db, wf, world, clock, chat_as):
    story = Story(db, wf, world)
    pid = story.draft()
    for field, text in (("title", "关于校园周边交通的建议"), ("analysis", "放学时段拥堵。")):
        clock.advance(minutes=2)
        story.run(world.member, proposals.update_draft, pid, **{field: text})
    clock.advance(minutes=2)
    story.run(world.member, proposals.invite_cosigner, pid, world.cosigner)
    clock.advance(minutes=2)
    story.run(world.member, proposals.update_draft, pid, suggestions="错峰放学。")
    clock.advance(minutes=2)
    member = await made_collective_submitted_and_opened(story, world, chat_as, pid)
    timeline = member.said[member.said.index("办理过程") :]
    edits = [line.split("  ")[-2:] for line in timeline.splitlines() if "草稿" in line]
    assert edits[1:] == [
        ["修改草稿（2次）", "林晓"],
        ["修改草稿", "林晓"],
        ["修改草稿，移出联名（何平）", "林晓"],
    ], timeline
