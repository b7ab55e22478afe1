"""The year's proposal ledger (提案台账) as an Excel workbook, for committee staff.

One row a submitted proposal (drafts, and drafts deleted before submission, left out), in
number order: what it is, who proposed it, where it stands, who handles it, by when, how it
was answered and how the signers rated it (a merged proposal: by the units, due date and
reply of the proposal it was merged into).
Headings and labels are said in the reader's language (the caller passes gettext in).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable

from sqlmodel import col, select

from storage.models import Assignment, Person, Proposal, Rating, Reply, Signer, Unit, pk
from workflow.core import Ctx
from workflow.errors import PermissionDenied
from workflow.proposals import CATEGORIES
from workflow.replies import RATINGS
from workflow.roles import Role
from workflow.statistics import CLASSES, Ratings, YearStatistics, year_statistics
from workflow.statuses import proposal_label
from workflow.texts import date_text, label

Gettext = Callable[[str], str]

# (heading, width in characters)
COLUMNS = (
    (label("年度"), 6),  # numbers restart every year: a row names its proposal with both
    (label("编号"), 8),
    (label("标题"), 40),
    (label("类别"), 10),
    (label("领域"), 10),
    (label("提案人"), 12),
    (label("联名人"), 18),
    (label("状态"), 10),
    (label("提交日期"), 14),
    (label("主办单位"), 20),
    (label("协办单位"), 24),
    (label("答复期限"), 14),
    (label("重点提案"), 8),
    (label("答复类别"), 8),
    (label("答复日期"), 14),
    (label("评价"), 24),
)
YES, NO = label("是"), label("否")


# Submitted once: a draft deleted unsubmitted is kept as withdrawn (its audit trail stays) but
# was never anyone's proposal but its writer's.
_SUBMITTED = col(Proposal.submitted_at).is_not(None)


def years(ctx: Ctx) -> list[int]:
    """Years that have submitted proposals, newest first."""
    require_staff(ctx)
    rows = ctx.session.exec(
        select(Proposal.year).where(_SUBMITTED, Proposal.status != "draft").distinct()
    ).all()
    return sorted(rows, reverse=True)


def require_staff(ctx: Ctx) -> None:
    if ctx.actor is not None and not ctx.has_role(Role.STAFF):
        raise PermissionDenied("只有提案委工作人员可以导出提案台账。")


def ledger(ctx: Ctx, year: int, gettext: Gettext = str, locale: str = "zh") -> tuple[bytes, int]:
    """The workbook of ``year`` as XLSX bytes, and how many proposals it lists."""
    require_staff(ctx)
    session = ctx.session
    proposals = session.exec(
        select(Proposal)
        .where(Proposal.year == year, Proposal.status != "draft", _SUBMITTED)
        .order_by(col(Proposal.number).is_(None), col(Proposal.number), col(Proposal.id))
    ).all()
    ids = [p.id for p in proposals]
    # A merged proposal is handled by the units of the one it was merged into, whose reply
    # it receives: its row shows those (``source``: the proposal whose units and reply count).
    source = {pk(p): p.merged_into_id or pk(p) for p in proposals}
    handled = sorted(set(source.values()))
    by_id = {pk(p): p for p in proposals}  # the main of a merged one is of the same year
    people = {p.id: p.name for p in session.exec(select(Person))}
    units = {u.id: u.name for u in session.exec(select(Unit))}
    signers: dict[int, list[str]] = defaultdict(list)
    lead: dict[int, str] = {}
    co: dict[int, list[str]] = defaultdict(list)
    replies: dict[int, Reply] = {}
    ratings: dict[int, list[str]] = defaultdict(list)
    if ids:
        for s in session.exec(
            select(Signer)
            .where(col(Signer.proposal_id).in_(ids), Signer.role == "co")
            .where(Signer.state == "confirmed")
            .order_by(col(Signer.position))
        ):
            signers[s.proposal_id].append(people.get(s.person_id, ""))
        for a in session.exec(
            select(Assignment)
            .where(col(Assignment.proposal_id).in_(handled))
            .where(col(Assignment.status).not_in(["reassigned"]))
            .order_by(col(Assignment.id))
        ):
            if a.role == "lead":
                lead[a.proposal_id] = units.get(a.unit_id, "")
            else:
                co[a.proposal_id].append(units.get(a.unit_id, ""))
        for r in session.exec(
            select(Reply)
            .where(col(Reply.proposal_id).in_(handled), Reply.status == "approved")
            .order_by(col(Reply.id))
        ):
            replies[r.proposal_id] = r  # the latest approved one
        for rating in session.exec(
            select(Rating).where(col(Rating.proposal_id).in_(ids)).order_by(col(Rating.id))
        ):
            shown = replies.get(source[rating.proposal_id])
            if shown is not None and rating.reply_id != shown.id:
                continue  # a rating of an earlier reply, one 重新办理 replaced
            given = (
                gettext(label("未评价"))
                if rating.not_given
                else gettext(RATINGS.get(rating.result_rating or "", label("未评价")))
            )
            ratings[rating.proposal_id].append(f"{people.get(rating.person_id, '')}：{given}")

    # Loaded for the first export, not by every process that may never make one (openpyxl
    # is 6 MB of the running bot's memory).
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = str(year)
    sheet.append([gettext(heading) for heading, _ in COLUMNS])
    for n, (_, width) in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(n)].width = width
        sheet.cell(row=1, column=n).font = Font(bold=True)
    sep = "、" if locale == "zh" else ", "
    for p in proposals:
        pid = pk(p)
        reply = replies.get(source[pid])
        sheet.append(
            [
                p.year,
                p.number,
                p.title,
                gettext(CATEGORIES.get(p.category, label(p.category))),
                gettext(p.field) if p.field else "",
                p.collective_body or people.get(p.proposer_id, ""),
                sep.join(signers.get(pid, [])),
                gettext(proposal_label(p.status)),
                date_text(ctx.local(p.submitted_at).date(), locale) if p.submitted_at else "",
                lead.get(source[pid], ""),
                sep.join(co.get(source[pid], [])),
                date_text(by_id.get(source[pid], p).due_date, locale),
                gettext(YES) if p.is_key else gettext(NO),
                reply.reply_class if reply else "",
                date_text(reply.reply_date, locale) if reply else "",
                sep.join(ratings.get(pid, [])),
            ]
        )
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if cell.data_type == "f":
                # openpyxl takes any text starting with "=" for a formula: a title such as
                # =HYPERLINK(…) would become a live link in staff's spreadsheet. Kept as text.
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    _unit_sheet(book, year_statistics(ctx, year), gettext)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), len(proposals)


UNIT_COLUMNS = (
    (label("承办单位"), 24),
    (label("主办"), 8),
    (label("协办"), 8),
    (label("已答复"), 8),
    (label("按期答复"), 10),
    (label("逾期答复"), 10),
    (label("超期未答复"), 10),
    (label("A类"), 6),
    (label("B类"), 6),
    (label("C类"), 6),
    (label("满意"), 8),
    (label("基本满意"), 10),
    (label("不满意"), 8),
    (label("未评价"), 8),
    (label("满意率"), 10),
)
TOTAL = label("合计")


def _unit_sheet(book, stats: YearStatistics, gettext: Gettext) -> None:
    """The year's figures unit by unit (``workflow.statistics``), with a total row."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(gettext(label("各承办单位统计")))
    sheet.append([gettext(heading) for heading, _ in UNIT_COLUMNS])
    for n, (_, width) in enumerate(UNIT_COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(n)].width = width
        sheet.cell(row=1, column=n).font = Font(bold=True)

    def row(name: str, result: Ratings, figures: tuple) -> list:
        rated = result.rated
        return [
            name,
            *figures,
            result.given["satisfied"],
            result.given["basic"],
            result.given["unsatisfied"],
            result.not_given,
            round(result.satisfied / rated, 4) if rated else None,
        ]

    for u in stats.units:
        sheet.append(
            row(
                u.name,
                u.result,
                (u.lead, u.co, u.answered, u.on_time, u.late, u.overdue, *_classes(u.classes)),
            )
        )
    s = stats
    sheet.append(
        row(
            gettext(TOTAL),
            s.result,
            (s.assigned, None, s.answered, s.on_time, s.late, s.overdue, *_classes(s.classes)),
        )
    )
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if cell.data_type == "f":  # a unit named "=…" is a name, never a formula
                cell.data_type = "s"
        line[-1].number_format = "0.0%"
    sheet.freeze_panes = "B2"


def _classes(counts) -> tuple[int, ...]:
    return tuple(counts[c] for c in CLASSES)
