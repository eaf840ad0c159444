"""Crash test: SIGKILL the real bot in the middle of a burst of questions, restart it, count.

    PYTHONPATH=. .venv/bin/python tests/crash.py             # both runs, about 3 minutes
    PYTHONPATH=. .venv/bin/python tests/crash.py --kills     # only the five kills
    PYTHONPATH=. .venv/bin/python tests/crash.py --reindex   # only the kill during a reindex
    PYTHONPATH=. .venv/bin/python tests/crash.py --exact     # kills timed to a stored reply
    PYTHONPATH=. .venv/bin/python tests/crash.py --kills --kill-after 30,150   # other moments

The real bot (`python -m bot run`: long polling, the default model, the shipped article) runs
as a process of its own against the fake Bot API of tests/fakebotapi.py with Telegram's
flood control on (30 sends a second per bot, one a second per chat); 300 users send one
question each within a second. The bot is killed with SIGKILL after 0 (fetched and
confirmed, nothing answered), 30, 75, 150 and 250 answers, each time a random 0-50 ms after
that answer reached the server (an operator's kill does not wait for a reply to land), and
started again at once. The second run has an admin send /reindex of 3000 new sentences just
before the same burst, and kills the bot while the reindex runs. `--exact` kills at the instant
the server has stored a reply, inside the window the journal cannot close (README,
Reliability: Crashes).

At the end every user must have exactly one answer. Printed: answered, lost, answered twice,
what each start handled again, and the window in which a kill sends a reply twice: from the
server storing a reply to the bot's journal noting it. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from botprocess import START_WAIT, bot_process, stopped
from crowd import ADMIN, BOT, FIRST_USER, QUESTIONS, TOKEN, kind_of, percentiles, reindex_outcome
from fakebotapi import FakeBotAPI

from bot.answering.i18n import text
from bot.retrieval.documents import ensure_documents_dir
from bot.tools.generate import write_documents

USERS = 300
KILLS_AFTER = (0, 30, 75, 150, 250)  # answers
JITTER = 0.05  # seconds: answers go out about every 33 ms
REINDEX_SENTENCES = 3000
SETTLE_SECONDS = 60.0  # give up when nothing has arrived for this long
REINDEX_STARTED = text("admin_reindex_started", "en")


@dataclass
class Run:
    """One burst: who asked with which update, the kills, the bot's log."""

    title: str
    root: Path
    asked: dict[int, int] = field(default_factory=dict)  # update_id -> user
    asked_at: dict[int, float] = field(default_factory=dict)  # user -> time.monotonic()
    kills: list[tuple[int, float]] = field(default_factory=list)  # answers then, Unix time
    starts: list[float] = field(default_factory=list)  # seconds from start to first answer

    @property
    def log(self) -> Path:
        return self.root / "bot.log"

    def bot(self, api: FakeBotAPI, log: int) -> AbstractAsyncContextManager:
        """A new bot process (a new interpreter: restarts are timed), its log appended to `log`."""
        return bot_process(api, token=TOKEN, env=self.env(), log=log, fresh=True)

    def env(self) -> dict[str, str]:
        return {
            "INDEX_DIR": str(self.root / "index"),
            "DOCUMENTS_DIR": str(self.root / "documents"),
            "ADMIN_USER_IDS": str(ADMIN),
            "LOG_LEVEL": "INFO",
        }


def answered(api: FakeBotAPI, run: Run) -> int:
    """Messages the users got so far."""
    return sum(len(api.messages(user)) for user in set(run.asked.values()))


def confirmed(api: FakeBotAPI, run: Run) -> int:
    """Questions Telegram has forgotten because the bot confirmed them."""
    pending = {update["update_id"] for update in api.pending_updates()}
    return sum(update_id not in pending for update_id in run.asked)


async def burst(api: FakeBotAPI, run: Run, rng: random.Random) -> None:
    """Each user asks one question, all within a second."""
    for n in range(USERS):
        user, lang = FIRST_USER + n, ("de", "en")[n % 2]
        update = api.send_text(rng.choice(QUESTIONS[lang]), user_id=user, language_code=lang)
        run.asked[update["update_id"]], run.asked_at[user] = user, time.monotonic()
        await asyncio.sleep(1.0 / USERS)


async def kill_when(
    api: FakeBotAPI,
    run: Run,
    process: asyncio.subprocess.Process,
    reached: object,
    rng: random.Random,
    *,
    exact: bool,
) -> None:
    """SIGKILL once `reached()` holds (plus a random delay unless `exact`)."""
    await api.wait_for(reached, timeout=START_WAIT + 60)
    if not exact:
        await asyncio.sleep(rng.uniform(0, JITTER))
    run.kills.append((answered(api, run), time.time()))
    process.kill()
    await process.wait()


