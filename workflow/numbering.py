"""Proposal numbers: the year's next number, taken inside the filing transaction.

The counter row is locked by the UPDATE, so concurrent filings queue; a rolled-back filing
gives its number back with the rollback, so numbers never repeat and never skip.

Numbers restart every year, so a number identifies a proposal only with its year: it is
said as 2026年度第5号 wherever it names a proposal, and read back in any of the usual forms
(``parse_number``).
"""

from __future__ import annotations

import re
import unicodedata

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


def number_text(year: int, number: int | None) -> Text | label:
    """2019年度第28号: a proposal's number as it names the proposal (未编号 without one)."""
    return Text("{year}年度第{number}号", year=year, number=number) if number else UNNUMBERED


def bracket_number_text(number: int | None) -> Text | label:
    """第〔28〕号, the number as a document carries it: said only beside its year (at 立案),
    as alone it names a proposal of every year."""
    return Text("第〔{number}〕号", number=number) if number else UNNUMBERED


def proposal_number(year: int, number: int | None) -> str:
    """2019年度第28号, in Chinese (the CLI, stored texts)."""
    return str(number_text(year, number))


# 28, 第28号, 第〔28〕号; with a year: 2026-28, 2026/28, 2026年28号, 2026年第〔28〕号,
# 2026年度第28号. Digits are read after NFKC, so full-width ones (２０２６－２８) count too.
_NUMBER = re.compile(
    r"(?:(?P<year>\d{4})\s*(?:年度?|[-/.])\s*)?"
    r"第?\s*[〔\[(（]?\s*(?P<number>\d{1,9})\s*[〕\])）]?\s*号?",
    re.ASCII,
)


def parse_number(typed: str) -> tuple[int | None, int] | None:
    """(year or None, number) of a typed proposal number, or None if it is not one."""
    match = _NUMBER.fullmatch(unicodedata.normalize("NFKC", typed).strip())
    if match is None or int(match["number"]) == 0:
        return None
    return (int(match["year"]) if match["year"] else None, int(match["number"]))
