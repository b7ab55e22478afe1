"""The Wechaty puppet service, reached without stalling the bot.

Wechaty's ``PuppetService.start()`` finds its endpoint on the event loop itself: without a
configured endpoint it asks api.chatie.io for the token's (``requests.get`` with no timeout:
a lookup that never answers hangs the whole bot for good), then checks that the endpoint
answers (a TCP connection, up to 3 s). Every connection attempt, at start and at every
reconnection, stopped the bot's answers, notices and sweeps for as long as they took.

Here both run in a worker thread, each with a timeout, and their failures say what failed
in one line; the gRPC channel is then made on the loop, as Wechaty makes it. An endpoint
that was looked up and does not answer is forgotten, so the next attempt looks it up again
(a hosted service may have moved); a configured one is kept.
"""

from __future__ import annotations

import asyncio
import socket

import requests
from grpclib.client import Channel
from wechaty_grpc.wechaty import PuppetStub
from wechaty_puppet import PuppetOptions
from wechaty_puppet.exceptions import WechatyPuppetConfigurationError, WechatyPuppetGrpcError
from wechaty_puppet_service import PuppetService
from wechaty_puppet_service.utils import extract_host_and_port

LOOKUP_URL = "https://api.chatie.io/v0/hosties/{token}"  # where Wechaty looks a token up
LOOKUP_TIMEOUT = 10.0  # seconds to connect and to wait between bytes of the answer
PING_TIMEOUT = 3.0  # as Wechaty's own check


class ReachablePuppetService(PuppetService):
    """``PuppetService`` whose endpoint is looked up and checked off the event loop."""

    def __init__(self, options: PuppetOptions, name: str = "puppet_service") -> None:
        super().__init__(options, name)
        self.configured_endpoint = bool(self.options.end_point)

    async def start(self) -> None:
        await asyncio.to_thread(self.find_endpoint)
        await super().start()  # its ``_init_puppet`` (below) then touches no network

    def find_endpoint(self) -> str:
        """The endpoint, looked up from the token when none is configured, once it answers.
        Runs in a worker thread; raises Wechaty's errors, saying what failed."""
        if not self.options.end_point:
            self.options.end_point = lookup_endpoint(self.options.token)
        endpoint = self.options.end_point
        host, port = extract_host_and_port(endpoint)
        try:
            socket.create_connection((host, port), PING_TIMEOUT).close()
        except OSError as exc:
            if not self.configured_endpoint:
                self.options.end_point = None  # looked up again at the next attempt
            raise WechatyPuppetConfigurationError(
                f"the puppet service endpoint {endpoint} does not answer: {exc}"
            ) from None
        return endpoint

    def _init_puppet(self) -> None:
        """Wechaty's, without its lookup and check (``find_endpoint`` did them)."""
        host, port = extract_host_and_port(self.options.end_point)
        self.channel = Channel(host=host, port=port)
        self.channel._authority = self.options.token  # as Wechaty passes the token
        self._puppet_stub = PuppetStub(self.channel)


def lookup_endpoint(token: str | None) -> str:
    """``host:port`` of the puppet service serving ``token``, as Wechaty looks it up."""
    url = LOOKUP_URL.format(token=token)
    try:
        response = requests.get(url, timeout=LOOKUP_TIMEOUT)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        # The URL holds the token: it is not said (the error's text may quote the URL).
        raise WechatyPuppetGrpcError(
            f"could not look up the puppet service endpoint of the token ({type(exc).__name__}); "
            "set PROPOSALBOT_WECHATY_PUPPET_SERVICE_ENDPOINT to skip the lookup"
        ) from None
    if not isinstance(data, dict) or data.get("ip") in (None, "", "0.0.0.0") or "port" not in data:
        raise WechatyPuppetGrpcError(
            "the token has no puppet service endpoint available (is the token right?)"
        )
    return f"{data['ip']}:{data['port']}"
