"""The webhook server: Telegram's updates, /healthz and /metrics on one port.

python-telegram-bot's own `run_webhook` serves nothing but the update path, so the bot runs
its own tornado server, as in PTB's "custom webhook bot" example: a request is checked here,
its update goes into the journal and then onto `application.update_queue`, and the
Application handles it exactly as it would a polled one. The 200 that tells Telegram to
forget the update is sent only once the journal has it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
import socket
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlparse

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from telegram import Update
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.settings import Settings
from bot.telegram.context import BotData
from bot.telegram.durable import READY_SECONDS, Durable
from bot.telegram.updates import readable

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH, METRICS_PATH = "/healthz", "/metrics"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
MAX_BODY_BYTES = 1 << 20  # an update is a few kilobytes; anything this large is not Telegram


def webhook_path(url: str) -> str:
    """The path of WEBHOOK_URL that Telegram posts to; ValueError if it collides with ours."""
    path = "/" + urlparse(url).path.strip("/")
    if path in (HEALTH_PATH, METRICS_PATH):
        raise ValueError(f"WEBHOOK_URL must not end in {path}: that path serves {path[1:]}.")
    return path


def bind(settings: Settings) -> list[socket.socket]:
    """The listening sockets on WEBHOOK_LISTEN:WEBHOOK_PORT (OSError if the port is taken)."""
    return bind_sockets(settings.webhook_port, settings.webhook_listen)


def health(application: Application) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON of /healthz: 200 once the index is loaded, 503 before.

    A failing journal does not change the status (the bot still answers), only `durable`.
    """
    data: BotData = application.bot_data
    activity, runtime = data.activity, data.runtime
    last = activity.last_update_at
    durability = data.durable.durability
    since = durability.since
    report: dict[str, Any] = {
        "index_loaded": runtime is not None,
        "index_version": None,
        "documents": None,
        "sentences": None,
        "index_sha256": None,
        "last_update_at": None if last is None else _iso(last),
        "uptime_seconds": round(activity.uptime(), 1),
        "durable": not durability.degraded,
        "durability_problem": durability.problem,
        "durability_degraded_since": None if since is None else _iso(since),
    }
    if runtime is None:
        return HTTPStatus.SERVICE_UNAVAILABLE, report
    version = runtime.services.searcher.version  # read once: a reindex may swap it meanwhile
    report.update(
        index_version=version.manifest.version,
        documents=len(version.corpus.documents),
        sentences=len(version.corpus.sentences),
        index_sha256=version.manifest.index_sha256,
    )
    return HTTPStatus.OK, report


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


class WebhookServer:
    """The HTTP server of one Application; `stop` is safe to call more than once."""

    def __init__(self, application: Application, *, path: str, secret: str | None) -> None:
        routes = [
            (_route(path), UpdateHandler, {"app": application, "secret": secret}),
            (HEALTH_PATH, HealthHandler, {"app": application}),
            (METRICS_PATH, MetricsHandler),
        ]
        self._http = HTTPServer(_QuietApplication(routes), max_body_size=MAX_BODY_BYTES)
        self._serving = False

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        """Start serving on sockets from `bind` (inside the running event loop)."""
        self._http.add_sockets(sockets)
        self._serving = True

    async def stop(self) -> None:
        """Stop accepting requests and close open connections."""
        if not self._serving:
            return
        self._serving = False
        self._http.stop()
        await self._http.close_all_connections()


async def serve(
    application: Application,
    settings: Settings,
    *,
    secret: str | None,
    sockets: list[socket.socket],
    allowed_updates: list[str],
    stopping: asyncio.Event | None = None,
) -> None:
    """Run the bot behind its webhook server until SIGTERM or SIGINT (or `stopping` is set).

    The server answers /healthz (503) while the model and index load. On a signal it stops
    taking updates first and then lets the Application finish the ones it has; the webhook
    stays registered, so Telegram keeps new updates until the bot is back.
    """
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    url = settings.webhook_url or ""
    server = WebhookServer(application, path=webhook_path(url), secret=secret)
    server.add_sockets(sockets)
    try:
        await application.initialize()
        await application.post_init(application)
        await application.start()
        await application.bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates)
        logger.info("webhook server on %s:%s", settings.webhook_listen, settings.webhook_port)
        await stopping.wait()
        logger.info("stopping: finishing the updates in progress")
    finally:
        await server.stop()  # no new updates from here on
        if application.running:
            await application.stop()  # handles what is queued and in progress
        await application.shutdown()
        await application.post_shutdown(application)
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _route(path: str) -> str:
    return "/" if path == "/" else rf"{re.escape(path)}/?"


class _QuietApplication(tornado.web.Application):
    """No access log at INFO: one line per update would drown the log (DEBUG has it)."""

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        # The route's name, not the URL: a webhook path may be a secret of its own.
        logger.debug(
            "%s %s -> %d (%.1f ms)",
            handler.request.method,
            type(handler).__name__,
            handler.get_status(),
            handler.request.request_time() * 1000,
        )


class UpdateHandler(tornado.web.RequestHandler):
    """Telegram posts one update per request; it is queued for the Application."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, app: Application, secret: str | None) -> None:
        self.app, self.secret = app, secret

    async def post(self) -> None:
        """Journal and queue the posted update if the request carries the right secret token;
        the 200 goes out after that (503 if the bot is not ready for updates yet)."""
        if not _secret_matches(self.request.headers.get(SECRET_HEADER), self.secret):
            logger.debug("webhook request without the right secret from %s", self.request.remote_ip)
            self.set_status(HTTPStatus.FORBIDDEN)
            return
        try:
            raw = readable(json.loads(self.request.body))
            update = Update.de_json(raw, self.app.bot)
        except Exception as exc:  # no JSON object with an update_id: the sender's error
            logger.warning("webhook request with an unreadable update (%s)", type(exc).__name__)
            self.set_status(HTTPStatus.BAD_REQUEST)
            return
        durable: Durable = self.app.bot_data.durable
        try:
            await asyncio.wait_for(durable.ready.wait(), READY_SECONDS)
        except TimeoutError:  # still starting: Telegram sends the update again later
            self.set_status(HTTPStatus.SERVICE_UNAVAILABLE)
            return
        [kept] = await durable.admit([raw])
        if len(kept) < len(raw):  # emptied: the journal has it, Telegram sent it again
            return
        if isinstance(self.app.bot, ExtBot):
            self.app.bot.insert_callback_data(update)
        await self.app.update_queue.put(update)


def _secret_matches(given: str | None, secret: str | None) -> bool:
    if secret is None:  # no WEBHOOK_SECRET: anyone may post (a warning is logged at start)
        return True
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: whether the index is loaded, what it holds, and recent activity."""

    SUPPORTED_METHODS = ("GET",)

    def initialize(self, app: Application) -> None:
        self.app = app

    def get(self) -> None:
        status, report = health(self.app)
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.write(report)


class MetricsHandler(tornado.web.RequestHandler):
    """GET /metrics: every metric of the default registry in Prometheus' text format."""

    SUPPORTED_METHODS = ("GET",)

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(generate_latest(REGISTRY))
