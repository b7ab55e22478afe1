"""The reply wizard (撰写答复) of the handling unit's inbox: the lead unit writes its reply
letter step by step — class (A/B/C), body (in as many messages as needed, or a .docx, .pdf or
.txt file), contact person, phone, signing unit and date — then sees the letter with the
co-handling opinions, can edit any item from there, and submits it for review. A reply the
review returned fills every step first, with its review comment shown.

The steps (``r_class`` … ``r_preview``) are part of the ``inbox`` flow, which
``handlers/unit.py`` declares and installs. The draft lives in
``turn.keep["replies"][<assignment id>]``, which outlives the flow (/cancel, /menu, another
flow): every step writes a new copy of it with the conversation row.

Each handler of the unit has their own draft, and it notes which version of the unit's letter
it began on. Once a colleague submits a letter, an older draft is out of date: opening the
wizard (or submitting) then starts again from the unit's latest letter (returned: with its
review comment), and the person is given back the text of the draft they leave.
"""

from __future__ import annotations

import copy
import unicodedata
from datetime import date
from pathlib import PurePath

from handlers.engine import Turn
from handlers.messages import FileIn
from handlers.turns import me
from handlers.unit_common import (
    BACK,
    _current,
    _gone,
    _parse_date,
    _parts_len,
    _text,
    co_opinions,
    is_done_word,
)
from storage.models import Assignment, Proposal, Reply, pk
from workflow import attachments, replies
from workflow.assignments import unit_name
from workflow.attachments import MB
from workflow.core import person_name
from workflow.errors import InvalidInput
from workflow.replies import CLASS_MEANINGS, contact_phone_of
from workflow.statuses import ASSIGNMENT_TRANSITIONS

# Limits the workflow applies to these texts (repeated here only to refuse them early,
# before the person types the next step; the service call checks them again).
REPLY_BODY_MAX = 20_000  # 答复正文
CONTACT_PERSON_MAX = 50
SIGNING_UNIT_MAX = 100
BODY_FILE_TYPES = (".docx", ".pdf", ".txt")


# ---------------------------------------------------------------- the draft


def _draft(turn: Turn) -> dict:
    drafts = turn.keep.get("replies") or {}
    return copy.deepcopy(drafts.get(str(turn.data.get("asg")), {}))


def _save(turn: Turn, draft: dict) -> None:
    drafts = copy.deepcopy(turn.keep.get("replies") or {})
    drafts[str(turn.data.get("asg"))] = draft
    turn.keep["replies"] = drafts


def _drop(turn: Turn) -> None:
    drafts = copy.deepcopy(turn.keep.get("replies") or {})
    drafts.pop(str(turn.data.get("asg")), None)
    turn.keep["replies"] = drafts


def _base(draft: dict) -> int | None:
    """The version of the unit's letter the draft began on (``DraftStart.version``). A draft
    kept before drafts noted it tells only a returned letter it began on."""
    if "base" in draft:
        return draft["base"]
    returned = draft.get("returned")
    return returned["version"] if returned else None


def _fresh(start: replies.DraftStart) -> dict:
    """A new draft: empty, or filled from the unit's returned letter, with its comment."""
    draft: dict = {"base": start.version}
    last = start.returned
    if last is not None:
        draft |= {
            "cls": last.reply_class,
            "parts": [last.body],
            "person": last.contact_person,
            "phone": last.contact_phone,
            "unit": last.signing_unit,
            "returned": {"version": last.version, "comment": last.review_comment or ""},
        }
        if start.objected_by:  # returned by a co-handling unit's 会签 comment
            draft["returned"]["unit"] = start.objected_by
        if start.files:  # the letter's files go on with it (the store keeps them)
            draft["files"] = [
                {"name": f.filename, "sha": f.sha256, "path": f.storage_path} for f in start.files
            ]
    return draft


def _tell_superseded(turn: Turn, draft: dict, newer: Reply) -> None:
    """Say that the person's draft is out of date and give back what they wrote in it."""
    lines = [
        turn.t(
            "您之前开始写的答复没有提交，已不是本单位的最新一稿：{name}于{at}提交了第{v}稿答复。",
            name=person_name(turn.session, newer.submitted_by),
            at=turn.time(newer.submitted_at),
            v=newer.version,
        )
    ]
    if newer.status == "returned":
        lines.append(turn.t("这一稿已被退回，现在从它继续修改。"))
    else:
        lines.append(turn.t("这一稿已审核通过，这次的答复请重新撰写。"))
    parts = draft.get("parts") or []
    if parts:
        lines += [
            turn.t("您那份没有提交的答复正文如下，需要的内容请复制后使用："),
            "",
            "\n".join(parts),
        ]
    files = draft.get("files") or []
    if files:
        lines.append(
            turn.t(
                "其中上传的文件没有带入，需要的话请重新上传：{f}",
                f=turn.join(f["name"] for f in files),
            )
        )
    turn.say("\n".join(lines), expects="none")


