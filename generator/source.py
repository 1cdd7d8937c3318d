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

One trust rule for every path (new, presets, updates): keelson's own template is
trusted; any other template that runs tasks or migrations needs `--trust`, or a
yes in a terminal.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jinja2.sandbox
import yaml

from generator.copier_config import folder_reader, load_config
from generator.errors import NotTrustedError, TemplateError, UsageError, one_line
from generator.git import git
from generator.yamlfile import load_yaml

TEMPLATE_ENV = "KEELSON_TEMPLATE"
PACKAGE = Path(__file__).resolve().parent
BUNDLE = PACKAGE / "template"
BUNDLE_SOURCE = "SOURCE.json"
CHECKOUT = PACKAGE.parent
# used only when the package metadata cannot be read (a bare checkout on sys.path)
FALLBACK_URL = "https://git.example.com/platform/keelson.git"
# the keys the user config file may hold
CONFIG_KEYS = ("template",)
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:|gh:|gl:)", re.IGNORECASE)
# host names reserved for examples (RFC 2606): a template URL on one is a placeholder
_RESERVED_HOST = re.compile(r"(^|\.)(example\.(com|org|net)|[^.]+\.(invalid|example))$")
_SCP_HOST = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):")
_DESCRIBED = re.compile(r"^(?P<tag>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]{4,40})$")
_HEX = re.compile(r"^[0-9a-f]{4,40}$")
_SHORTHANDS = (
    (re.compile(r"^gh:/?(.*\.git)$"), r"https://github.com/\1"),
    (re.compile(r"^gh:/?(.*)$"), r"https://github.com/\1.git"),
    (re.compile(r"^gl:/?(.*\.git)$"), r"https://gitlab.com/\1"),
    (re.compile(r"^gl:/?(.*)$"), r"https://gitlab.com/\1.git"),
)
PROBE_SECONDS = 15.0
"""How long a look at a remote template (`git ls-remote`) may take before keelson gives up."""


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


def is_remote(location: str) -> bool:
    """Whether a template location is a URL rather than a path on this machine."""
    return bool(_REMOTE.match(location))


def git_toplevel(path: Path) -> Path | None:
    """Return the root of the git work tree holding `path`, or None."""
    if not path.is_dir():
        return None
    # a bare repository has no work tree; git answers that in words that vary by version
    inside = git("rev-parse", "--is-inside-work-tree", cwd=path)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    top = git("rev-parse", "--show-toplevel", cwd=path)
    found = top.stdout.strip()
    return Path(found).resolve() if top.returncode == 0 and found else None


def _origin(checkout: Path) -> str | None:
    remote = git("remote", "get-url", "origin", cwd=checkout)
    url = remote.stdout.strip()
    if remote.returncode != 0 or not url:
        return None
    if is_remote(url):
        return url
    # a remote given as a relative path is relative to the checkout
    return str((checkout / url).resolve())


def _same(a: str, b: str) -> bool:
    """Whether two template locations name the same template."""
    if is_remote(a) or is_remote(b):
        return a.rstrip("/").removesuffix(".git") == b.rstrip("/").removesuffix(".git")
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def git_url(location: str) -> str:
    """Turn copier's `gh:`/`gl:` shorthands and `git+` prefixes into what git understands."""
    for pattern, replacement in _SHORTHANDS:
        if pattern.match(location):
            return pattern.sub(replacement, location)
    location = location.removeprefix("git+")
    if not is_remote(location) and Path(location).expanduser().is_dir():
        return str(Path(location).expanduser().resolve())
    return location


def is_placeholder(location: str) -> bool:
    """Whether a template URL is a placeholder no machine can reach.

    keelson's unconfigured `[project.urls] Template`, or any URL on a host name
    reserved for examples (`example.com`, `*.invalid`). Told by the value alone:
    keelson never contacts such a host.
    """
    if not is_remote(location):
        return False
    if _same(location, FALLBACK_URL):
        return True
    scp = _SCP_HOST.match(location)
    try:
        host = scp["host"] if scp else urlsplit(location).hostname
    except ValueError:
        return False
    return bool(host) and bool(_RESERVED_HOST.search(str(host).lower()))


