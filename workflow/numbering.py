"""Proposal numbers: the year's next number, taken inside the filing transaction.

The counter row is locked by the UPDATE, so concurrent filings queue; a rolled-back filing
gives its number back with the rollback, so numbers never repeat and never skip.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session


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


def long_number(year: int, number: int | None) -> str:
    """2019年度第28号"""
    return f"{year}年度第{number}号" if number else "未编号"


def short_number(number: int | None) -> str:
    """第〔28〕号"""
    return f"第〔{number}〕号" if number else "未编号"
