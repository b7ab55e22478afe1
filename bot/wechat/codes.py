"""Short codes for the actions of notices: WeChat has no buttons.

A notice's actions (rate a reply, confirm co-signing, accept an assignment…) are sent as
numbered lines with a code each, ``a1``, ``a2``…; the person answers by typing the code.
The codes are the person's own, counted on (a code never names another action), and kept with their
conversation on WeChat, in the part of it that outlives every flow (``_keep``, as the
engine keeps drafts): a restart loses none. The newest ``KEEP`` are kept; an older code, or
one never given, is answered as not valid and changes nothing. A code only names an
action: whether the person may take it, and whether it was taken already, the workflow
decides as for a button.

A text is read as a code only when it is one the person holds now (``a7`` typed as a
proposal's title is the title when no ``a7`` was given to them). A code they hold is the
code at every step, a free-text one included: a notice's action can be taken whatever the
person is writing. A text shaped like a code they do not hold is text at a step that takes
text, and answered as a code not valid elsewhere.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from handlers.i18n import DEFAULT_LOCALE
from storage.clock import utcnow
from storage.db import Database
from storage.models import ChannelAccount, Conversation, Person

KEEP = 100  # codes kept per person: far more than the notices anyone leaves unanswered
BOOK = "notice_codes"  # in conversation.data["_keep"]: {"next": int, "codes": {code: payload}}
CODE_RE = re.compile(r"a[1-9][0-9]{0,6}")


def as_code(text: str) -> str | None:
    """The code a typed text is (``a12``, ``A12``, ``ａ１２``, `` a12 ``), or None."""
    code = unicodedata.normalize("NFKC", text).strip().lower()
    return code if CODE_RE.fullmatch(code) else None


def issue(
    db: Database, channel: str, external_id: str, payloads: list[str]
) -> tuple[list[str], str]:
    """Codes for these action payloads, kept before the notice is sent (a person who
    answers at once finds them): new ones, or those an action was given before; (the
    codes, the person's language)."""
    with db.session() as session:
        conv = _conversation(session, channel, external_id)
        data = dict(conv.data or {})
        keep = dict(data.get("_keep") or {})
        book = keep.get(BOOK) or {}
        number = int(book.get("next") or 1)
        known = dict(book.get("codes") or {})
        # An action given a code before keeps it: a notice tried again after a failed send
        # says the same codes, whatever the person saw of the first attempt.
        given = {payload: code for code, payload in known.items()}
        codes = []
        for payload in payloads:
            code = given.get(payload)
            if code is None:
                code = given[payload] = f"a{number}"
                known[code] = payload
                number += 1
            codes.append(code)
        newest = sorted(known, key=lambda c: int(c[1:]))[-KEEP:]
        keep[BOOK] = {"next": number, "codes": {c: known[c] for c in newest}}
        data["_keep"] = keep
        conv.data = data
        conv.updated_at = utcnow()
        session.add(conv)
        locale = session.exec(
            select(Person.locale)
            .join(ChannelAccount, ChannelAccount.person_id == Person.id)  # type: ignore[arg-type]
            .where(ChannelAccount.channel == channel, ChannelAccount.external_id == external_id)
        ).first()
        return codes, locale or DEFAULT_LOCALE


def lookup(
    db: Database, channel: str, external_id: str, code: str
) -> tuple[str | None, str | None, str | None]:
    """(the action payload a code of this person names, or None for a code not or no
    longer theirs; the flow and the step their conversation is at)."""
    with db.read_session() as session:
        row = session.exec(
            select(Conversation.data, Conversation.flow, Conversation.step).where(
                Conversation.channel == channel, Conversation.external_id == external_id
            )
        ).first()
    data, flow, step = row if row is not None else (None, None, None)
    book = ((data or {}).get("_keep") or {}).get(BOOK) or {}
    payload = (book.get("codes") or {}).get(code)
    return (payload if isinstance(payload, str) else None), flow, step


def _conversation(session, channel: str, external_id: str) -> Conversation:
    """The person's conversation on the channel, locked (the engine locks it too); made if
    they never wrote (an account bound by other means)."""
    query = (
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.external_id == external_id)
        .with_for_update()
    )
    conv = session.exec(query).first()
    if conv is None:
        try:
            with session.begin_nested():
                session.add(Conversation(channel=channel, external_id=external_id, data={}))
        except IntegrityError:  # another process made it at the same moment
            pass
        conv = session.exec(query).one()
    return conv
