"""The scheduled sweeps: the bot speaks first, at the right moment, to the right people, once.

Each sweep is a plain function of a system context (``wf.ctx(session, None)``; ``ctx.now`` is
the moment it runs) that makes the changes time brings and writes the notices they call for,
and returns how many notices it wrote. ``SWEEPS`` lists them in run order; the scheduler runs
them every few minutes, and the daily digest (``DIGEST``) at ``rules.digest_time`` on working
days.

Every sweep is idempotent: run twice at the same moment, or every few minutes all day, it
writes each notice once. A notice's key says what makes it unique: the assignment and the
reminder's offset, the local date for daily ones, the ISO week for weekly ones; a person
already told under that key is not told again. Changes (an adjustment window closing, a
co-signer dropping off, a rating recorded as not given, a reply published) go through the
workflow's own services, with their audit events, one record at a time in a savepoint: a
record someone else changed meanwhile is skipped and the rest go on.

Reminders and escalations go out on working days only. Changes that fall due on a holiday
are made on time, and the notices they write wait until the next working day's morning (the
end of the quiet hours); so does what a sweep writes in the evening quiet hours before a day
off. Reminders are not written in the evening quiet hours at all (the bot was down until
then): one said once a day or once a week would go out the next morning beside that day's
own, and any would go out after what happened meanwhile (over a holiday, a reply submitted,
a rating given), saying what is no longer so; the next working day's run says them instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Bundle, Mapped, aliased
from sqlmodel import col, select

from storage.clock import as_utc
from storage.files import AttachmentStore
from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    ChannelAccount,
    ContactRecord,
    Conversation,
    Countersign,
    Notice,
    Person,
    Proposal,
    Rating,
    Reply,
    Signer,
    Unit,
    pk,
)
from storage.repositories import lead_units, one_of
from workflow import assignments, countersigns, proposals, replies
from workflow.assignments import LETTER_WRITTEN, UNANSWERED
from workflow.core import (
    NOTICES_COUNT,
    NOTICES_NOT_BEFORE,
    Ctx,
    lock_proposal,
    notice_rows,
    person_name,
    write_notices,
)
from workflow.errors import WorkflowError
from workflow.numbering import number_text
from workflow.roles import Role
from workflow.statuses import AssignmentStatus, ProposalStatus
from workflow.texts import Text

log = logging.getLogger(__name__)

# Audit actions that give an assignment a new due date after 交办.
DUE_DATE_MOVES = ("assignment_extend", "assignment_rehandle")
DIGEST = "digest"
DIGEST_DUE_WITHIN_WORKDAYS = 5  # the digest's "due soon" section
DIGEST_LIST_MAX = 5  # items listed under each count
# How far back the digest looks for the last one staff were sent: its "new" list begins
# there, so that a day the bot was down is not left out.
DIGEST_LOOKBACK_DAYS = 31
ESCALATION_LIST_MAX = 10  # overdue proposals listed in one escalation
NOT_GIVEN_LIST_MAX = 20  # proposals listed in one notice of ratings recorded as not given
ORPHAN_FILE_DAYS = 7  # stored files no record refers to are deleted after this

Sweep = Callable[[Ctx], int]
SWEEPS: dict[str, Sweep] = {}


def sweep(name: str) -> Callable[[Callable[[Ctx], None]], Sweep]:
    """Register a sweep under ``name`` (in run order). The sweep's notices are counted, and
    those written on a day that is not a working day wait for the next working morning."""

    def register(body: Callable[[Ctx], None]) -> Sweep:
        def run(ctx: Ctx) -> int:
            info = ctx.session.info
            before, floor = info.get(NOTICES_COUNT, 0), info.get(NOTICES_NOT_BEFORE)
            info[NOTICES_NOT_BEFORE] = _next_working_morning(ctx)
            try:
                body(ctx)
            finally:
                info[NOTICES_NOT_BEFORE] = floor
            return info.get(NOTICES_COUNT, 0) - before

        run.__name__ = run.__qualname__ = body.__name__
        run.__doc__ = body.__doc__
        SWEEPS[name] = run
        return run

    return register


def run_all(ctx: Ctx) -> dict[str, int]:
    """Every sweep in order (the digest only once its time has come on a working day);
    {name: notices written}."""
    return {name: fn(ctx) for name, fn in SWEEPS.items()}


# ---------------------------------------------------------------- helpers


def _quiet_evening(ctx: Ctx) -> bool:
    """Whether it is the evening part of the quiet hours: what is written now goes out the
    next morning."""
    return ctx.rules.quiet_evening(ctx.local(ctx.now).time())


def _next_working_morning(ctx: Ctx) -> datetime | None:
    """None if a notice written now goes out on a working day (today, or tomorrow morning
    in the evening quiet hours); otherwise the next working day at the end of the quiet
    hours."""
    day = ctx.today + timedelta(days=1) if _quiet_evening(ctx) else ctx.today
    if ctx.calendar.is_workday(day):
        return None
    day = ctx.calendar.next_workday(day)
    return as_utc(datetime.combine(day, ctx.rules.day_starts_at, tzinfo=ctx.rules.tz))


def _workday(ctx: Ctx) -> bool:
    return ctx.calendar.is_workday(ctx.today)


def _daily(ctx: Ctx) -> bool:
    """Whether reminders are written now: on a working day, until the evening quiet hours
    begin. Written later (the bot was down until then), one said once a day would go out
    the next morning beside the next working day's own, and any would go out after a night
    or a holiday in which the reply may have been submitted or the rating given; the next
    working day's run says it instead, as things are then."""
    return _workday(ctx) and not _quiet_evening(ctx)


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _each(ctx: Ctx, items: Iterable, change: Callable) -> None:
    """Apply ``change`` to each item in a savepoint; a refusal (someone changed the record
    meanwhile) undoes that item only, the notices it wrote included (and uncounted)."""
    info = ctx.session.info
    for item in items:
        written = info.get(NOTICES_COUNT, 0)
        try:
            with ctx.session.begin_nested():
                change(item)
        except WorkflowError as refusal:
            info[NOTICES_COUNT] = written
            log.info("sweep skipped %r: %s", item, refusal)


def _local_date(ctx: Ctx, moment: datetime) -> date:
    return ctx.local(moment).date()


def _delivered_on(ctx: Ctx, proposal: Proposal) -> date:
    """The local date a proposal's reply was delivered (the sweeps select delivered ones)."""
    if proposal.delivered_at is None:
        raise ValueError(f"proposal {proposal.id} has no delivery time")
    return _local_date(ctx, proposal.delivered_at)


