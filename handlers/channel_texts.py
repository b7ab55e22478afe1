"""What a chat channel says on its own, outside any flow, and the command menu it shows.

Channels (Telegram, WeChat) import these so that their texts are translated like every
other: ``gettext(locale, TEXT, ...)``.
"""

from __future__ import annotations

from handlers.i18n import N_, gettext
from workflow.roles import Role

GROUP_DECLINED = N_(
    "提案通只在私聊中办理提案事务，以保护提案人和承办单位的信息。请点击我的头像，在私聊中发送 /start。"
)
FILE_TOO_BIG = N_("文件太大了（{size}），最大只能接收 {limit}。没有做任何更改，请压缩后重新发送。")
FILE_UNREADABLE = N_("没能取回这个文件，没有做任何更改，请稍后重新发送。")
TRY_AGAIN = N_("暂时无法处理这条消息，没有做任何更改，请稍后重试。")
LONG_TEXT_AS_FILE = N_("内容较长，已作为文件发送：{name}")
CHOSEN = N_("✔ 已选择：{label}")
SHARE_PHONE = N_("📱 发送我的手机号")


# The command menu: (command, description, roles that see it; empty = everyone bound).
COMMANDS: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("menu", N_("返回主菜单"), frozenset()),
    ("new", N_("撰写新提案"), frozenset({Role.MEMBER})),
    ("drafts", N_("我的草稿"), frozenset({Role.MEMBER})),
    ("status", N_("查询提案办理状态：/status 编号"), frozenset()),
    ("lang", N_("切换语言 Language"), frozenset()),
    ("help", N_("当前这一步的说明"), frozenset()),
    ("cancel", N_("取消当前操作"), frozenset()),
)
UNBOUND_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("开始：发送邀请码绑定账号")),
    ("help", N_("使用说明")),
)


def commands_for(roles: set[str] | None, locale: str | None) -> list[tuple[str, str]]:
    """The commands a person sees in the channel's menu; ``roles`` None means unbound."""
    if roles is None:
        return [(name, gettext(locale, text)) for name, text in UNBOUND_COMMANDS]
    return [
        (name, gettext(locale, text))
        for name, text, needed in COMMANDS
        if not needed or any(role.value in roles for role in needed)
    ]


# WeChat: no buttons (choices are numbered lines, notice actions codes such as a1) and no
# way to share a phone number; only text, files and pictures are taken.
WECHAT_NOTICE_CODES = N_("回复编号办理：")
WECHAT_CODE_UNKNOWN = N_(
    "没有编号为 {code} 的操作，或者它已过期，没有做任何更改。请回复通知下方列出的编号（如 a1）。"
)
WECHAT_UNSUPPORTED = N_(
    "这类消息（语音、表情、链接、名片、视频等）暂不能处理，没有做任何更改。"
    "请发送文字；附件请以文件或图片发送。"
)
WECHAT_NO_CONTACT = N_("微信中不能分享手机号：请直接发送提案委给您的邀请码。")
WECHAT_FILE_AGAIN = N_(
    "您之前发送的文件{name}没能处理（暂时无法从微信取回），没有做任何更改，请重新发送这个文件。"
)
