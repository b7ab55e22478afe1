"""The time rules and limits of proposal work; every one is a setting (see bot.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rules:
    timezone: str = "Asia/Shanghai"
    committee_name: str = "提案通示范区政协"
    session_label: str = "一届一次会议"  # 会次 of proposals submitted now
    reply_due_months: int = 3  # reply due after 交办
    reply_extension_months: int = 1
    adjustment_window_workdays: int = 5
    cohandler_opinion_months: int = 1
    first_contact_workdays: int = 15
    rating_window_workdays: int = 15
    publication_workdays: int = 20
    cosign_window_workdays: int = 5  # co-signers confirm within this after submission
    # co-handling units countersign (会签) the reply within this after it is submitted;
    # a missing countersignature then counts as agreement (逾期未会签，视为同意)
    countersign_window_workdays: int = 5
    body_max_chars: int = 2500
    title_max_chars: int = 100
    max_rehandles: int = 1
    rehandle_due_months: int = 1
    due_max_months: int = 6  # no due date staff set lies further ahead than this
    invite_ttl_hours: int = 72
    invite_max_failures: int = 5  # wrong codes per account within the window
    invite_failure_window_minutes: int = 60
    attachment_max_bytes: int = 20 * 1024 * 1024
    attachment_max_count: int = 10
    reply_classes: tuple[str, ...] = ("A", "B", "C")
    # The scheduled sweeps (workflow.sweeps) and the notice dispatcher.
    due_reminder_workdays: tuple[int, ...] = (15, 5, 1)  # reminders before a due date
    rating_reminder_workdays: tuple[int, ...] = (5, 10)  # reminders after delivery
    review_backlog_workdays: int = 3  # staff are told of proposals awaiting review longer
    digest_time: str = "09:00"  # the daily digest, local time, working days only
    quiet_hours_start: str = "21:00"  # no notice goes out from here…
    quiet_hours_end: str = "08:00"  # …to here (local time; urgent ones excepted)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_at(self) -> time:
        return time.fromisoformat(self.digest_time)

    @property
    def quiet_starts_at(self) -> time:
        return time.fromisoformat(self.quiet_hours_start)

    def quiet_evening(self, at: time) -> bool:
        """Whether ``at`` lies in the quiet hours before midnight (when they span it): a
        notice written then goes out the next morning."""
        start, end = self.quiet_starts_at, self.day_starts_at
        return start > end and at >= start

    @property
    def day_starts_at(self) -> time:
        """When the quiet hours end: the earliest a notice written on a holiday is sent."""
        return time.fromisoformat(self.quiet_hours_end)
