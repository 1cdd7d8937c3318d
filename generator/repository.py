"""Template repositories by location: is it remote, what git calls it, what it holds.

One rule tells a URL from a path on this machine (`is_remote`), one a placeholder
no machine can reach (`is_placeholder`); the rest asks git about a repository's refs
and commits without fetching it where it can (`list_refs`, `has_commit`, `check_ref`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from generator.errors import UsageError, one_line
from generator.git import git

# keelson's unconfigured `[project.urls] Template`, a placeholder; also the canonical URL
# when the package metadata cannot be read (a bare checkout on sys.path)
FALLBACK_URL = "https://git.example.com/platform/keelson.git"
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:|gh:|gl:)", re.IGNORECASE)
# host names reserved for examples (RFC 2606): a template URL on one is a placeholder
_RESERVED_HOST = re.compile(r"(^|\.)(example\.(com|org|net)|[^.]+\.(invalid|example))$")
_SCP_HOST = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):")
# `git describe --tags` output for a commit past a tag: v1.2.0-3-g1a2b3c4
DESCRIBED = re.compile(r"^(?P<tag>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]{4,40})$")
_HEX = re.compile(r"^[0-9a-f]{4,40}$")
_SHORTHANDS = (
    (re.compile(r"^gh:/?(.*\.git)$"), r"https://github.com/\1"),
    (re.compile(r"^gh:/?(.*)$"), r"https://github.com/\1.git"),
    (re.compile(r"^gl:/?(.*\.git)$"), r"https://gitlab.com/\1"),
    (re.compile(r"^gl:/?(.*)$"), r"https://gitlab.com/\1.git"),
)
PROBE_SECONDS = 15.0
"""How long a look at a remote template (`git ls-remote`) may take before keelson gives up."""


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


def same_template(a: str, b: str) -> bool:
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
    if same_template(location, FALLBACK_URL):
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
    wanted = described["hash"] if (described := DESCRIBED.match(commit)) else commit
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
    described = DESCRIBED.match(commit)
    if described and described["tag"] not in names:
        return False  # the version copier reads from it is one this template never had
    if commit in names:
        return True
    wanted = described["hash"] if described else commit
    if not _HEX.match(wanted):
        return False  # a tag or branch name it does not have
    return True if any(sha.startswith(wanted) for sha in refs.values()) else None


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
