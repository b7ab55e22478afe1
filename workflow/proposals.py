"""A proposal from draft to the review decision: drafting, co-signing, submission,
withdrawal, and the four review outcomes (立案, 不予立案, 并案, 转为意见建议)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import update
from sqlmodel import col, select

from storage.clock import as_utc
from storage.models import AuditEvent, Notice, Person, Proposal, Signer, pk
from workflow.core import (
    Audited,
    Ctx,
    audit,
    check_text,
    local_time,
    lock_proposal,
    notice_rows,
    notify,
    people_with_role,
    person_name,
    require_role,
    require_status,
    signer_ids,
    write_notices,
)
from workflow.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from workflow.numbering import bracket_number_text, number_text, take_number
from workflow.permissions import require_proposer, signer_of
from workflow.roles import Role
from workflow.statuses import PROPOSAL_TRANSITIONS, ProposalStatus, proposal_label
from workflow.texts import Text, label

CATEGORIES = {"member": label("委员提案"), "collective": label("集体提案")}
UNTITLED = label("未命名")
DRAFT_FIELDS = (
    "title",
    "category",
    "collective_body",
    "field",
    "analysis",
    "suggestions",
    "suggested_unit",
    "disclose",
)


def proposer_shown(proposal: Proposal, name: str) -> Text | str:
    """Who a proposal is from, as lists and notices to staff name it: for a 集体提案 its body
    ("民盟区委（集体提案）"), as the record does; otherwise ``name``, the proposer's."""
    if proposal.category == "collective" and proposal.collective_body:
        return Text("{body}（集体提案）", body=proposal.collective_body)
    return name


def require_author(ctx: Ctx) -> None:
    """Only members (委员) write proposals: new ones and saved drafts. Said plainly to anyone
    else before a draft is involved (the transitions themselves refuse with their label)."""
    if ctx.actor is None or Role.MEMBER.value in ctx.actor.role_set:
        return
    raise PermissionDenied("只有委员可以撰写提案（新建提案、我的草稿），您没有委员身份。")


def _guard(ctx: Ctx, action: str, proposal: Proposal):
    transition = PROPOSAL_TRANSITIONS[action]
    require_status(
        ctx,
        transition,
        proposal.status,
        label=proposal_label,
        subject=Text("提案《{title}》", title=proposal.title or UNTITLED),
        proposal_id=pk(proposal),
    )
    return transition


def _move(ctx: Ctx, proposal: Proposal, action: str, **detail) -> Audited:
    """Apply the transition's target status and write the audit event."""
    transition = PROPOSAL_TRANSITIONS[action]
    before = proposal.status
    if transition.target is not None:
        proposal.status = transition.target
    proposal.updated_at = ctx.now
    ctx.session.add(proposal)
    return audit(
        ctx,
        action,
        proposal_id=proposal.id,
        from_status=before if transition.target is not None else None,
        to_status=transition.target,
        **detail,
    )


def _begin(ctx: Ctx, action: str, proposal_id: int) -> Proposal:
    require_role(ctx, PROPOSAL_TRANSITIONS[action])
    return lock_proposal(ctx, proposal_id)


# ---------------------------------------------------------------- drafting


def one_line(text: str | None) -> str | None:
    """A name or title typed in several lines (pasted from a page that broke it) as the one
    line it is: the lines joined, with a space only between two Latin letters or digits."""
    if text is None:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    joined = ""
    for line in lines:
        if joined and joined[-1].isascii() and joined[-1].isalnum() and line[0].isascii():
            joined += " "
        joined += line
    return joined


