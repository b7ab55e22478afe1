"""The scheduled sweeps: who is told what, and when, across working days and the 2026
National Day holiday.

chinesecalendar (see tests/test_calendar.py): 1–7 October 2026 are off, Friday 25 September
is the Mid-Autumn holiday, and Sunday 20 September and Saturday 10 October are adjusted
working days (调休). The sweeps are called directly at chosen moments of a fake clock, each
of them twice, so that every test also checks a sweep run again writes nothing new.
"""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.outbox import render_notice
from storage.clock import as_utc
from storage.files import AttachmentStore
from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    Conversation,
    Notice,
    Person,
    Proposal,
    Rating,
    Signer,
)
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_REPLY, SAMPLE_SUGGESTIONS, Story, World
from workflow import (
    assignments,
    attachments,
    countersigns,
    invites,
    proposals,
    reach,
    replies,
    sweeps,
)
from workflow.calendar import WorkCalendar
from workflow.core import notify
from workflow.errors import InvalidTransition, PermissionDenied
from workflow.record import render_record
from workflow.texts import Text

BEIJING = ZoneInfo("Asia/Shanghai")


def d(text: str) -> date:
    return date.fromisoformat(text)


def days(start: str, end: str) -> list[date]:
    first, last = d(start), d(end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class Sweeper:
    """Runs sweeps at chosen local moments and reports the notices they wrote."""

    def __init__(self, db, wf, clock, world: World) -> None:
        self.db, self.wf, self.clock, self.w = db, wf, clock, world
        self.names = {getattr(world, f.name): f.name for f in fields(World)}

    def at(self, day: date, hour: int = 9, minute: int = 30) -> None:
        """Set the clock to this local (Beijing) time."""
        self.clock.now = datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)

    def run(self, name: str) -> int:
        with self.db.session() as session:
            return sweeps.SWEEPS[name](self.wf.ctx(session, None))

    def last_notice(self) -> int:
        with self.db.read_session() as session:
            return session.exec(select(Notice.id).order_by(col(Notice.id).desc())).first() or 0

    def notices(self, kind: str | None = None, after: int = 0) -> list[Notice]:
        with self.db.read_session() as session:
            stmt = select(Notice).where(Notice.id > after).order_by(col(Notice.id))
            if kind:
                stmt = stmt.where(Notice.kind == kind)
            return list(session.exec(stmt).all())

    def who(self, notices: list[Notice]) -> list[str]:
        return sorted(self.names[n.person_id] for n in notices)

    def run_twice(self, name: str, day: date, hour: int = 9, minute: int = 30) -> list[Notice]:
        """Run a sweep at ``day`` ``hour``:``minute`` and again two hours later; the second
        run must write nothing. Returns the notices of the first."""
        before = self.last_notice()
        self.at(day, hour, minute)
        written = self.run(name)
        new = self.notices(after=before)
        assert written == len(new), (name, day)
        self.clock.advance(hours=2)
        assert self.run(name) == 0, f"{name} wrote again on {day}"
        return new

    def calendar_of(self, name: str, start: str, end: str, kind: str) -> dict[date, list[str]]:
        """Run a sweep every day from ``start`` to ``end`` (twice a day); {day: who was told
        a notice of ``kind``} for the days something of that kind was written."""
        told = {}
        for day in days(start, end):
            new = [n for n in self.run_twice(name, day) if n.kind == kind]
            if new:
                told[day] = self.who(new)
        return told


@pytest.fixture
def sw(db, wf, clock, world) -> Sweeper:
    return Sweeper(db, wf, clock, world)


@pytest.fixture
def story(db, wf, world) -> Story:
    return Story(db, wf, world)


def assign(story: Story, pid: int, due: date | None = None, *, key=False, co=False):
    """交办 to 区教育局 (and 区交通运输局 as co-handling unit) with an explicit due date."""
    w = story.w
    made = story.run(
        w.staff,
        assignments.assign,
        pid,
        lead_unit_id=w.education,
        co_unit_ids=[w.transport] if co else [],
        due_date=due,
        is_key=key,
        supervising_unit_id=w.inspection if key else None,
        lead_leader_id=w.leader if key else None,
    )
    return [a.id for a in made]


def local(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(BEIJING)


def test_the_sweeps_and_the_digest_are_registered_in_run_order():
    assert list(sweeps.SWEEPS) == [
        "cosign_cutoff",
        "adjustment_window",
        "countersign_window",
        "countersign_reminders",
        "rating_window",
        "publication",
        "due_reminders",
        "overdue",
        "first_contact",
        "opinion_overdue",
        "rating_reminders",
        "review_backlog",
        "digest",
    ]
    assert sweeps.DIGEST == "digest"


# ---------------------------------------------------------------- due-date reminders


def test_due_reminders_at_15_5_and_1_working_days_skip_the_national_day_holiday(
    sw, story, clock, world
):
    """Assigned Monday 14 September: the co-handling opinion is due 14 October, the reply
    14 December. The co-handling unit hears 15 working days before (Thursday 17 September),
    5 (Thursday 8 October, the first working day after the holiday) and 1 (13 October)."""
    _pid, lead, co = story.accepted()
    with sw.db.read_session() as session:
        assert session.get(Assignment, co).due_date == d("2026-10-14")
        assert session.get(Assignment, lead).due_date == d("2026-12-14")

    told = sw.calendar_of("due_reminders", "2026-09-14", "2026-10-16", "due_soon")

    assert told == {
        d("2026-09-17"): ["handler_tr"],
        d("2026-10-08"): ["handler_tr"],
        d("2026-10-13"): ["handler_tr"],
    }
    texts = [n.text for n in sw.notices("due_soon")]
    assert texts[1] == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的协办意见期限为"
        "2026年10月14日，还有 5 个工作日到期，请及时向主办单位提出协办意见。"
    )

    lead_told = sw.calendar_of("due_reminders", "2026-11-20", "2026-12-15", "due_soon")
    assert lead_told == {
        d("2026-11-23"): ["handler_edu", "handler_edu2"],
        d("2026-12-07"): ["handler_edu", "handler_edu2"],
        d("2026-12-11"): ["handler_edu", "handler_edu2"],
    }
    [last] = sw.notices("due_soon")[-1:]
    assert "答复期限为2026年12月14日，还有 1 个工作日到期" in last.text


def test_a_missed_reminder_is_caught_up_on_the_next_working_day_and_not_repeated(sw, story, world):
    """Nothing ran on Thursday 17 September: Friday's run sends the 15-day reminder, saying
    how many working days are really left; Monday's 5 days later sends nothing more."""
    _pid, _lead, _co = story.accepted()
    [late] = sw.run_twice("due_reminders", d("2026-09-18"))
    assert sw.who([late]) == ["handler_tr"]
    assert "还有 14 个工作日到期" in late.text
    assert sw.run_twice("due_reminders", d("2026-09-21")) == []


def test_a_last_reminder_missed_is_said_on_the_due_date_itself(sw, story, world):
    """Nothing ran on Tuesday 13 October, the working day before the co-handling opinion is
    due: Wednesday 14 October's run tells the unit, once, that it is due today, not that a
    working day is left; the next day the opinion is overdue, which another sweep says."""
    _pid, _lead, _co = story.accepted()
    assert sw.who(sw.run_twice("due_reminders", d("2026-10-08"))) == ["handler_tr"]  # 5 days

    [today] = sw.run_twice("due_reminders", d("2026-10-14"))

    assert sw.who([today]) == ["handler_tr"]
    assert today.text == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的协办意见今天"
        "（2026年10月14日）到期，请及时向主办单位提出协办意见。"
    )
    assert sw.run_twice("due_reminders", d("2026-10-15")) == []


def test_offsets_already_passed_when_assigned_are_not_sent_and_answers_stop_reminders(
    sw, story, world
):
    """Assigned on 14 September with the reply due 30 September (12 working days): no
    15-day reminder; the 5-day one on 22 September; once the reply is in, nothing more."""
    pid = story.filed()
    [lead] = assign(story, pid, d("2026-09-30"))
    told = sw.calendar_of("due_reminders", "2026-09-14", "2026-09-28", "due_soon")
    assert told == {d("2026-09-22"): ["handler_edu", "handler_edu2"]}

    story.run(world.handler_edu, assignments.accept, lead)
    story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    assert sw.run_twice("due_reminders", d("2026-09-29")) == []


