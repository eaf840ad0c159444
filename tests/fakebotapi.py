"""A local fake of the Telegram Bot API server for end-to-end tests.

The real bot (python-telegram-bot) talks HTTP to this server on 127.0.0.1 instead of
api.telegram.org; the test plays the user by injecting updates and checks what the bot sent::

    async with FakeBotAPI(token=TOKEN, bot_username="quote_bot") as api:
        app = (
            ApplicationBuilder().token(TOKEN)
            .base_url(api.base_url).base_file_url(api.base_file_url)
            .build()
        )
        ...  # start the application with polling
        api.send_text("Hallo")
        reply = await api.next_message(chat_id=1001)
        assert "Hallo" in reply["text"]

Faithful to Telegram
  * URLs ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>``; method names are
    case-insensitive; parameters come as query string, JSON, form-urlencoded or multipart, and
    form values are JSON-decoded where Telegram expects numbers, booleans, arrays or objects.
  * The ``{"ok": ..., "result"|"error_code"|"description"|"parameters"}`` envelope with Telegram's
    status codes and texts: 401 wrong token, 404 unknown method, 400 "Bad Request: ...",
    403 blocked, 409 Conflict, 429 with ``parameters.retry_after``, 5xx.
  * getUpdates long polling: ``offset`` confirms and forgets earlier updates, ``limit``,
    ``timeout``, ``allowed_updates``; 409 while a webhook is set, and 409 for a waiting request
    that a newer getUpdates supersedes (two bot instances polling).
  * HTML parse mode is validated with Telegram's parser rules (see telegram_html); the text must
    be 1-4096 UTF-16 code units after parsing; surrounding whitespace is trimmed; entities are
    returned. editMessageText without reply_markup removes the inline keyboard.
  * Callback and inline query ids are issued by the server and can be answered once.
  * Bot commands are stored per (scope, language_code); getFile refuses files over 20 MB.

Simplified
  * Chats become known when the test injects a message from them (or calls add_chat()); like
    Telegram, sending to a chat the bot has never seen is 400 "chat not found".
  * Markdown and MarkdownV2 texts are stored as sent and not validated.
  * Only the methods a text bot needs are implemented; every other method is 404.
  * Message ids are small per-chat counters, dates are the current time.
  * Webhook URLs need not be HTTPS; updates reach a webhook only via post_update_to_webhook().
  * Flood control is off unless flood_control() is called, and then it uses simple sliding
    one-second windows instead of Telegram's undocumented limits.
  * A bare "&" in HTML text is rejected, although Telegram keeps it literally (telegram_html).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

try:  # imported as part of a package or with tests/ on sys.path (pytest's default)
    from .telegram_html import HtmlParseError, parse_html, utf16_len
except ImportError:
    from telegram_html import HtmlParseError, parse_html, utf16_len

Params = dict[str, Any]

DEFAULT_USER_ID = 1001
DEFAULT_GROUP_CHAT_ID = -1001234567890
MAX_TEXT_LENGTH = 4096
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile limit of the cloud Bot API
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_STATUS_TEXTS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Telegram sends these update types only when asked for them explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_FLOOD_LIMITED = frozenset(
    """
    sendMessage editMessageText editMessageReplyMarkup answerCallbackQuery
    answerInlineQuery
    """.split()
)
_CHAT_ACTIONS = frozenset(
    """
    typing upload_photo record_video upload_video record_voice upload_voice upload_document
    choose_sticker find_location record_video_note upload_video_note
    """.split()
)
_COMMAND_SCOPES = frozenset(
    """
    default all_private_chats all_group_chats all_chat_administrators chat
    chat_administrators chat_member
    """.split()
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# What Telegram clients mark in a user's text (simplified from Telegram's own matchers).
_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")
# Form bodies carry every value as a string. Clients JSON-encode numbers, booleans, arrays and
# objects but send strings as they are, so these parameters must not be JSON-decoded.
_STRING_PARAMS = frozenset(
    """
    text caption parse_mode callback_query_id inline_query_id inline_message_id url
    secret_token file_id language_code action next_offset ip_address query
    business_connection_id message_effect_id
    """.split()
)


class ApiError(Exception):
    """A Bot API error response: HTTP status, description and optional retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class _DropConnection(Exception):
    """Close the client's connection without sending any response."""


