"""Committee staff's decisions after 交办: adjustment requests, the review of replies (staff,
and supervisors for the key proposals their unit supervises) and 重新办理 after 不满意.

Every change goes through the workflow services, which check roles and relations and write
the audit events and notices; the lists here only offer what the person may act on.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileOut
from handlers.staff_common import (
    BACK,
    DATE_HINT,
    REVIEWERS,
    STAFF,
    TO_MENU,
    USE_DEFAULT,
    adjustment_requests,
    browse,
    chosen_proposal,
    current_ratings,
    day_text,
    forget,
    goto,
    handling_unit_ids,
    install_flows,
    may_review,
    number_of,
    paged,
    read_date,
    rehandle_queue,
    replies_to_review,
    search_list,
    short,
    told_proposer,
    told_units,
    unit_picker,
    words,
)
from handlers.turns import me
from handlers.unit import co_opinions
from storage.models import Assignment, Proposal, Reply, existing, pk
from workflow import assignments, countersigns, replies
from workflow.assignments import assignment_subject, due_date_or_default, unit_name
from workflow.attachments import attachments_of, reply_files
from workflow.core import (
    person_name,
    require_role,
    require_status,
    signer_ids,
)
from workflow.record import render_record
from workflow.replies import CLASS_MEANINGS, RATINGS
from workflow.statuses import (
    ASSIGNMENT_TRANSITIONS,
    AssignmentStatus,
    ProposalStatus,
    assignment_label,
    proposal_label,
)
from workflow.texts import label

NEW_DUE = label("新的答复期限")  # the field a too-early due date is refused for

# ================================================================ adjustments (调整申请)


def _assignment(turn: Turn) -> Assignment | None:
    aid = turn.data.get("aid")
    return turn.session.get(Assignment, aid) if aid else None


def _the_assignment(turn: Turn) -> Assignment:
    """The assignment chosen earlier in the flow, in the steps that follow the choice."""
    assignment = _assignment(turn)
    assert assignment is not None, "these steps come after an assignment was chosen"
    return assignment


def _role_label(turn: Turn, assignment: Assignment) -> str:
    return turn.t("主办") if assignment.role == "lead" else turn.t("协办")


def ask_adjustments(turn: Turn) -> None:
    turn.data.pop("aid", None)
    requests = adjustment_requests(turn.session)
    if not requests:
        turn.say(turn.t("没有待处理的调整申请。"), [turn.choice(turn.t(TO_MENU), "menu")])
        return
    page = paged(turn, "adj", requests)
    lines = [turn.t("待处理的调整申请 {n} 件（申请时间从早到晚）：", n=len(requests))]
    choices = []
    for index, a in enumerate(page.rows, page.first):
        p = existing(turn.session, Proposal, a.proposal_id)
        unit = unit_name(turn.ctx, a.unit_id)
        lines.append(
            turn.t(
                "{i}. {n}《{title}》 {unit}（{role}），{day}申请",
                i=index,
                n=number_of(turn, p),
                title=p.title,
                unit=unit,
                role=_role_label(turn, a),
                day=day_text(turn, a.adjustment_requested_at),
            )
        )
        choices.append(turn.choice(short(f"{number_of(turn, p)} {unit}"), f"a:{a.id}"))
    lines += page.position(turn)
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_adjustments(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if browse(turn, "adj", value):
        return "page"
    turn.data["aid"] = int(value.removeprefix("a:"))
    return "open"


def ask_adjustment(turn: Turn) -> None:
    a = _assignment(turn)
    if a is None:
        turn.say(turn.t("找不到这项交办。"))
        goto(turn, "list")
        return
    p = existing(turn.session, Proposal, a.proposal_id)
    turn.say(render_record(turn.ctx, p, gettext=turn.gettext, locale=turn.locale), expects="none")
    text = turn.t(
        "{unit}申请调整{n}《{title}》的交办（{role}）。\n申请人：{who}，{at}\n理由：{reason}",
        unit=unit_name(turn.ctx, a.unit_id),
        n=number_of(turn, p),
        title=p.title,
        role=_role_label(turn, a),
        who=person_name(turn.session, a.adjustment_requested_by),
        at=turn.time(a.adjustment_requested_at),
        reason=a.adjustment_reason or "",
    )
    if a.status != AssignmentStatus.ADJUSTMENT_REQUESTED:
        turn.say(
            text
            + "\n"
            + turn.t("这项申请已处理，当前为「{s}」。", s=turn.t(assignment_label(a.status))),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    turn.say(
        text,
        [
            turn.choice(turn.t("同意并改交"), "grant"),
            turn.choice(turn.t("不予调整"), "refuse"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_adjustment(turn: Turn, value: str) -> str:
    if value in ("grant", "refuse"):
        # A request a colleague decided meanwhile is refused now, with who and when, not
        # after a unit was picked or a reason typed (the service call checks it again).
        action = "reassign" if value == "grant" else "refuse_adjustment"
        a = _the_assignment(turn)
        p = existing(turn.session, Proposal, a.proposal_id)
        require_role(turn.ctx, ASSIGNMENT_TRANSITIONS[action])
        require_status(
            turn.ctx,
            ASSIGNMENT_TRANSITIONS[action],
            a.status,
            label=assignment_label,
            subject=assignment_subject(turn.ctx, a, p),
            proposal_id=pk(p),
            assignment_id=a.id,
        )
    if value == "grant":
        forget(turn, "new")
        turn.data.pop("new", None)
    return value


def ask_new_unit(turn: Turn) -> None:
    a = _the_assignment(turn)
    p = existing(turn.session, Proposal, a.proposal_id)
    head = turn.t(
        "同意调整：请选择改由哪个单位{role}{n}《{title}》（可发送单位名称的一部分搜索）：",
        role=_role_label(turn, a),
        n=number_of(turn, p),
        title=p.title,
    )
    unit_picker(
        turn,
        head,
        key="new",
        kind="handling",
        prefix="u",
        exclude=handling_unit_ids(turn.session, pk(p)),
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_new_unit(turn: Turn, value: str) -> str:
    if value == "back" or browse(turn, "new", value):
        return "back" if value == "back" else "page"
    turn.data["new"] = int(value.removeprefix("u:"))
    forget(turn, "new")
    return "picked"


def on_new_unit_search(turn: Turn, text: str) -> str:
    return search_list(turn, "new", text)


def ask_reassign_confirm(turn: Turn) -> None:
    a = _the_assignment(turn)
    p = existing(turn.session, Proposal, a.proposal_id)
    turn.say(
        turn.t(
            "确认同意{old}的调整申请，{n}《{title}》改由{new}{role}？",
            old=unit_name(turn.ctx, a.unit_id),
            n=number_of(turn, p),
            title=p.title,
            new=unit_name(turn.ctx, turn.data["new"]),
            role=_role_label(turn, a),
        ),
        [
            turn.choice(turn.t("确认改交"), "ok"),
            turn.choice(turn.t("重新选择"), "again"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reassign_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        forget(turn, "new")
        return value
    new = assignments.reassign(turn.ctx, turn.data["aid"], turn.data["new"])
    old = existing(turn.session, Assignment, turn.data["aid"])
    p = existing(turn.session, Proposal, new.proposal_id)
    done = turn.t(
        "已改交：{n}提案改由{unit}{role}，期限{due}。",
        n=number_of(turn, p),
        unit=unit_name(turn.ctx, new.unit_id),
        role=_role_label(turn, new),
        due=turn.date(new.due_date),
    )
    partners = assignments.partner_units(turn.ctx, new)  # told which unit took its place
    turn.say(done + "\n" + told_units(turn, [old.unit_id, new.unit_id, *partners]))
    return "done"


def ask_refuse_reason(turn: Turn) -> None:
    a = _the_assignment(turn)
    turn.say(
        turn.t("请写明不予调整的理由（将告知{unit}）：", unit=unit_name(turn.ctx, a.unit_id)),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_refuse_reason(turn: Turn, text: str) -> str:
    reason = words(turn, text, turn.t("不予调整的理由"), 1000)
    a = assignments.refuse_adjustment(turn.ctx, turn.data["aid"], reason)
    done = turn.t(
        "已不予调整：{unit}须按期办理（{due}前）。",
        unit=unit_name(turn.ctx, a.unit_id),
        due=turn.date(a.due_date),
    )
    turn.say(done + "\n" + told_units(turn, [a.unit_id]))
    return "done"


ADJUSTMENTS_FLOW = Flow(
    name="adjustments",
    start="list",
    roles=frozenset(STAFF),
    steps={
        "list": Step(prompt=ask_adjustments, choice=on_adjustments, hint=N_("请点选一项申请。")),
        "open": Step(prompt=ask_adjustment, choice=on_adjustment, hint=N_("请点选处理意见。")),
        "new_unit": Step(
            prompt=ask_new_unit,
            choice=on_new_unit,
            text=on_new_unit_search,
            hint=N_("请点选新的承办单位，或发送单位名称的一部分搜索。"),
        ),
        "reassign_confirm": Step(
            prompt=ask_reassign_confirm,
            choice=on_reassign_confirm,
            hint=N_("请点选是否确认改交。"),
        ),
        "refuse_reason": Step(
            prompt=ask_refuse_reason,
            text=on_refuse_reason,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明不予调整的理由。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "grant"): "new_unit",
        ("open", "refuse"): "refuse_reason",
        ("open", "back"): "list",
        ("new_unit", "picked"): "reassign_confirm",
        ("new_unit", "page"): "new_unit",
        ("new_unit", "search"): "new_unit",
        ("new_unit", "back"): "open",
        ("reassign_confirm", "done"): "list",
        ("reassign_confirm", "again"): "new_unit",
        ("reassign_confirm", "back"): "open",
        ("refuse_reason", "done"): "list",
        ("refuse_reason", "back"): "open",
    },
)


# ================================================================ reply review (答复审核)


def _reply(turn: Turn) -> Reply | None:
    rid = turn.data.get("rid")
    return turn.session.get(Reply, rid) if rid else None


def ask_replies(turn: Turn) -> None:
    turn.data.pop("rid", None)
    turn.data.pop("files_of", None)
    pending = replies_to_review(turn.session, me(turn))
    if not pending:
        turn.say(turn.t("没有待审核的答复。"), [turn.choice(turn.t(TO_MENU), "menu")])
        return
    page = paged(turn, "rep", pending)
    lines = [turn.t("待审核的答复 {n} 件（提交时间从早到晚）：", n=len(pending))]
    choices = []
    for index, (r, p) in enumerate(page.rows, page.first):
        lines.append(
            turn.t(
                "{i}. {n}《{title}》 {unit}，{c}类，第{v}稿，{day}提交",
                i=index,
                n=number_of(turn, p),
                title=p.title,
                unit=r.signing_unit,
                c=r.reply_class,
                v=r.version,
                day=day_text(turn, r.submitted_at),
            )
        )
        choices.append(turn.choice(short(f"{number_of(turn, p)} {p.title}"), f"r:{r.id}"))
    lines += page.position(turn)
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_replies(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if browse(turn, "rep", value):
        return "page"
    turn.data["rid"] = int(value.removeprefix("r:"))
    return "open"


def countersign_lines(turn: Turn, reply: Reply) -> list[str]:
    """Each co-handling unit's countersignature (会签) of the letter, as the review weighs
    it: 区交通运输局：同意（蒋涛，2026年9月14日 09:30）; none for a proposal without them."""
    lines = []
    for sig in countersigns.signatures(turn.ctx, reply):
        row = sig.row
        if row is None and sig.adjustment_undecided:
            state = turn.t("申请调整尚待决定，未请会签")
        elif row is None:  # it joined, or its adjustment was refused, after the letter moved on
            state = turn.t("未参加会签")
        elif row.decision is None:
            state = turn.t("待会签（期限{d}）", d=turn.date(row.due_date))
        elif row.decision == "deemed":
            state = turn.t("逾期未会签，视为同意（会签期限{d}）", d=turn.date(row.due_date))
        else:
            state = turn.t(
                "{decision}（{name}，{at}）",
                decision=turn.t(countersigns.DECISIONS[row.decision]),
                name=person_name(turn.session, row.decided_by),
                at=turn.time(row.decided_at),
            )
        lines.append(turn.t("{unit}：{state}", unit=unit_name(turn.ctx, sig.unit_id), state=state))
    return lines


def reply_letter(turn: Turn, reply: Reply, proposal: Proposal) -> str:
    """The reply letter as the reviewer reads it, with the co-handling units' opinions."""
    lead = turn.session.get(Assignment, reply.assignment_id)
    lines = [
        turn.t(
            "{n}《{title}》的答复（第{v}稿，{unit}主办）",
            n=number_of(turn, proposal),
            title=proposal.title,
            v=reply.version,
            unit=unit_name(turn.ctx, lead.unit_id if lead else None),
        ),
        turn.t(
            "答复类别：{c}类（{meaning}）",
            c=reply.reply_class,
            meaning=turn.t(CLASS_MEANINGS.get(reply.reply_class, "")),
        ),
        "",
        reply.title,
        reply.body.strip(),
        "",
        turn.t(
            "联系人：{p}　联系电话：{phone}", p=reply.contact_person, phone=reply.contact_phone
        ),
        turn.t("落款单位：{u}", u=reply.signing_unit),
        turn.t("答复日期：{d}", d=turn.date(reply.reply_date)),
    ]
    files = attachments_of(turn.ctx, reply_id=reply.id)
    if files:
        lines.append(turn.t("附件：{names}", names=turn.join(f.filename for f in files)))
    opinions = co_opinions(turn, proposal)
    if opinions:
        lines.append(turn.t("协办意见："))
        lines += ["  " + opinion for opinion in opinions]
    signatures = countersign_lines(turn, reply)
    if signatures:
        lines.append(turn.t("协办单位会签："))
        lines += ["  " + line for line in signatures]
    returned = replies.returned_before(turn.ctx, reply)
    if returned is not None:  # what this letter answers, to check it did
        lines += ["", turn.t("上一稿的审核意见：{c}", c=returned.review_comment or "")]
    return "\n".join(lines)