# Primary keys as the columns they are in a query: never NULL in a row read back (SQLModel
# types them optional because a new object has none yet).
_PERSON_ID = cast("Mapped[int]", Person.id)
_UNIT_ID = cast("Mapped[int]", Unit.id)
_REPLY_ID = cast("Mapped[int]", Reply.id)


class _Told:
    """Notices a sweep has to say, written together at its end: who was already told under
    each key is found in one query for all of them, not one per item; the people, units and
    names the notices need are loaded once per sweep, not once per item."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.pending: list[tuple[list[int], str, Text, str, int | None, list[dict] | None]] = []
        self._roles: dict[Role, dict[int | None, list[int]]] = {}
        self._units: dict[int, str] | None = None
        self._names: dict[int, str] = {}

    # ------------------------------------------------------------ who and what

    def people(self, role: Role, unit_id: int | None = None) -> list[int]:
        """Active people holding ``role`` (in ``unit_id`` if given), as ``people_with_role``."""
        by_unit = self._roles.get(role)
        if by_unit is None:
            by_unit = self._roles[role] = {}
            rows = self.ctx.session.exec(
                select(_PERSON_ID, Person.unit_id)
                .where(col(Person.roles).contains(role.value), Person.active)
                .order_by(col(Person.id))
            ).all()
            everyone: list[int] = []
            for person_id, unit in rows:
                everyone.append(person_id)
                if unit is not None:
                    by_unit.setdefault(unit, []).append(person_id)
            by_unit[None] = everyone
        return list(by_unit.get(unit_id, []))

    def handlers(self, unit_id: int | None) -> list[int]:
        return self.people(Role.HANDLER, unit_id) if unit_id is not None else []

    def unit_name(self, unit_id: int | None) -> str:
        if self._units is None:
            self._units = dict(self.ctx.session.exec(select(_UNIT_ID, Unit.name)).all())
        return self._units.get(unit_id, "") if unit_id is not None else ""

    def load_names(self, person_ids: Iterable[int | None]) -> None:
        wanted = {p for p in person_ids if p is not None and p not in self._names}
        if wanted:
            self._names.update(
                self.ctx.session.exec(
                    select(_PERSON_ID, Person.name).where(
                        one_of(self.ctx.session, _PERSON_ID, wanted)
                    )
                ).all()
            )

    def name(self, person_id: int | None) -> str:
        if person_id is None or person_id not in self._names:
            return person_name(self.ctx.session, person_id)
        return self._names[person_id]

    def names(self, person_ids: Iterable[int]) -> list[str]:
        return [self.name(p) for p in person_ids]

    # ------------------------------------------------------------ saying it

    def tell(
        self,
        recipients: Iterable[int | None],
        kind: str,
        text: Text,
        *,
        key: str,
        proposal_id: int | None = None,
        actions: list[dict] | None = None,
    ) -> None:
        """A notice to write at ``send``, leaving out whoever was already told under this kind
        and key, before this sweep or earlier in it."""
        people = list(dict.fromkeys(p for p in recipients if p is not None))
        if people:
            self.pending.append((people, kind, text, key, proposal_id, actions))

    def send(self) -> None:
        """Write what was told with one INSERT (``write_notices``), after one read of which
        keys are already in the outbox; on a day off they wait for the next working morning,
        as every notice written while a sweep runs does (``sweep``)."""
        keys = {f"{kind}:{key}:{p}" for people, kind, _, key, _, _ in self.pending for p in people}
        told: set[str] = set()
        if keys:
            told.update(
                self.ctx.session.exec(
                    select(Notice.idempotency_key).where(
                        one_of(self.ctx.session, col(Notice.idempotency_key), keys)
                    )
                ).all()
            )
        rows: list[dict] = []
        for people, kind, text, key, proposal_id, actions in self.pending:
            fresh = [p for p in people if f"{kind}:{key}:{p}" not in told]
            told.update(f"{kind}:{key}:{p}" for p in fresh)
            rows += notice_rows(
                self.ctx,
                fresh,
                kind,
                text,
                key=key,
                proposal_id=proposal_id,
                actions=actions,
            )
        self.pending.clear()
        write_notices(self.ctx, rows)


# What the reminders read of an assignment and its proposal: the columns, not whole records
# (a proposal's text can be long, and thousands are open at a time).
_ASSIGNMENT: Bundle = Bundle(
    "assignment",
    col(Assignment.id),
    col(Assignment.unit_id),
    col(Assignment.due_date),
    col(Assignment.assigned_at),
)
_PROPOSAL: Bundle = Bundle(
    "proposal",
    col(Proposal.id),
    col(Proposal.year),
    col(Proposal.number),
    col(Proposal.title),
    col(Proposal.proposer_id),
    col(Proposal.is_key),
    col(Proposal.supervising_unit_id),
    col(Proposal.lead_leader_id),
)


def _assignments_with_proposals(ctx: Ctx, *conditions) -> list:
    """(assignment, proposal) pairs of the columns above, in assignment order."""
    return list(
        ctx.session.execute(
            sa_select(_ASSIGNMENT, _PROPOSAL)
            .join(Proposal, col(Proposal.id) == Assignment.proposal_id)
            .where(*conditions)
            .order_by(col(Assignment.id))
        ).all()
    )


def _open_assignments(ctx: Ctx, role: str) -> list:
    """(assignment, proposal) pairs still owing their answer, on proposals being handled.
    A co-handling unit's opinion is owed only until the lead unit submits its reply: while
    the letter waits for the countersignatures (会签) the unit has the letter to countersign,
    and the lead unit nothing more to ask it for (if the letter comes back to the lead unit,
    the opinion is owed again)."""
    conditions = [
        Assignment.role == role,
        col(Assignment.status).in_(UNANSWERED),
        Proposal.status == ProposalStatus.ASSIGNED,
    ]
    if role == "co":
        lead = aliased(Assignment)
        conditions.append(
            ~exists()
            .where(col(lead.proposal_id) == col(Assignment.proposal_id))
            .where(col(lead.role) == "lead")
            .where(col(lead.status).in_(LETTER_WRITTEN))
        )
    return _assignments_with_proposals(ctx, *conditions)


def _replies_rated_unsatisfied(ctx: Ctx, reply_ids: list[int]) -> set[int]:
    """Which of these replies someone rated 不满意 (the work or the result), in one query."""
    if not reply_ids:
        return set()
    unsatisfied = "unsatisfied"
    return set(
        ctx.session.exec(
            select(Rating.reply_id)
            .where(one_of(ctx.session, col(Rating.reply_id), set(reply_ids)))
            .where(
                or_(
                    col(Rating.work_rating) == unsatisfied,
                    col(Rating.result_rating) == unsatisfied,
                )
            )
            .distinct()
        ).all()
    )


def _unrated(ctx: Ctx, proposals: list[Proposal]) -> dict[int, tuple[int | None, list[int]]]:
    """For delivered proposals: {proposal id: (the id of the reply their signers rate, the
    signers with no rating of it yet)}, in three queries for all of them."""
    ids = [pk(p) for p in proposals]
    source = {pk(p): p.merged_into_id or pk(p) for p in proposals}  # a merged one rates the main
    reply_of: dict[int, int] = {}  # the latest approved version of each source's reply
    ratings: set[tuple[int, int, int]] = set()
    signers: dict[int, list[int]] = {}
    if not ids:
        return {}
    session = ctx.session
    for proposal_id, reply_id in session.exec(
        select(Reply.proposal_id, _REPLY_ID)
        .where(one_of(session, col(Reply.proposal_id), set(source.values())))
        .where(Reply.status == "approved")
        .order_by(col(Reply.proposal_id), col(Reply.version))
    ).all():
        reply_of[proposal_id] = reply_id
    ratings.update(
        session.exec(
            select(Rating.proposal_id, Rating.reply_id, Rating.person_id).where(
                one_of(session, col(Rating.proposal_id), ids)
            )
        ).all()
    )
    for proposal_id, person_id in session.exec(
        select(Signer.proposal_id, Signer.person_id)
        .where(one_of(session, col(Signer.proposal_id), ids), Signer.state == "confirmed")
        .order_by(col(Signer.proposal_id), col(Signer.position))
    ).all():
        signers.setdefault(proposal_id, []).append(person_id)
    out: dict[int, tuple[int | None, list[int]]] = {}
    for proposal_id in ids:
        rated_reply = reply_of.get(source[proposal_id])
        missing = [
            p for p in signers.get(proposal_id, []) if (proposal_id, rated_reply, p) not in ratings
        ]
        out[proposal_id] = (rated_reply, missing if rated_reply is not None else [])
    return out


def _delivered(ctx: Ctx) -> list[Proposal]:
    return list(
        ctx.session.exec(
            select(Proposal)
            .where(
                Proposal.status == ProposalStatus.DELIVERED,
                col(Proposal.delivered_at).is_not(None),
            )
            .order_by(col(Proposal.id))
        ).all()
    )


# ---------------------------------------------------------------- changes time brings


@sweep("cosign_cutoff")
def cosign_cutoff(ctx: Ctx) -> None:
    """Co-signers who did not confirm by the cut-off drop off; the proposer is told who."""
    candidates = ctx.session.exec(
        select(Proposal)
        .where(
            Proposal.status == ProposalStatus.SUBMITTED,
            col(Proposal.cosign_deadline).is_not(None),
            or_(
                sa_select(col(Signer.id))
                .where(col(Signer.proposal_id) == Proposal.id, col(Signer.state) == "pending")
                .exists(),
                # someone asked to co-sign: told once that no invitation will come
                sa_select(col(AuditEvent.id))
                .where(
                    col(AuditEvent.proposal_id) == Proposal.id,
                    col(AuditEvent.action) == "request_cosign",
                )
                .exists(),
            ),
        )
        .order_by(col(Proposal.id))
    ).all()

    def expire(proposal_id: int) -> None:
        proposal = lock_proposal(ctx, proposal_id)
        deadline = proposal.cosign_deadline
        if proposal.status == ProposalStatus.SUBMITTED and deadline and ctx.now > as_utc(deadline):
            proposals.expire_pending_cosigners(ctx, proposal)

    past = [p for p in candidates if p.cosign_deadline and ctx.now > as_utc(p.cosign_deadline)]
    asking = set(
        ctx.session.exec(
            select(Signer.proposal_id).where(
                col(Signer.proposal_id).in_([pk(p) for p in past]), Signer.state == "pending"
            )
        ).all()
    )
    due = [pk(p) for p in past if pk(p) in asking or proposals.waiting_to_cosign(ctx, p)]
    _each(ctx, due, expire)


@sweep("adjustment_window")
def adjustment_window(ctx: Ctx) -> None:
    """An assignment neither accepted nor contested by the end of its adjustment window
    stands (逾期不作调整): the system accepts it, and the unit's handlers and staff are told."""
    due = ctx.session.exec(
        select(Assignment.id)
        .where(
            Assignment.status == AssignmentStatus.PENDING,
            col(Assignment.adjust_deadline) < ctx.today,
        )
        .order_by(col(Assignment.id))
    ).all()
    _each(ctx, due, lambda assignment_id: assignments.close_adjustment_window(ctx, assignment_id))