def _clean_fields(ctx: Ctx, fields: dict) -> dict:
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise InvalidInput("不能修改这些内容：{fields}。", fields=", ".join(sorted(unknown)))
    rules = ctx.rules
    clean: dict = {}
    for name, value in fields.items():
        if name == "title":
            clean[name] = check_text(
                one_line(value), "标题", max_chars=rules.title_max_chars, required=False
            )
        elif name in ("analysis", "suggestions"):
            what = label("问题分析") if name == "analysis" else label("具体建议")
            clean[name] = check_text(value, what, max_chars=rules.body_max_chars, required=False)
        elif name == "category":
            if value not in CATEGORIES:
                raise InvalidInput("提案类别只能是「委员提案」或「集体提案」。")
            clean[name] = value
        elif name == "disclose":
            if not isinstance(value, bool):
                raise InvalidInput("信息公开只能选择「是」或「否」。")
            clean[name] = value
        else:
            names = {
                "collective_body": label("提案单位"),
                "field": label("领域"),
                "suggested_unit": label("建议承办单位"),
            }
            limit = {"collective_body": 100, "field": 50, "suggested_unit": 200}[name]
            if name == "collective_body":
                value = one_line(value)
            clean[name] = check_text(value, names[name], max_chars=limit, required=False) or None
    return clean


def body_length(proposal: Proposal) -> int:
    return len(proposal.analysis) + len(proposal.suggestions)


def _check_body(ctx: Ctx, proposal: Proposal) -> None:
    used = body_length(proposal)
    if used > ctx.rules.body_max_chars:
        raise InvalidInput(
            "正文（问题分析与建议合计）最多 {max_chars} 个字，现在有 {n} 个字，请精简后再保存。",
            max_chars=ctx.rules.body_max_chars,
            n=used,
        )


def create_draft(ctx: Ctx, **fields) -> Proposal:
    """Start a draft owned by the actor, who becomes its lead signer."""
    require_role(ctx, PROPOSAL_TRANSITIONS["edit_draft"])
    if ctx.actor is None:
        raise PermissionDenied("草稿必须属于一位委员。")
    clean = _clean_fields(ctx, fields)
    proposal = Proposal(
        year=ctx.today.year,
        session_label=ctx.rules.session_label,
        proposer_id=pk(ctx.actor),
        created_at=ctx.now,
        updated_at=ctx.now,
        **clean,
    )
    _check_body(ctx, proposal)
    ctx.session.add(proposal)
    ctx.session.flush()
    ctx.session.add(
        Signer(
            proposal_id=pk(proposal),
            person_id=pk(ctx.actor),
            role="lead",
            position=0,
            state="confirmed",
            invited_at=ctx.now,
            responded_at=ctx.now,
        )
    )
    audit(ctx, "create", proposal_id=proposal.id, to_status=ProposalStatus.DRAFT)
    return proposal


def update_draft(ctx: Ctx, proposal_id: int, **fields) -> Proposal:
    """Change fields of one's own draft; each text keeps within its limit.

    Only what differs is written and audited: choosing the value a field already has (the
    category or disclosure the draft starts with) is checked like any edit and changes
    nothing."""
    proposal = _begin(ctx, "edit_draft", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "edit_draft", proposal)
    clean = _clean_fields(ctx, fields)
    changed = {name: value for name, value in clean.items() if getattr(proposal, name) != value}
    if not changed:
        return proposal
    for name, value in changed.items():
        setattr(proposal, name, value)
    _check_body(ctx, proposal)
    removed = []
    if changed.get("category") == "collective":
        # Made in a body's name, it has no co-signers: those on the draft were not asked yet
        # (they are asked at submission), so they simply come off the list.
        for signer in ctx.session.exec(
            select(Signer).where(Signer.proposal_id == proposal.id, Signer.role == "co")
        ).all():
            removed.append(signer.person_id)
            ctx.session.delete(signer)
    detail: dict = {"fields": sorted(changed)}
    if removed:
        detail["removed_person_ids"] = removed
    _move(ctx, proposal, "edit_draft", **detail)
    return proposal


def discard_draft(ctx: Ctx, proposal_id: int) -> Proposal:
    proposal = _begin(ctx, "discard_draft", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "discard_draft", proposal)
    _move(ctx, proposal, "discard_draft")
    return proposal


