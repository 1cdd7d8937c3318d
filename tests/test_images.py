"""Which base images a generated service needs, read from its Dockerfile and compose file."""

from __future__ import annotations

from pathlib import Path

from generator.images import required_images, standin_supported
from tests.conftest import Render
from tests.matrix import SPEC

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
    assert required_images(rendered(language="node", database="none")) == [
        "node:24-trixie-slim",
        "gcr.io/distroless/nodejs24-debian13:nonroot",
    ]
    assert required_images(rendered(language="python", database="redis")) == [
        PYTHON,
        "gcr.io/distroless/python3-debian13:nonroot",
        REDIS,
    ]


def test_every_offered_runtime_has_an_honest_standin(rendered: Render) -> None:
    # each node_version / python_version choice names a runtime image keelson can
    # stand in for, so the whole matrix builds on a machine without a registry
    for language, question in (("node", "node_version"), ("python", "python_version")):
        for version in SPEC.choices(question):
            project = rendered(language=language, database="none", **{question: version})
            for image in required_images(project):
                assert standin_supported(image), image


def test_distroless_runtimes_refuse_what_cannot_be_built_honestly() -> None:
    for image in (
        "gcr.io/distroless/python3-debian13:nonroot",
        "gcr.io/distroless/python3-debian13:latest",
        "gcr.io/distroless/nodejs22-debian13:nonroot",
        "gcr.io/distroless/nodejs24-debian13:nonroot",
        "gcr.io/distroless/cc-debian13:nonroot",
    ):
        assert standin_supported(image), image
    for image in (
        "gcr.io/distroless/python3-debian12:nonroot",  # Debian 12's Python 3.11
        "gcr.io/distroless/nodejs20-debian13:nonroot",  # not published
        "gcr.io/distroless/nodejs24-debian13:debug-nonroot",  # busybox not built
        "gcr.io/distroless/python3-debian13@sha256:" + "0" * 64,
    ):
        assert not standin_supported(image), image
