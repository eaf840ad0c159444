# quote-bot, CPU only, on Python 3.11 as tested. Build: `docker build -t quote-bot .`, run e.g.
#   docker run --env-file .env -v quote-bot-index:/app/index -v quote-bot-documents:/app/documents \
#     --stop-timeout 30 quote-bot
# (webhook mode also needs -p 8443:8443; the server listens on all addresses in the container).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first and pinned, as `make install` does, so installing the project cannot pull a
# different build of it; from PyTorch's CPU wheel index, since the PyPI wheel for Linux
# brings several GB of CUDA libraries along.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install .

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot
# A new named volume starts with the image's contents: the shipped article, owned by the bot.
COPY --chown=bot:bot bot/seed/ /app/documents/
RUN install -d -o bot -g bot /app/index
USER bot

ENV INDEX_DIR=/app/index \
    DOCUMENTS_DIR=/app/documents \
    WEBHOOK_LISTEN=0.0.0.0
VOLUME ["/app/index", "/app/documents"]
EXPOSE 8443

CMD ["python", "-m", "bot", "run"]