def ask_reply(turn: Turn) -> None:
    r = _reply(turn)
    p = turn.session.get(Proposal, r.proposal_id) if r else None
    if r is None or p is None or not may_review(me(turn), p):
        turn.say(turn.t("找不到这份答复，或您无权审核它。"))
        goto(turn, "list")
        return
    turn.say(reply_letter(turn, r, p), expects="none")
    if turn.data.get("files_of") != r.id:  # the letter's files, once each time it is opened
        turn.data["files_of"] = r.id
        for f, data in reply_files(turn.ctx, turn.store, pk(r)):
            turn.send_file(
                FileOut(name=f.filename, data=data, mime=f.mime_type),
                turn.t("附件：{names}", names=f.filename),
            )
    if r.status != "submitted":
        turn.say(
            turn.t("这一稿答复已经审核过了。"),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    others = [c for c in turn.ctx.rules.reply_classes if c != r.reply_class]
    turn.say(
        turn.t("请审核这份答复："),
        [
            turn.choice(turn.t("通过（{c}类）", c=r.reply_class), "ok"),
            *[turn.choice(turn.t("改为{c}类后通过", c=c), f"cls:{c}") for c in others],
            turn.choice(turn.t("退回修改"), "ret"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reply(turn: Turn, value: str) -> str:
    if value == "ret":  # decided meanwhile: say by whom before asking for a comment
        replies.check_unreviewed(turn.ctx, turn.data["rid"], "return_reply")
    if value in ("ret", "back"):
        return value
    new_class = value.removeprefix("cls:") if value.startswith("cls:") else None
    r = replies.approve_reply(turn.ctx, turn.data["rid"], new_class)
    p = existing(turn.session, Proposal, r.proposal_id)
    turn.say(
        turn.t(
            "已审核通过{n}提案的答复（{c}类），已送达提案人和联名委员，请他们评价。",
            n=number_of(turn, p),
            c=r.reply_class,
        )
    )
    return "done"


def ask_return_comment(turn: Turn) -> None:
    r = _reply(turn)
    if r is None or r.status != "submitted":  # decided meanwhile: the letter says so
        goto(turn, "open")
        return
    turn.say(
        turn.t("请写明退回意见（将告知主办单位）："),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_return_comment(turn: Turn, text: str) -> str:
    comment = words(turn, text, turn.t("退回意见"), 2000)
    r = replies.return_reply(turn.ctx, turn.data["rid"], comment)
    p = existing(turn.session, Proposal, r.proposal_id)
    lead = existing(turn.session, Assignment, r.assignment_id)
    done = turn.t("已退回{n}提案的答复，请主办单位修改后重新提交。", n=number_of(turn, p))
    # Only the lead unit is told of a returned reply: the proposer hears of the reply once
    # it is approved.
    turn.say("\n".join([done, told_units(turn, [lead.unit_id])]))
    return "done"


REPLY_REVIEW_FLOW = Flow(
    name="reply_review",
    start="list",
    roles=frozenset(REVIEWERS),
    steps={
        "list": Step(prompt=ask_replies, choice=on_replies, hint=N_("请点选一份答复。")),
        "open": Step(prompt=ask_reply, choice=on_reply, hint=N_("请点选审核意见。")),
        "return_comment": Step(
            prompt=ask_return_comment,
            text=on_return_comment,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明退回意见。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "done"): "list",
        ("open", "ret"): "return_comment",
        ("open", "back"): "list",
        ("return_comment", "done"): "list",
        ("return_comment", "back"): "open",
    },
)


# ================================================================ 不满意待处理 (rehandle)


def ask_rehandles(turn: Turn) -> None:
    turn.data.pop("pid", None)
    pending = rehandle_queue(turn)
    if not pending:
        turn.say(
            turn.t("没有评价为不满意、待处理的提案。"), [turn.choice(turn.t(TO_MENU), "menu")]
        )
        return
    page = paged(turn, "reh", pending)
    lines = [turn.t("评价为不满意的提案 {n} 件：", n=len(pending))]
    choices = []
    for index, p in enumerate(page.rows, page.first):
        lines.append(
            turn.t(
                "{i}. {n}《{title}》，{day}送达",
                i=index,
                n=number_of(turn, p),
                title=p.title,
                day=day_text(turn, p.delivered_at),
            )
        )
        label = f"{number_of(turn, p)} {p.title}".strip()  # a merged one has no number
        choices.append(turn.choice(short(label), f"p:{p.id}"))
    lines += page.position(turn)
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_rehandles(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if browse(turn, "reh", value):
        return "page"
    turn.data["pid"] = int(value.removeprefix("p:"))
    return "open"


def merged_into(turn: Turn, proposal: Proposal) -> list[Proposal]:
    """The proposals merged into this one that received its reply."""
    return list(
        turn.session.exec(
            select(Proposal)
            .where(
                Proposal.merged_into_id == proposal.id,
                col(Proposal.status).in_([ProposalStatus.DELIVERED, ProposalStatus.CLOSED]),
            )
            .order_by(col(Proposal.id))
        ).all()
    )


def ratings_text(turn: Turn, proposal: Proposal) -> str:
    reply, ratings = current_ratings(turn, proposal)
    lines = [
        turn.t(
            "评价情况（第{v}稿答复，{c}类）：",
            v=reply.version if reply else "",
            c=reply.reply_class if reply else "",
        )
    ]
    rated = {(r.proposal_id, r.person_id): r for r in ratings}
    signers = [(proposal, person_id) for person_id in signer_ids(turn.session, pk(proposal))]
    if proposal.merged_into_id is None:  # the proposers of merged ones rate the reply too
        for merged in merged_into(turn, proposal):
            signers += [(merged, person_id) for person_id in signer_ids(turn.session, pk(merged))]
    for signed, person_id in signers:
        name = person_name(turn.session, person_id)
        if pk(signed) != pk(proposal):
            name = turn.t("{name}（{title}）", name=name, title=f"《{signed.title}》")
        r = rated.get((pk(signed), person_id))
        if r is None:
            lines.append(turn.t("  {name}：尚未评价", name=name))
        elif r.not_given:
            lines.append(turn.t("  {name}：评价期满未评价", name=name))
        else:
            lines.append(
                turn.t(
                    "  {name}：办理工作{w}，办理结果{res}",
                    name=name,
                    w=turn.t(RATINGS.get(r.work_rating or "", "")),
                    res=turn.t(RATINGS.get(r.result_rating or "", "")),
                )
                + (turn.t("；意见：{f}", f=r.feedback) if r.feedback else "")
            )
    deadline = replies.rating_deadline(turn.ctx, proposal)
    if deadline:
        lines.append(turn.t("评价期至：{d}", d=turn.date(deadline)))
    lines.append(
        turn.t(
            "已重新办理 {n} 次（最多 {max} 次）。",
            n=proposal.rehandle_count,
            max=turn.ctx.rules.max_rehandles,
        )
    )
    return "\n".join(lines)


def ask_rehandle(turn: Turn) -> None:
    p = chosen_proposal(turn)
    if p is None:
        turn.say(turn.t("找不到这件提案。"))
        goto(turn, "list")
        return
    turn.say(render_record(turn.ctx, p, gettext=turn.gettext, locale=turn.locale), expects="none")
    if p.status != ProposalStatus.DELIVERED:
        turn.say(
            turn.t("这件提案当前为「{s}」，无需处理。", s=turn.t(proposal_label(p.status))),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    if p.merged_into_id is not None:  # listed once its main is closed: 办结 is what is left
        turn.say(
            ratings_text(turn, p) + "\n" + turn.t("请选择处理方式："),
            [turn.choice(turn.t("办结"), "close"), turn.choice(turn.t(BACK), "back")],
        )
        return
    turn.say(
        ratings_text(turn, p) + "\n" + turn.t("请选择处理方式："),
        [
            turn.choice(turn.t("重新办理"), "re"),
            turn.choice(turn.t("办结"), "close"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_rehandle(turn: Turn, value: str) -> str:
    if value == "re":
        turn.data.pop("re_due", None)
        return "re"
    if value == "close":
        p = replies.close(turn.ctx, turn.data["pid"])
        turn.say(
            turn.t("{n}《{title}》已办结。", n=number_of(turn, p), title=p.title)
            + "\n"
            + told_proposer(turn, p)
        )
        return "done"
    return value


def _default_rehandle_due(turn: Turn) -> date:
    return due_date_or_default(turn.ctx, None, turn.ctx.rules.rehandle_due_months, NEW_DUE)


def ask_rehandle_due(turn: Turn) -> None:
    lead = assignments.lead_assignment(turn.ctx, turn.data["pid"])
    turn.say(
        turn.t(
            "重新办理：由{unit}重新答复。新的答复期限默认为 {m} 个月后：{day}。",
            unit=unit_name(turn.ctx, lead.unit_id if lead else None),
            m=turn.ctx.rules.rehandle_due_months,
            day=turn.date(_default_rehandle_due(turn)),
        )
        + "\n"
        + turn.t(DATE_HINT),
        [turn.choice(turn.t(USE_DEFAULT), "default"), turn.choice(turn.t(BACK), "back")],
    )


def on_rehandle_due_choice(turn: Turn, value: str) -> str:
    if value == "default":
        turn.data["re_due"] = None
        return "next"
    return value


def on_rehandle_due_text(turn: Turn, text: str) -> str:
    day = read_date(turn, text, turn.ctx.rules.rehandle_due_months, NEW_DUE)
    turn.data["re_due"] = day.isoformat()
    return "next"


def ask_rehandle_note(turn: Turn) -> None:
    due = turn.data.get("re_due")
    day = date.fromisoformat(due) if due else _default_rehandle_due(turn)
    turn.say(
        turn.t(
            "新的答复期限：{day}。\n可以写下重新办理的要求（将告知承办单位），"
            "或点「不写要求，下达」：",
            day=turn.date(day),
        ),
        [
            turn.choice(turn.t("不写要求，下达"), "skip"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def _order_rehandle(turn: Turn, note: str | None) -> str:
    due = turn.data.get("re_due")
    lead = replies.order_rehandle(
        turn.ctx,
        turn.data["pid"],
        due_date=date.fromisoformat(due) if due else None,
        note=note,
    )
    p = existing(turn.session, Proposal, lead.proposal_id)
    done = turn.t(
        "已下达重新办理：{n}提案由{unit}在{due}前重新答复。",
        n=number_of(turn, p),
        unit=unit_name(turn.ctx, lead.unit_id),
        due=turn.date(lead.due_date),
    )
    turn.say("\n".join([done, told_proposer(turn, p), told_units(turn, [lead.unit_id])]))
    return "done"


def on_rehandle_note_text(turn: Turn, text: str) -> str:
    return _order_rehandle(turn, words(turn, text, turn.t("重新办理要求"), 2000))


def on_rehandle_note_choice(turn: Turn, value: str) -> str:
    return _order_rehandle(turn, None) if value == "skip" else value


REHANDLE_FLOW = Flow(
    name="rehandle",
    start="list",
    roles=frozenset(STAFF),
    steps={
        "list": Step(prompt=ask_rehandles, choice=on_rehandles, hint=N_("请点选一件提案。")),
        "open": Step(prompt=ask_rehandle, choice=on_rehandle, hint=N_("请点选处理方式。")),
        "due": Step(
            prompt=ask_rehandle_due,
            choice=on_rehandle_due_choice,
            text=on_rehandle_due_text,
            hint=N_("请点「使用默认」，或输入日期，例如 2027-03-15。"),
        ),
        "note": Step(
            prompt=ask_rehandle_note,
            choice=on_rehandle_note_choice,
            text=on_rehandle_note_text,
            hint=N_("请发送重新办理的要求，或点「不写要求，下达」。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "re"): "due",
        ("open", "done"): "list",
        ("open", "back"): "list",
        ("due", "next"): "note",
        ("due", "back"): "open",
        ("note", "done"): "list",
        ("note", "back"): "due",
    },
)


FLOWS = (ADJUSTMENTS_FLOW, REPLY_REVIEW_FLOW, REHANDLE_FLOW)


def install(engine: Engine) -> None:
    install_flows(engine, FLOWS)
