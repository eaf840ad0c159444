"""The handlers: questions, buttons, groups, inline mode, admin commands and errors.

Each one is `async def name(update, context) -> None` and reaches the bot's resources
through its typed `Context` (bot/telegram/context.py). Every Bot API call they make is
paced and retried by the bot's rate limiter (bot/telegram/outbox.py).
"""
