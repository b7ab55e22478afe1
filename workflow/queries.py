"""Lookups a person asks for by name or number, with clear refusals when nothing matches.

The queries themselves live in ``storage.repositories``.
"""

from __future__ import annotations

from sqlmodel import Session

from storage import repositories as repo
from storage.models import Person, Proposal, Unit
from storage.repositories import (
    ProposalFilter,
    latest_year,
    lead_units,
    list_proposals,
    names_of,
)
from workflow.errors import InvalidInput, NotFound
from workflow.roster import normalise_phone
from workflow.statuses import PROPOSAL_STATUS_LABELS
from workflow.texts import Text

__all__ = [
    "ProposalFilter",
    "find_person",
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


def find_person(session: Session, text: str) -> Person:
    """By phone (as the roster keeps it: a mobile's 11 digits, a landline 0839-8622340;
    typed in any of the usual ways), or by name when the name is unique."""
    text = text.strip()
    phone = normalise_phone(text)
    person = repo.person_by_phone(session, phone=phone) if phone else None
    if person is not None:
        return person
    people = repo.people_named(session, name=text)
    if len(people) == 1:
        return people[0]
    if len(people) > 1:
        raise InvalidInput(
            "名册里有 {n} 位「{text}」（手机尾号 {phones}），请用手机号指定。",
            n=len(people),
            text=text,
            phones=[p.phone[-4:] for p in people],
        )
    raise NotFound("名册里没有「{text}」。", text=text)


def get_by_number(session: Session, number: int, year: int) -> Proposal:
    proposal = repo.proposal_by_number(session, year=year, number=number)
    if proposal is None:
        raise NotFound("{year}年度没有第{number}号提案。", year=year, number=number)
    return proposal
