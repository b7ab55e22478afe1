"""Deactivating and reactivating a person: a member who leaves the committee, a unit's
handler who moves on, a staff member who retires.

A person is never deleted: their proposals, replies and ratings name them for good. Being
deactivated (``Person.active`` false), in one transaction with an audit event:

- the notices waiting for them (pending or parked) are cancelled, and any written for them
  later are written cancelled (``workflow.core.write_notices``): their chat accounts receive
  nothing more, and the dispatcher has nothing of theirs to try;
- their invite codes not yet used are revoked;
- their conversations and drafts are kept: what they write is answered only with "your account
  is no longer active" (``handlers.engine``), and once reactivated they find their drafts;
- a unit's assignments are the unit's: its other handlers go on seeing them. When the person
  was the unit's last active handler, staff are told that nobody can handle its work;
- the last active staff member cannot be deactivated: nobody could run the work.

Co-signer invitations waiting for their answer are left as they are: they expire when the
proposal's co-signing window closes, as any unanswered invitation does. Reactivating makes
the person active again; their bound chat accounts work at once, and notices cancelled
meanwhile stay cancelled (they were about the time they were away).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, func, select

from storage.locks import lock_name
from storage.models import Assignment, InviteCode, Notice, Person, Unit, pk, table_of
from workflow.core import RECIPIENT_INACTIVE, Ctx, audit, notify, people_with_role
from workflow.errors import InvalidInput, NotFound, PermissionDenied
from workflow.roles import Role
from workflow.roster import ImportReport
from workflow.statuses import ACTIVE_ASSIGNMENT_STATUSES
from workflow.texts import Text

# The state of a notice nobody will send.
CANCELLED = "cancelled"
_WAITING = ("pending", "parked")


@dataclass(frozen=True)
class UnitLeft:
    """A unit whose last active handler was deactivated, and how much it has open."""

    unit_id: int
    name: str
    open_assignments: int


@dataclass(frozen=True)
class Deactivation:
    """What deactivating a person changed."""

    person_id: int
    name: str
    notices_cancelled: int
    codes_revoked: int
    units_left: tuple[UnitLeft, ...]


def _require_staff(ctx: Ctx) -> None:
    if ctx.actor is not None and not ctx.has_role(Role.STAFF):
        raise PermissionDenied("只有提案委工作人员可以停用或恢复名册中的人员。")


def _changed(session: Session, statement) -> int:
    result: CursorResult = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False)
    )
    return result.rowcount


def _locked(ctx: Ctx, person_id: int) -> Person:
    person = ctx.session.exec(
        select(Person)
        .where(Person.id == person_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if person is None:
        raise NotFound("名册里没有编号为 {person_id} 的人。", person_id=person_id)
    return person


def deactivate(ctx: Ctx, person_id: int) -> Deactivation:
    """Deactivate a person, with everything that follows from it (see the module)."""
    _require_staff(ctx)
    # Two deactivations at once must not each leave the other as the last staff member.
    lock_name(ctx.session, "people:active")
    person = _locked(ctx, person_id)
    if not person.active:
        raise InvalidInput("{name}已经是停用状态，没有做任何更改。", name=person.name)
    if Role.STAFF.value in person.role_set:
        others = [p for p in people_with_role(ctx.session, Role.STAFF) if p != person_id]
        if not others:
            raise InvalidInput(
                "{name}是名册中唯一在用的提案委工作人员，停用后就没有人能办理提案工作了。"
                "请先在名册中添加或恢复另一位提案委工作人员，再停用。",
                name=person.name,
            )
    person.active = False
    person.updated_at = ctx.now
    ctx.session.add(person)
    ctx.session.flush()

    notices = table_of(Notice).c
    cancelled = _changed(
        ctx.session,
        update(table_of(Notice))
        .where(notices.person_id == person_id, notices.state.in_(_WAITING))
        .values(state=CANCELLED, last_error=RECIPIENT_INACTIVE),
    )
    codes = table_of(InviteCode).c
    revoked = _changed(
        ctx.session,
        update(table_of(InviteCode))
        .where(codes.person_id == person_id, codes.used_at.is_(None), codes.revoked.is_(False))
        .values(revoked=True),
    )
    units_left: list[UnitLeft] = []
    if Role.HANDLER.value in person.role_set and person.unit_id is not None:
        unit = ctx.session.get(Unit, person.unit_id)
        if unit is not None and not people_with_role(ctx.session, Role.HANDLER, pk(unit)):
            units_left.append(UnitLeft(pk(unit), unit.name, _open_assignments(ctx, pk(unit))))
    event = audit(
        ctx,
        "person_deactivated",
        person_id=person_id,
        notices_cancelled=cancelled,
        codes_revoked=revoked,
        units_left=[u.name for u in units_left],
    )
    for left in units_left:
        notify(
            ctx,
            people_with_role(ctx.session, Role.STAFF),
            "unit_without_handler",
            _unit_left_text(person.name, left),
            key=f"{event.id}:{left.unit_id}",
        )
    return Deactivation(person_id, person.name, cancelled, revoked, tuple(units_left))


def _open_assignments(ctx: Ctx, unit_id: int) -> int:
    return ctx.session.exec(
        select(func.count()).where(
            Assignment.unit_id == unit_id,
            col(Assignment.status).in_(list(ACTIVE_ASSIGNMENT_STATUSES)),
        )
    ).one()


def _unit_left_text(name: str, left: UnitLeft) -> Text:
    if left.open_assignments:
        return Text(
            "{name}已停用，{unit}在名册上已没有在用的承办人，该单位正在办理的 {n} 件提案无人办理。"
            "请在名册中为该单位添加承办人，并电话联系该单位。",
            name=name,
            unit=left.name,
            n=left.open_assignments,
        )
    return Text(
        "{name}已停用，{unit}在名册上已没有在用的承办人，今后交办给该单位的提案将无人办理。"
        "请在名册中为该单位添加承办人。",
        name=name,
        unit=left.name,
    )


def deactivate_missing(ctx: Ctx, report: ImportReport) -> list[Deactivation]:
    """Deactivate the people a people import found missing from its file, in the import's
    transaction: a refusal (the last staff member) leaves the whole import undone."""
    return [deactivate(ctx, missing.person_id) for missing in report.missing]


def reactivate(ctx: Ctx, person_id: int) -> Person:
    """Make a deactivated person active again; their bound chat accounts work at once."""
    _require_staff(ctx)
    person = _locked(ctx, person_id)
    if person.active:
        raise InvalidInput("{name}没有停用，没有做任何更改。", name=person.name)
    person.active = True
    person.updated_at = ctx.now
    ctx.session.add(person)
    ctx.session.flush()
    audit(ctx, "person_reactivated", person_id=person_id)
    return person


# ---------------------------------------------------------------- finding and listing


def listed(session: Session, *, inactive: bool = False) -> list[Person]:
    """The people on the roster, active ones (or, with ``inactive``, the deactivated ones),
    by unit then name."""
    return list(
        session.exec(
            select(Person)
            .where(Person.active == (not inactive))
            .order_by(col(Person.unit_id).is_(None), col(Person.unit_id), col(Person.id))
        ).all()
    )
