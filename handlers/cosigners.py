"""The co-signers (联名委员) of a new proposal, the ``cosigners`` step of the ``submit``
flow (``handlers/submit.py``): the member searches the roster by a part of a name, invites
from the members found, removes an invited one; and the 「邀请联名」 button on a request to
co-sign, with which a proposer adds the member who asked.
"""

from __future__ import annotations

from sqlalchemy import case
from sqlmodel import col, select

from handlers.engine import Turn
from handlers.paging import Pager
from handlers.submit_common import _again, _next, _open, _pid, _words
from handlers.turns import my_id
from storage.models import Person, Proposal, Signer, existing, pk
from workflow import proposals
from workflow.core import person_name
from workflow.errors import InvalidInput
from workflow.roles import Role

NAME_MAX = 20  # longest name a co-signer search takes
SEARCH_MAX = 10  # namesakes listed at most
# The 「移除」 buttons of those invited, a page at a time: a messenger shows at most 100
# buttons under a message (Telegram), and a list may be longer.
REMOVE_PAGER = Pager(key="cosigners_page", size=20)


def _cosigners(turn: Turn, pid: int) -> list[Person]:
    rows = turn.session.exec(
        select(Person)
        .join(Signer, col(Signer.person_id) == Person.id)
        .where(Signer.proposal_id == pid, Signer.role == "co")
        .order_by(col(Signer.position))
    ).all()
    return list(rows)


def members_named(turn: Turn, text: str) -> list[Person]:
    """Active members (other than oneself) whose name contains ``text``, exact names first."""
    stmt = (
        select(Person)
        .where(col(Person.active), col(Person.name).contains(text, autoescape=True))
        .where(Person.id != my_id(turn))
        .order_by(case((col(Person.name) == text, 0), else_=1), col(Person.id))
        .limit(SEARCH_MAX * 5)
    )
    return [p for p in turn.session.exec(stmt).all() if Role.MEMBER.value in p.role_set]


def _person_label(turn: Turn, person: Person) -> str:
    extra = [person.sector] if person.sector else []
    extra.append(turn.t("尾号{tail}", tail=person.phone[-4:]))
    return f"{person.name}（{' · '.join(extra)}）"


def ask_cosigners(turn: Turn) -> None:
    """Shows who co-signs so far and asks for a name to search."""
    proposal = _open(turn)
    if proposal is None:
        return
    people = _cosigners(turn, pk(proposal))
    page = REMOVE_PAGER.page(turn, people)
    choices = [turn.choice(turn.t("✅ 完成"), "done")]
    choices += [turn.choice(turn.t("移除 {name}", name=p.name), f"r:{p.id}") for p in page.rows]
    choices += page.buttons(turn)
    if proposal.category == "collective":  # nobody to invite; a list from before, to clear
        lines = [turn.t("集体提案以提案单位的名义提出，不邀请委员联名。"), *page.position(turn)]
        turn.say("\n".join(lines), choices, columns=2)
        return
    if people:
        lines = [
            turn.t(
                "联名委员：{names}（提交后会请他们在 {days} 个工作日内确认）。",
                names=turn.join(p.name for p in people),
                days=turn.ctx.rules.cosign_window_workdays,
            )
        ]
    else:
        lines = [turn.t("还没有邀请联名委员。")]
    lines.append(
        turn.t(
            "如需邀请其他委员联名，请发送对方的姓名（也可以只发其中一两个字），再在结果中点选。"
            "不需要联名或已邀请完，请点「完成」。"
        )
    )
    lines += page.position(turn)
    turn.say("\n".join(lines), choices, columns=2)


def on_cosigner_name(turn: Turn, text: str) -> None:
    """Lists the members whose name matches, as buttons to invite."""
    name = _words(turn, text)
    if len(name) > NAME_MAX:
        raise InvalidInput(turn.t("请只发送一位委员的姓名。"))
    pid = _pid(turn)
    proposal = _open(turn)
    if proposal is None:  # submitted or deleted meanwhile: told, and back at the menu
        return None
    if proposal.category == "collective":
        raise InvalidInput(turn.t("集体提案以提案单位的名义提出，不邀请委员联名。"))
    found = members_named(turn, name)
    if not found:
        raise InvalidInput(
            turn.t("名册里没有姓名含「{name}」的委员，请核对后重新发送。", name=name)
        )
    already = {p.id for p in _cosigners(turn, pid)}
    lines = [turn.t("找到 {n} 位委员：", n=len(found))]
    if len(found) > SEARCH_MAX:
        lines = [turn.t("找到的委员较多，只列出前 {n} 位，请发送更完整的姓名：", n=SEARCH_MAX)]
    choices = []
    for person in found[:SEARCH_MAX]:
        if person.id in already:
            lines.append(turn.t("{person}已在联名名单中。", person=_person_label(turn, person)))
        else:
            choices.append(turn.choice(_person_label(turn, person), f"u:{person.id}"))
    if choices:
        lines.append(turn.t("请点选要邀请的委员；也可以重新发送姓名搜索，或点「完成」。"))
    choices.append(turn.choice(turn.t("✅ 完成"), "done"))
    turn.say("\n".join(lines), choices)
    return None


def on_cosigner_choice(turn: Turn, value: str) -> str | None:
    if value == "done":
        return _next(turn)
    if REMOVE_PAGER.take(turn, value):
        _again(turn)
        return None
    pid = _pid(turn)
    kind, _, person_id = value.partition(":")
    if kind == "u":
        proposals.invite_cosigner(turn.ctx, pid, int(person_id))
        name = person_name(turn.session, int(person_id))
        turn.say(turn.t("已把{name}委员加入联名名单，提交后会请其确认。", name=name))
    else:
        proposals.remove_cosigner(turn.ctx, pid, int(person_id))
        name = person_name(turn.session, int(person_id))
        turn.say(turn.t("已把{name}委员移出联名名单。", name=name))
    _again(turn)
    return None


# ---------------------------------------------------------------- notice button


def on_cosign_add(turn: Turn, args: list[str]) -> None:
    """「邀请联名」on a request to co-sign: the proposer adds the member who asked."""
    if len(args) != 2 or not all(a.isascii() and a.isdigit() and len(a) <= 9 for a in args):
        raise InvalidInput(turn.t("无法识别这个操作，没有做任何更改。"))
    pid, person_id = (int(a) for a in args)
    proposals.add_cosigner(turn.ctx, pid, person_id)
    proposal = existing(turn.session, Proposal, pid)
    turn.say(
        turn.t(
            "已邀请{name}委员联名《{title}》，请其在{deadline}前确认。",
            name=person_name(turn.session, person_id),
            title=proposal.title,
            deadline=turn.time(proposal.cosign_deadline),
        )
    )
    if turn.conv.flow in turn.engine.flows:
        turn.engine.prompt(turn)  # the step's buttons again: the old ones are now stale
    else:
        turn.engine.menu(turn)
