"""A generated committee of national scale, written straight into the tables (bulk inserts on
SQLite, COPY on PostgreSQL), reproducible from a seed.

Proposals are submitted evenly over ``years`` years up to ``now``; a proposal's state follows
its age the way the work goes: the last days' submissions await review or co-signers, those of
the last three months are being handled (assignments pending or accepted, some overdue, some
asking for adjustment), replies of about three months ago are awaiting review or rating, and
older proposals are closed (rated, disclosed ones published) or were not filed, merged,
converted or withdrawn. Each has its signers, assignments, replies, ratings, contacts,
notices already sent and its audit trail (the lifecycle events, with draft edits added so the
audit log reaches ``audit_events``). Every person but a few is bound on Telegram (user id =
``FIRST_UID`` + person id).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables)
from bench.people import FIELDS, TOPICS
from storage.db import Database
from storage.models import proposal_text_hash
from workflow.calendar import WorkCalendar

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
FIRST_UID = 5_000_000
SESSION_LABELS = ["一次会议", "二次会议", "三次会议", "四次会议", "五次会议"]
AREAS = ["", "片区", "街道", "乡镇", "社区", "园区", "老旧小区", "农村", "城乡接合部", "学校周边"]
PLACES = ["城东", "城西", "城南", "城北", "开发区", "高新区", "沿江", "山区", "老城", "新区"]
ORDER = [
    "unit",
    "person",
    "channel_account",
    "year_counter",
    "proposal",
    "signer",
    "assignment",
    "reply",
    "rating",
    "contact_record",
    "audit_event",
    "notice",
]
FLUSH_ROWS = 20_000
# Sentences a proposal's text is made of ({p}: a place, {t}: a topic).
SENTENCES = [
    "{p}{t}工作推进缓慢，群众反映较多。",
    "现有设施老化，维护资金长期不足。",
    "部门之间职责交叉，协调机制不健全。",
    "基层人手紧张，专业人员流失严重。",
    "相关政策宣传不到位，知晓率不高。",
    "{p}人口增长较快，公共服务供给跟不上。",
    "审批环节多、周期长，企业和群众办事不便。",
    "缺少统一规划，建设标准不一。",
    "监管手段落后，信息化水平低。",
    "农村地区覆盖不足，城乡差距明显。",
    "社会资本参与积极性不高，投入渠道单一。",
    "考核评价机制不完善，责任落实不到位。",
    "部分项目建成后闲置，使用效率不高。",
    "群众参与渠道有限，意见表达不畅。",
    "{t}相关数据底数不清，统计口径不一。",
    "应急处置能力不足，风险隐患较多。",
]


@dataclass(frozen=True)
class Spec:
    proposals: int = 100_000
    years: int = 20
    people: int = 10_000
    units: int = 1_000
    audit_events: int = 1_000_000  # at least: a proposal's own trail may be longer
    recent: int | None = None  # proposals of the last 12 months; None: evenly over the years
    seed: int = 2026

    def describe(self) -> str:
        spread = (
            f"evenly over {self.years} years"
            if self.recent is None
            else f"{min(self.recent, self.proposals):,} in the last 12 months, the rest over "
            f"the {self.years - 1} years before"
        )
        return (
            f"{self.proposals:,} proposals ({spread}), {self.people:,} people, "
            f"{self.units:,} units"
        )


@dataclass
class Generated:
    """What the benchmarks need to know about the generated data."""

    spec: Spec
    now: datetime
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    staff: list[int] = field(default_factory=list)
    busiest_member: int = 0  # most proposals as lead or co-signer
    busiest_unit: int = 0  # most assignments
    busiest_unit_handler: int | None = None  # a bound handler of that unit
    busiest_leader: int | None = None  # a bound lead leader with the most key proposals
    busiest_supervisor: int | None = None  # a bound supervisor of the unit supervising most
    record_number: tuple[int, int] = (0, 0)  # (year, number) with the longest audit trail
    current_year: int = 0
    settle_seconds: float = 0.0  # the catch-up round of sweeps over the generated history

    def uid(self, person_id: int) -> int:
        return FIRST_UID + person_id


def reference_now(calendar: WorkCalendar | None = None, today: date | None = None) -> datetime:
    """The latest working day up to today that follows a day off (a Monday, most weeks), at
    10:00 Beijing time (UTC, aware): the sweeps' heaviest ordinary morning, when the
    deadlines of the days off fall due and the weekly reminders start again. Any weekday
    would make a run's figures depend on the day it ran (the ``rating_window`` sweep read
    with 20 SELECTs on a Friday's data, 107 on a Monday's)."""
    calendar = calendar or WorkCalendar()
    day = today or datetime.now(TZ).date()
    while not (calendar.is_workday(day) and not calendar.is_workday(day - timedelta(days=1))):
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ).astimezone(UTC)


# ---------------------------------------------------------------- writing


class Writer:
    """Buffers rows per table; flushes every table in dependency order."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tables = SQLModel.metadata.tables
        self.buffers: dict[str, list[dict]] = {name: [] for name in ORDER}
        self.counts: dict[str, int] = dict.fromkeys(ORDER, 0)
        self.conn = db.engine.connect()
        self.tx = self.conn.begin()

    def add(self, table: str, row: dict) -> None:
        self.buffers[table].append(row)
        self.counts[table] += 1
        if len(self.buffers[table]) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for name in ORDER:
            rows = self.buffers[name]
            if not rows:
                continue
            if self.db.is_postgres:
                self._copy(name, rows)
            else:
                self.conn.execute(self.tables[name].insert(), rows)
            self.buffers[name] = []

    def _copy(self, name: str, rows: list[dict]) -> None:
        columns = list(rows[0])
        raw = self.conn.connection.driver_connection
        with raw.cursor() as cursor:
            sql = f'COPY "{name}" ({", ".join(columns)}) FROM STDIN'
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([_pg(row[c]) for c in columns])

    def close(self) -> None:
        self.flush()
        if self.db.is_postgres:
            for name in ORDER:
                if "id" in self.tables[name].c and name != "year_counter":
                    self.conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f'(SELECT COALESCE(MAX(id), 1) FROM "{name}"))'
                        )
                    )
        self.tx.commit()
        self.conn.close()
        if self.db.is_postgres:
            # What autovacuum does to tables written years ago: statistics, and the
            # visibility map that lets an index answer alone (an index-only scan). Then a
            # checkpoint: the server writes the bulk load out now, not in the background
            # while the queries are timed (a database written years ago is at rest).
            with self.db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text("VACUUM (ANALYZE)"))
                try:
                    conn.execute(text("CHECKPOINT"))
                except DBAPIError:  # a role without pg_checkpoint: the server's own pace
                    log.warning("no CHECKPOINT after generating the data", exc_info=True)


