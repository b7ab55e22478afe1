"""Every move of the transition tables, legal and illegal.

* Every legal move (each action from each of its source statuses) through the service that
  takes it: the status it leads to, the audit events written and who is told what.
* Every illegal move (each action from each status outside its sources): refused with
  ``InvalidTransition`` (or ``AlreadyHandled``) in Chinese, and nothing in the database
  changes.
* Moves only the system takes are refused to every person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import pytest
from sqlmodel import Session, col, select

from storage.models import Assignment, AuditEvent, Notice, Proposal, Reply
from tests.factories import World
from tests.snapshot import assert_unchanged, is_chinese, snapshot
from tests.states import (
    ASSIGNMENT_CALLS,
    MAIN_TITLE,
    OTHER_CALLS,
    PROPOSAL_CALLS,
    Call,
    Rec,
    States,
)
from workflow import assignments, countersigns, proposals, replies
from workflow.core import Workflow, require_role, require_status
from workflow.errors import AlreadyHandled, InvalidTransition, PermissionDenied
from workflow.rules import Rules
from workflow.statuses import (
    ASSIGNMENT_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AssignmentStatus,
    ProposalStatus,
    assignment_label,
    proposal_label,
)

UNITS = {"education", "transport", "health", "inspection"}
PEOPLE = [f.name for f in fields(World) if f.name not in UNITS]  # every person of the roster
PROPOSAL_KEYS = {"pid", "main", "merged"}  # Rec fields naming proposals; the rest assignments


def run(s: States, call: Call):
    return s.run(call.actor, call.fn, *call.args, **call.kwargs)


def do(action: str) -> Callable[[States, Rec], object]:
    """Take a proposal action as the person who rightly takes it."""
    return lambda s, r: run(s, PROPOSAL_CALLS[action](s, r))


def do_asg(action: str) -> Callable[[States, Rec], object]:
    return lambda s, r: run(s, ASSIGNMENT_CALLS[action](s, r))


# ================================================================= legal moves


def _extension_asked(status: str, role: str = "lead") -> Callable[[States], Rec]:
    """The unit's assignment in ``status``, and its request for more time."""

    def build(s: States) -> Rec:
        rec = s.assignment(status, role)
        run(s, ASSIGNMENT_CALLS["request_extension"](s, rec))
        return rec

    return build


@dataclass
class Legal:
    """One legal move: how to reach the source status, how to take the move, and what must
    follow. ``events`` are the audit events written, in order, as (action, from, to, actor);
    ``notices`` maps each notice kind to the people told (World field names)."""

    name: str
    covers: list[tuple[str, str, str]]  # ("proposal"|"assignment", action, source status)
    build: Callable[[States], Rec]
    act: Callable[[States, Rec], object]
    statuses: dict[str, str]  # Rec field -> status afterwards
    events: list[tuple[str, str | None, str | None, str | None]]
    notices: dict[str, list[str]] = field(default_factory=dict)


def P(action, source):  # a proposal move; reads as a table
    return ("proposal", action, source)


def A(action, source):  # an assignment move
    return ("assignment", action, source)


def _file_build(s: States) -> Rec:
    """Submitted with 何平 confirmed and 黄蕾 still unconfirmed at review."""
    pid = s.draft(cosigners=[s.w.cosigner, s.w.cosigner2])
    s.run(s.w.member, proposals.submit, pid)
    s.run(s.w.cosigner, proposals.confirm_cosign, pid)
    return Rec(pid=pid)


def _merge_build(s: States) -> Rec:
    rec = s.proposal("submitted")
    rec.main = s.filed(title=MAIN_TITLE)
    return rec


def _key_assign(s: States, r: Rec):
    w = s.w
    return s.run(
        w.staff,
        assignments.assign,
        r.pid,
        lead_unit_id=w.education,
        co_unit_ids=[w.transport],
        is_key=True,
        supervising_unit_id=w.inspection,
        lead_leader_id=w.leader,
    )


def _approve_as(person: str):
    return lambda s, r: s.run(getattr(s.w, person), replies.approve_reply, r.reply)


def _co_pending_build(s: States) -> Rec:
    pid, lead, co = s.assigned()
    s.run(s.w.handler_edu, assignments.accept, lead)
    return Rec(pid=pid, lead=lead, co=co, reply=s.submit_reply(lead))


def _co_opinion_build(s: States) -> Rec:
    pid, lead, co = s.accepted()
    s.run(s.w.handler_tr, assignments.give_opinion, co, "建议优化信号灯配时。")
    return Rec(pid=pid, lead=lead, co=co, reply=s.submit_reply(lead))


def _co_adjusting_build(s: States) -> Rec:
    pid, lead, co = s.assigned()
    s.run(s.w.handler_edu, assignments.accept, lead)
    s.run(s.w.handler_tr, assignments.request_adjustment, co, "不属于本单位职责")
    return Rec(pid=pid, lead=lead, co=co, reply=s.submit_reply(lead))


def _merged_replied(s: States) -> Rec:
    """A main proposal (lead unit only) with the outsider's proposal merged into it, and the
    main's reply submitted."""
    pid, lead, _ = s.accepted(co=False)
    merged = s.merged_into(pid, author=s.w.outsider)
    return Rec(pid=pid, lead=lead, merged=merged, reply=s.submit_reply(lead))


def _merged_delivered(s: States) -> Rec:
    rec = _merged_replied(s)
    s.run(s.w.staff, replies.approve_reply, rec.reply)
    return rec


def _merged_rated_unsatisfied(s: States) -> Rec:
    """The main's reply delivered to it and to the merged one, and rated 不满意."""
    rec = _merged_delivered(s)
    s.run(s.w.member, replies.rate, rec.pid, work="unsatisfied")
    return rec


def _merged_redelivery(s: States) -> Rec:
    """The main proposal handled again after 不满意, the merged one waiting with it."""
    rec = _merged_rated_unsatisfied(s)
    s.run(s.w.staff, replies.order_rehandle, rec.pid)
    rec.reply = s.submit_reply(rec.lead)
    return rec


