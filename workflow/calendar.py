"""Deadlines in Chinese working days.

Statutory holidays are off and adjusted weekends (调休) are on, as ``chinesecalendar`` knows
them year by year. For a year it does not cover yet, Monday to Friday are working days and a
warning is logged once for that year.
"""

from __future__ import annotations

import calendar as _cal
import logging
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)


class WorkCalendar:
    """Working-day arithmetic over the national calendar."""

    def __init__(self) -> None:
        self._warned: set[int] = set()
        # chinesecalendar scans its holiday table on every call; a sweep asks about the same
        # few hundred days many thousand times, so each answer is kept.
        self._known: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> bool:
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "chinesecalendar has no data for %s; counting Monday to Friday as "
                    "working days for that year",
                    day.year,
                )
            return day.weekday() < 5

    def covers(self, year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted).

        ``count == 0`` gives ``start`` if it is a working day, else the next one.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        if count == 0:
            return self.next_workday(day)
        while count:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day

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
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def add_months(self, start: date, months: int) -> date:
        """Same day ``months`` later (clamped to the month's end), moved to a working day."""
        month_index = start.month - 1 + months
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, _cal.monthrange(year, month)[1])
        return self.next_workday(date(year, month, day))
