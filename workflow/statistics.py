"""The year's statistics (年度提案工作统计), for committee staff: how many proposals came in
and how they were decided, how the units answered (on time or not, which class) and how the
signers rated the answers, overall and unit by unit.

What counts:

- *received*: every proposal of the year that was submitted (drafts never submitted are
  not anyone's proposal yet); *withdrawn* ones are among them;
- *filed* (立案): given the year's number and handled, whatever stage it is at now;
- *answered*: the lead unit's reply was approved and delivered; it was *on time* when the
  unit first submitted that round's reply by the due date then in force, *late* otherwise;
- *overdue*: filed, assigned, no approved reply, and the due date has passed (today);
- reply classes and ratings count the reply the signers were last given, of answered
  proposals (one handled again after 不满意 counts again once its new reply is delivered);
  a signer whose rating window closed unanswered counts as *not rated*;
- *merged* (并案): merged into another, also once answered and closed with it;
- the filing rate is filed ÷ decided (filed, not filed, merged or converted);
- the satisfaction rate is (满意 + 基本满意) ÷ the ratings given; a unit's, on the result
  (办理结果) of the replies it led.

Labels are said in the reader's language (pass gettext); names are shown as written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import String, cast, func, literal_column
from sqlalchemy import select as sa_select
from sqlmodel import col

from storage.models import Assignment, Proposal, Rating, Reply, Unit
from storage.repositories import names_of
from workflow.core import Ctx
from workflow.errors import PermissionDenied
from workflow.proposals import CATEGORIES
from workflow.replies import RATINGS
from workflow.roles import Role
from workflow.statuses import AssignmentStatus, ProposalStatus
from workflow.texts import DEFAULT_LOCALE, Gettext, Text, date_text, label

FILED_STATUSES = frozenset(
    {
        ProposalStatus.FILED,
        ProposalStatus.ASSIGNED,
        ProposalStatus.REPLIED,
        ProposalStatus.DELIVERED,
        ProposalStatus.CLOSED,
    }
)
ANSWERED_STATUSES = frozenset({ProposalStatus.DELIVERED, ProposalStatus.CLOSED})
CLASSES = ("A", "B", "C")
NO_FIELD = label("未填写领域")


@dataclass
class Ratings:
    """Ratings of one aspect (办理结果 or 办理工作): code → count, and those not given."""

    given: Counter = field(default_factory=Counter)
    not_given: int = 0

    @property
    def rated(self) -> int:
        return sum(self.given.values())

    @property
    def satisfied(self) -> int:
        """满意 and 基本满意: what the satisfaction rate counts."""
        return self.given["satisfied"] + self.given["basic"]


@dataclass
class UnitFigures:
    unit_id: int
    name: str
    lead: int = 0  # proposals it leads (its assignment as lead unit stands)
    co: int = 0  # proposals it co-handles
    answered: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    classes: Counter = field(default_factory=Counter)
    result: Ratings = field(default_factory=Ratings)


@dataclass
class YearStatistics:
    year: int
    today: date  # the day the figures are as of
    received: int = 0
    in_review: int = 0
    withdrawn: int = 0
    filed: int = 0
    not_filed: int = 0
    merged: int = 0
    converted: int = 0
    key: int = 0
    assigned: int = 0
    answered: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    closed: int = 0
    rehandled: int = 0
    by_category: dict[str, list[int]] = field(default_factory=dict)  # → [received, filed]
    by_field: dict[str, list[int]] = field(default_factory=dict)  # → [received, filed]
    classes: Counter = field(default_factory=Counter)
    result: Ratings = field(default_factory=Ratings)
    work: Ratings = field(default_factory=Ratings)
    units: list[UnitFigures] = field(default_factory=list)


def require_staff(ctx: Ctx) -> None:
    if ctx.actor is not None and not ctx.has_role(Role.STAFF):
        raise PermissionDenied("只有提案委工作人员可以查看提案工作统计。")


def year_statistics(ctx: Ctx, year: int) -> YearStatistics:
    """The figures of ``year`` as of today: one read of each table concerned, the columns
    counted only (a national committee's year is some 6,000 proposals)."""
    require_staff(ctx)
    session = ctx.session
    today = ctx.today
    stats = YearStatistics(year=year, today=today)
    of_year = (
        col(Proposal.year) == year,
        col(Proposal.status) != ProposalStatus.DRAFT,
        col(Proposal.submitted_at).is_not(None),
    )
    by_status: Counter = Counter()
    merged_into = col(Proposal.merged_into_id).is_not(None)
    for status, category, field_name, is_key, rehandled, merged, count in session.execute(
        sa_select(
            col(Proposal.status),
            col(Proposal.category),
            col(Proposal.field),
            col(Proposal.is_key),
            col(Proposal.rehandle_count) > literal_column("0"),
            merged_into,
            func.count(),
        )
        .where(*of_year)
        .group_by(
            col(Proposal.status),
            col(Proposal.category),
            col(Proposal.field),
            col(Proposal.is_key),
            col(Proposal.rehandle_count) > literal_column("0"),
            merged_into,
        )
    ):
        if merged:  # 并案 however far its main has gone: answered and closed with it
            status = ProposalStatus.MERGED
        by_status[status] += count
        is_filed = status in FILED_STATUSES
        stats.key += count if is_filed and is_key else 0
        stats.rehandled += count if is_filed and rehandled else 0
        for table, key in ((stats.by_category, category), (stats.by_field, field_name or "")):
            row = table.setdefault(key, [0, 0])
            row[0] += count
            row[1] += count if is_filed else 0
    stats.received = sum(by_status.values())
    stats.in_review = by_status[ProposalStatus.SUBMITTED]
    stats.withdrawn = by_status[ProposalStatus.WITHDRAWN]
    stats.not_filed = by_status[ProposalStatus.NOT_FILED]
    stats.merged = by_status[ProposalStatus.MERGED]
    stats.converted = by_status[ProposalStatus.CONVERTED]
    stats.closed = by_status[ProposalStatus.CLOSED]
    stats.filed = sum(by_status[s] for s in FILED_STATUSES)
    if not stats.filed:
        return stats
    filed = (
        *of_year,
        col(Proposal.status).in_(list(FILED_STATUSES)),
        col(Proposal.merged_into_id).is_(None),
    )

    # Days and moments are read as text and parsed here: SQLAlchemy's SQLite types parse
    # them with a regular expression, a fifth of the whole at a national committee's year.
    assignments = session.execute(
        sa_select(
            col(Assignment.proposal_id),
            col(Assignment.unit_id),
            col(Assignment.role),
            cast(col(Assignment.due_date), String),
            col(Proposal.status),
        )
        .join(Proposal, col(Proposal.id) == col(Assignment.proposal_id))
        .where(*filed, col(Assignment.status) != AssignmentStatus.REASSIGNED)
        .order_by(col(Assignment.id))
    ).all()
    lead: dict[int, tuple[int, date]] = {}  # proposal → (lead unit, due date)
    status_of: dict[int, str] = {}
    units: dict[int, UnitFigures] = {}
    names = names_of(session, Unit, {row[1] for row in assignments})

    def unit(unit_id: int) -> UnitFigures:
        figures = units.get(unit_id)
        if figures is None:
            figures = units[unit_id] = UnitFigures(unit_id, names.get(unit_id, "?"))
        return figures

    for pid, unit_id, role, due, status in assignments:
        status_of[pid] = status
        if role == "lead":
            lead[pid] = (unit_id, date.fromisoformat(due))  # the latest standing one
        else:
            unit(unit_id).co += 1
    stats.assigned = len(lead)
    for unit_id, _due in lead.values():
        unit(unit_id).lead += 1

    # The replies: for each proposal, the one the signers were last given (the latest
    # approved: id, round, class), and when each round's first reply was submitted.
    shown: dict[int, tuple[int, int, str]] = {}
    first_of_round: dict[tuple[int, int], datetime] = {}
    for reply_id, pid, round_, status, reply_class, submitted_at in session.execute(
        sa_select(
            col(Reply.id),
            col(Reply.proposal_id),
            col(Reply.round),
            col(Reply.status),
            col(Reply.reply_class),
            cast(col(Reply.submitted_at), String),
        )
        .join(Proposal, col(Proposal.id) == col(Reply.proposal_id))
        .where(*filed)
        .order_by(col(Reply.id))
    ):
        if (pid, round_) not in first_of_round:
            first_of_round[pid, round_] = datetime.fromisoformat(submitted_at)
        if status == "approved":
            shown[pid] = (reply_id, round_, reply_class)

    for pid, (unit_id, due) in lead.items():
        figures = unit(unit_id)
        reply = shown.get(pid)
        if status_of[pid] in ANSWERED_STATUSES and reply is not None:
            _reply_id, round_, reply_class = reply
            stats.answered += 1
            figures.answered += 1
            stats.classes[reply_class] += 1
            figures.classes[reply_class] += 1
            first = first_of_round.get((pid, round_))
            if first is not None and ctx.local(first).date() <= due:
                stats.on_time += 1
                figures.on_time += 1
            else:
                stats.late += 1
                figures.late += 1
        elif due < today:
            stats.overdue += 1
            figures.overdue += 1

    for pid, reply_id, result, work, not_given in session.execute(
        sa_select(
            col(Rating.proposal_id),
            col(Rating.reply_id),
            col(Rating.result_rating),
            col(Rating.work_rating),
            col(Rating.not_given),
        )
        .join(Proposal, col(Proposal.id) == col(Rating.proposal_id))
        .where(*filed)
    ):
        reply = shown.get(pid)
        if reply is None or reply_id != reply[0]:
            continue  # a rating of an earlier reply, one 重新办理 replaced
        if status_of.get(pid) not in ANSWERED_STATUSES:
            continue  # being handled again: its new reply will be rated
        led = unit(lead[pid][0]).result if pid in lead else None
        for aspect, value, mine in ((stats.result, result, led), (stats.work, work, None)):
            for ratings in (aspect, mine):
                if ratings is None:
                    continue
                if not_given or value is None or value not in RATINGS:
                    ratings.not_given += 1
                else:
                    ratings.given[value] += 1
    stats.units = sorted(units.values(), key=lambda u: (-u.lead, -u.co, u.name))
    return stats


# ---------------------------------------------------------------- said


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def render_statistics(
    stats: YearStatistics, gettext: Gettext | None = None, locale: str = DEFAULT_LOCALE
) -> str:
    """The figures as a text, in ``locale``: the year, then the units."""

    def say(what: Text | str) -> str:
        if isinstance(what, Text):
            return what.render(gettext, locale)
        return gettext(what) if gettext and isinstance(what, label) else what

    t = stats
    lines = [
        say(
            Text(
                "{year} 年度提案工作统计（截至 {today}）",
                year=str(t.year),
                today=date_text(t.today, locale),
            )
        ),
        "",
        say(
            Text(
                "收到提案 {received} 件：立案 {filed} 件，不予立案 {not_filed} 件，"
                "并案 {merged} 件，转为意见建议 {converted} 件，撤回 {withdrawn} 件，"
                "待审查 {in_review} 件。",
                received=t.received,
                filed=t.filed,
                not_filed=t.not_filed,
                merged=t.merged,
                converted=t.converted,
                withdrawn=t.withdrawn,
                in_review=t.in_review,
            )
        ),
    ]
    decided = t.filed + t.not_filed + t.merged + t.converted
    if decided:
        lines.append(
            say(Text("立案率（已审查的提案中）：{share}", share=_share(t.filed, decided)))
        )

    def counted(name: str, received: int, filed: int) -> str:
        return say(
            Text("{name} {received} 件（立案 {filed}）", name=name, received=received, filed=filed)
        )

    parts = [
        counted(say(name), *t.by_category[code])
        for code, name in CATEGORIES.items()
        if code in t.by_category
    ]
    if parts:
        lines.append(say(Text("按类别：{parts}", parts="；".join(parts))))
    fields = [
        counted(say(label(name or NO_FIELD)), received, filed)
        for name, (received, filed) in sorted(t.by_field.items(), key=lambda i: (-i[1][0], i[0]))
    ]
    if fields:
        lines.append(say(Text("按领域：{parts}", parts="；".join(fields))))
    lines += [
        "",
        say(
            Text(
                "交办 {assigned} 件（重点提案 {key} 件）：已答复 {answered} 件，"
                "其中按期 {on_time} 件、逾期 {late} 件；尚未答复且已超期 {overdue} 件；"
                "重新办理 {rehandled} 件；已办结 {closed} 件。",
                assigned=t.assigned,
                key=t.key,
                answered=t.answered,
                on_time=t.on_time,
                late=t.late,
                overdue=t.overdue,
                rehandled=t.rehandled,
                closed=t.closed,
            )
        ),
    ]
    if t.answered:
        lines.append(
            say(
                Text(
                    "按期答复率：{share}；答复类别：A 类 {a} 件，B 类 {b} 件，C 类 {c} 件。",
                    share=_share(t.on_time, t.answered),
                    a=t.classes["A"],
                    b=t.classes["B"],
                    c=t.classes["C"],
                )
            )
        )
    for title, ratings in ((label("办理结果"), t.result), (label("办理工作"), t.work)):
        if ratings.rated or ratings.not_given:
            lines.append(
                say(
                    Text(
                        "{aspect}评价：满意 {satisfied}，基本满意 {basic}，不满意 {unsatisfied}，"
                        "未评价 {not_given}；满意率 {share}。",
                        aspect=say(title),
                        satisfied=ratings.given["satisfied"],
                        basic=ratings.given["basic"],
                        unsatisfied=ratings.given["unsatisfied"],
                        not_given=ratings.not_given,
                        share=_share(ratings.satisfied, ratings.rated),
                    )
                )
            )
    if t.units:
        lines += ["", say(Text("各承办单位："))]
        for u in t.units:
            lines.append(
                say(
                    Text(
                        "· {unit}：主办 {lead}，协办 {co}；已答复 {answered}（按期 {on_time}），"
                        "超期未答复 {overdue}；A/B/C {a}/{b}/{c}；满意率 {share}",
                        unit=u.name,
                        lead=u.lead,
                        co=u.co,
                        answered=u.answered,
                        on_time=u.on_time,
                        overdue=u.overdue,
                        a=u.classes["A"],
                        b=u.classes["B"],
                        c=u.classes["C"],
                        share=_share(u.result.satisfied, u.result.rated),
                    )
                )
            )
    return "\n".join(lines)
