"""Run the bot: long polling or a webhook, after waiting for the Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import time

from prometheus_client import start_http_server
from telegram import Bot
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot.settings import Settings
from bot.telegram import web
from bot.telegram.app import ALLOWED_UPDATES, build_application, checked_token

logger = logging.getLogger(__name__)

SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_START_BACKOFF = 30.0  # seconds between two tries to reach the Bot API server at start


def run(settings: Settings) -> int:
    """Run the bot until interrupted; returns the exit code (2: bad configuration or token,
    1: the port to listen on is taken). An unreachable Bot API server is waited for."""
    try:
        application = build_application(settings)
        secret = webhook_secret(settings)
        if settings.webhook_url:
            web.webhook_path(settings.webhook_url)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    code = asyncio.run(_wait_for_server(settings.telegram_api_url, checked_token(settings)))
    if code is not None:
        return code
    if settings.webhook_url:
        return _run_webhook(application, settings, secret)
    return _run_polling(application, settings)


def _run_webhook(application: Application, settings: Settings, secret: str | None) -> int:
    if secret is None:
        logger.warning("WEBHOOK_SECRET is not set: anyone who finds the URL can post updates")
    try:
        sockets = web.bind(settings)
    except OSError as exc:
        print(_cannot_listen(settings.webhook_listen, settings.webhook_port, exc), file=sys.stderr)
        return 1
    asyncio.run(
        web.serve(
            application, settings, secret=secret, sockets=sockets, allowed_updates=ALLOWED_UPDATES
        )
    )
    return 0


def _run_polling(application: Application, settings: Settings) -> int:
    server = None
    if settings.metrics_port is not None:
        address, port = settings.webhook_listen, settings.metrics_port
        try:
            server, _ = start_http_server(port, addr=address)
        except OSError as exc:
            print(_cannot_listen(address, port, exc), file=sys.stderr)
            return 1
        logger.info("metrics on http://%s:%s/metrics", address, port)
    try:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    finally:
        if server is not None:
            server.shutdown()
    return 0


def _cannot_listen(address: str, port: int, exc: OSError) -> str:
    return f"Cannot listen on {address}:{port}: {exc.strerror or exc}"


async def _wait_for_server(root: str, token: str) -> int | None:
    """Wait until the Bot API server at `root` accepts the token (None); the exit code if it
    rejects the token (2, with one line on stderr) or SIGTERM or Ctrl-C came first (0).

    While the server cannot be reached it is asked again with backoff (1 s, doubling up to
    30 s); the log says so once when that starts and once when it ends. Checked before the
    Application starts, which would log each failed attempt with a traceback.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    delay, unreachable_since = 1.0, None
    try:
        while True:
            try:
                async with Bot(
                    token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot"
                ) as bot:
                    logger.info("starting as @%s", bot.username)
                break
            except InvalidToken:
                print(
                    f"TELEGRAM_BOT_TOKEN was rejected by {root}: check the token.", file=sys.stderr
                )
                return 2
            except TelegramError as exc:
                if unreachable_since is None:
                    unreachable_since = time.monotonic()
                    logger.warning(
                        "Cannot reach the Bot API server at %s (%s): trying again with backoff",
                        root, exc,
                    )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
                return 0
            delay = min(delay * 2, MAX_START_BACKOFF)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    if unreachable_since is not None:
        waited = time.monotonic() - unreachable_since
        logger.warning("The Bot API server at %s answers again after %.0f s", root, waited)
    return None


def webhook_secret(settings: Settings) -> str | None:
    """WEBHOOK_SECRET if set; ValueError unless Telegram accepts it as a secret_token."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        return None
    if not SECRET_PATTERN.match(secret):
        raise ValueError("WEBHOOK_SECRET must be 1-256 characters: letters, digits, '_' or '-'.")
    return secret