def _delivered_then(*steps) -> Callable[[States], Rec]:
    def build(s: States) -> Rec:
        rec = s.proposal("delivered")
        for step in steps:
            step(s, rec)
        return rec

    return build


def _rated(person: str, work: str):
    return lambda s, r: s.run(getattr(s.w, person), replies.rate, r.pid, work=work)


def _after_rating_window(s: States, r: Rec) -> None:
    s.wf.clock.advance(days=40)


def _merged_after_rating_window(s: States) -> Rec:
    rec = _merged_delivered(s)
    _after_rating_window(s, rec)
    return rec


def _after_adjustment_window(s: States) -> Rec:
    rec = s.assignment("pending")
    s.wf.clock.advance(days=20)
    return rec


def _lead_only(key: bool = False) -> Callable[[States], Rec]:
    """A proposal assigned to the lead unit alone (no co-handling unit: no 会签), accepted."""

    def build(s: States) -> Rec:
        pid, lead, _ = s.accepted(co=False, key=key)
        return Rec(pid=pid, lead=lead)

    return build


def _countersign_window_ended(s: States) -> Rec:
    rec = s.assignment("countersigning")
    s.wf.clock.advance(days=10)  # five working days and more
    return rec


def _opinion_again(s: States) -> Rec:
    rec = s.assignment("opinion_given", "co")
    s.wf.clock.advance(minutes=5)  # the opinion notice's key carries the time
    return rec


STAFF = ["staff", "staff2"]
EDU = ["handler_edu", "handler_edu2"]
TR = ["handler_tr"]
SIGNERS = ["member", "cosigner"]

