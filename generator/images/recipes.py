"""Which images have an honest stand-in, and how to build each: a table, not code.

`FAMILIES` lists, in the order they are tried, the image repositories keelson knows.
Each family names the tags it builds (a regular expression and the `Recipe` for
them) and, for every other tag, why no honest stand-in exists. A version the tag
claims is taken from the named group ``claim`` of the repository or tag pattern;
``{tag}`` in a recipe's build arguments and required images becomes the tag asked
for. Adding an image family is adding one row.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from generator.errors import StandInError
from generator.images.base import DEBIAN_RELEASE
from generator.images.refs import Ref, parse_ref

__all__ = [
    "ARCHES",
    "DISTROLESS_NODE_MAJORS",
    "DISTROLESS_PYTHON",
    "FAMILIES",
    "FOREIGN_ARCH_KINDS",
    "Family",
    "Recipe",
    "Tags",
    "arch_image",
    "recipe_for",
    "standin_supported",
    "version_matches",
]


@dataclass(frozen=True)
class Recipe:
    """How to build the stand-in for one image reference.

    Attributes:
        kind: Folder under ``generator/standins`` (``debian`` is the base itself).
        runtime: Value of `RUNTIME_LABEL`.
        claim: The version the tag claims (``3.13``); the real one must equal it or
            extend it (``3.13.5``).
        build_args: Extra ``--build-arg`` values.
        probe: Command run in the built image (entrypoint first) to read the real
            version, or empty when the version comes from the base.
        probe_pattern: Regular expression whose first group is the version.
        version_env: Environment variable the official image sets to the version.
        target: Stage of the recipe's Dockerfile to build (``--target``), if any.
        requires: Images the build starts from, made present first.

    """

    kind: str
    runtime: str
    claim: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    probe: tuple[str, ...] = ()
    probe_pattern: str = r"(\S+)"
    version_env: str | None = None
    target: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tags:
    """Tags of a family matched by one pattern: built by `recipe`, else refused.

    Attributes:
        pattern: Regular expression the whole tag must match.
        recipe: The recipe for those tags.
        refuse: Why those tags have no honest stand-in (when `recipe` is None).

    """

    pattern: str
    recipe: Recipe | None = None
    refuse: str = ""


@dataclass(frozen=True)
class Family:
    """Images of one repository pattern.

    Attributes:
        repo: Regular expression the whole normalised repository must match.
        tags: Tag patterns, tried in order.
        otherwise: Why any other tag has no honest stand-in.

    """

    repo: str
    tags: tuple[Tags, ...]
    otherwise: str


DISTROLESS_NODE_MAJORS = ("22", "24", "26")
"""Node.js lines Google publishes as gcr.io/distroless/nodejs<major>-debian13."""
DISTROLESS_PYTHON = "3.13"
"""The CPython release of gcr.io/distroless/python3-debian13 (Debian trixie's)."""

_PYTHON_VERSION = "import platform; print(platform.python_version())"
_DISTROLESS = rf"gcr\.io/distroless/{{}}-debian{DEBIAN_RELEASE}"
_STATIC = f"gcr.io/distroless/static-debian{DEBIAN_RELEASE}:{{tag}}"
_NONROOT_OR_LATEST = "nonroot|latest"
_NO_DEBUG = "only the :nonroot and :latest variants are built (no busybox :debug)"

FAMILIES: tuple[Family, ...] = (
    Family(
        "debian",
        (Tags("trixie|trixie-slim|13|13-slim", Recipe("debian", "debian", DEBIAN_RELEASE)),),
        "only Debian trixie (13) is built here: use debian:trixie-slim",
    ),
    Family(
        "python",
        (
            Tags(
                r"(?P<claim>3\.13(?:\.\d+)?)-slim(?:-trixie)?",
                Recipe(
                    "python",
                    "cpython",
                    probe=("python3", "-c", _PYTHON_VERSION),
                    version_env="PYTHON_VERSION",
                ),
            ),
            Tags(
                r"3\.13(?:\.\d+)?(?:-trixie)?",
                refuse="the non-slim image carries a C toolchain; only python:3.13-slim-trixie",
            ),
        ),
        "Debian trixie ships CPython 3.13 only: use python:3.13-slim-trixie",
    ),
    Family(
        "node",
        (
            Tags(
                r"(?P<claim>\d+(?:\.\d+){0,2})-trixie-slim",
                Recipe("node", "node", probe=("node", "--version"), probe_pattern=r"v(\S+)"),
            ),
        ),
        "only the slim Debian trixie variant is built: use node:<version>-trixie-slim",
    ),
    Family(
        "golang",
        (
            Tags(
                r"(?P<claim>1\.\d+(?:\.\d+)?)-trixie",
                Recipe("golang", "go", probe=("go", "env", "GOVERSION"), probe_pattern=r"go(\S+)"),
            ),
        ),
        "only the Debian trixie variant is built: use golang:<version>-trixie",
    ),
    Family(
        _DISTROLESS.format("static"),
        (
            Tags(
                "nonroot",
                Recipe(
                    "distroless",
                    "debian",
                    DEBIAN_RELEASE,
                    build_args={"DISTROLESS_USER": "65532", "DISTROLESS_WORKDIR": "/home/nonroot"},
                ),
            ),
            Tags(
                "latest",
                Recipe(
                    "distroless",
                    "debian",
                    DEBIAN_RELEASE,
                    build_args={"DISTROLESS_USER": "0", "DISTROLESS_WORKDIR": "/"},
                ),
            ),
        ),
        "only the :nonroot and :latest variants are built",
    ),
    Family(
        _DISTROLESS.format("cc"),
        (
            Tags(
                _NONROOT_OR_LATEST,
                Recipe(
                    "distroless-runtime",
                    "debian",
                    DEBIAN_RELEASE,
                    target="cc",
                    build_args={"STATIC": _STATIC},
                    requires=(_STATIC,),
                ),
            ),
        ),
        _NO_DEBUG,
    ),
    Family(
        _DISTROLESS.format("python3"),
        (
            Tags(
                _NONROOT_OR_LATEST,
                Recipe(
                    "distroless-runtime",
                    "cpython",
                    DISTROLESS_PYTHON,
                    probe=("/usr/bin/python3", "-c", _PYTHON_VERSION),
                    target="python3",
                    build_args={"STATIC": _STATIC},
                    requires=(_STATIC,),
                ),
            ),
        ),
        _NO_DEBUG,
    ),
    Family(
        _DISTROLESS.format(f"nodejs(?P<claim>{'|'.join(DISTROLESS_NODE_MAJORS)})"),
        (
            Tags(
                _NONROOT_OR_LATEST,
                Recipe(
                    "distroless-runtime",
                    "node",
                    probe=("/nodejs/bin/node", "--version"),
                    probe_pattern=r"v(\S+)",
                    target="nodejs",
                    build_args={"STATIC": _STATIC},
                    requires=(_STATIC,),
                ),
            ),
        ),
        _NO_DEBUG,
    ),
    Family(
        _DISTROLESS.format(r"nodejs\d+"),
        (
            Tags(
                _NONROOT_OR_LATEST,
                refuse="Google publishes distroless Node.js for "
                + ", ".join(f"nodejs{n}" for n in DISTROLESS_NODE_MAJORS)
                + " only",
            ),
        ),
        _NO_DEBUG,
    ),
    Family(
        r"gcr\.io/distroless/(cc|python3|nodejs\d+)-debian\d+",
        (),
        f"only Debian {DEBIAN_RELEASE} (trixie) variants are built",
    ),
    Family(
        "postgres",
        (
            Tags(
                r"(?P<claim>17(?:\.\d+)?)(?:-trixie)?",
                Recipe(
                    "postgres",
                    "postgresql",
                    build_args={"PG_MAJOR": "17"},
                    probe=("postgres", "--version"),
                    probe_pattern=r"\(PostgreSQL\) (\d+(?:\.\d+)*)",
                    version_env="PG_VERSION",
                ),
            ),
        ),
        "Debian trixie ships PostgreSQL 17 only: use postgres:17",
    ),
    Family(
        "mariadb",
        (
            Tags(
                r"(?P<claim>11(?:\.8(?:\.\d+)?)?)",
                Recipe(
                    "mariadb",
                    "mariadb",
                    probe=("mariadbd", "--version"),
                    probe_pattern=r"Ver (\d+\.\d+\.\d+)",
                    version_env="MARIADB_VERSION",
                ),
            ),
        ),
        "Debian trixie ships MariaDB 11.8 only: use mariadb:11.8",
    ),
    Family("mysql", (), "MySQL is not in Debian; MariaDB is MySQL-compatible: use mariadb:11.8"),
    Family(
        "redis",
        (
            Tags(
                r"(?P<claim>8(?:\.0(?:\.\d+)?)?)(?:-trixie)?",
                Recipe(
                    "redis",
                    "redis",
                    probe=("redis-server", "--version"),
                    probe_pattern=r"v=(\d+\.\d+\.\d+)",
                    version_env="REDIS_VERSION",
                ),
            ),
        ),
        "Debian trixie ships Redis 8.0 only: use redis:8",
    ),
)


ARCHES = ("amd64", "arm64")
"""CPU architectures a stand-in is built for (Docker's names)."""
FOREIGN_ARCH_KINDS = frozenset({"distroless", "distroless-runtime"})
"""Recipes that build for another architecture than the engine's: they only unpack
packages and files on the build platform (no RUN step on the target platform), so the
image for linux/arm64 is made the way the amd64 one is. Build stages (golang, node,
python) run on the build platform and need no foreign twin."""


def arch_image(image: str, arch: str) -> str:
    """Name the local stand-in of image for a foreign architecture.

    The engine's image store keeps one platform per name, so the linux/arm64 twin of
    ``gcr.io/distroless/static-debian13:nonroot`` is
    ``keelson-standin/linux-arm64/gcr.io/distroless/static-debian13:nonroot``.
    """
    ref = parse_ref(image)
    return f"keelson-standin/linux-{arch}/{ref.repo}:{ref.tag}"


def _unsupported(ref: Ref, why: str) -> StandInError:
    return StandInError(
        f"{ref.name}: no honest local stand-in ({why}). Pull the real image on a machine "
        "with registry access (`docker pull` then `docker save`/`docker load`), or "
        "choose a supported tag."
    )


def recipe_for(image: str) -> Recipe:
    """Map an image reference to its stand-in recipe, by the first row of `FAMILIES`.

    Raises:
        StandInError: No honest stand-in exists for that reference.

    """
    ref = parse_ref(image)
    for family in FAMILIES:
        if not (repo := re.fullmatch(family.repo, ref.repo)):
            continue
        for tags in family.tags:
            if not (tag := re.fullmatch(tags.pattern, ref.tag)):
                continue
            if tags.recipe is None:
                raise _unsupported(ref, tags.refuse)
            found = tags.recipe
            claim = {**repo.groupdict(), **tag.groupdict()}.get("claim") or found.claim
            return dataclasses.replace(
                found,
                claim=claim,
                build_args={k: v.format(tag=ref.tag) for k, v in found.build_args.items()},
                requires=tuple(r.format(tag=ref.tag) for r in found.requires),
            )
        raise _unsupported(ref, family.otherwise)
    raise _unsupported(ref, "keelson has no recipe for this image")


def standin_supported(image: str) -> bool:
    """Tell whether keelson can build an honest stand-in for an image.

    Args:
        image: An image reference such as ``postgres:17``.

    Returns:
        True when `ensure_images` could build it.

    """
    try:
        recipe_for(image)
    except StandInError:
        return False
    return True


def version_matches(claim: str, real: str) -> bool:
    """Tell whether the real version is the claimed one or a release of it."""
    return real == claim or real.startswith(claim + ".")
