"""From a message to an answer: the input pipeline (clean → refuse → language →
conversation), follow-up questions, and the texts and formatting shared by the console and
the Telegram bot."""