class Call(NamedTuple):
    """One request the bot made: ``method`` (canonical spelling) and its decoded ``params``."""

    method: str
    params: Params


@dataclass
class _Fault:
    kind: str  # "status", "429" or "reset"
    remaining: int
    methods: frozenset[str] | None  # None: any method
    status: int = 502
    retry_after: int = 1
    after_processing: bool = False  # the call takes effect, only the response is lost

    def matches(self, method: str, after_processing: bool) -> bool:
        in_scope = self.methods is None or method in self.methods
        return in_scope and self.after_processing == after_processing


@dataclass
class _FloodControl:
    per_chat: int | None
    total: int | None
    sent: defaultdict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def check(self, chat_id: Any, now: float) -> tuple[int, str] | None:
        """Return (retry_after, "global" or "chat") if one more request now exceeds a limit,
        else count the request."""
        windows: list[tuple[Any, int]] = []
        if self.total is not None:
            windows.append(("*", self.total))
        if self.per_chat is not None and chat_id is not None:
            windows.append((("chat", chat_id), self.per_chat))
        for key, limit in windows:
            stamps = self.sent[key]
            while stamps and now - stamps[0] >= 1.0:
                stamps.popleft()
            if len(stamps) >= limit:
                retry = max(1, math.ceil(1.0 - (now - stamps[0])))
                return retry, "global" if key == "*" else "chat"
        for key, _ in windows:
            self.sent[key].append(now)
        return None


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channelname"


async def _read_params(request: web.Request) -> Params:
    params: Params = {k: _decode_form_value(k, v) for k, v in request.query.items()}
    if request.content_type == "application/json":
        body = await request.read()
        try:
            decoded = json.loads(body) if body else {}
        except ValueError as error:
            raise bad_request("can't parse JSON object") from error
        for name, value in decoded.items():
            # Some clients put nested objects into JSON bodies as JSON strings, too.
            is_text = isinstance(value, str) and name not in _STRING_PARAMS
            params[name] = _decode_form_value(name, value) if is_text else value
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            is_file = isinstance(value, web.FileField)
            params[name] = value.file.read() if is_file else _decode_form_value(name, value)
    return params


def _error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return body


def _as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} is empty" if value in (None, "") else f"wrong {name}") from None


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """A replied-to message as Telegram embeds it: without its own reply_to_message."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _inline_keyboard(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup if it is an inline keyboard: the only kind that belongs to a message."""
    return markup if markup and "inline_keyboard" in markup else None