async def first_answer_after(api: FakeBotAPI, run: Run, since: float) -> None:
    """Note how long a start took until it answered (or found nothing left to answer)."""
    before = answered(api, run)
    with contextlib.suppress(TimeoutError):
        await api.wait_for(lambda: answered(api, run) > before, timeout=START_WAIT)
        run.starts.append(time.monotonic() - since)


async def settle(api: FakeBotAPI, run: Run, *, reindex: bool) -> None:
    """Wait until every user has an answer (and the reindex ended), or nothing moves."""
    users = set(run.asked.values())
    last, changed = answered(api, run), time.monotonic()
    while any(not api.messages(u) for u in users) or (reindex and not reindex_outcome(api)):
        await asyncio.sleep(0.5)
        if answered(api, run) != last:
            last, changed = answered(api, run), time.monotonic()
        elif time.monotonic() - changed > SETTLE_SECONDS:
            break
    await asyncio.sleep(2.0)  # late duplicates would show up now


async def kills_run(root: Path, kills: list[int], *, exact: bool, seed: int) -> None:
    """The burst with a kill after each number of `kills` answers, and restarts."""
    rng = random.Random(seed)
    title = f"{len(kills)} kills" + (", each at the instant a reply was stored" if exact else "")
    run = Run(title, root)
    prepare(run)
    began = time.monotonic()
    async with FakeBotAPI(token=TOKEN, bot_username=BOT) as api:
        api.flood_control(per_chat_per_second=1, global_per_second=30)
        with run.log.open("ab") as log:
            asking = None
            for count in kills:
                since = time.monotonic()
                async with run.bot(api, log.fileno()) as process:
                    if asking is None:
                        await api.wait_for(lambda: api.calls_to("getUpdates"), START_WAIT)
                        asking = asyncio.create_task(burst(api, run, rng))
                    else:
                        await first_answer_after(api, run, since)
                    target = count

                    def reached(target: int = target) -> bool:
                        if target == 0:
                            return confirmed(api, run) > 0
                        return answered(api, run) >= target

                    await kill_when(api, run, process, reached, rng, exact=exact)
            await asking
            since = time.monotonic()
            async with run.bot(api, log.fileno()) as process:
                await first_answer_after(api, run, since)
                await settle(api, run, reindex=False)
                await stopped(process, 60)
        report(api, run, seconds=time.monotonic() - began)


async def reindex_run(root: Path, *, seed: int) -> None:
    """An admin's /reindex of a bigger corpus, then the burst; the kill lands during the
    reindex."""
    rng = random.Random(seed)
    run = Run("kill during a reindex", root)
    prepare(run)
    began = time.monotonic()
    async with FakeBotAPI(token=TOKEN, bot_username=BOT) as api:
        api.flood_control(per_chat_per_second=1, global_per_second=30)
        with run.log.open("ab") as log:
            async with run.bot(api, log.fileno()) as process:
                await api.wait_for(lambda: api.calls_to("getUpdates"), START_WAIT)
                write_documents(root / "documents", REINDEX_SENTENCES)
                api.send_text("/reindex", user_id=ADMIN, language_code="en")
                asking = asyncio.create_task(burst(api, run, rng))

                def reindexing() -> bool:
                    return any(m["text"].startswith(REINDEX_STARTED) for m in api.messages(ADMIN))

                await api.wait_for(reindexing, timeout=60)
                await asyncio.sleep(rng.uniform(0.5, 1.5))  # the reindex takes several seconds
                still_running = reindex_outcome(api) is None
                await kill_when(api, run, process, lambda: True, rng, exact=True)
            await asking
            since = time.monotonic()
            async with run.bot(api, log.fileno()) as process:
                await first_answer_after(api, run, since)
                await settle(api, run, reindex=True)
                await stopped(process, 60)
        report(api, run, seconds=time.monotonic() - began)
        leftovers = list((root / "index").rglob("tmp-*"))
        print(
            f"reindex             killed while running: {still_running}; after the restart: "
            f"{reindex_outcome(api)!r}; temporary folders left: {len(leftovers)}",
            flush=True,
        )


def prepare(run: Run) -> None:
    """Documents (the shipped article) and an index built before the first start."""
    ensure_documents_dir(run.root / "documents")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **run.env()}
    subprocess.run([sys.executable, "-m", "bot", "index"], env=env, check=True, capture_output=True)


# ---------------------------------------------------------------------------- the report