LEGAL = [
    # --- drafting and co-signing
    Legal(
        "edit_draft",
        [P("edit_draft", "draft")],
        lambda s: s.proposal("draft"),
        do("edit_draft"),
        {"pid": "draft"},
        [("edit_draft", None, None, "member")],
    ),
    Legal(
        "invite_cosigner",
        [P("invite_cosigner", "draft")],
        lambda s: s.proposal("draft"),
        do("invite_cosigner"),
        {"pid": "draft"},
        [("invite_cosigner", None, None, "member")],
    ),
    Legal(
        "discard_draft",
        [P("discard_draft", "draft")],
        lambda s: s.proposal("draft"),
        do("discard_draft"),
        {"pid": "withdrawn"},
        [("discard_draft", "draft", "withdrawn", "member")],
    ),
    Legal(
        "submit",
        [P("submit", "draft")],
        lambda s: s.proposal("draft"),
        do("submit"),
        {"pid": "submitted"},
        [("submit", "draft", "submitted", "member")],
        {"submitted_receipt": ["member"], "review_queue": STAFF, "cosign_request": ["cosigner"]},
    ),
    Legal(
        "confirm_cosign",
        [P("confirm_cosign", "submitted")],
        lambda s: s.proposal("submitted", confirm=False),
        do("confirm_cosign"),
        {"pid": "submitted"},
        [("confirm_cosign", None, None, "cosigner")],
        {"cosign_response": ["member"]},
    ),
    Legal(
        "decline_cosign",
        [P("decline_cosign", "submitted")],
        lambda s: s.proposal("submitted", confirm=False),
        do("decline_cosign"),
        {"pid": "submitted"},
        [("decline_cosign", None, None, "cosigner")],
        {"cosign_response": ["member"]},
    ),
    Legal(
        "request_cosign (a member asks to join)",
        [P("request_cosign", "submitted")],
        lambda s: s.proposal("submitted"),
        do("request_cosign"),
        {"pid": "submitted"},
        [("request_cosign", None, None, "outsider")],
        {"cosign_wish": ["member"]},
    ),
    Legal(
        "add_cosigner (the proposer invites before the cut-off)",
        [P("add_cosigner", "submitted")],
        lambda s: s.proposal("submitted"),
        do("add_cosigner"),
        {"pid": "submitted"},
        [("add_cosigner", None, None, "member")],
        {"cosign_request": ["outsider"]},
    ),
    Legal(
        "withdraw",
        [P("withdraw", "submitted")],
        lambda s: s.proposal("submitted"),
        do("withdraw"),
        {"pid": "withdrawn"},
        [("withdraw", "submitted", "withdrawn", "member")],
        {"withdrawn": [*STAFF, "cosigner"]},
    ),
    # --- review
    Legal(
        "file (an unconfirmed co-signer drops off)",
        [P("file", "submitted")],
        _file_build,
        do("file"),
        {"pid": "filed"},
        [("cosign_expired", None, None, "staff"), ("file", "submitted", "filed", "staff")],
        {"cosign_expired": ["member"], "cosign_ended": ["cosigner2"], "filed": SIGNERS},
    ),
    Legal(
        "reject",
        [P("reject", "submitted")],
        lambda s: s.proposal("submitted"),
        do("reject"),
        {"pid": "not_filed"},
        [("reject", "submitted", "not_filed", "staff")],
        {"not_filed": SIGNERS},
    ),
    Legal(
        "merge",
        [P("merge", "submitted")],
        _merge_build,
        do("merge"),
        {"pid": "merged", "main": "filed"},
        [("merge", "submitted", "merged", "staff")],
        {"merged": SIGNERS},
    ),
    Legal(
        "convert",
        [P("convert", "submitted")],
        lambda s: s.proposal("submitted"),
        do("convert"),
        {"pid": "converted"},
        [("convert", "submitted", "converted", "staff")],
        {"converted": SIGNERS},
    ),
    # --- 交办 and the units
    Legal(
        "assign",
        [P("assign", "filed")],
        lambda s: s.proposal("filed"),
        do("assign"),
        {"pid": "assigned"},
        [
            ("assign", "filed", "assigned", "staff"),
            ("assignment_create", None, "pending", "staff"),
            ("assignment_create", None, "pending", "staff"),
        ],
        {"assigned": [*EDU, "handler_tr"]},
    ),
    Legal(
        "assign (key proposal)",
        [P("assign", "filed")],
        lambda s: s.proposal("filed"),
        _key_assign,
        {"pid": "assigned"},
        [
            ("assign", "filed", "assigned", "staff"),
            ("assignment_create", None, "pending", "staff"),
            ("assignment_create", None, "pending", "staff"),
        ],
        {"assigned": [*EDU, "handler_tr"], "assigned_watch": ["supervisor", "leader"]},
    ),
    Legal(
        "accept",
        [A("accept", "pending")],
        lambda s: s.assignment("pending"),
        do_asg("accept"),
        {"asg": "accepted", "co": "pending", "pid": "assigned"},
        [("assignment_accept", "pending", "accepted", "handler_edu")],
    ),
    Legal(
        "request_adjustment",
        [A("request_adjustment", "pending")],
        lambda s: s.assignment("pending"),
        do_asg("request_adjustment"),
        {"asg": "adjustment_requested"},
        [("assignment_request_adjustment", "pending", "adjustment_requested", "handler_edu")],
        {"adjustment_requested": STAFF},
    ),
    Legal(
        "window_closed (by the system, after the window)",
        [A("window_closed", "pending")],
        _after_adjustment_window,
        do_asg("window_closed"),
        {"asg": "accepted"},
        [("assignment_window_closed", "pending", "accepted", None)],
        {"adjustment_window_closed": [*EDU, *STAFF]},
    ),
    Legal(
        "reassign",
        [A("reassign", "adjustment_requested")],
        lambda s: s.assignment("adjustment_requested"),
        do_asg("reassign"),
        {"asg": "reassigned"},
        [
            ("assignment_reassign", "adjustment_requested", "reassigned", "staff"),
            ("assignment_create", None, "pending", "staff"),
        ],
        {"adjustment_granted": EDU, "assigned": ["handler_health"], "partner_reassigned": TR},
    ),
    Legal(
        "refuse_adjustment",
        [A("refuse_adjustment", "adjustment_requested")],
        lambda s: s.assignment("adjustment_requested"),
        do_asg("refuse_adjustment"),
        {"asg": "accepted"},
        [("assignment_refuse_adjustment", "adjustment_requested", "accepted", "staff")],
        {"adjustment_refused": EDU},
    ),
    Legal(
        "record_contact (lead unit)",
        [A("record_contact", "accepted")],
        lambda s: s.assignment("accepted"),
        do_asg("record_contact"),
        {"asg": "accepted"},
        [("assignment_record_contact", None, None, "handler_edu")],
    ),
    Legal(
        "record_contact (co-handling unit, after its opinion)",
        [A("record_contact", "opinion_given")],
        lambda s: s.assignment("opinion_given", "co"),
        do_asg("record_contact"),
        {"asg": "opinion_given"},
        [("assignment_record_contact", None, None, "handler_tr")],
    ),
    Legal(
        "record_contact (lead unit, reply under review)",
        [A("record_contact", "replied")],
        lambda s: s.assignment("replied"),
        do_asg("record_contact"),
        {"asg": "replied", "pid": "replied"},
        [("assignment_record_contact", None, None, "handler_edu")],
    ),
    Legal(
        "request_extension (lead unit)",
        [A("request_extension", "accepted")],
        lambda s: s.assignment("accepted"),
        do_asg("request_extension"),
        {"asg": "accepted"},
        [("assignment_request_extension", None, None, "handler_edu")],
        {"extension_requested": STAFF},
    ),
    Legal(
        "request_extension (co-handling unit, after its opinion)",
        [A("request_extension", "opinion_given")],
        lambda s: s.assignment("opinion_given", "co"),
        do_asg("request_extension"),
        {"asg": "opinion_given"},
        [("assignment_request_extension", None, None, "handler_tr")],
        {"extension_requested": STAFF},
    ),
    Legal(
        "extend (not yet accepted)",
        [A("extend", "pending")],
        lambda s: s.assignment("pending"),
        do_asg("extend"),
        {"asg": "pending"},
        [("assignment_extend", None, None, "staff")],
        {"extended": EDU},
    ),
    Legal(
        "extend (lead unit handling)",
        [A("extend", "accepted")],
        lambda s: s.assignment("accepted"),
        do_asg("extend"),
        {"asg": "accepted", "pid": "assigned"},
        [("assignment_extend", None, None, "staff")],
        {"extended": EDU},
    ),
    Legal(
        "extend (co-handling unit after its opinion)",
        [A("extend", "opinion_given")],
        lambda s: s.assignment("opinion_given", "co"),
        do_asg("extend"),
        {"asg": "opinion_given"},
        [("assignment_extend", None, None, "staff")],
        {"extended": ["handler_tr"]},
    ),
    Legal(
        "extend (a unit's request granted)",
        [A("extend", "accepted")],
        _extension_asked("accepted"),
        lambda s, r: run(s, OTHER_CALLS["grant_extension"](s, r)),
        {"asg": "accepted", "pid": "assigned"},
        [("assignment_extend", None, None, "staff")],
        {"extended": EDU},
    ),
    Legal(
        "refuse_extension (lead unit handling)",
        [A("refuse_extension", "accepted")],
        _extension_asked("accepted"),
        do_asg("refuse_extension"),
        {"asg": "accepted", "pid": "assigned"},
        [("assignment_refuse_extension", None, None, "staff")],
        {"extension_refused": EDU},
    ),
    Legal(
        "refuse_extension (co-handling unit after its opinion)",
        [A("refuse_extension", "opinion_given")],
        _extension_asked("opinion_given", "co"),
        do_asg("refuse_extension"),
        {"asg": "opinion_given"},
        [("assignment_refuse_extension", None, None, "staff")],
        {"extension_refused": ["handler_tr"]},
    ),
    Legal(
        "give_opinion",
        [A("give_opinion", "accepted")],
        lambda s: s.assignment("accepted", "co"),
        do_asg("give_opinion"),
        {"asg": "opinion_given"},
        [("assignment_give_opinion", "accepted", "opinion_given", "handler_tr")],
        {"opinion_given": EDU},
    ),
    Legal(
        "give_opinion (revised)",
        [A("give_opinion", "opinion_given")],
        _opinion_again,
        do_asg("give_opinion"),
        {"asg": "opinion_given"},
        [("assignment_give_opinion", "opinion_given", "opinion_given", "handler_tr")],
        {"opinion_given": EDU},
    ),
    # --- the reply and its review
    Legal(
        "submit_reply (no co-handling unit: straight to review)",
        [P("submit_reply", "assigned"), A("submit_reply", "accepted")],
        _lead_only(),
        do("submit_reply"),
        {"pid": "replied", "lead": "replied"},
        [
            ("assignment_submit_reply", "accepted", "replied", "handler_edu"),
            ("submit_reply", "assigned", "replied", "handler_edu"),
        ],
        {"reply_submitted": STAFF},
    ),
    Legal(
        "submit_reply (key proposal: its supervisor reviews too)",
        [P("submit_reply", "assigned"), A("submit_reply", "accepted")],
        _lead_only(key=True),
        do("submit_reply"),
        {"pid": "replied", "lead": "replied"},
        [
            ("assignment_submit_reply", "accepted", "replied", "handler_edu"),
            ("submit_reply", "assigned", "replied", "handler_edu"),
        ],
        {"reply_submitted": [*STAFF, "supervisor"]},
    ),
    Legal(
        "submit_for_countersign (the co-handling unit countersigns first)",
        [A("submit_for_countersign", "accepted")],
        lambda s: s.proposal("accepted"),
        do("submit_reply"),
        {"pid": "assigned", "lead": "countersigning", "co": "accepted"},
        [("assignment_submit_for_countersign", "accepted", "countersigning", "handler_edu")],
        {"countersign_requested": TR},
    ),
    Legal(
        "countersigned (the co-handling unit agrees: the reply goes to review)",
        [A("countersigned", "countersigning"), P("submit_reply", "assigned")],
        lambda s: s.assignment("countersigning"),
        lambda s, r: s.run(s.w.handler_tr, countersigns.agree, r.reply),
        {"pid": "replied", "lead": "replied", "co": "accepted"},
        [
            ("countersign", None, None, "handler_tr"),
            ("assignment_countersigned", "countersigning", "replied", None),
            ("submit_reply", "assigned", "replied", None),
        ],
        {"reply_submitted": STAFF, "countersign_done": EDU},
    ),
    Legal(
        "countersigned (the window ended: 逾期未会签，视为同意)",
        [A("countersigned", "countersigning"), P("submit_reply", "assigned")],
        _countersign_window_ended,
        lambda s, r: s.run(None, countersigns.close_window, r.reply),
        {"pid": "replied", "lead": "replied", "co": "accepted"},
        [
            ("countersign_deemed", None, None, None),
            ("assignment_countersigned", "countersigning", "replied", None),
            ("submit_reply", "assigned", "replied", None),
        ],
        {"reply_submitted": STAFF, "countersign_done": EDU},
    ),
    Legal(
        "countersign_returned (the co-handling unit asks for changes)",
        [A("countersign_returned", "countersigning")],
        lambda s: s.assignment("countersigning"),
        lambda s, r: s.run(
            s.w.handler_tr, countersigns.object_to, r.reply, "请补充停车泊位数量。"
        ),
        {"pid": "assigned", "lead": "accepted", "co": "accepted"},
        [
            ("countersign_object", None, None, "handler_tr"),
            ("assignment_countersign_returned", "countersigning", "accepted", None),
        ],
        {"countersign_objected": EDU},
    ),
    Legal(
        "record_contact (while the reply waits for 会签)",
        [A("record_contact", "countersigning")],
        lambda s: s.assignment("countersigning"),
        do_asg("record_contact"),
        {"asg": "countersigning"},
        [("assignment_record_contact", None, None, "handler_edu")],
    ),
    Legal(
        "return_reply",
        [P("return_reply", "replied"), A("return_reply", "replied")],
        lambda s: s.proposal("replied"),
        do("return_reply"),
        {"pid": "assigned", "lead": "accepted"},
        [
            ("assignment_return_reply", "replied", "accepted", "staff"),
            ("return_reply", "replied", "assigned", "staff"),
        ],
        {"reply_returned": EDU},
    ),
    Legal(
        "return_reply (key proposal, by its supervisor)",
        [P("return_reply", "replied"), A("return_reply", "replied")],
        lambda s: s.proposal("replied", key=True),
        lambda s, r: s.run(s.w.supervisor, replies.return_reply, r.reply, "请补充。"),
        {"pid": "assigned", "lead": "accepted"},
        [
            ("assignment_return_reply", "replied", "accepted", "supervisor"),
            ("return_reply", "replied", "assigned", "supervisor"),
        ],
        # the lead leader follows it; the supervisor who returned it is not told
        {"reply_returned": EDU, "reply_returned_watch": ["leader"]},
    ),
    Legal(
        "return_reply (key proposal, by staff)",
        [P("return_reply", "replied"), A("return_reply", "replied")],
        lambda s: s.proposal("replied", key=True),
        do("return_reply"),
        {"pid": "assigned", "lead": "accepted"},
        [
            ("assignment_return_reply", "replied", "accepted", "staff"),
            ("return_reply", "replied", "assigned", "staff"),
        ],
        {"reply_returned": EDU, "reply_returned_watch": ["supervisor", "leader"]},
    ),
    Legal(
        "approve_reply (the accepted co-handling unit completes)",
        [P("approve_reply", "replied"), A("approve_reply", "replied"), A("complete", "accepted")],
        lambda s: s.proposal("replied"),
        do("approve_reply"),
        {"pid": "delivered", "lead": "done", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("assignment_complete", "accepted", "done", None),
            ("approve_reply", "replied", "delivered", "staff"),
        ],
        {"reply_approved": EDU, "co_reply_approved": TR, "reply_delivered": SIGNERS},
    ),
    Legal(
        "approve_reply (key proposal, by its supervisor)",
        [P("approve_reply", "replied"), A("approve_reply", "replied"), A("complete", "accepted")],
        lambda s: s.proposal("replied", key=True),
        _approve_as("supervisor"),
        {"pid": "delivered", "lead": "done", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "supervisor"),
            ("assignment_complete", "accepted", "done", None),
            ("approve_reply", "replied", "delivered", "supervisor"),
        ],
        # the lead leader follows it; the supervisor who approved it is not told
        {
            "reply_approved": EDU,
            "co_reply_approved": TR,
            "reply_approved_watch": ["leader"],
            "reply_delivered": SIGNERS,
        },
    ),
    Legal(
        "approve_reply (key proposal, by staff)",
        [P("approve_reply", "replied"), A("approve_reply", "replied"), A("complete", "accepted")],
        lambda s: s.proposal("replied", key=True),
        do("approve_reply"),
        {"pid": "delivered", "lead": "done", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("assignment_complete", "accepted", "done", None),
            ("approve_reply", "replied", "delivered", "staff"),
        ],
        {
            "reply_approved": EDU,
            "co_reply_approved": TR,
            "reply_approved_watch": ["supervisor", "leader"],
            "reply_delivered": SIGNERS,
        },
    ),
    Legal(
        "complete (a co-handling unit that never accepted)",
        [A("complete", "pending")],
        _co_pending_build,
        do("approve_reply"),
        {"pid": "delivered", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("assignment_complete", "pending", "done", None),
            ("approve_reply", "replied", "delivered", "staff"),
        ],
        {"reply_approved": EDU, "co_reply_approved": TR, "reply_delivered": ["member"]},
    ),
    Legal(
        "complete (a co-handling unit that gave its opinion)",
        [A("complete", "opinion_given")],
        _co_opinion_build,
        do("approve_reply"),
        {"pid": "delivered", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("assignment_complete", "opinion_given", "done", None),
            ("approve_reply", "replied", "delivered", "staff"),
        ],
        {"reply_approved": EDU, "co_reply_approved": TR, "reply_delivered": ["member"]},
    ),
    Legal(
        "complete (a co-handling unit whose adjustment request is undecided)",
        [A("complete", "adjustment_requested")],
        _co_adjusting_build,
        do("approve_reply"),
        {"pid": "delivered", "co": "done"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("assignment_complete", "adjustment_requested", "done", None),
            ("approve_reply", "replied", "delivered", "staff"),
        ],
        {"reply_approved": EDU, "co_reply_approved": TR, "reply_delivered": ["member"]},
    ),
    Legal(
        "deliver_merged (the merged proposal gets the main's reply)",
        [P("deliver_merged", "merged")],
        _merged_replied,
        do("approve_reply"),
        {"pid": "delivered", "merged": "delivered"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("approve_reply", "replied", "delivered", "staff"),
            ("deliver_merged", "merged", "delivered", None),
        ],
        {"reply_approved": EDU, "reply_delivered": ["member", "outsider"]},
    ),
    Legal(
        "deliver_merged (again, after the main was handled again)",
        [P("deliver_merged", "merged")],
        _merged_redelivery,
        do("approve_reply"),
        {"pid": "delivered", "merged": "delivered"},
        [
            ("assignment_approve_reply", "replied", "done", "staff"),
            ("approve_reply", "replied", "delivered", "staff"),
            ("deliver_merged", "merged", "delivered", None),
        ],
        {"reply_approved": EDU, "reply_delivered": ["member", "outsider"]},
    ),
    # --- rating, 重新办理, 办结
    Legal(
        "rate (不满意)",
        [P("rate", "delivered")],
        lambda s: s.proposal("delivered"),
        _rated("member", "unsatisfied"),
        {"pid": "delivered"},
        [("rate", None, None, "member")],
        {"rated_unsatisfied": [*STAFF, *EDU]},
    ),
    Legal(
        "rate (the last signer is satisfied: the proposal closes)",
        [P("rate", "delivered")],
        _delivered_then(_rated("cosigner", "satisfied")),
        _rated("member", "satisfied"),
        {"pid": "closed"},
        [("rate", None, None, "member"), ("close", "delivered", "closed", None)],
        {"closed": SIGNERS},
    ),
    Legal(
        "order_rehandle",
        [P("order_rehandle", "delivered"), A("rehandle", "done")],
        _delivered_then(_rated("member", "unsatisfied")),
        do("order_rehandle"),
        {"pid": "assigned", "lead": "accepted", "co": "done"},
        [
            ("assignment_rehandle", "done", "accepted", "staff"),
            ("order_rehandle", "delivered", "assigned", "staff"),
        ],
        {"rehandle_ordered": EDU, "rehandle_ordered_member": SIGNERS},
    ),
    Legal(
        "rehandle_merged (the merged proposal waits for the main's new reply)",
        [P("rehandle_merged", "delivered")],
        _merged_rated_unsatisfied,
        do("order_rehandle"),
        {"pid": "assigned", "merged": "merged", "lead": "accepted"},
        [
            ("assignment_rehandle", "done", "accepted", "staff"),
            ("order_rehandle", "delivered", "assigned", "staff"),
            ("rehandle_merged", "delivered", "merged", None),
        ],
        {"rehandle_ordered": EDU, "rehandle_ordered_member": ["member", "outsider"]},
    ),
    Legal(
        "close (after the rating window; the missing rating is recorded)",
        [P("close", "delivered")],
        _delivered_then(_rated("member", "unsatisfied"), _after_rating_window),
        do("close"),
        {"pid": "closed"},
        [("rating_not_given", None, None, "staff"), ("close", "delivered", "closed", "staff")],
        {"closed": SIGNERS},
    ),
    Legal(
        "close_merged (closing the main closes the merged one)",
        [P("close_merged", "delivered")],
        _merged_after_rating_window,
        do("close"),
        {"pid": "closed", "merged": "closed"},
        [
            ("rating_not_given", None, None, "staff"),
            ("close", "delivered", "closed", "staff"),
            ("rating_not_given", None, None, None),
            ("close_merged", "delivered", "closed", None),
        ],
        {"closed": ["member", "outsider"]},
    ),
]


