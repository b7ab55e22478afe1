"""Texts in the person's language. Message ids are the Chinese texts; other languages come
from Babel catalogs in ``handlers/locale/<lang>/LC_MESSAGES/messages.po``, compiled in memory
on first use (no build step). The catalog holds the texts of handlers/ and of workflow/
(refusals, notices, the record: see ``workflow.texts``)."""

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
    """``message`` in ``locale``, formatted with ``params`` if any (unformatted without, as
    ``workflow.texts.Text.render`` wants it)."""
    if not message:
        return message  # gettext("") would give the catalog's header
    text = translations(locale or DEFAULT_LOCALE).gettext(message)
    return text.format(**params) if params else text


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark a text for extraction where it is defined; translate it where it is said."""
    return message
