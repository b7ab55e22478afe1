"""Units' requests for more time (延期申请), decided by committee staff: from the menu's list of
every request not decided yet (``extensions``), or with one tap on the request's notice
(``ext:`` buttons).

A request is the unit's audit event; the workflow decides only a request still open and
says who decided one that is not, whichever way the decision comes.
"""

from __future__ import annotations

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.staff_common import (
    BACK,
    STAFF,
    TO_MENU,
    browse,
    day_text,
    goto,
    install_flows,
    number_of,
    paged,
    short,
    told_units,
    words,
)
from handlers.turns import resume
from storage.models import Assignment, AuditEvent, Proposal, existing, pk
from workflow import assignments
from workflow.assignments import unit_name
from workflow.core import person_name
from workflow.errors import InvalidInput

GRANTED = N_("已同意延期：{unit}办理{num}提案《{title}》的期限延至{due}。")
REFUSED = N_("{unit}办理{num}提案《{title}》的延期申请未获同意，仍按原期限（{due}）办理。")


def _decided(turn: Turn, assignment: Assignment, message: str) -> str:
    """What staff are told once a request is decided, and which units were told."""
    proposal = existing(turn.session, Proposal, assignment.proposal_id)
    done = turn.t(
        message,
        unit=unit_name(turn.ctx, assignment.unit_id),
        num=turn.number(proposal.year, proposal.number),
        title=proposal.title,
        due=turn.date(assignment.due_date),
    )
    return done + "\n" + told_units(turn, [assignment.unit_id])


def _role_label(turn: Turn, assignment: Assignment) -> str:
    return turn.t("主办") if assignment.role == "lead" else turn.t("协办")


# ---------------------------------------------------------------- the list