# A legal move no sequence of service calls can take, and why.
UNREACHABLE_LEGAL = {
    P("close_merged", "merged"): "a proposal can only be merged into a filed or assigned one, "
    "and approving the main's reply delivers every merged proposal before the main can close",
}


def all_moves(kind: str, *, legal: bool) -> set[tuple[str, str, str]]:
    table, statuses = (
        (PROPOSAL_TRANSITIONS, ProposalStatus)
        if kind == "proposal"
        else (ASSIGNMENT_TRANSITIONS, AssignmentStatus)
    )
    return {
        (kind, action, status.value)
        for action, t in table.items()
        for status in statuses
        if (status.value in t.sources) == legal
    }


def test_every_legal_move_has_a_case():
    covered = {move for case in LEGAL for move in case.covers}
    expected = all_moves("proposal", legal=True) | all_moves("assignment", legal=True)
    assert covered | set(UNREACHABLE_LEGAL) == expected
    assert not covered & set(UNREACHABLE_LEGAL)


def _names(world: World) -> dict[int, str]:
    return {getattr(world, name): name for name in PEOPLE}


def _max_id(session: Session, model) -> int:
    return session.exec(select(model.id).order_by(col(model.id).desc()).limit(1)).first() or 0


@pytest.mark.parametrize("case", LEGAL, ids=[c.name for c in LEGAL])
def test_legal_move(db, wf, world, case: Legal):
    s = States(db, wf, world)
    rec = case.build(s)
    with db.read_session() as session:
        last_event, last_notice = _max_id(session, AuditEvent), _max_id(session, Notice)

    case.act(s, rec)

    names = _names(world)
    with db.read_session() as session:
        for key, status in case.statuses.items():
            model = Proposal if key in PROPOSAL_KEYS else Assignment
            assert session.get(model, getattr(rec, key)).status == status, key
        events = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_event).order_by(AuditEvent.id)
        ).all()
        notices = session.exec(select(Notice).where(Notice.id > last_notice)).all()
    assert [
        (e.action, e.from_status, e.to_status, names.get(e.actor_id)) for e in events
    ] == case.events
    told = Counter((n.kind, names[n.person_id]) for n in notices)
    expected = Counter((kind, who) for kind, people in case.notices.items() for who in people)
    assert told == expected
    assert all(is_chinese(n.text) for n in notices)


