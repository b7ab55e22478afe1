"""``proposalbot demo``: a sample roster and one sample proposal through its whole life.

Everything goes through the workflow services, one transaction per step, on a clock that
starts seven weeks ago and moves forward as the work would; the printed transcript shows who
did what and who was told, and the record is printed at the end as a member sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from sqlmodel import col, func, select

from bot.app import App
from storage.clock import utcnow
from storage.models import Notice, Person, Proposal, Unit
from workflow import assignments, proposals, replies
from workflow.core import Workflow, fmt_time
from workflow.record import render_record
from workflow.roles import format_roles

UNITS = [
    ("区住房和城乡建设局", "区住建局", "handling"),
    ("区市场监督管理局", "区市场监管局", "handling"),
    ("区财政局", None, "handling"),
    ("区政府督查室", "督查室", "supervising"),
]

# name, phone, roles, unit, sector, title
PEOPLE = [
    ("秦岚", "13900000101", "member", None, "九三学社", None),
    ("魏东", "13900000102", "member", None, "经济界", None),
    ("沈佳", "13900000103", "staff", None, None, "提案委员会科员"),
    ("韩冰", "13900000104", "handler", "区住房和城乡建设局", None, "物业科科长"),
    ("杜明", "13900000105", "handler", "区市场监督管理局", None, "特种设备科科长"),
    ("袁静", "13900000106", "supervisor", "区政府督查室", None, "督查专员"),
    ("孔令文", "13900000107", "leader", None, None, "副区长"),
]

TITLE = "关于加快老旧小区加装电梯的建议"
ANALYSIS = (
    "我区建成于上世纪九十年代的多层住宅有一百余栋，老年住户比例高，上下楼困难。\n"
    "加装电梯推进缓慢：一是低层住户顾虑采光和噪声，意见难统一；二是审批涉及规划、"
    "住建、市场监管等多个部门，材料多、周期长；三是资金分摊办法不明确，居民观望。"
)
SUGGESTIONS = (
    "1、由街道牵头建立协商机制，推广低层住户补偿的成功做法。\n"
    "2、实行联合审批，一次受理、并联办理，公布办理时限。\n"
    "3、出台财政补贴和公积金提取支持政策，明确分摊参考标准。"
)
REPLY_BODY = (
    "您提出的《关于加快老旧小区加装电梯的建议》收悉，经会同区市场监管局研究，现答复如下：\n"
    "一、今年已在三个街道建立加装电梯协商议事机制，由社区组织住户协商，形成补偿参考方案。\n"
    "二、我局牵头制定联合审批流程，规划、施工许可和特种设备使用登记实行一窗受理，"
    "办理时限由六十个工作日压缩至二十个工作日。\n"
    "三、区财政每台补贴十五万元的办法已报区政府审定，公积金提取政策正在与市公积金中心对接。\n"
    "感谢您对城市更新工作的关心和支持。"
)


@dataclass
class DemoClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def days(self, n: float, hour: int | None = None) -> None:
        self.now += timedelta(days=n)
        if hour is not None:  # local hour in UTC+8
            self.now = self.now.replace(hour=(hour - 8) % 24, minute=0, second=0, microsecond=0)


def ensure_roster(app: App) -> dict[str, int]:
    """Create the sample units and people once; later runs reuse them (matched by phone)."""
    ids: dict[str, int] = {}
    with app.db.session() as session:
        for name, short, kind in UNITS:
            unit = session.exec(select(Unit).where(Unit.name == name)).first()
            if unit is None:
                unit = Unit(name=name, short_name=short, kind=kind)
                session.add(unit)
                session.flush()
            ids[name] = unit.id
        for name, phone, roles, unit_name, sector, title in PEOPLE:
            person = session.exec(select(Person).where(Person.phone == phone)).first()
            if person is None:
                person = Person(
                    name=name,
                    phone=phone,
                    roles=roles,
                    unit_id=ids.get(unit_name) if unit_name else None,
                    sector=sector,
                    title=title,
                )
                session.add(person)
                session.flush()
            ids[name] = person.id
    return ids


def run_demo(app: App, out: Console) -> int:
    ids = ensure_roster(app)
    out.rule("示例名册")
    with app.db.read_session() as session:
        for name, *_ in PEOPLE:
            person = session.get(Person, ids[name])
            unit = session.get(Unit, person.unit_id) if person.unit_id else None
            extra = "，".join(x for x in (unit.name if unit else None, person.title) if x)
            out.print(
                f"  {person.name}（{format_roles(person.roles)}{'，' + extra if extra else ''}）"
            )

    clock = DemoClock(utcnow() - timedelta(days=49))
    clock.days(0, hour=9)
    wf = Workflow(rules=app.workflow.rules, calendar=app.workflow.calendar, clock=clock)
    with app.db.read_session() as session:
        seen = session.exec(select(func.max(Notice.id))).one() or 0

    def step(who: str, what: str, fn: Callable, *args, **kwargs):
        nonlocal seen
        with app.db.session() as session:
            result = fn(wf.ctx(session, ids[who]), *args, **kwargs)
            session.flush()
            ctx = wf.ctx(session, None)
            out.print(f"[bold]{fmt_time(ctx, clock.now)}[/bold]  {who}：{what}")
            for notice in session.exec(
                select(Notice).where(Notice.id > seen).order_by(col(Notice.id))
            ):
                seen = notice.id
                name = session.get(Person, notice.person_id).name
                buttons = "  " + " ".join(f"[{a['label']}]" for a in notice.actions or [])
                out.print(f"    → 通知{name}：{notice.text}{buttons if notice.actions else ''}")
        return result

    out.rule("一件提案的全过程")
    draft = step(
        "秦岚",
        f"起草提案《{TITLE}》",
        proposals.create_draft,
        title=TITLE,
        field="城乡建设",
        analysis=ANALYSIS,
        suggestions=SUGGESTIONS,
        suggested_unit="区住房和城乡建设局",
    )
    pid = draft.id
    step("秦岚", "邀请魏东委员联名", proposals.invite_cosigner, pid, ids["魏东"])
    clock.days(0.1)
    step("秦岚", "提交提案", proposals.submit, pid)
    clock.days(0.2)
    step("魏东", "确认联名", proposals.confirm_cosign, pid)
    clock.days(1, hour=10)
    filed = step("沈佳", "审查：立案", proposals.file_proposal, pid)
    clock.days(0.1)
    made = step(
        "沈佳",
        "交办：主办区住建局，协办区市场监管局，列为重点提案",
        assignments.assign,
        pid,
        lead_unit_id=ids["区住房和城乡建设局"],
        co_unit_ids=[ids["区市场监督管理局"]],
        is_key=True,
        supervising_unit_id=ids["区政府督查室"],
        lead_leader_id=ids["孔令文"],
    )
    lead, co = made[0].id, made[1].id
    clock.days(1, hour=9)
    step("韩冰", "签收交办", assignments.accept, lead)
    step("杜明", "签收协办", assignments.accept, co)
    clock.days(6, hour=15)
    step(
        "韩冰",
        "记录与提案人面商",
        assignments.record_contact,
        lead,
        method="meeting",
        contact_date=clock.now.astimezone(wf.rules.tz).date(),
        summary="到秦岚委员所在社区座谈，听取加装电梯的具体意见。",
    )
    clock.days(8, hour=11)
    step(
        "杜明",
        "提出协办意见",
        assignments.give_opinion,
        co,
        "特种设备使用登记可与竣工验收同步办理，我局安排专人对接。",
    )
    clock.days(13, hour=16)
    first = step(
        "韩冰",
        "提交答复（B类）",
        replies.submit_reply,
        lead,
        reply_class="B",
        body=REPLY_BODY,
        contact_person="韩冰",
        contact_phone="0839-8620301",
    )
    clock.days(1, hour=10)
    step(
        "袁静",
        "督办审核：退回，要求写明补贴落实时间",
        replies.return_reply,
        first.id,
        "请写明财政补贴办法的出台时间。",
    )
    clock.days(2, hour=10)
    second = step(
        "韩冰",
        "修改后重新提交答复",
        replies.submit_reply,
        lead,
        reply_class="B",
        body=REPLY_BODY.replace("已报区政府审定", "已报区政府审定，将于下月出台"),
        contact_person="韩冰",
        contact_phone="0839-8620301",
    )
    clock.days(1, hour=9)
    step("沈佳", "督办审核：通过", replies.approve_reply, second.id)
    clock.days(2, hour=20)
    step("魏东", "评价：满意", replies.rate, pid, work="satisfied")
    clock.days(0.5, hour=8)
    step(
        "秦岚",
        "评价：满意",
        replies.rate,
        pid,
        work="satisfied",
        feedback="希望补贴政策尽快出台。",
    )

    out.rule(f"提案记录（{filed.year}年度第{filed.number}号，秦岚委员所见）")
    with app.db.read_session() as session:
        ctx = wf.ctx(session, ids["秦岚"])
        out.print(render_record(ctx, session.get(Proposal, pid), timeline=True), markup=False)
    out.rule()
    out.print(
        f"示例数据已写入 {app.db.engine.url.render_as_string(hide_password=True)}。"
        f"可以试试：proposalbot list，proposalbot show {filed.number}"
    )
    return pid