def _renew(turn: Turn, asg_id: int, draft: dict) -> bool:
    """Replace the person's draft by a new one if a colleague submitted a letter since it
    began (telling them, with their text); False if the draft is still current."""
    newer = replies.superseding_letter(turn.ctx, asg_id, _base(draft))
    if newer is None:
        return False
    if any(draft.get(key) for key in (*WIZARD, "files")):
        _tell_superseded(turn, draft, newer)
    _save(turn, _fresh(replies.draft_start(turn.ctx, asg_id)))
    return True


def _start_reply(turn: Turn, asg_id: int) -> None:
    """Open the draft of this assignment's reply: the person's own while it is current,
    else a new one, filled from the unit's letter if the review returned it."""
    draft = _draft(turn)
    if draft:
        _renew(turn, asg_id, draft)
    else:
        _save(turn, _fresh(replies.draft_start(turn.ctx, asg_id)))


def _can_reply(assignment: Assignment) -> bool:
    return assignment.status in ASSIGNMENT_TRANSITIONS["submit_reply"].sources


def _next(draft: dict) -> str:
    """After a step: back to the preview once it was shown, else the next question."""
    return "preview" if draft.get("previewed") else "next"


# ---------------------------------------------------------------- the steps


def ask_class(turn: Turn) -> None:
    draft = _draft(turn)
    current = _current(turn)
    lines = []
    if current:
        lines.append(
            turn.t(
                "撰写答复 · {num}提案《{title}》",
                num=turn.number(current[1].year, current[1].number),
                title=current[1].title,
            )
        )
    returned = draft.get("returned")
    if returned and returned.get("unit"):
        lines.append(
            turn.t(
                "第{v}稿答复未通过会签，{unit}的修改意见：{c}\n已按上一稿填好，请逐项修改。",
                v=returned["version"],
                unit=returned["unit"],
                c=returned["comment"],
            )
        )
    elif returned:
        lines.append(
            turn.t(
                "第{v}稿答复被退回，审核意见：{c}\n已按上一稿填好，请逐项修改。",
                v=returned["version"],
                c=returned["comment"],
            )
        )
    lines.append(turn.t("第 1 步：请选择答复类别（落实情况）："))
    classes = turn.ctx.rules.reply_classes
    lines += [turn.t("{c}类：{m}", c=c, m=turn.t(CLASS_MEANINGS.get(c, ""))) for c in classes]
    if draft.get("cls"):
        lines.append(turn.t("当前选的是 {c} 类。", c=draft["cls"]))
    buttons = [
        turn.choice(turn.t("{c}类：{m}", c=c, m=turn.t(CLASS_MEANINGS.get(c, ""))), f"c:{c}")
        for c in classes
    ]
    buttons.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), buttons)


