"""Deadlines count Chinese working days: statutory holidays off, adjusted weekends (调休) on.

The 2026 National Day holiday is 1–7 October; Sunday 20 September and Saturday 10 October
2026 are working days (and Friday 25 September is the Mid-Autumn holiday).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from sqlmodel import select

from storage.models import Assignment, Proposal
from tests.factories import Story
from workflow import assignments
from workflow.calendar import WorkCalendar, parse_calendar, read_calendar_file
from workflow.errors import InvalidInput, InvalidTransition

OUTSIDE_DATA = 2031  # a year chinesecalendar has no data for


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------- which days are working days


def test_the_national_day_holiday_2026_is_off_even_on_weekdays(cal):
    week = [d("2026-10-01") + timedelta(days=i) for i in range(7)]
    assert [cal.is_workday(day) for day in week] == [False] * 7
    assert cal.is_workday(d("2026-09-30")) and cal.is_workday(d("2026-10-08"))


def test_adjusted_weekends_around_national_day_2026_are_working_days(cal):
    assert cal.is_workday(d("2026-09-20"))  # Sunday, 调休
    assert cal.is_workday(d("2026-10-10"))  # Saturday, 调休
    assert not cal.is_workday(d("2026-10-11"))  # an ordinary Sunday
    assert not cal.is_workday(d("2026-09-25"))  # Friday, Mid-Autumn Festival


def test_the_calendar_covers_the_years_its_data_has(cal):
    assert cal.covers(2026)
    assert not cal.covers(OUTSIDE_DATA)


# ---------------------------------------------------------------- counting working days


def test_adding_working_days_skips_the_holiday_and_counts_the_adjusted_saturday(cal):
    # 29 Sep, 30 Sep, 8 Oct, 9 Oct, 10 Oct (Saturday, 调休)
    assert cal.add_workdays(d("2026-09-28"), 5) == d("2026-10-10")
    assert cal.add_workdays(d("2026-09-30"), 1) == d("2026-10-08")
    assert cal.add_workdays(d("2026-10-09"), 2) == d("2026-10-12")


def test_adding_zero_working_days_gives_the_day_itself_or_the_next_working_day(cal):
    assert cal.add_workdays(d("2026-09-28"), 0) == d("2026-09-28")
    assert cal.add_workdays(d("2026-10-01"), 0) == d("2026-10-08")
    assert cal.next_workday(d("2026-10-10")) == d("2026-10-10")


def test_a_negative_number_of_working_days_is_refused(cal):
    with pytest.raises(ValueError):
        cal.add_workdays(d("2026-09-28"), -1)


def test_working_days_between_count_the_end_not_the_start(cal):
    assert cal.workdays_between(d("2026-09-28"), d("2026-10-10")) == 5
    assert cal.workdays_between(d("2026-09-30"), d("2026-10-07")) == 0
    assert cal.workdays_between(d("2026-09-30"), d("2026-10-08")) == 1
    assert cal.workdays_between(d("2026-10-10"), d("2026-09-28")) == -5
    assert cal.workdays_between(d("2026-09-28"), d("2026-09-28")) == 0


def test_working_days_between_agrees_with_adding_working_days(cal):
    start = d("2026-09-14")
    for count in range(0, 25):
        end = cal.add_workdays(start, count)
        assert cal.workdays_between(start, end) == count


# ---------------------------------------------------------------- adding months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-09-28", 3, "2026-12-28"),  # a Monday: stays
        ("2026-07-01", 3, "2026-10-08"),  # 1 Oct is National Day: first working day after
        ("2026-03-31", 1, "2026-04-30"),  # clamped to the month's end
        ("2024-01-31", 1, "2024-02-29"),  # leap year
        ("2026-01-31", 1, "2026-02-28"),  # clamped onto a Saturday that is a 调休 working day
        ("2025-12-31", 2, "2026-02-28"),  # across the year end
        ("2026-03-31", 2, "2026-06-01"),  # clamped to Sunday 31 May, moved to Monday
        ("2026-07-01", 1, "2026-08-03"),  # Saturday 1 August moves to Monday
    ],
)
def test_adding_months_clamps_to_the_month_end_and_lands_on_a_working_day(
    cal, start, months, expected
):
    assert cal.add_months(d(start), months) == d(expected)


# ---------------------------------------------------------------- years without data


def test_a_year_without_holiday_data_counts_monday_to_friday_and_warns_once(cal, caplog):
    caplog.set_level(logging.WARNING, logger="workflow.calendar")
    monday = d(f"{OUTSIDE_DATA}-01-06")
    assert monday.weekday() == 0
    week = [cal.is_workday(monday + timedelta(days=i)) for i in range(7)]
    assert week == [True] * 5 + [False] * 2
    assert cal.add_workdays(d(f"{OUTSIDE_DATA}-01-10"), 1) == d(f"{OUTSIDE_DATA}-01-13")
    assert cal.workdays_between(monday, monday + timedelta(days=14)) == 10

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(OUTSIDE_DATA) in warnings[0].getMessage()


def test_each_year_without_data_gets_its_own_warning(cal, caplog):
    caplog.set_level(logging.WARNING, logger="workflow.calendar")
    for year in (OUTSIDE_DATA, OUTSIDE_DATA + 1, OUTSIDE_DATA):
        cal.is_workday(date(year, 3, 3))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert str(OUTSIDE_DATA) in messages[0] and str(OUTSIDE_DATA + 1) in messages[1]


def test_years_with_data_log_no_warning(cal, caplog):
    caplog.set_level(logging.WARNING, logger="workflow.calendar")
    cal.add_workdays(d("2026-01-01"), 200)
    assert caplog.records == []


# ---------------------------------------------------------------- deadlines the workflow sets


def assignments_of(db, proposal_id: int) -> dict[str, Assignment]:
    with db.read_session() as session:
        rows = session.exec(select(Assignment).where(Assignment.proposal_id == proposal_id))
        return {a.role: a for a in rows.all()}


def test_assigning_just_before_national_day_sets_deadlines_across_the_holiday(
    db, wf, world, clock
):
    """交办 on Monday 28 September 2026: the 5-working-day adjustment window ends on the
    adjusted working Saturday 10 October; the reply is due three months later, 28 December
    (a Monday); the co-handling unit's opinion one month later, 28 October."""
    clock.set_local(2026, 9, 28)
    pid, lead, co = Story(db, wf, world).assigned(co=True)
    made = assignments_of(db, pid)

    assert wf.rules.adjustment_window_workdays == 5
    assert made["lead"].adjust_deadline == d("2026-10-10")
    assert made["co"].adjust_deadline == d("2026-10-10")
    assert made["lead"].due_date == d("2026-12-28")
    assert made["co"].due_date == d("2026-10-28")
    with db.read_session() as session:
        assert session.get(Proposal, pid).due_date == d("2026-12-28")


