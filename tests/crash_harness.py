"""A real ``proposalbot run`` process for crash tests: started against the fake Bot API
server, killed with SIGKILL wherever a test likes, started again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from storage.db import Database
from tests.fake_telegram import FakeTelegram

START_TIMEOUT = 30.0

# ``proposalbot run`` exactly as the console script runs it.
RUN = "from bot.cli import main; main()"

# For tests that restart the bot many times: a process that has loaded Python, the product's
# modules and the libraries it loads on first use, and nothing else (no settings read, no
# database, no network, no thread), forks one child per start. Each child runs ``proposalbot
# run`` from the start, its stderr to the file named on the line that asked for it; its
# process id is the answer. Children are reaped as they end, and killed if the zygote ends
# (it ends when the test's pipe to it closes).
ZYGOTE = """
import os, signal, sys
import bot.cli, bot.run, bot.scheduler, bot.telegram.channel, handlers.flows
import alembic.script, anyio, httpx, openpyxl, psycopg, sqlite3
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:  # Linux: the child ends with the zygote, which ends with the test run
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        log = os.open(line.strip(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0), os.dup2(null, 1), os.dup2(log, 2)
        sys.argv = ["proposalbot", "run"]
        code = 0
        try:
            bot.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
"""


class Bot:
    """``proposalbot run`` as a child process.

    ``start`` returns once the process polls Telegram for the first time. With ``warm=True``
    each process is forked from one that has its imports done, so a test that restarts the
    bot many times pays for the bot's own start-up only, not the interpreter's. What each
    process wrote to stderr is kept in ``logs``.
    """

    def __init__(
        self, tg: FakeTelegram, database: Database | str, data_dir: Path, *, warm: bool = False
    ) -> None:
        if isinstance(database, Database):
            database = database.engine.url.render_as_string(hide_password=False)
        self.env = {
            **os.environ,
            "PROPOSALBOT_DATABASE_URL": database,
            "PROPOSALBOT_TELEGRAM_TOKEN": tg.token,
            "PROPOSALBOT_TELEGRAM_API_URL": tg.url,
            "PROPOSALBOT_DATA_DIR": str(data_dir),
            "PROPOSALBOT_LOG_LEVEL": "WARNING",
        }
        self.tg = tg
        self.warm = warm
        self.cwd = data_dir.parent  # not the working tree: no .env of a developer is read
        self.logs = data_dir.parent / "bot-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pid: int | None = None
        self.starts = 0
        self._process: subprocess.Popen | None = None  # the child, when not forked
        self._zygote: subprocess.Popen | None = None

    # ------------------------------------------------------------- processes
    def _log_path(self) -> Path:
        return self.logs / f"run-{self.starts}.log"

    async def _fork(self) -> int:
        if self._zygote is None:
            with open(self.logs / "zygote.log", "wb") as log:
                self._zygote = subprocess.Popen(
                    [sys.executable, "-c", ZYGOTE],
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
        zygote = self._zygote
        assert zygote.stdin is not None and zygote.stdout is not None
        zygote.stdin.write(f"{self._log_path()}\n".encode())
        zygote.stdin.flush()
        answer = await asyncio.to_thread(zygote.stdout.readline)
        if not answer.strip():
            raise AssertionError((self.logs / "zygote.log").read_text(errors="replace"))
        return int(answer)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        if self._process is not None:
            return self._process.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _wait_gone(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def log(self) -> str:
        """What the current (or last) process wrote to stderr."""
        return self._log_path().read_text(errors="replace")

    # ------------------------------------------------------------- life
    async def start(self) -> None:
        assert not self.alive(), "already running"
        seen = len(self.tg.requests)
        self.starts += 1
        if self.warm:
            self._process = None
            self.pid = await self._fork()
        else:
            with open(self._log_path(), "wb") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", RUN, "run"],
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            self.pid = self._process.pid
        polled = await self.tg.wait_until(
            lambda: self._polling_since(seen) or not self.alive(), START_TIMEOUT
        )
        if not polled or not self.alive():
            raise AssertionError(f"proposalbot run did not start polling:\n{self.log()}")

    def _polling_since(self, seen: int) -> bool:
        """The new process polls: a getUpdates after the deleteWebhook that only a starting
        process sends (a request of a killed one may still be read after ``seen``)."""
        methods = [r.method for r in self.tg.requests[seen:]]
        return (
            "deleteWebhook" in methods
            and "getUpdates" in methods[methods.index("deleteWebhook") :]
        )

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        assert self._wait_gone(10), "still running after SIGKILL"

    async def restart(self) -> None:
        self.kill()
        await self.start()

    def stop(self) -> None:
        if self.alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(15):
                os.kill(self.pid, signal.SIGKILL)
                self._wait_gone(10)
        if self._zygote is not None:
            assert self._zygote.stdin is not None
            self._zygote.stdin.close()
            try:
                self._zygote.wait(10)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait(10)
            self._zygote = None