def test_delivery_notice_carries_the_rating_buttons(db, wf, world):
    s = States(db, wf, world)
    rec = s.proposal("delivered")
    with db.read_session() as session:
        notice = session.exec(
            select(Notice).where(Notice.kind == "reply_delivered", Notice.proposal_id == rec.pid)
        ).first()
    assert [a["payload"] for a in notice.actions] == [
        f"rate:{rec.pid}:satisfied:{rec.reply}",
        f"rate:{rec.pid}:basic:{rec.reply}",
        f"rate:{rec.pid}:unsatisfied:{rec.reply}",
    ]


# ================================================================= illegal moves

SYSTEM_PROPOSAL = {a for a, t in PROPOSAL_TRANSITIONS.items() if not t.roles}
SYSTEM_ASSIGNMENT = {a for a, t in ASSIGNMENT_TRANSITIONS.items() if not t.roles}

BEFORE_ASSIGNMENT = [
    "draft",
    "submitted",
    "withdrawn",
    "filed",
    "not_filed",
    "merged",
    "converted",
]
NO_REPLY_ASSIGNMENT = ["pending", "adjustment_requested", "reassigned", "opinion_given"]
REHANDLE_UNREACHED = [s.value for s in AssignmentStatus if s != AssignmentStatus.DONE]

