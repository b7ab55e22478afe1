"""Reach any proposal or assignment status, and name the service call of every action.

``States`` extends ``Story`` with the statuses Story does not stop at (withdrawn, not filed,
merged, converted, an assignment under adjustment or reassigned, a co-handling opinion, a
returned reply, closed). Each builder returns a ``Rec`` holding the ids a test needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from storage.models import Assignment
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_REPLY, SAMPLE_SUGGESTIONS, Story
from workflow import assignments, countersigns, invites, proposals, replies

MAIN_TITLE = "关于加强中小学校园周边交通安全管理的建议"
OTHER_TITLE = "关于在学校周边增设接送车辆临时停车位的建议"


@dataclass
class Rec:
    """The ids around one record: the proposal, its assignments and its latest reply."""

    pid: int | None = None
    lead: int | None = None  # the lead unit's assignment (区教育局)
    co: int | None = None  # the co-handling unit's assignment (区交通运输局)
    reply: int | None = None  # the latest reply
    main: int | None = None  # the proposal this one is (or may be) merged into
    merged: int | None = None  # a proposal merged into this one
    asg: int | None = None  # the assignment a test is about
    handler: int | None = None  # a handler of that assignment's unit


@dataclass
class Call:
    """One service call as one person: ``actor`` None is the system itself."""

    actor: int | None
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class States(Story):
    """Story plus the statuses it does not stop at."""

    # ------------------------------------------------------------ small steps

    def today(self) -> date:
        return self.wf.clock().astimezone(self.wf.rules.tz).date()

    def draft_by(self, person: int, title: str = OTHER_TITLE) -> int:
        return self.run(
            person,
            proposals.create_draft,
            title=title,
            analysis=SAMPLE_ANALYSIS,
            suggestions=SAMPLE_SUGGESTIONS,
        ).id

    def merged_into(self, main: int, author: int | None = None) -> int:
        """A submitted proposal (by ``author``, else the member with a co-signer) merged into
        ``main``."""
        w = self.w
        if author is None:
            pid = self.submitted(cosigners=[w.cosigner], title=OTHER_TITLE)
        else:
            pid = self.draft_by(author)
            self.run(author, proposals.submit, pid)
        self.run(w.staff, proposals.merge, pid, main)
        return pid

    def submit_reply(self, lead: int, *, countersign: bool = True) -> int:
        """The lead unit's reply, countersigned (会签) by the co-handling unit still on the
        proposal, if any, unless ``countersign`` is False: then it waits for that."""
        reply = self.run(self.w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
        if countersign and reply.status == "countersigning":
            self.run(self.w.handler_tr, countersigns.agree, reply.id)
        return reply.id

    def status(self, model, record_id: int) -> str:
        with self.db.read_session() as session:
            return session.get(model, record_id).status

    # ------------------------------------------------------------ proposal statuses

    def proposal(self, status: str, *, key: bool = False, confirm: bool = True) -> Rec:
        """A proposal of the member, with 何平 as co-signer (confirmed unless ``confirm`` is
        False, which only matters before review), in ``status``."""
        w = self.w
        signers = [w.cosigner]
        if status == "draft":
            return Rec(pid=self.draft(cosigners=signers))
        if status == "submitted":
            return Rec(pid=self.submitted(cosigners=signers, confirm=confirm))
        if status in ("withdrawn", "not_filed", "converted"):
            pid = self.submitted(cosigners=signers, confirm=confirm)
            if status == "withdrawn":
                self.run(w.member, proposals.withdraw, pid, "内容需要进一步调研")
            elif status == "not_filed":
                self.run(w.staff, proposals.reject, pid, "属于学校内部管理事务")
            else:
                self.run(w.staff, proposals.convert, pid, "转交有关部门参考")
            return Rec(pid=pid)
        if status == "filed":
            return Rec(pid=self.filed(cosigners=signers, confirm=confirm))
        if status == "merged":
            main = self.filed(title=MAIN_TITLE)
            return Rec(pid=self.merged_into(main), main=main)
        pid, lead, co = self.accepted(cosigners=signers, confirm=confirm, key=key)
        rec = Rec(pid=pid, lead=lead, co=co)
        if status == "accepted":  # the proposal is "assigned", both units accepted
            return rec
        rec.reply = self.submit_reply(lead)
        if status == "replied":
            return rec
        if status == "assigned":  # a returned reply: the lead unit writes it again
            self.run(w.staff, replies.return_reply, rec.reply, "请补充具体实施时间。")
            return rec
        self.run(w.staff, replies.approve_reply, rec.reply)
        if status == "delivered":
            return rec
        if status == "closed":
            self.run(w.cosigner, replies.rate, pid, work="satisfied")
            self.run(w.member, replies.rate, pid, work="satisfied")
            return rec
        raise ValueError(status)

    # ------------------------------------------------------------ assignment statuses

    def assignment(self, status: str, role: str = "lead") -> Rec:
        """A lead (区教育局) or co-handling (区交通运输局) assignment in ``status``;
        ``rec.asg`` is that assignment and ``rec.handler`` a handler of its unit."""
        w = self.w
        if status in ("pending", "adjustment_requested", "reassigned"):
            pid, lead, co = self.assigned()
            rec = Rec(pid=pid, lead=lead, co=co)
        elif status in ("accepted", "opinion_given"):
            pid, lead, co = self.accepted()
            rec = Rec(pid=pid, lead=lead, co=co)
        elif status == "replied":
            rec = self.proposal("replied")
        elif status == "countersigning":  # the lead unit's reply waits for 会签
            pid, lead, co = self.accepted()
            rec = Rec(pid=pid, lead=lead, co=co)
            rec.reply = self.submit_reply(lead, countersign=False)
        elif status == "done":
            rec = self.proposal("delivered")
        else:
            raise ValueError(status)
        rec.asg = rec.lead if role == "lead" else rec.co
        rec.handler = w.handler_edu if role == "lead" else w.handler_tr
        if status in ("adjustment_requested", "reassigned"):
            self.run(rec.handler, assignments.request_adjustment, rec.asg, "不属于本单位职责")
        if status == "reassigned":
            self.run(w.staff, assignments.reassign, rec.asg, w.health)
        if status == "opinion_given":
            self.run(rec.handler, assignments.give_opinion, rec.asg, "建议优化信号灯配时。")
        assert self.status(Assignment, rec.asg) == status
        return rec


# ---------------------------------------------------------------- the calls


def _target(s: States, rec: Rec) -> int:
    """A filed proposal to merge into."""
    return rec.main or s.filed(title=MAIN_TITLE)


def _contact(s: States) -> dict:
    return dict(method="phone", contact_date=s.today(), summary="电话沟通，委员同意先行试点。")


# Each action of the transition tables, as the service call that takes it, by the person
# who would rightly take it. Proposal actions receive a Rec from ``States.proposal``,
# assignment actions one from ``States.assignment`` (or, for the reply review, a proposal
# Rec whose ``asg`` is the lead assignment).
PROPOSAL_CALLS: dict[str, Callable[[States, Rec], Call]] = {
    "edit_draft": lambda s, r: Call(
        s.w.member, proposals.update_draft, (r.pid,), {"title": MAIN_TITLE}
    ),
    "invite_cosigner": lambda s, r: Call(
        s.w.member, proposals.invite_cosigner, (r.pid, s.w.cosigner2)
    ),
    "discard_draft": lambda s, r: Call(s.w.member, proposals.discard_draft, (r.pid,)),
    "submit": lambda s, r: Call(s.w.member, proposals.submit, (r.pid,)),
    "confirm_cosign": lambda s, r: Call(s.w.cosigner, proposals.confirm_cosign, (r.pid,)),
    "decline_cosign": lambda s, r: Call(s.w.cosigner, proposals.decline_cosign, (r.pid,)),
    "withdraw": lambda s, r: Call(s.w.member, proposals.withdraw, (r.pid, "需要补充调研")),
    "request_cosign": lambda s, r: Call(s.w.outsider, proposals.request_to_cosign, (r.pid,)),
    "add_cosigner": lambda s, r: Call(s.w.member, proposals.add_cosigner, (r.pid, s.w.outsider)),
    "file": lambda s, r: Call(s.w.staff, proposals.file_proposal, (r.pid,)),
    "reject": lambda s, r: Call(s.w.staff, proposals.reject, (r.pid, "不属于提案范围")),
    "merge": lambda s, r: Call(s.w.staff, proposals.merge, (r.pid, _target(s, r))),
    "convert": lambda s, r: Call(s.w.staff, proposals.convert, (r.pid, "转有关部门参考")),
    "assign": lambda s, r: Call(
        s.w.staff,
        assignments.assign,
        (r.pid,),
        {"lead_unit_id": s.w.education, "co_unit_ids": [s.w.transport]},
    ),
    "submit_reply": lambda s, r: Call(
        s.w.handler_edu, replies.submit_reply, (r.lead,), dict(SAMPLE_REPLY)
    ),
    "return_reply": lambda s, r: Call(s.w.staff, replies.return_reply, (r.reply, "请修改。")),
    "approve_reply": lambda s, r: Call(s.w.staff, replies.approve_reply, (r.reply,)),
    "rate": lambda s, r: Call(s.w.member, replies.rate, (r.pid,), {"work": "satisfied"}),
    "order_rehandle": lambda s, r: Call(s.w.staff, replies.order_rehandle, (r.pid,)),
    "close": lambda s, r: Call(s.w.staff, replies.close, (r.pid,)),
}

ASSIGNMENT_CALLS: dict[str, Callable[[States, Rec], Call]] = {
    "accept": lambda s, r: Call(r.handler, assignments.accept, (r.asg,)),
    "request_adjustment": lambda s, r: Call(
        r.handler, assignments.request_adjustment, (r.asg, "不属于本单位职责")
    ),
    "window_closed": lambda s, r: Call(None, assignments.close_adjustment_window, (r.asg,)),
    "reassign": lambda s, r: Call(s.w.staff, assignments.reassign, (r.asg, s.w.health)),
    "refuse_adjustment": lambda s, r: Call(
        s.w.staff, assignments.refuse_adjustment, (r.asg, "属于本单位职责")
    ),
    "record_contact": lambda s, r: Call(
        r.handler, assignments.record_contact, (r.asg,), _contact(s)
    ),
    "give_opinion": lambda s, r: Call(
        r.handler, assignments.give_opinion, (r.asg, "建议同步优化周边信号灯配时。")
    ),
    "submit_reply": lambda s, r: Call(
        r.handler, replies.submit_reply, (r.asg,), dict(SAMPLE_REPLY)
    ),
    # the same call: a proposal with co-handling units still on it is countersigned first
    "submit_for_countersign": lambda s, r: Call(
        r.handler, replies.submit_reply, (r.asg,), dict(SAMPLE_REPLY)
    ),
    "return_reply": lambda s, r: Call(s.w.staff, replies.return_reply, (r.reply, "请修改。")),
    "approve_reply": lambda s, r: Call(s.w.staff, replies.approve_reply, (r.reply,)),
    "request_extension": lambda s, r: Call(
        r.handler, assignments.request_extension, (r.asg, "需协调多个部门，申请延期一个月")
    ),
    "extend": lambda s, r: Call(s.w.staff, assignments.extend, (r.asg,)),
    "refuse_extension": lambda s, r: Call(s.w.staff, assignments.refuse_extension, (r.asg,)),
}

# Not in the transition tables but calls the permission matrix covers too.
OTHER_CALLS: dict[str, Callable[[States, Rec], Call]] = {
    "create_draft": lambda s, r: Call(
        s.w.member,
        proposals.create_draft,
        (),
        {"title": MAIN_TITLE, "analysis": SAMPLE_ANALYSIS, "suggestions": SAMPLE_SUGGESTIONS},
    ),
    "remove_cosigner": lambda s, r: Call(
        s.w.member, proposals.remove_cosigner, (r.pid, s.w.cosigner)
    ),
    "issue_invite": lambda s, r: Call(s.w.staff, invites.issue_invite, (s.w.member,)),
    # 延期 of a unit's open request (the transition extend, with the request checked)
    "grant_extension": lambda s, r: Call(s.w.staff, assignments.grant_extension, (r.asg,)),
}
