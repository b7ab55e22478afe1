"""``proposalbot demo``: a sample roster and one sample proposal through its whole life, played
through the conversations.

Every roster person gets the console-channel account that ``proposalbot chat --as`` uses and
does their part the way they would in the chat: typing text, tapping the buttons the bot
offers, and tapping the buttons on the notices they receive. Each event goes to the
conversation engine (one transaction each) on a clock that starts seven weeks ago and moves
forward as the work would. The transcript shows who typed or tapped what, the bot's answers
(long ones cut to their first lines) and every notice as it is dispatched; the record is
printed in full at the end, as the member sees it.

If a step no longer offers the button the script taps (the flows changed), the demo stops
with a one-line error naming the step instead of carrying on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from rich.cells import cell_len
from rich.console import Console
from sqlmodel import col, select

from bot.app import App
from bot.console import CHANNEL
from bot.outbox import claim_for_person, render_notice
from handlers.flows import build_engine
from handlers.i18n import gettext
from handlers.messages import Event, Out, Sender, render_numbered
from storage.clock import utcnow
from storage.models import Person, Proposal, Unit, existing, pk
from workflow.core import Workflow
from workflow.errors import WorkflowError
from workflow.invites import bind_account
from workflow.numbering import proposal_number
from workflow.record import render_record
from workflow.roles import format_roles
from workflow.statuses import ProposalStatus

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
ANALYSIS = [  # sent as two messages
    "我区建成于上世纪九十年代的多层住宅有一百余栋，老年住户比例高，上下楼困难。",
    "加装电梯推进缓慢：一是低层住户顾虑采光和噪声，意见难统一；二是审批涉及规划、"
    "住建、市场监管等多个部门，材料多、周期长；三是资金分摊办法不明确，居民观望。",
]
SUGGESTIONS = (
    "1、由街道牵头建立协商机制，推广低层住户补偿的成功做法。\n"
    "2、实行联合审批，一次受理、并联办理，公布办理时限。\n"
    "3、出台财政补贴和公积金提取支持政策，明确分摊参考标准。"
)
CONTACT = "到秦岚委员所在社区座谈，听取加装电梯的具体意见。"
OPINION = "特种设备使用登记可与竣工验收同步办理，我局安排专人对接。"
REPLY_BODY = [  # sent as two messages
    "您提出的《关于加快老旧小区加装电梯的建议》收悉，经会同区市场监管局研究，现答复如下：\n"
    "一、今年已在三个街道建立加装电梯协商议事机制，由社区组织住户协商，形成补偿参考方案。\n"
    "二、我局牵头制定联合审批流程，规划、施工许可和特种设备使用登记实行一窗受理，"
    "办理时限由六十个工作日压缩至二十个工作日。",
    "三、区财政每台补贴十五万元的办法已报区政府审定，公积金提取政策正在与市公积金中心对接。\n"
    "感谢您对城市更新工作的关心和支持。",
]
RETURN_COMMENT = "请写明财政补贴办法的出台时间。"
REPLY_ADDENDUM = "补充：区财政加装电梯补贴办法将于下月出台，届时书面告知您。"
FEEDBACK = "希望补贴政策尽快出台。"

WIDTH = 96  # display cells of a transcript line of the bot; longer lines are cut
SHORT = 16  # display cells under which a line says too little alone
CHAINED = 26  # display cells of each tap in a line of several
TYPED = 30  # characters of a typed message shown in the transcript
STEP = timedelta(minutes=1)  # the time one event takes
# What the engine says when an event did not do what the script meant it to.
FAILED = (
    "抱歉，处理时出了问题",
    "这个按钮已过期",
    "这个选项无效",
    "无法识别这个操作",
    "这一步需要：",
    "内容不能为空",
)


class DemoStepFailed(WorkflowError):
    """A step of the demo did not go as scripted: the conversations changed."""

    code = "demo_step_failed"


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
            ids[name] = pk(unit)
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
            ids[name] = pk(person)
    return ids


# ---------------------------------------------------------------- the stage


def clip(text: str, width: int = WIDTH) -> str:
    """``text`` cut to ``width`` display cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    while cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True)
