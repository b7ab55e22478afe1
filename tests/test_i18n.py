"""Translations: the English catalog is complete, compiles and keeps every placeholder, the
code's texts (handlers/ and workflow/) can all be extracted, and a person who switches to
English is answered in English while everyone else stays in Chinese."""

from __future__ import annotations

import ast
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from handlers.i18n import LOCALE_DIR
from storage.models import Person
from workflow.texts import label

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "handlers", ROOT / "workflow")
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"
# The README's extraction keywords: the name called and which argument is the message id.
# turn.t("…") says a text, N_("…") marks one said elsewhere; in workflow/, Text("…") and the
# refusals are said later in a person's language, label("…") is a word of its tables and
# check_text's second argument the name of a field.
ERRORS = (
    "WorkflowError",
    "NotFound",
    "PermissionDenied",
    "InvalidInput",
    "InvalidTransition",
    "AlreadyHandled",
    "RateLimited",
    "WrongInviteCode",
)
KEYWORDS = {"t": 1, "N_": 1, "Text": 1, "label": 1, "check_text": 2} | dict.fromkeys(ERRORS, 1)
CJK = re.compile(r"[\u3400-\u9fff]")


def load_catalog():
    with EN_PO.open("rb") as handle:
        return read_po(handle, locale="en")


def extracted_ids(tmp_path) -> set[str]:
    """The message ids pybabel extracts from handlers/ and workflow/ today (the README's
    command)."""
    pot = tmp_path / "messages.pot"
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--no-default-keywords"]
    for keyword, position in KEYWORDS.items():
        args += ["-k", keyword if position == 1 else f"{keyword}:{position}"]
    CommandLineInterface().run([*args, "-o", str(pot), *map(str, SOURCES)])
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def translated_calls():
    """(file, line, message id argument) of every call of a keyword in handlers/ and
    workflow/."""
    for source in SOURCES:
        for path in sorted(source.glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                position = KEYWORDS.get(called_name(node) or "")
                if position is not None and len(node.args) >= position:
                    yield f"{source.name}/{path.name}", node.lineno, node.args[position - 1]


def built_from_pieces(arg: ast.expr) -> bool:
    """An f-string, a literal joined with ``+`` or a choice between literals (``"…" if a else
    "…"``): pybabel cannot extract it, or extracts a wrong id."""
    if isinstance(arg, ast.JoinedStr):
        return True
    if isinstance(arg, ast.Constant):
        return isinstance(arg.value, str)
    if isinstance(arg, ast.BinOp):
        return built_from_pieces(arg.left) or built_from_pieces(arg.right)
    if isinstance(arg, ast.IfExp):
        return built_from_pieces(arg.body) or built_from_pieces(arg.orelse)
    return False


def fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


# ---------------------------------------------------------------- the catalog


def test_the_catalog_compiles_with_no_empty_or_fuzzy_entry():
    catalog = load_catalog()
    write_mo(io.BytesIO(), catalog)  # what handlers.i18n does at first use
    entries = [m for m in catalog if m.id]
    assert len(entries) > 500
    assert not catalog.fuzzy
    assert [m.id for m in entries if not m.string] == []
    assert [m.id for m in entries if m.fuzzy] == []
    assert list(catalog.obsolete) == []


def test_every_translation_keeps_the_placeholders_of_its_text():
    wrong = []
    for m in load_catalog():
        if not m.id:
            continue
        try:
            m.string.format(**dict.fromkeys(fields(m.id), "x"))
        except (KeyError, IndexError, ValueError):
            wrong.append(m.id)
            continue
        if fields(m.id) != fields(m.string) or m.id.count("\n") != m.string.count("\n"):
            wrong.append(m.id)
    assert wrong == []


def test_no_translation_is_left_in_chinese():
    left = [m.id for m in load_catalog() if m.id and CJK.search(m.id) and m.string == m.id]
    assert left == []


# ---------------------------------------------------------------- the code's texts


def test_every_text_of_the_code_is_in_the_catalog(tmp_path):
    in_code = extracted_ids(tmp_path)
    in_catalog = {m.id for m in load_catalog() if m.id}
    assert sorted(in_code - in_catalog) == [], "run the commands in README.md, Translations"
    assert sorted(in_catalog - in_code) == [], "texts no longer in the code"


def test_every_text_said_is_a_literal_that_extraction_finds(tmp_path):
    """turn.t(f"…{x}"), Text("…" + x) or InvalidInput("…" if a else "…") cannot be
    extracted, nor a label("…") written inside an f-string or passed through a call that is
    not a keyword: use placeholders, Text("…{x}…", x=x), one literal per call."""
    in_code = extracted_ids(tmp_path)
    built = []
    for name, line, arg in translated_calls():
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if arg.value and arg.value not in in_code:
                built.append(f"{name}:{line} {arg.value!r} is not extracted")
        elif built_from_pieces(arg):  # not a plain literal, but built from some
            built.append(f"{name}:{line} {ast.unparse(arg)}")
    assert built == []


def test_the_words_of_workflows_tables_are_labels_and_extracted(tmp_path):
    """Statuses, transitions, roles, contact methods, reply classes, ratings and categories
    are said in a person's language, so each is a label that extraction finds."""
    from workflow.assignments import CONTACT_METHODS, ROLE_NAMES
    from workflow.proposals import CATEGORIES
    from workflow.record import EXTRA_ACTION_LABELS, REVIEW_RESULTS
    from workflow.replies import CLASS_MEANINGS, RATINGS
    from workflow.roles import ROLE_LABELS
    from workflow.statuses import (
        ASSIGNMENT_STATUS_LABELS,
        ASSIGNMENT_TRANSITIONS,
        PROPOSAL_STATUS_LABELS,
        PROPOSAL_TRANSITIONS,
    )

    tables = (
        PROPOSAL_STATUS_LABELS,
        ASSIGNMENT_STATUS_LABELS,
        CONTACT_METHODS,
        ROLE_NAMES,
        CLASS_MEANINGS,
        RATINGS,
        ROLE_LABELS,
        CATEGORIES,
        REVIEW_RESULTS,
        EXTRA_ACTION_LABELS,
    )
    words = [word for table in tables for word in table.values()]
    words += [t.label for t in (*PROPOSAL_TRANSITIONS.values(), *ASSIGNMENT_TRANSITIONS.values())]
    assert [w for w in words if not isinstance(w, label)] == []
    assert sorted(set(words) - extracted_ids(tmp_path)) == []


# ---------------------------------------------------------------- a person's language


@pytest.fixture
def locale_of(db):
    def read(person_id: int) -> str:
        with db.read_session() as session:
            return session.get(Person, person_id).locale

    return read


async def test_a_member_switches_to_english_and_everyone_else_stays_in_chinese(
    world, chat_as, locale_of
):
    member = chat_as(world.member)
    await member.send("/menu")
    assert "林晓，您好！请选择要办理的事项：" in member.said
    await member.tap("🌐")
    await member.tap("English")
    assert "Language set to English." in member.said
    assert "Hello, 林晓! Please choose what you want to do:" in member.said
    assert member.buttons[:4] == [
        "📝 New proposal",
        "🗂 My drafts",
        "📋 My proposals",
        "✍️ Co-sign invitations",
    ]
    assert not any(CJK.search(label) for label in member.buttons[:-1])
    assert member.buttons[-1] == "🌐 Language 语言"
    assert locale_of(world.member) == "en"

    # A flow, its prompts and buttons, /help and a stale button, all in English.
    stale = member.payload_of("📋 My proposals")
    await member.tap("📝 New proposal")
    assert "Please send the proposal's title (its subject)" in member.said
    await member.send("关于完善社区养老服务设施的建议")
    assert "Draft created; every step from now on is saved automatically." in member.said
    assert "Please choose the proposal category:" in member.said
    assert member.buttons[:2] == ["Member proposal", "Collective proposal"]
    await member.send("/help")
    assert "Please tap the proposal category: member proposal or collective proposal." in (
        member.said
    )
    assert "Send /cancel to cancel the current step, or /menu to return to the menu." in (
        member.said
    )
    await member.press(stale)
    assert "This button has expired; nothing was changed. The current step is:" in member.said
    assert "Please choose the proposal category:" in member.said
    await member.send("随便说点什么")
    assert "This step needs: Please tap the proposal category" in member.said
    await member.tap("Member proposal")
    assert "Please choose the proposal's field:" in member.said
    assert "Economic development" in member.buttons
    await member.send("/cancel")
    assert "Cancelled. Your saved drafts are kept." in member.said
    assert "Hello, 林晓!" in member.said
    await member.send("/nosuchcommand")
    assert "There is no such command. Send /help to see the commands you can use." in (member.said)

    # Someone else, at the same time, is still answered in Chinese.
    staff = chat_as(world.staff)
    await staff.send("/menu")
    assert "许静，您好！请选择要办理的事项：" in staff.said and "🔎 审查队列" in staff.buttons
    await staff.send("/cancel")  # at the menu: nothing to cancel, said in Chinese
    assert "当前没有进行中的操作。" in staff.said
    assert locale_of(world.staff) == "zh"

    # And back: the confirmation is said in the language chosen.
    await member.send("/lang")
    assert "Please choose a language:" in member.said
    await member.tap("中文")
    assert "语言已设置为中文。" in member.said and "林晓，您好" in member.said
    assert locale_of(world.member) == "zh"


async def test_the_drafts_list_and_a_draft_in_english(world, chat_as):
    member = chat_as(world.member)
    await member.send("/lang")
    await member.tap("English")
    await member.tap("📝 New proposal")
    await member.send("关于完善社区养老服务设施的建议")
    await member.send("/menu")
    await member.tap("🗂 My drafts")
    assert "Your drafts: 1. Tap one to keep editing it or to delete it:" in member.said
    await member.tap("“关于完善社区养老服务设施的建议”")
    assert "“关于完善社区养老服务设施的建议”" in member.said
    assert "Category: Member proposal  Field: Not chosen" in member.said
    assert {"✏️ Continue editing", "🗑 Delete draft", "Back to list"} <= set(member.buttons)
