"""Which base images a generated service needs, read from its Dockerfile and compose file."""

from __future__ import annotations

from pathlib import Path

from generator.images import required_images
from tests.conftest import Render

PYTHON = "python:3.13-slim-trixie"
DISTROLESS = "gcr.io/distroless/static-debian13:nonroot"
POSTGRES = "postgres:17"
REDIS = "redis:8"


def test_required_images_reads_dockerfiles_and_compose(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG PY=3.13\n"
        "ARG BASE=python:${PY}-slim-trixie\n"
        "FROM ${BASE} AS build\n"
        "RUN true\n"
        "FROM build AS test\n"
        "FROM --platform=linux/amd64 gcr.io/distroless/static-debian13:nonroot\n"
        "FROM scratch\n",
        encoding="utf-8",
    )
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  app:\n"
        "    build: .\n"
        "    image: registry.example.com/app:dev\n"
        "  db:\n"
        "    image: ${KEELSON_TEST_UNSET_DB_IMAGE:-postgres:17}\n"
        "  cache:\n"
        "    image: 'redis:8'\n",
        encoding="utf-8",
    )
    assert required_images(tmp_path) == [
        PYTHON,
        DISTROLESS,
        POSTGRES,
        REDIS,
    ]


def test_required_images_of_generated_services(rendered: Render) -> None:
    assert required_images(rendered(language="go", database="mariadb")) == [
        "golang:1.27-trixie",
        DISTROLESS,
        "mariadb:11.8",
    ]
    assert required_images(rendered(language="node", database="none")) == ["node:24-trixie-slim"]
