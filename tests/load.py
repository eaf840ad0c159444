"""Load test: many users at once against the real bot, with Telegram-like flood control.

    .venv/bin/python tests/load.py              # both runs: plain, then with /reindex midway
    .venv/bin/python tests/load.py --plain      # only the plain run
    .venv/bin/python tests/load.py --reindex    # only the run with an admin /reindex

The real bot (build_application, long polling, the default model, the shipped article
indexed into a temporary folder) talks to the fake Bot API of tests/fakebotapi.py with flood
control on: 30 sends per second per bot and 1 per second per chat, 429 with retry_after
beyond. 200 simulated users start within a few seconds and take 5 actions each: questions
in German and English (some off-topic), taps on Context / More / 👍 / 👎 under their own
answers, and inline queries. Each run prints what was sent, answered, lost and duplicated,
the errors the application's error handler logged, latency percentiles from injecting an
update to the bot's reply, the 429s and peak RSS. Not part of the test suite: a script that
prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crowd import (
    ADMIN,
    BOT,
    FIRST_USER,
    OFF_TOPIC,
    QUESTIONS,
    TOKEN,
    kind_of,
    percentiles,
    reindex_outcome,
)
from fakebotapi import FakeBotAPI
from pydantic import SecretStr
from telegram.ext import Application

from bot.answering.i18n import text
from bot.app.services import Services, open_services
from bot.retrieval.documents import ensure_documents_dir
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.outbox import Outbox

T = TypeVar("T")
SETTLE_SECONDS = 30.0  # give up waiting when nothing has arrived for this long
KINDS = ("question", "offtopic", "tap", "inline")
WEIGHTS = (0.55, 0.15, 0.2, 0.1)
BUTTONS = ("c", "m", "v1", "v-1")


# ---------------------------------------------------------------------------- the plan


@dataclass
class Action:
    """One thing a simulated user does, `at` seconds after the start."""

    user: int
    at: float
    kind: str
    lang: str
    text: str = ""
    button: str = ""


def plan(users: int, actions: int, spread: float, seed: int) -> list[Action]:
    """Each user's actions at random moments within `spread` seconds; the first asks."""
    rng = random.Random(seed)
    planned = []
    for n in range(users):
        user, lang = FIRST_USER + n, ("de", "en")[n % 2]
        moments = sorted(rng.uniform(0, spread) for _ in range(actions))
        for number, at in enumerate(moments):
            kind = "question" if number == 0 else rng.choices(KINDS, WEIGHTS)[0]
            asked = lang if rng.random() < 0.75 else {"de": "en", "en": "de"}[lang]
            pool = OFF_TOPIC if kind == "offtopic" else QUESTIONS
            planned.append(
                Action(user, at, kind, lang, rng.choice(pool[asked]), rng.choice(BUTTONS))
            )
    return planned


# ---------------------------------------------------------------------------- bookkeeping


@dataclass
class Tally:
    """What the users did and when, by chat; taps and inline queries by query id."""

    asked: defaultdict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    taps: dict[str, tuple[str, float]] = field(default_factory=dict)  # query id -> kind, time
    inline: dict[str, float] = field(default_factory=dict)
    skipped_taps: int = 0


class ErrorCounter(logging.Handler):
    """Counts log records at WARNING and above by logger, keeping a few ERROR messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.levelname, record.name)] += 1
        if record.levelno >= logging.ERROR and len(self.samples) < 5:
            self.samples.append(f"{record.name}: {record.getMessage()[:200]}")


# ---------------------------------------------------------------------------- one user


async def user_session(api: FakeBotAPI, actions: list[Action], start: float, tally: Tally) -> None:
    """Inject one user's actions at their moments (a tap waits for an answer to tap on)."""
    for action in actions:
        await asyncio.sleep(max(0.0, start + action.at - time.monotonic()))
        sender = {"user_id": action.user, "language_code": action.lang}
        if action.kind in ("question", "offtopic"):
            api.send_text(action.text, **sender)
            tally.asked[action.user].append(time.monotonic())
        elif action.kind == "inline":
            update = api.inline_query(action.text, **sender)
            tally.inline[update["inline_query"]["id"]] = time.monotonic()
        else:
            await tap(api, action, tally)


async def tap(api: FakeBotAPI, action: Action, tally: Tally) -> None:
    """Press a button under the user's latest answer that has Context/More/vote buttons."""

    def latest() -> dict[str, Any] | None:
        for message in reversed(api.messages(action.user)):
            if message["reply_markup"] and "c" in _buttons(message):
                return message
        return None

    deadline = time.monotonic() + 60
    while (message := latest()) is None:
        if time.monotonic() > deadline:
            tally.skipped_taps += 1  # every answer so far was an abstention
            return
        await asyncio.sleep(0.2)  # not api.wait_for: it re-checks on every server event
    data = _buttons(message)
    kind = action.button if action.button in data else "c"
    update = api.press_button(message, data[kind], user_id=action.user, language_code=action.lang)
    tally.taps[update["callback_query"]["id"]] = (kind, time.monotonic())


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    found = {}
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            parts = button.get("callback_data", "").split("|")
            found[parts[0] + (parts[3] if parts[0] == "v" else "")] = button["callback_data"]
    return found