def test_a_co_handling_unit_that_gave_its_opinion_is_not_reminded(sw, story, world):
    _pid, _lead, co = story.accepted()
    story.run(world.handler_tr, assignments.give_opinion, co, "建议优化周边信号灯配时。")
    assert sw.run_twice("due_reminders", d("2026-09-17")) == []


def test_an_extended_due_date_gets_its_own_reminders(sw, story, world):
    """On 13 October, the day before its opinion is due, the co-handling unit is granted
    延期 to 28 October, 11 working days away: reminders 5 days (21 October) and 1 day
    (27 October) before the new date, none for the 15-day offset already passed."""
    _pid, _lead, co = story.accepted()
    assert sw.who(sw.run_twice("due_reminders", d("2026-10-13"))) == ["handler_tr"]
    sw.at(d("2026-10-13"), 14)
    story.run(world.staff, assignments.extend, co, due_date=d("2026-10-28"))
    told = sw.calendar_of("due_reminders", "2026-10-14", "2026-10-28", "due_soon")
    assert told == {d("2026-10-21"): ["handler_tr"], d("2026-10-27"): ["handler_tr"]}


def test_more_time_granted_to_a_unit_over_a_month_late_runs_a_month_from_the_grant(
    sw, story, world
):
    """The reply was due 30 September; on Thursday 12 November, six weeks late, the unit
    asks for more time and staff grant it. A month from the old due date has passed too,
    so the month runs from today: due Monday 14 December (12 December is a Saturday). The
    daily overdue notices stop, and the unit is reminded before the new date."""
    pid = story.filed()
    [lead] = assign(story, pid, d("2026-09-30"))
    story.run(world.handler_edu, assignments.accept, lead)
    assert sw.who(
        [n for n in sw.run_twice("overdue", d("2026-11-12"), 0, 5) if n.kind == "overdue"]
    ) == ["handler_edu", "handler_edu2"]

    sw.at(d("2026-11-12"), 10)
    story.run(world.handler_edu, assignments.request_extension, lead, "需协调多个部门")
    granted = story.run(world.staff, assignments.grant_extension, lead)

    assert granted.due_date == d("2026-12-14")
    [extended] = {n.text for n in sw.notices("extended")}
    assert extended == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的办理期限已由2026年9月30日"
        "延至2026年12月14日。"
    )
    assert sw.calendar_of("overdue", "2026-11-13", "2026-12-14", "overdue") == {}
    told = sw.calendar_of("due_reminders", "2026-11-13", "2026-12-15", "due_soon")
    unit = ["handler_edu", "handler_edu2"]
    assert told == {d("2026-11-23"): unit, d("2026-12-07"): unit, d("2026-12-11"): unit}


# ---------------------------------------------------------------- overdue and escalation


def test_overdue_daily_to_the_unit_weekly_to_supervisors_staff_and_the_lead_leader(
    sw, story, world
):
    """A key proposal due Wednesday 30 September: nothing during the holiday; the unit every
    working day from 8 October (Saturday 10 October too, not Sunday 11); staff, the
    supervising unit and the lead leader on the first working day of each week."""
    pid = story.filed()
    [lead] = assign(story, pid, d("2026-09-30"), key=True)
    story.run(world.handler_edu, assignments.accept, lead)

    daily = {}
    weekly = {}
    for day in days("2026-09-30", "2026-10-20"):
        new = sw.run_twice("overdue", day)
        if to_unit := [n for n in new if n.kind == "overdue"]:
            daily[day] = sw.who(to_unit)
        if up := [n for n in new if n.kind == "overdue_escalated"]:
            weekly[day] = sw.who(up)

    unit = ["handler_edu", "handler_edu2"]
    assert daily == {
        day: unit
        for day in map(
            d,
            [
                "2026-10-08",
                "2026-10-09",
                "2026-10-10",
                "2026-10-12",
                "2026-10-13",
                "2026-10-14",
                "2026-10-15",
                "2026-10-16",
                "2026-10-19",
                "2026-10-20",
            ],
        )
    }
    watchers = ["leader", "staff", "staff2", "supervisor"]
    assert weekly == {
        d("2026-10-08"): watchers,
        d("2026-10-12"): watchers,
        d("2026-10-19"): watchers,
    }

    texts = {n.kind: n.text for n in sw.notices() if n.kind.startswith("overdue")}
    assert texts["overdue"] == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的答复已于2026年9月30日到期，"
        "现已逾期 10 个工作日，请尽快办理并提交答复。"
    )
    assert texts["overdue_escalated"] == (
        "区教育局主办的2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》答复已逾期 "
        "9 个工作日（期限2026年9月30日），请予督办。"
    )


def test_overdue_non_key_proposal_escalates_to_staff_only_and_stops_with_the_reply(
    sw, story, world
):
    pid = story.filed()
    [lead] = assign(story, pid, d("2026-09-30"))
    story.run(world.handler_edu, assignments.accept, lead)
    new = sw.run_twice("overdue", d("2026-10-08"))
    assert sw.who([n for n in new if n.kind == "overdue_escalated"]) == ["staff", "staff2"]

    story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    assert sw.run_twice("overdue", d("2026-10-09")) == []
    assert sw.run_twice("overdue", d("2026-10-12")) == []


def test_watchers_get_one_escalation_a_day_at_most_listing_what_fell_overdue(sw, story, world):
    """Four proposals fall overdue one after another. The lead unit hears of each every
    working day; staff hear of them in one notice a week listing all of them, and between
    Mondays in one notice listing those that fell overdue since they were last told: the
    day the bot was down (Wednesday 14 October) is caught up on Thursday. The supervising
    unit and the lead leader hear of the key proposal only."""
    titles = {
        "key": "关于改善城区小学放学时段交通秩序的建议",
        "fri": "关于增设社区老年食堂的建议",
        "tue": "关于规范共享单车停放的建议",
        "wed": "关于加强校园周边食品安全监管的建议",
    }
    due = {"key": "2026-09-30", "fri": "2026-10-09", "tue": "2026-10-13", "wed": "2026-10-14"}
    for name, title in titles.items():
        pid = story.filed(title=title)
        assign(story, pid, d(due[name]), key=name == "key")

    escalations: dict[date, dict[str, str]] = {}
    for day in days("2026-10-08", "2026-10-19"):
        if day == d("2026-10-14"):
            continue  # the bot is down all day
        new = sw.run_twice("overdue", day)
        if up := [n for n in new if n.kind == "overdue_escalated"]:
            escalations[day] = {sw.names[n.person_id]: n.text for n in up}
        daily = [n for n in new if n.kind == "overdue"]
        assert len({n.proposal_id for n in daily}) == len(daily) // 2  # both handlers

    number = {
        "key": "2026年度第1号",
        "fri": "2026年度第2号",
        "tue": "2026年度第3号",
        "wed": "2026年度第4号",
    }

    def one(name: str, n: int, due: str) -> str:
        return (
            f"区教育局主办的{number[name]}提案《{titles[name]}》答复已逾期 {n} 个工作日"
            f"（期限{due}），请予督办。"
        )

    assert sorted(escalations) == [d("2026-10-08"), d("2026-10-10"), d("2026-10-12"),
                                   d("2026-10-15"), d("2026-10-19")]  # fmt: skip
    # Thursday 8 October, the week's first working day: the key proposal, to everyone.
    assert escalations[d("2026-10-08")] == {
        who: one("key", 1, "2026年9月30日") for who in ("leader", "staff", "staff2", "supervisor")
    }
    # Saturday 10 October (a working day): the one that fell overdue, to staff only.
    assert escalations[d("2026-10-10")] == {
        who: one("fri", 1, "2026年10月9日") for who in ("staff", "staff2")
    }
    # Monday 12 October: a new week, everything each watcher watches.
    monday = escalations[d("2026-10-12")]
    assert monday["leader"] == monday["supervisor"] == one("key", 4, "2026年9月30日")
    assert (
        monday["staff"]
        == monday["staff2"]
        == (
            "本周答复逾期的提案共 2 件，请予督办：\n"
            f"· 区教育局主办的2026年度第1号提案《{titles['key']}》，期限2026年9月30日，已逾期 4 个工作日\n"
            f"· 区教育局主办的2026年度第2号提案《{titles['fri']}》，期限2026年10月9日，已逾期 2 个工作日"
        )
    )
    # Thursday 15 October: the two that fell overdue on Wednesday and Thursday, together.
    assert escalations[d("2026-10-15")] == {
        who: "又有 2 件提案的答复逾期，请予督办：\n"
        f"· 区教育局主办的2026年度第3号提案《{titles['tue']}》，期限2026年10月13日，已逾期 2 个工作日\n"
        f"· 区教育局主办的2026年度第4号提案《{titles['wed']}》，期限2026年10月14日，已逾期 1 个工作日"
        for who in ("staff", "staff2")
    }
    # Monday 19 October: all four, the longest overdue first.
    monday = escalations[d("2026-10-19")]
    assert monday["staff"].splitlines()[0] == "本周答复逾期的提案共 4 件，请予督办："
    assert [line[line.index("2026") : line.index("号") + 1] for line in monday["staff"].splitlines()[1:]] == [
        "2026年度第1号", "2026年度第2号", "2026年度第3号", "2026年度第4号"
    ]  # fmt: skip
    assert monday["leader"] == one("key", 9, "2026年9月30日")
    # A notice of one proposal points to it; a list points to none.
    with sw.db.read_session() as session:
        listed = session.exec(
            select(Notice.proposal_id, Notice.text).where(Notice.kind == "overdue_escalated")
        ).all()
    assert all((pid is None) == text.startswith(("本周", "又有")) for pid, text in listed)