# Illegal moves a service call cannot even try: the call names a record that a proposal or
# assignment in that status does not have. Each reason says why.
UNADDRESSABLE = {
    **{
        P(action, status): "the call names an assignment or a reply; a proposal has none "
        "before 交办 (a merged one is handled through its main proposal)"
        for action in ("submit_reply", "return_reply", "approve_reply")
        for status in BEFORE_ASSIGNMENT
    },
    **{
        A(action, status): "the call names a reply; none exists on an assignment in this status"
        for action in ("return_reply", "approve_reply")
        for status in NO_REPLY_ASSIGNMENT
    },
    A("give_opinion", "replied"): "only a lead assignment reaches 'replied', and a lead unit "
    "gives no opinion (InvalidInput: 主办单位不需要提出协办意见)",
    A("submit_reply", "opinion_given"): "only a co-handling assignment reaches "
    "'opinion_given', and a co-handling unit writes no reply (PermissionDenied)",
    A("submit_for_countersign", "opinion_given"): "only a co-handling assignment reaches "
    "'opinion_given', and a co-handling unit writes no reply (PermissionDenied)",
    A("give_opinion", "countersigning"): "only a lead assignment reaches 'countersigning', "
    "and a lead unit gives no opinion (InvalidInput: 主办单位不需要提出协办意见)",
    **{
        A("rehandle", status): "order_rehandle reaches the lead assignment only for a delivered "
        "proposal, whose lead assignment is always done; the proposal guard refuses first "
        "(see order_rehandle's illegal moves)"
        for status in REHANDLE_UNREACHED
    },
}

# Moves only the system takes inside another service (cascades); their illegal sources are
# checked at the guard and by the cascades' own tests below.
CASCADES = {
    ("proposal", "deliver_merged"),
    ("proposal", "rehandle_merged"),
    ("proposal", "close_merged"),
    ("assignment", "complete"),
    # 会签 ends in these, inside countersigns.agree / object_to / close_window
    ("assignment", "countersigned"),
    ("assignment", "countersign_returned"),
}

ILLEGAL_PROPOSAL = sorted(
    (action, status)
    for _, action, status in all_moves("proposal", legal=False)
    if action not in SYSTEM_PROPOSAL and P(action, status) not in UNADDRESSABLE
)
ILLEGAL_ASSIGNMENT = sorted(
    (action, status)
    for _, action, status in all_moves("assignment", legal=False)
    if ("assignment", action) not in CASCADES and A(action, status) not in UNADDRESSABLE
)


