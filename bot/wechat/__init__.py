"""The WeChat channel (Python Wechaty 0.10.7, through a Wechaty puppet service).

``compat`` is imported first, so that every module of this package finds ``wechaty``
importable on Python 3.11 and urllib3 2.
"""

from bot.wechat import compat as compat