def test_a_watcher_hears_midweek_of_what_they_were_not_told_this_week(sw, story, world):
    """Told on Monday of the key proposal only, the inspection unit's supervisor is made
    staff too (a roster import): on Tuesday they hear of the other reply, overdue since
    last week, which staff heard of on Monday, and of nothing twice. A reply
    whose due date was extended and that falls overdue again is news again that week."""
    key = story.filed(title="关于改善城区小学放学时段交通秩序的建议")
    [key_lead] = assign(story, key, d("2026-09-30"), key=True)
    other = story.filed(title="关于增设社区老年食堂的建议")
    assign(story, other, d("2026-10-09"))

    def escalations(day: date) -> dict[str, str]:
        new = sw.run_twice("overdue", day)
        return {sw.names[n.person_id]: n.text for n in new if n.kind == "overdue_escalated"}

    key_text = (
        "区教育局主办的2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》答复已逾期 "
        "{n} 个工作日（期限{due}），请予督办。"
    )
    monday = escalations(d("2026-10-12"))
    assert monday["supervisor"] == monday["leader"] == key_text.format(n=4, due="2026年9月30日")
    assert monday["staff"].startswith("本周答复逾期的提案共 2 件")

    with sw.db.session() as session:
        supervisor = session.get(Person, world.supervisor)
        supervisor.roles = "supervisor,staff"
    assert escalations(d("2026-10-13")) == {
        "supervisor": "区教育局主办的2026年度第2号提案《关于增设社区老年食堂的建议》答复已逾期 "
        "3 个工作日（期限2026年10月9日），请予督办。"
    }
    # Extended to Wednesday, overdue again on Thursday: everyone watching it hears again.
    story.run(world.staff, assignments.extend, key_lead, due_date=d("2026-10-14"))
    assert escalations(d("2026-10-14")) == {}
    assert escalations(d("2026-10-15")) == {
        who: key_text.format(n=1, due="2026年10月14日")
        for who in ("leader", "staff", "staff2", "supervisor")
    }
    assert escalations(d("2026-10-16")) == {}


def test_escalations_written_before_they_named_their_replies_still_count(sw, story, world):
    """An escalation in the outbox from before escalations kept the replies they name
    (its message has no ``named``): it counts as telling of every reply overdue on its
    day, as escalations then did, so the watcher is not told of them again that week."""
    pid = story.filed()
    assign(story, pid, d("2026-10-09"))
    later = story.filed(title="关于增设社区老年食堂的建议")
    assign(story, later, d("2026-10-13"))
    assert set(sw.who([n for n in sw.run_twice("overdue", d("2026-10-12"))
                       if n.kind == "overdue_escalated"])) == {"staff", "staff2"}  # fmt: skip
    with sw.db.session() as session:
        for notice in session.exec(select(Notice).where(Notice.kind == "overdue_escalated")):
            message = dict(notice.message)
            message["params"] = {k: v for k, v in message["params"].items() if k != "named"}
            notice.message = message
            session.add(notice)
    assert [n for n in sw.run_twice("overdue", d("2026-10-13"))
            if n.kind == "overdue_escalated"] == []  # fmt: skip
    wednesday = [n for n in sw.run_twice("overdue", d("2026-10-14"))
                 if n.kind == "overdue_escalated"]  # fmt: skip
    assert sw.who(wednesday) == ["staff", "staff2"]
    assert {n.text for n in wednesday} == {
        "区教育局主办的2026年度第2号提案《关于增设社区老年食堂的建议》答复已逾期 "
        "1 个工作日（期限2026年10月13日），请予督办。"
    }


def test_a_long_escalation_lists_ten_and_counts_the_rest(sw, story, world):
    """Twelve proposals overdue on the same day: the ten longest overdue are listed, then
    how many more; the English rendering says the same."""
    for i in range(12):
        pid = story.filed(title=f"关于完善第{i + 1}批老旧小区改造的建议")
        assign(story, pid, d("2026-09-21") + timedelta(days=i))
    new = sw.run_twice("overdue", d("2026-10-12"))
    [staff] = [n for n in new if n.kind == "overdue_escalated" and n.person_id == world.staff]
    lines = staff.text.splitlines()
    assert lines[0] == "本周答复逾期的提案共 12 件，请予督办："
    assert len(lines) == 1 + sweeps.ESCALATION_LIST_MAX + 1
    assert "第1批" in lines[1] and "第10批" in lines[10] and "第11批" not in staff.text
    assert lines[-1] == "· ……另有 2 件"
    english, _ = render_notice(staff, "en")
    assert (
        english.splitlines()[0]
        == "12 proposals have overdue replies this week. Please follow them up:"
    )
    assert english.splitlines()[-1] == "· …and 2 more"


# ---------------------------------------------------------------- the adjustment window


def test_the_assignment_stands_when_the_adjustment_window_ends(sw, story, world):
    """Assigned Monday 14 September: the window's last day is Sunday 20 September (an
    adjusted working day). On the 21st the system accepts the lead assignment nobody
    answered; the co-handling unit's pending adjustment request is left to staff."""
    _pid, lead, co = story.assigned()
    story.run(world.handler_tr, assignments.request_adjustment, co, "不属于本单位职责")
    with sw.db.read_session() as session:
        assert session.get(Assignment, lead).adjust_deadline == d("2026-09-20")

    assert sw.run_twice("adjustment_window", d("2026-09-20"), 20) == []
    new = sw.run_twice("adjustment_window", d("2026-09-21"), 0, 5)

    assert sw.who(new) == ["handler_edu", "handler_edu2", "staff", "staff2"]
    assert {n.kind for n in new} == {"adjustment_window_closed"}
    assert "调整申请期已满，交办确定" in new[0].text
    with sw.db.read_session() as session:
        closed = session.get(Assignment, lead)
        assert (closed.status, closed.accepted_by) == ("accepted", None)
        assert session.get(Assignment, co).status == "adjustment_requested"
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.action == "assignment_window_closed")
        ).all()
    assert (event.actor_id, event.from_status, event.to_status) == (None, "pending", "accepted")
    with pytest.raises(InvalidTransition):
        story.run(world.handler_edu, assignments.request_adjustment, lead, "不属于本单位职责")


def test_an_assignment_accepted_before_the_window_ends_is_left_alone(sw, story, world):
    _pid, _lead, _co = story.accepted()
    assert sw.run_twice("adjustment_window", d("2026-09-21")) == []


# ---------------------------------------------------------------- the co-sign cut-off


