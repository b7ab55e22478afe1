"""The console channel: a terminal chat as a roster person, choices as numbered lines."""

from __future__ import annotations

from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import cli
from storage.clock import utcnow
from storage.models import Signer
from tests.factories import Story


def run_chat(db, who, lines, monkeypatch, tmp_path):
    monkeypatch.setenv("PROPOSALBOT_DATABASE_URL", db.url)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(cli, ["chat", "--as", who], input="\n".join(lines) + "\n")


def test_numbered_choices_by_number_or_label(db, world, monkeypatch, tmp_path):
    result = run_chat(db, "林晓", ["🌐 语言 Language", "1", "/quit"], monkeypatch, tmp_path)
    assert result.exit_code == 0, result.output
    assert "林晓，您好！请选择要办理的事项：" in result.output
    assert "1. " in result.output and "请选择语言" in result.output
    assert "语言已设置为中文" in result.output


def test_notices_for_the_person_appear_with_their_buttons(
    db, wf, world, clock, monkeypatch, tmp_path
):
    clock.now = utcnow()  # the console runs on the real clock: the co-sign window is open
    story = Story(db, wf, world)
    pid = story.submitted(cosigners=[world.cosigner], confirm=False)
    result = run_chat(db, "13800000002", ["a1", "/quit"], monkeypatch, tmp_path)
    assert result.exit_code == 0, result.output
    assert "🔔 林晓委员邀请您联名提案" in result.output
    assert "a1. 确认联名" in result.output and "a2. 谢绝" in result.output
    with db.read_session() as s:
        signer = s.exec(
            select(Signer).where(Signer.proposal_id == pid, Signer.person_id == world.cosigner)
        ).one()
    assert signer.state == "confirmed"  # one tap on the notice's button
    again = run_chat(db, "何平", ["/quit"], monkeypatch, tmp_path)
    assert "🔔" not in again.output  # a notice is shown once


def test_unknown_person_is_a_one_line_error(db, world, monkeypatch, tmp_path):
    result = run_chat(db, "无名氏", [], monkeypatch, tmp_path)
    assert result.exit_code == 1 and "名册里没有「无名氏」" in result.output


def test_a_database_failure_is_one_line_and_the_chat_goes_on(db, world, monkeypatch, tmp_path):
    from handlers.engine import Engine

    calls = {"n": 0}
    real = Engine.handle

    def flaky(self, sender, event):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk I/O error")
        return real(self, sender, event)

    monkeypatch.setattr(Engine, "handle", flaky)
    result = run_chat(db, "林晓", ["1", "/menu", "/quit"], monkeypatch, tmp_path)
    assert result.exit_code == 0
    assert "暂时无法处理这条消息，没有做任何更改" in result.output
    assert "Traceback" not in result.output
    assert result.output.count("林晓，您好") == 2


def test_file_without_a_path_or_with_a_folder_is_told_what_to_type(
    db, world, monkeypatch, tmp_path
):
    """/file alone, /file with a folder, /file with a name that is not there: each is told
    what is wrong in one line, the bot is not asked (no "没有这个命令"), and the chat goes
    on."""
    folder = tmp_path / "材料"
    folder.mkdir()
    result = run_chat(
        db,
        "林晓",
        [
            "/file",
            "/file   ",
            f"/file {folder}",
            f"/file {tmp_path / '没有.pdf'}",
            "/menu",
            "/quit",
        ],
        monkeypatch,
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("请在 /file 后写上要上传的文件路径") == 2
    assert f"这是一个文件夹，不是文件：{folder}" in result.output
    assert "找不到文件：" in result.output
    assert "没有这个命令" not in result.output and "Traceback" not in result.output
    assert result.output.count("林晓，您好") == 2  # the greeting, then /menu: nothing between
