"""Texts in the person's language. Message ids are the Chinese texts; other languages come
from Babel catalogs in ``handlers/locale/<lang>/LC_MESSAGES/messages.po``, compiled in memory
on first use (no build step)."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = {"zh": "中文", "en": "English"}
DEFAULT_LOCALE = "zh"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@functools.cache
def translations(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(locale: str | None, message: str, **params) -> str:
    if not message:
        return message  # gettext("") would give the catalog's header
    text = translations(locale or DEFAULT_LOCALE).gettext(message)
    return text.format(**params) if params else text


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark a text for extraction where it is defined; translate it where it is said."""
    return message


# Labels that workflow/ defines (in Chinese) and the handlers translate where they say them
# (turn.t(proposal_label(...)) and the like). Marked here so that extraction finds them;
# tests/test_i18n.py checks that this list covers workflow's tables.
WORKFLOW_LABELS = (
    # workflow.statuses.PROPOSAL_STATUS_LABELS
    N_("草稿"),
    N_("待审查"),
    N_("已撤回"),
    N_("已立案"),
    N_("不予立案"),
    N_("已并案"),
    N_("转为意见建议"),
    N_("办理中"),
    N_("答复待审核"),
    N_("已答复"),
    N_("已办结"),
    # workflow.statuses.ASSIGNMENT_STATUS_LABELS
    N_("待签收"),
    N_("申请调整"),
    N_("已改交"),
    N_("已提出协办意见"),
    N_("已答复待审核"),
    # workflow.assignments.CONTACT_METHODS
    N_("电话沟通"),
    N_("上门走访"),
    N_("座谈面商"),
    N_("书面沟通"),
    N_("网络沟通"),
    # workflow.replies.CLASS_MEANINGS and RATINGS
    N_("所提问题已经解决或基本解决"),
    N_("所提问题正在解决或已列入计划逐步解决"),
    N_("因条件限制或其他原因暂时不能解决，留作参考"),
    N_("满意"),
    N_("基本满意"),
    N_("不满意"),
)