@sweep("countersign_window")
def countersign_window(ctx: Ctx) -> None:
    """A reply whose countersign window (会签) has ended: each co-handling unit that has not
    countersigned is recorded as 逾期未会签，视为同意, the reply goes to review and the lead
    unit is told."""
    due = ctx.session.exec(
        select(Countersign.reply_id)
        .join(Reply, col(Reply.id) == Countersign.reply_id)
        .join(Assignment, col(Assignment.id) == Countersign.assignment_id)
        .where(
            Reply.status == "countersigning",
            col(Assignment.status).in_(countersigns.ON_IT),
            col(Countersign.decision).is_(None),
            col(Countersign.due_date) < ctx.today,
        )
        .distinct()
        .order_by(col(Countersign.reply_id))
    ).all()
    _each(ctx, due, lambda reply_id: countersigns.close_window(ctx, reply_id))


@sweep("countersign_reminders")
def countersign_reminders(ctx: Ctx) -> None:
    """A co-handling unit that has not countersigned is reminded once, from the working day
    before its window ends, with the notice's two buttons."""
    if not _daily(ctx):
        return
    rows = ctx.session.execute(
        sa_select(Countersign, _PROPOSAL, col(Reply.version))
        .join(Reply, col(Reply.id) == Countersign.reply_id)
        .join(Proposal, col(Proposal.id) == Reply.proposal_id)
        .join(Assignment, col(Assignment.id) == Countersign.assignment_id)
        .where(
            col(Reply.status) == "countersigning",
            col(Countersign.decision).is_(None),
            col(Countersign.due_date) >= ctx.today,
            col(Assignment.status).in_(countersigns.ON_IT),
        )
        .order_by(col(Countersign.id))
    ).all()
    told = _Told(ctx)
    for row, proposal, version in rows:
        if ctx.today < ctx.calendar.previous_workday(row.due_date):
            continue
        told.tell(
            told.handlers(row.unit_id),
            "countersign_reminder",
            Text(
                "{number}提案《{title}》的答复（第{v}稿）请贵单位于{due}前会签，"
                "逾期未会签的，视为同意。",
                number=number_text(proposal.year, proposal.number),
                title=proposal.title,
                v=version,
                due=row.due_date,
            ),
            key=str(row.id),
            proposal_id=proposal.id,
            actions=replies.countersign_actions(row.reply_id),
        )
    told.send()


