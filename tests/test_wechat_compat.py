"""Python Wechaty 0.10.7 on Python 3.11 and urllib3 2: what bot/wechat/compat.py mends."""

from __future__ import annotations

import os
import subprocess
import sys


def test_wechaty_imports_in_a_fresh_process_and_writes_nothing_where_it_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_DIR", "WECHATY_LOG")}
    env["PYTHONPATH"] = os.getcwd()
    script = (
        "import bot.wechat, urllib3, logging\n"
        "from wechaty import Wechaty, WechatyOptions\n"
        "from wechaty_puppet import PuppetOptions\n"
        "print(urllib3.get_host('https://api.chatie.io/v0/hosties/x'))\n"
        "print(urllib3.get_host('127.0.0.1:8788'))\n"
        "a, b = PuppetOptions(), PuppetOptions()\n"
        "print(hash(a) != hash(b), WechatyOptions().port)\n"
        "for name in ('Wechaty', 'Message', 'PuppetService'):\n"
        "    log = logging.getLogger(name)\n"
        "    print(name, log.propagate, log.handlers, log.level >= logging.WARNING)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning:bot", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "('https', 'api.chatie.io', None)",
        "('http', '127.0.0.1', 8788)",
        "True 5000",
        "Wechaty True [] True",
        "Message True [] True",
        "PuppetService True [] True",
    ]
    assert list(tmp_path.iterdir()) == []  # no ./.wechaty cache directory
