"""What the workflow says, in each person's language: refusals said through the chat, notices
rendered for their recipient (buttons and dates included), the printed record; a Text keeps
through JSON; and no text in workflow/ is built in a way that extraction cannot see."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.outbox import render_notice
from handlers.i18n import gettext
from storage.models import Notice, Person
from tests.factories import Story
from workflow import errors, proposals, replies
from workflow.errors import AlreadyHandled, InvalidInput, PermissionDenied
from workflow.texts import Text, label

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TITLE = "关于改善城区小学放学时段交通秩序的建议"


def speak_english(db, person_id: int) -> None:
    with db.session() as session:
        person = session.get(Person, person_id)
        person.locale = "en"
        session.add(person)


def english(text: Text) -> str:
    return text.render(lambda message: gettext("en", message), "en")


def notices_of(db, person_id: int, kind: str) -> list[Notice]:
    with db.read_session() as session:
        return list(
            session.exec(
                select(Notice).where(Notice.person_id == person_id, Notice.kind == kind)
            ).all()
        )


# ---------------------------------------------------------------- Text


def test_a_text_keeps_through_json_and_renders_in_both_languages():
    at = datetime(2026, 9, 14, 1, 30, tzinfo=UTC).astimezone(SHANGHAI)
    text = Text(
        "{who}已于{at}将{number}提案交{units}办理，状态「{status}」，答复期限{due}。{extra}",
        who="许静",
        at=at,
        number=Text("第〔{number}〕号", number=28),
        units=["区教育局", label("协办")],
        status=label("办理中"),
        due=date(2026, 12, 14),
        extra=None,
    )
    kept = Text.from_json(json.loads(json.dumps(text.to_json())))

    assert kept == text and kept.to_json() == text.to_json()
    chinese = (
        "许静已于2026年9月14日 09:30将第〔28〕号提案交区教育局、协办办理，"
        "状态「办理中」，答复期限2026年12月14日。"
    )
    assert str(text) == str(kept) == chinese
    # Translated piece by piece: the labels, the nested Text, the list, the dates.
    words = {
        "{who}已于{at}将{number}提案交{units}办理，状态「{status}」，答复期限{due}。{extra}": (
            "On {at} {who} gave proposal {number} to {units}; status {status}, due {due}.{extra}"
        ),
        "第〔{number}〕号": "No. {number}",
        "协办": "co-handling unit",
        "办理中": "Being handled",
    }
    assert kept.render(lambda m: words.get(m, m), "en") == (
        "On 14 Sep 2026 09:30 许静 gave proposal No. 28 to 区教育局, co-handling unit; "
        "status Being handled, due 14 Dec 2026."
    )


def test_a_kept_time_is_the_local_wall_time_it_was_built_with():
    moment = datetime(2026, 9, 14, 15, 59, tzinfo=UTC)  # 23:59 in Beijing
    text = Text("请在{deadline}前确认。", deadline=moment.astimezone(SHANGHAI))
    data = json.loads(json.dumps(text.to_json()))
    assert data["params"]["deadline"] == {"datetime": "2026-09-14T23:59:00+08:00"}
    assert str(Text.from_json(data)) == "请在2026年9月14日 23:59前确认。"
    assert Text.from_json(data).render(lambda m: "Confirm by {deadline}.", "en") == (
        "Confirm by 14 Sep 2026 23:59."
    )


def test_a_text_refuses_a_parameter_it_could_not_keep():
    with pytest.raises(TypeError):
        Text("{x}", x=1.5)
    with pytest.raises(TypeError):
        Text("{x}", x={"a": 1})


def test_a_refusal_keeps_its_chinese_message_and_its_text():
    refusal = InvalidInput("还缺少：{items}，请补充后再提交。", items=[label("标题")])
    assert refusal.message == str(refusal) == "还缺少：标题，请补充后再提交。"
    assert english(refusal.text) == "Still missing: Title. Please add them before submitting."

    late = AlreadyHandled("{x}", by="许静", at=datetime(2026, 9, 14, tzinfo=UTC), status="filed")
    assert (late.by, late.status, late.message) == ("许静", "filed", "{x}")


def test_a_workflow_refusal_in_english(db, wf, world):
    """Raised by the services themselves: a missing field, a role, the transition table."""
    story = Story(db, wf, world)
    draft = story.run(world.member, proposals.create_draft, title="关于加强社区养老的建议")
    with pytest.raises(InvalidInput) as missing:
        story.run(world.member, proposals.submit, draft.id)
    assert missing.value.message == "还缺少：问题分析、具体建议，请补充后再提交。"
    assert english(missing.value.text) == (
        "Still missing: Problem analysis, Specific suggestions. Please add them before submitting."
    )

    with pytest.raises(PermissionDenied) as role:
        story.run(world.handler_edu, replies.return_reply, 1, "请补充数据")
    assert role.value.message == "您没有「退回答复」的权限，需要提案委或督办人身份。"
    assert english(role.value.text) == (
        'You do not have permission for "Return reply"; '
        "the Proposal committee staff or Supervisor role is required."
    )

    with pytest.raises(InvalidInput) as long:
        story.run(world.member, proposals.update_draft, draft.id, title="长" * 101)
    assert english(long.value.text) == "Title can be at most 100 characters; it now has 101."


# ---------------------------------------------------------------- through the chat


async def test_a_stale_withdrawal_is_refused_in_english(db, wf, world, chat_as):
    speak_english(db, world.member)
    story = Story(db, wf, world)
    pid = story.submitted()
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("📋 My proposals")
    await chat.tap("Unnumbered")
    await chat.tap("↩️ Withdraw proposal")
    await chat.tap("Skip")
    story.run(world.staff, proposals.file_proposal, pid)  # staff were faster

    await chat.tap("Confirm withdrawal")
    assert (
        f"The proposal “{TITLE}” was already handled by 许静 at 14 Sep 2026 09:30 and is now "
        '"Filed"; "Withdraw" is no longer possible.'
    ) in chat.said
    assert "Current status: Filed" in chat.said and chat.buttons == ["Back to list"]
    assert "已由" not in chat.said


async def test_a_notice_button_of_another_role_is_refused_in_english(db, wf, world, chat_as):
    speak_english(db, world.staff)
    pid, _lead, _reply = Story(db, wf, world).delivered()
    staff = chat_as(world.staff)
    await staff.press(f"rate:{pid}:satisfied")
    assert (
        'You do not have permission for "Satisfaction rating"; the Member role is required.'
        in staff.said
    )
    assert "Hello, 许静!" in staff.said

    chinese = chat_as(world.staff2)
    await chinese.press(f"rate:{pid}:satisfied")
    assert "您没有「满意度评价」的权限，需要委员身份。" in chinese.said


# ---------------------------------------------------------------- notices


async def test_the_delivery_notice_in_english_and_in_chinese(db, wf, world, chat_as):
    speak_english(db, world.member)
    pid, _lead, reply = Story(db, wf, world).delivered(cosigners=[world.cosigner])
    member, cosigner = chat_as(world.member), chat_as(world.cosigner)

    said = dict(member.notices())
    delivered = (
        f"Your proposal “{TITLE}” has received the reply of 区教育局 (class B: The issues "
        "raised are being solved or are planned to be solved step by step). Please rate the "
        "handling before 10 Oct 2026."
    )
    assert said[delivered] == [
        {"label": "Satisfied", "payload": f"rate:{pid}:satisfied:{reply}"},
        {"label": "Basically satisfied", "payload": f"rate:{pid}:basic:{reply}"},
        {"label": "Unsatisfied", "payload": f"rate:{pid}:unsatisfied:{reply}"},
    ]
    assert f"Your proposal “{TITLE}” was submitted at 14 Sep 2026 09:30" in " ".join(said)

    heard = dict(cosigner.notices())
    chinese = (
        f"您的提案《{TITLE}》已收到区教育局的答复（B类：所提问题正在解决或已列入计划逐步解决）。"
        "请于2026年10月10日前对办理工作作出评价。"
    )
    assert [a["label"] for a in heard[chinese]] == ["满意", "基本满意", "不满意"]
    [notice] = notices_of(db, world.cosigner, "reply_delivered")
    assert notice.text == chinese  # the Chinese rendering is kept for the CLI and listings

    # The English button does what the Chinese one does.
    await member.press(said[delivered][1]["payload"])
    assert "Your rating has been recorded:" in member.said
    assert "Handling work: Basically satisfied" in member.said


async def test_a_co_signing_invitation_in_english_with_its_deadline(db, wf, world, chat_as):
    speak_english(db, world.cosigner)
    pid = Story(db, wf, world).submitted(cosigners=[world.cosigner], confirm=False)
    [(text, actions)] = chat_as(world.cosigner).notices()
    assert text == (
        f"Member 林晓 invites you to co-sign the proposal “{TITLE}”. "
        "Please confirm before 20 Sep 2026 23:59."
    )
    assert actions == [
        {"label": "Confirm co-signing", "payload": f"cosign:{pid}:yes"},
        {"label": "Decline", "payload": f"cosign:{pid}:no"},
    ]


def test_a_notice_written_before_texts_were_kept_is_said_as_it_was(db, world):
    with db.session() as session:
        session.add(
            Notice(
                person_id=world.member,
                kind="filed",
                text="您的提案已立案。",
                actions=[{"label": "满意", "payload": "rate:1:satisfied"}],
                idempotency_key="filed:old:1",
            )
        )
    with db.read_session() as session:
        [notice] = session.exec(select(Notice)).all()
        assert notice.message is None
        assert render_notice(notice, "en") == (
            "您的提案已立案。",
            [{"label": "Satisfied", "payload": "rate:1:satisfied"}],
        )
        assert render_notice(notice, "zh")[0] == "您的提案已立案。"


# ---------------------------------------------------------------- the record


async def test_the_record_in_english_from_my_proposals_and_the_lookup(db, wf, world, chat_as):
    speak_english(db, world.member)
    pid, _lead, _reply = Story(db, wf, world).delivered(cosigners=[world.cosigner])
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("📋 My proposals")
    await chat.tap("No. 1")
    record = chat.said
    for line in (
        "示范区政协 - Proposal",
        f"Member proposal >> {TITLE}",
        "Number: No. 1 of 2026 Category: Member proposal",
        "Proposer(s): 林晓, 何平",
        "Session: 七届二次会议 Field: Social affairs",
        "  I. Problems",
        "  II. Suggestions",
        "Review result: Filed Disclosure: Yes",
        "Assigned on: 14 Sep 2026 Key proposal: No",
        "Lead unit: 区教育局",
        "Co-handling units: 区交通运输局",
        "Dear Member 林晓,",
        "(Contact person: 高远 Phone: 0839-8620101)",
        "14 Sep 2026",
        "Reply class: (B)",
        "Implementation: The issues raised are being solved or are planned to be solved step "
        "by step (B)",
        "Supervision review: approved",
        "Satisfaction rating: Awaiting rating",
        "Feedback: None yet",
        "Proposal number: No. 1 of 2026",
        "Current status: Replied",
        "Progress:",
        "  14 Sep 2026 09:30  Filed as No. 1 of 2026 → Filed  许静",
        "  14 Sep 2026 09:30  Accept (区教育局, lead unit)  高远",
        "  14 Sep 2026 09:30  Approve reply → Replied  许静",
    ):
        assert line in record.split("\n"), line
    assert "委员提案" not in record and "当前状态" not in record

    # The same record by number, from the menu's lookup.
    await chat.send("/menu")
    await chat.tap("🔢 Look up a proposal")
    await chat.send("1")
    assert "Current status: Replied" in chat.said and "Progress:" in chat.said

    # The co-signer, still in Chinese, reads the Chinese page.
    cosigner = chat_as(world.cosigner)
    await cosigner.send("/menu")
    await cosigner.tap("📋")
    await cosigner.tap("2026年度第1号")
    assert "编 号:2026年度第1号 所属类别:委员提案" in cosigner.said
    assert "审核通过答复 → 已答复  许静" in cosigner.said
    assert pid


# ---------------------------------------------------------------- nothing left unextractable


def _error_classes() -> set[str]:
    return {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.WorkflowError)
    }


def _built(node: ast.expr) -> bool:
    """A text put together in the call: an f-string, a + of literals, ``.format``."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return any(isinstance(n, ast.Constant | ast.JoinedStr) for n in ast.walk(node))
    if isinstance(node, ast.IfExp):  # "…" if a else "…": extraction joins the two
        return any(_built(n) or isinstance(n, ast.Constant) for n in (node.body, node.orelse))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
    )


def test_no_refusal_or_notice_in_workflow_is_a_built_string():
    """Every refusal is raised with a literal message id and params, and every notice is a
    Text: an f-string there would be said in Chinese only (roster import errors excepted:
    they are for the Chinese command line)."""
    classes = _error_classes()
    found = []
    for path in sorted(WORKFLOW.glob("*.py")):
        if path.name == "roster.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call = node.exc
                name = getattr(call.func, "id", None)
                if name in classes and call.args and _built(call.args[0]):
                    found.append(f"{path.name}:{node.lineno} raise {name}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "notify":
                text = node.args[3] if len(node.args) > 3 else None
                if text is None or _built(text) or isinstance(text, ast.Constant):
                    found.append(f"{path.name}:{node.lineno} notify")
    assert found == []