@sweep("rating_window")
def rating_window(ctx: Ctx) -> None:
    """When the rating window has ended, each signer who has not rated is recorded as not
    having rated (never as satisfied). Staff are told who in one notice each per run: the
    sentence for one proposal, a list for several (on a Monday, the windows that ended
    over the weekend). A proposal none of whose ratings is 不满意 is then closed (办结);
    one rated 不满意 stays delivered, for staff to decide."""
    ended = []
    for proposal in _delivered(ctx):
        deadline = replies.rating_deadline(ctx, proposal)
        if deadline is not None and ctx.today > deadline:
            ended.append(proposal)
    unrated = _unrated(ctx, ended)
    # Every rating given and a 不满意 among them: the proposal waits for staff (重新办理 or
    # 办结), with nothing to record or close; such proposals stay delivered until staff act,
    # and are not read one by one at every run.
    waiting = _replies_rated_unsatisfied(ctx, [r for r, _m in unrated.values() if r])
    due = [
        pk(p)
        for p in ended
        if unrated[pk(p)][1] or p.merged_into_id is not None or unrated[pk(p)][0] not in waiting
    ]
    told = _Told(ctx)
    told.load_names(person for pid in due for person in unrated[pid][1])  # as read unlocked
    recorded: list[_NotGiven] = []

    def record(proposal_id: int) -> None:
        proposal = lock_proposal(ctx, proposal_id)
        deadline = replies.rating_deadline(ctx, proposal)
        if proposal.status != ProposalStatus.DELIVERED or deadline is None:
            return
        if ctx.today <= deadline:
            return
        reply = replies.delivered_reply(ctx, proposal)
        if reply is None:
            return
        missing = replies.record_ratings_not_given(ctx, proposal, reply)
        replies.close_after_window(ctx, proposal, reply)
        if missing:  # the last thing done for the proposal: kept once its savepoint is
            recorded.append(_NotGiven(proposal, pk(reply), deadline, told.names(missing)))

    _each(ctx, due, record)
    if recorded:
        first = recorded[0]
        told.tell(
            told.people(Role.STAFF),
            "ratings_not_given",
            _not_given(recorded),
            # A proposal is recorded once: the first one recorded names this run's notice.
            key=f"{first.proposal.id}:{first.reply_id}",
            proposal_id=first.proposal.id if len(recorded) == 1 else None,
        )
    told.send()


@dataclass
class _NotGiven:
    """A proposal whose rating window ended with ratings missing, as staff are told of it."""

    proposal: Proposal
    reply_id: int
    deadline: date
    names: list[str]  # of the signers recorded as not having rated


def _not_given(items: list[_NotGiven]) -> Text:
    """Staff's notice of the ratings recorded as not given in one run."""

    def params(item: _NotGiven) -> dict:
        return {
            "number": number_text(item.proposal.year, item.proposal.number),
            "title": item.proposal.title,
            "deadline": item.deadline,
            "names": item.names,
        }

    if len(items) == 1:
        return Text(
            "{number}提案《{title}》的评价期已于{deadline}结束，{names}未作评价，"
            "已记为「未评价」。",
            **params(items[0]),
        )
    lines = [
        Text("{number}提案《{title}》，评价期至{deadline}：{names}", **params(item))
        for item in items
    ]
    title = Text("{n} 件提案的评价期已结束，以下委员未作评价，已记为「未评价」：", n=len(items))
    return _section(title, lines, limit=NOT_GIVEN_LIST_MAX)


@sweep("publication")
def publication(ctx: Ctx) -> None:
    """Disclosed proposals are published ``publication_workdays`` after their reply was
    delivered; the signers are told."""
    candidates = ctx.session.exec(
        select(Proposal)
        .where(
            # as equalities, so that both databases find them in ix_proposal_unpublished
            Proposal.disclose == True,  # noqa: E712
            Proposal.published == False,  # noqa: E712
            col(Proposal.delivered_at).is_not(None),
            col(Proposal.status).in_([ProposalStatus.DELIVERED, ProposalStatus.CLOSED]),
        )
        .order_by(col(Proposal.id))
    ).all()
    due = [
        pk(p)
        for p in candidates
        if ctx.calendar.workdays_between(_delivered_on(ctx, p), ctx.today)
        >= ctx.rules.publication_workdays
    ]
    _each(ctx, due, lambda proposal_id: replies.publish(ctx, proposal_id))


# ---------------------------------------------------------------- reminders and escalations


@sweep("due_reminders")
def due_reminders(ctx: Ctx) -> None:
    """Reminders to the assigned unit's handlers at working-day offsets before its due date:
    the lead unit until it replies, a co-handling unit until its opinion is in. An offset
    missed (the bot was down) is caught up on the next working day, the due date itself
    included (the reminder then says it is due today); offsets the due date was already
    closer than when it was set (at 交办, 延期 or 重新办理) are skipped."""
    if not _daily(ctx) or not ctx.rules.due_reminder_workdays:
        return
    offsets = sorted(ctx.rules.due_reminder_workdays)
    open_now = {role: _open_assignments(ctx, role) for role in ("lead", "co")}
    ids = [pk(a) for rows in open_now.values() for a, _ in rows]
    # When each open assignment's due date last moved (only theirs, not the archive's).
    moved = (
        dict(
            ctx.session.exec(
                select(AuditEvent.assignment_id, func.max(AuditEvent.at))
                .where(col(AuditEvent.action).in_(DUE_DATE_MOVES))
                .where(one_of(ctx.session, col(AuditEvent.assignment_id), ids))
                .group_by(col(AuditEvent.assignment_id))
            ).all()
        )
        if ids
        else {}
    )
    told = _Told(ctx)
    for role, rows in open_now.items():
        for assignment, proposal in rows:
            remaining = ctx.calendar.workdays_between(ctx.today, assignment.due_date)
            reached = [o for o in offsets if o >= remaining]
            if remaining < 0 or not reached:
                continue
            offset = reached[0]
            set_on = _local_date(ctx, moved.get(assignment.id) or assignment.assigned_at)
            if ctx.calendar.workdays_between(set_on, assignment.due_date) <= offset:
                continue
            text = _due_soon_text(
                role,
                remaining,
                number=number_text(proposal.year, proposal.number),
                title=proposal.title,
                due=assignment.due_date,
            )
            told.tell(
                told.handlers(assignment.unit_id),
                "due_soon",
                text,
                key=f"{assignment.id}:{assignment.due_date.isoformat()}:{offset}",
                proposal_id=proposal.id,
            )
    told.send()


