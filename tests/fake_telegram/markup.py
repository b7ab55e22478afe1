"""Telegram's text formatting: parse_mode HTML / MarkdownV2 / Markdown into plain text + entities.

The parsers follow the rules the Bot API documents (and its server applies): only the tags and
markup Telegram supports, entity offsets and lengths in UTF-16 code units, errors worded the way
Telegram words them ("Unsupported start tag "foo" at byte offset 3", "Character '.' is reserved
and must be escaped with the preceding '\\'", ...). The server prefixes them with
"Bad Request: can't parse entities: ".
"""

from __future__ import annotations

import re
from typing import Any

Entity = dict[str, Any]

_SPACES = " \t\r\n\v\f"
HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}
MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!"


class EntityParseError(ValueError):
    """The text does not parse in the given parse_mode; str(error) is Telegram's wording."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else "\0"


def _is_space(ch: str) -> bool:
    return ch in _SPACES or ch == "\0"


def sort_entities(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# --- HTML -------------------------------------------------------------------------------------


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode "&lt;" / "&#60;" / "&#x3c;" at pos; returns (char, next index) or None."""
    end = pos + 1
    if _at(text, end) == "#":
        end += 1
        value = 0
        if _at(text, end) == "x":
            end += 1
            while _at(text, end) in "0123456789abcdefABCDEF" and _at(text, end) != "\0":
                value = value * 16 + int(text[end], 16)
                end += 1
                if value >= 0x10FFFF:
                    return None
        else:
            while _at(text, end).isdigit() and _at(text, end).isascii():
                value = value * 10 + int(text[end])
                end += 1
                if value >= 0x10FFFF:
                    return None
        if value == 0 or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while _at(text, end).isascii() and _at(text, end).isalpha():
            end += 1
        name = text[pos + 1 : end]
        char = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, "")
        if not char:
            return None
    if _at(text, end) == ";":
        end += 1
    return char, end


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """Telegram's HTML style: returns (plain text, entities) or raises EntityParseError."""
    out: list[str] = []
    offset = 0  # UTF-16 offset of the output so far
    entities: list[Entity] = []
    # open tags: (tag name, argument, utf16 offset, output index)
    stack: list[tuple[str, str, int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                offset += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            offset += utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if _at(text, i) != "/":
            while not _is_space(_at(text, i)) and _at(text, i) != ">":
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            tag = text[begin + 1 : i].lower()
            if tag not in HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            expandable = False
            while _at(text, i) != ">":
                while i < n and _is_space(text[i]):
                    i += 1
                if _at(text, i) == ">":
                    break
                attr_begin = i
                while not _is_space(_at(text, i)) and _at(text, i) not in "=>":
                    i += 1
                attr = text[attr_begin:i]
                if not attr:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and _is_space(text[i]):
                    i += 1
                if _at(text, i) != "=":
                    if tag == "blockquote" and attr == "expandable":
                        expandable = True
                        continue
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                i += 1
                while i < n and _is_space(text[i]):
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                value_chars: list[str] = []
                if text[i] not in "'\"":
                    # unquoted: ASCII letters, digits, hyphens, periods, underscores and colons
                    while i < n and (
                        (text[i].isascii() and text[i].isalnum()) or text[i] in ".-_:"
                    ):
                        value_chars.append(text[i])
                        i += 1
                else:
                    quote = text[i]
                    i += 1
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                value_chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        value_chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                value = "".join(value_chars)
                if (
                    (tag == "a" and attr == "href")
                    or (tag == "tg-emoji" and attr == "emoji-id")
                    or (tag == "blockquote" and attr == "expandable")
                ):
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            if tag == "blockquote" and expandable:
                argument = "expandable"
            stack.append((tag, argument, offset, len(out)))
            i += 1  # past '>'
            continue
        # end tag
        if not stack:
            raise EntityParseError(
                f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
            )
        while not _is_space(_at(text, i)) and _at(text, i) != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        while i < n and _is_space(text[i]):
            i += 1
        if _at(text, i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        tag, argument, start, out_index = stack.pop()
        if end_name and end_name != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        length = offset - start
        if length <= 0:
            continue
        entity: Entity = {"offset": start, "length": length}
        if tag in _HTML_TYPES:
            entity["type"] = _HTML_TYPES[tag]
            if tag == "code" and argument and stack and stack[-1][0] == "pre":
                entity["language"] = argument
        elif tag == "a":
            url = argument or "".join(out[out_index:])
            match = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if match:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(match.group(1)), "is_bot": False, "first_name": ""}
            elif url:
                entity["type"] = "text_link"
                entity["url"] = url
            else:
                continue
        elif tag == "pre":
            entity["type"] = "pre"
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "code"
                and last["offset"] == start
                and last["length"] == length
            ):
                entities.pop()
                if "language" in last:
                    entity["language"] = last["language"]
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        elif tag == "tg-emoji":
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = argument
        entities.append(entity)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sort_entities(entities)


# --- MarkdownV2 -------------------------------------------------------------------------------

_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _reserved(c: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """Telegram's MarkdownV2 style: returns (plain text, entities) or raises EntityParseError."""
    out: list[str] = []
    offset = 0
    entities: list[Entity] = []
    # open entities: dict(type, language, offset, byte offset, output index)
    stack: list[dict[str, Any]] = []
    quote_start: int | None = None  # UTF-16 offset where the current blockquote began
    quote_kind = "blockquote"  # or "expandable_blockquote" ("**>" ... "||")
    n = len(text)
    i = 0

    def emit(s: str) -> None:
        nonlocal offset
        out.append(s)
        offset += utf16_len(s)

    def close_quote() -> None:
        nonlocal quote_start
        if quote_start is not None:
            end = offset
            if out and out[-1] == "\n":
                end -= 1
            if end > quote_start:
                entities.append(
                    {"type": quote_kind, "offset": quote_start, "length": end - quote_start}
                )
            quote_start = None

    while i < n:
        c = text[i]
        in_code = bool(stack) and stack[-1]["type"] in ("code", "pre")
        line_start = i == 0 or text[i - 1] == "\n"
        if line_start and not in_code:
            if c == ">" or (text.startswith("**>", i) and not stack):
                if c == "*":
                    close_quote()
                    quote_kind = "expandable_blockquote"
                    i += 2
                elif quote_start is None:
                    quote_kind = "blockquote"
                if quote_start is None:
                    quote_start = offset
                i += 1
                continue
            if quote_start is not None:
                close_quote()
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        if (
            quote_kind == "expandable_blockquote"
            and quote_start is not None
            and not stack
            and text.startswith("||", i)
            and _at(text, i + 2) in "\n\0"
        ):
            i += 2  # the mark that ends an expandable blockquote
            continue
        reserved = "`" if in_code else MARKDOWN_V2_RESERVED
        if c not in reserved:
            emit(c)
            i += 1
            continue
        top = stack[-1]["type"] if stack else None
        nxt = _at(text, i + 1)
        is_end = False
        if top == "bold":
            is_end = c == "*"
        elif top == "italic":
            is_end = c == "_" and nxt != "_"
        elif top == "code":
            is_end = c == "`"
        elif top == "pre":
            is_end = c == "`" and nxt == "`" and _at(text, i + 2) == "`"
        elif top in ("text_link", "custom_emoji"):
            is_end = c == "]"
        elif top == "underline":
            is_end = c == "_" and nxt == "_"
        elif top == "strikethrough":
            is_end = c == "~"
        elif top == "spoiler":
            is_end = c == "|" and nxt == "|"
        if not is_end:
            begin = i
            language = ""
            if c == "_":
                if nxt == "_":
                    i += 1
                    kind = "underline"
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if nxt != "|":
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if nxt == "`" and _at(text, i + 2) == "`":
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while not _is_space(_at(text, lang_end)) and _at(text, lang_end) != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and text[lang_end] != "`":
                        language = text[i:lang_end]
                        i = lang_end
                    if _at(text, i) in "\r\n" and i < n:
                        if _at(text, i + 1) in "\r\n" and i + 1 < n and text[i] != text[i + 1]:
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!":
                if nxt != "[":
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            else:
                raise _reserved(c)
            stack.append(
                {
                    "type": kind,
                    "language": language,
                    "offset": offset,
                    "byte": _byte_offset(text, begin),
                    "out": len(out),
                }
            )
            i += 1
            continue
        opened = stack.pop()
        kind = opened["type"]
        entity: Entity = {
            "type": kind,
            "offset": opened["offset"],
            "length": offset - opened["offset"],
        }
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if opened["language"]:
                entity["language"] = opened["language"]
        elif kind in ("text_link", "custom_emoji"):
            if _at(text, i + 1) != "(":
                if kind == "custom_emoji":
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                url = "".join(out[opened["out"] :])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if kind == "custom_emoji":
                match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if not match:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                entity["custom_emoji_id"] = match.group(1)
            else:
                match = re.fullmatch(r"tg://user\?id=(\d+)", url)
                if match:
                    entity["type"] = "text_mention"
                    entity["user"] = {"id": int(match.group(1)), "is_bot": False, "first_name": ""}
                else:
                    entity["url"] = url
        i += 1
        if entity["length"] > 0:
            entities.append(entity)
    if stack:
        opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[opened['type']]} entity at byte offset "
            f"{opened['byte']}"
        )
    close_quote()
    return "".join(out), sort_entities(entities)


