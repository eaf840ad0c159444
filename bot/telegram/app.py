"""Build the Telegram Application and run it with long polling or a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import metrics
from bot.i18n import text
from bot.settings import Settings
from bot.state import StateStore
from bot.telegram import add, admin, groups, handlers, inline, web
from bot.telegram.durable import DURABLE, Durable
from bot.telegram.keyboards import CONTEXT, EXAMPLE, MORE, VOTE, AnswerCache, kind_is
from bot.telegram.limits import QuestionLimiter
from bot.telegram.receipts import JournaledOutbox, JournaledProcessor
from bot.telegram.updates import SkippingUpdatesRequest

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
PRIVATE_COMMANDS = ("start", "help")
GROUP_COMMANDS = ("ask", "help")
ADMIN_COMMANDS = (
    "start",
    "help",
    "status",
    "reindex",
    "docs",
    "add",
    "remove",
    "rollback",
    "feedback",
    "unanswered",
)
CONCURRENT_UPDATES = 32
SWITCH_INTERVAL = 0.001  # seconds
# The update types the handlers use; Telegram does not send the others at all.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
]
RETRIES_AFTER_429 = 3
MAX_START_BACKOFF = 30.0  # seconds between two tries to reach the Bot API server at start


def checked_token(settings: Settings) -> str:
    """The bot token, or ValueError with one line saying what is wrong and how to fix it."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token.strip():
        raise ValueError(
            "TELEGRAM_BOT_TOKEN is not set: put TELEGRAM_BOT_TOKEN=<token from @BotFather> "
            "into .env or the environment (see .env.example)."
        )
    if not TOKEN_PATTERN.match(token.strip()):
        raise ValueError(
            "TELEGRAM_BOT_TOKEN is malformed: expected <bot id>:<secret> as issued by @BotFather "
            "(digits, a colon, then at least 20 letters, digits, '_' or '-')."
        )
    return token.strip()


def build_application(settings: Settings, *, services: Services | None = None) -> Application:
    """The bot with all handlers; `services` are opened in post_init unless given.

    Raises:
        ValueError: the token or the rate limit setting is malformed.
    """
    root = settings.telegram_api_url
    limiter = QuestionLimiter(settings.rate_limit)
    durable = Durable(settings.journal_db)
    application = (
        ApplicationBuilder()
        .token(checked_token(settings))
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                allow_sending_without_reply=True,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        # Fetched updates go into the journal before PTB sees (and confirms) them.
        .get_updates_request(SkippingUpdatesRequest(connection_pool_size=1, durable=durable))
        .concurrent_updates(JournaledProcessor(CONCURRENT_UPDATES, durable=durable))
        # The Outbox paces answers to Telegram's flood limits; PTB's limiter only retries
        # after a 429, or it would count typing actions and button toasts against them too.
        .rate_limiter(
            AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=RETRIES_AFTER_429)
        )
        .post_init(partial(_post_init, settings=settings, services=services, limiter=limiter))
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data[web.ACTIVITY] = metrics.Activity()
    application.bot_data[DURABLE] = durable
    private, group = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    new = filters.UpdateType.MESSAGE  # edited messages are never answered as questions
    application.add_handlers(
        [
            # Edits: a hint in private chats, silence in groups.
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, handlers.edited),
            # Commands (CommandHandler ignores /cmd@otherbot).
            CommandHandler("start", handlers.start, filters=new),
            CommandHandler("help", handlers.help_command, filters=new),
            CommandHandler("ask", groups.ask_command, filters=new),
            # Admin commands, confirmation buttons and document uploads (private chats only;
            # anyone not in ADMIN_USER_IDS gets a polite refusal).
            CommandHandler("status", admin.status, filters=new & private),
            CommandHandler("reindex", admin.reindex, filters=new & private),
            CommandHandler("docs", admin.docs, filters=new & private),
            CommandHandler("add", add.add, filters=new & private),
            CommandHandler("remove", admin.remove, filters=new & private),
            CommandHandler("rollback", admin.rollback, filters=new & private),
            CommandHandler("feedback", admin.feedback, filters=new & private),
            CommandHandler("unanswered", admin.unanswered, filters=new & private),
            CallbackQueryHandler(admin.confirm_button, pattern=admin.CALLBACK_PATTERN),
            MessageHandler(new & private & filters.Document.ALL & ~filters.ANIMATION, admin.upload),
            # Buttons under answers and greetings; anything unknown or stale gets "expired".
            CallbackQueryHandler(handlers.context_button, pattern=kind_is(CONTEXT)),
            CallbackQueryHandler(handlers.more_button, pattern=kind_is(MORE)),
            CallbackQueryHandler(handlers.vote_button, pattern=kind_is(VOTE)),
            CallbackQueryHandler(handlers.example_button, pattern=kind_is(EXAMPLE)),
            CallbackQueryHandler(handlers.expired_button),
            # Inline mode: @bot question in any chat.
            InlineQueryHandler(inline.inline_query),
            # Private chats: every text is a question; other messages get a hint.
            MessageHandler(new & private & filters.TEXT & ~filters.COMMAND, handlers.question),
            MessageHandler(new & private & filters.COMMAND, handlers.unknown_command),
            MessageHandler(
                new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL, handlers.not_text
            ),
            # Groups: only mentions of the bot and replies to it.
            MessageHandler(new & group & filters.TEXT & ~filters.COMMAND, groups.group_message),
        ]
    )
    # Operations: the answer-latency clock starts before any other handler (group -1), and
    # an update counts as handled after its handler has finished (group 1).
    application.add_handler(TypeHandler(Update, _update_taken_up), group=-1)
    application.add_handler(TypeHandler(Update, _update_handled), group=1)
    application.add_error_handler(handlers.error_handler)
    application.add_error_handler(_count_error)
    return application