def _due_soon_text(role: str, remaining: int, **params) -> Text:
    """A due-date reminder to the lead unit (``role`` "lead") or a co-handling unit: the
    working days left, or, caught up on the due date itself, that it is due today."""
    if remaining == 0 and role == "lead":
        return Text("{number}提案《{title}》的答复今天（{due}）到期，请抓紧办理。", **params)
    if remaining == 0:
        return Text(
            "{number}提案《{title}》的协办意见今天（{due}）到期，请及时向主办单位提出协办意见。",
            **params,
        )
    if role == "lead":
        return Text(
            "{number}提案《{title}》的答复期限为{due}，还有 {n} 个工作日到期，请抓紧办理。",
            n=remaining,
            **params,
        )
    return Text(
        "{number}提案《{title}》的协办意见期限为{due}，还有 {n} 个工作日到期，"
        "请及时向主办单位提出协办意见。",
        n=remaining,
        **params,
    )


@sweep("overdue")
def overdue(ctx: Ctx) -> None:
    """A reply past its due date. The lead unit's handlers are told every working day, one
    notice per proposal. Staff, the supervising unit's people and a key proposal's lead
    leader (its watchers) get one notice each, not one per proposal: on the week's first
    working day the sweep runs, every overdue proposal they watch; on later days of the
    week, those they have not been told of this week (fallen overdue since, overdue again
    after an extension, or newly theirs to watch: made staff by a roster import, say; a
    day the bot was down is caught up). A notice of one proposal names it; one of several
    lists them, the longest overdue first."""
    if not _daily(ctx):
        return
    told = _Told(ctx)
    staff = told.people(Role.STAFF)
    watched: dict[int, list[_Late]] = {}
    for assignment, proposal in _open_assignments(ctx, "lead"):
        if assignment.due_date >= ctx.today:
            continue
        workdays = ctx.calendar.workdays_between(assignment.due_date, ctx.today)
        late = _Late(
            workdays,
            assignment.due_date,
            proposal.id,
            {
                "number": number_text(proposal.year, proposal.number),
                "title": proposal.title,
                "due": assignment.due_date,
                "n": workdays,
            },
            told.unit_name(assignment.unit_id),
        )
        told.tell(
            told.handlers(assignment.unit_id),
            "overdue",
            Text(
                "{number}提案《{title}》的答复已于{due}到期，现已逾期 {n} 个工作日，"
                "请尽快办理并提交答复。",
                **late.params,
            ),
            key=f"{assignment.id}:{ctx.today.isoformat()}",
            proposal_id=proposal.id,
        )
        watchers = list(staff)
        if proposal.supervising_unit_id is not None:
            watchers += told.people(Role.SUPERVISOR, proposal.supervising_unit_id)
        if proposal.is_key and proposal.lead_leader_id is not None:
            watchers.append(proposal.lead_leader_id)
        for watcher in dict.fromkeys(watchers):
            watched.setdefault(watcher, []).append(late)
    heard = _escalated_this_week(ctx, list(watched))
    for watcher, items in watched.items():
        already = heard.get(watcher)
        if already is not None:
            items = [late for late in items if not already.told_of(late)]
        if not items:
            continue
        items.sort(key=lambda late: (-late.workdays, late.proposal_id))
        told.tell(
            [watcher],
            "overdue_escalated",
            _escalation(items, first_this_week=already is None),
            key=ctx.today.isoformat(),
            proposal_id=items[0].proposal_id if len(items) == 1 else None,
        )
    told.send()


@dataclass
class _Late:
    """An overdue lead assignment, as the escalations list it."""

    workdays: int  # working days overdue
    due: date
    proposal_id: int
    params: dict  # number, title, due, n: what its texts say
    unit: str  # the lead unit's name

    @property
    def named(self) -> str:
        """How an escalation's message keeps it: proposal id and due date."""
        return f"{self.proposal_id}:{self.due.isoformat()}"


@dataclass
class _Heard:
    """What a watcher was told in this week's escalations before today."""

    # The overdue replies named: "<proposal id>:<due date>" (a reply whose due date was
    # extended and that fell overdue again is news again).
    named: set[str] = field(default_factory=set)
    # Escalations written before escalations kept the replies they name count by their
    # day: they named every watched reply overdue on that day, i.e. due before it.
    due_before: date = date.min

    def told_of(self, late: _Late) -> bool:
        return late.named in self.named or late.due < self.due_before


def _escalated_this_week(ctx: Ctx, watchers: list[int]) -> dict[int, _Heard]:
    """{watcher: what they were told in escalations this ISO week, before today}; one read
    of the outbox by its unique keys (a key names the day it was written for), the
    overdue replies each names kept in its message (``named``, see ``_escalation``)."""
    monday = ctx.today - timedelta(days=ctx.today.weekday())
    days = [monday + timedelta(days=i) for i in range(ctx.today.weekday())]
    keys = {f"overdue_escalated:{day.isoformat()}:{p}" for day in days for p in watchers}
    heard: dict[int, _Heard] = {}
    if not keys:
        return heard
    found = ctx.session.exec(
        select(Notice.idempotency_key, Notice.message).where(
            one_of(ctx.session, col(Notice.idempotency_key), keys)
        )
    ).all()
    for key, message in found:
        _, day_text, person = key.split(":")
        entry = heard.setdefault(int(person), _Heard())
        named = Text.from_json(dict(message)).params.get("named") if message else None
        if named is None:
            entry.due_before = max(entry.due_before, date.fromisoformat(day_text))
        else:
            entry.named.update(named)
    return heard


def _escalation(items: list[_Late], *, first_this_week: bool) -> Text:
    """One watcher's escalation: the sentence for one proposal, a list for several."""
    named = [late.named for late in items]  # all of them, listed or counted
    if len(items) == 1:
        return Text(
            "{unit}主办的{number}提案《{title}》答复已逾期 {n} 个工作日（期限{due}），请予督办。",
            unit=items[0].unit,
            named=named,
            **items[0].params,
        )
    lines = [
        Text(
            "{unit}主办的{number}提案《{title}》，期限{due}，已逾期 {n} 个工作日",
            unit=late.unit,
            **late.params,
        )
        for late in items
    ]
    if first_this_week:
        title = Text("本周答复逾期的提案共 {n} 件，请予督办：", n=len(items))
    else:
        title = Text("又有 {n} 件提案的答复逾期，请予督办：", n=len(items))
    listed = _section(title, lines, limit=ESCALATION_LIST_MAX)
    return Text(listed.msgid, **listed.params, named=named)


