"""Committee staff's review queue in the chat: 立案 / 不予立案 / 并案 / 转为意见建议, and
the 交办 wizard (lead and co-handling units, due date, key-proposal supervision).

Every change goes through the workflow services, which check roles and relations and write
the audit events and notices; the lists here only offer what the person may act on.
"""

from __future__ import annotations

from datetime import date

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.staff_common import (
    BACK,
    DATE_HINT,
    SHOW_ALL,
    STAFF,
    TO_MENU,
    USE_DEFAULT,
    both_numbers,
    browse,
    chosen_proposal,
    day_text,
    forget,
    goto,
    install_flows,
    leader_label,
    merge_targets,
    number_of,
    paged,
    pending_cosigners,
    proposal_matches,
    proposal_title,
    proposer_of,
    read_date,
    review_queue,
    search_list,
    short,
    the_proposal,
    told_proposer,
    told_units,
    unit_picker,
    words,
)
from storage.models import Person, Proposal, existing, pk
from workflow import assignments, proposals
from workflow.assignments import due_date_or_default, unit_name
from workflow.core import (
    people_with_role,
    person_name,
)
from workflow.record import render_record
from workflow.roles import Role
from workflow.statuses import (
    ProposalStatus,
    proposal_label,
)
from workflow.texts import label

DUE = label("答复期限")  # the field a too-early due date is refused for

# ================================================================ review (审查队列)


def ask_queue(turn: Turn) -> None:
    """The review queue: submitted proposals, oldest first, then filed ones to assign."""
    turn.data.pop("pid", None)
    submitted, filed = review_queue(turn.session)
    if not submitted and not filed:
        turn.say(
            turn.t("审查队列是空的：没有待审查或待交办的提案。"),
            [turn.choice(turn.t(TO_MENU), "menu")],
        )
        return
    page = paged(turn, "queue", [*submitted, *filed])
    names = {p.id: proposer_of(turn, p) for p in page.rows}
    lines = [turn.t("审查队列：待审查 {a} 件，待交办 {b} 件。", a=len(submitted), b=len(filed))]
    choices = []
    section = None
    for index, p in enumerate(page.rows, page.first):
        if p.status != section:
            section = p.status
            lines.append(
                turn.t("【待审查】（提交时间从早到晚）")
                if section == ProposalStatus.SUBMITTED
                else turn.t("【待交办】（已立案，尚未交办）")
            )
        if p.status == ProposalStatus.SUBMITTED:
            lines.append(
                turn.t(
                    "{i}. 《{title}》 {name}，{day}提交",
                    i=index,
                    title=p.title,
                    name=names[p.id],
                    day=day_text(turn, p.submitted_at),
                )
            )
            choices.append(turn.choice(short(p.title), f"p:{p.id}"))
        else:
            lines.append(
                turn.t(
                    "{i}. {n}《{title}》 {name}",
                    i=index,
                    n=number_of(turn, p),
                    title=p.title,
                    name=names[p.id],
                )
            )
            choices.append(turn.choice(short(f"{number_of(turn, p)} {p.title}"), f"p:{p.id}"))
    lines += page.position(turn)
    lines.append(turn.t("请点选一件提案查看并处理："))
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_queue(turn: Turn, value: str) -> str | None:
    if value == "menu":
        return "menu"
    if browse(turn, "queue", value):
        return "page"
    turn.data["pid"] = int(value.removeprefix("p:"))
    return "open"


def ask_open(turn: Turn) -> None:
    """One proposal as its record, with the decisions its status allows."""
    p = chosen_proposal(turn)
    if p is None:
        turn.say(turn.t("找不到这件提案。"))
        goto(turn, "queue")
        return
    turn.say(render_record(turn.ctx, p, gettext=turn.gettext, locale=turn.locale), expects="none")
    if p.status == ProposalStatus.SUBMITTED:
        waiting = pending_cosigners(turn.session, pk(p))
        note = ""
        if waiting:
            note = turn.t(
                "注意：{names}尚未确认联名（截止{deadline}）；现在审查，未确认的联名人将不再列入。",
                names=turn.join(person_name(turn.session, i) for i in waiting),
                deadline=turn.time(p.cosign_deadline),
            )
            note += "\n"
        turn.say(
            note + turn.t("请审查这件提案："),
            [
                turn.choice(turn.t("立案"), "file"),
                turn.choice(turn.t("不予立案"), "reject"),
                turn.choice(turn.t("并案"), "merge"),
                turn.choice(turn.t("转为意见建议"), "convert"),
                turn.choice(turn.t(BACK), "back"),
            ],
            columns=2,
        )
    elif p.status == ProposalStatus.FILED:
        turn.say(
            turn.t("这件提案已立案（{n}），尚未交办。", n=number_of(turn, p)),
            [turn.choice(turn.t("交办"), "assign"), turn.choice(turn.t(BACK), "back")],
        )
    else:
        turn.say(
            turn.t(
                "这件提案当前为「{s}」，无需在审查队列处理。", s=turn.t(proposal_label(p.status))
            ),
            [turn.choice(turn.t(BACK), "back")],
        )


