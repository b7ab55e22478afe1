"""The record as a person reads it: laid out like the printed page of a proposal system
(proposal, handling metadata, reply letter, rating), plus its timeline.

Headings, labels and dates are said in the reader's language (pass the gettext function of
that language and its locale); what people wrote, names and titles are shown as they are.
"""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import (
    Assignment,
    AuditEvent,
    ContactRecord,
    Person,
    Proposal,
    Rating,
    Reply,
    Signer,
    Unit,
    pk,
)
from storage.repositories import names_of
from workflow import countersigns
from workflow.assignments import CONTACT_METHODS, ROLE_NAMES
from workflow.core import SYSTEM_NAME, Ctx
from workflow.numbering import number_text
from workflow.permissions import require_view, signer_of, unit_party
from workflow.proposals import CATEGORIES
from workflow.replies import (
    CLASS_MEANINGS,
    RATINGS,
    delivered_reply,
    handled_again,
    latest_reply,
)
from workflow.roles import Role
from workflow.statuses import (
    ASSIGNMENT_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AssignmentStatus,
    ProposalStatus,
    proposal_label,
)
from workflow.texts import DEFAULT_LOCALE, Gettext, Text, date_text, label, time_text

REVIEW_RESULTS: dict[str, label] = {
    ProposalStatus.DRAFT: label("未提交"),
    ProposalStatus.SUBMITTED: label("待审查"),
    ProposalStatus.WITHDRAWN: label("已撤回"),
    ProposalStatus.NOT_FILED: label("不予立案"),
    ProposalStatus.MERGED: label("已并案"),
    ProposalStatus.CONVERTED: label("转为意见建议"),
}
FILED = label("已立案")

EXTRA_ACTION_LABELS = {
    "create": label("创建草稿"),
    "assignment_create": label("交办单位"),
    "cosign_expired": label("联名确认截止"),
    "rating_not_given": label("评价期满未评价"),
    "publish": label("信息公开"),
    "roster_import_people": label("导入人员名册"),
    "roster_import_units": label("导入单位名册"),
    "invite_issued": label("发放邀请码"),
    "account_bound": label("绑定账号"),
    "countersign": label("会签同意"),
    "countersign_object": label("会签提出修改意见"),
    "countersign_deemed": label("逾期未会签，视为同意"),
    "countersign_asked": label("补请会签"),
}

REDONE = label("重新办理:已安排重新办理，新的答复送达后再评价")
REDONE_MAIN = label("重新办理:主案已安排重新办理，新的答复送达后再评价")
NEW_REPLY_IN = {
    "submitted": label("答复:新的答复已提交，待督办审核"),
    "countersigning": label("答复:新的答复已提交，协办单位会签中"),
}

YES, NO, NONE = label("是"), label("否"), label("无")
NOT_YET = label("暂无")
NO_TITLE = label("（未填写标题）")


def action_label(action: str) -> str:
    if action in EXTRA_ACTION_LABELS:
        return EXTRA_ACTION_LABELS[action]
    if action.startswith("assignment_"):
        transition = ASSIGNMENT_TRANSITIONS.get(action.removeprefix("assignment_"))
        if transition:
            return transition.label
    transition = PROPOSAL_TRANSITIONS.get(action)
    return transition.label if transition else action


class _Say:
    """Says Texts, labels, days and times in one language."""

    def __init__(self, gettext: Gettext | None, locale: str) -> None:
        self.gettext = gettext or (lambda message: message)
        self.locale = locale

    def __call__(self, what: Text | str) -> str:
        if isinstance(what, Text):
            return what.render(self.gettext, self.locale)
        if isinstance(what, label):
            return self.gettext(what) if what else ""
        return what

    def day(self, day) -> str:
        return date_text(day, self.locale)

    def time(self, ctx: Ctx, moment) -> str:
        return time_text(ctx.local(moment), self.locale)


def is_party(ctx: Ctx, proposal: Proposal) -> bool:
    """Signers, staff and the people handling it see contact details; the public does not."""
    if ctx.actor is None or ctx.has_role(Role.STAFF) or proposal.proposer_id == ctx.actor_id:
        return True
    signer = signer_of(ctx, pk(proposal), ctx.actor_id)
    if signer is not None and signer.state in ("pending", "confirmed"):  # as can_view
        return True
    return proposal.lead_leader_id == ctx.actor_id or unit_party(ctx, proposal)


def _names(ctx: Ctx, ids, known: dict[int, str] | None = None) -> list[str]:
    """The names of these people, in this order; ``known`` ones are not read again."""
    people = dict(known or {})
    people.update(names_of(ctx.session, Person, [i for i in ids if i not in people]))
    return [people[i] for i in ids if i in people]