@sweep("first_contact")
def first_contact(ctx: Ctx) -> None:
    """No contact with the proposer recorded ``first_contact_workdays`` after 交办: the lead
    unit's handlers are reminded, once."""
    if not _daily(ctx):
        return
    # NOT EXISTS, not NOT IN: an anti-join probing the index per open assignment, instead
    # of hashing every contact record ever made (PostgreSQL: 6 ms against 51 at national
    # scale).
    contacted = select(ContactRecord.id).where(ContactRecord.assignment_id == Assignment.id)
    rows = _assignments_with_proposals(
        ctx,
        Assignment.role == "lead",
        Assignment.status == AssignmentStatus.ACCEPTED,
        Proposal.status == ProposalStatus.ASSIGNED,
        ~contacted.exists(),
    )
    days = ctx.rules.first_contact_workdays
    due = [
        (assignment, proposal)
        for assignment, proposal in rows
        if ctx.today >= ctx.calendar.add_workdays(_local_date(ctx, assignment.assigned_at), days)
    ]
    told = _Told(ctx)
    told.load_names(proposal.proposer_id for _, proposal in due)
    for assignment, proposal in due:
        told.tell(
            told.handlers(assignment.unit_id),
            "first_contact",
            Text(
                "{number}提案《{title}》交办已满 {n} 个工作日，尚无与提案人{name}委员沟通的"
                "记录。请尽快联系提案人，并记录沟通情况。",
                number=number_text(proposal.year, proposal.number),
                title=proposal.title,
                n=days,
                name=told.name(proposal.proposer_id),
            ),
            key=str(assignment.id),
            proposal_id=proposal.id,
        )
    told.send()


@sweep("opinion_overdue")
def opinion_overdue(ctx: Ctx) -> None:
    """A co-handling unit's opinion not in by its due date: that unit and the lead unit are
    reminded, once a week while it is missing."""
    if not _daily(ctx):
        return
    week = _week(ctx.today)
    late = [(a, p) for a, p in _open_assignments(ctx, "co") if a.due_date < ctx.today]
    leads = lead_units(ctx.session, proposal_ids=list({p.id for _, p in late}))
    told = _Told(ctx)
    for assignment, proposal in late:
        lead_unit = leads.get(proposal.id)
        params = {
            "number": number_text(proposal.year, proposal.number),
            "title": proposal.title,
            "due": assignment.due_date,
        }
        key = f"{assignment.id}:{assignment.due_date.isoformat()}:{week}"
        told.tell(
            told.handlers(assignment.unit_id),
            "opinion_overdue",
            Text(
                "{number}提案《{title}》的协办意见已于{due}到期，尚未提出，"
                "请尽快向主办单位{lead}提出协办意见。",
                lead=told.unit_name(lead_unit),
                **params,
            ),
            key=key,
            proposal_id=proposal.id,
        )
        if lead_unit is not None:
            told.tell(
                told.handlers(lead_unit),
                "opinion_overdue_lead",
                Text(
                    "协办单位{unit}尚未就{number}提案《{title}》提出协办意见（期限{due}），"
                    "请与其联系。",
                    unit=told.unit_name(assignment.unit_id),
                    **params,
                ),
                key=key,
                proposal_id=proposal.id,
            )
    told.send()


@sweep("rating_reminders")
def rating_reminders(ctx: Ctx) -> None:
    """Each signer who has not rated a delivered reply is reminded at working-day offsets
    after delivery, with the one-tap rating buttons (a missed offset is caught up)."""
    if not _daily(ctx) or not ctx.rules.rating_reminder_workdays:
        return
    offsets = sorted(ctx.rules.rating_reminder_workdays)
    reminded = []  # (proposal, delivered, deadline, offset reached)
    for proposal in _delivered(ctx):
        deadline = replies.rating_deadline(ctx, proposal)
        if deadline is None or ctx.today > deadline:
            continue
        delivered = _delivered_on(ctx, proposal)
        elapsed = ctx.calendar.workdays_between(delivered, ctx.today)
        reached = [o for o in offsets if o <= elapsed]
        if reached:
            reminded.append((proposal, delivered, deadline, reached[-1]))
    unrated = _unrated(ctx, [r[0] for r in reminded])
    told = _Told(ctx)
    for proposal, delivered, deadline, offset in reminded:
        reply_id, missing = unrated[pk(proposal)]
        if reply_id is None:
            continue
        told.tell(
            missing,
            "rating_reminder",
            Text(
                "您的提案《{title}》的答复已于{delivered}送达，您尚未评价。"
                "请于{deadline}前对办理工作作出评价。",
                title=proposal.title,
                delivered=delivered,
                deadline=deadline,
            ),
            key=f"{proposal.id}:{reply_id}:{offset}",
            proposal_id=proposal.id,
            actions=replies.rating_actions(pk(proposal), reply_id),
        )
    told.send()


@sweep("review_backlog")
def review_backlog(ctx: Ctx) -> None:
    """Proposals awaiting review longer than ``review_backlog_workdays``: staff are told,
    once per proposal per working day."""
    if not _daily(ctx):
        return
    told = _Told(ctx)
    staff = told.people(Role.STAFF)
    waiting = ctx.session.exec(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.SUBMITTED)
        .order_by(col(Proposal.submitted_at), col(Proposal.id))
    ).all()
    told.load_names(p.proposer_id for p in waiting)
    for proposal in waiting:
        if proposal.submitted_at is None:
            continue
        days = ctx.calendar.workdays_between(_local_date(ctx, proposal.submitted_at), ctx.today)
        if days <= ctx.rules.review_backlog_workdays:
            continue
        told.tell(
            staff,
            "review_backlog",
            Text(
                "提案《{title}》（提案人：{name}）已提交 {n} 个工作日，尚未审查，请及时审查。",
                title=proposal.title,
                name=proposals.proposer_shown(proposal, told.name(proposal.proposer_id)),
                n=days,
            ),
            key=f"{proposal.id}:{ctx.today.isoformat()}",
            proposal_id=proposal.id,
        )
    told.send()


# ---------------------------------------------------------------- the daily digest


def _last_digest_day(ctx: Ctx, staff: list[int]) -> date | None:
    """The last day before today, within ``DIGEST_LOOKBACK_DAYS``, on which staff were sent
    a digest; None if none was. One read of the outbox by its unique keys (a digest's key
    names its day)."""
    days = [ctx.today - timedelta(days=n) for n in range(1, DIGEST_LOOKBACK_DAYS + 1)]
    keys = {f"digest:{day.isoformat()}:{p}" for day in days for p in staff}
    if not keys:
        return None
    found = ctx.session.exec(
        select(Notice.idempotency_key).where(
            one_of(ctx.session, col(Notice.idempotency_key), keys)
        )
    ).all()
    return max((date.fromisoformat(key.split(":")[1]) for key in found), default=None)