def _pg(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# ---------------------------------------------------------------- the committee


class Generator:
    def __init__(self, db: Database, spec: Spec, now: datetime) -> None:
        self.db, self.spec, self.now = db, spec, now
        self.rng = random.Random(spec.seed)
        self.cal = WorkCalendar()
        self.out = Writer(db)
        self.ids: dict[str, int] = dict.fromkeys(ORDER, 0)
        self.info = Generated(spec, now, current_year=now.astimezone(TZ).year)
        self._workday_cache: dict[tuple[date, int], date] = {}

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add_workdays(self, day: date, n: int) -> date:
        key = (day, n)
        found = self._workday_cache.get(key)
        if found is None:
            found = self._workday_cache[key] = self.cal.add_workdays(day, n)
        return found

    # ------------------------------------------------------------- roster
    def roster(self) -> None:
        s, rng = self.spec, self.rng
        supervising = max(2, s.units // 50)
        self.handling_units: list[int] = []
        self.supervising_units: list[int] = []
        for i in range(s.units):
            uid = self.next_id("unit")
            kind = "supervising" if i < supervising else "handling"
            (self.supervising_units if i < supervising else self.handling_units).append(uid)
            self.out.add(
                "unit",
                {
                    "id": uid,
                    "name": f"{'督查室' if kind == 'supervising' else '承办单位'}{i:04d}",
                    "short_name": f"单位{i:04d}",
                    "kind": kind,
                    "active": True,
                    "created_at": self.now - timedelta(days=s.years * 365),
                    "updated_at": self.now - timedelta(days=s.years * 365),
                },
            )
        staff_n = max(4, s.people // 250)
        leaders_n = max(2, s.people // 150)
        self.staff, self.leaders, self.members = [], [], []
        self.handlers: dict[int, list[int]] = {}
        self.supervisors: dict[int, list[int]] = {}
        self.bound: set[int] = set()
        handlers_n = min(len(self.handling_units) * 2, s.people // 5)
        for i in range(s.people):
            pid = self.next_id("person")
            unit_id = None
            if i < staff_n:
                roles = "staff"
                self.staff.append(pid)
            elif i < staff_n + leaders_n:
                roles = "leader"
                self.leaders.append(pid)
            elif i < staff_n + leaders_n + len(self.supervising_units) * 2:
                roles = "supervisor"
                unit_id = self.supervising_units[(i - staff_n - leaders_n) // 2]
                self.supervisors.setdefault(unit_id, []).append(pid)
            elif i < staff_n + leaders_n + len(self.supervising_units) * 2 + handlers_n:
                roles = "handler"
                k = i - staff_n - leaders_n - len(self.supervising_units) * 2
                unit_id = self.handling_units[k % len(self.handling_units)]
                self.handlers.setdefault(unit_id, []).append(pid)
            else:
                roles = "member"
                self.members.append(pid)
            self.out.add(
                "person",
                {
                    "id": pid,
                    "name": f"{rng.choice('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗')}某{i:05d}",
                    "phone": f"1{3 + i % 6}{i:09d}",
                    "roles": roles,
                    "unit_id": unit_id,
                    "sector": rng.choice(["经济界", "教育界", "医药卫生界", "农业界", "科技界"])
                    if roles == "member"
                    else None,
                    "title": "副区长" if roles == "leader" else None,
                    "locale": "zh",
                    "active": True,
                    "created_at": self.now - timedelta(days=s.years * 365),
                    "updated_at": self.now - timedelta(days=s.years * 365),
                },
            )
            if rng.random() < 0.85 or roles == "staff":
                self.bound.add(pid)
                self.out.add(
                    "channel_account",
                    {
                        "id": self.next_id("channel_account"),
                        "person_id": pid,
                        "channel": "telegram",
                        "external_id": str(FIRST_UID + pid),
                        "display_name": None,
                        "unreachable": False,
                        "bound_at": self.now - timedelta(days=rng.randint(1, 2000)),
                    },
                )
        self.info.staff = list(self.staff)
        # A few prolific members write many proposals (a Zipf-like share).
        weights = [1 / (rank + 1) ** 0.6 for rank in range(len(self.members))]
        self.member_weights = weights
        unit_weights = [1 / (rank + 1) ** 0.5 for rank in range(len(self.handling_units))]
        self.unit_weights = unit_weights

    # ------------------------------------------------------------- proposals
    def proposals(self) -> None:
        s, rng = self.spec, self.rng
        span = s.years * 365.0
        if s.recent is None:
            ages = [rng.uniform(0, span) for _ in range(s.proposals)]
        else:
            recent = min(s.recent, s.proposals)
            ages = [rng.uniform(0, 365.0) for _ in range(recent)]
            ages += [rng.uniform(365.0, span) for _ in range(s.proposals - recent)]
        ages.sort(reverse=True)
        numbers: dict[int, int] = {}
        quota_base, quota_extra = divmod(s.audit_events, s.proposals)
        # The last 12 months' proposals (the oldest first, so they come last) draw from
        # random streams of their own: the same current work whatever the history before.
        recent = 0 if s.recent is None else min(s.recent, s.proposals)
        history = s.proposals - recent
        proposers = rng.choices(self.members, weights=self.member_weights, k=history)
        proposers += random.Random(f"{s.seed}:recent").choices(
            self.members, weights=self.member_weights, k=recent
        )
        signed: dict[int, int] = {}
        unit_load: dict[int, int] = {}
        self.leader_load: dict[int, int] = {}  # key proposals by lead leader
        self.supervised_load: dict[int, int] = {}  # key proposals by supervising unit
        longest = (0, 0, 0)  # (events, year, number)
        for i, age in enumerate(ages):
            quota = quota_base + (1 if i < quota_extra else 0)
            if i >= history:
                self.rng = random.Random(f"{s.seed}:recent:{i - history}")
            events, year, number = self.proposal(
                age, proposers[i], quota, numbers, signed, unit_load
            )
            if number and events > longest[0]:
                longest = (events, year, number)
        self.rng = rng
        for year, last in sorted(numbers.items()):
            self.out.add("year_counter", {"year": year, "last_number": last})
        self.info.busiest_member = max(signed, key=signed.get)
        self.info.busiest_unit = max(unit_load, key=unit_load.get)
        handlers = set(self.handlers.get(self.info.busiest_unit, [])) & self.bound
        self.info.busiest_unit_handler = min(handlers) if handlers else None
        # The bound leader, and the bound supervisor of the unit, with the most key proposals.
        # (None in a database too small for any: the lists are then not timed.)
        self.info.busiest_leader = max(
            (p for p in self.leader_load if p in self.bound),
            key=self.leader_load.__getitem__,
            default=None,
        )
        unit = max(
            (u for u in self.supervised_load if set(self.supervisors[u]) & self.bound),
            key=self.supervised_load.__getitem__,
            default=None,
        )
        self.info.busiest_supervisor = (
            min(set(self.supervisors[unit]) & self.bound) if unit is not None else None
        )
        self.info.record_number = (longest[1], longest[2])

    def status_for(self, age: float) -> str:
        r = self.rng.random()
        if age < 3:
            return "draft" if r < 0.15 else "submitted"
        if age < 10:
            if r < 0.65:
                return "filed"
            if r < 0.85:
                return "submitted"
            return self.rng.choice(["not_filed", "merged", "converted", "withdrawn"])
        if age < 60:
            return "assigned" if r < 0.97 else "draft"
        if age < 100:
            return "assigned" if r < 0.85 else "replied"
        if age < 130:
            return "assigned" if r < 0.2 else ("replied" if r < 0.45 else "delivered")
        if age < 160:
            return "delivered" if r < 0.4 else "closed"
        if age < 400 and r < 0.01:
            return "assigned"  # long overdue
        if r < 0.88:
            return "closed"
        return self.rng.choice(["not_filed", "merged", "converted", "withdrawn"])

    def proposal(self, age, proposer, quota, numbers, signed, unit_load) -> tuple[int, int, int]:
        rng, now = self.rng, self.now
        status = self.status_for(age)
        created = now - timedelta(days=age + rng.uniform(0.2, 3))
        submitted = None if status == "draft" else now - timedelta(days=age)
        local = (submitted or created).astimezone(TZ)
        year = local.year
        pid = self.next_id("proposal")
        topic = rng.choice(TOPICS)
        place = rng.choice(PLACES)
        filed = status in ("filed", "assigned", "replied", "delivered", "closed")
        number = None
        if filed:
            numbers[year] = numbers.get(year, 0) + 1
            number = numbers[year]
        reviewed = submitted + timedelta(days=rng.uniform(1, 3)) if submitted else None
        assigned_at = (
            submitted + timedelta(days=rng.uniform(5, 9))
            if status in ("assigned", "replied", "delivered", "closed")
            else None
        )
        due = self.cal.add_months(assigned_at.astimezone(TZ).date(), 3) if assigned_at else None
        delivered_at = (
            assigned_at + timedelta(days=rng.uniform(80, 100))
            if status in ("delivered", "closed")
            else None
        )
        if delivered_at is not None and delivered_at > now:
            delivered_at = now - timedelta(hours=rng.uniform(1, 48))
        closed_at = (
            delivered_at + timedelta(days=rng.uniform(10, 30)) if status == "closed" else None
        )
        if closed_at is not None and closed_at > now:
            closed_at = now - timedelta(hours=1)
        disclose = rng.random() < 0.8
        is_key = filed and rng.random() < 0.05
        supervising = rng.choice(self.supervising_units) if is_key else None
        published = bool(
            disclose and delivered_at and (now - delivered_at).days > 35 and status == "closed"
        )
        title = f"关于{place}{rng.choice(AREAS)}{topic}的建议"
        analysis = "".join(
            x.format(p=place, t=topic) for x in rng.sample(SENTENCES, rng.randint(3, 6))
        )
        suggestions = f"1、加大{topic}投入。\n2、建立{place}长效机制。"
        row = {
            "id": pid,
            "year": year,
            "number": number,
            "session_label": f"第{(year - 2000) // 5 + 1}届{SESSION_LABELS[year % 5]}",
            "category": "member" if rng.random() < 0.9 else "collective",
            "collective_body": None,
            "field": rng.choice(FIELDS),
            "title": title,
            "analysis": analysis,
            "suggestions": suggestions,
            "text_hash": proposal_text_hash(title, analysis, suggestions),
            "suggested_unit": None,
            "disclose": disclose,
            "status": status,
            "proposer_id": proposer,
            "submitted_at": submitted,
            "cosign_deadline": submitted + timedelta(days=7) if submitted else None,
            "reviewed_at": reviewed if filed or status == "not_filed" else None,
            "reviewed_by": rng.choice(self.staff) if filed else None,
            "review_reason": None,
            "merged_into_id": rng.randint(1, pid - 1) if status == "merged" and pid > 1 else None,
            "assigned_at": assigned_at,
            "due_date": due,
            "is_key": is_key,
            "supervising_unit_id": supervising,
            "lead_leader_id": rng.choice(self.leaders) if is_key else None,
            "rehandle_count": 0,
            "delivered_at": delivered_at,
            "closed_at": closed_at,
            "published": published,
            "created_at": created,
            "updated_at": closed_at or delivered_at or assigned_at or submitted or created,
        }
        self.out.add("proposal", row)
        if is_key:  # whose key proposals: the lists of the busiest leader and supervisor
            leader = row["lead_leader_id"]
            self.leader_load[leader] = self.leader_load.get(leader, 0) + 1
            self.supervised_load[supervising] = self.supervised_load.get(supervising, 0) + 1
        events: list[dict] = []

        def event(at, actor, action, frm=None, to=None, assignment=None, detail=None):
            events.append(
                {
                    "at": at,
                    "actor_id": actor,
                    "action": action,
                    "proposal_id": pid,
                    "assignment_id": assignment,
                    "from_status": frm,
                    "to_status": to,
                    "detail": detail,
                }
            )

        event(created, proposer, "create", None, "draft")
        # Signers: the lead, and co-signers.
        cosigners = rng.sample(
            self.members, k=min(len(self.members), rng.choice([0, 0, 1, 1, 2, 3]))
        )
        cosigners = [c for c in cosigners if c != proposer]
        signers = [proposer, *cosigners]
        pending_cosign = status == "submitted" and age < 7
        for position, person in enumerate(signers):
            state = "confirmed"
            if position and pending_cosign and rng.random() < 0.6:
                state = "pending"
            self.out.add(
                "signer",
                {
                    "id": self.next_id("signer"),
                    "proposal_id": pid,
                    "person_id": person,
                    "role": "lead" if position == 0 else "co",
                    "position": position,
                    "state": state,
                    "invited_at": created,
                    "responded_at": submitted if state == "confirmed" else None,
                    "year": year if status != "draft" else None,
                },
            )
            signed[person] = signed.get(person, 0) + 1
        confirmed = signers
        if submitted:
            event(submitted, proposer, "submit", "draft", "submitted")
            for person in cosigners:
                event(submitted + timedelta(hours=rng.uniform(1, 72)), person, "confirm_cosign")
        staff = rng.choice(self.staff)
        if status in ("not_filed", "merged", "converted", "withdrawn") and submitted:
            action = {"not_filed": "reject", "merged": "merge", "converted": "convert"}.get(
                status, "withdraw"
            )
            event(
                reviewed, proposer if status == "withdrawn" else staff, action, "submitted", status
            )
        if filed:
            event(reviewed, staff, "file", "submitted", "filed", detail={"number": number})
        lead_unit = None
        lead_assignment = None
        if assigned_at is not None:
            event(assigned_at, staff, "assign", "filed", "assigned")
            units = rng.choices(self.handling_units, weights=self.unit_weights, k=3)
            lead_unit, co_units = units[0], [u for u in dict.fromkeys(units[1:]) if u != units[0]]
            co_units = co_units[: rng.choice([0, 0, 1, 2])]
            assigned_day = assigned_at.astimezone(TZ).date()
            adjust = self.add_workdays(assigned_day, 5)
            if rng.random() < 0.03:  # an earlier lead unit asked for adjustment and was moved
                first = self.assignment(
                    pid,
                    year,
                    rng.choice(self.handling_units),
                    "lead",
                    "reassigned",
                    assigned_at,
                    due,
                    adjust,
                    staff,
                    None,
                )
                event(assigned_at, staff, "assignment_create", assignment=first)
                event(
                    assigned_at + timedelta(days=2),
                    None,
                    "assignment_reassign",
                    "adjustment_requested",
                    "reassigned",
                    assignment=first,
                )
            lead_status, co_status = self.assignment_states(status, assigned_at, adjust)
            handler = (self.handlers.get(lead_unit) or [None])[0]
            accepted = (
                assigned_at + timedelta(days=rng.uniform(0.5, 4))
                if lead_status != "pending"
                else None
            )
            lead_assignment = self.assignment(
                pid,
                year,
                lead_unit,
                "lead",
                lead_status,
                assigned_at,
                due,
                adjust,
                staff,
                accepted and handler,
            )
            unit_load[lead_unit] = unit_load.get(lead_unit, 0) + 1
            event(assigned_at, staff, "assignment_create", assignment=lead_assignment)
            if accepted:
                event(
                    accepted, handler, "assignment_accept", "pending", "accepted", lead_assignment
                )
            for unit in co_units:
                co_due = min(self.cal.add_months(assigned_day, 1), due)
                co = self.assignment(
                    pid,
                    year,
                    unit,
                    "co",
                    co_status,
                    assigned_at,
                    co_due,
                    adjust,
                    staff,
                    accepted and (self.handlers.get(unit) or [None])[0],
                )
                unit_load[unit] = unit_load.get(unit, 0) + 1
                event(assigned_at, staff, "assignment_create", assignment=co)
                if co_status in ("opinion_given", "done"):
                    event(
                        assigned_at + timedelta(days=20),
                        None,
                        "assignment_give_opinion",
                        "accepted",
                        "opinion_given",
                        co,
                    )
            if rng.random() < 0.02:
                event(
                    assigned_at + timedelta(days=30),
                    staff,
                    "assignment_extend",
                    assignment=lead_assignment,
                )
            if (
                lead_status != "pending"
                and (age > 30 or status != "assigned")
                and rng.random() < 0.85
            ):
                contact_day = (
                    (assigned_at + timedelta(days=rng.uniform(5, 25))).astimezone(TZ).date()
                )
                self.out.add(
                    "contact_record",
                    {
                        "id": self.next_id("contact_record"),
                        "assignment_id": lead_assignment,
                        "proposal_id": pid,
                        "method": rng.choice(["phone", "visit", "meeting", "online"]),
                        "contact_date": contact_day,
                        "summary": "电话联系提案人，听取意见建议。",
                        "recorded_by": handler or staff,
                        "created_at": assigned_at + timedelta(days=25),
                    },
                )
                event(
                    assigned_at + timedelta(days=25),
                    handler,
                    "assignment_record_contact",
                    assignment=lead_assignment,
                )
        reply_id = None
        if status in ("replied", "delivered", "closed"):
            replied_at = (
                (delivered_at - timedelta(days=rng.uniform(2, 8)))
                if delivered_at
                else (assigned_at + timedelta(days=rng.uniform(60, 85)))
            )
            if replied_at > now:
                replied_at = now - timedelta(hours=2)
            versions = 2 if status != "replied" and rng.random() < 0.1 else 1
            for version in range(1, versions + 1):
                final = version == versions
                reply_id = self.next_id("reply")
                rstatus = (
                    "submitted" if status == "replied" else ("approved" if final else "returned")
                )
                self.out.add(
                    "reply",
                    {
                        "id": reply_id,
                        "proposal_id": pid,
                        "assignment_id": lead_assignment,
                        "version": version,
                        "round": 1,
                        "reply_class": rng.choice("ABC"),
                        "proposed_class": rng.choice("ABC"),
                        "title": f"关于第{number}号提案的答复",
                        "body": f"您提出的关于{place}{topic}的建议收悉，现答复如下：" * 3,
                        "contact_person": "经办人",
                        "contact_phone": "0839-8620101",
                        "signing_unit": "承办单位",
                        "reply_date": replied_at.astimezone(TZ).date(),
                        "status": rstatus,
                        "submitted_by": (self.handlers.get(lead_unit) or [staff])[0],
                        "submitted_at": replied_at,
                        "reviewed_by": staff if rstatus != "submitted" else None,
                        "reviewed_at": delivered_at if rstatus != "submitted" else None,
                        "review_comment": None,
                    },
                )
                event(replied_at, None, "submit_reply", "assigned", "replied")
                if rstatus == "returned":
                    event(
                        replied_at + timedelta(days=1),
                        staff,
                        "return_reply",
                        "replied",
                        "assigned",
                    )
            if delivered_at is not None:
                event(delivered_at, staff, "approve_reply", "replied", "delivered")
        if delivered_at is not None and reply_id is not None:
            for person in confirmed:
                if status == "closed" or rng.random() < 0.5:
                    not_given = status == "closed" and rng.random() < 0.05
                    rated_at = min(delivered_at + timedelta(days=rng.uniform(1, 14)), now)
                    self.out.add(
                        "rating",
                        {
                            "id": self.next_id("rating"),
                            "proposal_id": pid,
                            "reply_id": reply_id,
                            "person_id": person,
                            "work_rating": None
                            if not_given
                            else rng.choice(["satisfied", "basic"]),
                            "result_rating": None
                            if not_given
                            else rng.choice(["satisfied", "basic", "unsatisfied"]),
                            "feedback": None,
                            "not_given": not_given,
                            "rated_at": rated_at,
                        },
                    )
                    event(
                        rated_at,
                        None if not_given else person,
                        "rating_not_given" if not_given else "rate",
                    )
        if closed_at is not None:
            event(closed_at, staff, "close", "delivered", "closed")
        if published:
            event(delivered_at + timedelta(days=30), None, "publish")
        # Draft edits before submission bring the trail to its share of the audit log.
        end = submitted or now
        while len(events) < quota:
            at = created + (end - created) * rng.random()
            events.insert(
                1,
                {
                    **events[0],
                    "at": at,
                    "action": "edit_draft",
                    "from_status": None,
                    "to_status": None,
                },
            )
        events.sort(key=lambda e: e["at"])
        for e in events:
            self.out.add("audit_event", {"id": self.next_id("audit_event"), **e})
        # Notices that went out about it: the receipt, staff's queue, the unit's assignment.
        if submitted:
            notices = [
                (proposer, "submitted_receipt", submitted),
                (staff, "review_queue", submitted),
            ]
            if assigned_at is not None:
                for person in self.handlers.get(lead_unit, [])[:1]:
                    notices.append((person, "assigned", assigned_at))
            for person, kind, at in notices:
                self.out.add(
                    "notice",
                    {
                        "id": self.next_id("notice"),
                        "person_id": person,
                        "kind": kind,
                        "text": f"关于{place}{topic}的建议：{kind}",
                        "message": None,
                        "actions": None,
                        "idempotency_key": f"{kind}:{pid}:{person}",
                        "not_before": at,
                        "urgent": False,
                        "state": "sent",
                        "attempts": 1,
                        "last_error": None,
                        "proposal_id": pid,
                        "created_at": at,
                        "sent_at": at + timedelta(seconds=2),
                    },
                )
        return len(events), year, number or 0

    def assignment_states(
        self, status: str, assigned_at: datetime, adjust: date
    ) -> tuple[str, str]:
        rng = self.rng
        if status == "assigned":
            if self.now.astimezone(TZ).date() <= adjust:
                return ("pending" if rng.random() < 0.7 else "accepted"), "pending"
            r = rng.random()
            lead = "adjustment_requested" if r < 0.02 else "accepted"
            return lead, rng.choice(["accepted", "opinion_given"])
        if status == "replied":
            return "replied", "opinion_given"
        return "done", "done"

    def assignment(
        self, pid, year, unit, role, status, assigned_at, due, adjust, staff, accepted_by
    ) -> int:
        aid = self.next_id("assignment")
        self.out.add(
            "assignment",
            {
                "id": aid,
                "proposal_id": pid,
                "unit_id": unit,
                "year": year,
                "role": role,
                "status": status,
                "assigned_at": assigned_at,
                "assigned_by": staff,
                "due_date": due,
                "adjust_deadline": adjust,
                "accepted_at": assigned_at + timedelta(days=1) if accepted_by else None,
                "accepted_by": accepted_by,
                "adjustment_reason": "不属于本单位职责"
                if status in ("adjustment_requested", "reassigned")
                else None,
                "adjustment_requested_at": assigned_at + timedelta(days=1)
                if status in ("adjustment_requested", "reassigned")
                else None,
                "adjustment_requested_by": None,
                "adjustment_decision": None,
                "opinion": "同意主办单位意见。" if status in ("opinion_given",) else None,
                "opinion_at": assigned_at + timedelta(days=20)
                if status == "opinion_given"
                else None,
                "opinion_by": None,
                "ended_at": None
                if status not in ("done", "reassigned")
                else assigned_at + timedelta(days=90),
            },
        )
        return aid


def generate(db: Database, spec: Spec, now: datetime | None = None) -> Generated:
    """Fill an empty, migrated database; returns what was made."""
    start = time.perf_counter()
    gen = Generator(db, spec, now or reference_now())
    gen.roster()
    gen.proposals()
    gen.out.close()
    info = gen.info
    info.seconds = time.perf_counter() - start
    start = time.perf_counter()
    settle(db, info.now)
    info.settle_seconds = time.perf_counter() - start
    info.rows = dict(row_counts(db))
    return info


def settle(db: Database, now: datetime) -> None:
    """Bring the history to where a running bot would have left it: one round of every sweep
    on the previous working day (ratings not given recorded, replies published, reminders and
    escalations told…), committed, its notices counted as sent."""
    from bench.bots import bench_rules
    from storage.models import Notice
    from workflow import sweeps
    from workflow.core import Workflow

    wf = Workflow(rules=bench_rules())
    local = now.astimezone(TZ)
    day = wf.calendar.previous_workday(local.date())
    then = datetime.combine(day, local.timetz()).astimezone(UTC)
    with db.session() as session:
        ctx = wf.ctx(session, None)
        ctx.now = then
        for fn in sweeps.SWEEPS.values():
            with session.begin_nested():
                fn(ctx)
    with db.session() as session:
        session.execute(
            sql_update(Notice)
            .where(Notice.state == "pending")
            .values(state="sent", attempts=1, sent_at=then)
        )


def row_counts(db: Database) -> Iterator[tuple[str, int]]:
    with db.engine.connect() as conn:
        for name in ORDER:
            yield name, conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
