"""The Telegram Application: its handler table, command menus, start and shutdown."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from functools import cache, partial
from typing import TYPE_CHECKING

import httpx
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
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.answering.i18n import text
from bot.app import metrics
from bot.app.state import StateStore
from bot.settings import Settings
from bot.telegram.context import CONTEXT_TYPES, Context, Runtime
from bot.telegram.durable import Durable
from bot.telegram.handlers import (
    add,
    admin,
    buttons,
    documents,
    errors,
    groups,
    inline,
    questions,
)
from bot.telegram.keyboards import CONTEXT, EXAMPLE, MORE, VOTE, AnswerCache, kind_is
from bot.telegram.limits import QuestionLimiter
from bot.telegram.outbox import Outbox
from bot.telegram.receipts import JournaledProcessor
from bot.telegram.updates import SkippingUpdatesRequest

if TYPE_CHECKING:
    from bot.app.services import Services

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
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


def build_application(
    settings: Settings, *, services: Services | None = None, outbox: Outbox | None = None
) -> Application:
    """The bot with all handlers; `services` are opened in post_init unless given, and
    `outbox` (the rate limiter) keeps to Telegram's limits unless given.

    Raises:
        ValueError: the token or the rate limit setting is malformed.
    """
    root = settings.telegram_api_url
    limiter = QuestionLimiter(settings.rate_limit)
    durable, outbox = Durable(settings.journal_db), outbox or Outbox()
    application = (
        ApplicationBuilder()
        .token(checked_token(settings))
        .context_types(CONTEXT_TYPES)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                allow_sending_without_reply=True,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        # PTB's own pool size for the bot's calls; both connections share one TLS context.
        .request(HTTPXRequest(connection_pool_size=256, httpx_kwargs=_tls()))
        # Fetched updates go into the journal before PTB sees (and confirms) them. On
        # shutdown PTB confirms the last batch on the one connection the cancelled long
        # poll has just given up: on a busy machine that takes longer than httpx's 1 s.
        .get_updates_request(
            SkippingUpdatesRequest(
                connection_pool_size=1, pool_timeout=10.0, durable=durable, httpx_kwargs=_tls()
            )
        )
        .concurrent_updates(JournaledProcessor(CONCURRENT_UPDATES, durable=durable))
        # Every Bot API call keeps to Telegram's flood limits and is retried on the way.
        .rate_limiter(outbox)
        .post_init(partial(_post_init, settings=settings, services=services, limiter=limiter))
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data.durable, application.bot_data.outbox = durable, outbox
    private, group = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    document = filters.Document.ALL & ~filters.ANIMATION
    new = filters.UpdateType.MESSAGE  # edited messages are never answered as questions
    application.add_handlers(
        [
            # Edits: a hint in private chats, silence in groups.
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, questions.edited),
            # Commands (CommandHandler ignores /cmd@otherbot).
            CommandHandler("start", questions.start, filters=new),
            CommandHandler("help", questions.help_command, filters=new),
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
            CallbackQueryHandler(documents.confirm_button, pattern=documents.CALLBACK_PATTERN),
            MessageHandler(new & private & document, documents.upload),
            # Buttons under answers and greetings; anything unknown or stale gets "expired".
            CallbackQueryHandler(buttons.context_button, pattern=kind_is(CONTEXT)),
            CallbackQueryHandler(buttons.more_button, pattern=kind_is(MORE)),
            CallbackQueryHandler(buttons.vote_button, pattern=kind_is(VOTE)),
            CallbackQueryHandler(buttons.example_button, pattern=kind_is(EXAMPLE)),
            CallbackQueryHandler(buttons.expired_button),
            # Inline mode: @bot question in any chat.
            InlineQueryHandler(inline.inline_query),
            # Private chats: every text is a question; other messages get a hint.
            MessageHandler(new & private & filters.TEXT & ~filters.COMMAND, questions.question),
            MessageHandler(new & private & filters.COMMAND, questions.unknown_command),
            MessageHandler(
                new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL, questions.not_text
            ),
            # Groups: only mentions of the bot and replies to it.
            MessageHandler(new & group & filters.TEXT & ~filters.COMMAND, groups.group_message),
        ]
    )
    # Operations: the answer-latency clock starts before any other handler (group -1), and
    # an update counts as handled after its handler has finished (group 1).
    application.add_handler(TypeHandler(Update, _update_taken_up), group=-1)
    application.add_handler(TypeHandler(Update, _update_handled), group=1)
    application.add_error_handler(errors.error_handler)
    application.add_error_handler(_count_error)
    return application


async def _update_taken_up(update: Update, context: Context) -> None:
    """Start the answer-latency clock of this update."""
    metrics.update_taken_up()


async def _update_handled(update: Update, context: Context) -> None:
    """Count the update and note when it was handled (for /healthz)."""
    context.bot_data.activity.update_handled()


async def _count_error(update: object, context: Context) -> None:
    """Count a failure (errors.error_handler logs it and tells the user)."""
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
    # searches in worker threads (see context.SEARCHES).
    sys.setswitchinterval(SWITCH_INTERVAL)
    durable: Durable = application.bot_data.durable
    await durable.open(bot_id=application.bot.id)
    if services is None:
        from bot.app.services import open_services  # loads torch: only when the bot really starts

        services = await asyncio.to_thread(open_services, settings)
    state = await asyncio.to_thread(StateStore, settings.state_db)
    application.bot_data.runtime = Runtime(settings, services, state, AnswerCache(), limiter)
    metrics.watch_index(services.searcher)
    await register_commands(application.bot, admin_ids=settings.admin_user_ids)
    await durable.replay(application)


@cache
def _tls() -> dict[str, object]:
    """httpx options that share one TLS context between the bot's two connections and every
    Application of the process: each new context reads the whole CA bundle (about 50 ms)."""
    return {"verify": httpx.create_ssl_context()}


async def _post_shutdown(application: Application) -> None:
    """Close the state database and the journal."""
    metrics.watch_index(None)
    found, application.bot_data.runtime = application.bot_data.runtime, None
    if found is not None:
        await asyncio.to_thread(found.state.close)
    await application.bot_data.durable.close()


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