def on_open(turn: Turn, value: str) -> str:
    pid = turn.data["pid"]
    if value == "file":
        p = proposals.file_proposal(turn.ctx, pid)
        turn.say(
            turn.t("已立案，编号为{number}。", number=both_numbers(turn, p))
            + "\n"
            + told_proposer(turn, p)
        )
        return "filed"
    if value == "assign":
        return _start_wizard(turn)
    if value == "reject":
        turn.data.pop("reason", None)
    if value == "merge":
        forget(turn, "target")
    if value == "convert":
        turn.data.pop("note", None)
    return value  # reject, merge, convert, back


def ask_after_file(turn: Turn) -> None:
    turn.say(
        turn.t("是否现在交办？也可以稍后在审查队列的「待交办」中交办。"),
        [
            turn.choice(turn.t("现在交办"), "now"),
            turn.choice(turn.t("稍后交办"), "later"),
        ],
    )


def on_after_file(turn: Turn, value: str) -> str:
    return _start_wizard(turn) if value == "now" else "later"


# ---------------------------------------------------------------- 不予立案


def ask_reject_reason(turn: Turn) -> None:
    p = the_proposal(turn)
    turn.say(
        turn.t("请写明《{title}》不予立案的理由（将告知提案人）：", title=p.title),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_reject_reason(turn: Turn, text: str) -> str:
    turn.data["reason"] = words(turn, text, turn.t("不予立案的理由"), 1000)
    return "next"


def ask_reject_confirm(turn: Turn) -> None:
    p = the_proposal(turn)
    turn.say(
        turn.t(
            "确认《{title}》不予立案？\n理由：{reason}", title=p.title, reason=turn.data["reason"]
        ),
        [
            turn.choice(turn.t("确认不予立案"), "ok"),
            turn.choice(turn.t("修改理由"), "edit"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reject_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        return value
    p = proposals.reject(turn.ctx, turn.data["pid"], turn.data["reason"])
    turn.say(turn.t("《{title}》不予立案。", title=p.title) + "\n" + told_proposer(turn, p))
    return "done"


# ---------------------------------------------------------------- 并案


def ask_merge_target(turn: Turn) -> None:
    p = the_proposal(turn)
    targets = merge_targets(turn.session, p)
    lines = [
        turn.t(
            "请选择《{title}》要并入的提案（{year}年度已立案或办理中），"
            "也可以发送编号或标题关键词搜索：",
            title=p.title,
            year=p.year,
        )
    ]
    query = turn.data.get("target_q")
    found = [t for t in targets if proposal_matches(t, query)] if query else []
    if query and found:
        lines.append(turn.t("含「{q}」的提案（{n} 件）：", q=query, n=len(found)))
        targets = found
    elif query:
        lines.append(turn.t("没有找到含「{q}」的提案，以下是全部可并入的提案：", q=query))
        forget(turn, "target")
    if not targets:
        lines.append(turn.t("{year}年度还没有可以并入的提案。", year=p.year))
    page = paged(turn, "target", targets)
    lines += [proposal_title(turn, t) for t in page.rows]
    lines += page.position(turn)
    choices = [
        turn.choice(short(f"{number_of(turn, t)} {t.title}"), f"t:{t.id}") for t in page.rows
    ]
    choices += page.buttons(turn)
    if query and found:
        choices.append(turn.choice(turn.t(SHOW_ALL), "all"))
    choices.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), choices)


def on_merge_target(turn: Turn, value: str) -> str:
    if value == "back" or browse(turn, "target", value):
        return "back" if value == "back" else "page"
    turn.data["target"] = int(value.removeprefix("t:"))
    return "picked"


def on_merge_search(turn: Turn, text: str) -> str:
    return search_list(turn, "target", text)


def ask_merge_confirm(turn: Turn) -> None:
    p = the_proposal(turn)
    target = existing(turn.session, Proposal, turn.data["target"])
    turn.say(
        turn.t(
            "确认将《{title}》并入{n}《{target}》？\n"
            "并案后两件提案一并办理，答复同样送达本提案的提案人。",
            title=p.title,
            n=number_of(turn, target),
            target=target.title,
        ),
        [
            turn.choice(turn.t("确认并案"), "ok"),
            turn.choice(turn.t("重新选择"), "again"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_merge_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        forget(turn, "target")
        return value
    p = proposals.merge(turn.ctx, turn.data["pid"], turn.data["target"])
    target = existing(turn.session, Proposal, turn.data["target"])
    turn.say(
        turn.t("《{title}》已并入{n}提案。", title=p.title, n=number_of(turn, target))
        + "\n"
        + told_proposer(turn, p)
    )
    return "done"


# ---------------------------------------------------------------- 转为意见建议


def ask_convert_note(turn: Turn) -> None:
    p = the_proposal(turn)
    turn.say(
        turn.t(
            "将《{title}》转为意见建议。可以写一段说明（将告知提案人），或点「不写说明」：",
            title=p.title,
        ),
        [turn.choice(turn.t("不写说明"), "skip"), turn.choice(turn.t(BACK), "back")],
    )


def on_convert_note(turn: Turn, text: str) -> str:
    turn.data["note"] = words(turn, text, turn.t("说明"), 1000)
    return "next"


def on_convert_choice(turn: Turn, value: str) -> str:
    if value == "skip":
        turn.data["note"] = None
        return "next"
    return value


def ask_convert_confirm(turn: Turn) -> None:
    p = the_proposal(turn)
    note = turn.data.get("note") or turn.t("（无）")
    turn.say(
        turn.t("确认将《{title}》转为意见建议？\n说明：{note}", title=p.title, note=note),
        [
            turn.choice(turn.t("确认转为意见建议"), "ok"),
            turn.choice(turn.t("修改说明"), "edit"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_convert_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        return value
    p = proposals.convert(turn.ctx, turn.data["pid"], turn.data.get("note"))
    turn.say(turn.t("《{title}》已转为意见建议。", title=p.title) + "\n" + told_proposer(turn, p))
    return "done"


# ---------------------------------------------------------------- the 交办 wizard

WIZARD_KEYS = ("lead", "co", "due", "key", "sup", "leader", "edit")


def _start_wizard(turn: Turn) -> str:
    for key in WIZARD_KEYS:
        turn.data.pop(key, None)
    turn.data["co"] = []
    forget(turn, "lead", "co", "sup", "leader")
    return "assign"


def _wizard_head(turn: Turn, step: str) -> str:
    p = the_proposal(turn)
    return turn.t("交办{n}《{title}》", n=number_of(turn, p), title=p.title) + "\n" + step


def _then(turn: Turn) -> str:
    """After a wizard step: on to the next one, or back to the summary when editing."""
    return "summary" if turn.data.get("edit") else "next"


def ask_lead(turn: Turn) -> None:
    head = _wizard_head(turn, turn.t("第一步：请选择主办单位（可发送单位名称的一部分搜索）："))
    unit_picker(
        turn,
        head,
        key="lead",
        kind="handling",
        prefix="u",
        marked=[turn.data["lead"]] if turn.data.get("lead") else [],
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_lead(turn: Turn, value: str) -> str:
    if value == "back" or browse(turn, "lead", value):
        return "back" if value == "back" else "page"
    lead = int(value.removeprefix("u:"))
    turn.data["lead"] = lead
    if lead in turn.data.get("co", []):
        turn.data["co"] = [u for u in turn.data["co"] if u != lead]
        turn.say(
            turn.t(
                "{unit}改为主办单位，已从协办单位中去掉。",
                unit=unit_name(turn.ctx, lead),
            )
        )
    forget(turn, "lead")
    return _then(turn)


def on_lead_search(turn: Turn, text: str) -> str:
    return search_list(turn, "lead", text)


def ask_co(turn: Turn) -> None:
    chosen = turn.data.get("co", [])
    names = turn.join(unit_name(turn.ctx, u) for u in chosen) or turn.t("（暂无）")
    head = _wizard_head(
        turn,
        turn.t(
            "第二步：请选择协办单位，可选多个，再点一次取消；选好后点「完成」，"
            "不需要协办单位直接点「完成」。也可以发送单位名称的一部分搜索。\n"
            "主办单位：{lead}\n已选协办单位：{names}",
            lead=unit_name(turn.ctx, turn.data["lead"]),
            names=names,
        ),
    )
    unit_picker(
        turn,
        head,
        key="co",
        kind="handling",
        prefix="c",
        exclude={turn.data["lead"]},
        marked=chosen,
        extra=[turn.choice(turn.t("完成"), "done"), turn.choice(turn.t(BACK), "back")],
    )


def on_co(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    if value == "done":
        forget(turn, "co")
        return _then(turn)
    if browse(turn, "co", value):
        return "page"
    unit = int(value.removeprefix("c:"))
    chosen = list(turn.data.get("co", []))
    if unit in chosen:
        chosen.remove(unit)
    else:
        chosen.append(unit)
    turn.data["co"] = chosen
    return "page"


def on_co_search(turn: Turn, text: str) -> str:
    return search_list(turn, "co", text)


def _default_due(turn: Turn) -> date:
    return due_date_or_default(turn.ctx, None, turn.ctx.rules.reply_due_months, DUE)


def ask_due(turn: Turn) -> None:
    lines = [
        _wizard_head(
            turn,
            turn.t(
                "第三步：答复期限。默认为交办后 {m} 个月：{day}。",
                m=turn.ctx.rules.reply_due_months,
                day=turn.date(_default_due(turn)),
            ),
        )
    ]
    if turn.data.get("due"):
        lines.append(
            turn.t("当前已填：{day}。", day=turn.date(date.fromisoformat(turn.data["due"])))
        )
    lines.append(turn.t(DATE_HINT))
    turn.say(
        "\n".join(lines),
        [turn.choice(turn.t(USE_DEFAULT), "default"), turn.choice(turn.t(BACK), "back")],
    )


def on_due_choice(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    turn.data["due"] = None
    return _then(turn)


def on_due_text(turn: Turn, text: str) -> str:
    day = read_date(turn, text, turn.ctx.rules.reply_due_months, DUE)
    turn.data["due"] = day.isoformat()
    return _then(turn)


def ask_key(turn: Turn) -> None:
    turn.say(
        _wizard_head(turn, turn.t("第四步：是否列为重点提案？重点提案须指定督办单位和牵头领导。")),
        [
            turn.choice(turn.t("是，列为重点提案"), "yes"),
            turn.choice(turn.t("否"), "no"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_key(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    turn.data["key"] = value == "yes"
    if value == "no":
        turn.data["sup"] = turn.data["leader"] = None
    return value


def ask_supervising(turn: Turn) -> None:
    head = _wizard_head(turn, turn.t("请选择督办单位："))
    unit_picker(
        turn,
        head,
        key="sup",
        kind="supervising",
        prefix="s",
        marked=[turn.data["sup"]] if turn.data.get("sup") else [],
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_supervising(turn: Turn, value: str) -> str:
    if value == "back" or browse(turn, "sup", value):
        return "back" if value == "back" else "page"
    turn.data["sup"] = int(value.removeprefix("s:"))
    forget(turn, "sup")
    return "picked"


def ask_leader(turn: Turn) -> None:
    ids = people_with_role(turn.session, Role.LEADER)
    leaders = [turn.session.get(Person, i) for i in ids]
    lines = [_wizard_head(turn, turn.t("请选择牵头领导："))]
    if not leaders:
        lines.append(turn.t("名册里还没有领导身份的人员，请先在名册中登记。"))
    page = paged(turn, "leader", leaders)
    lines += page.position(turn)
    choices = [
        turn.choice(
            ("✅ " if p.id == turn.data.get("leader") else "") + leader_label(turn, p),
            f"l:{p.id}",
        )
        for p in page.rows
    ]
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), choices, columns=2)


def on_leader(turn: Turn, value: str) -> str:
    if value == "back" or browse(turn, "leader", value):
        return "back" if value == "back" else "page"
    turn.data["leader"] = int(value.removeprefix("l:"))
    forget(turn, "leader")
    return "picked"


def _summary(turn: Turn, p: Proposal) -> str:
    data = turn.data
    co = turn.join(unit_name(turn.ctx, u) for u in data.get("co", [])) or turn.t("无")
    if data.get("due"):
        due = turn.date(date.fromisoformat(data["due"]))
    else:
        due = turn.t(
            "{day}（默认，交办后 {m} 个月）",
            day=turn.date(_default_due(turn)),
            m=turn.ctx.rules.reply_due_months,
        )
    lines = [
        turn.t("提案：{n}《{title}》", n=number_of(turn, p), title=p.title),
        turn.t("主办单位：{u}", u=unit_name(turn.ctx, data["lead"])),
        turn.t("协办单位：{u}", u=co),
        turn.t("答复期限：{d}", d=due),
        turn.t("是否重点：{k}", k=turn.t("是") if data.get("key") else turn.t("否")),
    ]
    if data.get("key"):
        leader = turn.session.get(Person, data["leader"])
        lines.append(turn.t("督办单位：{u}", u=unit_name(turn.ctx, data["sup"])))
        lines.append(turn.t("牵头领导：{p}", p=leader_label(turn, leader) if leader else ""))
    return "\n".join(lines)


def ask_confirm(turn: Turn) -> None:
    p = the_proposal(turn)
    turn.data["edit"] = True
    if p.status != ProposalStatus.FILED:
        turn.say(
            turn.t(
                "{n}《{title}》当前为「{s}」，不能再交办。",
                n=number_of(turn, p),
                title=p.title,
                s=turn.t(proposal_label(p.status)),
            ),
            [turn.choice(turn.t("返回审查队列"), "quit")],
        )
        return
    turn.say(
        turn.t("请核对交办信息：") + "\n" + _summary(turn, p),
        [
            turn.choice(turn.t("确认交办"), "ok"),
            turn.choice(turn.t("修改主办单位"), "lead"),
            turn.choice(turn.t("修改协办单位"), "co"),
            turn.choice(turn.t("修改答复期限"), "due"),
            turn.choice(turn.t("修改重点设置"), "key"),
            turn.choice(turn.t("放弃交办"), "quit"),
        ],
        columns=2,
    )


def on_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        if value == "quit":
            for key in WIZARD_KEYS:
                turn.data.pop(key, None)
        return value
    data = turn.data
    is_key = bool(data.get("key"))
    made = assignments.assign(
        turn.ctx,
        data["pid"],
        lead_unit_id=data["lead"],
        co_unit_ids=data.get("co", []),
        due_date=date.fromisoformat(data["due"]) if data.get("due") else None,
        is_key=is_key,
        supervising_unit_id=data.get("sup") if is_key else None,
        lead_leader_id=data.get("leader") if is_key else None,
    )
    p = the_proposal(turn)
    co = turn.join(unit_name(turn.ctx, a.unit_id) for a in made[1:])
    done = turn.t(
        "已交办：{n}《{title}》由{lead}主办{co}，答复期限{due}{key}。",
        n=number_of(turn, p),
        title=p.title,
        lead=unit_name(turn.ctx, made[0].unit_id),
        co=turn.t("，{co}协办", co=co) if co else "",
        due=turn.date(p.due_date),
        key=turn.t("，列为重点提案") if is_key else "",
    )
    turn.say(done + "\n" + told_units(turn, [a.unit_id for a in made]))
    for k in WIZARD_KEYS:
        data.pop(k, None)
    return "assigned"


REVIEW_FLOW = Flow(
    name="review",
    start="queue",
    roles=frozenset(STAFF),
    steps={
        "queue": Step(prompt=ask_queue, choice=on_queue, hint=N_("请点选一件提案。")),
        "open": Step(prompt=ask_open, choice=on_open, hint=N_("请点选审查结果。")),
        "after_file": Step(
            prompt=ask_after_file, choice=on_after_file, hint=N_("请点选是否现在交办。")
        ),
        "reject_reason": Step(
            prompt=ask_reject_reason,
            text=on_reject_reason,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明不予立案的理由。"),
        ),
        "reject_confirm": Step(
            prompt=ask_reject_confirm, choice=on_reject_confirm, hint=N_("请点选是否确认。")
        ),
        "merge_target": Step(
            prompt=ask_merge_target,
            choice=on_merge_target,
            text=on_merge_search,
            hint=N_("请点选要并入的提案，或发送编号、标题关键词搜索。"),
        ),
        "merge_confirm": Step(
            prompt=ask_merge_confirm, choice=on_merge_confirm, hint=N_("请点选是否确认并案。")
        ),
        "convert_note": Step(
            prompt=ask_convert_note,
            text=on_convert_note,
            choice=on_convert_choice,
            hint=N_("请发送说明文字，或点「不写说明」。"),
        ),
        "convert_confirm": Step(
            prompt=ask_convert_confirm, choice=on_convert_confirm, hint=N_("请点选是否确认。")
        ),
        "lead": Step(
            prompt=ask_lead,
            choice=on_lead,
            text=on_lead_search,
            hint=N_("请点选主办单位，或发送单位名称的一部分搜索。"),
        ),
        "co": Step(
            prompt=ask_co,
            choice=on_co,
            text=on_co_search,
            hint=N_("请点选协办单位（可多选），选好后点「完成」；也可以发送单位名称搜索。"),
        ),
        "due": Step(
            prompt=ask_due,
            choice=on_due_choice,
            text=on_due_text,
            hint=N_("请点「使用默认」，或输入日期，例如 2027-03-15。"),
        ),
        "key": Step(prompt=ask_key, choice=on_key, hint=N_("请点选是否列为重点提案。")),
        "supervising": Step(
            prompt=ask_supervising, choice=on_supervising, hint=N_("请点选督办单位。")
        ),
        "leader": Step(prompt=ask_leader, choice=on_leader, hint=N_("请点选牵头领导。")),
        "confirm": Step(prompt=ask_confirm, choice=on_confirm, hint=N_("请核对后点选确认交办。")),
    },
    edges={
        ("queue", "open"): "open",
        ("queue", "page"): "queue",
        ("queue", "menu"): END,
        ("open", "filed"): "after_file",
        ("open", "reject"): "reject_reason",
        ("open", "merge"): "merge_target",
        ("open", "convert"): "convert_note",
        ("open", "assign"): "lead",
        ("open", "back"): "queue",
        ("after_file", "assign"): "lead",
        ("after_file", "later"): "queue",
        ("reject_reason", "next"): "reject_confirm",
        ("reject_reason", "back"): "open",
        ("reject_confirm", "done"): "queue",
        ("reject_confirm", "edit"): "reject_reason",
        ("reject_confirm", "back"): "open",
        ("merge_target", "picked"): "merge_confirm",
        ("merge_target", "page"): "merge_target",
        ("merge_target", "search"): "merge_target",
        ("merge_target", "back"): "open",
        ("merge_confirm", "done"): "queue",
        ("merge_confirm", "again"): "merge_target",
        ("merge_confirm", "back"): "open",
        ("convert_note", "next"): "convert_confirm",
        ("convert_note", "back"): "open",
        ("convert_confirm", "done"): "queue",
        ("convert_confirm", "edit"): "convert_note",
        ("convert_confirm", "back"): "open",
        ("lead", "next"): "co",
        ("lead", "summary"): "confirm",
        ("lead", "page"): "lead",
        ("lead", "search"): "lead",
        ("lead", "back"): "open",
        ("co", "next"): "due",
        ("co", "summary"): "confirm",
        ("co", "page"): "co",
        ("co", "search"): "co",
        ("co", "back"): "lead",
        ("due", "next"): "key",
        ("due", "summary"): "confirm",
        ("due", "back"): "co",
        ("key", "yes"): "supervising",
        ("key", "no"): "confirm",
        ("key", "back"): "due",
        ("supervising", "picked"): "leader",
        ("supervising", "page"): "supervising",
        ("supervising", "back"): "key",
        ("leader", "picked"): "confirm",
        ("leader", "page"): "leader",
        ("leader", "back"): "supervising",
        ("confirm", "assigned"): "queue",
        ("confirm", "lead"): "lead",
        ("confirm", "co"): "co",
        ("confirm", "due"): "due",
        ("confirm", "key"): "key",
        ("confirm", "quit"): "queue",
    },
)


def install(engine: Engine) -> None:
    install_flows(engine, (REVIEW_FLOW,))