def test_a_reply_due_date_falling_in_the_holiday_moves_to_the_next_working_day(
    db, wf, world, clock
):
    """交办 on 1 July 2026: three months later is 1 October, National Day, so the reply is
    due on 8 October; the co-handler's month ends on Saturday 1 August, so 3 August."""
    clock.set_local(2026, 7, 1)
    pid, _lead, _co = Story(db, wf, world).assigned(co=True)
    made = assignments_of(db, pid)
    assert made["lead"].due_date == d("2026-10-08")
    assert made["co"].due_date == d("2026-08-03")
    assert made["lead"].adjust_deadline == d("2026-07-08")


def test_a_unit_may_ask_for_adjustment_on_the_adjusted_saturday_but_not_the_day_after(
    db, wf, world, clock
):
    clock.set_local(2026, 9, 28)
    story = Story(db, wf, world)
    _pid, lead, co = story.assigned(co=True)

    clock.set_local(2026, 10, 10, hour=17)
    story.run(world.handler_edu, assignments.request_adjustment, lead, "该事项由交通部门负责。")

    clock.set_local(2026, 10, 11, hour=9)
    with pytest.raises(InvalidTransition, match="2026年10月10日"):
        story.run(world.handler_tr, assignments.request_adjustment, co, "不属于本单位职责。")