def takes_cosigners(proposal: Proposal) -> bool:
    """联名 is for a member's proposal: a collective one is made in a body's name."""
    return proposal.category != "collective"


def _no_cosigners_for_collective(proposal: Proposal) -> None:
    if not takes_cosigners(proposal):
        raise InvalidInput("集体提案以提案单位的名义提出，不邀请委员联名。")


def _new_cosigner(ctx: Ctx, proposal: Proposal, person_id: int) -> Signer:
    """A pending co-signer row for a member not yet on the list (an answer is final)."""
    _no_cosigners_for_collective(proposal)
    person = ctx.session.get(Person, person_id)
    if person is None or not person.active or Role.MEMBER.value not in person.role_set:
        raise InvalidInput("联名人必须是在册的委员。")
    if person_id == proposal.proposer_id:
        raise InvalidInput("您是领衔提案人，不需要再联名。")
    existing = signer_of(ctx, pk(proposal), person_id)
    if existing is not None:
        raise InvalidInput(_signer_state(ctx, existing, person.name))
    signer = Signer(
        proposal_id=pk(proposal),
        person_id=person_id,
        role="co",
        position=len(signer_ids(ctx.session, pk(proposal), confirmed_only=False)),
        state="pending",
        invited_at=ctx.now,
    )
    ctx.session.add(signer)
    return signer


def invite_cosigner(ctx: Ctx, proposal_id: int, person_id: int) -> Signer:
    """Add a member as co-signer of one's draft; they are asked to confirm on submission."""
    proposal = _begin(ctx, "invite_cosigner", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "invite_cosigner", proposal)
    signer = _new_cosigner(ctx, proposal, person_id)
    _move(ctx, proposal, "invite_cosigner", person_id=person_id)
    return signer


def remove_cosigner(ctx: Ctx, proposal_id: int, person_id: int) -> None:
    proposal = _begin(ctx, "invite_cosigner", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "invite_cosigner", proposal)
    signer = signer_of(ctx, pk(proposal), person_id)
    if signer is None or signer.role != "co":
        raise InvalidInput("此人不在联名名单中。")
    ctx.session.delete(signer)
    _move(ctx, proposal, "invite_cosigner", removed_person_id=person_id)


# ---------------------------------------------------------------- submission


def cosign_deadline(ctx: Ctx) -> datetime:
    """End of the working day ``cosign_window_workdays`` after today, local time."""
    last_day = ctx.calendar.add_workdays(ctx.today, ctx.rules.cosign_window_workdays)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=ctx.rules.tz)


