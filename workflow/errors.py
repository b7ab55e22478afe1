"""Typed refusals, each carrying a clear Chinese message for the person who caused it."""

from __future__ import annotations

from datetime import datetime


class WorkflowError(Exception):
    """Base of every refusal; ``str(error)`` is the message to show."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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

    def __init__(self, message: str, *, by: str | None, at: datetime | None, status: str):
        super().__init__(message)
        self.by = by
        self.at = at
        self.status = status


class RateLimited(WorkflowError):
    code = "rate_limited"


class WrongInviteCode(InvalidInput):
    """A wrong, used or expired code; the attempt itself is kept for rate limiting."""

    code = "wrong_invite_code"
    commit_anyway = True