def on_class(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    draft = _draft(turn)
    draft["cls"] = value.removeprefix("c:")
    _save(turn, draft)
    return _next(draft)


def on_class_text(turn: Turn, text: str) -> str:
    """The class typed as its letter (B, b, Ｂ, B类), where a person types rather than taps."""
    classes = turn.ctx.rules.reply_classes
    typed = unicodedata.normalize("NFKC", text).strip().upper().removesuffix("类").strip()
    if typed not in classes:
        raise InvalidInput(
            turn.t(
                "答复类别只能是 {classes}，请点选或发送其中一个字母。",
                classes=turn.join(classes),
            )
        )
    return on_class(turn, f"c:{typed}")


def ask_body(turn: Turn) -> None:
    draft = _draft(turn)
    parts = draft.get("parts") or []
    files = draft.get("files") or []
    lines = []
    if parts:
        lines.append(
            turn.t(
                "第 2 步：答复正文已有 {n} 段，共 {c} 字。可以继续发送补充内容，"
                "写完请点「完成」或发送“完成”。",
                n=len(parts),
                c=_parts_len(parts),
            )
        )
    else:
        lines.append(
            turn.t(
                "第 2 步：请发送答复正文。内容较长可以分几条发送，写完点「完成」。"
                "也可以上传答复文件（.docx、.pdf 或 .txt）。"
            )
        )
    if files:
        lines.append(
            turn.t(
                "已上传的文件（提交后作为答复附件）：{f}", f=turn.join(f["name"] for f in files)
            )
        )
        if not parts:
            lines.append(turn.t("请再发送一段简短的答复正文（例如答复要点）。"))
    buttons = []
    if parts:
        buttons = [
            turn.choice(turn.t("完成"), "done"),
            turn.choice(turn.t("清空重写"), "clear"),
        ]
    if files:
        buttons.append(turn.choice(turn.t("移除全部附件"), "nofiles"))
    turn.say("\n".join(lines), buttons)


def on_body_text(turn: Turn, text: str) -> str:
    if is_done_word(text):
        return on_body_choice(turn, "done")
    part = _text(turn, text, turn.t("答复正文"), REPLY_BODY_MAX)
    draft = _draft(turn)
    parts = [*(draft.get("parts") or []), part]
    if _parts_len(parts) > REPLY_BODY_MAX:
        raise InvalidInput(
            turn.t(
                "加上这一段共 {c} 字，超过了 {max} 字的上限，这一段没有记下。",
                c=_parts_len(parts),
                max=REPLY_BODY_MAX,
            )
        )
    draft["parts"] = parts
    _save(turn, draft)
    return "more"


def on_body_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "clear":
        draft["parts"] = []
        _save(turn, draft)
        return "more"
    if value == "nofiles":
        if draft.get("files"):
            turn.say(
                turn.t("已移除附件：{f}", f=turn.join(f["name"] for f in draft["files"])),
                expects="none",
            )
        draft["files"] = []
        _save(turn, draft)
        return "more"
    if not draft.get("parts"):
        raise InvalidInput(turn.t("答复正文还是空的，请至少发送一段文字。"))
    return _next(draft)


def on_body_file(turn: Turn, upload: FileIn) -> str:
    name = attachments.clean_filename(upload.name)
    if PurePath(name).suffix.lower() not in BODY_FILE_TYPES:
        raise InvalidInput(turn.t("答复文件只接受 .docx、.pdf 或 .txt 格式。"))
    if not upload.data:
        raise InvalidInput(turn.t("文件是空的。"))
    rules = turn.ctx.rules
    if len(upload.data) > rules.attachment_max_bytes:
        raise InvalidInput(
            turn.t(
                "文件太大，单个附件不能超过 {mb} MB。", mb=f"{rules.attachment_max_bytes / MB:g}"
            )
        )
    attachments.sniff(name, upload.data)  # the real type, as attach_to_reply will check it
    draft = _draft(turn)
    files = draft.get("files") or []
    if len(files) >= rules.attachment_max_count:
        raise InvalidInput(turn.t("最多只能上传 {n} 个附件。", n=rules.attachment_max_count))
    if name.lower().endswith(".txt"):
        body = upload.data.decode("utf-8").strip()
        body = _text(turn, body, turn.t("答复正文"), REPLY_BODY_MAX)
        draft["parts"] = [body]
        turn.say(
            turn.t("已用文件《{name}》的内容作为答复正文（{c} 字）。", name=name, c=len(body)),
            expects="none",
        )
    else:
        turn.say(turn.t("已收到文件《{name}》，提交答复后作为附件。", name=name), expects="none")
    digest, path = turn.store.put(upload.data)
    if not any(f["sha"] == digest for f in files):
        files = [*files, {"name": name, "sha": digest, "path": path}]
    draft["files"] = files
    _save(turn, draft)
    return "more"


def ask_contact_person(turn: Turn) -> None:
    draft = _draft(turn)
    name = me(turn).name
    buttons = [turn.choice(turn.t("使用我的姓名（{name}）", name=name), "self")]
    if draft.get("person") and draft["person"] != name:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["person"]), "keep"))
    turn.say(
        turn.t("第 3 步：答复函上的联系人。点下方按钮使用您的姓名，或发送其他联系人的姓名。"),
        buttons,
    )


def on_contact_person_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "self":
        draft["person"] = me(turn).name
    _save(turn, draft)
    return _next(draft)


def on_contact_person_text(turn: Turn, text: str) -> str:
    draft = _draft(turn)
    draft["person"] = _text(turn, text, turn.t("联系人"), CONTACT_PERSON_MAX)
    _save(turn, draft)
    return _next(draft)


def ask_phone(turn: Turn) -> None:
    draft = _draft(turn)
    buttons = [turn.choice(turn.t("使用我的手机号（{p}）", p=me(turn).phone), "mine")]
    if draft.get("phone") and draft["phone"] != me(turn).phone:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["phone"]), "keep"))
    turn.say(
        turn.t("第 4 步：请发送联系电话，例如 0839-8620000 或 13800000000。"),
        buttons,
        expects="text",
    )


