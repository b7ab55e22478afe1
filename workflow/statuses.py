"""Statuses and their transition tables, declared once.

Each table maps an action to the statuses it may start from and the status it leads to.
Every service looks its action up here; nothing else decides whether a move is legal.
See ``workflow/lifecycle.mmd`` for the same graph drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workflow.roles import Role


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


PROPOSAL_STATUS_LABELS: dict[str, str] = {
    ProposalStatus.DRAFT: "草稿",
    ProposalStatus.SUBMITTED: "待审查",
    ProposalStatus.WITHDRAWN: "已撤回",
    ProposalStatus.FILED: "已立案",
    ProposalStatus.NOT_FILED: "不予立案",
    ProposalStatus.MERGED: "已并案",
    ProposalStatus.CONVERTED: "转为意见建议",
    ProposalStatus.ASSIGNED: "办理中",
    ProposalStatus.REPLIED: "答复待审核",
    ProposalStatus.DELIVERED: "已答复",
    ProposalStatus.CLOSED: "已办结",
}


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    ADJUSTMENT_REQUESTED = "adjustment_requested"
    REASSIGNED = "reassigned"
    OPINION_GIVEN = "opinion_given"
    REPLIED = "replied"
    DONE = "done"


ASSIGNMENT_STATUS_LABELS: dict[str, str] = {
    AssignmentStatus.PENDING: "待签收",
    AssignmentStatus.ACCEPTED: "办理中",
    AssignmentStatus.ADJUSTMENT_REQUESTED: "申请调整",
    AssignmentStatus.REASSIGNED: "已改交",
    AssignmentStatus.OPINION_GIVEN: "已提出协办意见",
    AssignmentStatus.REPLIED: "已答复待审核",
    AssignmentStatus.DONE: "已办结",
}

ACTIVE_ASSIGNMENT_STATUSES = frozenset(
    {
        AssignmentStatus.PENDING,
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.ADJUSTMENT_REQUESTED,
        AssignmentStatus.OPINION_GIVEN,
        AssignmentStatus.REPLIED,
    }
)


@dataclass(frozen=True)
class Transition:
    action: str
    label: str  # the action's Chinese name, used in messages
    sources: frozenset[str]
    target: str | None  # None: the status stays as it is
    roles: frozenset[Role]  # who may take it (relations are checked in workflow.permissions)


def _t(action: str, label: str, sources, target, roles) -> Transition:
    return Transition(action, label, frozenset(sources), target, frozenset(roles))


P = ProposalStatus
A = AssignmentStatus
SYSTEM: frozenset[Role] = frozenset()  # taken by the system only (sweeps, cascades)

PROPOSAL_TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("edit_draft", "修改草稿", {P.DRAFT}, None, {Role.MEMBER}),
        _t("invite_cosigner", "邀请联名", {P.DRAFT}, None, {Role.MEMBER}),
        _t("discard_draft", "删除草稿", {P.DRAFT}, P.WITHDRAWN, {Role.MEMBER}),
        _t("submit", "提交", {P.DRAFT}, P.SUBMITTED, {Role.MEMBER}),
        _t("confirm_cosign", "确认联名", {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("decline_cosign", "谢绝联名", {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("request_cosign", "申请联名", {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("add_cosigner", "追加联名", {P.SUBMITTED}, None, {Role.MEMBER}),
        _t("withdraw", "撤回", {P.SUBMITTED}, P.WITHDRAWN, {Role.MEMBER}),
        _t("file", "立案", {P.SUBMITTED}, P.FILED, {Role.STAFF}),
        _t("reject", "不予立案", {P.SUBMITTED}, P.NOT_FILED, {Role.STAFF}),
        _t("merge", "并案", {P.SUBMITTED}, P.MERGED, {Role.STAFF}),
        _t("convert", "转为意见建议", {P.SUBMITTED}, P.CONVERTED, {Role.STAFF}),
        _t("assign", "交办", {P.FILED}, P.ASSIGNED, {Role.STAFF}),
        _t("submit_reply", "提交答复", {P.ASSIGNED}, P.REPLIED, {Role.HANDLER}),
        _t("return_reply", "退回答复", {P.REPLIED}, P.ASSIGNED, {Role.STAFF, Role.SUPERVISOR}),
        _t(
            "approve_reply",
            "审核通过答复",
            {P.REPLIED},
            P.DELIVERED,
            {Role.STAFF, Role.SUPERVISOR},
        ),
        _t("deliver_merged", "送达并案答复", {P.MERGED, P.DELIVERED}, P.DELIVERED, SYSTEM),
        _t("rate", "满意度评价", {P.DELIVERED}, None, {Role.MEMBER}),
        _t("order_rehandle", "重新办理", {P.DELIVERED}, P.ASSIGNED, {Role.STAFF}),
        _t("close", "办结", {P.DELIVERED}, P.CLOSED, {Role.STAFF}),
        _t("close_merged", "随主案办结", {P.DELIVERED, P.MERGED}, P.CLOSED, SYSTEM),
    ]
}

ASSIGNMENT_TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("accept", "签收", {A.PENDING}, A.ACCEPTED, {Role.HANDLER}),
        _t("request_adjustment", "申请调整", {A.PENDING}, A.ADJUSTMENT_REQUESTED, {Role.HANDLER}),
        _t("window_closed", "调整期满", {A.PENDING}, A.ACCEPTED, SYSTEM),
        _t("reassign", "改交", {A.ADJUSTMENT_REQUESTED}, A.REASSIGNED, {Role.STAFF}),
        _t("refuse_adjustment", "不予调整", {A.ADJUSTMENT_REQUESTED}, A.ACCEPTED, {Role.STAFF}),
        _t(
            "record_contact",
            "记录沟通",
            {A.ACCEPTED, A.OPINION_GIVEN, A.REPLIED},
            None,
            {Role.HANDLER},
        ),
        _t(
            "give_opinion",
            "提出协办意见",
            {A.ACCEPTED, A.OPINION_GIVEN},
            A.OPINION_GIVEN,
            {Role.HANDLER},
        ),
        _t("submit_reply", "提交答复", {A.ACCEPTED}, A.REPLIED, {Role.HANDLER}),
        _t("return_reply", "退回答复", {A.REPLIED}, A.ACCEPTED, {Role.STAFF, Role.SUPERVISOR}),
        _t("approve_reply", "审核通过答复", {A.REPLIED}, A.DONE, {Role.STAFF, Role.SUPERVISOR}),
        # Approving the reply ends every co-handling assignment still open, including one
        # whose adjustment request staff have not decided: the proposal is answered.
        _t(
            "complete",
            "协办办结",
            {A.ACCEPTED, A.OPINION_GIVEN, A.PENDING, A.ADJUSTMENT_REQUESTED},
            A.DONE,
            SYSTEM,
        ),
        _t("rehandle", "重新办理", {A.DONE}, A.ACCEPTED, {Role.STAFF}),
        _t("request_extension", "申请延期", {A.ACCEPTED, A.OPINION_GIVEN}, None, {Role.HANDLER}),
        _t("extend", "延期", {A.PENDING, A.ACCEPTED, A.OPINION_GIVEN}, None, {Role.STAFF}),
    ]
}


def proposal_label(status: str) -> str:
    return PROPOSAL_STATUS_LABELS.get(status, status)


def assignment_label(status: str) -> str:
    return ASSIGNMENT_STATUS_LABELS.get(status, status)