def submit(ctx: Ctx, proposal_id: int) -> Proposal:
    """Submit one's draft: check it is complete, tell staff, ask co-signers to confirm."""
    proposal = _begin(ctx, "submit", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "submit", proposal)
    missing = [
        label
        for label, value in (
            (label("标题"), proposal.title),
            (label("问题分析"), proposal.analysis),
            (label("具体建议"), proposal.suggestions),
        )
        if not value.strip()
    ]
    if proposal.category == "collective" and not proposal.collective_body:
        missing.append(label("提案单位"))
    if missing:
        raise InvalidInput("还缺少：{items}，请补充后再提交。", items=missing)
    _check_body(ctx, proposal)
    if proposal.category == "collective":  # a draft that had co-signers before the rule
        names = [
            person_name(ctx.session, pid)
            for pid in ctx.session.exec(
                select(Signer.person_id).where(
                    Signer.proposal_id == proposal.id, Signer.role == "co"
                )
            ).all()
        ]
        if names:
            raise InvalidInput(
                "集体提案以提案单位的名义提出，不邀请委员联名，请先在「联名委员」中移出{names}。",
                names=names,
            )
    # The members asked are asked now: one who has left the roster, or is no longer a
    # member on it, since the draft invited them could not answer.
    gone = [
        person.name
        for person in ctx.session.exec(
            select(Person)
            .join(Signer, col(Signer.person_id) == Person.id)
            .where(Signer.proposal_id == proposal.id, Signer.role == "co")
            .order_by(col(Signer.position))
        ).all()
        if not person.active or Role.MEMBER.value not in person.role_set
    ]
    if gone:
        raise InvalidInput(
            "{names}已不是在册的委员，不能联名，请先在「联名委员」中移出。", names=gone
        )
    # A proposal belongs to the year and 会次 it is submitted in, not those its draft was
    # started in (begun on 30 December, submitted on 5 January: next year's).
    proposal.year = ctx.today.year
    # Its signatures now count among the signers' proposals of that year (我的提案).
    ctx.session.execute(
        update(Signer).where(col(Signer.proposal_id) == proposal.id).values(year=proposal.year)
    )
    proposal.session_label = ctx.rules.session_label
    proposal.submitted_at = ctx.now
    proposal.cosign_deadline = cosign_deadline(ctx)
    _move(ctx, proposal, "submit")

    title = proposal.title
    # The receipt and staff's review queue, in one statement (it runs on every submission).
    receipt = notice_rows(
        ctx,
        [proposal.proposer_id],
        "submitted_receipt",
        Text(
            "您的提案《{title}》已于{at}提交，正在等待提案委审查。",
            title=title,
            at=local_time(ctx, ctx.now),
        ),
        key=str(proposal.id),
        proposal_id=proposal.id,
    )
    queue = notice_rows(
        ctx,
        people_with_role(ctx.session, Role.STAFF),
        "review_queue",
        Text(
            "新提案待审查：《{title}》（提案人：{name}）。",
            title=title,
            name=proposer_shown(proposal, person_name(ctx.session, proposal.proposer_id)),
        ),
        key=str(proposal.id),
        proposal_id=proposal.id,
    )
    write_notices(ctx, receipt + queue)
    pending = ctx.session.exec(
        select(Signer).where(Signer.proposal_id == proposal.id, Signer.state == "pending")
    ).all()
    for signer in pending:
        signer.invited_at = ctx.now
        ctx.session.add(signer)
        _ask_to_cosign(ctx, proposal, signer.person_id, key=str(proposal.id))
    return proposal


def _respond_cosign(ctx: Ctx, proposal_id: int, accept: bool) -> Signer:
    action = "confirm_cosign" if accept else "decline_cosign"
    proposal = _begin(ctx, action, proposal_id)
    signer = signer_of(ctx, pk(proposal), ctx.actor_id)
    if ctx.actor is not None and (signer is None or signer.role != "co"):
        raise PermissionDenied("您没有被邀请联名这件提案。")
    _guard(ctx, action, proposal)
    assert signer is not None
    if signer.state != "pending":
        at = local_time(ctx, signer.responded_at)
        if signer.state == "confirmed":
            raise InvalidTransition("您已确认联名（{at}）。", at=at)
        if signer.state == "declined":
            raise InvalidTransition("您已谢绝联名（{at}）。", at=at)
        raise InvalidTransition(
            "联名确认已于{deadline}截止，您未在截止前确认，已不在联名名单中。",
            deadline=local_time(ctx, proposal.cosign_deadline or signer.responded_at),
        )
    if proposal.cosign_deadline is not None and ctx.now > proposal.cosign_deadline:
        raise InvalidTransition(
            "联名确认已于{deadline}截止，不能再确认。",
            deadline=local_time(ctx, proposal.cosign_deadline),
        )
    signer.state = "confirmed" if accept else "declined"
    signer.responded_at = ctx.now
    ctx.session.add(signer)
    _move(ctx, proposal, action, person_id=signer.person_id)
    name = person_name(ctx.session, signer.person_id)
    if accept:
        text = Text("{name}委员已确认联名您的提案《{title}》。", name=name, title=proposal.title)
    else:
        text = Text("{name}委员已谢绝联名您的提案《{title}》。", name=name, title=proposal.title)
    notify(
        ctx,
        [proposal.proposer_id],
        "cosign_response",
        text,
        key=f"{proposal.id}:{signer.person_id}",
        proposal_id=proposal.id,
    )
    return signer