def _set_phone(turn: Turn, text: str) -> str:
    phone = contact_phone_of(text)
    if phone is None:
        raise InvalidInput(turn.t("联系电话格式不正确，例如 0839-8620000 或 13800000000。"))
    draft = _draft(turn)
    draft["phone"] = phone
    _save(turn, draft)
    return _next(draft)


def on_phone_text(turn: Turn, text: str) -> str:
    return _set_phone(turn, text)


def on_phone_choice(turn: Turn, value: str) -> str:
    if value == "mine":
        return _set_phone(turn, me(turn).phone)
    return _next(_draft(turn))


def on_phone_contact(turn: Turn, phone: str, is_self: bool) -> str:
    return _set_phone(turn, phone)


def ask_signing_unit(turn: Turn) -> None:
    draft = _draft(turn)
    mine = unit_name(turn.ctx, me(turn).unit_id)
    buttons = [turn.choice(turn.t("使用「{u}」", u=mine), "default")]
    if draft.get("unit") and draft["unit"] != mine:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["unit"]), "keep"))
    turn.say(turn.t("第 5 步：落款单位。点下方按钮，或发送落款单位的全称。"), buttons)


def on_signing_unit_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "default":
        draft["unit"] = unit_name(turn.ctx, me(turn).unit_id)
    _save(turn, draft)
    return _next(draft)


def on_signing_unit_text(turn: Turn, text: str) -> str:
    draft = _draft(turn)
    draft["unit"] = _text(turn, text, turn.t("落款单位"), SIGNING_UNIT_MAX)
    _save(turn, draft)
    return _next(draft)


def ask_reply_date(turn: Turn) -> None:
    draft = _draft(turn)
    today = turn.ctx.today
    buttons = [turn.choice(turn.t("今天（{d}）", d=turn.date(today)), "today")]
    if draft.get("date") and draft["date"] != today.isoformat():
        buttons.append(
            turn.choice(
                turn.t("保留：{v}", v=turn.date(date.fromisoformat(draft["date"]))), "keep"
            )
        )
    turn.say(
        turn.t("第 6 步：答复日期。点「今天」，或发送日期，例如 2026-11-20 或 11月20日。"),
        buttons,
    )


def _set_reply_date(turn: Turn, day: date) -> str:
    if day > turn.ctx.today:
        raise InvalidInput(turn.t("答复日期不能晚于今天。"))
    asg = turn.data.get("asg")
    assignment = turn.session.get(Assignment, int(asg)) if asg else None
    if assignment is not None:
        assigned = turn.ctx.local(assignment.assigned_at).date()
        if day < assigned:
            raise InvalidInput(turn.t("答复日期不能早于交办日期（{d}）。", d=turn.date(assigned)))
    draft = _draft(turn)
    draft["date"] = day.isoformat()
    _save(turn, draft)
    return "next"


def on_reply_date_choice(turn: Turn, value: str) -> str:
    if value == "today":
        return _set_reply_date(turn, turn.ctx.today)
    return "next"


def on_reply_date_text(turn: Turn, text: str) -> str:
    return _set_reply_date(turn, _parse_date(turn, text))


# ---------------------------------------------------------------- preview and submission


def _reply_title(proposal: Proposal) -> str:
    if proposal.number:
        return f"关于{proposal.session_label}第{proposal.number}号提案的答复"
    return f"关于《{proposal.title}》的答复"


WIZARD = ("cls", "parts", "person", "phone", "unit", "date")
WIZARD_STEPS = dict(
    zip(WIZARD, ("r_class", "r_body", "r_contact", "r_phone", "r_unit", "r_date"), strict=True)
)