def test_every_illegal_move_is_tried_or_explained():
    tried = {P(a, s) for a, s in ILLEGAL_PROPOSAL} | {A(a, s) for a, s in ILLEGAL_ASSIGNMENT}
    cascades = {
        move
        for kind in ("proposal", "assignment")
        for move in all_moves(kind, legal=False)
        if (move[0], move[1]) in CASCADES
    }
    everything = all_moves("proposal", legal=False) | all_moves("assignment", legal=False)
    assert tried | set(UNADDRESSABLE) | cascades == everything
    assert not tried & set(UNADDRESSABLE)
    # Every person-taken action has its service call, and window_closed is tried as the system.
    people_actions = {a for a, t in PROPOSAL_TRANSITIONS.items() if t.roles}
    assert set(PROPOSAL_CALLS) == people_actions
    cascades = {"rehandle", "complete", "countersigned", "countersign_returned"}
    assert set(ASSIGNMENT_CALLS) | cascades == set(ASSIGNMENT_TRANSITIONS)


def _named(s: States, rec: Rec, action: str, label: str) -> str:
    """What a refusal must name: the status (「办理中」), or for reviewing a letter already
    reviewed, what the reviewer did with it (…审核通过，无法再退回答复)."""
    if action in ("return_reply", "approve_reply") and rec.reply is not None:
        decided = s.status(Reply, rec.reply)
        if decided in replies.REVIEWED:
            return f"{replies.REVIEWED[decided]}，无法再{PROPOSAL_TRANSITIONS[action].label}"
    return f"「{label}」"


def _refusal_problem(db, s: States, call: Call, named: str) -> str | None:
    """Take an illegal move; say what went wrong, or None if it was refused properly: with
    InvalidTransition (or AlreadyHandled) in Chinese naming the status (``named``),
    changing nothing."""
    before = snapshot(db)
    try:
        run(s, call)
    except InvalidTransition as error:
        message = str(error)
        if not is_chinese(message):
            return f"message not in Chinese: {message!r}"
        if named not in message:
            return f"message does not name the status {named}: {message}"
    except Exception as error:  # a wrong refusal, or a traceback
        return f"{type(error).__name__} instead of InvalidTransition: {error}"
    else:
        return "was allowed"
    after = snapshot(db)
    if after != before:
        return "changed the database: " + ", ".join(n for n in before if before[n] != after[n])
    return None


def _group(moves: list[tuple[str, str]], key) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for action, status in moves:
        groups.setdefault(key(action, status), []).append(action)
    return groups


# One fresh record per status, then every action that is illegal from that status, each
# refused with the database unchanged (building a status is what costs time; a refused move
# leaves the record as it was, so the next action meets the same status).
PROPOSAL_GROUPS = _group(ILLEGAL_PROPOSAL, lambda action, status: status)


@pytest.mark.parametrize("status", sorted(PROPOSAL_GROUPS))
def test_illegal_proposal_moves_from(db, wf, world, status):
    s = States(db, wf, world)
    rec = s.proposal(status)
    problems = []
    for action in PROPOSAL_GROUPS[status]:
        call = PROPOSAL_CALLS[action](s, rec)
        # The reply calls are refused by the assignment's guard, which names its status.
        label = (
            assignment_label(s.status(Assignment, rec.lead))
            if action in ("submit_reply", "return_reply", "approve_reply")
            else proposal_label(status)
        )
        problem = _refusal_problem(db, s, call, _named(s, rec, action, label))
        if problem:
            problems.append(f"{action} from {status}: {problem}")
    assert not problems, "\n".join(problems)
    assert s.status(Proposal, rec.pid) == status


def _subject(action: str, status: str) -> str:
    """Which record an assignment action is tried on."""
    if action in ("return_reply", "approve_reply"):
        return f"{status}-lead-with-reply"
    if action == "give_opinion" or status == "opinion_given":
        return f"{status}-co"
    return f"{status}-lead"


ASSIGNMENT_GROUPS = _group(ILLEGAL_ASSIGNMENT, _subject)


def _assignment_rec(s: States, subject: str) -> Rec:
    status, role, *reply = subject.split("-", 2)
    if reply and status == "countersigning":  # the reply waits for 会签
        return s.assignment(status, role)
    if reply:
        # The lead assignment with a reply on it: returned (accepted) or approved (done).
        rec = s.proposal({"accepted": "assigned", "done": "delivered"}[status])
        rec.asg, rec.handler = rec.lead, s.w.handler_edu
        return rec
    return s.assignment(status, role)


@pytest.mark.parametrize("subject", sorted(ASSIGNMENT_GROUPS))
def test_illegal_assignment_moves_from(db, wf, world, subject):
    s = States(db, wf, world)
    rec = _assignment_rec(s, subject)
    status = s.status(Assignment, rec.asg)
    problems = []
    for action in ASSIGNMENT_GROUPS[subject]:
        call = ASSIGNMENT_CALLS[action](s, rec)
        problem = _refusal_problem(db, s, call, _named(s, rec, action, assignment_label(status)))
        if problem:
            problems.append(f"{action} from {status}: {problem}")
    assert not problems, "\n".join(problems)
    assert s.status(Assignment, rec.asg) == status


# ---------------------------------------------------------------- moves only the system takes


@pytest.mark.parametrize(
    "action", sorted(SYSTEM_PROPOSAL | SYSTEM_ASSIGNMENT), ids=lambda a: f"system-{a}"
)
def test_system_moves_are_refused_to_every_person(db, wf, world, action):
    transition = PROPOSAL_TRANSITIONS.get(action) or ASSIGNMENT_TRANSITIONS[action]
    assert not transition.roles
    with db.session() as session:
        require_role(wf.ctx(session, None), transition)  # the system may
        for name in PEOPLE:
            with pytest.raises(PermissionDenied, match="由系统自动执行"):
                require_role(wf.ctx(session, getattr(world, name)), transition)


def test_adjustment_window_cannot_be_closed_by_a_person(db, wf, world, clock):
    s = States(db, wf, world)
    rec = _after_adjustment_window(s)
    before = snapshot(db)
    for name in PEOPLE:
        with pytest.raises(PermissionDenied) as refused:
            s.run(getattr(world, name), assignments.close_adjustment_window, rec.asg)
        assert "由系统自动执行" in str(refused.value)
    assert_unchanged(db, before)