async def _update_taken_up(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start the answer-latency clock of this update."""
    metrics.update_taken_up()


async def _update_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Count the update and note when it was handled (for /healthz)."""
    context.bot_data[web.ACTIVITY].update_handled()


async def _count_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Count a failure (handlers.error_handler logs it and tells the user)."""
    metrics.ERRORS.inc()


async def _post_init(
    application: Application,
    *,
    settings: Settings,
    services: Services | None,
    limiter: QuestionLimiter,
) -> None:
    """Open the journal, model, index and state database, register the command menus, then
    queue the updates fetched before the last stop and not answered."""
    # A thread that wants the GIL gets it within 1 ms instead of 5: the event loop, next to
    # searches in worker threads (see handlers.SEARCHES).
    sys.setswitchinterval(SWITCH_INTERVAL)
    durable: Durable = application.bot_data[DURABLE]
    await durable.open(bot_id=application.bot.id)
    if services is None:
        from bot.app import open_services  # loads torch: only when the bot really starts

        services = await asyncio.to_thread(open_services, settings)
    state = await asyncio.to_thread(StateStore, settings.state_db)
    application.bot_data[handlers.RUNTIME] = handlers.Runtime(
        settings, services, state, AnswerCache(), limiter, JournaledOutbox(durable), durable
    )
    metrics.watch_index(services.searcher)
    await register_commands(application.bot, admin_ids=settings.admin_user_ids)
    await durable.replay(application)


async def _post_shutdown(application: Application) -> None:
    """Close the state database and the journal."""
    metrics.watch_index(None)
    found = application.bot_data.pop(handlers.RUNTIME, None)
    if found is not None:
        await asyncio.to_thread(found.state.close)
    await application.bot_data[DURABLE].close()


async def register_commands(bot: Bot, *, admin_ids: frozenset[int] = frozenset()) -> None:
    """The command menus in German and English: private chats, groups and each admin's chat."""
    menus: list[tuple[BotCommandScope, tuple[str, ...]]] = [
        (BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS),
        (BotCommandScopeAllGroupChats(), GROUP_COMMANDS),
    ] + [(BotCommandScopeChat(admin), ADMIN_COMMANDS) for admin in sorted(admin_ids)]
    for scope, names in menus:
        for language in ("de", None):
            commands = [BotCommand(n, text(f"cmd_{n}", language or "en")) for n in names]
            try:
                await bot.set_my_commands(commands, scope=scope, language_code=language)
            except BadRequest as exc:  # e.g. an admin who never started the bot
                logger.warning("cannot set commands for %s: %s", scope.type, exc.message)
                break
            except TelegramError as exc:
                logger.warning("cannot set the command menu: %s", exc)
                return


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