def test_the_last_year_a_date_can_have_is_counted_like_any_other(cal):
    # A due date stored in 9999 (before due dates had a limit) must not stop the sweeps.
    assert cal.workdays_between(date(9999, 12, 1), date(9999, 12, 31)) == 22


# ---------------------------------------------------------------- the committee's calendar file

NOTICE_2031 = """\
# 2031 年节假日安排（示例，照国务院办公厅的通知逐行写明）
2031-01-01 休 元旦
2031-01-22 ~ 2031-01-29  休  春节
2031-01-19 班 春节调休   # a Sunday
2031-02-08 班
2031-04-05..2031-04-07 休 清明节
2031-05-01 至 2031-05-05 休 劳动节
2031-04-27 班 劳动节调休
2031-06-24 休 端午节
2031-10-01~2031-10-08 休 国庆节、中秋节
2031-09-28 班
2031-10-11 班
2031 全年                  # every day off and worked of 2031 is above
"""


def test_a_calendar_file_brings_in_a_year_it_marks_complete(caplog):
    caplog.set_level(logging.WARNING, logger="workflow.calendar")
    cal = WorkCalendar.of(parse_calendar(NOTICE_2031))
    assert cal.covers(OUTSIDE_DATA) and cal.lists(OUTSIDE_DATA)
    assert not cal.package_covers(OUTSIDE_DATA)
    assert not cal.is_workday(d("2031-01-01"))  # Wednesday, New Year's Day
    assert cal.is_workday(d("2031-01-19"))  # Sunday, 调休
    assert cal.is_workday(d("2031-01-02"))  # not listed: an ordinary Thursday
    assert not cal.is_workday(d("2031-01-04"))  # not listed: an ordinary Saturday
    # Tuesday 30 Sep 2031 + 1 working day: past the National Day week
    assert cal.add_workdays(d("2031-09-30"), 1) == d("2031-10-09")
    assert cal.workdays_between(d("2031-09-30"), d("2031-10-09")) == 1
    assert not caplog.records  # a year the file brings in is not a year without data


def test_a_calendar_file_listing_some_days_of_a_year_does_not_make_its_holidays_known(caplog):
    """A local day off written before the State Council's notice is out: the file lists
    2031, but 春节, 国庆 and the others are still unknown, and the bot keeps saying so."""
    caplog.set_level(logging.WARNING, logger="workflow.calendar")
    cal = WorkCalendar.of(parse_calendar("2031-03-14 休 本地假日\n"))
    assert cal.lists(OUTSIDE_DATA) and not cal.complete(OUTSIDE_DATA)
    assert not cal.covers(OUTSIDE_DATA)
    assert not cal.is_workday(d("2031-03-14"))  # the day the file lists counts as it says
    assert cal.is_workday(d("2031-01-23"))  # 春节 2031: unknown, a Thursday counted
    cal.is_workday(d("2031-10-01"))
    [warning] = caplog.records  # once for the year
    assert "2031" in warning.getMessage() and "2031 全年" in warning.getMessage()


@pytest.mark.parametrize(
    "marker", ["2031 全年", "2031年 全年", "2031年全年", "2031 全年 已照通知列全"]
)
def test_a_year_is_marked_complete_by_a_line_of_its_own(marker):
    text = NOTICE_2031.replace("2031 全年", marker)
    assert parse_calendar(text).complete == {OUTSIDE_DATA}


