"""Proposal numbers: the year's next number, taken inside the filing transaction.

The counter row is locked by the UPDATE, so concurrent filings queue; a rolled-back filing
gives its number back with the rollback, so numbers never repeat and never skip.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from workflow.texts import Text, label


def take_number(session: Session, year: int) -> int:
    session.execute(
        text(
            "INSERT INTO year_counter (year, last_number) VALUES (:year, 0) "
            "ON CONFLICT (year) DO NOTHING"
        ),
        {"year": year},
    )
    return session.execute(
        text(
            "UPDATE year_counter SET last_number = last_number + 1 "
            "WHERE year = :year RETURNING last_number"
        ),
        {"year": year},
    ).scalar_one()


UNNUMBERED = label("未编号")


def long_number_text(year: int, number: int | None) -> Text | label:
    """2019年度第28号"""
    return Text("{year}年度第{number}号", year=year, number=number) if number else UNNUMBERED


def number_text(number: int | None) -> Text | label:
    """第〔28〕号"""
    return Text("第〔{number}〕号", number=number) if number else UNNUMBERED


def long_number(year: int, number: int | None) -> str:
    return str(long_number_text(year, number))


def short_number(number: int | None) -> str:
    return str(number_text(number))
