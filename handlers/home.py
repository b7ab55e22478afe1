"""Home: binding an account, the menu each role sees, and the commands that work anywhere
(/start, /help, /status N, /lang)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from handlers import unit_history
from handlers.engine import Engine, Flow, Step, Turn
from handlers.i18n import LOCALES, N_
from handlers.messages import Event
from handlers.turns import me
from workflow import invites, queries
from workflow.record import render_record
from workflow.roles import Role
from workflow.roster import normalise_phone

CODE_RE = re.compile(r"^[A-Za-z0-9\- ]{6,16}$")


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str  # message id
    flow: str
    roles: frozenset[Role] | None  # None: anyone bound


MENU: list[MenuItem] = [
    MenuItem("new", N_("📝 新建提案"), "submit", frozenset({Role.MEMBER})),
    MenuItem("drafts", N_("🗂 我的草稿"), "drafts", frozenset({Role.MEMBER})),
    MenuItem("mine", N_("📋 我的提案"), "mine", frozenset({Role.MEMBER})),
    MenuItem("cosign", N_("✍️ 联名邀请"), "cosign", frozenset({Role.MEMBER})),
    MenuItem("review", N_("🔎 审查队列"), "review", frozenset({Role.STAFF})),
    MenuItem("adjust", N_("🔁 调整申请"), "adjustments", frozenset({Role.STAFF})),
    MenuItem("extend", N_("⏳ 延期申请"), "extensions", frozenset({Role.STAFF})),
    MenuItem(
        "replies", N_("✅ 答复审核"), "reply_review", frozenset({Role.STAFF, Role.SUPERVISOR})
    ),
    MenuItem("rehandle", N_("⚠️ 不满意待处理"), "rehandle", frozenset({Role.STAFF})),
    MenuItem("export", N_("📊 导出台账"), "export", frozenset({Role.STAFF})),
    MenuItem("stats", N_("📈 年度统计"), "stats", frozenset({Role.STAFF})),
    MenuItem("inbox", N_("📥 交办事项"), "inbox", frozenset({Role.HANDLER})),
    MenuItem("finished", unit_history.ITEM, "unit_history", frozenset({Role.HANDLER})),
    MenuItem(
        "keys", N_("⭐ 督办的重点提案"), "key_proposals", frozenset({Role.LEADER, Role.SUPERVISOR})
    ),
    MenuItem("status", N_("🔢 查询提案"), "status", None),
    MenuItem("search", N_("🔍 搜索公开提案"), "search", None),
    MenuItem("lang", N_("🌐 语言 Language"), "lang", None),
]


def visible_items(turn: Turn) -> list[MenuItem]:
    return [
        item
        for item in MENU
        if item.flow in turn.engine.flows
        and (item.roles is None or any(turn.has_role(r) for r in item.roles))
    ]


def show_menu(turn: Turn) -> None:
    """Shows the menu of what this person may do."""
    items = visible_items(turn)
    turn.say(
        turn.t("{name}，您好！请选择要办理的事项：", name=me(turn).name),
        [turn.choice(turn.t(item.label), item.key) for item in items],
        columns=2,
    )


def pick_item(turn: Turn, key: str) -> str | None:
    """Starts the flow of the chosen menu item."""
    item = next((i for i in visible_items(turn) if i.key == key), None)
    if item is None:
        turn.say(turn.t("这一项您无权使用。"))
        show_menu(turn)
        return None
    turn.start(item.flow)
    return None


MENU_FLOW = Flow(
    name="menu",
    start="home",
    steps={"home": Step(prompt=show_menu, choice=pick_item, hint=N_("请点选菜单中的一项。"))},
    edges={},
)


# ---------------------------------------------------------------- binding


def unbound(turn: Turn, event: Event) -> None:
    """Someone not yet bound: a code (typed or from /start), or a shared phone number."""
    account = (turn.conv.channel, turn.conv.external_id)
    code = None
    if event.kind == "command":
        name, args = event.command
        code = args if name == "/start" and args else None
    elif event.kind == "text":
        text = unicodedata.normalize("NFKC", event.text).strip()
        if invites.is_code(text):
            code = text
        elif normalise_phone(text) is not None:  # typed, not shared: who it is is unproven
            turn.say(
                turn.t("请点下方按钮分享您的手机号码；直接输入的号码无法证明是您本人的。"),
                expects="contact",
            )
            return
        elif CODE_RE.match(text):
            turn.say(
                turn.t(
                    "这不是邀请码的格式：邀请码是 {n} 位字母和数字（不含 0、O、1、I、L）。"
                    "请核对后重新输入，或点下方按钮分享手机号码。",
                    n=invites.CODE_LENGTH,
                ),
                expects="contact",
            )
            return
    elif event.kind == "contact":
        if not event.contact_is_self:
            turn.say(turn.t("请分享您本人的手机号码，不能分享别人的名片。"))
            return
        person = invites.bind_by_phone(turn.ctx, *account, event.phone or "")
        return welcome(turn, person)
    if code is None:
        turn.say(
            turn.t(
                "欢迎使用提案通！请先绑定身份：发送提案委给您的邀请码，"
                "或点下方按钮分享您在名册登记的手机号。"
            ),
            expects="contact",
        )
        return
    person = invites.redeem_invite(turn.ctx, *account, code)
    welcome(turn, person)


def welcome(turn: Turn, person) -> None:
    turn.person = person
    turn.ctx = turn.engine.workflow.ctx(turn.session, person)
    turn.conv.person_id = person.id
    turn.say(turn.t("绑定成功，{name}！", name=person.name))
    turn.start("menu")


# ---------------------------------------------------------------- commands


def cmd_start(turn: Turn, args: str) -> None:
    if args:
        turn.say(turn.t("您的账号已经绑定，无需再次输入邀请码。"))
    turn.start("menu")


def cmd_help(turn: Turn, args: str) -> None:
    turn.say(
        turn.t(
            "可以使用的命令：\n/menu 返回菜单\n/cancel 取消当前操作（草稿会保留）\n"
            "/status 编号 查询提案，例如 /status 28\n/lang 切换语言\n/help 查看帮助"
        )
    )
    turn.start("menu")


def cmd_status(turn: Turn, args: str) -> None:
    if not args.strip():
        turn.start("status")
        return
    show_status(turn, args.strip())
    turn.start("menu")


def show_status(turn: Turn, text: str) -> None:
    """Shows the record of proposal No. ``text``: this year's (the latest year a proposal
    was filed in), or with its year, "2025-28", "2025年28号"."""
    proposal = queries.find_by_number(turn.session, text)
    turn.say(
        render_record(turn.ctx, proposal, timeline=True, gettext=turn.gettext, locale=turn.locale),
        expects="none",
    )


def ask_status(turn: Turn) -> None:
    turn.say(turn.t("请发送要查询的提案编号，例如 28，或 2025-28。"))


def on_status(turn: Turn, text: str) -> str:
    show_status(turn, text)
    return "shown"


STATUS_FLOW = Flow(
    name="status",
    start="number",
    steps={"number": Step(prompt=ask_status, text=on_status, hint=N_("请发送提案编号。"))},
    edges={("number", "shown"): "END"},
)


def ask_lang(turn: Turn) -> None:
    turn.say(
        turn.t("请选择语言："),
        [turn.choice(label, code) for code, label in LOCALES.items()],
    )


def on_lang(turn: Turn, code: str) -> str:
    person = me(turn)
    person.locale = code
    turn.session.add(person)
    # Said after the change, so in the chosen language.
    # TRANSLATORS: name this catalog's own language, e.g. "Language set to English."
    turn.say(turn.t("语言已设置为中文。"))
    return "set"


LANG_FLOW = Flow(
    name="lang",
    start="pick",
    steps={"pick": Step(prompt=ask_lang, choice=on_lang, hint=N_("请点选一种语言。"))},
    edges={("pick", "set"): "END"},
)


def cmd_lang(turn: Turn, args: str) -> None:
    turn.start("lang")


def install(engine: Engine) -> None:
    for flow in (MENU_FLOW, STATUS_FLOW, LANG_FLOW):
        engine.add_flow(flow)
    engine.menu = lambda turn: turn.start("menu")
    engine.unbound = unbound
    engine.add_command("/start", cmd_start)
    engine.add_command("/help", cmd_help)
    engine.add_command("/status", cmd_status)
    engine.add_command("/lang", cmd_lang)