@pytest.mark.parametrize(
    ("text", "line", "off", "worked"),
    [
        ("2031 全年\n", 1, 0, 0),
        ("2031-03-14 休 本地假日\n2031 全年\n", 2, 1, 0),
        ("2031-01-22 ~ 2031-01-29 休 春节\n2031-01-19 班\n2031-02-08 班\n2031 全年", 4, 6, 2),
    ],
)
def test_a_year_marked_complete_without_its_statutory_holidays_is_refused(text, line, off, worked):
    with pytest.raises(InvalidInput) as refused:
        parse_calendar(text, "holidays.txt")
    assert refused.value.message == (
        f"节假日文件 holidays.txt 第{line}行标明 2031 年已列全，但该年只列了周一至周五放假 "
        f"{off} 天、周末上班 {worked} 天，不足以包含全年 13 天法定节假日："
        "请照国务院办公厅当年的通知写全放假和调休日。"
    )


def test_a_listed_day_overrides_the_package(cal):
    assert cal.is_workday(d("2026-09-30"))
    local = WorkCalendar({d("2026-09-30"): False, d("2026-10-04"): True})
    assert not local.is_workday(d("2026-09-30"))  # a local day off
    assert local.is_workday(d("2026-10-04"))  # a Sunday of the holiday worked
    assert local.is_workday(d("2026-09-29")) and not local.is_workday(d("2026-10-05"))
    assert local.add_workdays(d("2026-09-29"), 1) == d("2026-10-04")


def test_calendar_file_lines_days_ranges_kinds_and_comments():
    days = parse_calendar(
        "\ufeff\n  # comment only\n2031-1-1 休\n2031-02-08 班 调休\n"
        "2031-03-02～2031-03-03 off\n2031-03-07 至 2031-03-07 work\n2031-04-04到2031-04-05 假\n"
    )
    assert days.days == {
        d("2031-01-01"): False,
        d("2031-02-08"): True,
        d("2031-03-02"): False,
        d("2031-03-03"): False,
        d("2031-03-07"): True,
        d("2031-04-04"): False,
        d("2031-04-05"): False,
    }
    assert parse_calendar("").days == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2031-01-01", "第2行看不懂"),
        ("2031-01-01 放假", "第2行看不懂"),
        ("2031 全", "第2行看不懂"),
        ("2031 全年休", "第2行看不懂"),
        ("元旦 2031-01-01 休", "第2行看不懂"),
        ("2031/01/01 休", "第2行看不懂"),
        ("2031-02-30 休", "第2行的日期不存在"),
        ("2031-13-01 休", "第2行的日期不存在"),
        ("2031-02-10~2031-02-01 休", "第2行的起止日期有误"),
        ("2031-01-01~2031-12-31 休", "第2行的起止日期有误"),
        ("2031-01-02 班", "第2行：2031-01-02 前面已写过"),
        ("2031-01-01~2031-01-03 班", "第2行：2031-01-01 前面已写过"),
        ("9999-12-31~10000-01-02 休", "第2行看不懂"),
    ],
)
def test_a_calendar_file_with_a_mistake_is_refused_naming_its_line(text, says):
    with pytest.raises(InvalidInput) as refused:
        parse_calendar("2031-01-01~2031-01-02 休\n" + text, "holidays.txt")
    assert says in refused.value.message and "holidays.txt" in refused.value.message


def test_a_repeated_line_that_agrees_is_fine():
    assert parse_calendar("2031-01-01 休\n2031-01-01 休 元旦").days == {d("2031-01-01"): False}


def test_a_calendar_file_is_read_as_utf8(tmp_path):
    good = tmp_path / "holidays.txt"
    good.write_text(NOTICE_2031, encoding="utf-8")
    assert read_calendar_file(good).days[d("2031-01-19")] is True
    bad = tmp_path / "gbk.txt"
    bad.write_bytes(NOTICE_2031.encode("gbk"))
    with pytest.raises(InvalidInput) as refused:
        read_calendar_file(bad)
    assert "请以 UTF-8 编码保存" in refused.value.message


def test_the_year_9999_lists_its_exceptions():
    cal = WorkCalendar({d("9999-12-31"): False})
    off, worked = cal.exceptions(9999)
    assert off == [d("9999-12-31")] and worked == []  # a Friday
    assert cal.workdays_in(9999) == 260