class Value:
    """A button picked by the value its payload carries (a list item), not by its label."""

    value: str


@dataclass
class Actor:
    name: str
    person_id: int
    sender: Sender
    last: list[Out] = field(default_factory=list)  # the bot's answer to their last event
    heard: bool = False  # whether the transcript has shown them an answer yet
    notice_actions: list[dict] = field(default_factory=list)  # buttons of notices received


class Stage:
    """The cast talking to the engine, and the transcript printed as they do."""

    def __init__(self, app: App, out: Console, clock: DemoClock, ids: dict[str, int]) -> None:
        self.app = app
        self.out = out
        self.clock = clock
        self.wf = Workflow(rules=app.workflow.rules, calendar=app.workflow.calendar, clock=clock)
        self.engine = build_engine(app.db, self.wf, app.store)
        self.steps = 0
        self.buttons_shown: set[tuple[str, ...]] = set()
        self.tail: tuple[str, list[str], list] | None = None  # the last event's unprinted end
        self.cast: dict[str, Actor] = {}
        with app.db.session() as session:
            ctx = self.wf.ctx(session, None)
            for name, *_ in PEOPLE:
                sender = Sender(CHANNEL, f"console-{ids[name]}", name)
                bind_account(ctx, ids[name], CHANNEL, sender.external_id)
                self.cast[name] = Actor(name, ids[name], sender)
        for actor in self.cast.values():
            # Opening the console chat sends /menu, as `proposalbot chat` does: whatever an
            # earlier run left open is closed, and every run starts from the same place.
            actor.last = self.engine.handle(actor.sender, Event.of_text("/menu"))

    # ------------------------------------------------------------- printing
    def line(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False)

    def scene(self, title: str) -> None:
        self.flush()
        self.out.rule(title)

    def stamp(self) -> str:
        local = self.clock.now.astimezone(self.wf.rules.tz)
        return f"{local.month}月{local.day}日 {local:%H:%M}"

    def show(self, outs: list[Out], before: list[Out]) -> list[str]:
        """The bot's answer, shortened: of each message, the first line that the answer
        before it did not say already (two when it is short). Returns the numbered buttons
        of the last question, which are printed only if the person picks one next."""
        said_before = {line for out in before for line in out.text.split("\n")}
        asking: list[str] = []
        for out in outs:
            rendered = render_numbered(out).split("\n")
            buttons = rendered[len(rendered) - len(out.choices) :] if out.choices else []
            asking = buttons or asking
            lines = [t.strip() for t in rendered[: len(rendered) - len(buttons)] if t.strip()]
            new = [t for t in lines if t not in said_before]
            shown = new[:2] if new and cell_len(new[0]) < SHORT else new[:1]
            for n, text in enumerate(shown):
                more = n == len(shown) - 1 and len(lines) > len(shown)
                self.line("    " + clip(text + (" ⋯" if more else ""), WIDTH - 4))
        return asking

    def flush(self, who: str | None = None, tapping: bool = False) -> None:
        """End the last event's output: its buttons, if ``who`` made it and now taps one of
        them (a choice among several, not shown before), then the notices it caused."""
        if self.tail is None:
            return
        made_by, buttons, notices = self.tail
        self.tail = None
        fresh = len(buttons) > 1 and tuple(buttons) not in self.buttons_shown
        if made_by == who and tapping and fresh:
            self.buttons_shown.add(tuple(buttons))
            self.buttons(buttons)
        for actor, text, actions in notices:
            labels = "".join(f" [{a['label']}]" for a in actions)
            self.line(f"    🔔 → {actor.name}：{' '.join(text.split())}{labels}")

    def buttons(self, labels: list[str]) -> None:
        row = ""
        for label in labels:
            if row and cell_len(f"{row}  {label}") > WIDTH - 6:
                self.line("      " + row)
                row = ""
            row = f"{row}  {label}" if row else label
        self.line("      " + row)

    # ------------------------------------------------------------- events
    def send(self, who: str, text: str, *, expect: str | None = None) -> None:
        """``who`` types ``text`` (or a /command)."""
        first = text.split("\n", 1)[0]
        shown = first if len(first) <= TYPED and first == text else first[:TYPED] + "…"
        self._play(who, [lambda: (Event.of_text(text, numbered=True), shown)], expect, False)

    def tap(self, who: str, *buttons: str | Value, expect: str | None = None) -> None:
        """``who`` taps these buttons one after the other, each in the answer to the one
        before: a label (or the start of one), or the value its payload carries. Each tap is
        an event; the transcript shows them on one line, with the answer to the last."""
        moves = [functools.partial(self._button, who, b) for b in buttons]
        self._play(who, moves, expect, True)

    def tap_notice(self, who: str, label: str, *, expect: str | None = None) -> None:
        """``who`` taps the button ``label`` on the latest notice that has one."""

        def move() -> tuple[Event, str]:
            actions = reversed(self.cast[who].notice_actions)
            action = next((a for a in actions if a["label"] == label), None)
            if action is None:
                self.fail(who, f"🔔[{label}]", f"收到的通知上没有「{label}」按钮")
            return Event(kind="choice", payload=action["payload"]), f"🔔[{label}]"

        self._play(who, [move], expect, False)

    def offers(self, who: str, label: str) -> bool:
        return any(c.label == label for out in self.cast[who].last for c in out.choices)

    def _button(self, who: str, button: str | Value) -> tuple[Event, str]:
        choices = [c for out in self.cast[who].last for c in out.choices]
        if isinstance(button, Value):
            found = [c for c in choices if c.payload.partition("|")[2] == button.value]
            wanted = button.value
        else:
            found = [c for c in choices if c.label == button]
            found = found or [c for c in choices if c.label.startswith(button)]
            wanted = button
        if not found:
            have = "、".join(c.label for c in choices[:8]) or "无"
            self.fail(who, f"[{wanted}]", f"没有「{wanted}」这个按钮（现有按钮：{have}）")
        return Event(kind="choice", payload=found[0].payload), f"[{found[0].label}]"

    def _play(self, who: str, moves: list, expect: str | None, tapping: bool) -> None:
        self.flush(who, tapping)
        actor = self.cast[who]
        stamp, shown, notices = self.stamp(), [], []
        for move in moves:
            self.steps += 1
            event, what = move()
            shown.append(what)
            before = actor.last if actor.heard else []  # the menu it opened with is unseen
            actor.last = self.engine.handle(actor.sender, event)
            actor.heard = True
            said = "\n".join(out.text for out in actor.last)
            if any(marker in said for marker in FAILED):
                self.fail(who, what, f"机器人回答「{clip(said.splitlines()[0], 60)}」")
            notices += self.claim()
            self.clock.now += STEP
        if expect is not None and expect not in said:
            self.fail(who, shown[-1], f"机器人没有说「{expect}」")
        if len(shown) > 1:  # several taps on one line: each label cut short, brackets kept
            shown = [
                f"{w[0]}{clip(w[1:-1], CHAINED)}{w[-1]}" if w[-1] == "]" else w for w in shown
            ]
        self.line(f"{stamp}  {who} › {' → '.join(shown)}")
        self.tail = (who, self.show(actor.last, before), notices)

    def fail(self, who: str, shown: str, what: str) -> NoReturn:
        raise DemoStepFailed(
            f"演示在第 {self.steps} 步（{who} › {shown}）中断：{what}。"
            "对话流程可能已经改变，请更新 bot/demo.py。"
        )

    def claim(self) -> list[tuple[Actor, str, list[dict]]]:
        """Hand each person their pending notices (marked sent), in the order they were made,
        each in the person's language."""
        sent = []
        with self.app.db.session() as session:
            for actor in self.cast.values():
                locale = existing(session, Person, actor.person_id).locale
                for notice in claim_for_person(session, actor.person_id, self.clock.now):
                    text, actions = render_notice(notice, locale)
                    sent.append((pk(notice), actor, text, actions))
        sent.sort(key=lambda row: row[0])
        for _id, actor, _text, actions in sent:
            actor.notice_actions.extend(actions)
        return [(actor, text, actions) for _id, actor, text, actions in sent]

    # ------------------------------------------------------------- the record
    def latest_proposal(self, who: str) -> Proposal:
        with self.app.db.read_session() as session:
            proposal = session.exec(
                select(Proposal)
                .where(Proposal.proposer_id == self.cast[who].person_id)
                .order_by(col(Proposal.id).desc())
            ).first()
        if proposal is None:
            self.fail(who, "…", "没有找到新建的提案")
        return proposal

    def require(self, pid: int, status: ProposalStatus, step: str) -> Proposal:
        with self.app.db.read_session() as session:
            proposal = session.get(Proposal, pid)
        if proposal is None or proposal.status != status:
            now = proposal.status if proposal else "无"
            raise DemoStepFailed(f"演示在「{step}」之后中断：提案状态是 {now}，应为 {status}。")
        return proposal


