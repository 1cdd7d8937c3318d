# Reference image for benchmarks/compare_images.py, NOT used by generated services.
# It follows the pattern `docker init` writes for a Python service (our own text):
# a single stage on the official slim image, pip's download cache and
# requirements.txt as BuildKit mounts, a non-root user, the sources copied last.
ARG PYTHON_VERSION=3.13
FROM python:${PYTHON_VERSION}-slim-trixie

# no .pyc writes at run time, unbuffered logs
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

# an unprivileged user without home or login shell
ARG UID=10001
RUN useradd --uid "${UID}" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin appuser

# requirements.txt is bind-mounted, so this layer is reused until it changes
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    python -m pip install --disable-pip-version-check --root-user-action=ignore \
        -r requirements.txt

USER appuser
COPY . .

ARG PORT=8000
ENV PORT=${PORT}
EXPOSE ${PORT}
CMD ["python", "-m", "app"]