def is_bare(path: Path) -> bool:
    """Whether a folder is a bare git repository (a mirror or a server's copy)."""
    if not path.is_dir():
        return False
    shown = git("rev-parse", "--is-bare-repository", cwd=path)
    return shown.returncode == 0 and shown.stdout.strip() == "true"


def list_refs(location: str, timeout: float = PROBE_SECONDS) -> dict[str, str] | str:
    """List a template repository's branches and tags without fetching it.

    Args:
        location: The template's git URL, or a repository on this machine.
        timeout: Seconds a remote one may take to answer.

    Returns:
        Ref name (`refs/tags/v1.0.0`) to commit; an annotated tag maps to the
        commit it points at. A string instead says why the refs cannot be listed.

    """
    if is_placeholder(location):
        return f"{location} is a placeholder, not a repository"
    listed = git("ls-remote", "--", git_url(location), cwd=Path.cwd(), timeout=timeout)
    if listed.returncode != 0:
        return one_line(listed.stderr) or f"git ls-remote exit code {listed.returncode}"
    refs: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name.removesuffix("^{}")] = sha  # the commit an annotated tag points at
        else:
            refs.setdefault(name, sha)
    return refs


def has_commit(location: str, commit: str, *, deep: bool = False) -> bool | None:
    """Whether a template repository has a version a service records (`_commit`).

    Args:
        location: The template (`_src_path`): a git URL or a repository here.
        commit: A tag, branch, commit, or `git describe` output (`v1.0.0-2-gabc1234`).
        deep: For a remote repository and a commit that is not a tag or branch
            tip: fetch its history to tell (without, the answer is None).

    Returns:
        True or False; None when it cannot be told (unreachable, or not `deep`).

    """
    local = Path(git_url(location)).expanduser()
    if not is_remote(location):
        if not local.is_dir():
            return None
        found = git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", cwd=local)
        return found.returncode == 0
    refs = list_refs(location)
    if isinstance(refs, str):
        return None
    known = _remote_has(refs, commit)
    if known is not None or not deep:
        return known
    wanted = described["hash"] if (described := _DESCRIBED.match(commit)) else commit
    with tempfile.TemporaryDirectory(prefix="keelson-history-") as tmp:
        cloned = git(
            "clone", "--quiet", "--bare", "--filter=blob:none", "--", git_url(location), tmp,
            cwd=Path(tmp), timeout=PROBE_SECONDS * 8,
        )  # fmt: skip
        if cloned.returncode != 0:
            return None
        found = git("rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}", cwd=Path(tmp))
        return found.returncode == 0


def _remote_has(refs: Mapping[str, str], commit: str) -> bool | None:
    """Tell from a repository's refs alone whether it has `commit`; None if they cannot."""
    names = {
        name.split("/", 2)[-1] for name in refs if name.startswith(("refs/tags/", "refs/heads/"))
    }
    described = _DESCRIBED.match(commit)
    if described and described["tag"] not in names:
        return False  # the version copier reads from it is one this template never had
    if commit in names:
        return True
    wanted = described["hash"] if described else commit
    if not _HEX.match(wanted):
        return False  # a tag or branch name it does not have
    return True if any(sha.startswith(wanted) for sha in refs.values()) else None


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
    return any(_same(location, own) for own in candidates if own)


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


def check_ref(location: str, ref: str, flag: str) -> None:
    """Refuse a ref that a local template repository does not have, naming its tags.

    Args:
        location: The template; a remote one is left to copier, which fetches it.
        ref: The tag, branch or commit asked for.
        flag: The option that asked for it, for the message (`--vcs-ref`, `--to`).

    Raises:
        UsageError: The repository has no such ref.

    """
    # a repository on this machine, by path or as a file:// URL (a bare one is both)
    local = urlsplit(location).path if location.startswith("file://") else location
    path = Path(local).expanduser()
    if (is_remote(local) and local == location) or not path.is_dir():
        return
    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=path).returncode == 0:
        return
    tags = git("tag", "--list", "v*", cwd=path).stdout.split()
    known = (
        f"its tags: {', '.join(tags[-5:])}"
        if tags
        else (
            "it has no release tags (only the branch is published; tags come with releases), "
            "so name a branch or a commit"
        )
    )
    raise UsageError(
        f"{flag} {ref}: no such tag, branch or commit in the template {location}; {known}"
    )