def test_unconfirmed_cosigners_drop_off_after_the_cut_off_told_after_the_holiday(sw, story, world):
    """Submitted Tuesday 22 September: co-signers confirm until 30 September 23:59. The cut-off
    passes into the holiday: 黄蕾 drops off at once, and the proposer is told on the morning
    of Thursday 8 October, the next working day."""
    sw.at(d("2026-09-22"), 10)
    pid = story.submitted(cosigners=[world.cosigner, world.cosigner2], confirm=False)
    story.run(world.cosigner, proposals.confirm_cosign, pid)

    assert sw.run_twice("cosign_cutoff", d("2026-09-30"), 21, 30) == []
    [told] = sw.run_twice("cosign_cutoff", d("2026-10-01"), 0, 5)

    assert (told.kind, sw.names[told.person_id]) == ("cosign_expired", "member")
    assert "黄蕾未确认，已不在联名名单中" in told.text
    assert local(told.not_before) == datetime(2026, 10, 8, 8, 0, tzinfo=BEIJING)
    with sw.db.read_session() as session:
        states = dict(
            session.exec(
                select(Signer.person_id, Signer.state).where(Signer.proposal_id == pid)
            ).all()
        )
    assert states == {
        world.member: "confirmed",
        world.cosigner: "confirmed",
        world.cosigner2: "expired",
    }
    with pytest.raises(InvalidTransition):
        story.run(world.cosigner2, proposals.confirm_cosign, pid)


# ---------------------------------------------------------------- first contact


def test_no_contact_record_15_working_days_after_assignment_reminds_the_lead_unit_once(
    sw, story, world
):
    """Assigned 14 September: the 15th working day after is Saturday 10 October (调休). A
    proposal whose unit recorded a contact is not reminded."""
    story.accepted()
    pid2, lead2, _ = story.accepted(co=False, title="关于加强校园食品安全监管的建议")
    story.run(
        world.handler_edu,
        assignments.record_contact,
        lead2,
        method="phone",
        contact_date=d("2026-09-14"),
        summary="电话沟通，委员同意先行试点。",
    )
    told = sw.calendar_of("first_contact", "2026-10-08", "2026-10-14", "first_contact")
    assert told == {d("2026-10-10"): ["handler_edu", "handler_edu2"]}
    [first, _] = sw.notices("first_contact")
    assert first.proposal_id != pid2
    assert "交办已满 15 个工作日，尚无与提案人林晓委员沟通的记录" in first.text


# ---------------------------------------------------------------- co-handling opinions


def test_a_missing_co_handling_opinion_reminds_both_units_weekly_until_it_is_in(sw, story, world):
    """The opinion was due Wednesday 14 October."""
    _pid, _lead, co = story.accepted()
    seen = {}
    for day in days("2026-10-14", "2026-10-20"):
        if new := sw.run_twice("opinion_overdue", day):
            seen[day] = sorted((n.kind, sw.names[n.person_id]) for n in new)
    both = [
        ("opinion_overdue", "handler_tr"),
        ("opinion_overdue_lead", "handler_edu"),
        ("opinion_overdue_lead", "handler_edu2"),
    ]
    assert seen == {d("2026-10-15"): both, d("2026-10-19"): both}
    texts = {n.kind: n.text for n in sw.notices()}
    assert "请尽快向主办单位区教育局提出协办意见" in texts["opinion_overdue"]
    assert texts["opinion_overdue_lead"].startswith("协办单位区交通运输局尚未就2026年度第1号提案")

    sw.at(d("2026-10-20"), 15)
    story.run(world.handler_tr, assignments.give_opinion, co, "建议优化周边信号灯配时。")
    assert sw.run_twice("opinion_overdue", d("2026-10-26")) == []


def test_once_the_lead_units_letter_is_out_for_countersigning_no_opinion_is_asked_for(
    sw, story, world
):
    """The co-handling opinion is due Wednesday 14 October. On Monday 12 October the lead
    unit submits its reply without it, and 区交通运输局 is asked to countersign the letter
    (会签) by 19 October. From then on neither unit is told the opinion is due or missing:
    the co-handling unit has the letter to countersign, the lead unit nothing to ask it for.
    The co-handling unit agrees on the 16th; had the letter come back to the lead unit
    instead, the opinion would be asked for again."""
    _pid, lead, _co = story.accepted()
    sw.at(d("2026-10-12"), 10)
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)

    assert sw.run_twice("due_reminders", d("2026-10-13")) == []
    assert sw.run_twice("opinion_overdue", d("2026-10-15")) == []
    sw.at(d("2026-10-16"), 10)
    story.run(world.handler_tr, countersigns.agree, reply.id)
    assert sw.calendar_of("opinion_overdue", "2026-10-16", "2026-10-20", "opinion_overdue") == {}


# ---------------------------------------------------------------- ratings


def _delivered_on_24_september(sw, story, world) -> int:
    sw.at(d("2026-09-24"), 10)
    pid, _lead, _reply = story.delivered(cosigners=[world.cosigner])
    return pid


def test_rating_reminders_at_5_and_10_working_days_to_those_who_have_not_rated(sw, story, world):
    """Delivered Thursday 24 September; the proposer rates, the co-signer does not. The 5th
    working day after is 9 October, the 10th 15 October; the window ends 22 October."""
    pid = _delivered_on_24_september(sw, story, world)
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, pid, work="satisfied")

    told = sw.calendar_of("rating_reminders", "2026-09-24", "2026-10-23", "rating_reminder")
    assert told == {d("2026-10-09"): ["cosigner"], d("2026-10-15"): ["cosigner"]}
    reminder = sw.notices("rating_reminder")[0]
    assert reminder.text == (
        "您的提案《关于改善城区小学放学时段交通秩序的建议》的答复已于2026年9月24日送达，"
        "您尚未评价。请于2026年10月22日前对办理工作作出评价。"
    )
    with sw.db.read_session() as session:
        reply = replies.delivered_reply(sw.wf.ctx(session, None), session.get(Proposal, pid))
        assert reply is not None
        assert reminder.actions == replies.rating_actions(pid, reply.id)  # rates this reply


def test_the_rating_window_ends_with_not_given_recorded_never_satisfied(sw, story, world):
    pid = _delivered_on_24_september(sw, story, world)
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, pid, work="satisfied")

    assert sw.run_twice("rating_window", d("2026-10-22"), 20) == []
    written = sw.run_twice("rating_window", d("2026-10-23"), 0, 5)

    new = [n for n in written if n.kind == "ratings_not_given"]
    assert sw.who(new) == ["staff", "staff2"]
    assert new[0].text == (
        "2026年度第1号提案《关于改善城区小学放学时段交通秩序的建议》的评价期已于2026年10月22日结束，"
        "何平未作评价，已记为「未评价」。"
    )
    with sw.db.read_session() as session:
        ratings = {
            r.person_id: (r.work_rating, r.result_rating, r.not_given)
            for r in session.exec(select(Rating).where(Rating.proposal_id == pid))
        }
        assert session.get(Proposal, pid).status == "closed"  # no 不满意: nothing to decide
    assert ratings == {
        world.member: ("satisfied", "satisfied", False),
        world.cosigner: (None, None, True),
    }
    assert sw.run_twice("rating_reminders", d("2026-10-23")) == []


def test_a_rating_window_ended_without_unsatisfied_closes_the_proposal(sw, story, world):
    """Delivered 24 September, window to 22 October. The first proposal's proposer rates
    满意 and the co-signer never does: at the end of the window it is closed (办结), as the
    signers are told; nothing is left for staff to decide. The second was rated 不满意: it
    stays delivered, for staff to order 重新办理 or close it."""
    pid = _delivered_on_24_september(sw, story, world)
    sw.at(d("2026-09-24"), 10)
    unhappy, _, _ = story.delivered(title="关于增设社区老年食堂的建议", cosigners=[world.cosigner])
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, pid, work="satisfied")
    story.run(world.member, replies.rate, unhappy, work="unsatisfied")

    assert sw.run_twice("rating_window", d("2026-10-22"), 20) == []
    new = sw.run_twice("rating_window", d("2026-10-23"), 0, 5)

    closed = [n for n in new if n.kind == "closed"]
    assert sw.who(closed) == ["cosigner", "member"]
    assert {n.proposal_id for n in closed} == {pid}
    with sw.db.read_session() as session:
        assert session.get(Proposal, pid).status == "closed"
        assert session.get(Proposal, unhappy).status == "delivered"
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.proposal_id == pid, AuditEvent.action == "close")
        ).all()
        record = render_record(sw.wf.ctx(session, None), session.get(Proposal, pid), timeline=True)
    assert (event.actor_id, event.detail["reason"]) == (None, "window_ended")
    assert "办结 → 已办结  系统" in record
    assert sw.run_twice("rating_window", d("2026-10-26"), 0, 5) == []


