"""Deadlines in Chinese working days.

Statutory holidays are off and adjusted weekends (调休) are on, as ``chinesecalendar`` knows
them year by year. The committee may list days of its own in a calendar file (the State
Council's notice of a year the package does not have yet, or a local day off): a day the file
lists is as the file says. The file brings in a year the package lacks only when a line marks
that year complete (``2027 全年``): a file listing a local day off of 2027 says nothing of
2027's 春节 or 国庆. For a year neither covers, Monday to Friday (and the days the file lists)
are working days and a warning is logged once for that year.

A year marked complete must list at least ``STATUTORY_DAYS_OFF - 2`` more weekdays off than
weekend days worked, or the file is refused: the 13 statutory days off (since 2025) each take
a weekday off, directly or as 补休, while 调休 trades a weekday off for a weekend day worked;
a New Year holiday's 调休 may fall in the neighbouring year, hence the two days to spare.
"""

from __future__ import annotations

import calendar as _cal
import logging
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from workflow.errors import InvalidInput

log = logging.getLogger(__name__)

# A line of a calendar file: a day or a range of days, 休 or 班, and what it is for.
#   2027-02-06 ~ 2027-02-12  休  春节
#   2027-02-14               班  春节调休
_LINE = re.compile(
    r"^(?P<first>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:\s*(?:~|～|\.\.|至|到)\s*(?P<last>\d{4}-\d{1,2}-\d{1,2}))?"
    r"\s+(?P<kind>\S+)(?:\s+(?P<note>.*))?$"
)
# A year the file lists completely, its holidays and adjusted weekends all written above:
#   2027 全年
_COMPLETE = re.compile(r"^(?P<year>\d{4})\s*年?\s*全年(?:\s+.*)?$")
_KINDS = {"休": False, "假": False, "off": False, "班": True, "work": True}
RANGE_MAX_DAYS = 31  # no holiday is longer; a longer range is a mistyped date
STATUTORY_DAYS_OFF = 13  # 《全国年节及纪念日放假办法》 since 2025: days off for everyone
COMPLETE_NET_DAYS_OFF = STATUTORY_DAYS_OFF - 2  # see the module's docstring


@dataclass(frozen=True)
class CalendarFile:
    """What a calendar file says: its days, and the years it lists completely."""

    days: dict[date, bool] = field(default_factory=dict)  # {day: is a working day}
    complete: frozenset[int] = frozenset()  # years marked 全年


