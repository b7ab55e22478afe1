"""What goes in and out of a conversation, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_MESSAGE = 4096  # Telegram's limit, the strictest of our channels
PAYLOAD_MAX_BYTES = 64
CAPTION_MAX = 1024  # a file's caption


@dataclass(frozen=True)
class Sender:
    """A chat account: which channel and who on it."""

    channel: str
    external_id: str
    display_name: str | None = None


@dataclass(frozen=True)
class FileIn:
    name: str
    data: bytes
    mime: str | None = None


@dataclass(frozen=True)
class Event:
    """One incoming event. ``kind`` is text, choice, file, contact or command.

    ``numbered``: the channel shows choices as numbered lines (console, WeChat), so a text
    that is a choice's number or label picks it.
    """

    kind: str
    text: str = ""
    payload: str = ""
    file: FileIn | None = None
    phone: str | None = None
    contact_is_self: bool = False
    numbered: bool = False

    @classmethod
    def of_text(cls, text: str, *, numbered: bool = False) -> Event:
        """Text, or a command when it starts with '/'."""
        if text.startswith("/"):
            return cls(kind="command", text=text)
        return cls(kind="text", text=text, numbered=numbered)

    @property
    def command(self) -> tuple[str, str]:
        """('/start', 'ARGS') for a command event."""
        head, _, rest = self.text.strip().partition(" ")
        return head.split("@", 1)[0].lower(), rest.strip()


@dataclass(frozen=True)
class FileOut:
    """A file the bot sends (an export); channels without files save it and say where."""

    name: str
    data: bytes
    mime: str


@dataclass(frozen=True)
class Choice:
    label: str
    payload: str


@dataclass
class Out:
    """One outgoing message; ``expects`` says what the bot waits for next."""

    text: str
    choices: list[Choice] = field(default_factory=list)
    expects: str = "text"  # text | choice | file | contact | none
    columns: int = 1  # how many buttons a row, where the channel draws buttons
    continued: bool = False  # a long text split here; the next Out carries on with it
    file: FileOut | None = None  # sent as a document; ``text`` is its caption


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at paragraph boundaries (then lines, then hard) into parts under ``limit``."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n"):
        piece = paragraph if not current else "\n" + paragraph
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        if current:
            parts.append(current)
        while len(paragraph) > limit:
            parts.append(paragraph[:limit])
            paragraph = paragraph[limit:]
        current = paragraph
    if current:
        parts.append(current)
    return parts


def render_numbered(out: Out) -> str:
    """Choices as numbered lines, for channels without buttons."""
    if not out.choices:
        return out.text
    lines = [out.text, ""] + [f"{i}. {c.label}" for i, c in enumerate(out.choices, 1)]
    return "\n".join(lines)