def report(api: FakeBotAPI, run: Run, *, seconds: float) -> None:
    users = sorted(set(run.asked.values()))
    got = {user: api.messages(user) for user in users}
    kinds = Counter(kind_of(m) for messages in got.values() for m in messages)
    twice = [user for user, messages in got.items() if len(messages) > 1]
    log = run.log.read_text("utf-8", errors="replace")
    replayed = [int(n) for n in re.findall(r"handling (\d+) updates fetched before", log)]
    skipped = len(re.findall(r"went out before the restart", log))
    windows = journal_windows(api, run)
    latency = [got[user][0]["sent_at"] - run.asked_at[user] for user in users if got[user]]
    lines = [
        f"== {run.title}: {len(users)} users, {seconds:.0f} s in all",
        f"questions sent      {len(run.asked)}",
        f"answered            {sum(any(kind_of(m) == 'reply' for m in got[u]) for u in users)}",
        f"apologized to       {kinds['error']} (the error handler's reply instead of an answer)",
        f"lost                {sum(not m for m in got.values())}",
        f"answered twice      {len(twice)}",
        f"latency             {percentiles(latency)} (question sent -> its answer stored)",
        f"kills after answers {[count for count, _ in run.kills]}",
        f"handled again       {replayed} (updates each start took from the journal); "
        f"{skipped} replies not sent again (they went out before the kill)",
        f"start to 1st answer {', '.join(f'{s:.1f}' for s in run.starts)} s",
        f"429s returned       {api.stats['429']}",
        *windows,
        f"log                 {log.count('Traceback')} tracebacks, "
        f"{len(re.findall(r' ERROR ', log))} ERROR lines",
    ]
    lines += [f"  e.g. {line}" for line in failures(log)[:5]]
    for user in twice:
        first = got[user][0]["sent_at"] + wall_offset()
        near = min((abs(at - first), at - first) for _, at in run.kills)[1]
        lines.append(f"  user {user}: a kill {near * 1000:.1f} ms after its first reply arrived")
    print("\n".join(lines), flush=True)


def failures(log: str) -> list[str]:
    """The ERROR lines of the bot's log, each with the last line of its traceback."""
    found, lines = [], log.splitlines()
    for number, line in enumerate(lines):
        if " ERROR " in line:
            trace = [
                following for following in lines[number + 1 : number + 80] if following[:1] != " "
            ]
            found.append(f"{line[24:]} -> {trace[1] if len(trace) > 1 else ''}")
    return found


def wall_offset() -> float:
    """Unix time minus the monotonic clock (the fake server stamps messages with the latter;
    every process on the machine shares it)."""
    return time.time() - time.monotonic()


def journal_windows(api: FakeBotAPI, run: Run) -> list[str]:
    """The window in which a kill sends a reply again after the restart: from the server
    storing the reply to the bot's journal noting it, and its two parts (the response's way
    to the bot, then the note)."""
    offset = wall_offset()
    stored = {
        (record["chat_id"], record["message_id"]): record["sent_at"] + offset
        for user in set(run.asked.values())
        for record in api.messages(user)
    }
    path = run.root / "index" / "journal.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT update_id, message_id, sent_at, recorded_at FROM replies")
        found = [
            (stored[(run.asked[update_id], message_id)], sent, noted)
            for update_id, message_id, sent, noted in rows
            if (run.asked.get(update_id), message_id) in stored
        ]
    return [
        f"{label:<19} {milliseconds([(end - start) * 1000 for start, end in pairs])}"
        for label, pairs in (
            ("journal window", [(at, noted) for at, _, noted in found]),
            ("  reply to bot", [(at, sent) for at, sent, _ in found]),
            ("  bot to journal", [(sent, noted) for _, sent, noted in found]),
        )
    ]


def milliseconds(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    at = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return (
        f"p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, max {ordered[-1]:.2f} ms "
        f"({len(ordered)} replies)"
    )


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--kills", action="store_true", help="only the run with five kills")
    which.add_argument("--reindex", action="store_true", help="only the kill during a reindex")
    which.add_argument("--exact", action="store_true", help="five kills timed to stored replies")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--kill-after", default=",".join(map(str, KILLS_AFTER)), help="answers, comma-separated"
    )
    args = parser.parse_args(argv)
    kills = [int(n) for n in args.kill_after.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="quote-bot-crash-") as folder:
        root = Path(folder)
        if args.exact:
            asyncio.run(kills_run(root / "exact", kills, exact=True, seed=args.seed))
            return 0
        if not args.reindex:
            asyncio.run(kills_run(root / "kills", kills, exact=False, seed=args.seed))
        if not args.kills:
            asyncio.run(reindex_run(root / "reindex", seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