@dataclass
class _Open:
    """An assignment and its proposal as the digest lists them: a lead one owing its reply,
    or one whose unit asks staff for an adjustment or more time."""

    assignment: Assignment
    proposal: Proposal


def _lines(lines: list[Text]) -> Text:
    """Texts one under another."""
    text = lines[-1]
    for line in reversed(lines[:-1]):
        text = Text("{first}\n{rest}", first=line, rest=text)
    return text


def _section(title: Text, items: list[Text], limit: int = DIGEST_LIST_MAX) -> Text:
    """A title, then up to ``limit`` items and how many more there are."""
    lines = [title] + [Text("· {item}", item=item) for item in items[:limit]]
    if len(items) > limit:
        lines.append(Text("· ……另有 {n} 件", n=len(items) - limit))
    return _lines(lines)


class _Digest:
    """What the digest says, gathered once and told to each person as their role allows."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        session = ctx.session
        today = ctx.today
        rules = ctx.rules
        self.told = _Told(ctx)
        # New since the last digest staff were sent (the last working day's, unless the bot
        # was down that day), up to today's: each is listed once.
        last = _last_digest_day(ctx, self.told.people(Role.STAFF))
        since = as_utc(
            datetime.combine(
                last or ctx.calendar.previous_workday(today), rules.digest_at, tzinfo=rules.tz
            )
        )
        until = as_utc(datetime.combine(today, rules.digest_at, tzinfo=rules.tz))
        self.new = list(
            session.exec(
                select(Proposal)
                .where(col(Proposal.submitted_at) >= since, col(Proposal.submitted_at) < until)
                .order_by(col(Proposal.submitted_at), col(Proposal.id))
            ).all()
        )
        self.awaiting_review = list(
            session.exec(
                select(Proposal)
                .where(
                    Proposal.status == ProposalStatus.SUBMITTED,
                    col(Proposal.submitted_at).is_not(None),
                )
                .order_by(col(Proposal.submitted_at), col(Proposal.id))
            ).all()
        )
        self.replies = list(
            session.exec(
                select(Proposal)
                .where(Proposal.status == ProposalStatus.REPLIED)
                .order_by(col(Proposal.year), col(Proposal.number))
            ).all()
        )
        self.lead_units = lead_units(session, proposal_ids=[pk(p) for p in self.replies])
        # Staff's own queues of the units' requests: adjustments and more time.
        adjusting = session.exec(
            select(Assignment)
            .where(Assignment.status == AssignmentStatus.ADJUSTMENT_REQUESTED)
            .order_by(col(Assignment.adjustment_requested_at), col(Assignment.id))
        ).all()
        extending = [a for a, _event in assignments.waiting_extension_requests(session)]
        asked = {a.proposal_id for a in [*adjusting, *extending]}
        of = {
            pk(p): p
            for p in session.exec(select(Proposal).where(col(Proposal.id).in_(asked))).all()
        }
        self.adjustments = [_Open(a, of[a.proposal_id]) for a in adjusting]
        self.extensions = [_Open(a, of[a.proposal_id]) for a in extending]
        open_leads = [_Open(a, p) for a, p in _open_assignments(ctx, "lead")]
        open_leads.sort(key=lambda o: (o.assignment.due_date, o.proposal.number or 0))
        self.due_soon = [
            o
            for o in open_leads
            if o.assignment.due_date >= today
            and ctx.calendar.workdays_between(today, o.assignment.due_date)
            <= DIGEST_DUE_WITHIN_WORKDAYS
        ]
        self.overdue = [o for o in open_leads if o.assignment.due_date < today]
        delivered = _delivered(ctx)
        unrated = _unrated(ctx, delivered)
        self.unrated = [(p, unrated[pk(p)][1]) for p in delivered if unrated[pk(p)][1]]
        # People the bot cannot reach on any channel they bound.
        reachable = select(ChannelAccount.person_id).where(
            col(ChannelAccount.unreachable).is_(False)
        )
        unreachable = session.exec(
            select(Person)
            .join(ChannelAccount, col(ChannelAccount.person_id) == Person.id)
            .where(col(ChannelAccount.unreachable).is_(True), Person.active)
            .where(col(Person.id).not_in(reachable))
            .order_by(col(Person.id))
        ).all()
        self.unreachable = list({p.id: p for p in unreachable}.values())
        self.failed = list(
            session.exec(
                select(Notice).where(Notice.state == "failed").order_by(col(Notice.id))
            ).all()
        )
        self.units = dict(session.exec(select(Unit.id, Unit.name)).all())
        self.told.load_names(
            [p.proposer_id for p in self.new + self.awaiting_review]
            + [person for _, missing in self.unrated for person in missing]
            + [n.person_id for n in self.failed]
        )

    # ---------------------------------------------------------- items

    def _name(self, person_id: int) -> str:
        return self.told.name(person_id)

    def _submitted_item(self, proposal: Proposal) -> Text:
        name = proposals.proposer_shown(proposal, self._name(proposal.proposer_id))
        if proposal.status == ProposalStatus.WITHDRAWN:  # taken back since it was submitted
            return Text("《{title}》（{name}，已撤回）", title=proposal.title, name=name)
        return Text("《{title}》（{name}）", title=proposal.title, name=name)

    def _reply_item(self, proposal: Proposal) -> Text:
        return Text(
            "{number}《{title}》（{unit}）",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            unit=self.units.get(self.lead_units.get(pk(proposal), 0), ""),
        )

    def _due_item(self, row: _Open) -> Text:
        return Text(
            "{number}《{title}》（{unit}，{due}到期）",
            number=number_text(row.proposal.year, row.proposal.number),
            title=row.proposal.title,
            unit=self.units.get(row.assignment.unit_id, ""),
            due=row.assignment.due_date,
        )

    def _overdue_item(self, row: _Open) -> Text:
        return Text(
            "{number}《{title}》（{unit}，逾期 {n} 个工作日）",
            number=number_text(row.proposal.year, row.proposal.number),
            title=row.proposal.title,
            unit=self.units.get(row.assignment.unit_id, ""),
            n=self.ctx.calendar.workdays_between(row.assignment.due_date, self.ctx.today),
        )

    def _request_item(self, row: _Open) -> Text:
        return Text(
            "{number}《{title}》（{unit}，现期限{due}）",
            number=number_text(row.proposal.year, row.proposal.number),
            title=row.proposal.title,
            unit=self.units.get(row.assignment.unit_id, ""),
            due=row.assignment.due_date,
        )

    def _unrated_item(self, proposal: Proposal, missing: list[int]) -> Text:
        return Text(
            "{number}《{title}》（未评价：{names}）",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            names=[self._name(p) for p in missing],
        )

    # ---------------------------------------------------------- what each person reads

    def for_staff(self) -> Text | None:
        sections = self._handling_sections(lambda proposal: True)
        sections[:0] = [
            _section(
                Text("新提交提案 {n} 件：", n=len(self.new)),
                [self._submitted_item(p) for p in self.new],
            )
            if self.new
            else None,
            _section(
                Text("待审查提案 {n} 件：", n=len(self.awaiting_review)),
                [self._submitted_item(p) for p in self.awaiting_review],
            )
            if self.awaiting_review
            else None,
            _section(
                Text("调整申请待处理 {n} 件：", n=len(self.adjustments)),
                [self._request_item(o) for o in self.adjustments],
            )
            if self.adjustments
            else None,
            _section(
                Text("延期申请待决定 {n} 件：", n=len(self.extensions)),
                [self._request_item(o) for o in self.extensions],
            )
            if self.extensions
            else None,
        ]
        if self.unreachable:
            sections.append(
                Text(
                    "无法推送消息的人员 {n} 位：{names}",
                    n=len(self.unreachable),
                    names=[p.name for p in self.unreachable],
                )
            )
        if self.failed:
            names = list(dict.fromkeys(self._name(n.person_id) for n in self.failed))
            sections.append(
                Text("发送失败的消息 {n} 条，收件人：{names}", n=len(self.failed), names=names)
            )
        unknown = self._years_without_holidays()
        if unknown:
            sections.append(
                Text(
                    "尚无{years}年的节假日安排，暂按周一至周五计算工作日：期限、提醒和评价期"
                    "可能落在节假日。请升级 chinesecalendar，或由管理员把当年全部放假和调休日"
                    "写入节假日文件（PROPOSALBOT_HOLIDAYS_FILE），再加一行「{year} 全年」。",
                    years="、".join(str(year) for year in unknown),
                    year=str(unknown[-1]),
                )
            )
        present = [s for s in sections if s is not None]
        if not present:
            return None
        title = Text(
            "{committee}提案工作日报（{date}）",
            committee=self.ctx.rules.committee_name,
            date=self.ctx.today,
        )
        return _lines([title, *present])

    def _years_without_holidays(self) -> list[int]:
        """This year, and from December the next, when the calendar does not know their
        holidays (deadlines there count Monday to Friday)."""
        today = self.ctx.today
        years = [today.year, today.year + 1] if today.month == 12 else [today.year]
        return [year for year in years if year <= 9999 and not self.ctx.calendar.covers(year)]

    def for_supervisor(self, unit_id: int) -> Text | None:
        present = [
            s
            for s in self._handling_sections(
                lambda p: p.is_key and p.supervising_unit_id == unit_id
            )
            if s is not None
        ]
        if not present:
            return None
        title = Text(
            "{unit}督办重点提案日报（{date}）",
            unit=self.units.get(unit_id, ""),
            date=self.ctx.today,
        )
        return _lines([title, *present])

    def _handling_sections(self, concerns: Callable[[Proposal], bool]) -> list[Text | None]:
        replies_ = [p for p in self.replies if concerns(p)]
        due_soon = [o for o in self.due_soon if concerns(o.proposal)]
        overdue = [o for o in self.overdue if concerns(o.proposal)]
        unrated = [(p, m) for p, m in self.unrated if concerns(p)]
        return [
            _section(
                Text("答复待审核 {n} 件：", n=len(replies_)),
                [self._reply_item(p) for p in replies_],
            )
            if replies_
            else None,
            _section(
                Text(
                    "{days} 个工作日内到期 {n} 件：",
                    days=DIGEST_DUE_WITHIN_WORKDAYS,
                    n=len(due_soon),
                ),
                [self._due_item(o) for o in due_soon],
            )
            if due_soon
            else None,
            _section(
                Text("已逾期 {n} 件：", n=len(overdue)), [self._overdue_item(o) for o in overdue]
            )
            if overdue
            else None,
            _section(
                Text("已答复未评价 {n} 件：", n=len(unrated)),
                [self._unrated_item(p, m) for p, m in unrated],
            )
            if unrated
            else None,
        ]


@sweep(DIGEST)
def digest(ctx: Ctx) -> None:
    """The daily digest, on working days from ``digest_time``: staff read everything (new
    submissions since the digest time of the last day they were sent one, the last working
    day unless the bot was down then, up to today's; proposals awaiting review, replies
    awaiting review, units' requests for adjustment and for more time not decided yet, due
    within five working days, overdue, delivered but unrated, people the bot cannot reach,
    notices that failed); supervisors read their unit's key proposals.
    One per person per date; nothing is sent to someone with nothing to read."""
    if not _workday(ctx) or ctx.local(ctx.now).time() < ctx.rules.digest_at:
        return
    if not _daily(ctx) and not ctx.rules.quiet_evening(ctx.rules.digest_at):
        return  # late (the bot was down): the next digest lists what this one would have
    facts = _Digest(ctx)
    told = facts.told
    key = ctx.today.isoformat()
    staff = told.people(Role.STAFF)
    text = facts.for_staff()
    if text is not None:
        told.tell(staff, "digest", text, key=key)
    supervisors = ctx.session.exec(
        select(Person.id, Person.unit_id)
        .where(col(Person.roles).contains(Role.SUPERVISOR.value), Person.active)
        .order_by(col(Person.id))
    ).all()
    for person_id, unit_id in supervisors:
        if person_id in staff or unit_id is None:
            continue
        text = facts.for_supervisor(unit_id)
        if text is not None:
            told.tell([person_id], "digest", text, key=key)
    told.send()


# ---------------------------------------------------------------- stored files


def prune_orphan_files(
    ctx: Ctx, store: AttachmentStore, *, older_than: timedelta = timedelta(days=ORPHAN_FILE_DAYS)
) -> int:
    """Delete stored files no record refers to, last stored more than ``older_than`` ago
    (e.g. a file sent in the reply wizard whose reply was never submitted); returns how many.

    A file is kept while an attachment row or a conversation in progress names it. Storing
    the same bytes again renews the file's time, and ``AttachmentStore.discard`` gives a
    file back if it was renewed while being deleted, so a file being reused is never lost.
    Not a ``SWEEPS`` entry: it needs the store, which the context does not carry.
    """
    cutoff = ctx.now - older_than
    referenced = set(ctx.session.exec(select(Attachment.storage_path)).all())
    for data in ctx.session.exec(select(Conversation.data)).all():
        referenced.update(_strings(data))
    deleted = 0
    for relative, modified in store.files():
        if relative in referenced or modified >= cutoff:
            continue
        if store.discard(relative, unless_newer_than=cutoff):
            deleted += 1
    return deleted


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
