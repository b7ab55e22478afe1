"""The time rules and limits of proposal work; every one is a setting (see bot.settings)."""

from __future__ import annotations

from dataclasses import dataclass
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
    body_max_chars: int = 2500
    title_max_chars: int = 100
    max_rehandles: int = 1
    rehandle_due_months: int = 1
    invite_ttl_hours: int = 72
    invite_max_failures: int = 5  # wrong codes per account within the window
    invite_failure_window_minutes: int = 60
    attachment_max_bytes: int = 20 * 1024 * 1024
    attachment_max_count: int = 10
    reply_classes: tuple[str, ...] = ("A", "B", "C")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