def test_a_signer_recorded_as_not_rating_may_rate_while_staff_have_not_decided(sw, story, world):
    """林晓 rated 不满意, 何平 did not: the window's end records 何平's "not given" and the
    proposal waits for staff. 何平 rates a week later: the rating replaces "not given"."""
    pid = _delivered_on_24_september(sw, story, world)
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, pid, work="unsatisfied")
    sw.run_twice("rating_window", d("2026-10-23"), 0, 5)
    sw.at(d("2026-10-30"), 10)
    story.run(world.cosigner, replies.rate, pid, work="basic")
    with sw.db.read_session() as session:
        [late] = session.exec(
            select(Rating).where(Rating.proposal_id == pid, Rating.person_id == world.cosigner)
        ).all()
        assert session.get(Proposal, pid).status == "delivered"  # still for staff to decide
        record = render_record(sw.wf.ctx(session, None), session.get(Proposal, pid), timeline=True)
    assert (late.work_rating, late.not_given) == ("basic", False)
    assert "联名委员评价:何平:基本满意" in record
    assert "2026年10月30日 10:30  满意度评价  何平" in record


def _merged_reply_rated_unsatisfied(sw, story, world) -> tuple[int, int, int]:
    """林晓's proposal, assigned 14 September with 曹磊's merged into it, is answered on the
    24th and rated 不满意 by 林晓 on the 28th: (main, its lead assignment, the merged one)."""
    sw.at(d("2026-09-14"), 10)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    sw.at(d("2026-09-24"), 10)
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, main, work="unsatisfied")
    return main, lead, other


def test_a_merged_proposal_stays_open_while_its_main_waits_for_staff(sw, story, world):
    """Delivered 24 September with a proposal of 曹磊's merged into it. 林晓 rates the reply
    不满意, 曹磊 does not rate. At the end of the window neither is closed: staff may have the
    main handled again, and the new reply then reaches 曹磊 too."""
    main, lead, other = _merged_reply_rated_unsatisfied(sw, story, world)

    sw.run_twice("rating_window", d("2026-10-23"), 0, 5)

    with sw.db.read_session() as session:
        assert session.get(Proposal, main).status == "delivered"
        assert session.get(Proposal, other).status == "delivered"
    sw.at(d("2026-10-23"), 10)
    story.run(world.staff, replies.order_rehandle, main)
    again = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, again.id)
    delivered = [n for n in sw.notices("reply_delivered") if n.person_id == world.outsider]
    assert len(delivered) == 2  # the first reply and the new one


def test_a_merged_proposal_waiting_for_its_main_handled_again_is_not_asked_to_rate(
    sw, story, world
):
    """Delivered 24 September to 林晓's proposal and to 曹磊's merged into it; 林晓 rates it
    不满意 on the 28th and staff have the main handled again. 曹磊 never rated the earlier
    reply: he is not reminded to (9 and 15 October), nor recorded as not having rated it
    when its window ends: it is no longer his to rate. The new reply is."""
    main, _lead, other = _merged_reply_rated_unsatisfied(sw, story, world)
    story.run(world.staff, replies.order_rehandle, main)

    assert sw.calendar_of("rating_reminders", "2026-09-29", "2026-10-23", "rating_reminder") == {}
    assert sw.run_twice("rating_window", d("2026-10-23"), 0, 5) == []

    with sw.db.read_session() as session:
        assert session.get(Proposal, other).status == "merged"
        assert session.exec(select(Rating).where(Rating.proposal_id == other)).all() == []


def test_a_merged_proposal_nobody_rated_closes_with_the_window_once_its_main_closed(
    sw, story, world
):
    sw.at(d("2026-09-14"), 10)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(main)
    sw.at(d("2026-09-24"), 10)
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)
    story.run(world.member, replies.rate, main, work="satisfied")  # the main closes

    new = sw.run_twice("rating_window", d("2026-10-23"), 0, 5)

    assert [(n.kind, n.person_id) for n in new if n.kind == "closed"] == [
        ("closed", world.outsider)
    ]
    with sw.db.read_session() as session:
        assert session.get(Proposal, other).status == "closed"


def test_windows_ending_together_are_told_to_staff_in_one_notice(sw, story, world):
    """Three replies delivered on 24 September: nobody rates the first, the proposer rates
    the second, everyone rates the third. When the window ends, staff get one notice each
    listing the two with ratings missing and who did not rate, not one notice a proposal;
    the next run writes nothing."""
    sw.at(d("2026-09-24"), 10)
    first, _, _ = story.delivered(title="关于增设社区老年食堂的建议", cosigners=[world.cosigner])
    second, _, _ = story.delivered(title="关于规范共享单车停放的建议", cosigners=[world.cosigner])
    third, _, _ = story.delivered(title="关于加强校园周边食品安全监管的建议")
    sw.at(d("2026-09-28"), 10)
    story.run(world.member, replies.rate, second, work="satisfied")
    story.run(world.member, replies.rate, third, work="satisfied")

    written = sw.run_twice("rating_window", d("2026-10-23"), 0, 5)

    new = [n for n in written if n.kind == "ratings_not_given"]
    assert sw.who(new) == ["staff", "staff2"]
    assert {n.proposal_id for n in new} == {None}  # a list points to no one proposal
    assert {n.text for n in new} == {
        "2 件提案的评价期已结束，以下委员未作评价，已记为「未评价」：\n"
        "· 2026年度第1号提案《关于增设社区老年食堂的建议》，评价期至2026年10月22日：林晓、何平\n"
        "· 2026年度第2号提案《关于规范共享单车停放的建议》，评价期至2026年10月22日：何平"
    }
    english, _ = render_notice(new[0], "en")
    assert english.splitlines()[0] == (
        "The rating period of 2 proposals has ended; the members below did not rate them, "
        'recorded as "not rated":'
    )
    with sw.db.read_session() as session:
        not_given = session.exec(
            select(Rating.proposal_id, Rating.person_id).where(Rating.not_given)
        ).all()
    assert sorted(not_given) == sorted(
        [(first, world.member), (first, world.cosigner), (second, world.cosigner)]
    )
    assert sw.run_twice("rating_window", d("2026-10-26"), 0, 5) == []


def test_a_rating_window_closed_on_a_saturday_is_told_to_staff_on_monday_morning(sw, story, world):
    """The window ends Thursday 22 October; the first sweep after it runs on Saturday 24
    October: the ratings are recorded at once, staff are told on Monday 26 October at 8:00
    (notices written in bulk keep the quiet-days rule of the ones written one by one)."""
    pid = _delivered_on_24_september(sw, story, world)

    written = sw.run_twice("rating_window", d("2026-10-24"), 0, 5)

    new = [n for n in written if n.kind == "ratings_not_given"]
    assert sw.who(new) == ["staff", "staff2"]
    assert {local(n.not_before) for n in written} == {datetime(2026, 10, 26, 8, 0, tzinfo=BEIJING)}
    assert {n.state for n in new} == {"pending"}
    with sw.db.read_session() as session:
        not_given = session.exec(
            select(Rating.person_id).where(Rating.proposal_id == pid, Rating.not_given)
        ).all()
    assert sorted(not_given) == sorted([world.member, world.cosigner])


# ---------------------------------------------------------------- publication


