"""Where keelson's template comes from, what a service records, and whom to trust.

A service's answers file names the template it came from (`_src_path`) and the
version (`_commit`); `keelson update` and `copier update` read both from every clone
of the service, so both must be reachable from anywhere: never a temporary folder,
a machine-local checkout path where a remote exists, or a commit that only lives in
a dirty working tree.

The template keelson renders when none is named, first match wins:

1. `--template PATH|URL`;
2. `$KEELSON_TEMPLATE`;
3. `template:` in the user config file (`$XDG_CONFIG_HOME/keelson/config.yml`);
4. keelson's own template: the copy bundled in an installed wheel (recorded as the
   canonical URL at the commit the wheel was built from), or the checkout an
   editable install runs from (recorded as its `origin` remote).

The canonical URL a wheel's services record, first match wins:

1. `[project.urls] Template` in `pyproject.toml`, once changed from the placeholder
   (`https://git.example.com/platform/keelson.git`): a company that publishes its
   own fork or mirror sets it there once, and that choice is deliberate;
2. the `origin` remote of the checkout the wheel was built from, which the build
   records in the bundle's SOURCE.json (`pip install git+URL` clones with
   `origin` = URL, so a wheel built from a fork records that fork);
3. the placeholder, and `keelson new` says in a note that nobody can reach it.

What a new service records is checked once, when it is made (`published`): a
placeholder, a local path, a URL that does not answer `git ls-remote`, or a version
the recorded repository lacks each get a one-line note naming the fix. A version
only the local checkout has (a tag not pushed) is recorded by the nearest one its
origin has, when the commit itself is there.

Whether a location is remote, and what its repository holds, is
`generator.repository`'s; whom to trust, `generator.trust`'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import Any

from generator.errors import TemplateError, UsageError
from generator.git import git
from generator.repository import (
    FALLBACK_URL,
    git_toplevel,
    has_commit,
    is_bare,
    is_placeholder,
    is_remote,
    list_refs,
    same_template,
)
from generator.yamlfile import load_yaml

TEMPLATE_ENV = "KEELSON_TEMPLATE"
PACKAGE = Path(__file__).resolve().parent
BUNDLE = PACKAGE / "template"
BUNDLE_SOURCE = "SOURCE.json"
CHECKOUT = PACKAGE.parent
# the keys the user config file may hold
CONFIG_KEYS = ("template",)


def canonical_url() -> str:
    """Return keelson's canonical template URL (package metadata `Template`)."""
    try:
        urls = metadata("keelson").get_all("Project-URL") or []
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return FALLBACK_URL
    for entry in map(str, urls):
        label, _, url = entry.partition(",")
        if label.strip().lower() == "template" and url.strip():
            return str(url).strip()
    return FALLBACK_URL  # pragma: no cover - pyproject.toml always sets it


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """Return the user config file: `$XDG_CONFIG_HOME/keelson/config.yml`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "keelson" / "config.yml"


def _configured_template(environ: Mapping[str, str] | None = None) -> str | None:
    path = config_file(environ)
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read the keelson config: {error}") from error
    data = load_yaml(text, f"{path} (the keelson config)")
    if data is None:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("template", ""), str):
        raise UsageError(f"{path}: expected a mapping such as `template: URL`")
    _check_config_keys(path, data)
    value = str(data.get("template") or "").strip()
    return value or None


def _check_config_keys(path: Path, data: Mapping[Any, Any]) -> None:
    """Refuse a key the config does not know: a misspelt `template` would be ignored."""
    unknown = sorted(str(key) for key in data if key not in CONFIG_KEYS)
    if unknown:
        raise UsageError(
            f"{path}: unknown key {unknown[0]!r} in the keelson config; "
            f"allowed: {', '.join(CONFIG_KEYS)}"
        )


def _origin(checkout: Path) -> str | None:
    remote = git("remote", "get-url", "origin", cwd=checkout)
    url = remote.stdout.strip()
    if remote.returncode != 0 or not url:
        return None
    if is_remote(url):
        return url
    # a remote given as a relative path is relative to the checkout
    return str((checkout / url).resolve())


def _fix(config: Path | None = None) -> str:
    where = config or config_file()
    return (
        f"name the template's real repository with --template URL or `template:` in {where}, "
        "or build keelson with `[project.urls] Template` set in pyproject.toml; "
        "`keelson update --template URL` re-points a service made already"
    )


def published(
    src: str, commit: str | None, checkout: Path | None = None
) -> tuple[str | None, str | None]:
    """Check what a new service records; return the `_commit` to record and a note.

    A service is only updatable if every clone of it reaches `src` and finds
    `commit` there. When the template was rendered from a local `checkout` whose
    `origin` is `src`, a version the checkout alone has (a tag not pushed) is
    replaced by the nearest one origin has (`v2.0.0-1-gabc1234`), if the commit
    itself is on origin.

    Args:
        src: The template the service records (`_src_path`).
        commit: The version copier recorded (`_commit`).
        checkout: The local checkout it was rendered from, if any.

    Returns:
        The `_commit` to record, and one line for the user when `src` or the
        version cannot be reached (None when all is well).

    """
    if is_placeholder(src):
        return commit, (
            f"the service records the template as {src}, a placeholder no machine can "
            f"reach, so `keelson check` and `keelson update` will fail there: {_fix()}"
        )
    where_note = None
    if not is_remote(src):
        hint = "" if is_bare(Path(src)) else "give the template checkout an `origin` remote, or "
        where_note = (
            f"the service records the template as the local path {src}, which clones on "
            f"other machines cannot reach; {hint}{_fix()}"
        )
    refs = list_refs(src)
    if isinstance(refs, str):
        return commit, where_note or (
            f"the service records the template as {src}, which cannot be reached ({refs}); "
            + _fix()
        )
    if commit is None or has_commit(src, commit) is not False:
        return commit, where_note
    if checkout is not None and (moved := _origin_version(checkout, commit, refs)):
        return moved, where_note
    held = f"only the checkout {checkout} has it" if checkout else "it was built elsewhere"
    return commit, (
        f"the service records template version {commit}, which {src} does not have ({held}), "
        f"so `keelson update` will fail: push it there (`git push origin {commit}`), or {_fix()}"
    )


def _origin_version(checkout: Path, commit: str, refs: Mapping[str, str]) -> str | None:
    """Name `commit` of a checkout by what its origin has, or None if origin lacks it."""
    rev = git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", cwd=checkout)
    if rev.returncode != 0:
        return None
    sha = rev.stdout.strip()
    tracking = git("for-each-ref", "--format=%(objectname)", "refs/remotes/origin", cwd=checkout)
    tips = {*refs.values(), *tracking.stdout.split()}
    if not any(
        git("merge-base", "--is-ancestor", sha, tip, cwd=checkout).returncode == 0 for tip in tips
    ):
        return None  # a commit that exists nowhere but here
    theirs = {name.removeprefix("refs/tags/") for name in refs if name.startswith("refs/tags/")}
    ours = git("tag", "--list", cwd=checkout).stdout.split()
    excluded = [arg for tag in ours if tag not in theirs for arg in ("--exclude", tag)]
    described = git("describe", "--tags", "--always", *excluded, sha, cwd=checkout)
    return described.stdout.strip() or None if described.returncode == 0 else None


@dataclass(frozen=True)
class TemplateSource:
    """A template to render, and what a service made from it records.

    Attributes:
        location: What copier renders from: a folder or a git URL.
        record: What the answers file records as `_src_path`; None keeps copier's.
        commit: What it records as `_commit`; None keeps copier's.
        trusted: Whether this is keelson's own template (its tasks run unasked).
        checkout: The git work tree of a local template, for the dirty and
            nesting checks; None for a URL or the bundled copy.
        dirty: Why the template cannot yield updatable services, if it cannot.

    """

    location: str
    record: str | None = None
    commit: str | None = None
    trusted: bool = False
    checkout: Path | None = None
    dirty: str | None = None

    @property
    def shown(self) -> str:
        """The template as messages name it."""
        return self.record or self.location


def _bundle_info() -> dict[str, Any] | None:
    file = BUNDLE / BUNDLE_SOURCE
    if not (BUNDLE / "copier.yml").is_file() or not file.is_file():
        return None
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def bundle_url(info: Mapping[str, Any] | None = None) -> str:
    """Return the URL services made from the bundled template record (see the module doc).

    Args:
        info: The bundle's SOURCE.json (read from the installed bundle by default).

    """
    configured = canonical_url()
    if not is_placeholder(configured):
        return configured
    info = _bundle_info() if info is None else info
    origin = str((info or {}).get("origin") or "")
    return origin or configured


def own_template() -> TemplateSource:
    """Return keelson's own template: the bundled copy, else the checkout.

    Raises:
        TemplateError: This keelson has neither (a broken install).

    """
    info = _bundle_info()
    if info is not None:
        dirty = None
        if info.get("dirty") or not info.get("commit"):
            dirty = (
                "this keelson was built from a template checkout with uncommitted changes "
                "(or outside git), so services made from it could never be updated; "
                "reinstall keelson from a clean commit"
            )
        return TemplateSource(
            location=str(BUNDLE),
            record=bundle_url(info),
            commit=str(info.get("commit") or "") or None,
            trusted=True,
            dirty=dirty,
        )
    if (CHECKOUT / "copier.yml").is_file():
        return _local(str(CHECKOUT), trusted=True)
    raise TemplateError(
        "no template found: this keelson has no bundled template; reinstall it, or "
        f"pass --template PATH|URL or set ${TEMPLATE_ENV}"
    )


def _local(location: str, *, trusted: bool) -> TemplateSource:
    path = Path(location).expanduser().resolve()
    if is_bare(path):
        # copier treats a local path as a checkout (it runs `git status` in it to pick
        # up uncommitted work, which a bare repository refuses); as a file:// URL it
        # clones it like any remote. The service records the path it was given.
        return TemplateSource(location=path.as_uri(), record=str(path), trusted=trusted)
    top = git_toplevel(path)
    if top is None:  # a folder outside git
        return TemplateSource(location=str(path), trusted=trusted)
    status = git("status", "--porcelain", cwd=top).stdout
    dirty = None
    if status.strip():
        count = len(status.splitlines())
        dirty = (
            f"the template checkout {top} has {count} uncommitted change(s); services made "
            "from it would record a commit that exists nowhere else and could never be "
            "updated: commit them first (template authors: --allow-dirty)"
        )
    return TemplateSource(
        location=str(path),
        record=_origin(top),
        trusted=trusted,
        checkout=top,
        dirty=dirty,
    )


def is_own(location: str) -> bool:
    """Whether a template location is keelson's own template (and so trusted)."""
    candidates = [canonical_url(), bundle_url(), str(CHECKOUT), str(BUNDLE)]
    if (CHECKOUT / ".git").exists() and (origin := _origin(CHECKOUT)):
        candidates.append(origin)
    return any(same_template(location, own) for own in candidates if own)


def resolve(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> TemplateSource:
    """Say which template to render and what services made from it record.

    Args:
        explicit: The `--template` value, if any.
        environ: Environment to read `$KEELSON_TEMPLATE` from (default: os.environ).

    Raises:
        UsageError: The user config file is not readable.
        TemplateError: No template is available.

    """
    env = os.environ if environ is None else environ
    chosen = explicit or env.get(TEMPLATE_ENV) or _configured_template(env)
    if not chosen:
        return own_template()
    if is_remote(chosen):
        return TemplateSource(location=chosen, trusted=is_own(chosen))
    if not Path(chosen).expanduser().is_dir():
        raise UsageError(f"template {chosen} does not exist: pass a folder or a git URL")
    return _local(chosen, trusted=is_own(chosen))
