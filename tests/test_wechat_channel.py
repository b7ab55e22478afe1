"""The WeChat channel: the real Python Wechaty on a fake puppet, the real engine and
dispatcher, people who chat with the bot like transcript lines."""

from __future__ import annotations

import pytest

from tests.fake_wechaty import FakeWeChat, running
from workflow.invites import issue_invite


@pytest.fixture
async def wechat(app, world):
    fake = FakeWeChat()
    async with running(app, fake):
        yield fake


async def test_binding_with_an_invite_code(wechat, db, wf, world):
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
    member = wechat.person("wxid_linxiao", "林晓")
    await member.send("你好", expect="请先绑定身份")
    await member.send(code, expect="绑定成功，林晓！")
    print(member.said)