SYSTEM_ILLEGAL = sorted(
    (action, status)
    for kind in ("proposal", "assignment")
    for _, action, status in all_moves(kind, legal=False)
    if (kind, action) in CASCADES or A(action, status) in UNADDRESSABLE and action == "rehandle"
)


@pytest.mark.parametrize(("action", "status"), SYSTEM_ILLEGAL)
def test_guard_refuses_moves_no_service_tries(db, wf, action, status):
    """Moves the services never try from these statuses (the cascades select only records in
    their sources, see below; order_rehandle's own guard comes first): the guard would
    refuse them all the same."""
    is_proposal = action in PROPOSAL_TRANSITIONS and action not in ASSIGNMENT_TRANSITIONS
    transition = (PROPOSAL_TRANSITIONS if is_proposal else ASSIGNMENT_TRANSITIONS)[action]
    with db.session() as session, pytest.raises(InvalidTransition) as refused:
        require_status(
            wf.ctx(session, None),
            transition,
            status,
            label=proposal_label if is_proposal else assignment_label,
            subject="提案",
            proposal_id=0,
            assignment_id=None if is_proposal else 0,
        )
    assert f"不能{transition.label}" in str(refused.value)


def test_cascades_skip_records_outside_their_sources(db, wf, world):
    """Approving a reply again (after 重新办理) neither re-delivers a merged proposal that
    has closed nor completes a co-handling assignment a second time."""
    s = States(db, wf, world)
    w = world
    pid, lead, co = s.accepted()
    merged = s.merged_into(pid, author=w.outsider)
    s.run(w.staff, replies.approve_reply, s.submit_reply(lead))
    s.run(w.outsider, replies.rate, merged, work="satisfied")  # the merged one closes
    s.run(w.member, replies.rate, pid, work="unsatisfied")
    s.run(w.staff, replies.order_rehandle, pid)
    again = s.submit_reply(lead)
    with db.read_session() as session:
        last_event = _max_id(session, AuditEvent)
        last_notice = _max_id(session, Notice)

    s.run(w.staff, replies.approve_reply, again)

    with db.read_session() as session:
        assert session.get(Proposal, merged).status == "closed"
        assert session.get(Assignment, co).status == "done"
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.id > last_event).order_by(AuditEvent.id)
        ).all()
        told = session.exec(select(Notice.person_id).where(Notice.id > last_notice)).all()
    assert actions == ["assignment_approve_reply", "approve_reply"]
    assert w.outsider not in told


def test_an_answered_proposal_takes_no_new_unit(db, wf, world):
    """Once the reply is approved, an undecided adjustment request of a co-handling unit
    is closed with it: staff can no longer hand the answered proposal to another unit."""
    s = States(db, wf, world)
    rec = _co_adjusting_build(s)
    s.run(world.staff, replies.approve_reply, rec.reply)
    before = snapshot(db)
    for fn, arg in ((assignments.reassign, world.health), (assignments.refuse_adjustment, "否")):
        with pytest.raises(InvalidTransition, match="「已办结」"):
            s.run(world.staff, fn, rec.co, arg)
    assert_unchanged(db, before)


def test_order_rehandle_as_often_as_the_rules_allow(db, world, clock):
    """重新办理 is limited by a setting; each time it tells the unit and the signers again."""
    wf = Workflow(rules=Rules(session_label="七届二次会议", max_rehandles=2), clock=clock)
    s = States(db, wf, world)
    pid, lead, reply = s.rated("unsatisfied")
    for _ in range(2):
        s.run(world.staff, replies.order_rehandle, pid)
        clock.advance(days=1)
        s.run(world.staff, replies.approve_reply, s.submit_reply(lead))
        s.run(world.member, replies.rate, pid, work="unsatisfied")
    with pytest.raises(InvalidTransition, match="重新办理过 2 次"):
        s.run(world.staff, replies.order_rehandle, pid)
    with db.read_session() as session:
        told = session.exec(
            select(Notice.person_id).where(Notice.kind == "rehandle_ordered_member")
        ).all()
    assert told == [world.member, world.member]


# ---------------------------------------------------------------- already handled


def test_filing_twice_says_who_filed_first(db, wf, world, clock):
    s = States(db, wf, world)
    pid = s.proposal("submitted").pid
    s.run(world.staff, proposals.file_proposal, pid)
    clock.advance(minutes=3)
    before = snapshot(db)
    with pytest.raises(AlreadyHandled) as refused:
        s.run(world.staff2, proposals.file_proposal, pid)
    error = refused.value
    assert error.by == "许静"
    assert "已由许静" in str(error) and "「已立案」" in str(error)
    assert error.status == "filed"
    assert_unchanged(db, before)


def test_accepting_twice_says_which_colleague_accepted(db, wf, world):
    s = States(db, wf, world)
    rec = s.assignment("pending")
    s.run(world.handler_edu, assignments.accept, rec.asg)
    before = snapshot(db)
    with pytest.raises(AlreadyHandled) as refused:
        s.run(world.handler_edu2, assignments.accept, rec.asg)
    assert refused.value.by == "高远" and "已由高远" in str(refused.value)
    assert_unchanged(db, before)


def test_a_refusal_after_a_move_by_the_system_names_the_system(db, wf, world):
    s = States(db, wf, world)
    rec = _after_adjustment_window(s)
    s.run(None, assignments.close_adjustment_window, rec.asg)
    with pytest.raises(AlreadyHandled) as refused:
        s.run(world.handler_edu, assignments.request_adjustment, rec.asg, "不属于本单位职责")
    assert refused.value.by == "系统" and "已由系统" in str(refused.value)


def test_an_illegal_move_without_a_competing_one_is_plainly_invalid(db, wf, world):
    s = States(db, wf, world)
    pid = s.proposal("draft").pid
    with pytest.raises(InvalidTransition) as refused:
        s.run(world.staff, proposals.file_proposal, pid)
    assert type(refused.value) is InvalidTransition
    assert "「草稿」" in str(refused.value) and "不能立案" in str(refused.value)
