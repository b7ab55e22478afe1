"""``proposalbot run`` on WeChat: the channel, the notice dispatcher and the sweeps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from wechaty_puppet import Puppet, PuppetOptions

from bot.app import App
from bot.dispatcher import Dispatcher, Unreachable
from bot.settings import Settings
from bot.wechat.channel import CHANNEL, WechatChannel

PUPPET_SERVICE = "wechaty-puppet-service"
log = logging.getLogger(__name__)


def puppet_service(settings: Settings) -> Puppet:
    """The Wechaty puppet service the settings name (the only puppet Python Wechaty drives:
    the WeChat protocol itself, e.g. wechaty-puppet-padlocal, runs behind the service)."""
    if settings.wechaty_puppet != PUPPET_SERVICE:
        raise ValueError(
            f"PROPOSALBOT_WECHATY_PUPPET must be {PUPPET_SERVICE} (Python Wechaty reaches "
            "every other puppet through a puppet service)"
        )
    token = settings.wechaty_puppet_service_token
    if token is None:
        raise ValueError("PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN is not set")
    from bot.wechat.service import ReachablePuppetService

    options = PuppetOptions(
        token=token.get_secret_value(), end_point=settings.wechaty_puppet_service_endpoint
    )
    return ReachablePuppetService(options)


def dispatcher_for(app: App, channel: WechatChannel) -> Dispatcher:
    """Notices one at a time, at the channel's pace; a round's batch is sent well within
    a claim's lease (a notice still waiting for its turn when its lease ends would be
    claimed again, and sent twice)."""
    settings = app.settings
    lease = settings.notice_lease_seconds
    # A notice is a message or two; answers to people share the pace.
    batch = int(lease / 4 / max(channel.send_interval, 0.05))
    return Dispatcher(
        app,
        {CHANNEL: channel.deliver},
        unreachable_errors=(Unreachable,),
        lease=timedelta(seconds=lease),
        max_attempts=settings.notice_max_attempts,
        batch=max(1, min(50, batch)),
        concurrency=1,
    )


async def serve(
    app: App,
    stop: asyncio.Event,
    *,
    puppet: Puppet | None = None,
    started: asyncio.Event | None = None,
    schedule: bool = True,
    on_channel: Callable[[WechatChannel], None] | None = None,
    **channel_options: Any,
) -> None:
    """Run until ``stop`` is set: WeChat through ``puppet`` (the puppet service the
    settings name by default), the notice dispatcher and the scheduled sweeps
    (``schedule``); ``on_channel`` is shown the channel once it is made."""
    from bot.run import run_beside

    settings = app.settings
    options: dict[str, Any] = {
        "send_interval": settings.wechat_send_interval,
        "accept_friends": settings.wechat_accept_friends,
    }
    options.update(channel_options)
    channel = WechatChannel(app, puppet or puppet_service(settings), **options)
    dispatcher = dispatcher_for(app, channel)
    channel.on_handled = dispatcher.wake
    if on_channel is not None:
        on_channel(channel)
    async with channel:
        await run_beside(app, dispatcher, stop, schedule=schedule, started=started)
