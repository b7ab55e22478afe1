"""Deadlines in Chinese working days.

Statutory holidays are off and adjusted weekends (调休) are on, as ``chinesecalendar`` knows
them year by year. For a year it does not cover yet, Monday to Friday are working days and a
warning is logged once for that year.
"""

from __future__ import annotations

import calendar as _cal
import logging
from bisect import bisect_left
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
        # Per year: running count of working days from 1 January to each day (included), so
        # counting and stepping working days costs a subtraction or a bisection, not a walk.
        self._running: dict[int, list[int]] = {}

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
