"""The people of a benchmark: a roster written straight into the database, the chat clients
that act for them (in-process Bot API or the HTTP fake server), and the submission script each
member follows through the real wizard."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import select

from storage.models import ChannelAccount, Person, Unit
from tests.factories import World, build_world

FIELDS = ["经济建设", "社会事业", "城乡建设", "生态环境", "文化教育", "医疗卫生", "法治建设"]
TOPICS = [
    "加快老旧小区加装电梯",
    "规范校园周边接送车辆停放",
    "完善社区居家养老服务",
    "治理农村生活污水",
    "推进垃圾分类进小区",
    "加强食品安全抽检",
    "扩大普惠托育供给",
    "建设城市绿道慢行系统",
    "提升县域医疗服务能力",
    "保护传统村落风貌",
    "优化营商环境审批流程",
    "支持小微企业融资",
    "改善公交线路衔接",
    "推动中小学课后服务",
    "加强河道生态修复",
    "规范电动自行车充电",
    "完善农贸市场管理",
    "建设社区嵌入式体育设施",
    "推进智慧停车建设",
    "保障新就业形态劳动者权益",
]
UNITS = ["区教育局", "区交通运输局", "区卫生健康委员会", "区住房和城乡建设局", "区生态环境局"]


@dataclass(frozen=True)
class Content:
    title: str
    field: str
    analysis: str
    suggestions: str
    unit: str


def content_for(index: int, seed: int = 7) -> Content:
    """A member's proposal: reproducible, different from the others'."""
    rng = random.Random(seed * 1_000_003 + index)
    topic = rng.choice(TOPICS)
    place = rng.choice(["城东", "城西", "城南", "城北", "开发区", "高新区", "沿江", "山区"])
    return Content(
        title=f"关于{place}{topic}的建议（{index}）",
        field=rng.choice(FIELDS),
        analysis=(
            f"{place}片区{topic}工作推进缓慢，群众反映较多，第{index}号调研点"
            f"有{rng.randint(12, 90)}户居民提出意见，现有措施覆盖不足、资金保障不稳定。"
        ),
        suggestions=(
            f"1、制定{topic}专项方案，明确牵头部门和时间表。\n"
            f"2、每年安排专项资金{rng.randint(50, 500)}万元，接受人大政协监督。"
        ),
        unit=rng.choice(UNITS),
    )


# ---------------------------------------------------------------- the roster


def make_roster(
    db, members: int, *, first_uid: int = 700_000
) -> tuple[World, list[tuple[int, int]]]:
    """The sample world plus ``members`` members bound on Telegram; [(person id, user id)]."""
    with db.session() as session:
        world = build_world(session)
        for name in UNITS:
            if session.exec(select(Unit).where(Unit.name == name)).first() is None:
                session.add(Unit(name=name))
        people = [
            Person(
                name=f"委员{i:05d}",
                phone=f"139{i:08d}",
                roles="member",
                sector="经济界",
            )
            for i in range(members)
        ]
        session.add_all(people)
        session.flush()
        bound = []
        for i, person in enumerate(people):
            uid = first_uid + i
            session.add(
                ChannelAccount(person_id=person.id, channel="telegram", external_id=str(uid))
            )
            bound.append((person.id, uid))
    return world, bound


# ---------------------------------------------------------------- chat clients


class Client(Protocol):
    async def send(self, text: str) -> float: ...  # the moment the update was sent

    async def tap(self, label: str) -> float: ...

    async def wait_for(self, expect: str | tuple[str, ...]) -> tuple[float, str]:
        """(the moment the matching message arrived, its text)"""
        ...


class InProcessClient:
    """A person on the in-process Bot API; arrival times are stamped by the API itself."""

    def __init__(self, user, timeout: float = 60.0) -> None:
        self.user = user
        self.timeout = timeout

    async def send(self, text: str) -> float:
        t = time.perf_counter()
        await self.user.send(text)
        return t

    async def tap(self, label: str) -> float:
        t = time.perf_counter()
        await self.user.tap(label)
        return t

    async def wait_for(self, expect) -> tuple[float, str]:
        seen = await self.user.wait_for(expect, self.timeout)
        return seen.at, seen.text


class HttpClient:
    """A person on the fake Bot API server (``tests.fake_telegram``) over HTTP."""

    def __init__(self, user, timeout: float = 60.0) -> None:
        self.user = user
        self.timeout = timeout

    async def send(self, text: str) -> float:
        t = time.perf_counter()
        await self.user.send(text)
        return t

    async def tap(self, label: str) -> float:
        t = time.perf_counter()
        await self.user.tap(label)
        return t

    async def wait_for(self, expect) -> tuple[float, str]:
        wanted = (expect,) if isinstance(expect, str) else expect
        message = await self.user.wait_for(
            lambda m: any(w in (m.content or "") for w in wanted), timeout=self.timeout
        )
        return time.perf_counter(), message.content or ""


# ---------------------------------------------------------------- the submission script

RECEIPT = "正在等待提案委审查"
MENU = "请选择要办理的事项"  # the menu follows the receipt, the last message of the answer
SIMILAR = "今年已有"


def submission_steps(c: Content) -> list[tuple[str, str, str | tuple[str, ...]]]:
    """(send | tap, text or button, what the bot says next) from the menu to the receipt."""
    return [
        ("send", "/menu", MENU),
        ("tap", "📝 新建提案", "请发送提案标题"),
        ("send", c.title, "请选择提案类别"),
        ("tap", "委员提案", "请选择提案所属领域"),
        ("tap", c.field, "请写「存在问题」"),
        ("send", c.analysis, "已记录"),
        ("tap", "✅ 完成", "请写「建议」"),
        ("send", c.suggestions, "已记录"),
        ("tap", "✅ 完成", "请填写建议承办单位"),
        ("send", c.unit, "没有附件或已传完"),
        ("tap", "✅ 完成", "是否同意公开"),
        ("tap", "是", "如需邀请其他委员联名"),
        ("tap", "✅ 完成", "请核对提案内容"),
        # Similar proposals of the year may be shown first; then 仍然提交.
        ("tap", "📤 提交", (MENU, SIMILAR)),
    ]


async def one_step(client: Client, kind: str, arg: str, expect) -> tuple[float, str]:
    """Act, wait for the answer; (latency in seconds, what was said)."""
    start = await (client.send(arg) if kind == "send" else client.tap(arg))
    arrived, text = await client.wait_for(expect)
    return arrived - start, text


async def submit_proposal(client: Client, content: Content, think=None) -> list[float]:
    """The whole submission; the latency of each update. ``think()`` → seconds to wait
    before each action (a person reading and typing), or None for none."""
    import asyncio

    latencies = []
    for kind, arg, expect in submission_steps(content):
        if think is not None:
            await asyncio.sleep(think())
        latency, text = await one_step(client, kind, arg, expect)
        latencies.append(latency)
    if SIMILAR in text:  # the similar proposals were shown: submit anyway
        if think is not None:
            await asyncio.sleep(think())
        latency, _ = await one_step(client, "tap", "📤 仍然提交", MENU)
        latencies.append(latency)
    return latencies


async def echo_messages(client: Client, uid: int, count: int, think=None) -> list[float]:
    import asyncio

    latencies = []
    for i in range(count):
        if think is not None:
            await asyncio.sleep(think())
        text = f"echo {uid} {i} 你好"
        latency, _ = await one_step(client, "send", text, text)
        latencies.append(latency)
    return latencies