def runs_code(location: str) -> list[str]:
    """List what a local template runs on the user's machine (tasks, migrations).

    Returns:
        One line per task or migration command; empty for a remote template (its
        settings are unknown until copier fetches it) or one that runs nothing.

    """
    if is_remote(location):
        return []
    for name in ("copier.yml", "copier.yaml"):
        file = Path(location).expanduser() / name
        if file.is_file():
            break
    else:
        return []
    try:
        data = load_config(file.read_text(encoding="utf-8"), folder_reader(file.parent))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return ["(copier.yml could not be read)"]
    if not isinstance(data, Mapping):
        return []
    found: list[str] = []
    for key in ("_tasks", "_migrations"):
        for entry in data.get(key) or []:
            command = entry.get("command") if isinstance(entry, Mapping) else entry
            if isinstance(command, list):
                command = " ".join(_word(_shown(str(part), location)) for part in command)
            else:
                command = _shown(str(command), location)
            first = str(command).strip().splitlines()[0] if str(command).strip() else ""
            found.append(f"{key[1:-1]}: {first}")
    if data.get("_jinja_extensions"):
        found.append("jinja extensions: " + ", ".join(map(str, data["_jinja_extensions"])))
    return found


class _Placeholder(jinja2.Undefined):
    """An answer not known before the questions: shown as `<name>`."""

    def __str__(self) -> str:
        return f"<{self._undefined_name}>"


def _word(part: str) -> str:
    """Quote a command's argument only where a reader needs it to see the boundaries."""
    if part and not re.search(r"\s", part):
        return part
    return f"'{part}'" if "'" not in part else json.dumps(part)


def _shown(part: str, location: str) -> str:
    """Render a task's Jinja as what will run, as copier renders it.

    copier's `_copier_python` is the Python running copier (this one) and
    `_copier_conf.src_path` the template's folder; an answer, unknown before the
    questions, shows as `<name>`. A part that is not valid Jinja is shown as written.
    """
    if "{" not in part:
        return part
    env = jinja2.sandbox.SandboxedEnvironment(undefined=_Placeholder)
    context = {
        "_copier_python": sys.executable,
        "_copier_conf": {
            "src_path": str(Path(location).expanduser().resolve()),
            "answers_file": ".copier-answers.yml",
            "dst_path": ".",
        },
    }
    try:
        return env.from_string(part).render(context)
    except jinja2.TemplateError:
        return part


def confirm_trust(
    source: TemplateSource, trust: bool | None, *, interactive: bool, **prompt: Any
) -> bool:
    """Apply the one trust rule; return whether copier may run the template's code.

    Keelson's own template is trusted. Another template that runs tasks or
    migrations needs `trust=True`, or a yes to a question naming it and what it
    runs when a terminal is there to ask.

    Args:
        source: The template.
        trust: `--trust` (True), or None when not given.
        interactive: Whether a question may be asked.
        **prompt: Passed to `questionary.confirm` (e.g. `input`/`output` in tests).

    Raises:
        UsageError: Trust is needed and there is no terminal to ask.
        NotTrustedError: The user answered no.

    """
    if trust or source.trusted:
        return True
    runs = runs_code(source.location)
    if not runs:
        return False  # nothing to trust; copier itself stops a remote one that needs it
    listed = "; ".join(runs)
    if not interactive:
        raise UsageError(
            f"the template {source.shown} runs code on this machine ({listed}); "
            "rerun with --trust if you trust it"
        )
    ask_trust(source.shown, runs, **prompt)
    return True


def ask_trust(shown: str, runs: list[str] | None = None, **prompt: Any) -> None:
    """Ask, in a terminal, whether to run a template's tasks and migrations.

    Raises:
        NotTrustedError: The user answered no.

    """
    import questionary  # noqa: PLC0415 - only the interactive path needs it

    print(f"The template {shown} runs code on this machine:")
    for line in runs or ["its tasks or migrations (commands in its copier.yml)"]:
        print(f"  {line}")
    if not questionary.confirm("Trust it and run these?", default=False, **prompt).unsafe_ask():
        raise NotTrustedError(f"the template {shown} was not trusted; nothing was written")
