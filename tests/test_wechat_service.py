"""Reaching the Wechaty puppet service: its endpoint is looked up (from the token) and
checked in a worker thread with timeouts, never on the event loop the bot answers on."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from wechaty_puppet import PuppetOptions
from wechaty_puppet.exceptions import WechatyPuppetConfigurationError, WechatyPuppetGrpcError

from bot.wechat import service
from bot.wechat.service import ReachablePuppetService

TOKEN = "puppet_padlocal_0123456789abcdef"


@contextmanager
def lookup_server(answer) -> Iterator[list[str]]:
    """A stand-in for api.chatie.io on 127.0.0.1: ``answer(handler)`` answers each lookup;
    yields the paths asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            asked.append(self.path)
            answer(self)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old = service.LOOKUP_URL
    service.LOOKUP_URL = f"http://127.0.0.1:{server.server_port}/v0/hosties/{{token}}"
    try:
        yield asked
    finally:
        service.LOOKUP_URL = old
        server.shutdown()
        server.server_close()


def json_answer(body: bytes):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (a puppet service, as far as the check
    before connecting goes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


async def test_a_lookup_that_never_answers_leaves_the_bot_running_and_fails_in_one_line(
    monkeypatch,
):
    """Wechaty looked the endpoint up on the event loop with no timeout: a lookup service
    that never answered hung the bot for good. Now, while the lookup waits, the loop goes on
    (the stalled lookup sees it run), and the attempt fails after the timeout, saying what
    failed without the token (the URL holds it)."""
    monkeypatch.setattr(service, "LOOKUP_TIMEOUT", 1.0)
    loop = asyncio.get_running_loop()
    loop_ran: list[bool] = []
    release = threading.Event()

    async def probe() -> bool:
        return True

    def stall(handler: BaseHTTPRequestHandler) -> None:
        try:  # the loop must run this while the lookup is waiting for us
            loop_ran.append(asyncio.run_coroutine_threadsafe(probe(), loop).result(5.0))
        except TimeoutError:
            loop_ran.append(False)
        release.wait(5.0)  # and never answer within the lookup's timeout

    puppet = ReachablePuppetService(PuppetOptions(token=TOKEN))
    with lookup_server(stall) as asked:
        with pytest.raises(WechatyPuppetGrpcError) as raised:
            await puppet.start()
        release.set()
    assert asked == [f"/v0/hosties/{TOKEN}"]
    assert loop_ran == [True]
    assert "could not look up the puppet service endpoint" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert puppet.options.end_point is None


async def test_an_endpoint_looked_up_that_does_not_answer_is_looked_up_again_next_time():
    """The token's endpoint is looked up and checked; one that does not answer is forgotten,
    so the next attempt (the channel connects again after a wait) asks again: a hosted
    service may have moved. Once one answers it is kept for later connections."""
    dead = free_port()
    answers = [f'{{"ip": "127.0.0.1", "port": {dead}}}'.encode()]
    puppet = ReachablePuppetService(PuppetOptions(token=TOKEN))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        json_answer(answers[-1])(handler)

    with lookup_server(answer) as asked, listening() as alive:
        with pytest.raises(WechatyPuppetConfigurationError) as raised:
            await asyncio.to_thread(puppet.find_endpoint)
        assert f"127.0.0.1:{dead} does not answer" in str(raised.value)
        assert puppet.options.end_point is None
        answers.append(f'{{"ip": "127.0.0.1", "port": {alive}}}'.encode())
        assert await asyncio.to_thread(puppet.find_endpoint) == f"127.0.0.1:{alive}"
        assert await asyncio.to_thread(puppet.find_endpoint) == f"127.0.0.1:{alive}"
    assert len(asked) == 2  # the third attempt used the endpoint that answered


@pytest.mark.parametrize(
    "body, said",
    [
        (b'{"ip": "0.0.0.0", "port": 0}', "no puppet service endpoint available"),
        (b'{"port": 8788}', "no puppet service endpoint available"),
        (b"<html>busy</html>", "could not look up"),
    ],
)
async def test_a_token_without_an_endpoint_is_said_so(body, said):
    puppet = ReachablePuppetService(PuppetOptions(token=TOKEN))
    with lookup_server(json_answer(body)), pytest.raises(WechatyPuppetGrpcError) as raised:
        await asyncio.to_thread(puppet.find_endpoint)
    assert said in str(raised.value)


async def test_a_configured_endpoint_is_never_looked_up_and_is_kept_when_it_does_not_answer():
    """With PROPOSALBOT_WECHATY_PUPPET_SERVICE_ENDPOINT set, the token is not sent anywhere
    to look it up; the endpoint not answering is said, and it is tried again as it is."""
    dead = free_port()
    puppet = ReachablePuppetService(PuppetOptions(token=TOKEN, end_point=f"127.0.0.1:{dead}"))
    with lookup_server(json_answer(b"{}")) as asked:
        for _ in range(2):
            with pytest.raises(WechatyPuppetConfigurationError):
                await asyncio.to_thread(puppet.find_endpoint)
    assert asked == []
    assert puppet.options.end_point == f"127.0.0.1:{dead}"
    with listening() as port:
        puppet = ReachablePuppetService(PuppetOptions(token=TOKEN, end_point=f"127.0.0.1:{port}"))
        assert await asyncio.to_thread(puppet.find_endpoint) == f"127.0.0.1:{port}"


async def test_the_grpc_channel_is_made_on_the_loop_for_the_endpoint_found():
    """After the check, the channel to the service is made as Wechaty makes it (on the
    loop, carrying the token), without a second lookup or check."""
    with listening() as port:
        puppet = ReachablePuppetService(PuppetOptions(token=TOKEN, end_point=f"127.0.0.1:{port}"))
        await asyncio.to_thread(puppet.find_endpoint)
    puppet._init_puppet()  # no network: the port is closed now
    assert puppet.channel is not None
    assert (puppet.channel._host, puppet.channel._port) == ("127.0.0.1", port)
    assert puppet.channel._authority == TOKEN
    assert puppet.puppet_stub is not None
    puppet.channel.close()


def test_the_bot_uses_it_for_the_settings_puppet_service(app):
    from pydantic import SecretStr

    from bot.wechat.serve import puppet_service

    settings = app.settings.model_copy(update={"wechaty_puppet_service_token": SecretStr(TOKEN)})
    assert isinstance(puppet_service(settings), ReachablePuppetService)