# --- Markdown (legacy) ------------------------------------------------------------------------


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Telegram's legacy Markdown style (*bold*, _italic_, `code`, ```pre```, [text](url))."""
    out: list[str] = []
    offset = 0
    entities: list[Entity] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and _at(text, i + 1) in "_*`[" and i + 1 < n:
            out.append(text[i + 1])
            offset += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            offset += utf16_len(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and _at(text, i) == "`" and _at(text, i + 1) == "`":
            i += 2
            is_pre = True
            lang_end = i
            while not _is_space(_at(text, lang_end)) and _at(text, lang_end) != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if i < n and text[i] in "\r\n":
                if i + 1 < n and text[i + 1] in "\r\n" and text[i] != text[i + 1]:
                    i += 2
                else:
                    i += 1
        start = offset
        start_out = len(out)
        while i < n and (
            text[i] != end_char
            or (is_pre and not (_at(text, i + 1) == "`" and _at(text, i + 2) == "`"))
        ):
            out.append(text[i])
            offset += utf16_len(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        entity: Entity = {"offset": start, "length": offset - start}
        if c == "_":
            entity["type"] = "italic"
        elif c == "*":
            entity["type"] = "bold"
        elif c == "[":
            url = "".join(out[start_out:])
            if _at(text, i + 1) == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    url = text[i + 2 : close]
                    i = close
            entity["type"] = "text_link"
            entity["url"] = url
        elif is_pre:
            entity["type"] = "pre"
            if language:
                entity["language"] = language
            i += 2
        else:
            entity["type"] = "code"
        i += 1
        if entity["length"] > 0:
            entities.append(entity)
    return "".join(out), sort_entities(entities)


# --- entry points -----------------------------------------------------------------------------

PARSE_MODES = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Parse text in parse_mode (None or "" = plain); raises EntityParseError / KeyError."""
    if not parse_mode:
        return text, []
    return PARSE_MODES[parse_mode.lower()](text)


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace the way Telegram does, keeping entities aligned."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_AUTO = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)(?![\w/])"
    r"|(?P<url>\bhttps?://[^\s<>\"]+)"
    r"|(?P<mention>(?<!\w)@[A-Za-z][A-Za-z0-9_]{3,31})(?!\w)"
    r"|(?P<hashtag>(?<!\w)#\w+)"
)


def detect_entities(text: str, existing: list[Entity] | None = None) -> list[Entity]:
    """Entities Telegram finds by itself: bot commands, URLs, @mentions, #hashtags."""
    taken = [(e["offset"], e["offset"] + e["length"]) for e in existing or []]
    found: list[Entity] = []
    for match in _AUTO.finditer(text):
        kind = match.lastgroup or ""
        start = utf16_len(text[: match.start()])
        length = utf16_len(match.group())
        if any(start < end and begin < start + length for begin, end in taken):
            continue
        found.append({"type": kind, "offset": start, "length": length})
    return sort_entities([*(existing or []), *found])
