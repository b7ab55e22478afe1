"""What the workflow says, kept translatable: refusals, notices and the printed record.

A ``Text`` is a message id (the Chinese template, with ``{name}`` placeholders; it is also
the catalog's id) and its parameters. It is rendered where it is said, in the language of
the person it is said to: the caller passes the gettext function of that language in
(workflow/ knows no catalog). ``str(text)`` is the Chinese rendering, what the CLI and the
stored notice text show.

Parameters are kept as they are given and rendered at the end:

- ``str`` and ``int``: as they are (names, titles, numbers, what a person wrote);
- ``label("已立案")``: a word of workflow's tables (a status, a role, a field name…),
  translated; marking it where it is defined also lets extraction find it;
- a list of these: joined with "、" in Chinese, ", " in other languages;
- a nested ``Text``;
- ``date`` and ``datetime``: "2026年9月14日 09:30" in Chinese, by Babel otherwise
  ("14 Sep 2026 09:30"). A datetime must already be in local time (``ctx.local``) so that
  the JSON form keeps the local wall time;
- ``None``: nothing.

``to_json`` / ``Text.from_json`` keep a Text in the outbox, to be said later in the
recipient's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime

DEFAULT_LOCALE = "zh"
LIST_SEPARATORS = {"zh": "、"}
DATE_PATTERN = "d MMM y"  # Babel (CLDR) pattern for languages other than Chinese
TIME_PATTERN = "d MMM y HH:mm"

Gettext = Callable[[str], str]


class label(str):  # noqa: N801 - used like a marker function: label("已立案")
    """A word from workflow's tables, translated where it is said."""

    __slots__ = ()


def _same(message: str) -> str:
    return message


def date_text(day: date | None, locale: str = DEFAULT_LOCALE) -> str:
    """A day as a person of ``locale`` reads it: 2026年9月14日, or 14 Sep 2026."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.date()
    if locale == DEFAULT_LOCALE:
        return f"{day.year}年{day.month}月{day.day}日"
    return format_date(day, DATE_PATTERN, locale=locale)


def time_text(moment: datetime | None, locale: str = DEFAULT_LOCALE) -> str:
    """A local time as a person of ``locale`` reads it: 2026年9月14日 09:30, or
    14 Sep 2026 09:30 (the wall time it carries, never converted)."""
    if moment is None:
        return ""
    if locale == DEFAULT_LOCALE:
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
    return format_datetime(moment.replace(tzinfo=None), TIME_PATTERN, locale=locale)


def _check(name: str, value: Any) -> None:
    if value is None or isinstance(value, str | int | date | Text):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(name, item)
        return
    raise TypeError(f"Text parameter {name}={value!r}: not a str, int, date, list or Text")


class Text:
    """A message id and its parameters, rendered in a person's language when said."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: Any) -> None:
        if not isinstance(msgid, str):
            raise TypeError(f"a Text's message id is a str, not {msgid!r}")
        for name, value in params.items():
            _check(name, value)
        self.msgid = str(msgid)
        self.params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}

    # ------------------------------------------------------------- saying
    def render(self, gettext: Gettext | None = None, locale: str = DEFAULT_LOCALE) -> str:
        """The text in ``locale``; ``gettext`` translates one message id of that language."""
        gettext = gettext or _same
        template = gettext(self.msgid) if self.msgid else self.msgid
        if not self.params:
            return template
        values = {k: _render(v, gettext, locale) for k, v in self.params.items()}
        return template.format(**values)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Text({self.msgid!r}{params})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Text):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------- keeping
    def to_json(self) -> dict:
        return {"msgid": self.msgid, "params": {k: _encode(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Text:
        return cls(data["msgid"], **{k: _decode(v) for k, v in data.get("params", {}).items()})


def _render(value: Any, gettext: Gettext, locale: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Text):
        return value.render(gettext, locale)
    if isinstance(value, label):
        return gettext(value) if value else ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        separator = LIST_SEPARATORS.get(locale, ", ")
        return separator.join(_render(item, gettext, locale) for item in value)
    if isinstance(value, datetime):
        return time_text(value, locale)
    if isinstance(value, date):
        return date_text(value, locale)
    return str(value)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Text):
        return {"text": value.to_json()}
    if isinstance(value, label):
        return {"label": str(value)}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return {"list": [_encode(item) for item in value]}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (kind, inner), *_ = value.items()
    if kind == "text":
        return Text.from_json(inner)
    if kind == "label":
        return label(inner)
    if kind == "list":
        return [_decode(item) for item in inner]
    if kind == "datetime":
        return datetime.fromisoformat(inner)
    if kind == "date":
        return date.fromisoformat(inner)
    raise ValueError(f"unknown Text parameter {value!r}")