# ---------------------------------------------------------------- the story


def play(stage: Stage) -> Proposal:
    """One proposal from the first menu tap to the last rating; returns it closed."""
    s, clock = stage, stage.clock

    s.scene("① 秦岚委员在对话中写提案、邀请联名、提交")
    s.send("秦岚", "/menu")
    s.tap("秦岚", "📝 新建提案")
    s.send("秦岚", TITLE, expect="草稿已建立")
    s.tap("秦岚", "委员提案", "城乡建设")
    for part in ANALYSIS:
        s.send("秦岚", part, expect="已记录")
    s.tap("秦岚", "✅ 完成")
    s.send("秦岚", SUGGESTIONS, expect="已记录")
    s.tap("秦岚", "✅ 完成")
    s.send("秦岚", "区住房和城乡建设局")
    s.tap("秦岚", "✅ 完成", "是")  # no attachments; public disclosure
    s.send("秦岚", "魏东", expect="找到")
    s.tap("秦岚", "魏东", expect="加入联名名单")
    s.tap("秦岚", "✅ 完成", expect="请核对提案内容")
    s.tap("秦岚", "📤 提交")
    if s.offers("秦岚", "📤 仍然提交"):  # a proposal like it this year (an earlier demo run)
        s.tap("秦岚", "📤 仍然提交")
    pid = pk(s.require(pk(s.latest_proposal("秦岚")), ProposalStatus.SUBMITTED, "提交"))
    clock.days(0.2)
    s.tap_notice("魏东", "确认联名", expect="您已确认联名")

    s.scene("② 提案委沈佳审查立案，交办主办、协办单位，列为重点提案")
    clock.days(1, hour=10)
    s.tap("沈佳", "🔎 审查队列", Value(f"p:{pid}"))
    s.tap("沈佳", "立案", expect="已立案")
    filed = s.require(pid, ProposalStatus.FILED, "立案")
    number = proposal_number(filed.year, filed.number)
    s.tap("沈佳", "现在交办")
    s.send("沈佳", "住建")  # the unit lists narrow to what is typed
    s.tap("沈佳", "区住房和城乡建设局")
    s.tap("沈佳", "区市场监督管理局", "完成")
    s.tap("沈佳", "使用默认", "是，列为重点提案", "区政府督查室", "孔令文")
    s.tap("沈佳", "确认交办", expect="已交办")

    s.scene("③ 承办单位签收、与委员沟通、提出协办意见")
    clock.days(1, hour=9)
    s.tap_notice("韩冰", "签收", expect="已签收")
    s.tap("杜明", "📥 交办事项", number, "签收", expect="已签收")
    clock.days(6, hour=15)
    s.tap("韩冰", "记录沟通", "座谈面商", "今天")
    s.send("韩冰", CONTACT, expect="沟通情况已记录")
    clock.days(8, hour=11)
    s.tap("杜明", "协办意见")
    s.send("杜明", OPINION)
    s.tap("杜明", "完成", expect="协办意见已送主办单位")

    s.scene("④ 主办单位撰写答复，协办单位会签，督办单位退回一次，修改后重新提交、再会签")
    clock.days(13, hour=16)
    s.tap("韩冰", "撰写答复", "B类")
    for part in REPLY_BODY:
        s.send("韩冰", part)
    s.tap("韩冰", "完成", "使用我的姓名")
    s.send("韩冰", "0839-8620301")
    s.tap("韩冰", "使用「", "今天")
    s.tap("韩冰", "提交审核", expect="正等待协办单位区市场监督管理局会签")
    clock.days(0.1, hour=17)
    s.tap_notice("杜明", "✅ 同意会签", expect="答复已提交审核")
    clock.days(1, hour=10)
    s.tap("袁静", "✅ 答复审核", number, "退回修改")
    s.send("袁静", RETURN_COMMENT, expect="已退回")
    clock.days(2, hour=10)
    s.tap("韩冰", number, "修改答复并重新提交", "B类")
    s.send("韩冰", REPLY_ADDENDUM)
    s.tap("韩冰", "完成", "使用我的姓名", "保留", "使用「", "今天")
    s.tap("韩冰", "提交审核", expect="第2稿")
    clock.days(0.1, hour=17)
    s.tap_notice("杜明", "✅ 同意会签", expect="答复已提交审核")

    s.scene("⑤ 提案委审核通过，送达委员；两位委员一键评价，办结")
    clock.days(1, hour=9)
    s.tap("沈佳", "🏠 返回菜单", "✅ 答复审核", number)
    s.tap("沈佳", "通过", expect="已审核通过")
    clock.days(2, hour=20)
    s.tap_notice("秦岚", "满意", expect="已记录您的评价")
    s.send("秦岚", FEEDBACK, expect=FEEDBACK)
    clock.days(0.5, hour=8)
    s.tap_notice("魏东", "满意", expect="提案已办结")
    s.flush()
    return s.require(pid, ProposalStatus.CLOSED, "评价")