def test_disclosed_replies_are_published_20_working_days_after_delivery(sw, story, world):
    """Delivered 24 September; the 20th working day after is 29 October. A proposal its
    proposer chose not to disclose is never published."""
    pid = _delivered_on_24_september(sw, story, world)
    sw.at(d("2026-09-24"), 10)
    hidden = story.draft(title="关于规范住宅小区物业服务收费的建议")
    story.run(world.member, proposals.update_draft, hidden, disclose=False)
    story.run(world.member, proposals.submit, hidden)
    story.run(world.staff, proposals.file_proposal, hidden)
    [lead] = assign(story, hidden)
    story.run(world.handler_edu, assignments.accept, lead)
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)

    told = sw.calendar_of("publication", "2026-10-26", "2026-11-03", "published")

    assert told == {d("2026-10-29"): ["cosigner", "member"]}
    with sw.db.read_session() as session:
        assert session.get(Proposal, pid).published
        assert not session.get(Proposal, hidden).published
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "publish")).all()
    assert (event.proposal_id, event.actor_id) == (pid, None)
    with pytest.raises(PermissionDenied, match="由系统自动执行"):
        story.run(world.staff, replies.publish, hidden)


# ---------------------------------------------------------------- review backlog


def test_proposals_awaiting_review_over_3_working_days_are_raised_to_staff_daily(sw, story, world):
    """Submitted Thursday 24 September: the 4th working day after is 8 October."""
    sw.at(d("2026-09-24"), 10)
    pid = story.submitted()
    told = sw.calendar_of("review_backlog", "2026-09-24", "2026-10-12", "review_backlog")
    staff = ["staff", "staff2"]
    assert told == {
        d("2026-10-08"): staff,
        d("2026-10-09"): staff,
        d("2026-10-10"): staff,
        d("2026-10-12"): staff,
    }
    assert sw.notices("review_backlog")[0].text == (
        "提案《关于改善城区小学放学时段交通秩序的建议》（提案人：林晓）已提交 4 个工作日，"
        "尚未审查，请及时审查。"
    )
    story.run(world.staff, proposals.file_proposal, pid)
    assert sw.run_twice("review_backlog", d("2026-10-13")) == []


# ---------------------------------------------------------------- the daily digest


def _digest_world(sw, story, world) -> None:
    """On Monday 12 October 2026 (the last working day before was Saturday 10 October):"""
    w = world
    sw.at(d("2026-09-14"), 10)
    key = story.filed(title="关于推进老旧小区加装电梯的建议")  # No. 1, key, due 15 October
    [lead_of_key] = assign(story, key, d("2026-10-15"), key=True)
    story.run(w.handler_edu, assignments.accept, lead_of_key)
    late = story.filed(title="关于完善农村客运班线的建议")  # No. 2, due 30 September
    [lead] = assign(story, late, d("2026-09-30"))
    story.run(w.handler_edu, assignments.accept, lead)
    story.replied(title="关于加强校园食品安全监管的建议")  # No. 3, reply awaiting review
    sw.at(d("2026-09-24"), 10)
    story.delivered(title="关于增加城区公共停车位的建议", cosigners=[w.cosigner])  # No. 4
    sw.at(d("2026-10-09"), 10)
    # No. 5, its unit asking to be relieved of it; No. 1's unit asking for more time
    _pid, moved, _ = story.assigned(co=False, title="关于规范共享单车停放管理的建议")
    story.run(w.handler_edu, assignments.request_adjustment, moved, "不属于本单位职责")
    story.run(w.handler_edu, assignments.request_extension, lead_of_key, "需会同住建部门论证")
    other = story.run(
        w.outsider,
        proposals.create_draft,
        title="关于扶持农产品电商发展的建议",
        analysis=SAMPLE_ANALYSIS,
        suggestions=SAMPLE_SUGGESTIONS,
    )
    story.run(w.outsider, proposals.submit, other.id)
    sw.at(d("2026-10-10"), 15)
    story.submitted(title="关于增设社区老年食堂的建议")
    story.run(None, invites.bind_account, w.cosigner2, "telegram", "9002")
    story.run(None, reach.mark_unreachable, "telegram", "9002", "blocked the bot")
    # 曹磊 blocked the bot on Telegram but is still reached in the console: not listed.
    story.run(None, invites.bind_account, w.outsider, "telegram", "9004")
    story.run(None, invites.bind_account, w.outsider, "console", "caolei")
    story.run(None, reach.mark_unreachable, "telegram", "9004", "blocked the bot")
    with sw.db.session() as session:
        receipt = session.exec(
            select(Notice).where(
                Notice.person_id == w.outsider, Notice.kind == "submitted_receipt"
            )
        ).one()
        receipt.state = "failed"
        session.add(receipt)


def test_the_digest_tells_staff_everything_and_supervisors_their_key_proposals(sw, story, world):
    _digest_world(sw, story, world)
    monday = d("2026-10-12")

    sw.at(monday, 8, 59)
    assert sw.run("digest") == 0  # not yet
    new = sw.run_twice("digest", monday, 9, 0)

    assert sw.who(new) == ["staff", "staff2", "supervisor"]
    texts = {sw.names[n.person_id]: n.text for n in new}
    assert (
        texts["staff"]
        == texts["staff2"]
        == "\n".join(
            [
                "示范区政协提案工作日报（2026年10月12日）",
                "新提交提案 1 件：",
                "· 《关于增设社区老年食堂的建议》（林晓）",
                "待审查提案 2 件：",
                "· 《关于扶持农产品电商发展的建议》（曹磊）",
                "· 《关于增设社区老年食堂的建议》（林晓）",
                "调整申请待处理 1 件：",
                "· 2026年度第5号《关于规范共享单车停放管理的建议》（区教育局，现期限2027年1月11日）",
                "延期申请待决定 1 件：",
                "· 2026年度第1号《关于推进老旧小区加装电梯的建议》（区教育局，现期限2026年10月15日）",
                "答复待审核 1 件：",
                "· 2026年度第3号《关于加强校园食品安全监管的建议》（区教育局）",
                "5 个工作日内到期 1 件：",
                "· 2026年度第1号《关于推进老旧小区加装电梯的建议》（区教育局，2026年10月15日到期）",
                "已逾期 1 件：",
                "· 2026年度第2号《关于完善农村客运班线的建议》（区教育局，逾期 4 个工作日）",
                "已答复未评价 1 件：",
                "· 2026年度第4号《关于增加城区公共停车位的建议》（未评价：林晓、何平）",
                "无法推送消息的人员 1 位：黄蕾",
                "发送失败的消息 1 条，收件人：曹磊",
            ]
        )
    )
    assert texts["supervisor"] == "\n".join(
        [
            "区政府督查室督办重点提案日报（2026年10月12日）",
            "5 个工作日内到期 1 件：",
            "· 2026年度第1号《关于推进老旧小区加装电梯的建议》（区教育局，2026年10月15日到期）",
        ]
    )
    assert sw.run_twice("digest", monday, 17) == []


def test_no_digest_on_a_sunday_or_during_the_holiday_and_one_on_the_adjusted_saturday(
    sw, story, world
):
    sw.at(d("2026-09-30"), 10)
    story.submitted()
    for day in ["2026-10-01", "2026-10-04", "2026-10-07", "2026-10-11"]:
        assert sw.run_twice("digest", d(day)) == [], day
    # Thursday 8 October: submitted on the last working day before, 30 September.
    [first, _] = sw.run_twice("digest", d("2026-10-08"))
    assert "新提交提案 1 件" in first.text
    [saturday, _] = sw.run_twice("digest", d("2026-10-10"))
    assert "新提交提案" not in saturday.text and "待审查提案 1 件" in saturday.text


def test_after_a_day_without_a_digest_the_next_one_lists_what_that_day_would_have(
    sw, story, world
):
    """The bot is down all of Wednesday 14 October: no digest that day. Thursday's lists
    as new everything submitted since Tuesday's digest, the proposal staff filed on
    Tuesday afternoon too, and nothing Tuesday's digest already listed."""
    sw.at(d("2026-10-12"), 15)
    story.submitted(title="关于增设社区老年食堂的建议")
    [tuesday, _] = sw.run_twice("digest", d("2026-10-13"), 9, 0)
    assert "· 《关于增设社区老年食堂的建议》（林晓）" in tuesday.text.split("待审查")[0]

    sw.at(d("2026-10-13"), 15)
    story.filed(title="关于规范共享单车停放的建议")  # submitted and filed on Tuesday
    sw.at(d("2026-10-14"), 10)
    story.submitted(title="关于加强校园周边食品安全监管的建议")

    [thursday, _] = sw.run_twice("digest", d("2026-10-15"), 9, 0)
    assert thursday.text.split("\n")[:4] == [
        "示范区政协提案工作日报（2026年10月15日）",
        "新提交提案 2 件：",
        "· 《关于规范共享单车停放的建议》（林晓）",
        "· 《关于加强校园周边食品安全监管的建议》（林晓）",
    ]
    # Friday's runs as usual: from Thursday's digest on, nothing new.
    [friday, _] = sw.run_twice("digest", d("2026-10-16"), 9, 0)
    assert "新提交提案" not in friday.text


