"""Found by the fuzz and security tests: a NUL in typed text, query parameters and the bot
token in logs, and file sizes said two ways."""

from __future__ import annotations

import logging

from pydantic import SecretStr
from sqlmodel import select

from storage.models import Proposal
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import Person, make_app, running
from workflow.invites import issue_invite

TOKEN_LIKE = "123456:secret-token-for-log-checks"


async def test_a_nul_in_typed_text_is_dropped_not_a_failed_step(db, world, chat_as, caplog):
    member = chat_as(world.member)
    await member.send("/new")
    await member.send("关于\x00改善城区交通的建议")
    assert "抱歉，处理时出了问题" not in member.said and "草稿已建立" in member.said
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with db.read_session() as session:
        assert session.exec(select(Proposal)).one().title == "关于改善城区交通的建议"


def test_database_errors_do_not_carry_the_values_written(db):
    from sqlalchemy.exc import IntegrityError

    from storage.models import Person as Row

    try:
        with db.session() as session:
            session.add(Row(name="重复", phone="13800000001", roles="member"))
            session.add(Row(name="重复", phone="13800000001", roles="member"))
    except IntegrityError as exc:
        # The values SQLAlchemy would print with the statement are hidden. (PostgreSQL's
        # own DETAIL line may still name a duplicated key.)
        assert "parameters hidden" in str(exc) and "'13800000001'" not in str(exc)
    else:
        raise AssertionError("the duplicate phone was accepted")


async def test_telegram_logs_carry_no_token_invite_code_or_phone(db, wf, world, tmp_path, caplog):
    from bot.app import quiet_libraries

    caplog.set_level(logging.DEBUG)
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        quiet_libraries(app.settings)  # as build_app does; caplog's handler is redacted too
        with db.session() as session:
            code = issue_invite(wf.ctx(session, world.staff), world.member)
        member = Person(tg, tg.user(id=501, first_name="林晓"))
        cosigner = Person(tg, tg.user(id=502, first_name="何平"))
        async with running(app):
            await member.send(f"/start {code}", expect="绑定成功")
            await cosigner.send("/start", expect="请先绑定身份")
            await cosigner.share_contact("8613800000002", expect="绑定成功")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert tg.token not in text
    assert code not in text and "13800000002" not in text


def test_the_token_is_redacted_from_any_log_line(caplog):
    from bot.app import Redact
    from bot.settings import Settings

    settings = Settings(_env_file=None, telegram_token=SecretStr(TOKEN_LIKE))
    assert settings.telegram_token is not None
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /bot%s/getMe", (TOKEN_LIKE,), None
    )
    Redact(TOKEN_LIKE).filter(record)
    assert record.getMessage() == "GET /bot<token>/getMe"


async def test_a_file_over_the_limit_is_refused_in_the_megabytes_the_prompt_uses(
    db, wf, world, chat_as
):
    from tests.factories import Story

    Story(db, wf, world).draft()
    member = chat_as(world.member)
    await member.send("/drafts")
    await member.tap("《")
    await member.tap("✏️ 继续编辑")
    await member.tap("✏️ 附件")
    await member.upload("大.pdf", b"%PDF-1.4\n" + b"0" * wf.rules.attachment_max_bytes)
    assert "单个附件不能超过 20 MB" in member.said


async def test_wechat_logs_carry_no_puppet_token_invite_code_or_message(
    app, db, wf, world, caplog
):
    import dataclasses

    from bot.app import quiet_libraries
    from bot.wechat.serve import puppet_service
    from tests.fake_wechaty import FakeWeChat, running

    caplog.set_level(logging.DEBUG)
    token = "puppet_padlocal_0123456789abcdef"
    settings = app.settings.model_copy(
        update={
            "wechaty_puppet_service_token": SecretStr(token),
            "wechaty_puppet_service_endpoint": "127.0.0.1:8788",
        }
    )
    quiet_libraries(settings)  # as build_app does; caplog's handler is redacted too
    # The puppet service warns that it has both, naming the token.
    service = puppet_service(settings)
    assert service.options.token == token and service.options.end_point == "127.0.0.1:8788"
    assert any("<token>" in r.getMessage() for r in caplog.records)
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
    wechat = FakeWeChat()
    async with running(dataclasses.replace(app, settings=settings), wechat):
        member = wechat.person("wxid_linxiao", "林晓")
        await member.send(code, expect="绑定成功")
        await member.send("我的手机号是13800000001", expect="这一步需要")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in text and code not in text and "13800000001" not in text