def render_record(
    ctx: Ctx,
    proposal: Proposal,
    *,
    timeline: bool = False,
    gettext: Gettext | None = None,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """The whole record the actor may see, as the printed page lays it out, in ``locale``
    (``gettext`` translates a message id into it; Chinese without)."""
    require_view(ctx, proposal)
    say = _Say(gettext, locale)
    s = ctx.session
    public = not is_party(ctx, proposal)
    signers = s.exec(
        select(Signer).where(Signer.proposal_id == proposal.id).order_by(col(Signer.position))
    ).all()
    confirmed = [x.person_id for x in signers if x.state == "confirmed"]
    pending = [x.person_id for x in signers if x.state == "pending"]
    known = names_of(s, Person, [proposal.proposer_id, *confirmed, *pending])  # one query
    lead_name = "、".join(_names(ctx, [proposal.proposer_id], known))
    category = CATEGORIES.get(proposal.category, proposal.category)

    lines = [
        say(Text("{committee} - 提案", committee=ctx.rules.committee_name)),
        f"{say(category)} >> {say(proposal.title or NO_TITLE)}",
    ]
    number = number_text(proposal.year, proposal.number)
    lines.append(say(Text("编 号:{number} 所属类别:{category}", number=number, category=category)))
    if proposal.category == "collective" and proposal.collective_body:
        proposer = Text(
            "提案人:{body}（领衔：{lead}）", body=proposal.collective_body, lead=lead_name
        )
    else:
        proposer = Text("提案人:{names}", names=_names(ctx, confirmed, known))
    lines.append(say(proposer))
    if pending and not public:
        lines.append(say(Text("待确认联名:{names}", names=_names(ctx, pending, known))))
    if proposal.field:
        sitting = Text(
            "会 次:{session} 领域:{field}",
            session=proposal.session_label,
            field=label(proposal.field),
        )
    else:
        sitting = Text("会 次:{session}", session=proposal.session_label)
    lines.append(say(sitting))
    lines.append("  " + say(label("一、存在问题")))
    lines += [f"  {p}" for p in proposal.analysis.splitlines() if p.strip()]
    lines.append("  " + say(label("二、建议")))
    lines += [f"  {p}" for p in proposal.suggestions.splitlines() if p.strip()]
    if proposal.suggested_unit:
        lines.append(say(Text("建议承办单位:{unit}", unit=proposal.suggested_unit)))

    # A merged proposal is answered and closed with the reply of its main: still 已并案.
    review = REVIEW_RESULTS[ProposalStatus.MERGED] if proposal.merged_into_id else None
    review = review or REVIEW_RESULTS.get(proposal.status, FILED)
    disclose = YES if proposal.disclose else NO
    lines.append(
        say(Text("审查结果:{review} 信息公开:{disclose}", review=review, disclose=disclose))
    )
    if proposal.status == ProposalStatus.NOT_FILED and proposal.review_reason:
        lines.append(say(Text("不予立案理由:{reason}", reason=proposal.review_reason)))
    if proposal.status in (ProposalStatus.MERGED,) or proposal.merged_into_id:
        main = s.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else None
        if main is not None:
            merged = Text(
                "并案:并入{number}提案《{title}》",
                number=number_text(main.year, main.number),
                title=main.title,
            )
            lines.append(say(merged))
    if proposal.status == ProposalStatus.CONVERTED and proposal.review_reason:
        lines.append(say(Text("说明:{note}", note=proposal.review_reason)))

    handling = s.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else proposal
    assert handling is not None
    again = handled_again(ctx, proposal)
    # a merged proposal shows its main's due date only while it waits for that reply
    waiting = handling is proposal or proposal.status == ProposalStatus.MERGED
    lines += _handling_lines(ctx, handling, public, say, due=waiting)
    # A reply is written for an assignment: a proposal never assigned has none to read.
    reply = delivered_reply(ctx, proposal) if handling.assigned_at is not None else None
    if reply is None and not public and handling.assigned_at is not None:
        current = latest_reply(ctx, pk(handling))
        if proposal.status == ProposalStatus.REPLIED:
            lines.append(say(label("答复:已提交，待督办审核")))
        elif current is not None and current.status == "countersigning":
            lines.append(say(label("答复:已提交，协办单位会签中")))
        if current is not None and current.status in ("countersigning", "submitted"):
            lines += _countersign_lines(ctx, current, public, say)
    if reply is not None and public and not handling.published:
        # the public reads a disclosed reply once it is published (PUBLICATION_WORKDAYS
        # after delivery), as the signers are told; until then only that there is one
        lines.append(say(label("答复:已答复，公开后可在此查看")))
    elif reply is not None:
        lines += _reply_lines(ctx, handling, reply, lead_name, public, say)
        # handled again (重新办理): the earlier reply's ratings, if given, and no more wait
        lines += _rating_lines(ctx, proposal, reply, public, say, given_only=again is not None)
    if again is not None:
        lines.append(say(REDONE if again is proposal else REDONE_MAIN))
        current = None if public else latest_reply(ctx, pk(again))
        if current is not None and current.status in ("countersigning", "submitted"):
            # the new reply on its way, the earlier one still shown above
            lines.append(say(NEW_REPLY_IN[current.status]))
            lines += _countersign_lines(ctx, current, public, say)
    if proposal.number:
        number = number_text(proposal.year, proposal.number)
        lines.append(say(Text("提案编号:{number}", number=number)))
    lines.append(say(Text("领衔委员:{name}", name=lead_name)))
    lines.append(say(Text("当前状态:{status}", status=proposal_label(proposal.status))))
    if timeline:
        lines += ["", say(label("办理过程:"))]
        lines += timeline_lines(ctx, proposal, public, gettext=gettext, locale=locale)
    return "\n".join(lines)


def _handling_lines(
    ctx: Ctx, proposal: Proposal, public: bool, say: _Say, *, due: bool = True
) -> list[str]:
    s = ctx.session
    if proposal.assigned_at is None:
        return []
    assignments = s.exec(
        select(Assignment)
        .where(
            Assignment.proposal_id == proposal.id,
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
        .order_by(col(Assignment.id))
    ).all()
    shown = {a.unit_id for a in assignments}
    if proposal.supervising_unit_id is not None:
        shown.add(proposal.supervising_unit_id)
    unit = names_of(s, Unit, shown)
    leads = [unit[a.unit_id] for a in assignments if a.role == "lead"]
    cos = [unit[a.unit_id] for a in assignments if a.role == "co"]
    assigned = Text(
        "交办时间:{date} 是否重点:{key}",
        date=ctx.local(proposal.assigned_at).date(),
        key=YES if proposal.is_key else NO,
    )
    lines = [say(assigned)]
    supervising = (
        unit.get(proposal.supervising_unit_id, "") if proposal.supervising_unit_id else ""
    )
    leader = "、".join(_names(ctx, [proposal.lead_leader_id])) if proposal.lead_leader_id else ""
    if supervising or leader:
        watch = Text(
            "督办单位:{unit} 牵头领导:{leader}", unit=supervising or NONE, leader=leader or NONE
        )
        lines.append(say(watch))
    lines.append(say(Text("主办单位:{units}", units=leads)))
    if cos:
        lines.append(say(Text("协办单位:{units}", units=cos)))
    if (
        due
        and proposal.due_date
        and proposal.status in (ProposalStatus.ASSIGNED, ProposalStatus.REPLIED)
    ):
        lines.append(say(Text("答复期限:{date}", date=proposal.due_date)))
    if not public:
        for a in assignments:
            if a.role == "co" and a.opinion:
                opinion = Text(
                    "协办意见({unit}):{opinion}", unit=unit[a.unit_id], opinion=a.opinion
                )
                lines.append(say(opinion))
        for c in s.exec(
            select(ContactRecord)
            .where(ContactRecord.proposal_id == proposal.id)
            .order_by(col(ContactRecord.contact_date))
        ):
            contact = Text(
                "沟通情况:{date} {method} {summary}",
                date=c.contact_date,
                method=CONTACT_METHODS.get(c.method, c.method),
                summary=c.summary,
            )
            lines.append(say(contact))
    return lines


def _reply_lines(
    ctx: Ctx, proposal: Proposal, reply: Reply, lead_name: str, public: bool, say: _Say
) -> list[str]:
    lines = ["", reply.title]
    body = reply.body.strip()
    if not body.startswith("尊敬的"):
        if proposal.category == "member":
            lines.append(say(Text("尊敬的{name}委员:", name=lead_name)))
        else:
            lines.append(f"{proposal.collective_body or ''}:")
    lines += [f"  {p.strip()}" for p in body.splitlines() if p.strip()]
    if not public:
        contact = Text(
            "(联系人:{person} 联系电话:{phone})",
            person=reply.contact_person,
            phone=reply.contact_phone,
        )
        lines.append(say(contact))
    lines.append(reply.signing_unit)
    lines.append(say.day(reply.reply_date))
    lines.append(say(Text("答复类别:({cls})类", cls=reply.reply_class)))
    meaning = CLASS_MEANINGS.get(reply.reply_class)
    lines.append(say(Text("落实情况:{meaning}({cls})", meaning=meaning, cls=reply.reply_class)))
    if reply.proposed_class != reply.reply_class and not public:
        changed = Text(
            "（承办单位原报{proposed}类，督办审核调整为{cls}类）",
            proposed=reply.proposed_class,
            cls=reply.reply_class,
        )
        lines.append(say(changed))
    lines += _countersign_lines(ctx, reply, public, say)
    lines.append(say(label("督办审核:已通过")))
    return lines


def _countersign_lines(ctx: Ctx, reply: Reply, public: bool, say: _Say) -> list[str]:
    """会签:区交通运输局同意（王力，2026年9月15日 10:00）；…: each co-handling unit's
    countersignature of the letter (who and when for the parties only); none without."""
    rows = countersigns.rows_of(ctx, pk(reply))
    if not rows:
        return []
    units = names_of(ctx.session, Unit, [r.unit_id for r in rows])
    names = names_of(ctx.session, Person, [r.decided_by for r in rows if r.decided_by])
    awaited = {r.id for r in countersigns.awaited(ctx, reply)}
    items = []
    for row in rows:
        unit = units.get(row.unit_id, "")
        if row.decision is None and row.id not in awaited:
            continue  # a unit reassigned away: the one in its place countersigns
        if row.decision is None:
            item = Text("{unit}待会签（期限{due}）", unit=unit, due=row.due_date)
        elif row.decision == "deemed":
            item = Text("{unit}逾期未会签，视为同意", unit=unit)
        elif public or row.decided_at is None:
            item = Text(
                "{unit}{decision}", unit=unit, decision=countersigns.DECISIONS[row.decision]
            )
        else:
            item = Text(
                "{unit}{decision}（{name}，{at}）",
                unit=unit,
                decision=countersigns.DECISIONS[row.decision],
                name=names.get(row.decided_by or 0, ""),
                at=say.time(ctx, row.decided_at),
            )
        items.append(say(item))
    return [say(Text("会签:{items}", items="；".join(items)))]


def _rating_lines(
    ctx: Ctx,
    proposal: Proposal,
    reply: Reply,
    public: bool,
    say: _Say,
    *,
    given_only: bool = False,
) -> list[str]:
    """满意评价 and 反馈意见 of ``reply`` on this proposal; ``given_only``: nothing while no
    rating of it was given (a reply being written again is no longer waited for)."""
    ratings = ctx.session.exec(
        select(Rating).where(Rating.reply_id == reply.id, Rating.proposal_id == proposal.id)
    ).all()
    given = [r for r in ratings if not r.not_given]
    if not given and given_only:
        return []
    if not given:
        status = label("评价期满未评价") if ratings else label("待评价")
        return [
            say(Text("满意评价:{rating}", rating=status)),
            say(Text("反馈意见:{feedback}", feedback=NOT_YET)),
        ]
    lead = next((r for r in given if r.person_id == proposal.proposer_id), given[0])
    rating: Text | label
    if lead.work_rating == lead.result_rating:
        rating = _rating_word(lead.result_rating)
    else:
        rating = Text(
            "办理工作{work}，办理结果{result}",
            work=_rating_word(lead.work_rating),
            result=_rating_word(lead.result_rating),
        )
    lines = [say(Text("满意评价:{rating}", rating=rating))]
    if len(given) > 1 and not public:
        others = [
            say(
                Text(
                    "{name}:{rating}",
                    name="、".join(_names(ctx, [r.person_id])),
                    rating=_rating_word(r.result_rating),
                )
            )
            for r in given
            if r is not lead
        ]
        lines.append(say(Text("联名委员评价:{ratings}", ratings="；".join(others))))
    feedback = [r.feedback for r in given if r.feedback]
    said = "；".join(feedback) if feedback and not public else NOT_YET
    lines.append(say(Text("反馈意见:{feedback}", feedback=said)))
    return lines


def _rating_word(code: str | None) -> label:
    """满意, 基本满意 or 不满意: a given rating's word (only ratings not given lack codes)."""
    assert code is not None, "a given rating has both its codes"
    return RATINGS[code]


# Assignment events that repeat a proposal event of the same moment.
_REPEATED = {"assignment_submit_reply", "assignment_return_reply", "assignment_approve_reply"}
_PRIVATE = {
    "edit_draft",
    "invite_cosigner",
    "request_cosign",
    "add_cosigner",
    "assignment_record_contact",
    "rate",
}


_COSIGNER_EVENTS = {"invite_cosigner", "add_cosigner", "cosign_expired", "edit_draft"}


def _cosigner_ids(detail: dict) -> list[int]:
    found = (
        detail.get("person_ids")
        or detail.get("removed_person_ids")  # a draft made collective drops its list
        or [detail.get("person_id") or detail.get("removed_person_id")]
    )
    return [i for i in found if isinstance(i, int)]


def _cosigner_event(
    action: str, detail: dict, what: Text | str, names: dict[int | None, str]
) -> Text | str:
    """Whom an event of the co-signers' list concerns: 邀请联名（何平）, 移出联名（黄蕾）,
    联名确认截止（曹磊未确认）, 修改草稿，移出联名（何平） (made collective). Said only where
    the list itself may be read."""
    people = [names.get(i, "") for i in _cosigner_ids(detail)]
    if not people:
        return what
    if action == "cosign_expired":
        return Text("{action}（{names}未确认）", action=what, names=people)
    if action == "edit_draft":
        return Text("{action}，移出联名（{names}）", action=what, names=people)
    if "removed_person_id" in detail:
        return Text("移出联名（{names}）", names=people)
    return Text("{action}（{names}）", action=what, names=people)


def timeline_lines(
    ctx: Ctx,
    proposal: Proposal,
    public: bool = False,
    *,
    gettext: Gettext | None = None,
    locale: str = DEFAULT_LOCALE,
) -> list[str]:
    """One line per event: when, what (with the unit it concerns), who."""
    say = _Say(gettext, locale)
    events = ctx.session.exec(
        select(AuditEvent)
        .where(AuditEvent.proposal_id == proposal.id)
        .order_by(col(AuditEvent.id))
    ).all()
    concerned = {e.actor_id for e in events if e.actor_id}
    for e in events:  # the members an event of the co-signers' list concerns
        if e.action in _COSIGNER_EVENTS and e.detail:
            concerned |= set(_cosigner_ids(e.detail))
    names = {
        p.id: p.name for p in ctx.session.exec(select(Person).where(col(Person.id).in_(concerned)))
    }
    unit_of = {
        assignment_id: (unit_name, role)
        for assignment_id, unit_name, role in ctx.session.exec(
            select(col(Assignment.id), col(Unit.name), col(Assignment.role))
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .where(Assignment.proposal_id == proposal.id)
        ).all()
    }
    lines: list[str] = []
    # Each step of the guided conversation edits the draft: a run of such edits by one
    # person, nothing between them, is one line, at the last one's time: (its line, edits,
    # whose).
    edits: tuple[int, int, int | None] | None = None
    for event in events:
        if event.action in _REPEATED or (public and event.action in _PRIVATE):
            continue
        detail = event.detail or {}
        plain_edit = event.action == "edit_draft" and not _cosigner_ids(detail)
        if plain_edit and edits is not None and edits[2] == event.actor_id:
            at, count = edits[0], edits[1] + 1
            times = Text("{action}（{n}次）", action=action_label(event.action), n=count)
            editor = names.get(event.actor_id, "") if event.actor_id else SYSTEM_NAME
            lines[at] = f"  {say.time(ctx, event.at)}  {say(times)}  {say(editor)}"
            edits = (at, count, event.actor_id)
            continue
        edits = (len(lines), 1, event.actor_id) if plain_edit else None
        what: Text | str = action_label(event.action)
        who: str = names.get(event.actor_id, "") if event.actor_id else SYSTEM_NAME
        if event.action in ("close", "close_merged") and detail.get("reason") == "all_rated":
            # a merged proposal whose own signers all rated closes then, not with its main
            what, who = label("全部评价完成，办结"), SYSTEM_NAME
        elif event.action == "rate" and detail.get("feedback_added"):
            what = Text("{action}：补充反馈意见", action=what)
        elif event.action == "rate" and "previous_work" in detail:
            what = label("修改满意度评价")
        elif event.action == "file" and detail.get("number"):
            what = Text("立案，编号{number}", number=number_text(proposal.year, detail["number"]))
        elif event.action in _COSIGNER_EVENTS and not public:
            what = _cosigner_event(event.action, detail, what, names)
        elif event.assignment_id in unit_of:
            unit, role = unit_of[event.assignment_id]
            what = Text(
                "{action}（{unit}{role}）", action=what, unit=unit, role=ROLE_NAMES.get(role, role)
            )
        said = say(what)
        if event.to_status and not event.assignment_id:
            said += " → " + say(proposal_label(event.to_status))
        if public and event.actor_id and event.action != "submit":
            who = ""
        lines.append(f"  {say.time(ctx, event.at)}  {said}  {say(who)}".rstrip())
    return lines