def _callback_data(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """Entities a Telegram client attaches to a typed text: bot commands and @mentions."""
    found = [("bot_command", m) for m in _BOT_COMMAND_RE.finditer(text)]
    found += [("mention", m) for m in _MENTION_RE.finditer(text)]
    entities = [
        {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for kind, m in found
    ]
    return sorted(entities, key=lambda e: e["offset"])


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, keeping entities aligned."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    trimmed = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(size, entity["offset"] + entity["length"] - shift)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return stripped, trimmed


class FakeBotAPI:
    """An in-process Telegram Bot API server for one bot; see the module docstring.

    ``token`` must look like a real one (``<bot id>:<secret>``); the bot id becomes the bot's
    user id. ``strict_html=False`` accepts a bare "&" in HTML texts, exactly like Telegram.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "quote_bot",
        *,
        bot_first_name: str = "Quote Bot",
        host: str = "127.0.0.1",
        strict_html: bool = True,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.host = host
        self.strict_html = strict_html
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._offline = True
        self._changed = asyncio.Event()
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getMe": self._get_me,
            "logOut": lambda params: True,
            "close": lambda params: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }
        self._canonical = {name.lower(): name for name in [*self._methods, "getUpdates"]}
        # Updates
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self.delivery_counts: Counter[int] = Counter()
        self._webhook: dict[str, Any] = {"url": "", "secret_token": None}
        # Chats and messages
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._blocked: set[int | str] = set()
        self._message_ids: Counter[int | str] = Counter()
        self._bot_messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._by_chat: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        self._user_messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._open_queries: set[str] = set()
        self.answered_at: dict[str, float] = {}  # query id -> time.monotonic() of its answer
        self._files: dict[str, dict[str, Any]] = {}
        # Observation
        self.calls: list[Call] = []
        self.callback_answers: list[Params] = []
        self.inline_answers: list[Params] = []
        self.chat_actions: list[Params] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.stats: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # "method: status description" of error answers
        self._message_events: list[dict[str, Any]] = []
        self._consumed_events: set[int] = set()
        self._mark_calls = 0
        self._mark_events = 0
        # Faults
        self._faults: list[_Fault] = []
        self._delay: tuple[float, frozenset[str] | None] = (0.0, None)
        self._flood: _FloodControl | None = None

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1; the first start picks a free port, later starts reuse it."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        self._offline = False

    async def stop(self) -> None:
        """Stop listening and drop open connections (waiting long polls included)."""
        self._offline = True
        self._notify()  # wake long polls so they give up their connections
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_offline(self) -> None:
        """Simulate an outage: nothing listens on the port any more; state is kept."""
        await self.stop()

    async def go_online(self) -> None:
        """End an outage: listen again on the same port, with all pending updates."""
        await self.start()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url()``; the client appends the token."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url()``; the client appends the token."""
        return f"http://{self.host}:{self.port}/file/bot"

    # ---------------------------------------------------------------------------- HTTP layer

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(_error_body(ApiError(401, "Unauthorized")), status=401)
        requested = request.match_info["method"]
        method = self._canonical.get(requested.lower(), requested)
        try:
            try:
                params = await _read_params(request)
            except ConnectionResetError:
                # The client went away before its request had arrived (a long poll cancelled
                # as the bot stops): like Telegram, count no call and answer no one.
                return web.Response(status=400)
            self.calls.append(Call(method, params))
            self.stats["requests"] += 1
            self._notify()
            result = await self._call(method, params, request)
        except ApiError as error:
            self.stats["429" if error.status == 429 else f"{error.status // 100}xx"] += 1
            if error.status != 429:
                self.errors[f"{method}: {error.status} {error.description}"] += 1
            return web.json_response(_error_body(error), status=error.status)
        except _DropConnection:
            if request.transport is not None:
                request.transport.close()
            return web.Response()  # never reaches the client
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _call(self, method: str, params: Params, request: web.Request) -> Any:
        if method not in self._canonical.values():
            raise ApiError(404, "Not Found")
        seconds, methods = self._delay
        if seconds and (methods is None or method in methods):
            await asyncio.sleep(seconds)
        self._apply_fault(method, after_processing=False)
        self._check_flood(method, params)
        if method == "getUpdates":
            result = await self._get_updates(params, request)
        else:
            result = self._methods[method](params)
        self._apply_fault(method, after_processing=True)
        return result

    def _apply_fault(self, method: str, *, after_processing: bool) -> None:
        fault = next((f for f in self._faults if f.matches(method, after_processing)), None)
        if fault is None:
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.remove(fault)
        if fault.kind == "reset":
            self.stats["resets"] += 1
            raise _DropConnection
        if fault.kind == "429":
            retry = fault.retry_after
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        raise ApiError(fault.status, _STATUS_TEXTS.get(fault.status, "Internal Server Error"))

    def _check_flood(self, method: str, params: Params) -> None:
        if self._flood is None or method not in _FLOOD_LIMITED:
            return
        exceeded = self._flood.check(params.get("chat_id"), time.monotonic())
        if exceeded is not None:
            retry, window = exceeded
            self.stats[f"429 {window}"] += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["file_path"]
        file = next((f for f in self._files.values() if f["file_path"] == path), None)
        if request.match_info["token"] != self.token or file is None:
            return web.json_response(_error_body(ApiError(404, "Not Found")), status=404)
        return web.Response(body=file["data"], content_type="application/octet-stream")

    def _notify(self) -> None:
        """Wake everything waiting for a state change (long polls, wait_for)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_changed(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # ---------------------------------------------------------------------------- updates

    async def _get_updates(self, params: Params, request: web.Request) -> list[dict[str, Any]]:
        if self._webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(int(params.get("offset") or 0))
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + max(float(params.get("timeout") or 0), 0.0)
        while True:
            changed = self._changed
            if self._offline or request.transport is None or request.transport.is_closing():
                raise _DropConnection  # the client is gone; deliver nothing to it
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._deliverable()[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                break
            await self._wait_changed(changed, remaining)
        for update in batch:
            self.delivery_counts[update["update_id"]] += 1
        return batch

    def _confirm(self, offset: int) -> None:
        """Forget updates the bot confirmed, like Telegram does for getUpdates(offset)."""
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _deliverable(self) -> list[dict[str, Any]]:
        # Telegram never creates updates of types the bot did not ask for; drop them here.
        def wanted(update: dict[str, Any]) -> bool:
            kind = _update_type(update)
            allowed = self._allowed_updates
            return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

        self._pending = [u for u in self._pending if wanted(u)]
        return list(self._pending)

    def _set_webhook(self, params: Params) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        url = params.get("url") or ""
        self._webhook = {
            "url": url,
            "secret_token": secret if url else None,
            "max_connections": int(params.get("max_connections") or 40),
        }
        return True

    def _delete_webhook(self, params: Params) -> bool:
        return self._set_webhook({"drop_pending_updates": params.get("drop_pending_updates")})

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook["url"]:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = self._allowed_updates
        return info

    # ---------------------------------------------------------------------------- messages

    def _get_me(self, params: Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _known_chat(self, params: Params) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _format(self, text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[Any]]:
        """Validate a message text like Telegram; return the plain text and its entities."""
        if not text:
            raise bad_request("message text is empty")
        if str(parse_mode or "").lower() == "html":
            try:
                parsed = parse_html(str(text), strict_ampersand=self.strict_html)
            except HtmlParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
            plain, found = parsed.text, parsed.entities
        else:
            plain, found = str(text), list(entities or [])
        plain, found = _trim(plain, found)
        if not plain:
            raise bad_request("message text is empty")
        if utf16_len(plain) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return plain, found

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if len(button) < 2:
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
        return markup

    def _replied_message(self, chat_id: Any, params: Params) -> dict[str, Any] | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id", params.get("reply_to_message_id"))
        if message_id is None:
            return None
        target = self._find_message(chat_id, _as_int(message_id, "message_id"))
        allow_missing = reply.get(
            "allow_sending_without_reply", params.get("allow_sending_without_reply")
        )
        if target is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return target

    def _find_message(self, chat_id: Any, message_id: int) -> dict[str, Any] | None:
        record = self._bot_messages.get((chat_id, message_id))
        if record is not None and not record["deleted"]:
            return record["message"]
        return self._user_messages.get((chat_id, message_id))

    def _send_message(self, params: Params) -> dict[str, Any]:
        chat = self._known_chat(params)
        plain, entities = self._format(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = self._check_markup(params.get("reply_markup"))
        replied = self._replied_message(chat["id"], params)
        self._message_ids[chat["id"]] += 1
        message: dict[str, Any] = {
            "message_id": self._message_ids[chat["id"]],
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
        if replied is not None:
            message["reply_to_message"] = _without_reply(replied)
        record: dict[str, Any] = {
            "chat_id": chat["id"],
            "message_id": message["message_id"],
            "sent_at": time.monotonic(),
            "edits": 0,
            "deleted": False,
        }
        self._bot_messages[(chat["id"], message["message_id"])] = record
        self._by_chat[chat["id"]].append(record)
        self._set_content(record, message, params, plain, entities, markup)
        self._message_events.append({**record, "method": "sendMessage", "at": record["sent_at"]})
        return message

    def _set_content(
        self,
        record: dict[str, Any],
        message: dict[str, Any],
        params: Params,
        plain: str,
        entities: list[Any],
        markup: dict[str, Any] | None,
    ) -> None:
        """Put a (new or edited) text into a stored bot message and its Message object."""
        message["text"] = plain
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if _inline_keyboard(markup):
            message["reply_markup"] = markup  # Telegram only echoes inline keyboards
        record.update(
            text=plain,
            raw_text=params.get("text"),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            reply_markup=markup,
            message=message,
        )

    def _editable(self, params: Params, action: str) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        chat = self._known_chat(params)
        key = (chat["id"], _as_int(params.get("message_id"), "message_id"))
        record = self._bot_messages.get(key)
        if record is None or record["deleted"]:
            if key in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request(f"message to {action} not found")
        return record

    def _edit_message_text(self, params: Params) -> dict[str, Any]:
        record = self._editable(params, "edit")
        plain, entities = self._format(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        # Without reply_markup, Telegram removes the message's inline keyboard.
        markup = self._check_markup(params.get("reply_markup"))
        current = (record["text"], record["entities"], _inline_keyboard(record["reply_markup"]))
        if current == (plain, entities, _inline_keyboard(markup)):
            raise bad_request(NOT_MODIFIED)
        message = {**record["message"], "edit_date": int(time.time())}
        self._set_content(record, message, params, plain, entities, markup)
        record["edits"] += 1
        self._message_events.append({**record, "method": "editMessageText", "at": time.monotonic()})
        return message

    def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        record = self._editable(params, "edit")
        markup = self._check_markup(params.get("reply_markup"))
        if markup == record["reply_markup"]:
            raise bad_request(NOT_MODIFIED)
        message = {**record["message"], "edit_date": int(time.time())}
        old_params = {"text": record["raw_text"], "parse_mode": record["parse_mode"]}
        self._set_content(record, message, old_params, record["text"], record["entities"], markup)
        record["edits"] += 1
        return message

    def _delete_message(self, params: Params) -> bool:
        chat = self._known_chat(params)
        key = (chat["id"], _as_int(params.get("message_id"), "message_id"))
        record = self._bot_messages.get(key)
        if record is not None and not record["deleted"]:
            record["deleted"] = True
        elif self._user_messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    def _send_chat_action(self, params: Params) -> bool:
        chat = self._known_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append({"chat_id": chat["id"], **params})
        return True

    def _get_chat(self, params: Params) -> dict[str, Any]:
        chat = self._known_chat(params)
        gift_types = dict.fromkeys(
            [
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ],
            False,
        )
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gift_types,
        }

    # ---------------------------------------------------------------------------- queries

    def _take_query(self, query_id: Any) -> None:
        if query_id not in self._open_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_queries.discard(query_id)
        self.answered_at[query_id] = time.monotonic()

    def _answer_callback_query(self, params: Params) -> bool:
        self._take_query(params.get("callback_query_id"))
        if len(params.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers.append(params)
        return True

    def _answer_inline_query(self, params: Params) -> bool:
        results = params.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            result_id = str(result.get("id", ""))
            if not result.get("type"):
                raise bad_request("RESULT_TYPE_INVALID")
            if not 1 <= len(result_id.encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            content = result.get("input_message_content")
            if result["type"] == "article" and not content:
                raise bad_request("input_message_content is empty")
            if content and "message_text" in content:
                self._format(content["message_text"], content.get("parse_mode"), None)
        self._take_query(params.get("inline_query_id"))
        self.inline_answers.append(params)
        return True

    # ---------------------------------------------------------------------------- commands

    @staticmethod
    def _command_key(params: Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") not in _COMMAND_SCOPES:
            raise bad_request("unsupported bot command scope type")
        parts = [scope["type"]] + [str(scope[k]) for k in ("chat_id", "user_id") if k in scope]
        language = params.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return ":".join(parts), language

    def _set_my_commands(self, params: Params) -> bool:
        key = self._command_key(params)
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)  # an empty list deletes, like deleteMyCommands
        return True

    def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        return self.commands.get(self._command_key(params), [])

    def _delete_my_commands(self, params: Params) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True

    # ---------------------------------------------------------------------------- files

    def add_file(
        self, data: bytes, file_name: str | None = None, *, folder: str = "documents"
    ) -> tuple[str, str]:
        """Register a file the bot can fetch with getFile; returns (file_id, file_unique_id)."""
        number = len(self._files) + 1
        suffix = "." + file_name.rsplit(".", 1)[1] if file_name and "." in file_name else ""
        file_id = f"BQACAgIAAxkBAAI{number:06d}fake"
        self._files[file_id] = {
            "data": bytes(data),
            "file_unique_id": f"AgAD{number:06d}",
            "file_path": f"{folder}/file_{number}{suffix}",
            "file_name": file_name,
        }
        return file_id, self._files[file_id]["file_unique_id"]

    def _get_file(self, params: Params) -> dict[str, Any]:
        file = self._files.get(params.get("file_id") or "")
        if file is None:
            raise bad_request("invalid file_id")
        if len(file["data"]) > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": params["file_id"],
            "file_unique_id": file["file_unique_id"],
            "file_size": len(file["data"]),
            "file_path": file["file_path"],
        }

    # ---------------------------------------------------------------------------- injecting

    def inject_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update; an update_id is assigned unless present. Returns the update."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._pending.append(update)
        self._notify()
        return update

    def add_chat(self, chat_id: int, chat_type: str = "private", **fields: Any) -> dict[str, Any]:
        """Make a chat known to the server without a message from it (e.g. for broadcasts)."""
        default_name = {"first_name": "Test"} if chat_type == "private" else {"title": "Test Group"}
        chat = {"id": chat_id, "type": chat_type, **default_name, **fields}
        self._chats[chat_id] = chat
        return chat

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: sending to the chat answers 403 Forbidden."""
        self._blocked.add(chat_id)

    @staticmethod
    def _user(user_id: int, first_name: str, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def send_message_update(
        self,
        message_fields: dict[str, Any],
        *,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str | None = "de",
        first_name: str = "Test",
        reply_to: dict[str, Any] | int | None = None,
    ) -> dict[str, Any]:
        """Inject a message from a user with arbitrary content (photo, location, ...)."""
        user = self._user(user_id, first_name, language_code)
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else DEFAULT_GROUP_CHAT_ID
        chat = self._chats.get(chat_id)
        if chat is None:
            names = {"first_name": first_name} if chat_type == "private" else {}
            chat = self.add_chat(chat_id, chat_type, **names)
        self._message_ids[chat_id] += 1
        message = {
            "message_id": self._message_ids[chat_id],
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **message_fields,
        }
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(self._message_of(reply_to, chat_id))
        self._user_messages[(chat_id, message["message_id"])] = message
        return self.inject_update({"message": message})

    def send_text(
        self,
        text: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str | None = "de",
        first_name: str = "Test",
        reply_to: dict[str, Any] | int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Inject a text message; /commands and @mentions get entities like in Telegram apps."""
        fields: dict[str, Any] = {"text": text}
        entities = _auto_entities(text) if entities is None else entities
        if entities:
            fields["entities"] = entities
        return self.send_message_update(
            fields,
            user_id=user_id,
            chat_id=chat_id,
            chat_type=chat_type,
            language_code=language_code,
            first_name=first_name,
            reply_to=reply_to,
        )

    def send_edited_text(
        self, original: dict[str, Any] | int, text: str, *, chat_id: int = DEFAULT_USER_ID
    ) -> dict[str, Any]:
        """The user edits an earlier message (an update from send_text, or its message_id)."""
        message = dict(self._message_of(original, chat_id))
        message.update(text=text, edit_date=int(time.time()))
        message.pop("entities", None)
        if entities := _auto_entities(text):
            message["entities"] = entities
        self._user_messages[(message["chat"]["id"], message["message_id"])] = message
        return self.inject_update({"edited_message": message})

    def send_sticker(self, emoji: str = "👍", **sender: Any) -> dict[str, Any]:
        """Inject a sticker message; ``sender``: keyword arguments of send_message_update."""
        file_id, unique_id = self.add_file(b"RIFF-fake-webp", "sticker.webp", folder="stickers")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.send_message_update({"sticker": sticker}, **sender)

    def send_photo(
        self, data: bytes = b"\xff\xd8fake-jpeg", *, caption: str | None = None, **sender: Any
    ) -> dict[str, Any]:
        """Inject a photo message; its bytes can be fetched with getFile."""
        file_id, unique_id = self.add_file(data, "photo.jpg", folder="photos")
        size = {"file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 960}
        fields: dict[str, Any] = {"photo": [{**size, "file_size": len(data)}]}
        if caption is not None:
            fields["caption"] = caption
        return self.send_message_update(fields, **sender)

    def send_document(
        self,
        data: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        **sender: Any,
    ) -> dict[str, Any]:
        """Inject a document message (the bytes are downloadable via getFile)."""
        file_id, unique_id = self.add_file(data, file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        fields: dict[str, Any] = {"document": document}
        if caption is not None:
            fields["caption"] = caption
        return self.send_message_update(fields, **sender)

    def press_button(
        self,
        message: dict[str, Any] | int,
        callback_data: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        first_name: str = "Test",
        language_code: str | None = "de",
        check: bool = True,
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message (record, Message or message_id).

        With ``check`` the button must exist on the message's current keyboard, as in a real
        Telegram app; pass ``check=False`` to simulate a forged or stale callback.
        """
        current = self._message_of(message, user_id if chat_id is None else chat_id)
        key = (current["chat"]["id"], current["message_id"])
        record = self._bot_messages.get(key)
        if record is None or record["deleted"]:
            raise ValueError(f"no bot message {key} to press a button on")
        buttons = _callback_data(record["reply_markup"])
        if check and callback_data not in buttons:
            raise ValueError(f"message {key} has no button {callback_data!r}; it has {buttons}")
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(user_id, first_name, language_code),
            "message": record["message"],
            "chat_instance": str(abs(hash(key[0]))),
            "data": callback_data,
        }
        return self.inject_update({"callback_query": query})

    def press_inline_button(
        self,
        callback_data: str | None,
        *,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Test",
        language_code: str | None = "de",
    ) -> dict[str, Any]:
        """The user presses a button under a message sent in inline mode: the callback query
        has an ``inline_message_id`` instead of a message. ``callback_data`` is not checked."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(user_id, first_name, language_code),
            "inline_message_id": f"AgAAAInline{query_id[-6:]}",
            "chat_instance": "-1",
        }
        if callback_data is not None:
            query["data"] = callback_data
        return self.inject_update({"callback_query": query})

    def inline_query(
        self,
        query: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        offset: str = "",
        first_name: str = "Test",
        language_code: str | None = "de",
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """The user types ``@bot_username query`` in some chat."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        inline = {
            "id": query_id,
            "from": self._user(user_id, first_name, language_code),
            "query": query,
            "offset": offset,
        }
        if chat_type is not None:
            inline["chat_type"] = chat_type
        return self.inject_update({"inline_query": inline})

    def _message_of(self, reference: dict[str, Any] | int, chat_id: Any) -> dict[str, Any]:
        """The current Message object for an update, record, Message or message_id."""
        if isinstance(reference, int):
            key = (chat_id, reference)
        elif "update_id" in reference:
            inner = reference.get("message") or reference.get("edited_message") or {}
            key = (inner["chat"]["id"], inner["message_id"])
        elif "chat_id" in reference:  # a record from messages() / next_message()
            key = (reference["chat_id"], reference["message_id"])
        else:
            key = (reference["chat"]["id"], reference["message_id"])
        found = self._find_message(*key)
        if found is None:
            raise ValueError(f"unknown message {key}")
        return found

    # ---------------------------------------------------------------------------- observing

    def messages(self, chat_id: int | None = None, *, deleted: bool = False) -> list[Params]:
        """Bot messages as stored now (after edits): dicts with chat_id, message_id, sent_at
        (time.monotonic()), text (plain), raw_text, parse_mode, entities, reply_markup, edits,
        deleted, message."""
        records = self._bot_messages.values() if chat_id is None else self._by_chat.get(chat_id, [])
        return [record for record in records if deleted or not record["deleted"]]

    def calls_to(self, method: str) -> list[Params]:
        """Parameters of every call of ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    def calls_since_mark(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls[self._mark_calls :] if method in (None, c.method)]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (delivered or not)."""
        return list(self._pending)

    def mark(self) -> None:
        """Ignore calls and messages before now in next_message() and calls_since_mark()."""
        self._mark_calls = len(self.calls)
        self._mark_events = len(self._message_events)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every server event); return it."""
        deadline = time.monotonic() + timeout
        while True:
            changed = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [call.method for call in self.calls[-8:]]
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}")
            await self._wait_changed(changed, remaining)

    async def next_message(self, chat_id: int | None = None, timeout: float = 10.0) -> Params:
        """The next sendMessage/editMessageText result (to ``chat_id``) not returned before.

        Returns a snapshot of the stored message as it was right after that call, with the
        keys of messages() plus ``method`` and ``at`` (time.monotonic() of the call).
        """

        def take() -> Params | None:
            for index in range(self._mark_events, len(self._message_events)):
                event = self._message_events[index]
                if index not in self._consumed_events and chat_id in (None, event["chat_id"]):
                    self._consumed_events.add(index)
                    return event
            return None

        return await self.wait_for(take, timeout)

    # ---------------------------------------------------------------------------- faults

    def flood_control(
        self, per_chat_per_second: int | None = 1, global_per_second: int | None = 30
    ) -> None:
        """Answer 429 when sends/edits/answers exceed these rates; both None turns it off.

        ``stats["429"]`` counts every 429, ``stats["429 chat"]`` and ``stats["429 global"]``
        those of flood control by the window that was full.
        """
        enabled = per_chat_per_second is not None or global_per_second is not None
        self._flood = _FloodControl(per_chat_per_second, global_per_second) if enabled else None

    def force_429(
        self, times: int = 1, retry_after: int = 1, methods: Iterable[str] = ("sendMessage",)
    ) -> None:
        self._faults.append(_Fault("429", times, frozenset(methods), retry_after=retry_after))

    def fail_next(
        self,
        times: int = 1,
        status: int = 502,
        methods: Iterable[str] | None = None,
        *,
        after_processing: bool = False,
    ) -> None:
        """Answer the next ``times`` matching calls with a 5xx error. ``after_processing``:
        the call still takes effect (e.g. the message is sent), only the answer is an error."""
        scope = None if methods is None else frozenset(methods)
        self._faults.append(_Fault("status", times, scope, status, 1, after_processing))

    def reset_connections(
        self,
        times: int = 1,
        methods: Iterable[str] | None = None,
        *,
        after_processing: bool = False,
    ) -> None:
        """Close the connection without an answer for the next ``times`` matching calls."""
        scope = None if methods is None else frozenset(methods)
        self._faults.append(_Fault("reset", times, scope, after_processing=after_processing))

    def clear_faults(self) -> None:
        """Forget the faults still waiting (fail_next, reset_connections, force_429)."""
        self._faults.clear()

    def delay(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Answer every matching call ``seconds`` late from now on; ``delay(0)`` stops it."""
        self._delay = (seconds, None if methods is None else frozenset(methods))

    # ---------------------------------------------------------------------------- webhook

    async def post_update_to_webhook(
        self,
        update_dict: dict[str, Any] | None = None,
        *,
        secret_token: str | None | EllipsisType = ...,
        url: str | None = None,
    ) -> int:
        """POST an update to the webhook like Telegram does and return the HTTP status.

        Without ``update_dict`` the oldest pending update is sent and, on a 2xx answer,
        forgotten (Telegram's confirmation for webhooks); a given update is sent as it is.
        ``secret_token``: ``...`` sends the one given to setWebhook, None sends no header.
        """
        target = url or self._webhook["url"]
        if not target:
            raise RuntimeError("no webhook set; call setWebhook first or pass url=")
        from_queue = update_dict is None
        if update_dict is None:
            if not self._pending:
                raise RuntimeError("no pending update to post")
            update = self._pending[0]
        elif "update_id" not in update_dict:
            update = {"update_id": self._next_update_id, **update_dict}
            self._next_update_id += 1
        else:
            update = update_dict
        token = self._webhook["secret_token"] if secret_token is ... else secret_token
        headers = {} if token is None else {"X-Telegram-Bot-Api-Secret-Token": token}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(target, json=update, headers=headers) as response:
                status = response.status
        self.delivery_counts[update["update_id"]] += 1
        if from_queue and 200 <= status < 300 and update in self._pending:
            self._pending.remove(update)
        self._notify()
        return status