# ---------------------------------------------------------------------------- one run


class ServerThread:
    """The fake Bot API and the simulated users on an event loop of their own, in a thread:
    like a remote server, they then take no turns on the bot's event loop."""

    def __enter__(self) -> ServerThread:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-bot-api")
        self.thread.start()
        self.api = FakeBotAPI(token=TOKEN, bot_username=BOT)
        self.api.flood_control(per_chat_per_second=1, global_per_second=30)
        self.wait(self.api.start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wait(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop and wait for it here (blocking)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop and await it from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))


async def run(
    settings: Settings, services: Services, actions: list[Action], *, reindex: bool
) -> None:
    """Start server and bot, let the users loose, wait until everything is answered, report."""
    counter = ErrorCounter()
    logging.getLogger().addHandler(counter)
    for journal in settings.index_dir.glob(f"{settings.journal_db.name}*"):
        journal.unlink()  # a new fake server counts update ids from 1 again
    with ServerThread() as server:
        api = server.api
        config = settings.model_copy(update={"telegram_api_url": f"http://{api.host}:{api.port}"})
        app = build_application(config, services=services)
        await start_polling(app)
        outbox = app.bot_data.outbox
        tally, injected, finished = await server.call(users(api, actions, reindex=reindex))
        await stop(app)
        report(api, tally, counter, outbox, injected=injected, finished=finished, reindex=reindex)
    logging.getLogger().removeHandler(counter)


async def users(
    api: FakeBotAPI, actions: list[Action], *, reindex: bool
) -> tuple[Tally, float, float]:
    """All users' sessions (and the admin's /reindex), then the wait for the last answers;
    returns what they did and the seconds until the last injection and until all was done."""
    tally = Tally()
    by_user: defaultdict[int, list[Action]] = defaultdict(list)
    for action in actions:
        by_user[action.user].append(action)
    start = time.monotonic()
    sessions = [user_session(api, mine, start, tally) for mine in by_user.values()]
    if reindex:
        spread = max(a.at for a in actions)
        sessions.append(admin_reindex(api, start + spread / 2))
    await asyncio.gather(*sessions)
    injected = time.monotonic() - start
    await settle(api, tally, reindex=reindex)
    return tally, injected, time.monotonic() - start


async def start_polling(app: Application) -> None:
    """What `Application.run_polling` does, inside this event loop."""
    await app.initialize()
    await app.post_init(app)
    await app.updater.start_polling(
        poll_interval=0,
        timeout=10,
        allowed_updates=ALLOWED_UPDATES,
        error_callback=lambda exc: app.create_task(app.process_error(None, exc)),
    )
    await app.start()


async def stop(app: Application) -> None:
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await app.post_shutdown(app)


