"""From channel-neutral outputs to Telegram messages.

Every text is sent with ``parse_mode=HTML`` and escaped whole: the bot's texts carry no
markup of their own, so nothing a person typed (a title, a reason, a name) can change the
formatting or hide a link. Choices become inline keyboards; their payloads are the engine's
compact codec (``<version>|<value>`` for a step's choice, ``<action>:<args>`` for a notice
button), which never exceeds Telegram's 64 bytes. Keyboards are built as the Bot API's own
JSON (the channel sends with ``Bot.do_api_request``), not as python-telegram-bot objects
turned into that JSON again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from handlers.messages import MAX_MESSAGE, PAYLOAD_MAX_BYTES, Choice, Out

BUTTON_LABEL_MAX = 64  # longer labels are cut; Telegram shows about 30 characters anyway
LONG_AS_FILE = 3  # a text the engine split into this many messages or more goes as a file
CAPTION_MAX = 1024


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def fits_payload(payload: str) -> bool:
    return 0 < len(payload.encode()) <= PAYLOAD_MAX_BYTES


def inline_keyboard(choices: list[Choice], columns: int = 1) -> dict | None:
    """An InlineKeyboardMarkup: the choices whose payload fits, ``columns`` to a row."""
    buttons = [
        {"text": _label(c.label), "callback_data": c.payload}
        for c in choices
        if fits_payload(c.payload)
    ]
    if not buttons:
        return None
    columns = max(1, columns)
    return {"inline_keyboard": [buttons[i : i + columns] for i in range(0, len(buttons), columns)]}


def contact_keyboard(label: str) -> dict:
    """A ReplyKeyboardMarkup of one button that shares the person's phone number."""
    return {
        "keyboard": [[{"text": label, "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


REMOVE_KEYBOARD = {"remove_keyboard": True}  # a ReplyKeyboardRemove


def _label(label: str) -> str:
    label = " ".join(label.split()) or "·"
    return label if len(label) <= BUTTON_LABEL_MAX else label[: BUTTON_LABEL_MAX - 1] + "…"


@dataclass
class Piece:
    """One thing to send: a message, or a long text as a document."""

    text: str
    choices: list[Choice]
    columns: int = 1
    expects: str = "text"
    document: bytes | None = None
    filename: str | None = None


def pieces(outs: list[Out]) -> list[Piece]:
    """Group the parts of a split text; a text of many parts goes out as one document.

    A record or an export that needs ``LONG_AS_FILE`` messages or more reads better as a
    file; its choices (if any) follow in a short message with the text's last line.
    """
    result: list[Piece] = []
    run: list[Out] = []
    for out in outs:
        if out.file is not None:
            result.append(
                Piece(out.text, [], expects="none", document=out.file.data, filename=out.file.name)
            )
            continue
        run.append(out)
        if out.continued:
            continue
        if len(run) >= LONG_AS_FILE:
            full = "\n".join(part.text for part in run)
            last_line = next((ln for ln in reversed(full.splitlines()) if ln.strip()), "…")
            result.append(Piece(text=full, choices=[], expects="none", document=full.encode()))
            if out.choices or out.expects not in ("none", "text"):
                result.append(Piece(last_line, out.choices, out.columns, out.expects))
        else:
            result.extend(Piece(p.text, p.choices, p.columns, p.expects) for p in run)
        run = []
    result.extend(Piece(p.text, p.choices, p.columns, p.expects) for p in run)
    return result


def message_text(text: str) -> str:
    """Escaped text within Telegram's limit (the engine already splits long texts)."""
    text = text if text.strip() else "…"
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return escape(text)


def document_name(text: str, fallback: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    safe = "".join(ch for ch in first if ch.isalnum() or ch in "《》（）()-_ ")[:40].strip()
    return f"{safe or fallback}.txt"