def ask_extensions(turn: Turn) -> None:
    turn.data.pop("xid", None)
    requests = assignments.open_extension_requests(turn.ctx)
    if not requests:
        turn.say(turn.t("没有待决定的延期申请。"), [turn.choice(turn.t(TO_MENU), "menu")])
        return
    page = paged(turn, "ext", requests)
    lines = [turn.t("待决定的延期申请 {n} 件（申请时间从早到晚）：", n=len(requests))]
    choices = []
    for index, (a, event) in enumerate(page.rows, page.first):
        p = existing(turn.session, Proposal, a.proposal_id)
        unit = unit_name(turn.ctx, a.unit_id)
        lines.append(
            turn.t(
                "{i}. {n}《{title}》 {unit}（{role}），现期限{due}，{day}申请",
                i=index,
                n=number_of(turn, p),
                title=p.title,
                unit=unit,
                role=_role_label(turn, a),
                due=turn.date(a.due_date),
                day=day_text(turn, event.at),
            )
        )
        choices.append(turn.choice(short(f"{number_of(turn, p)} {unit}"), f"x:{event.id}"))
    lines += page.position(turn)
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_extensions(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if browse(turn, "ext", value):
        return "page"
    turn.data["xid"] = int(value.removeprefix("x:"))
    return "open"


# ---------------------------------------------------------------- one request


def _request(turn: Turn) -> tuple[AuditEvent, Assignment] | None:
    """The request chosen from the list, and its assignment."""
    xid = turn.data.get("xid")
    event = turn.session.get(AuditEvent, xid) if xid else None
    if (
        event is None
        or event.assignment_id is None
        or event.action != assignments.EXTENSION_REQUEST
    ):
        return None
    return event, existing(turn.session, Assignment, event.assignment_id)


def ask_extension(turn: Turn) -> None:
    found = _request(turn)
    if found is None:
        turn.say(turn.t("找不到这项延期申请。"))
        goto(turn, "list")
        return
    event, a = found
    p = existing(turn.session, Proposal, a.proposal_id)
    text = turn.t(
        "{unit}申请延长{n}《{title}》的办理期限（{role}）。\n申请人：{who}，{at}\n理由：{reason}",
        unit=unit_name(turn.ctx, a.unit_id),
        n=number_of(turn, p),
        title=p.title,
        role=_role_label(turn, a),
        who=person_name(turn.session, event.actor_id),
        at=turn.time(event.at),
        reason=(event.detail or {}).get("reason", ""),
    )
    waiting = assignments.open_extension_request(turn.ctx, pk(a))
    if waiting is None or waiting.id != event.id:
        turn.say(
            text + "\n" + turn.t("这项延期申请已处理，现期限为{due}。", due=turn.date(a.due_date)),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    turn.say(
        text
        + "\n"
        + turn.t(
            "现期限为{due}；同意则延至{new}。",
            due=turn.date(a.due_date),
            new=turn.date(assignments.extended_due(turn.ctx, a)),
        ),
        [
            turn.choice(turn.t("同意延期"), "grant"),
            turn.choice(turn.t("不同意"), "refuse"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_extension(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    found = _request(turn)
    if found is None:
        return "back"
    event, a = found
    if value == "grant":
        granted = assignments.grant_extension(turn.ctx, pk(a), pk(event))
        turn.say(_decided(turn, granted, GRANTED))
        return "done"
    # Decided by a colleague meanwhile: said now, with who and when, not after a note.
    assignments.check_extension_request_open(turn.ctx, pk(a), pk(event))
    return "refuse"


def ask_refuse_note(turn: Turn) -> None:
    found = _request(turn)
    if found is None:
        goto(turn, "list")
        return
    _event, a = found
    turn.say(
        turn.t(
            "请写明不同意延期的说明（将告知{unit}），或点「不写说明」：",
            unit=unit_name(turn.ctx, a.unit_id),
        ),
        [turn.choice(turn.t("不写说明"), "none"), turn.choice(turn.t(BACK), "back")],
    )


def _refuse(turn: Turn, note: str | None) -> str:
    found = _request(turn)
    if found is None:
        raise InvalidInput(turn.t("找不到这项延期申请。"))
    event, a = found
    refused = assignments.refuse_extension(turn.ctx, pk(a), note, request_id=pk(event))
    turn.say(_decided(turn, refused, REFUSED))
    return "done"


def on_refuse_note(turn: Turn, text: str) -> str:
    return _refuse(turn, words(turn, text, turn.t("说明"), 1000))


def on_refuse_choice(turn: Turn, value: str) -> str:
    return "back" if value == "back" else _refuse(turn, None)


EXTENSIONS_FLOW = Flow(
    name="extensions",
    start="list",
    roles=frozenset(STAFF),
    steps={
        "list": Step(prompt=ask_extensions, choice=on_extensions, hint=N_("请点选一项申请。")),
        "open": Step(prompt=ask_extension, choice=on_extension, hint=N_("请点选处理意见。")),
        "refuse_note": Step(
            prompt=ask_refuse_note,
            text=on_refuse_note,
            choice=on_refuse_choice,
            hint=N_("请发送不同意延期的说明，或点「不写说明」。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "done"): "list",
        ("open", "refuse"): "refuse_note",
        ("open", "back"): "list",
        ("refuse_note", "done"): "list",
        ("refuse_note", "back"): "open",
    },
)


# ---------------------------------------------------------------- the notice's buttons


def _id_text(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 12


def act_extension(turn: Turn, args: list[str]) -> None:
    """``ext:<assignment id>:grant|refuse:<request id>`` — decide a unit's request for more
    time with one tap on its notice (the workflow refuses a request someone already decided,
    and the button of one request never decides a later one). Notices written before the
    buttons named their request have no ``<request id>``: they decide the open request."""
    if (
        len(args) not in (2, 3)
        or not (_id_text(args[0]) and len(args[0]) <= 9)
        or args[1] not in ("grant", "refuse")
        or (len(args) == 3 and not _id_text(args[2]))
    ):
        raise InvalidInput(turn.t("无法识别这个操作，没有做任何更改。"))
    asg_id = int(args[0])
    request_id = int(args[2]) if len(args) == 3 else None
    if args[1] == "grant":
        assignment = assignments.grant_extension(turn.ctx, asg_id, request_id)
        message = GRANTED
    else:
        assignment = assignments.refuse_extension(turn.ctx, asg_id, request_id=request_id)
        message = REFUSED
    turn.say(_decided(turn, assignment, message), expects="none")
    resume(turn)


def install(engine: Engine) -> None:
    install_flows(engine, [EXTENSIONS_FLOW])
    engine.add_action("ext", act_extension)