async def admin_reindex(api: FakeBotAPI, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    api.send_text("/reindex", user_id=ADMIN, language_code="en")


def outstanding(api: FakeBotAPI, tally: Tally) -> int:
    """Questions, taps and inline queries that have no answer yet."""
    missing = 0
    for user, asked in tally.asked.items():
        replies = sum(kind_of(m) == "reply" for m in api.messages(user))
        missing += max(0, len(asked) - replies)
    missing += sum(query not in api.answered_at for query in tally.taps)
    missing += sum(query not in api.answered_at for query in tally.inline)
    return missing


async def settle(api: FakeBotAPI, tally: Tally, *, reindex: bool) -> None:
    """Wait until nothing is outstanding (and the reindex has ended), or nothing moves."""

    def progress() -> int:  # requests other than the polling, which goes on regardless
        return api.stats["requests"] - len(api.calls_to("getUpdates"))

    last_count, last_change = progress(), time.monotonic()
    while outstanding(api, tally) or (reindex and reindex_outcome(api) is None):
        await asyncio.sleep(0.5)
        if progress() != last_count:
            last_count, last_change = progress(), time.monotonic()
        elif time.monotonic() - last_change > SETTLE_SECONDS:
            break
    await asyncio.sleep(1.0)  # late duplicates would show up now


# ---------------------------------------------------------------------------- the report


def report(
    api: FakeBotAPI,
    tally: Tally,
    counter: ErrorCounter,
    outbox: Outbox,
    *,
    injected: float,
    finished: float,
    reindex: bool,
) -> None:
    questions = sum(len(asked) for asked in tally.asked.values())
    answered = lost = duplicated = apologies = 0
    latencies: list[float] = []
    follow_ups: Counter[str] = Counter()
    for user, asked in tally.asked.items():
        messages = sorted(api.messages(user), key=lambda m: m["sent_at"])
        kinds = Counter(kind_of(m) for m in messages)
        replies = [m["sent_at"] for m in messages if kind_of(m) == "reply"]
        answered += min(len(asked), len(replies))
        lost += max(0, len(asked) - len(replies))
        duplicated += max(0, len(replies) - len(asked))
        apologies += kinds["error"]
        follow_ups.update({"context": kinds["context"], "more": kinds["more"]})
        latencies += [reply - ask for ask, reply in zip(sorted(asked), replies, strict=False)]
    taps = tally.taps
    tap_latency = [api.answered_at[q] - at for q, (_, at) in taps.items() if q in api.answered_at]
    expired = sum(
        a.get("text") in {text("expired", x) for x in ("de", "en")} for a in api.callback_answers
    )
    wanted = Counter(kind for kind, _ in taps.values())
    inline_latency = [
        api.answered_at[q] - at for q, at in tally.inline.items() if q in api.answered_at
    ]
    handler_errors = sum(
        n
        for (level, name), n in counter.counts.items()
        if level in ("ERROR", "CRITICAL") and name == "bot.telegram.handlers.errors"
    )
    other = {
        f"{level} {name}": n
        for (level, name), n in counter.counts.items()
        if name != "bot.telegram.handlers.errors"
    }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    title = "run with /reindex midway" if reindex else "plain run"
    lines = [
        f"== {title}: {len(tally.asked)} users, injected in {injected:.1f} s, "
        f"all done after {finished:.1f} s",
        f"questions sent      {questions}",
        f"answered            {answered}",
        f"lost                {lost}",
        f"duplicated          {duplicated}",
        f"apologies (error)   {apologies}",
        f"unhandled exceptions {handler_errors} (ERROR records of the error handler)",
        f"latency questions   {percentiles(latencies)}",
        f"button taps         {len(taps)} sent ({dict(sorted(wanted.items()))}), "
        f"{len(tap_latency)} answered, {expired} 'expired', {tally.skipped_taps} skipped "
        f"(no answer to tap on); context {follow_ups['context']}, more {follow_ups['more']} "
        f"messages; {percentiles(tap_latency)}",
        f"inline queries      {len(tally.inline)} sent, {len(inline_latency)} answered; "
        f"{percentiles(inline_latency)}",
        f"429s returned       {api.stats['429']} (per chat {api.stats['429 chat']}, "
        f"global {api.stats['429 global']}); waited out {waited_out(api, counter, outbox)}",
        f"requests            {api.stats['requests']} ({api.stats['4xx']} 4xx, "
        f"{api.stats['5xx']} 5xx); the bot retried {outbox.stats['retried']}, "
        f"gave up on {outbox.stats['given up']}",
        f"peak RSS            {peak:.0f} MB",
    ]
    if reindex:
        lines.append(f"reindex             {reindex_outcome(api)}")
    if api.errors:
        lines.append(f"error answers       {dict(api.errors)}")
    if other:
        lines.append(f"other log records   {dict(sorted(other.items()))}")
    lines += [f"  e.g. {sample}" for sample in counter.samples]
    print("\n".join(lines), flush=True)


def waited_out(api: FakeBotAPI, counter: ErrorCounter, outbox: Outbox) -> int:
    """429s after which the request went through: all but those given up on."""
    given_up = outbox.stats["given up"]
    return api.stats["429"] - given_up


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--plain", action="store_true", help="only the run without a reindex")
    which.add_argument("--reindex", action="store_true", help="only the run with a reindex")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--actions", type=int, default=5, help="per user")
    parser.add_argument("--spread", type=float, default=4.0, help="seconds to start them in")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    runs = [False] if args.plain else [True] if args.reindex else [False, True]
    actions = plan(args.users, args.actions, args.spread, args.seed)
    with tempfile.TemporaryDirectory(prefix="quote-bot-load-") as folder:
        root = Path(folder)
        settings = Settings(
            _env_file=None,
            index_dir=root / "index",
            documents_dir=root / "documents",
            telegram_bot_token=SecretStr(TOKEN),
            admin_user_ids=frozenset({ADMIN}),
        )
        ensure_documents_dir(settings.documents_dir)
        started = time.perf_counter()
        services = open_services(settings)
        print(
            f"model loaded and index built in {time.perf_counter() - started:.1f} s "
            f"({len(services.searcher.corpus.sentences)} sentences)",
            flush=True,
        )
        for reindex in runs:
            asyncio.run(run(settings, services, actions, reindex=reindex))
    return 0


if __name__ == "__main__":
    sys.exit(main())
