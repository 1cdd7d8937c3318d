"""Base images for generated services, and honest local stand-ins for them.

Generated services build ``FROM`` official images (``python:3.13-slim-trixie``,
``node:24-trixie-slim``, ``golang:1.27-trixie``, and Google's distroless runtimes
``gcr.io/distroless/static-debian13:nonroot``, ``python3-debian13:nonroot`` and
``nodejs24-debian13:nonroot``) and compose runs ``postgres:17``,
``mariadb:11.8`` and ``redis:8``. Where no registry answers, keelson builds a
*stand-in* under the official name from what the package registries carry: a Debian
trixie base made with ``debootstrap``, Debian's own packages, and the upstream
runtime builds that npm and PyPI ship (the official Node.js Linux build, the
official Go toolchain); the distroless runtimes are Debian packages unpacked without
maintainer scripts onto the static image, as Google assembles them. A stand-in is
honest: its tag names the runtime version really inside (checked after every
build) and it follows the official image's contract (paths, users, environment
variables, entrypoint behaviour). Where no honest stand-in exists (``postgres:16``
is not in Debian trixie) keelson says so.

Stand-ins are built once per machine and reused; they carry the label
``io.keelson.standin=1`` and the real runtime version.

One module per job: `refs` (image references), `parsing` (the images a project's
Dockerfiles and compose files name), `recipes` (which images have a stand-in and how
each is built: a table, plus each language pack's `standins/images.yml`), `base` (the
debootstrap Debian base), `fetch` (what a build needs from npm or PyPI, fetched on the
host), `builds` (building stand-ins and `ensure_images`); `generator.docker` runs
docker for all of them.
"""

from __future__ import annotations

from generator.docker import docker_command, engine_problem
from generator.errors import StandInError
from generator.images.base import BASE_IMAGE
from generator.images.builds import POLICIES, PULL_TIMEOUT, ImageResult, ensure_images
from generator.images.labels import RECIPE_LABEL, RUNTIME_LABEL, STANDIN_LABEL, VERSION_LABEL
from generator.images.parsing import compose_images, dockerfile_bases, required_images
from generator.images.recipes import (
    ARCHES,
    FOREIGN_ARCH_KINDS,
    Recipe,
    arch_image,
    recipe_for,
    standin_supported,
)

__all__ = [
    "ARCHES",
    "BASE_IMAGE",
    "FOREIGN_ARCH_KINDS",
    "POLICIES",
    "PULL_TIMEOUT",
    "RECIPE_LABEL",
    "RUNTIME_LABEL",
    "STANDIN_LABEL",
    "VERSION_LABEL",
    "ImageResult",
    "Recipe",
    "StandInError",
    "arch_image",
    "compose_images",
    "docker_command",
    "dockerfile_bases",
    "engine_problem",
    "ensure_images",
    "recipe_for",
    "required_images",
    "standin_supported",
]