def test_a_long_list_is_cut_short_with_how_many_more(sw, story, world):
    sw.at(d("2026-10-10"), 10)
    for i in range(7):
        story.submitted(title=f"关于第{i + 1}项民生实事的建议")
    [text] = {n.text for n in sw.run_twice("digest", d("2026-10-12"))}
    lines = text.split("\n")
    assert lines[1] == "新提交提案 7 件："
    assert lines[2:8] == [f"· 《关于第{i}项民生实事的建议》（林晓）" for i in range(1, 6)] + [
        "· ……另有 2 件"
    ]


def test_from_december_staff_are_told_when_next_years_holidays_are_unknown(sw, wf, world):
    """chinesecalendar 1.11.0 has no 2027: from December the digest says so every working
    day (deadlines and reminders there would count Monday to Friday) until the package or the
    holidays file brings the year in."""
    assert sw.run_twice("digest", d("2026-11-30")) == []  # November: not yet
    new = sw.run_twice("digest", d("2026-12-01"))
    assert sw.who(new) == ["staff", "staff2"]  # supervisors have nothing to do about it
    assert new[0].text == "\n".join(
        [
            "示范区政协提案工作日报（2026年12月1日）",
            "尚无2027年的节假日安排，暂按周一至周五计算工作日：期限、提醒和评价期可能落在"
            "节假日。请升级 chinesecalendar，或由管理员把当年全部放假和调休日写入节假日文件"
            "（PROPOSALBOT_HOLIDAYS_FILE），再加一行「2027 全年」。",
        ]
    )
    # a holidays file with a local day off of 2027 does not make 2027's holidays known
    wf.calendar = WorkCalendar({d("2027-03-12"): False})
    assert "尚无2027年的节假日安排" in sw.run_twice("digest", d("2026-12-02"))[0].text
    wf.calendar = WorkCalendar({d("2027-03-12"): False}, complete={2027})  # 2027 全年
    assert sw.run_twice("digest", d("2026-12-03")) == []


def test_nobody_is_sent_an_empty_digest(sw, world):
    assert sw.run_twice("digest", d("2026-10-12")) == []


# ---------------------------------------------------------------- all of them, all day


def test_running_every_sweep_every_half_hour_writes_each_notice_once(sw, story, world):
    """A day with something for every reminder: the first round after midnight writes the
    day's reminders, the first round from 09:00 the digest, and every other round nothing."""
    sw.at(d("2026-09-14"), 10)
    story.accepted(key=True)  # the co-handling opinion is overdue on 15 October
    sw.at(d("2026-09-24"), 10)
    story.delivered(title="关于增加城区公共停车位的建议", cosigners=[world.cosigner])
    story.submitted(title="关于增设社区老年食堂的建议")

    rounds = []
    sw.at(d("2026-10-15"), 0, 5)
    while sw.clock.now < datetime(2026, 10, 15, 16, 0, tzinfo=UTC):  # 24:00 Beijing
        with sw.db.session() as session:
            written = sweeps.run_all(sw.wf.ctx(session, None))
        rounds.append((local(sw.clock.now).strftime("%H:%M"), written))
        sw.clock.advance(minutes=30)

    busy = {at: {k: v for k, v in w.items() if v} for at, w in rounds if any(w.values())}
    assert busy == {
        "00:05": {
            "first_contact": 2,  # due on Saturday 10 October, caught up
            "opinion_overdue": 3,  # due 14 October: both units
            "rating_reminders": 2,  # 10 working days after delivery: both signers
            "review_backlog": 2,  # 9 working days waiting: both staff
        },
        "09:05": {"digest": 2},  # staff; the supervisor has nothing to read
    }
    assert len(rounds) == 48


def _round(sw, day: date, hour: int, minute: int = 5) -> list[Notice]:
    """Every sweep once at this local time; the notices written."""
    before = sw.last_notice()
    sw.at(day, hour, minute)
    with sw.db.session() as session:
        sweeps.run_all(sw.wf.ctx(session, None))
    return sw.notices(after=before)


def _said(sw, notices: list[Notice]) -> list[tuple[str, str, datetime]]:
    """(kind, who, when it may go out, local time) of each notice."""
    return sorted((n.kind, sw.names[n.person_id], local(n.not_before)) for n in notices)


def test_back_on_the_evening_before_the_holiday_the_bot_says_nothing_during_it(sw, story, world):
    """Everything ran until Tuesday 29 September. On Wednesday 30 September, the last working
    day before the National Day holiday, the bot is down until 22:00, in the quiet hours:
    what it writes then would go out on the holiday morning. The rating window that ended on
    the 29th is closed at once, and staff are told on Thursday 8 October at 08:00; the day's
    reminders (the unit due on the 8th, overdue) and digest are left to the 8th, whose run
    tells the unit due that day that it is due today."""
    sw.at(d("2026-09-08"), 10)
    rated, _, _ = story.delivered(title="关于增加城区公共停车位的建议")  # rated by 29 September
    sw.at(d("2026-09-14"), 10)
    late = story.filed(title="关于完善农村客运班线的建议")
    soon = story.filed(title="关于增设社区老年食堂的建议")
    for pid, due in ((late, "2026-09-28"), (soon, "2026-10-08")):
        [lead] = assign(story, pid, d(due))
        story.run(world.handler_edu, assignments.accept, lead)
    for day in days("2026-09-28", "2026-09-29"):
        _round(sw, day, 0)
        _round(sw, day, 9)

    evening = _round(sw, d("2026-09-30"), 22)

    morning = datetime(2026, 10, 8, 8, 0, tzinfo=BEIJING)
    assert _said(sw, evening) == [
        ("closed", "member", morning),  # nobody rated it 不满意: 办结
        ("ratings_not_given", "staff", morning),
        ("ratings_not_given", "staff2", morning),
    ]
    with sw.db.read_session() as session:
        assert session.exec(
            select(Rating.person_id).where(Rating.proposal_id == rated, Rating.not_given)
        ).all() == [world.member]
    for day in days("2026-10-01", "2026-10-07"):
        assert _round(sw, day, 0) + _round(sw, day, 9) == [], day

    thursday = _round(sw, d("2026-10-08"), 0) + _round(sw, d("2026-10-08"), 9)
    assert [(kind, who) for kind, who, _ in _said(sw, thursday)] == [
        ("digest", "staff"),
        ("digest", "staff2"),
        ("due_soon", "handler_edu"),
        ("due_soon", "handler_edu2"),
        ("overdue", "handler_edu"),
        ("overdue", "handler_edu2"),
        ("overdue_escalated", "staff"),
        ("overdue_escalated", "staff2"),
    ]
    [reminder, _] = [n for n in thursday if n.kind == "due_soon"]
    assert reminder.text == (
        "2026年度第3号提案《关于增设社区老年食堂的建议》的答复今天（2026年10月8日）到期，"
        "请抓紧办理。"
    )


