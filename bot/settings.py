"""Settings from environment variables (prefix ``PROPOSALBOT_``) and a ``.env`` file."""

from __future__ import annotations

from dataclasses import fields
from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DEFAULT_SQLITE_URL
from workflow.calendar import WorkCalendar, read_calendar_file
from workflow.rules import Rules

_DEFAULTS = Rules()

# Working-day offsets, written "15,5,1" in the environment.
Workdays = Annotated[tuple[int, ...], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROPOSALBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(DEFAULT_SQLITE_URL, description="SQLAlchemy URL of the database")
    timezone: str = _DEFAULTS.timezone
    committee_name: str = _DEFAULTS.committee_name
    session_label: str = _DEFAULTS.session_label
    data_dir: Path = Path("data")
    holidays_file: Path | None = Field(
        None, description="the committee's own days off and working days (see README)"
    )
    log_level: str = "WARNING"
    channel: Literal["telegram", "wechat"] = Field(
        "telegram", description="the chat channel proposalbot run serves"
    )
    telegram_token: SecretStr | None = None
    telegram_bot_username: str | None = None
    telegram_api_url: str | None = Field(
        None, description="a local Bot API server, e.g. http://127.0.0.1:8081"
    )
    telegram_webhook_secret: SecretStr | None = None
    # A little under Telegram's 30 messages a second: requests reach Telegram with some
    # jitter, and a sender pacing at exactly 30/s meets its limit (429s) now and then.
    telegram_rate_limit: float = Field(28.0, gt=0, le=1000)
    wechaty_puppet: str = "wechaty-puppet-service"
    wechaty_puppet_service_token: SecretStr | None = None
    wechaty_puppet_service_endpoint: str | None = Field(
        None, description="host:port of the puppet service (found from the token otherwise)"
    )
    # WeChat restricts accounts that send fast: every message the bot sends (answers and
    # notices, over all contacts) goes out at least this many seconds after the one before.
    wechat_send_interval: float = Field(1.5, ge=0, le=60)
    wechat_accept_friends: bool = Field(
        True, description="accept WeChat friend requests and tell the new contact how to bind"
    )
    notice_lease_seconds: int = Field(
        60, ge=1, le=3600, description="a notice being sent is claimed again after this"
    )
    notice_max_attempts: int = Field(5, ge=1, le=50)

    reply_due_months: int = Field(_DEFAULTS.reply_due_months, ge=1, le=12)
    reply_extension_months: int = Field(_DEFAULTS.reply_extension_months, ge=0, le=6)
    adjustment_window_workdays: int = Field(_DEFAULTS.adjustment_window_workdays, ge=1, le=30)
    cohandler_opinion_months: int = Field(_DEFAULTS.cohandler_opinion_months, ge=1, le=6)
    first_contact_workdays: int = Field(_DEFAULTS.first_contact_workdays, ge=1, le=60)
    rating_window_workdays: int = Field(_DEFAULTS.rating_window_workdays, ge=1, le=60)
    publication_workdays: int = Field(_DEFAULTS.publication_workdays, ge=1, le=120)
    cosign_window_workdays: int = Field(_DEFAULTS.cosign_window_workdays, ge=0, le=30)
    countersign_window_workdays: int = Field(_DEFAULTS.countersign_window_workdays, ge=1, le=30)
    body_max_chars: int = Field(_DEFAULTS.body_max_chars, ge=200, le=20000)
    title_max_chars: int = Field(_DEFAULTS.title_max_chars, ge=10, le=200)
    max_rehandles: int = Field(_DEFAULTS.max_rehandles, ge=0, le=5)
    rehandle_due_months: int = Field(_DEFAULTS.rehandle_due_months, ge=1, le=6)
    due_max_months: int = Field(_DEFAULTS.due_max_months, ge=1, le=24)
    invite_ttl_hours: int = Field(_DEFAULTS.invite_ttl_hours, ge=1, le=24 * 90)
    invite_max_failures: int = Field(_DEFAULTS.invite_max_failures, ge=1, le=100)
    attachment_max_bytes: int = Field(_DEFAULTS.attachment_max_bytes, ge=1024, le=2 * 1024**3)
    attachment_max_count: int = Field(_DEFAULTS.attachment_max_count, ge=0, le=100)
    invite_failure_window_minutes: int = Field(
        _DEFAULTS.invite_failure_window_minutes, ge=1, le=24 * 60
    )
    due_reminder_workdays: Workdays = _DEFAULTS.due_reminder_workdays
    rating_reminder_workdays: Workdays = _DEFAULTS.rating_reminder_workdays
    review_backlog_workdays: int = Field(_DEFAULTS.review_backlog_workdays, ge=1, le=60)
    digest_time: str = _DEFAULTS.digest_time
    quiet_hours_start: str = _DEFAULTS.quiet_hours_start
    quiet_hours_end: str = _DEFAULTS.quiet_hours_end

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL, e.g. sqlite:///data/proposalbot.db") from None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"{backend} is not supported: use SQLite or PostgreSQL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("due_reminder_workdays", "rating_reminder_workdays", mode="before")
    @classmethod
    def _workday_list(cls, value):
        """ "15,5,1" (or "15 5 1"; empty for none) from the environment, a sequence in code."""
        if isinstance(value, str):
            words = value.replace(",", " ").replace("，", " ").split()
            try:
                value = [int(word) for word in words]
            except ValueError:
                raise ValueError(f"working days must be whole numbers: {value!r}") from None
        return value

    @field_validator("due_reminder_workdays", "rating_reminder_workdays")
    @classmethod
    def _workday_offsets(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 1 or day > 120 for day in value):
            raise ValueError("each offset must be between 1 and 120 working days")
        return tuple(dict.fromkeys(value))

    @field_validator("digest_time", "quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        """A local time of day, HH:MM (24-hour); kept as HH:MM."""
        hours, _, minutes = value.strip().partition(":")
        try:
            parsed = time(int(hours), int(minutes))
        except ValueError:
            raise ValueError(f"not a time of day HH:MM: {value!r}") from None
        if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
            raise ValueError(f"not a time of day HH:MM: {value!r}")
        return parsed.strftime("%H:%M")

    @model_validator(mode="after")
    def _rating_reminders_inside_the_window(self):
        late = [d for d in self.rating_reminder_workdays if d >= self.rating_window_workdays]
        if late:
            raise ValueError(
                f"PROPOSALBOT_RATING_REMINDER_WORKDAYS {late} must come before the rating "
                f"window (PROPOSALBOT_RATING_WINDOW_WORKDAYS, {self.rating_window_workdays}) ends"
            )
        return self

    @field_validator(
        "telegram_token",
        "telegram_webhook_secret",
        "holidays_file",
        "wechaty_puppet_service_token",
        "wechaty_puppet_service_endpoint",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value):
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("channel", mode="before")
    @classmethod
    def _channel_name(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("telegram_bot_username")
    @classmethod
    def _strip_at(cls, value: str | None) -> str | None:
        return value.lstrip("@") if value else value

    def telegram_urls(self) -> tuple[str | None, str | None]:
        """(base_url, base_file_url) for python-telegram-bot; None, None for the cloud API."""
        if not self.telegram_api_url:
            return None, None
        root = self.telegram_api_url.rstrip("/")
        return f"{root}/bot", f"{root}/file/bot"

    def work_calendar(self) -> WorkCalendar:
        """The national calendar, with the days of the holidays file if one is set."""
        if self.holidays_file is None:
            return WorkCalendar()
        return WorkCalendar.of(read_calendar_file(self.holidays_file))

    def rules(self) -> Rules:
        names = {f.name for f in fields(Rules)}
        return Rules(**{k: v for k, v in self.model_dump().items() if k in names})

    def deep_link(self, code: str) -> str | None:
        if not self.telegram_bot_username:
            return None
        return f"https://t.me/{self.telegram_bot_username}?start={code}"