def confirm_cosign(ctx: Ctx, proposal_id: int) -> Signer:
    return _respond_cosign(ctx, proposal_id, True)


def decline_cosign(ctx: Ctx, proposal_id: int) -> Signer:
    return _respond_cosign(ctx, proposal_id, False)


# ---------------------------------------------------------------- joining a submitted proposal


def cosign_open(ctx: Ctx, proposal: Proposal) -> bool:
    """Co-signers may still join: the proposal awaits review and the cut-off has not passed."""
    return proposal.status == ProposalStatus.SUBMITTED and (
        proposal.cosign_deadline is None or ctx.now <= as_utc(proposal.cosign_deadline)
    )


def _require_cosign_time(ctx: Ctx, proposal: Proposal) -> None:
    if not cosign_open(ctx, proposal):
        raise InvalidTransition(
            "提案《{title}》的联名已于{deadline}截止。",
            title=proposal.title,
            deadline=local_time(ctx, proposal.cosign_deadline),
        )


def _signer_state(ctx: Ctx, signer: Signer, who: str | None) -> Text:
    """Why someone already on the list (``who``; None: the actor) cannot be asked again
    (an answer is final)."""
    at = local_time(ctx, signer.responded_at)
    if who is None:
        if signer.state in ("pending", "confirmed"):
            return Text("您已经在这件提案的联名名单中。")
        if signer.state == "declined":
            return Text("您已于{at}谢绝了联名，不能再次邀请。", at=at)
        return Text("您已于{at}未在截止前确认联名，不能再次邀请。", at=at)
    if signer.state in ("pending", "confirmed"):
        return Text("{who}已经在这件提案的联名名单中。", who=who)
    if signer.state == "declined":
        return Text("{who}已于{at}谢绝了联名，不能再次邀请。", who=who, at=at)
    return Text("{who}已于{at}未在截止前确认联名，不能再次邀请。", who=who, at=at)


def request_to_cosign(ctx: Ctx, proposal_id: int) -> Proposal:
    """A member asks the proposer of a submitted proposal to invite them as a co-signer
    (instead of submitting a similar proposal of their own); the proposer is told, with a
    button that invites them (see ``add_cosigner``)."""
    proposal = _begin(ctx, "request_cosign", proposal_id)
    if ctx.actor is None:
        raise PermissionDenied("联名请求必须来自一位委员。")
    if proposal.proposer_id == ctx.actor_id:
        raise PermissionDenied("这是您自己的提案，不需要联名。")
    _guard(ctx, "request_cosign", proposal)
    _no_cosigners_for_collective(proposal)
    _require_cosign_time(ctx, proposal)
    signer = signer_of(ctx, pk(proposal), ctx.actor_id)
    if signer is not None:
        raise PermissionDenied(_signer_state(ctx, signer, None))
    proposer = person_name(ctx.session, proposal.proposer_id)
    asked = ctx.session.exec(
        select(AuditEvent).where(
            AuditEvent.proposal_id == proposal.id,
            AuditEvent.action == "request_cosign",
            AuditEvent.actor_id == ctx.actor_id,
        )
    ).first()
    if asked is not None:
        raise InvalidInput(
            "您已于{at}请{name}委员邀请您联名，请等待对方邀请。",
            at=local_time(ctx, asked.at),
            name=proposer,
        )
    event = _move(ctx, proposal, "request_cosign")
    notify(
        ctx,
        [proposal.proposer_id],
        "cosign_wish",
        Text(
            "{name}委员希望联名您的提案《{title}》。如同意，请点「邀请联名」，"
            "{name}委员将收到联名邀请，须在{deadline}前确认。",
            name=ctx.actor.name,
            title=proposal.title,
            deadline=local_time(ctx, proposal.cosign_deadline),
        ),
        key=f"{proposal.id}:{event.id}",
        proposal_id=proposal.id,
        actions=[
            {"label": label("邀请联名"), "payload": f"cosignadd:{proposal.id}:{ctx.actor_id}"},
        ],
    )
    return proposal


