"""Who may make each service call: a role × action matrix.

For every call, the record is put in the status where the call is legal, then every person
of the roster below tries it. The people marked Y must succeed (each try is rolled back, so
everyone meets the same record); everyone else must get PermissionDenied, in Chinese, with
nothing changed in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import pytest
from sqlmodel import Session

from storage.models import Unit
from tests.factories import World
from tests.snapshot import is_chinese, snapshot
from tests.states import ASSIGNMENT_CALLS, OTHER_CALLS, PROPOSAL_CALLS, Call, Rec, States
from workflow import assignments, replies
from workflow.errors import PermissionDenied, WorkflowError

# The people who try every call (columns of the matrix) and who they are in the roster.
PEOPLE = {
    "member": "member",  # 林晓, the proposer (lead signer)
    "cosigner": "cosigner",  # 何平, the co-signer (confirmed unless the row says otherwise)
    "outsider": "outsider",  # 曹磊, a member with nothing to do with the proposal
    "staff": "staff",  # 许静, 提案委
    "h_lead": "handler_edu",  # 高远, handler of 区教育局, the lead unit
    "h_co": "handler_tr",  # 蒋涛, handler of 区交通运输局, the co-handling unit
    "h_other": "handler_health",  # 彭娟, handler of 区卫生健康委员会, not assigned
    "supervisor": "supervisor",  # 董宁, 区政府督查室 (supervises key proposals only)
    "leader": "leader",  # 邓启明, the lead leader of key proposals
}

# Y: allowed. -: PermissionDenied.
MATRIX = """
call                              member cosigner outsider staff h_lead h_co h_other supervisor leader
create_draft                        Y       Y        Y       -     -     -     -        -        -
update_draft                        Y       -        -       -     -     -     -        -        -
discard_draft                       Y       -        -       -     -     -     -        -        -
invite_cosigner                     Y       -        -       -     -     -     -        -        -
remove_cosigner                     Y       -        -       -     -     -     -        -        -
submit                              Y       -        -       -     -     -     -        -        -
confirm_cosign                      -       Y        -       -     -     -     -        -        -
decline_cosign                      -       Y        -       -     -     -     -        -        -
withdraw                            Y       -        -       -     -     -     -        -        -
request_to_cosign                   -       -        Y       -     -     -     -        -        -
add_cosigner                        Y       -        -       -     -     -     -        -        -
file_proposal                       -       -        -       Y     -     -     -        -        -
reject                              -       -        -       Y     -     -     -        -        -
merge                               -       -        -       Y     -     -     -        -        -
convert                             -       -        -       Y     -     -     -        -        -
assign                              -       -        -       Y     -     -     -        -        -
accept                              -       -        -       -     Y     -     -        -        -
accept/co-handling                  -       -        -       -     -     Y     -        -        -
request_adjustment                  -       -        -       -     Y     -     -        -        -
close_adjustment_window             -       -        -       -     -     -     -        -        -
reassign                            -       -        -       Y     -     -     -        -        -
refuse_adjustment                   -       -        -       Y     -     -     -        -        -
record_contact                      -       -        -       -     Y     -     -        -        -
record_contact/co-handling          -       -        -       -     -     Y     -        -        -
give_opinion                        -       -        -       -     -     Y     -        -        -
submit_reply                        -       -        -       -     Y     -     -        -        -
request_extension                   -       -        -       -     Y     -     -        -        -
extend                              -       -        -       Y     -     -     -        -        -
grant_extension                     -       -        -       Y     -     -     -        -        -
refuse_extension                    -       -        -       Y     -     -     -        -        -
return_reply                        -       -        -       Y     -     -     -        -        -
return_reply/key                    -       -        -       Y     -     -     -        Y        -
return_reply/supervised-elsewhere   -       -        -       Y     -     -     -        -        -
approve_reply                       -       -        -       Y     -     -     -        -        -
approve_reply/key                   -       -        -       Y     -     -     -        Y        -
approve_reply/supervised-elsewhere  -       -        -       Y     -     -     -        -        -
rate                                Y       Y        -       -     -     -     -        -        -
rate/unconfirmed-cosigner           Y       -        -       -     -     -     -        -        -
order_rehandle                      -       -        -       Y     -     -     -        -        -
close                               -       -        -       Y     -     -     -        -        -
issue_invite                        -       -        -       Y     -     -     -        -        -
"""


def _parse(text: str) -> tuple[list[str], dict[str, set[str]]]:
    header, *rows = [line.split() for line in text.strip().splitlines()]
    columns = header[1:]
    allowed = {}
    for call, *marks in rows:
        assert len(marks) == len(columns), call
        assert set(marks) <= {"Y", "-"}, call
        allowed[call] = {who for who, mark in zip(columns, marks, strict=True) if mark == "Y"}
    return columns, allowed


COLUMNS, ALLOWED = _parse(MATRIX)


# ---------------------------------------------------------------- the record for each row


def _proposal(status: str, **kw) -> Callable[[States], Rec]:
    return lambda s: s.proposal(status, **kw)


def _assignment(status: str, role: str = "lead") -> Callable[[States], Rec]:
    return lambda s: s.assignment(status, role)


def _extension_asked(s: States) -> Rec:
    """The lead unit handling it has asked for more time."""
    rec = s.assignment("accepted")
    s.run(s.w.handler_edu, assignments.request_extension, rec.asg, "需协调多个部门。")
    return rec


def _with_main(s: States) -> Rec:
    rec = s.proposal("submitted")
    rec.main = s.filed(title="关于加强中小学校园周边交通安全管理的建议")
    return rec


def _supervised_elsewhere(s: States) -> Rec:
    """A key proposal under another supervising unit (区委督查室), its reply submitted."""
    with s.db.session() as session:
        unit = Unit(name="区委督查室", kind="supervising")
        session.add(unit)
        session.flush()
        other = unit.id
    rec = s.proposal("filed")
    w = s.w
    [lead] = s.run(
        w.staff,
        assignments.assign,
        rec.pid,
        lead_unit_id=w.education,
        is_key=True,
        supervising_unit_id=other,
        lead_leader_id=w.leader,
    )
    rec.lead = lead.id
    s.run(w.handler_edu, assignments.accept, rec.lead)
    rec.reply = s.submit_reply(rec.lead)
    return rec


def _window_passed(s: States) -> Rec:
    rec = s.assignment("pending")
    s.wf.clock.advance(days=20)
    return rec


def _rated_unsatisfied(s: States) -> Rec:
    rec = s.proposal("delivered")
    s.run(s.w.member, replies.rate, rec.pid, work="unsatisfied")
    return rec


def _closable(s: States) -> Rec:
    """Delivered, the proposer rated 不满意 and the rating window is over."""
    rec = _rated_unsatisfied(s)
    s.wf.clock.advance(days=40)
    return rec


# For each row: how to reach the status where the call is legal, and the call.
ROWS: dict[str, tuple[Callable[[States], Rec], Callable[[States, Rec], Call]]] = {
    "create_draft": (lambda s: Rec(), OTHER_CALLS["create_draft"]),
    "update_draft": (_proposal("draft"), PROPOSAL_CALLS["edit_draft"]),
    "discard_draft": (_proposal("draft"), PROPOSAL_CALLS["discard_draft"]),
    "invite_cosigner": (_proposal("draft"), PROPOSAL_CALLS["invite_cosigner"]),
    "remove_cosigner": (_proposal("draft"), OTHER_CALLS["remove_cosigner"]),
    "submit": (_proposal("draft"), PROPOSAL_CALLS["submit"]),
    "confirm_cosign": (_proposal("submitted", confirm=False), PROPOSAL_CALLS["confirm_cosign"]),
    "decline_cosign": (_proposal("submitted", confirm=False), PROPOSAL_CALLS["decline_cosign"]),
    "withdraw": (_proposal("submitted"), PROPOSAL_CALLS["withdraw"]),
    "request_to_cosign": (_proposal("submitted"), PROPOSAL_CALLS["request_cosign"]),
    "add_cosigner": (_proposal("submitted"), PROPOSAL_CALLS["add_cosigner"]),
    "file_proposal": (_proposal("submitted"), PROPOSAL_CALLS["file"]),
    "reject": (_proposal("submitted"), PROPOSAL_CALLS["reject"]),
    "merge": (_with_main, PROPOSAL_CALLS["merge"]),
    "convert": (_proposal("submitted"), PROPOSAL_CALLS["convert"]),
    "assign": (_proposal("filed"), PROPOSAL_CALLS["assign"]),
    "accept": (_assignment("pending"), ASSIGNMENT_CALLS["accept"]),
    "accept/co-handling": (_assignment("pending", "co"), ASSIGNMENT_CALLS["accept"]),
    "request_adjustment": (_assignment("pending"), ASSIGNMENT_CALLS["request_adjustment"]),
    "close_adjustment_window": (_window_passed, ASSIGNMENT_CALLS["window_closed"]),
    "reassign": (_assignment("adjustment_requested"), ASSIGNMENT_CALLS["reassign"]),
    "refuse_adjustment": (
        _assignment("adjustment_requested"),
        ASSIGNMENT_CALLS["refuse_adjustment"],
    ),
    "record_contact": (_assignment("accepted"), ASSIGNMENT_CALLS["record_contact"]),
    "record_contact/co-handling": (
        _assignment("accepted", "co"),
        ASSIGNMENT_CALLS["record_contact"],
    ),
    "give_opinion": (_assignment("accepted", "co"), ASSIGNMENT_CALLS["give_opinion"]),
    "submit_reply": (_assignment("accepted"), ASSIGNMENT_CALLS["submit_reply"]),
    "request_extension": (_assignment("accepted"), ASSIGNMENT_CALLS["request_extension"]),
    "extend": (_assignment("accepted"), ASSIGNMENT_CALLS["extend"]),
    "grant_extension": (_extension_asked, OTHER_CALLS["grant_extension"]),
    "refuse_extension": (_extension_asked, ASSIGNMENT_CALLS["refuse_extension"]),
    "return_reply": (_proposal("replied"), PROPOSAL_CALLS["return_reply"]),
    "return_reply/key": (_proposal("replied", key=True), PROPOSAL_CALLS["return_reply"]),
    "return_reply/supervised-elsewhere": (_supervised_elsewhere, PROPOSAL_CALLS["return_reply"]),
    "approve_reply": (_proposal("replied"), PROPOSAL_CALLS["approve_reply"]),
    "approve_reply/key": (_proposal("replied", key=True), PROPOSAL_CALLS["approve_reply"]),
    "approve_reply/supervised-elsewhere": (_supervised_elsewhere, PROPOSAL_CALLS["approve_reply"]),
    "rate": (_proposal("delivered"), PROPOSAL_CALLS["rate"]),
    "rate/unconfirmed-cosigner": (
        _proposal("delivered", confirm=False),
        PROPOSAL_CALLS["rate"],
    ),
    "order_rehandle": (_rated_unsatisfied, PROPOSAL_CALLS["order_rehandle"]),
    "close": (_closable, PROPOSAL_CALLS["close"]),
    "issue_invite": (lambda s: Rec(), OTHER_CALLS["issue_invite"]),
}

# Every service call a person makes, as the workflow modules name it (invites.issue_invite
# included); a row "call/variant" tries the same call on another record.
CALLS = {
    "create_draft",
    "update_draft",
    "invite_cosigner",
    "submit",
    "confirm_cosign",
    "decline_cosign",
    "withdraw",
    "file_proposal",
    "reject",
    "merge",
    "convert",
    "assign",
    "accept",
    "request_adjustment",
    "reassign",
    "refuse_adjustment",
    "record_contact",
    "give_opinion",
    "submit_reply",
    "return_reply",
    "approve_reply",
    "rate",
    "order_rehandle",
    "close",
    "issue_invite",
    "discard_draft",
    "remove_cosigner",
    "close_adjustment_window",
    "request_extension",
    "extend",
    "grant_extension",
    "refuse_extension",
    "request_to_cosign",
    "add_cosigner",
}


def test_the_matrix_covers_every_call_and_person():
    assert set(ROWS) == set(ALLOWED)
    assert {row.split("/")[0] for row in ROWS} == CALLS
    assert list(PEOPLE) == COLUMNS
    assert set(PEOPLE.values()) <= {f.name for f in fields(World)}


# ---------------------------------------------------------------- trying a call


def _try(db, wf, actor: int, call: Call, *, keep: bool):
    """Make the call as ``actor`` in one transaction, committed only if ``keep``."""
    if keep:
        with db.session() as session:
            return call.fn(wf.ctx(session, actor), *call.args, **call.kwargs)
    with Session(db.engine, expire_on_commit=False) as session:
        try:
            return call.fn(wf.ctx(session, actor), *call.args, **call.kwargs)
        finally:
            session.rollback()


@pytest.mark.parametrize("row", list(ROWS))
def test_who_may(db, wf, world, row):
    s = States(db, wf, world)
    build, make_call = ROWS[row]
    rec = build(s)
    call = make_call(s, rec)
    assert call.fn.__name__ == row.split("/")[0]
    before = snapshot(db)
    wrong = []
    for column, attr in PEOPLE.items():
        person = getattr(world, attr)
        if column in ALLOWED[row]:
            # Allowed: it must succeed; rolled back so the next person meets the same record.
            try:
                _try(db, wf, person, call, keep=False)
            except WorkflowError as error:
                wrong.append(f"{column}: should be allowed, got {type(error).__name__}: {error}")
        else:
            # Refused: the real unit of work, which must leave nothing behind.
            try:
                _try(db, wf, person, call, keep=True)
            except PermissionDenied as error:
                if not is_chinese(str(error)):
                    wrong.append(f"{column}: message not in Chinese: {error}")
            except WorkflowError as error:
                wrong.append(
                    f"{column}: should get PermissionDenied, got {type(error).__name__}: {error}"
                )
            else:
                wrong.append(f"{column}: should get PermissionDenied, was allowed")
        after = snapshot(db)
        if after != before:
            changed = [name for name in before if before[name] != after[name]]
            wrong.append(f"{column}: the database changed ({', '.join(changed)})")
            before = after
    assert not wrong, f"{row}:\n" + "\n".join(wrong)


def test_a_person_whose_account_is_gone_is_refused(db, wf, world):
    """A call made for a person id that no longer exists is refused before anything."""
    with db.session() as session, pytest.raises(PermissionDenied) as refused:
        wf.ctx(session, 10_000)
    assert is_chinese(str(refused.value))
