"""Python Wechaty 0.10.7, the newest release, made to import on Python 3.11 and urllib3 2.

Imported before anything imports ``wechaty`` (this package's ``__init__`` does it):

- ``wechaty.user.url_link`` imports ``urllib3.get_host``, removed in urllib3 2 (which
  python-telegram-bot's httpx world and ``requests`` install): it is given back, built on
  ``urllib3.util.parse_url`` as urllib3 1 built it.
- ``WechatyOptions`` declares ``PuppetOptions()`` as a dataclass default; Python 3.11 refuses
  a default whose class is unhashable (a dataclass with ``eq`` and no ``frozen``), so the
  import fails. ``PuppetOptions`` gets ``object.__hash__`` (identity), which is what 3.10
  accepted the default for.
- ``telnetlib``, which Wechaty uses to see whether a port answers, left the standard library
  in Python 3.13: where it is missing, a module of that name does the same with a socket.
- ``pyee`` is kept older than 9 (``pyproject.toml``): Wechaty imports ``AsyncIOEventEmitter``
  from ``pyee`` itself, which pyee 9 moved to ``pyee.asyncio``, leaving at the old place a
  deprecated subclass that warns each time an emitter is made (every contact, room and
  puppet), and pyee 13 removed it (the import fails).

Wechaty also writes where it should not unless told: its loggers print at INFO (every
message's text) through handlers of their own, past the process's logging and its
redaction of secrets; and importing it creates ``CACHE_DIR`` (``./.wechaty`` by default).
Both are set here, before the import, and its loggers handed to the process's logging
after it (``adopt_loggers``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
import tempfile
import types
import warnings

import urllib3
import urllib3.util

os.environ.setdefault("WECHATY_LOG", "warn")
os.environ.setdefault("CACHE_DIR", os.path.join(tempfile.gettempdir(), "proposalbot-wechaty"))

if importlib.util.find_spec("telnetlib") is None:  # Python 3.13 and later

    class Telnet:
        """What Wechaty uses of telnetlib: ``Telnet().open(host, port, timeout)`` raises
        ``OSError`` when nothing answers there."""

        def open(self, host: str, port: int = 23, timeout: float | None = None) -> None:
            socket.create_connection((host, port), timeout).close()

    telnetlib = types.ModuleType("telnetlib")
    telnetlib.Telnet = Telnet  # type: ignore[attr-defined]
    sys.modules["telnetlib"] = telnetlib

# Python 3.11 and 3.12 warn that telnetlib is going: Wechaty's concern, not the process's.
warnings.filterwarnings("ignore", message="'telnetlib' is deprecated", category=DeprecationWarning)

if not hasattr(urllib3, "get_host"):

    def get_host(url: str) -> tuple[str, str | None, int | None]:
        """urllib3 1's ``get_host``: (scheme, host, port) of a URL, http when it has none."""
        parsed = urllib3.util.parse_url(url)
        return parsed.scheme or "http", parsed.host, parsed.port

    urllib3.get_host = get_host  # type: ignore[attr-defined]

from wechaty_puppet import PuppetOptions  # noqa: E402  (after the urllib3 shim)

PuppetOptions.__hash__ = object.__hash__  # type: ignore[assignment,method-assign]

import wechaty  # noqa: E402, F401  (after both shims: the point of this module)
import wechaty_puppet_service  # noqa: E402, F401  (its loggers made now, to be adopted)

_WECHATY_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def adopt_loggers() -> int:
    """Wechaty's loggers (each with a console handler of its own, not propagating) handed to
    the process's logging: their handlers removed, what they say propagated to the root's
    handlers (level, format, redaction of the puppet token), and at WARNING at least, since
    Wechaty logs every message it receives at INFO. Returns how many were adopted."""
    adopted = 0
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger) or logger.propagate or not logger.handlers:
            continue
        own = [
            h
            for h in logger.handlers
            if h.formatter is not None and getattr(h.formatter, "_fmt", None) == _WECHATY_FORMAT
        ]
        if not own:
            continue
        for handler in own:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(max(logging.WARNING, logger.level))
        adopted += 1
    # Warns at every login that no plugin has a web page (the bot uses no plugin).
    plugins = logging.getLogger("wechaty.plugin")
    plugins.setLevel(max(logging.ERROR, plugins.level))
    return adopted


adopt_loggers()