def add_cosigner(ctx: Ctx, proposal_id: int, person_id: int) -> Signer:
    """The proposer invites a member to co-sign a submitted proposal before the cut-off
    (usually one who asked to); they confirm like any co-signer, by the same cut-off."""
    proposal = _begin(ctx, "add_cosigner", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "add_cosigner", proposal)
    _require_cosign_time(ctx, proposal)
    signer = _new_cosigner(ctx, proposal, person_id)
    event = _move(ctx, proposal, "add_cosigner", person_id=person_id)
    _ask_to_cosign(ctx, proposal, person_id, key=f"{proposal.id}:{event.id}")
    return signer


def _ask_to_cosign(ctx: Ctx, proposal: Proposal, person_id: int, *, key: str) -> None:
    """The invitation to confirm, with one-tap buttons, before the cut-off."""
    notify(
        ctx,
        [person_id],
        "cosign_request",
        Text(
            "{name}委员邀请您联名提案《{title}》，请在{deadline}前确认。",
            name=person_name(ctx.session, proposal.proposer_id),
            title=proposal.title,
            deadline=local_time(ctx, proposal.cosign_deadline),
        ),
        key=key,
        proposal_id=proposal.id,
        actions=[
            {"label": label("确认联名"), "payload": f"cosign:{proposal.id}:yes"},
            {"label": label("谢绝"), "payload": f"cosign:{proposal.id}:no"},
        ],
    )


def expire_pending_cosigners(
    ctx: Ctx, proposal: Proposal, *, at_review: bool = False
) -> list[int]:
    """Unconfirmed co-signers drop off, at the cut-off or when review begins (``at_review``:
    before the cut-off, so the proposer reads that review began, and the members still asked,
    whose invitation said they had until the cut-off, are told it has ended)."""
    dropped = []
    for signer in ctx.session.exec(
        select(Signer).where(Signer.proposal_id == proposal.id, Signer.state == "pending")
    ).all():
        signer.state = "expired"
        signer.responded_at = ctx.now
        ctx.session.add(signer)
        dropped.append(signer.person_id)
    if dropped:
        audit(ctx, "cosign_expired", proposal_id=proposal.id, person_ids=dropped)
        names = [person_name(ctx.session, p) for p in dropped]
        notify(
            ctx,
            [proposal.proposer_id],
            "cosign_expired",
            Text(
                "提案《{title}》已开始审查，{names}未在审查前确认联名，已不在联名名单中。",
                title=proposal.title,
                names=names,
            )
            if at_review
            else Text(
                "提案《{title}》的联名确认已截止，{names}未确认，已不在联名名单中。",
                title=proposal.title,
                names=names,
            ),
            key=str(proposal.id),
            proposal_id=proposal.id,
        )
        if at_review:
            notify(
                ctx,
                dropped,
                "cosign_ended",
                Text(
                    "{name}委员的提案《{title}》已开始审查，您尚未确认的联名邀请随之结束，"
                    "您不在联名名单中。",
                    name=person_name(ctx.session, proposal.proposer_id),
                    title=proposal.title,
                ),
                key=str(proposal.id),
                proposal_id=proposal.id,
            )
    tell_who_asked_to_cosign(ctx, proposal, at_review=at_review)
    return dropped