def ask_preview(turn: Turn) -> None:
    draft = _draft(turn)
    missing = next((key for key in WIZARD if not draft.get(key)), None)
    if missing is not None:  # never shown half a letter: ask what is missing
        turn.conv.step = WIZARD_STEPS[missing]
        turn.engine.prompt(turn)
        return
    current = _current(turn)
    if current is None:
        _gone(turn)
        return
    assignment, proposal = current
    draft["previewed"] = True
    _save(turn, draft)
    proposer = person_name(turn.session, proposal.proposer_id)
    salutation = (
        turn.t("尊敬的{name}委员：", name=proposer)
        if proposal.category == "member"
        else turn.t("{name}：", name=proposal.collective_body or proposer)
    )
    lines = [turn.t("答复函预览"), "", _reply_title(proposal), salutation]
    lines += [f"  {p.strip()}" for part in draft["parts"] for p in part.splitlines() if p.strip()]
    lines.append(turn.t("（联系人：{p}　联系电话：{t}）", p=draft["person"], t=draft["phone"]))
    lines.append(draft["unit"])
    lines.append(turn.date(date.fromisoformat(draft["date"])))
    lines.append(
        turn.t(
            "答复类别：（{c}）类　{m}",
            c=draft["cls"],
            m=turn.t(CLASS_MEANINGS.get(draft["cls"], "")),
        )
    )
    if draft.get("files"):
        lines.append(turn.t("附件：{f}", f=turn.join(f["name"] for f in draft["files"])))
    opinions = co_opinions(turn, proposal)
    if opinions:
        lines += ["", turn.t("协办单位意见："), *("· " + opinion for opinion in opinions)]
    returned = draft.get("returned")
    if returned and returned.get("unit"):
        lines += [
            "",
            turn.t(
                "上一稿{unit}的会签修改意见：{c}", unit=returned["unit"], c=returned["comment"]
            ),
        ]
    elif returned:
        lines += ["", turn.t("上一稿的审核意见：{c}", c=returned["comment"])]
    co_units = replies.countersigning_units(turn.ctx, pk(proposal))
    if co_units:
        lines += [
            "",
            turn.t(
                "提交后先送协办单位{units}会签，各单位会签后自动提交审核。",
                units=turn.join(unit_name(turn.ctx, a.unit_id) for a in co_units),
            ),
        ]
    held = replies.units_held_back(turn.ctx, pk(proposal))
    if held:  # not asked: staff may relieve them; asked once staff refuse, if still waiting
        lines += [
            "",
            turn.t(
                "{units}申请调整尚待决定，暂不请其会签。",
                units=turn.join(unit_name(turn.ctx, a.unit_id) for a in held),
            ),
        ]
    lines += ["", turn.t("确认无误后点「提交审核」；也可以修改任何一项。")]
    buttons = [
        turn.choice(turn.t("提交审核"), "submit"),
        turn.choice(turn.t("修改类别"), "e:class"),
        turn.choice(turn.t("修改正文"), "e:body"),
        turn.choice(turn.t("修改联系人"), "e:contact"),
        turn.choice(turn.t("修改电话"), "e:phone"),
        turn.choice(turn.t("修改落款"), "e:unit"),
        turn.choice(turn.t("修改日期"), "e:date"),
        turn.choice(turn.t("暂不提交"), "back"),
    ]
    turn.say("\n".join(lines), buttons, columns=2)


def on_preview(turn: Turn, value: str) -> str:
    if value != "submit":
        return value.removeprefix("e:")
    draft = _draft(turn)
    current = _current(turn)
    proposal = current[1] if current else None
    asg_id = int(turn.data["asg"])
    # A colleague's letter submitted meanwhile is the unit's work now: this draft would
    # replace it unseen. (While that letter waits for review, submit_reply says so.)
    may_reply = current is not None and _can_reply(current[0])
    if may_reply and _renew(turn, asg_id, draft):
        return "class"
    reply = replies.submit_reply(
        turn.ctx,
        asg_id,
        reply_class=draft.get("cls") or "",
        body="\n".join(draft.get("parts") or []),
        contact_person=draft.get("person") or "",
        contact_phone=draft.get("phone") or "",
        signing_unit=draft.get("unit"),
        reply_date=date.fromisoformat(draft["date"]) if draft.get("date") else None,
        title=_reply_title(proposal) if proposal else None,
        based_on=_base(draft),
    )
    for upload in draft.get("files") or []:
        attachments.attach_to_reply(
            turn.ctx, turn.store, pk(reply), upload["name"], turn.store.read(upload["path"])
        )
    _drop(turn)
    files = turn.t("，附件 {n} 个", n=len(draft.get("files") or [])) if draft.get("files") else ""
    if reply.status == "countersigning":
        turn.say(
            turn.t(
                "答复已提交（{c}类，第{v}稿{files}），正等待协办单位{units}会签；"
                "会签完成后自动提交审核，结果会通知您。",
                c=reply.reply_class,
                v=reply.version,
                files=files,
                units=turn.join(
                    unit_name(turn.ctx, a.unit_id)
                    for a in replies.countersigning_units(turn.ctx, reply.proposal_id)
                ),
            ),
            expects="none",
        )
        return "submitted"
    turn.say(
        turn.t(
            "答复已提交审核（{c}类，第{v}稿{files}）。审核结果会通知您。",
            c=reply.reply_class,
            v=reply.version,
            files=files,
        ),
        expects="none",
    )
    return "submitted"
