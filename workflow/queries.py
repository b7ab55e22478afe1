"""Lookups a person asks for by name or number, with clear refusals when nothing matches.

The queries themselves live in ``storage.repositories``.
"""

from __future__ import annotations

from sqlmodel import Session

from storage import repositories as repo
from storage.models import Person, Proposal, Unit, pk
from storage.repositories import (
    ProposalFilter,
    latest_year,
    lead_units,
    list_proposals,
    names_of,
)
from workflow.errors import InvalidInput, NotFound
from workflow.numbering import number_text, parse_number
from workflow.roster import normalise_phone
from workflow.statuses import PROPOSAL_STATUS_LABELS
from workflow.texts import Text

__all__ = [
    "ProposalFilter",
    "find_person",
    "find_by_number",
    "find_unit",
    "get_by_number",
    "latest_year",
    "lead_units",
    "list_proposals",
    "names_of",
    "parse_status",
]


def parse_status(text: str) -> str:
    """Accept a status code (filed) or its Chinese label (已立案)."""
    text = text.strip()
    if text in PROPOSAL_STATUS_LABELS:
        return text
    for code, label in PROPOSAL_STATUS_LABELS.items():
        if label == text:
            return code
    choices = [Text("{code}({name})", code=c, name=n) for c, n in PROPOSAL_STATUS_LABELS.items()]
    raise InvalidInput("没有「{text}」这个状态，可选：{choices}", text=text, choices=choices)


def find_unit(session: Session, text: str) -> Unit:
    text = text.strip()
    unit = repo.unit_by_name(session, name=text)
    if unit is None and text.isascii() and text.isdigit() and len(text) <= 9:
        unit = session.get(Unit, int(text))
    if unit is None:
        raise NotFound("找不到单位「{text}」。", text=text)
    return unit


def find_person(session: Session, who: str) -> Person:
    """A person by id (``12`` or ``#12``), phone (typed any usual way) or exact name; a
    name that several people share is refused, listing them."""
    text = who.strip()
    digits = text.removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= 9:
        person = session.get(Person, int(digits))
        if person is not None:
            return person
    phone = normalise_phone(text)
    person = repo.person_by_phone(session, phone=phone) if phone else None
    if person is not None:
        return person
    people = repo.people_named(session, name=text)
    if len(people) == 1:
        return people[0]
    if len(people) > 1:
        raise InvalidInput(
            "名册里有 {n} 位「{text}」：{people}。请用编号或手机号指定。",
            n=len(people),
            text=text,
            people=[_described(session, p) for p in sorted(people, key=_id)],
        )
    raise NotFound("名册里没有「{text}」。", text=text)


def _id(person: Person) -> int:
    return person.id or 0


def _described(session: Session, person: Person) -> Text:
    unit = session.get(Unit, person.unit_id) if person.unit_id else None
    where = Text("，{unit}", unit=unit.name) if unit else ""
    state = "" if person.active else Text("，已停用")
    return Text(
        "#{id}（{phone}{where}{state}）",
        id=pk(person),
        phone=person.phone,
        where=where,
        state=state,
    )


def get_by_number(session: Session, number: int, year: int) -> Proposal:
    proposal = repo.proposal_by_number(session, year=year, number=number)
    if proposal is None:
        raise NotFound("{year}年度没有第{number}号提案。", year=year, number=number)
    return proposal


def find_by_number(session: Session, typed: str, *, year: int | None = None) -> Proposal:
    """The proposal a typed number names: 28, 第〔28〕号, 2026-28, 2026年28号, 2026年度第28号.

    Numbers restart every year. A number typed without a year (and no ``year`` given) is
    this year's: the latest year a proposal was filed in, so last year's until this year's
    first is filed. If that year has no such number, the refusal names the years that do.
    """
    parsed = parse_number(typed)
    if parsed is None:
        raise InvalidInput("请发送提案编号，例如 28，或 2025-28。")
    typed_year, number = parsed
    year = typed_year or year
    if year is not None:
        return get_by_number(session, number, year)
    latest = repo.latest_numbered_year(session)
    if latest is None:
        raise NotFound("还没有立案的提案。")
    proposal = repo.proposal_by_number(session, year=latest, number=number)
    if proposal is not None:
        return proposal
    others = repo.years_with_number(session, number=number)
    if not others:
        raise NotFound("{year}年度没有第{number}号提案。", year=latest, number=number)
    raise NotFound(
        "{year}年度没有第{number}号提案；有此编号的是{found}，请连同年度发送，如 {example}。",
        year=latest,
        number=number,
        found=[number_text(y, number) for y in others],
        example=f"{others[0]}-{number}",
    )
