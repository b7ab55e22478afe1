"""Deadlines in Chinese working days.

Statutory holidays are off and adjusted weekends (调休) are on, as ``chinesecalendar`` knows
them year by year. The committee may list days of its own in a calendar file (the State
Council's notice of a year the package does not have yet, or a local day off): a day the file
lists is as the file says. For a year neither covers, Monday to Friday are working days and a
warning is logged once for that year.
"""

from __future__ import annotations

import calendar as _cal
import logging
import re
from bisect import bisect_left
from collections.abc import Mapping
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
_KINDS = {"休": False, "假": False, "off": False, "班": True, "work": True}
RANGE_MAX_DAYS = 31  # no holiday is longer; a longer range is a mistyped date


def read_calendar_file(path: Path) -> dict[date, bool]:
    """{day: is a working day} from a calendar file, or ``InvalidInput`` naming the line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "节假日文件 {path} 无法读取：请以 UTF-8 编码保存。", path=str(path)
        ) from None
    return parse_calendar(text, str(path))


def parse_calendar(text: str, where: str = "") -> dict[date, bool]:
    days: dict[date, bool] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        kind = _KINDS.get(match["kind"].lower()) if match else None
        if match is None or kind is None:
            raise InvalidInput(
                "节假日文件 {where} 第{line}行看不懂：应为「日期 休」或「日期 班」，"
                "如 2027-02-14 班，连续几天写作 2027-02-06~2027-02-12 休。",
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
    return days


def _day(text: str) -> date:
    year, month, day = (int(part) for part in text.split("-"))
    return date(year, month, day)


class WorkCalendar:
    """Working-day arithmetic over the national calendar and the committee's own days."""

    def __init__(self, days: Mapping[date, bool] | None = None) -> None:
        self.days = dict(days or {})  # the calendar file's: {day: is a working day}
        self._listed_years = {day.year for day in self.days}
        self._warned: set[int] = set()
        # chinesecalendar scans its holiday table on every call; a sweep asks about the same
        # few hundred days many thousand times, so each answer is kept.
        self._known: dict[date, bool] = {}
        # Per year: running count of working days from 1 January to each day (included), so
        # counting and stepping working days costs a subtraction or a bisection, not a walk.
        self._running: dict[int, list[int]] = {}

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
            # a year the file lists: its other days are ordinary weekdays and weekends
            if day.year not in self._warned and day.year not in self._listed_years:
                self._warned.add(day.year)
                log.warning(
                    "chinesecalendar has no data for %s; counting Monday to Friday as "
                    "working days for that year",
                    day.year,
                )
            return day.weekday() < 5

    def covers(self, year: int) -> bool:
        """Whether the year's holidays are known (the package's data or the calendar file)."""
        return self.lists(year) or self.package_covers(year)

    def lists(self, year: int) -> bool:
        """Whether the calendar file lists days of the year."""
        return year in self._listed_years

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
