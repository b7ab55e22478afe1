"""The whole life of a proposal through the workflow services, step by step."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Assignment, AuditEvent, Notice, Proposal, Rating, Reply, Signer
from tests.factories import SAMPLE_REPLY, Story
from workflow import assignments, countersigns, proposals, replies
from workflow.record import render_record


def notices_for(db, person_id, kind=None):
    with db.read_session() as s:
        stmt = select(Notice).where(Notice.person_id == person_id)
        if kind:
            stmt = stmt.where(Notice.kind == kind)
        return list(s.exec(stmt).all())


def test_whole_life_from_draft_to_closed(db, wf, world, clock):
    story = Story(db, wf, world)
    w = world
    pid = story.draft(cosigners=[w.cosigner])
    story.run(w.member, proposals.submit, pid)
    assert notices_for(db, w.member, "submitted_receipt")
    assert len(notices_for(db, w.staff, "review_queue")) == 1
    [ask] = notices_for(db, w.cosigner, "cosign_request")
    assert [a["payload"] for a in ask.actions] == [f"cosign:{pid}:yes", f"cosign:{pid}:no"]
    story.run(w.cosigner, proposals.confirm_cosign, pid)

    clock.advance(days=1)
    filed = story.run(w.staff, proposals.file_proposal, pid)
    assert filed.number == 1
    [told] = notices_for(db, w.cosigner, "filed")
    assert "2026年度第1号" in told.text and "2026年度第1号" in told.text

    made = story.run(
        w.staff,
        assignments.assign,
        pid,
        lead_unit_id=w.education,
        co_unit_ids=[w.transport],
        is_key=True,
        supervising_unit_id=w.inspection,
        lead_leader_id=w.leader,
    )
    lead, co = made[0].id, made[1].id
    assert notices_for(db, w.handler_edu, "assigned") and notices_for(
        db, w.handler_edu2, "assigned"
    )
    assert notices_for(db, w.handler_tr, "assigned")
    assert notices_for(db, w.leader, "assigned_watch") and notices_for(
        db, w.supervisor, "assigned_watch"
    )

    story.run(w.handler_edu, assignments.accept, lead)
    story.run(w.handler_tr, assignments.accept, co)
    clock.advance(days=2)
    story.run(
        w.handler_edu,
        assignments.record_contact,
        lead,
        method="phone",
        contact_date=clock.now.date(),
        summary="电话沟通，委员同意先行试点。",
    )
    story.run(w.handler_tr, assignments.give_opinion, co, "建议同步优化周边信号灯配时。")
    assert notices_for(db, w.handler_edu, "opinion_given")

    first = story.run(w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    assert first.version == 1 and first.title == "关于七届二次会议第1号提案的答复"
    # 会签: the co-handling unit countersigns before the review sees the letter
    assert first.status == "countersigning"
    assert notices_for(db, w.handler_tr, "countersign_requested")
    assert not notices_for(db, w.supervisor, "reply_submitted")
    story.run(w.handler_tr, countersigns.agree, first.id)
    assert notices_for(db, w.supervisor, "reply_submitted")
    story.run(w.supervisor, replies.return_reply, first.id, "请补充具体实施时间。")
    assert notices_for(db, w.handler_edu, "reply_returned")
    second = story.run(w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    assert second.version == 2 and second.status == "countersigning"  # countersigned again
    story.run(w.handler_tr, countersigns.agree, second.id)
    story.run(w.staff, replies.approve_reply, second.id, "A")

    [delivered] = notices_for(db, w.member, "reply_delivered")
    assert [a["label"] for a in delivered.actions] == ["满意", "基本满意", "不满意"]
    assert notices_for(db, w.cosigner, "reply_delivered")

    story.run(w.cosigner, replies.rate, pid, work="satisfied")
    story.run(w.member, replies.rate, pid, work="satisfied", result="basic", feedback="盼早落实")
    with db.read_session() as s:
        p = s.get(Proposal, pid)
        assert p.status == "closed"
        assert {a.status for a in s.exec(select(Assignment))} == {"done"}
        reply = s.get(Reply, second.id)
        assert (reply.proposed_class, reply.reply_class, reply.status) == ("B", "A", "approved")
        assert len(s.exec(select(Rating)).all()) == 2
        actions = [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[:3] == ["create", "invite_cosigner", "submit"]
    assert actions[-1] == "close"

    with db.read_session() as s:
        page = render_record(wf.ctx(s, w.member), s.get(Proposal, pid), timeline=True)
    for expected in [
        "编 号:2026年度第1号 所属类别:委员提案",
        "提案人:林晓、何平",
        "审查结果:已立案 信息公开:是",
        "是否重点:是",
        "督办单位:区政府督查室 牵头领导:邓启明",
        "主办单位:区教育局",
        "协办单位:区交通运输局",
        "尊敬的林晓委员:",
        "(联系人:高远 联系电话:0839-8620101)",
        "落实情况:所提问题已经解决或基本解决(A)",
        "会签:区交通运输局同意（蒋涛，",
        "督办审核:已通过",
        "满意评价:办理工作满意，办理结果基本满意",
        "反馈意见:盼早落实",
        "提案编号:2026年度第1号",
        "领衔委员:林晓",
        "办理过程:",
        "提交会签（区教育局主办）  高远",
        "会签同意（区交通运输局协办）  蒋涛",
        "会签完成，提交审核（区教育局主办）  系统",
    ]:
        assert expected in page, expected


def test_unsatisfied_rating_leads_to_rehandling_once(db, wf, world, clock):
    story = Story(db, wf, world)
    w = world
    pid, lead, _ = story.rated("unsatisfied")
    assert notices_for(db, w.staff, "rated_unsatisfied")
    assert notices_for(db, w.handler_edu, "rated_unsatisfied")
    story.run(w.staff, replies.order_rehandle, pid, note="请与委员面商后重新答复")
    with db.read_session() as s:
        p = s.get(Proposal, pid)
        assert (p.status, p.rehandle_count) == ("assigned", 1)
        assert s.get(Assignment, lead).status == "accepted"
    again = story.run(w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    assert again.round == 2
    story.run(w.staff, replies.approve_reply, again.id)
    story.run(w.member, replies.rate, pid, work="unsatisfied")
    import pytest

    from workflow.errors import InvalidTransition

    with pytest.raises(InvalidTransition, match="重新办理过 1 次"):
        story.run(w.staff, replies.order_rehandle, pid)


def test_merged_proposal_proposer_gets_the_reply_and_rates_it(db, wf, world):
    story = Story(db, wf, world)
    w = world
    main, lead, _ = story.accepted(co=False)
    with db.session() as s:
        ctx = wf.ctx(s, w.cosigner)
        other = proposals.create_draft(
            ctx,
            title="关于缓解学校周边交通拥堵的建议",
            analysis="拥堵严重。",
            suggestions="增设车位。",
        )
        proposals.submit(ctx, other.id)
    story.run(w.staff, proposals.merge, other.id, main)
    assert notices_for(db, w.cosigner, "merged")
    reply = story.run(w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(w.staff, replies.approve_reply, reply.id)
    with db.read_session() as s:
        assert s.get(Proposal, other.id).status == "delivered"
    [told] = notices_for(db, w.cosigner, "reply_delivered")
    assert "并案办理" in told.text
    story.run(w.cosigner, replies.rate, other.id, work="basic")
    with db.read_session() as s:
        assert s.get(Proposal, other.id).status == "closed"
        page = render_record(wf.ctx(s, w.cosigner), s.get(Proposal, other.id))
    assert "并入2026年度第1号提案" in page and "满意评价:基本满意" in page


def test_unconfirmed_cosigner_drops_off_at_review(db, wf, world):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    story.run(world.cosigner, proposals.confirm_cosign, pid)
    story.run(world.staff, proposals.file_proposal, pid)
    with db.read_session() as s:
        states = {x.person_id: x.state for x in s.exec(select(Signer))}
    assert states[world.cosigner2] == "expired" and states[world.cosigner] == "confirmed"
    assert notices_for(db, world.member, "cosign_expired")


def test_withdrawal_tells_staff_and_every_invited_cosigner(db, wf, world):
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    story.run(world.cosigner, proposals.confirm_cosign, pid)
    story.run(world.member, proposals.withdraw, pid, "与另一件提案重复")
    for person in (world.staff, world.staff2, world.cosigner, world.cosigner2):
        assert notices_for(db, person, "withdrawn"), person
    assert not notices_for(db, world.member, "withdrawn")


def test_a_merged_proposal_closes_only_with_its_main(db, wf, world, clock):
    import pytest

    from workflow.errors import InvalidInput

    story = Story(db, wf, world)
    main, lead, _ = story.accepted(co=False)
    with db.session() as s:
        ctx = wf.ctx(s, world.cosigner)
        other = proposals.create_draft(
            ctx,
            title="关于学校周边增设停车位的建议",
            analysis="车位不足。",
            suggestions="增设车位。",
        )
        proposals.submit(ctx, other.id)
    story.run(world.staff, proposals.merge, other.id, main)
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)
    clock.advance(days=30)  # past the rating window
    with pytest.raises(InvalidInput, match="随主案办结"):
        story.run(world.staff, replies.close, other.id)
    story.run(world.staff, replies.close, main)
    with db.read_session() as s:
        assert s.get(Proposal, other.id).status == "closed"
        not_given = s.exec(select(Rating).where(Rating.proposal_id == other.id)).all()
    assert [r.not_given for r in not_given] == [True]


def test_extension_moves_the_due_date_by_the_setting(db, wf, world):
    import pytest

    from workflow.errors import InvalidInput

    story = Story(db, wf, world)
    pid, lead, _ = story.accepted(co=False)
    story.run(world.handler_edu, assignments.request_extension, lead, "需会同多个部门调研")
    [asked] = notices_for(db, world.staff, "extension_requested")
    assert "需会同多个部门调研" in asked.text
    with db.read_session() as s:
        before = s.get(Assignment, lead).due_date
    story.run(world.staff, assignments.extend, lead)
    with db.read_session() as s:
        after = s.get(Assignment, lead).due_date
        assert s.get(Proposal, pid).due_date == after
    assert (after.year * 12 + after.month) - (before.year * 12 + before.month) == 1
    [told] = notices_for(db, world.handler_edu, "extended")
    assert "延至" in told.text
    with pytest.raises(InvalidInput, match="晚于原期限"):
        story.run(world.staff, assignments.extend, lead, due_date=before)


def test_choosing_what_a_draft_already_says_changes_nothing(db, wf, world, clock):
    import pytest

    from workflow.errors import PermissionDenied

    story = Story(db, wf, world)
    pid = story.draft()

    def edits() -> list[tuple]:
        with db.read_session() as s:
            rows = s.exec(
                select(AuditEvent).where(AuditEvent.proposal_id == pid).order_by(AuditEvent.id)
            ).all()
            return [(e.action, (e.detail or {}).get("fields")) for e in rows]

    with db.read_session() as s:
        before = s.get(Proposal, pid)
    clock.advance(hours=1)
    same = story.run(world.member, proposals.update_draft, pid, category="member", disclose=True)
    assert (same.updated_at, same.category, same.disclose) == (before.updated_at, "member", True)
    assert edits() == [("create", None)]

    # Only what differs is written and audited.
    story.run(world.member, proposals.update_draft, pid, disclose=False, field="社会事业")
    assert edits() == [("create", None), ("edit_draft", ["disclose"])]

    # Changing nothing still needs the right to change it.
    with pytest.raises(PermissionDenied):
        story.run(world.cosigner, proposals.update_draft, pid, disclose=False)


def test_a_proposal_is_given_only_to_handling_units_and_supervised_by_a_supervising_one(
    db, wf, world
):
    """Whatever a channel sends: 区政府督查室 supervises and answers nothing, 区教育局 answers
    and supervises nothing. Each refusal names the unit and changes nothing."""
    import pytest

    from workflow.errors import InvalidInput

    story = Story(db, wf, world)
    pid = story.filed()
    refused = [
        ({"lead_unit_id": world.inspection}, "区政府督查室不是承办单位，不能承办提案。"),
        (
            {"lead_unit_id": world.education, "co_unit_ids": [world.inspection]},
            "区政府督查室不是承办单位，不能承办提案。",
        ),
        (
            {
                "lead_unit_id": world.transport,
                "is_key": True,
                "supervising_unit_id": world.education,
                "lead_leader_id": world.leader,
            },
            "区教育局不是督办单位。",
        ),
    ]
    for kwargs, answer in refused:
        with pytest.raises(InvalidInput) as caught:
            story.run(world.staff, assignments.assign, pid, **kwargs)
        assert str(caught.value) == answer
    with db.read_session() as s:
        assert s.get(Proposal, pid).status == "filed"
        assert s.exec(select(Assignment).where(Assignment.proposal_id == pid)).all() == []

    # 改交 (an adjustment granted) to a unit that answers nothing is refused the same way.
    pid, lead, _ = story.assigned(co=False)
    story.run(world.handler_edu, assignments.request_adjustment, lead, "不属于我局职责")
    with pytest.raises(InvalidInput, match="区政府督查室不是承办单位"):
        story.run(world.staff, assignments.reassign, lead, world.inspection)
    with db.read_session() as s:
        assert s.get(Assignment, lead).unit_id == world.education


def test_a_typed_extension_lies_no_further_ahead_than_any_due_date(db, wf, world, clock):
    """Staff may move a due date by hand, but not past the rules' furthest due date (six
    months from today): 2207 typed for 2027 is refused and the due date stays."""
    from datetime import date

    import pytest

    from workflow.errors import InvalidInput

    story = Story(db, wf, world)
    _pid, lead, _ = story.accepted(co=False)
    with db.read_session() as s:
        before = s.get(Assignment, lead).due_date
    with pytest.raises(InvalidInput) as caught:
        story.run(world.staff, assignments.extend, lead, due_date=date(2207, 1, 15))
    assert "答复期限不能晚于" in str(caught.value)
    assert "自今天起最长 6 个月" in str(caught.value)
    with db.read_session() as s:
        assert s.get(Assignment, lead).due_date == before


def test_a_key_proposal_handled_again_is_told_to_those_who_supervise_it(db, wf, world, clock):
    """区政府督查室's supervisor and 邓启明, told at 交办 which unit answers by when, are told
    the new due date when 不满意 sends the proposal back to its lead unit; an ordinary
    proposal has nobody to tell."""
    story = Story(db, wf, world)
    w = world
    pid, _lead, _ = story.rated("unsatisfied", key=True)
    story.run(w.staff, replies.order_rehandle, pid, note="请与委员面商后重新答复")
    told = [
        n
        for who in (w.supervisor, w.leader)
        for n in notices_for(db, who, "rehandle_ordered_watch")
    ]
    assert len(told) == 2
    with db.read_session() as s:
        due = s.get(Proposal, pid).due_date
    assert {n.text for n in told} == {
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的答复评价为不满意，"
        f"已安排区教育局重新办理，新的答复期限为{due.year}年{due.month}月{due.day}日，请予督办。"
    }
    other, _, _ = story.rated("unsatisfied", title="关于增设社区老年食堂的建议")
    story.run(w.staff, replies.order_rehandle, other)
    assert len(notices_for(db, w.supervisor, "rehandle_ordered_watch")) == 1


def test_feedback_written_after_a_one_tap_unsatisfied_is_told_as_what_it_adds(db, wf, world):
    """林晓 taps 不满意 on the notice, then writes why: staff and the unit are told the
    rating once, then the feedback it adds, not a second 不满意 as if new."""
    story = Story(db, wf, world)
    pid, _lead, _ = story.rated("unsatisfied")
    story.run(
        world.member,
        replies.rate,
        pid,
        work="unsatisfied",
        result="unsatisfied",
        feedback="接送车辆停放问题没有回应。",
    )
    told = [n.text for n in notices_for(db, world.staff, "rated_unsatisfied")]
    assert told == [
        "林晓委员对2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的答复评价为不满意。",
        "林晓委员对2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》答复的不满意评价"
        "补充了意见：接送车辆停放问题没有回应。",
    ]
