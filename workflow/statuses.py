"""Statuses and their transition tables, declared once.

Each table maps an action to the statuses it may start from and the status it leads to.
Every service looks its action up here; nothing else decides whether a move is legal.
See ``workflow/lifecycle.mmd`` for the same graph drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workflow.roles import Role
from workflow.texts import label


class ProposalStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    FILED = "filed"
    NOT_FILED = "not_filed"
    MERGED = "merged"
    CONVERTED = "converted"
    ASSIGNED = "assigned"
    REPLIED = "replied"
    DELIVERED = "delivered"
    CLOSED = "closed"


PROPOSAL_STATUS_LABELS: dict[str, label] = {
    ProposalStatus.DRAFT: label("草稿"),
    ProposalStatus.SUBMITTED: label("待审查"),
    ProposalStatus.WITHDRAWN: label("已撤回"),
    ProposalStatus.FILED: label("已立案"),
    ProposalStatus.NOT_FILED: label("不予立案"),
    ProposalStatus.MERGED: label("已并案"),
    ProposalStatus.CONVERTED: label("转为意见建议"),
    ProposalStatus.ASSIGNED: label("办理中"),
    ProposalStatus.REPLIED: label("答复待审核"),
    ProposalStatus.DELIVERED: label("已答复"),
    ProposalStatus.CLOSED: label("已办结"),
}


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    ADJUSTMENT_REQUESTED = "adjustment_requested"
    REASSIGNED = "reassigned"
    OPINION_GIVEN = "opinion_given"
    COUNTERSIGNING = "countersigning"
    REPLIED = "replied"
    DONE = "done"


ASSIGNMENT_STATUS_LABELS: dict[str, label] = {
    AssignmentStatus.PENDING: label("待签收"),
    AssignmentStatus.ACCEPTED: label("办理中"),
    AssignmentStatus.ADJUSTMENT_REQUESTED: label("申请调整"),
    AssignmentStatus.REASSIGNED: label("已改交"),
    AssignmentStatus.OPINION_GIVEN: label("已提出协办意见"),
    AssignmentStatus.COUNTERSIGNING: label("答复会签中"),
    AssignmentStatus.REPLIED: label("已答复待审核"),
    AssignmentStatus.DONE: label("已办结"),
}

ACTIVE_ASSIGNMENT_STATUSES = frozenset(
    {
        AssignmentStatus.PENDING,
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.ADJUSTMENT_REQUESTED,
        AssignmentStatus.OPINION_GIVEN,
        AssignmentStatus.COUNTERSIGNING,
        AssignmentStatus.REPLIED,
    }
)


@dataclass(frozen=True)
class Transition:
    action: str
    label: str  # the action's name, a message id (workflow.texts.label), used in messages
    sources: frozenset[str]
    target: str | None  # None: the status stays as it is
    roles: frozenset[Role]  # who may take it (relations are checked in workflow.permissions)


def _t(action: str, name: label, sources, target, roles) -> Transition:
    return Transition(action, name, frozenset(sources), target, frozenset(roles))


P = ProposalStatus
A = AssignmentStatus
SYSTEM: frozenset[Role] = frozenset()  # taken by the system only (sweeps, cascades)

PROPOSAL_TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("edit_draft", label("修改草稿"), {P.DRAFT}, None, {Role.MEMBER}),
        _t("invite_cosigner", label("邀请联名"), {P.DRAFT}, None, {Role.MEMBER}),
        _t("discard_draft", label("删除草稿"), {P.DRAFT}, P.WITHDRAWN, {Role.MEMBER}),
        _t("submit", label("提交"), {P.DRAFT}, P.SUBMITTED, {Role.MEMBER}),
        _t("confirm_cosign", label("确认联名"), {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("decline_cosign", label("谢绝联名"), {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("request_cosign", label("申请联名"), {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("add_cosigner", label("追加联名"), {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("withdraw", label("撤回"), {P.SUBMITTED}, P.WITHDRAWN, {Role.MEMBER}),
        _t("file", label("立案"), {P.SUBMITTED}, P.FILED, {Role.STAFF}),
        _t("reject", label("不予立案"), {P.SUBMITTED}, P.NOT_FILED, {Role.STAFF}),
        _t("merge", label("并案"), {P.SUBMITTED}, P.MERGED, {Role.STAFF}),
        _t("convert", label("转为意见建议"), {P.SUBMITTED}, P.CONVERTED, {Role.STAFF}),
        _t("assign", label("交办"), {P.FILED}, P.ASSIGNED, {Role.STAFF}),
        _t("submit_reply", label("提交答复"), {P.ASSIGNED}, P.REPLIED, {Role.HANDLER}),
        _t(
            "return_reply",
            label("退回答复"),
            {P.REPLIED},
            P.ASSIGNED,
            {Role.STAFF, Role.SUPERVISOR},
        ),
        _t(
            "approve_reply",
            label("审核通过答复"),
            {P.REPLIED},
            P.DELIVERED,
            {Role.STAFF, Role.SUPERVISOR},
        ),
        _t("deliver_merged", label("送达并案答复"), {P.MERGED}, P.DELIVERED, SYSTEM),
        _t("rate", label("满意度评价"), {P.DELIVERED}, None, {Role.MEMBER}),
        _t("order_rehandle", label("重新办理"), {P.DELIVERED}, P.ASSIGNED, {Role.STAFF}),
        # 重新办理 of the main takes back the reply its merged proposals received: they wait
        # for the new one again (已并案), which deliver_merged brings them like the first.
        _t("rehandle_merged", label("随主案重新办理"), {P.DELIVERED}, P.MERGED, SYSTEM),
        _t("close", label("办结"), {P.DELIVERED}, P.CLOSED, {Role.STAFF}),
        _t("close_merged", label("随主案办结"), {P.DELIVERED, P.MERGED}, P.CLOSED, SYSTEM),
    ]
}

ASSIGNMENT_TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("accept", label("签收"), {A.PENDING}, A.ACCEPTED, {Role.HANDLER}),
        _t(
            "request_adjustment",
            label("申请调整"),
            {A.PENDING},
            A.ADJUSTMENT_REQUESTED,
            {Role.HANDLER},
        ),
        _t("window_closed", label("调整期满"), {A.PENDING}, A.ACCEPTED, SYSTEM),
        _t("reassign", label("改交"), {A.ADJUSTMENT_REQUESTED}, A.REASSIGNED, {Role.STAFF}),
        _t(
            "refuse_adjustment",
            label("不予调整"),
            {A.ADJUSTMENT_REQUESTED},
            A.ACCEPTED,
            {Role.STAFF},
        ),
        _t(
            "record_contact",
            label("记录沟通"),
            {A.ACCEPTED, A.OPINION_GIVEN, A.COUNTERSIGNING, A.REPLIED},
            None,
            {Role.HANDLER},
        ),
        _t(
            "give_opinion",
            label("提出协办意见"),
            {A.ACCEPTED, A.OPINION_GIVEN},
            A.OPINION_GIVEN,
            {Role.HANDLER},
        ),
        _t("submit_reply", label("提交答复"), {A.ACCEPTED}, A.REPLIED, {Role.HANDLER}),
        # 会签: a reply of a proposal with co-handling units goes to them first; each one
        # countersigns (or is deemed to once its window ends) before the review sees it,
        # and one unit's request for changes sends it back to the lead unit as a draft.
        # The units' decisions are rows of their own (workflow.countersigns), not moves.
        _t(
            "submit_for_countersign",
            label("提交会签"),
            {A.ACCEPTED},
            A.COUNTERSIGNING,
            {Role.HANDLER},
        ),
        _t("countersigned", label("会签完成，提交审核"), {A.COUNTERSIGNING}, A.REPLIED, SYSTEM),
        _t("countersign_returned", label("会签退回修改"), {A.COUNTERSIGNING}, A.ACCEPTED, SYSTEM),
        _t(
            "return_reply",
            label("退回答复"),
            {A.REPLIED},
            A.ACCEPTED,
            {Role.STAFF, Role.SUPERVISOR},
        ),
        _t(
            "approve_reply",
            label("审核通过答复"),
            {A.REPLIED},
            A.DONE,
            {Role.STAFF, Role.SUPERVISOR},
        ),
        # Approving the reply ends every co-handling assignment still open, including one
        # whose adjustment request staff have not decided: the proposal is answered.
        _t(
            "complete",
            label("协办办结"),
            {A.ACCEPTED, A.OPINION_GIVEN, A.PENDING, A.ADJUSTMENT_REQUESTED},
            A.DONE,
            SYSTEM,
        ),
        _t("rehandle", label("重新办理"), {A.DONE}, A.ACCEPTED, {Role.STAFF}),
        _t(
            "request_extension",
            label("申请延期"),
            {A.ACCEPTED, A.OPINION_GIVEN},
            None,
            {Role.HANDLER},
        ),
        _t("extend", label("延期"), {A.PENDING, A.ACCEPTED, A.OPINION_GIVEN}, None, {Role.STAFF}),
        _t(
            "refuse_extension",
            label("不同意延期"),
            {A.ACCEPTED, A.OPINION_GIVEN},
            None,
            {Role.STAFF},
        ),
    ]
}


def proposal_label(status: str) -> label:
    return PROPOSAL_STATUS_LABELS.get(status, label(status))


def assignment_label(status: str) -> label:
    return ASSIGNMENT_STATUS_LABELS.get(status, label(status))