def run_demo(app: App, out: Console) -> int:
    ids = ensure_roster(app)
    out.rule("示例名册（每人绑定一个控制台账号，即 proposalbot chat --as 姓名 所用的）")
    groups: dict[str, list[str]] = {}
    with app.db.read_session() as session:
        for name, *_ in PEOPLE:
            person = existing(session, Person, ids[name])
            unit = session.get(Unit, person.unit_id) if person.unit_id else None
            extra = "".join(x for x in (unit.name if unit else None, person.title) if x)
            who = f"{person.name}（{extra or person.sector}）" if extra or person.sector else name
            groups.setdefault(format_roles(person.roles), []).append(who)
    for roles, people in groups.items():
        out.print(f"  {roles}：{'、'.join(people)}", markup=False)
    out.print(
        "  「时间  人物 › …」是此人发的消息或点的按钮 […]，→ 连起几次接连的点按；", markup=False
    )
    out.print("  缩进的是机器人的回答（只显示开头），🔔 → 是当时发给某人的通知。", markup=False)

    clock = DemoClock(utcnow() - timedelta(days=49))
    clock.days(0, hour=9)
    stage = Stage(app, out, clock, ids)
    proposal = play(stage)

    out.rule(f"提案记录（{proposal_number(proposal.year, proposal.number)}，秦岚委员所见）")
    with app.db.read_session() as session:
        ctx = stage.wf.ctx(session, ids["秦岚"])
        assert ctx.actor is not None  # a context for a person's id acts as that person
        locale = ctx.actor.locale
        record = render_record(
            ctx,
            existing(session, Proposal, pk(proposal)),
            timeline=True,
            gettext=functools.partial(gettext, locale),
            locale=locale,
        )
        out.print(record, markup=False)
    out.rule()
    out.print(
        f"示例数据已写入 {app.db.engine.url.render_as_string(hide_password=True)}。"
        f"可以试试：proposalbot list，proposalbot show {proposal.year}-{proposal.number}，"
        "proposalbot chat --as 秦岚",
        markup=False,
    )
    return pk(proposal)