def test_no_reminder_written_on_the_evening_before_the_holiday_goes_stale_over_it(
    sw, story, world
):
    """Wednesday 30 September, the last working day before the National Day holiday, is
    the day of three reminders: the first contact with the proposer of a proposal assigned
    on 9 September, the 1-day reminder of a reply due Thursday 8 October, and the 5-day
    rating reminder of a reply delivered on 22 September. The bot is down that day until
    22:00. During the holiday, on 5 October, the unit records its contact and submits its
    reply, and the proposer rates. On 8 October nobody is reminded of what they have done:
    nothing was written on the evening of the 30th to go out on the 8th whatever happened
    meanwhile; the 8th's run reminds the co-signer, who still has not rated."""
    sw.at(d("2026-09-09"), 10)
    contact_pid, contact_lead, _ = story.accepted(co=False, title="关于加强校园食品安全监管的建议")
    sw.at(d("2026-09-14"), 10)
    due_pid = story.filed(title="关于完善农村客运班线的建议")
    [due_lead] = assign(story, due_pid, d("2026-10-08"))
    story.run(world.handler_edu, assignments.accept, due_lead)
    sw.at(d("2026-09-22"), 10)
    rated_pid, _, _ = story.delivered(
        title="关于增加城区公共停车位的建议", cosigners=[world.cosigner]
    )
    for day in days("2026-09-28", "2026-09-29"):
        _round(sw, day, 0)
        _round(sw, day, 9)
    reminders = ("first_contact", "due_soon", "rating_reminder")

    evening = _round(sw, d("2026-09-30"), 22)

    assert [n for n in evening if n.kind in reminders] == []
    sw.at(d("2026-10-05"), 10)
    story.run(
        world.handler_edu,
        assignments.record_contact,
        contact_lead,
        method="phone",
        contact_date=d("2026-10-05"),
        summary="电话沟通，委员同意先行试点。",
    )
    story.run(world.handler_edu, replies.submit_reply, due_lead, **SAMPLE_REPLY)
    story.run(world.member, replies.rate, rated_pid, work="satisfied")
    thursday = _round(sw, d("2026-10-08"), 0) + _round(sw, d("2026-10-08"), 9)
    [reminded] = [n for n in thursday if n.kind in reminders]
    assert (reminded.kind, sw.names[reminded.person_id]) == ("rating_reminder", "cosigner")
    assert {contact_pid, due_pid}.isdisjoint(n.proposal_id for n in sw.notices("first_contact"))


def test_back_late_on_a_working_day_the_bot_leaves_the_days_reminders_to_the_next(
    sw, story, world
):
    """Down from Monday 12 October at noon to Tuesday 13 October at 22:00: Tuesday's overdue
    notice would go out on Wednesday morning beside Wednesday's own, so it is not written;
    Wednesday's first round tells the unit once, and the digest lists what Tuesday's would
    have."""
    pid = story.filed()
    [lead] = assign(story, pid, d("2026-10-09"))
    story.run(world.handler_edu, assignments.accept, lead)
    _round(sw, d("2026-10-12"), 0)
    _round(sw, d("2026-10-12"), 9)
    sw.at(d("2026-10-12"), 15)
    story.submitted(title="关于增设社区老年食堂的建议")

    assert _round(sw, d("2026-10-13"), 22) == []

    wednesday = _round(sw, d("2026-10-14"), 0)
    assert [(kind, who) for kind, who, _ in _said(sw, wednesday)] == [
        ("overdue", "handler_edu"),
        ("overdue", "handler_edu2"),
    ]
    assert "现已逾期 4 个工作日" in wednesday[0].text
    [digest, _] = _round(sw, d("2026-10-14"), 9)
    assert "新提交提案 1 件" in digest.text


# ---------------------------------------------------------------- stored files


def test_orphan_files_older_than_7_days_are_deleted_and_files_in_use_kept(
    sw, story, world, tmp_path
):
    store = AttachmentStore(tmp_path / "attachments")
    sw.at(d("2026-10-12"), 10)
    draft = story.draft()
    story.run(
        world.member, attachments.attach_to_proposal, store, draft, "调研.txt", "调研材料".encode()
    )
    _, in_wizard = store.put("答复附件（向导中）".encode())
    _, abandoned = store.put("未提交的答复附件".encode())
    _, recent = store.put("昨天上传的附件".encode())
    with sw.db.session() as session:
        session.add(
            Conversation(
                channel="telegram",
                external_id="9001",
                flow="reply",
                step="more",
                data={"draft": {"files": [{"name": "附件.pdf", "path": in_wizard}]}},
            )
        )

    now = sw.clock.now
    for relative, _ in store.files():
        age = timedelta(days=1) if relative == recent else timedelta(days=30)
        stamp = (now - age).timestamp()
        os.utime(store.root / relative, (stamp, stamp))

    with sw.db.session() as session:
        deleted = sweeps.prune_orphan_files(sw.wf.ctx(session, None), store)

    assert deleted == 1
    with sw.db.read_session() as session:
        [attached] = session.exec(select(Attachment.storage_path)).all()
    assert {relative for relative, _ in store.files()} == {attached, in_wizard, recent}
    assert abandoned not in {attached, in_wizard, recent}
    assert store.read(in_wizard) == "答复附件（向导中）".encode()


def test_a_file_stored_again_while_being_discarded_is_kept(tmp_path):
    store = AttachmentStore(tmp_path / "attachments")
    _, path = store.put(b"reused bytes")
    old = datetime(2026, 1, 1, tzinfo=UTC)
    os.utime(store.root / path, (old.timestamp(), old.timestamp()))
    assert store.put(b"reused bytes")[1] == path  # stored again: renewed
    assert not store.discard(path, unless_newer_than=old + timedelta(days=7))
    assert store.read(path) == b"reused bytes"

    os.utime(store.root / path, (old.timestamp(), old.timestamp()))
    assert store.discard(path, unless_newer_than=old + timedelta(days=7))
    assert [f for f, _ in store.files()] == []
    assert store.put(b"reused bytes")[1] == path  # written anew
    assert store.read(path) == b"reused bytes"


def test_a_sweep_counts_the_notices_its_transaction_keeps_and_holds_them_over_a_day_off(sw, world):
    """What a sweep's services tell on a day off goes out on the next working morning; a
    notice taken back with a skipped item (its savepoint rolled back) is neither written
    nor counted; once the sweep is over, notices go out when they are written again."""

    def skipped(person_id: int) -> None:
        notify(ctx, [person_id], "test_taken_back", Text("撤回的通知"), key="1")
        raise InvalidTransition("记录已被他人修改。")

    def body(sweep_ctx) -> None:
        nonlocal ctx
        ctx = sweep_ctx
        notify(ctx, [world.member], "test_kept", Text("保留的通知"), key="1")
        sweeps._each(ctx, [world.cosigner], skipped)

    ctx = None
    sweeps.sweep("test_counting")(body)
    try:
        sw.at(d("2026-10-03"), 10)  # Saturday, in the National Day holiday
        before = sw.last_notice()
        with sw.db.session() as session:
            sweep_ctx = sw.wf.ctx(session, None)
            assert sweeps.SWEEPS["test_counting"](sweep_ctx) == 1
            notify(sweep_ctx, [world.outsider], "test_after", Text("之后的通知"), key="1")
        new = sw.notices(after=before)
        assert [(n.kind, n.person_id) for n in new] == [
            ("test_kept", world.member),
            ("test_after", world.outsider),
        ]
        assert local(new[0].not_before) == datetime(2026, 10, 8, 8, 0, tzinfo=BEIJING)
        assert local(new[1].not_before) == datetime(2026, 10, 3, 10, 30, tzinfo=BEIJING)
    finally:
        sweeps.SWEEPS.pop("test_counting", None)


def test_the_digest_marks_a_withdrawn_new_proposal_and_names_a_collective_ones_body(
    sw, story, world
):
    """Monday's new proposals: one its proposer took back that afternoon (Saturday 10 October, a working day), and a 集体提案
    made in 民盟区委's name (林晓 leads it): the record's proposer is the body, so is the
    digest's."""
    w = world
    sw.at(d("2026-10-10"), 10)
    gone = story.submitted(title="关于增设社区老年食堂的建议")
    body = story.draft(title="关于加强社区心理健康服务的建议")
    story.run(w.member, proposals.update_draft, body, category="collective")
    story.run(w.member, proposals.update_draft, body, collective_body="民盟区委")
    story.run(w.member, proposals.submit, body)
    sw.at(d("2026-10-10"), 15)
    story.run(w.member, proposals.withdraw, gone, "需要再调研")

    [staff, _] = sw.run_twice("digest", d("2026-10-12"), 9, 0)
    assert staff.text.split("\n")[1:6] == [
        "新提交提案 2 件：",
        "· 《关于增设社区老年食堂的建议》（林晓，已撤回）",
        "· 《关于加强社区心理健康服务的建议》（民盟区委（集体提案））",
        "待审查提案 1 件：",
        "· 《关于加强社区心理健康服务的建议》（民盟区委（集体提案））",
    ]
