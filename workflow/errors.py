"""Typed refusals, each carrying a clear message for the person who caused it.

A refusal is raised with a literal message id and its parameters,
``NotFound("找不到答复 {reply_id}。", reply_id=reply_id)``, so that extraction finds it; its
``text`` is said in the person's language, its ``message`` is the Chinese rendering (the CLI
and logs show it).
"""

from __future__ import annotations

from datetime import datetime

from workflow.texts import Text


class WorkflowError(Exception):
    """Base of every refusal; ``str(error)`` is the Chinese message."""

    code = "error"

    def __init__(self, msgid: str | Text, /, **params) -> None:
        self.text = msgid if isinstance(msgid, Text) else Text(msgid, **params)
        self.message = str(self.text)
        super().__init__(self.message)


class NotFound(WorkflowError):
    code = "not_found"


class PermissionDenied(WorkflowError):
    code = "permission_denied"


class InvalidInput(WorkflowError):
    code = "invalid_input"


class InvalidTransition(WorkflowError):
    code = "invalid_transition"


class AlreadyHandled(InvalidTransition):
    """Someone else moved the record first; says who and when."""

    code = "already_handled"

    def __init__(
        self,
        msgid: str | Text,
        /,
        *,
        by: str | None,
        at: datetime | None,
        status: str,
        **params,
    ) -> None:
        super().__init__(msgid, **params)
        self.by = by
        self.at = at
        self.status = status


class RateLimited(WorkflowError):
    code = "rate_limited"


class WrongInviteCode(InvalidInput):
    """A wrong, used or expired code; the attempt itself is kept for rate limiting."""

    code = "wrong_invite_code"
    commit_anyway = True