def waiting_to_cosign(ctx: Ctx, proposal: Proposal) -> list[int]:
    """Who asked to co-sign (``request_to_cosign``, giving up a draft of their own, maybe),
    was not invited, and was not told yet that no invitation will come."""
    on_list = set(signer_ids(ctx.session, pk(proposal), confirmed_only=False))
    told = set(
        ctx.session.exec(
            select(Notice.person_id).where(
                Notice.proposal_id == proposal.id, Notice.kind == "cosign_wish_ended"
            )
        ).all()
    )
    asked = ctx.session.exec(
        select(AuditEvent.actor_id)
        .where(AuditEvent.proposal_id == proposal.id, AuditEvent.action == "request_cosign")
        .order_by(col(AuditEvent.id))
    ).all()
    return [p for p in dict.fromkeys(asked) if p is not None and p not in on_list | told]


def tell_who_asked_to_cosign(ctx: Ctx, proposal: Proposal, *, at_review: bool) -> None:
    """Co-signing ended (review began, ``at_review``, or the cut-off passed): who asked to
    co-sign and was not invited hears, once, that no invitation will come."""
    waiting = waiting_to_cosign(ctx, proposal)
    if not waiting:
        return
    name = person_name(ctx.session, proposal.proposer_id)
    notify(
        ctx,
        waiting,
        "cosign_wish_ended",
        Text(
            "您希望联名的提案《{title}》已开始审查，联名随之结束，{name}委员没有邀请您联名。"
            "如有需要，您可以另行撰写提案。",
            title=proposal.title,
            name=name,
        )
        if at_review
        else Text(
            "您希望联名的提案《{title}》的联名已于{deadline}截止，{name}委员没有邀请您联名。"
            "如有需要，您可以另行撰写提案。",
            title=proposal.title,
            deadline=local_time(ctx, proposal.cosign_deadline),
            name=name,
        ),
        key=str(proposal.id),
        proposal_id=proposal.id,
    )


def withdraw(ctx: Ctx, proposal_id: int, reason: str | None = None) -> Proposal:
    """The proposer takes back a submitted proposal before review."""
    proposal = _begin(ctx, "withdraw", proposal_id)
    require_proposer(ctx, proposal)
    _guard(ctx, "withdraw", proposal)
    reason = check_text(reason, "撤回理由", max_chars=500, required=False) or None
    _move(ctx, proposal, "withdraw", reason=reason)
    asked = ctx.session.exec(  # who co-signs or was still asked to: not who declined
        select(Signer.person_id).where(
            Signer.proposal_id == proposal.id, col(Signer.state).in_(("pending", "confirmed"))
        )
    ).all()
    told = [*people_with_role(ctx.session, Role.STAFF), *asked]
    notify(
        ctx,
        told,
        "withdrawn",
        Text("提案《{title}》已由提案人撤回。", title=proposal.title),
        key=str(proposal.id),
        proposal_id=proposal.id,
        exclude=[proposal.proposer_id],
    )
    # Who asked to co-sign it (giving up a draft of their own, maybe) and was not invited
    # yet waits for an invitation that cannot come now (unless told so at the cut-off).
    notify(
        ctx,
        waiting_to_cosign(ctx, proposal),
        "withdrawn",
        Text(
            "您希望联名的提案《{title}》已由提案人{name}委员撤回，不会再邀请您联名。",
            title=proposal.title,
            name=person_name(ctx.session, proposal.proposer_id),
        ),
        key=str(proposal.id),
        proposal_id=proposal.id,
        exclude=[*told, proposal.proposer_id],  # told already, as staff
    )
    return proposal


# ---------------------------------------------------------------- review (审查)


def _review(ctx: Ctx, proposal_id: int, action: str) -> Proposal:
    proposal = _begin(ctx, action, proposal_id)
    _guard(ctx, action, proposal)
    # Before the cut-off, review ends the co-signing early; after it (the sweep has not
    # run yet), it only carries out the cut-off.
    expire_pending_cosigners(ctx, proposal, at_review=cosign_open(ctx, proposal))
    proposal.reviewed_at = ctx.now
    proposal.reviewed_by = ctx.actor_id
    return proposal


