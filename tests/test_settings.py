"""Settings: environment variables and a .env file; every time rule has its default."""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import date

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from workflow.rules import Rules


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("PROPOSALBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_glossary_time_rules():
    rules = Settings().rules()
    assert rules == Rules()
    assert (rules.reply_due_months, rules.adjustment_window_workdays) == (3, 5)
    assert (rules.cohandler_opinion_months, rules.first_contact_workdays) == (1, 15)
    assert (rules.rating_window_workdays, rules.publication_workdays) == (15, 20)
    assert (rules.body_max_chars, rules.timezone) == (2500, "Asia/Shanghai")
    assert Settings().database_url == "sqlite:///data/proposalbot.db"


def test_every_rule_is_a_setting():
    settable = set(Settings.model_fields)
    missing = {f.name for f in fields(Rules)} - settable - {"reply_classes"}
    assert missing == set()


def test_env_file_and_environment(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        "PROPOSALBOT_REPLY_DUE_MONTHS=6\nPROPOSALBOT_SESSION_LABEL=七届三次会议\n", "utf-8"
    )
    monkeypatch.setenv("PROPOSALBOT_ADJUSTMENT_WINDOW_WORKDAYS", "10")
    rules = Settings().rules()
    assert (rules.reply_due_months, rules.session_label) == (6, "七届三次会议")
    assert rules.adjustment_window_workdays == 10


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("PROPOSALBOT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown timezone"):
        Settings()
    monkeypatch.setenv("PROPOSALBOT_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("PROPOSALBOT_REPLY_DUE_MONTHS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_deep_link_needs_the_bot_username(monkeypatch):
    assert Settings().deep_link("ABC") is None
    monkeypatch.setenv("PROPOSALBOT_TELEGRAM_BOT_USERNAME", "@tiantong_bot")
    assert Settings().deep_link("ABC") == "https://t.me/tiantong_bot?start=ABC"


def test_sweep_settings_have_their_defaults():
    rules = Settings().rules()
    assert rules.due_reminder_workdays == (15, 5, 1)
    assert rules.rating_reminder_workdays == (5, 10)
    assert rules.review_backlog_workdays == 3
    assert (rules.digest_time, rules.quiet_hours_start, rules.quiet_hours_end) == (
        "09:00",
        "21:00",
        "08:00",
    )


def test_working_day_offsets_are_written_as_a_list(monkeypatch):
    monkeypatch.setenv("PROPOSALBOT_DUE_REMINDER_WORKDAYS", "20, 10,3,10")
    monkeypatch.setenv("PROPOSALBOT_RATING_REMINDER_WORKDAYS", "3 7")
    monkeypatch.setenv("PROPOSALBOT_REVIEW_BACKLOG_WORKDAYS", "2")
    rules = Settings().rules()
    assert rules.due_reminder_workdays == (20, 10, 3)  # each offset once
    assert rules.rating_reminder_workdays == (3, 7)
    assert rules.review_backlog_workdays == 2
    monkeypatch.setenv("PROPOSALBOT_RATING_REMINDER_WORKDAYS", "")
    assert Settings().rules().rating_reminder_workdays == ()  # no reminders


@pytest.mark.parametrize("value", ["15,x", "0", "15,5,200", "-1"])
def test_bad_working_day_offsets_are_refused(monkeypatch, value):
    monkeypatch.setenv("PROPOSALBOT_DUE_REMINDER_WORKDAYS", value)
    with pytest.raises(ValidationError, match="due_reminder_workdays"):
        Settings()


def test_rating_reminders_must_fall_inside_the_rating_window(monkeypatch):
    monkeypatch.setenv("PROPOSALBOT_RATING_REMINDER_WORKDAYS", "5,15")
    with pytest.raises(ValidationError, match="before the rating window"):
        Settings()
    monkeypatch.setenv("PROPOSALBOT_RATING_WINDOW_WORKDAYS", "20")
    assert Settings().rules().rating_reminder_workdays == (5, 15)


def test_times_of_day_are_hours_and_minutes(monkeypatch):
    monkeypatch.setenv("PROPOSALBOT_DIGEST_TIME", "8:30")
    monkeypatch.setenv("PROPOSALBOT_QUIET_HOURS_START", "22:15")
    rules = Settings().rules()
    assert (rules.digest_time, rules.quiet_hours_start) == ("08:30", "22:15")
    assert rules.digest_at.hour == 8 and rules.digest_at.minute == 30
    for bad in ["25:00", "9:5", "0900", "09:00:00", "noon", ""]:
        monkeypatch.setenv("PROPOSALBOT_QUIET_HOURS_END", bad)
        with pytest.raises(ValidationError, match="quiet_hours_end"):
            Settings()


def test_a_holidays_file_is_optional_and_read_when_set(monkeypatch, tmp_path):
    assert Settings().holidays_file is None and Settings().work_calendar().days == {}
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", " ")
    assert Settings().holidays_file is None
    (tmp_path / "days.txt").write_text("2031-01-01 休 元旦\n", encoding="utf-8")
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", "days.txt")
    cal = Settings().work_calendar()
    assert cal.lists(2031) and not cal.is_workday(date(2031, 1, 1))


def test_the_channel_and_the_wechaty_puppet_service(monkeypatch):
    settings = Settings()
    assert (settings.channel, settings.wechaty_puppet) == ("telegram", "wechaty-puppet-service")
    assert settings.wechaty_puppet_service_token is None
    assert settings.wechat_send_interval == 1.5  # seconds between two messages sent
    assert settings.wechat_accept_friends is True
    monkeypatch.setenv("PROPOSALBOT_WECHAT_ACCEPT_FRIENDS", "false")
    assert Settings().wechat_accept_friends is False
    monkeypatch.setenv("PROPOSALBOT_CHANNEL", " WeChat ")
    monkeypatch.setenv("PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN", "puppet_padlocal_abc")
    monkeypatch.setenv("PROPOSALBOT_WECHATY_PUPPET_SERVICE_ENDPOINT", " ")
    monkeypatch.setenv("PROPOSALBOT_WECHAT_SEND_INTERVAL", "3")
    settings = Settings()
    assert settings.channel == "wechat" and settings.wechat_send_interval == 3.0
    assert settings.wechaty_puppet_service_token is not None
    assert settings.wechaty_puppet_service_token.get_secret_value() == "puppet_padlocal_abc"
    assert "puppet_padlocal_abc" not in repr(settings)
    assert settings.wechaty_puppet_service_endpoint is None  # blank is unset
    monkeypatch.setenv("PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN", "")
    assert Settings().wechaty_puppet_service_token is None
    for name, value in (("CHANNEL", "whatsapp"), ("WECHAT_SEND_INTERVAL", "-1")):
        monkeypatch.setenv(f"PROPOSALBOT_{name}", value)
        with pytest.raises(ValidationError, match=name.lower()):
            Settings()
        monkeypatch.delenv(f"PROPOSALBOT_{name}")
