"""Settings: environment variables and a .env file; every time rule has its default."""

from __future__ import annotations

import os
from dataclasses import fields

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