def _tell_signers(ctx: Ctx, proposal: Proposal, kind: str, text: Text) -> None:
    notify(
        ctx,
        signer_ids(ctx.session, pk(proposal)),
        kind,
        text,
        key=str(proposal.id),
        proposal_id=proposal.id,
    )


def file_proposal(ctx: Ctx, proposal_id: int) -> Proposal:
    """立案: the proposal takes its year's next number."""
    proposal = _review(ctx, proposal_id, "file")
    proposal.number = take_number(ctx.session, proposal.year)
    _move(ctx, proposal, "file", number=proposal.number)
    _tell_signers(
        ctx,
        proposal,
        "filed",
        Text(
            "您的提案《{title}》已立案，编号为{number}（{short}），将交有关单位办理。",
            title=proposal.title,
            number=number_text(proposal.year, proposal.number),
            short=bracket_number_text(proposal.number),
        ),
    )
    return proposal


def reject(ctx: Ctx, proposal_id: int, reason: str) -> Proposal:
    """不予立案, always with a reason."""
    require_role(ctx, PROPOSAL_TRANSITIONS["reject"])
    reason = check_text(reason, "不予立案的理由", max_chars=1000)
    proposal = _review(ctx, proposal_id, "reject")
    proposal.review_reason = reason
    _move(ctx, proposal, "reject", reason=reason)
    _tell_signers(
        ctx,
        proposal,
        "not_filed",
        Text(
            "您的提案《{title}》经审查不予立案。理由：{reason}",
            title=proposal.title,
            reason=reason,
        ),
    )
    return proposal


def merge(ctx: Ctx, proposal_id: int, target_id: int, note: str | None = None) -> Proposal:
    """并案 into a filed proposal of the same year; this proposer still gets the reply."""
    if proposal_id == target_id:
        raise InvalidInput("不能把提案并入它自己。")
    require_role(ctx, PROPOSAL_TRANSITIONS["merge"])
    # Lock in id order so two merges in opposite directions cannot deadlock.
    first, second = sorted((proposal_id, target_id))
    lock_proposal(ctx, first)
    lock_proposal(ctx, second)
    target = ctx.session.get(Proposal, target_id)
    if target is None:
        raise NotFound("找不到要并入的提案 {target_id}。", target_id=target_id)
    proposal = _review(ctx, proposal_id, "merge")
    if target.status not in (ProposalStatus.FILED, ProposalStatus.ASSIGNED):
        raise InvalidInput(
            "只能并入已立案、尚未答复的提案；《{title}》当前为「{status}」。",
            title=target.title,
            status=proposal_label(target.status),
        )
    if target.year != proposal.year:
        raise InvalidInput("只能并入同一年度的提案。")
    note = check_text(note, "并案说明", max_chars=500, required=False) or None
    proposal.merged_into_id = target.id
    proposal.review_reason = note
    _move(ctx, proposal, "merge", target_id=target.id, note=note)
    _tell_signers(
        ctx,
        proposal,
        "merged",
        Text(
            "您的提案《{title}》与{number}提案《{target}》内容相近，已并案办理；答复将同样送达您。",
            title=proposal.title,
            number=number_text(target.year, target.number),
            target=target.title,
        ),
    )
    return proposal


def convert(ctx: Ctx, proposal_id: int, note: str | None = None) -> Proposal:
    """转为意见建议: passed on for reference instead of formal handling."""
    proposal = _review(ctx, proposal_id, "convert")
    note = check_text(note, "说明", max_chars=1000, required=False) or None
    proposal.review_reason = note
    _move(ctx, proposal, "convert", note=note)
    _tell_signers(
        ctx,
        proposal,
        "converted",
        Text(
            "您的提案《{title}》经审查转为意见建议，转送有关部门参考。{extra}",
            title=proposal.title,
            extra=Text("说明：{note}", note=note) if note else None,
        ),
    )
    return proposal