def read_calendar_file(path: Path) -> CalendarFile:
    """The days and complete years of a calendar file, or ``InvalidInput`` naming the line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "节假日文件 {path} 无法读取：请以 UTF-8 编码保存。", path=str(path)
        ) from None
    return parse_calendar(text, str(path))


def parse_calendar(text: str, where: str = "") -> CalendarFile:
    days: dict[date, bool] = {}
    complete: dict[int, int] = {}  # year marked 全年: the line marking it
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if marked := _COMPLETE.match(line):
            complete.setdefault(int(marked["year"]), number)
            continue
        match = _LINE.match(line)
        kind = _KINDS.get(match["kind"].lower()) if match else None
        if match is None or kind is None:
            raise InvalidInput(
                "节假日文件 {where} 第{line}行看不懂：应为「日期 休」或「日期 班」，"
                "如 2027-02-14 班，连续几天写作 2027-02-06~2027-02-12 休；"
                "一年的放假和调休写全后，另起一行写 2027 全年。",
                where=where,
                line=number,
            )
        try:
            first = _day(match["first"])
            last = _day(match["last"]) if match["last"] else first
        except ValueError:
            raise InvalidInput(
                "节假日文件 {where} 第{line}行的日期不存在。", where=where, line=number
            ) from None
        if not 0 <= (last - first).days < RANGE_MAX_DAYS:
            raise InvalidInput(
                "节假日文件 {where} 第{line}行的起止日期有误（须从早到晚，至多{most}天）。",
                where=where,
                line=number,
                most=RANGE_MAX_DAYS,
            )
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            if days.get(day, kind) != kind:
                raise InvalidInput(
                    "节假日文件 {where} 第{line}行：{day} 前面已写过，且休、班不一致。",
                    where=where,
                    line=number,
                    day=day.isoformat(),
                )
            days[day] = kind
    for year, number in sorted(complete.items()):
        off = sum(
            1 for day, work in days.items() if day.year == year and not work and day.weekday() < 5
        )
        worked = sum(
            1 for day, work in days.items() if day.year == year and work and day.weekday() >= 5
        )
        if off - worked < COMPLETE_NET_DAYS_OFF:
            raise InvalidInput(
                "节假日文件 {where} 第{line}行标明 {year} 年已列全，但该年只列了周一至周五放假 "
                "{off} 天、周末上班 {worked} 天，不足以包含全年 {statutory} 天法定节假日："
                "请照国务院办公厅当年的通知写全放假和调休日。",
                where=where,
                line=number,
                year=str(year),
                off=off,
                worked=worked,
                statutory=STATUTORY_DAYS_OFF,
            )
    return CalendarFile(days, frozenset(complete))


def _day(text: str) -> date:
    year, month, day = (int(part) for part in text.split("-"))
    return date(year, month, day)


class WorkCalendar:
    """Working-day arithmetic over the national calendar and the committee's own days."""

    def __init__(
        self, days: Mapping[date, bool] | None = None, complete: Iterable[int] = ()
    ) -> None:
        self.days = dict(days or {})  # the calendar file's: {day: is a working day}
        self.complete_years = frozenset(complete)  # the years the file lists completely
        self._listed_years = {day.year for day in self.days}
        self._warned: set[int] = set()
        # chinesecalendar scans its holiday table on every call; a sweep asks about the same
        # few hundred days many thousand times, so each answer is kept.
        self._known: dict[date, bool] = {}
        # Per year: running count of working days from 1 January to each day (included), so
        # counting and stepping working days costs a subtraction or a bisection, not a walk.
        self._running: dict[int, list[int]] = {}

    @classmethod
    def of(cls, file: CalendarFile) -> WorkCalendar:
        return cls(file.days, file.complete)

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> bool:
        listed = self.days.get(day)
        if listed is not None:
            return listed
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            # a year the file lists completely: its other days are ordinary ones
            if day.year not in self._warned and not self.complete(day.year):
                self._warned.add(day.year)
                if self.lists(day.year):
                    log.warning(
                        "chinesecalendar has no data for %s and the holidays file lists some "
                        "of its days without a line '%s 全年' marking the year complete: its "
                        "statutory holidays are unknown; counting Monday to Friday as working "
                        "days for that year, but for the days the file lists",
                        day.year,
                        day.year,
                    )
                else:
                    log.warning(
                        "chinesecalendar has no data for %s; counting Monday to Friday as "
                        "working days for that year",
                        day.year,
                    )
            return day.weekday() < 5

    def covers(self, year: int) -> bool:
        """Whether the year's holidays are known: the package's data, or the calendar file
        listing the year completely."""
        return self.complete(year) or self.package_covers(year)

    def lists(self, year: int) -> bool:
        """Whether the calendar file lists days of the year (some or all of them)."""
        return year in self._listed_years

    def complete(self, year: int) -> bool:
        """Whether the calendar file marks the year complete (``2027 全年``)."""
        return year in self.complete_years

    @staticmethod
    def package_covers(year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def workdays_in(self, year: int) -> int:
        return self._year(year)[-1]

    def exceptions(self, year: int) -> tuple[list[date], list[date]]:
        """(weekdays off, weekend days worked) of the year."""
        off, worked = [], []
        day = date(year, 1, 1)
        while day.year == year:
            workday = self.is_workday(day)
            if day.weekday() < 5 and not workday:
                off.append(day)
            elif day.weekday() >= 5 and workday:
                worked.append(day)
            if day == date.max:
                break
            day += timedelta(days=1)
        return off, worked

    def _year(self, year: int) -> list[int]:
        running = self._running.get(year)
        if running is None:
            running, count = [], 0
            first = date(year, 1, 1).toordinal()
            for ordinal in range(first, date(year, 12, 31).toordinal() + 1):  # to 9999 too
                count += self.is_workday(date.fromordinal(ordinal))
                running.append(count)
            self._running[year] = running
        return running

    def _upto(self, day: date) -> int:
        """Working days from 1 January of ``day``'s year to ``day``, both included."""
        return self._year(day.year)[day.timetuple().tm_yday - 1]

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted).

        ``count == 0`` gives ``start`` if it is a working day, else the next one.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return self.next_workday(start)
        year = start.year
        target = self._upto(start) + count  # the running count the answer reaches first
        while True:
            running = self._year(year)
            if target <= running[-1]:
                return date(year, 1, 1) + timedelta(days=bisect_left(running, target))
            target -= running[-1]
            year += 1

    def next_workday(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def previous_workday(self, day: date) -> date:
        """The last working day before ``day``."""
        day -= timedelta(days=1)
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in the half-open interval (start, end]; negative if end < start."""
        if end < start:
            return -self.workdays_between(end, start)
        count = self._upto(end) - self._upto(start)
        for year in range(start.year, end.year):
            count += self._year(year)[-1]
        return count

    def add_months(self, start: date, months: int) -> date:
        """Same day ``months`` later (clamped to the month's end), moved to a working day."""
        month_index = start.month - 1 + months
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, _cal.monthrange(year, month)[1])
        return self.next_workday(date(year, month, day))
