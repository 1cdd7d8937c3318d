"""Updates away from the service: a scratch clone, and what it takes to bring the result back.

`keelson update` never lets copier touch the service itself. It clones the service's
repository (its committed state, which a clean worktree guarantees is everything the
team has) into a scratch folder, copies in the small git-ignored files the template
reads (the database password files), lets copier update the clone, and then works
out exactly which paths differ from the service: files, links and modes, and the
index entries copier recorded (conflicts stay unmerged, as `git status` shows them).
`generator.transaction.commit` brings those into the service in one step.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.git import git, git_env
from generator.transaction import Change, IndexSwap

# git-ignored files the template may read or rewrite (its password files) are copied
# into the clone; folders of tools' output (node_modules, .venv) are not: only a folder
# of at most this many files, each at most this large, is copied
_IGNORED_FILES = 64
_IGNORED_BYTES = 1 << 20


@dataclass(frozen=True)
class Clone:
    """A scratch clone of a service's repository.

    Attributes:
        service: The service's folder.
        top: The top of the service's repository.
        relative: The service's folder inside its repository.
        root: The clone's top.
        copied: The git-ignored files copied in from the service (relative to `top`).
        head: The service's commit the clone starts from.

    """

    service: Path
    top: Path
    relative: Path
    root: Path
    copied: frozenset[str]
    head: str

    @property
    def project(self) -> Path:
        """The service's folder inside the clone."""
        return self.root / self.relative


def clone(service: Path, top: Path, into: Path) -> Clone:
    """Clone the committed state of `service`'s repository into `into`.

    Args:
        service: The service's folder (clean: nothing uncommitted).
        top: The top of its repository.
        into: An empty scratch folder.

    """
    relative = service.resolve().relative_to(top.resolve())
    root = into / top.name
    head = git("rev-parse", "--verify", "HEAD^{commit}", cwd=top, check=True).stdout.strip()
    # objects are borrowed from the service's repository (nothing is copied); copier
    # writes the few new ones (conflict stages) into the clone's own store
    git("clone", "--quiet", "--shared", "--no-checkout", "--", str(top), str(root),
        cwd=into, check=True)  # fmt: skip
    git("config", "gc.auto", "0", cwd=root, check=True)
    git("checkout", "--quiet", "--detach", head, cwd=root, check=True)
    copied = _copy_ignored(top, root, relative)
    return Clone(service=service, top=top, relative=relative, root=root, copied=copied, head=head)


def _copy_ignored(top: Path, root: Path, relative: Path) -> frozenset[str]:
    listed = git(
        "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
        "--", str(relative), cwd=top, check=True,
    ).stdout  # fmt: skip
    copied: set[str] = set()
    for entry in filter(None, listed.split("\0")):
        source = top / entry
        if source.is_dir() and not source.is_symlink():
            files = _small_files(source)
            if files is None:
                continue
            for file in files:
                name = str(file.relative_to(top))
                _copy_with_folders(top, root, name)
                copied.add(name)
        elif source.is_symlink() or (source.is_file() and source.stat().st_size <= _IGNORED_BYTES):
            _copy_with_folders(top, root, entry)
            copied.add(entry)
    return frozenset(copied)


def _small_files(folder: Path) -> list[Path] | None:
    files: list[Path] = []
    for path in folder.rglob("*"):
        if path.is_symlink() or path.is_file():
            files.append(path)
            if len(files) > _IGNORED_FILES or (
                not path.is_symlink() and path.stat().st_size > _IGNORED_BYTES
            ):
                return None
    return files


def _copy_with_folders(top: Path, root: Path, name: str) -> None:
    for parent in reversed(Path(name).parents):
        if str(parent) == "." or (root / parent).exists():
            continue
        (root / parent).mkdir()
        os.chmod(root / parent, stat.S_IMODE((top / parent).stat().st_mode))
    shutil.copy2(top / name, root / name, follow_symlinks=False)


def _same(a: Path, b: Path) -> bool:
    """Whether two paths hold the same thing: kind, bytes or link target, and mode."""
    a_there, b_there = os.path.lexists(a), os.path.lexists(b)
    if not (a_there and b_there):
        return a_there == b_there
    sa, sb = a.lstat(), b.lstat()
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        return False
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) == os.readlink(b)
    if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) or sa.st_size != sb.st_size:
        return False
    return a.read_bytes() == b.read_bytes()


def _files_under(root: Path, relative: Path) -> Iterator[str]:
    base = root / relative
    for folder, dirs, files in os.walk(base):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            yield str(Path(folder, name).relative_to(root))


def changes(work: Clone) -> list[Change]:
    """List the paths of the service that the update in the clone changed, with their content.

    Only paths git tracks in the service, the ignored files copied into the clone and
    paths the service does not have are considered: anything else in the service (a
    `node_modules` folder, say) is never touched.
    """
    tracked = set(
        filter(
            None,
            git("ls-files", "-z", "--", str(work.relative), cwd=work.top, check=True)
            .stdout.split("\0"),
        )
    )  # fmt: skip
    known = tracked | set(work.copied)
    candidates = known | set(_files_under(work.root, work.relative))
    # paths whose index entry changed (conflict stages) travel even with the same bytes
    indexed = unmerged(work)
    found = []
    for name in sorted(candidates):
        ours, theirs = work.top / name, work.root / name
        if name not in known and os.path.lexists(ours):
            continue  # the service's own untracked file: never replaced
        if name in indexed or not _same(ours, theirs):
            found.append(Change(path=name, source=theirs if os.path.lexists(theirs) else None))
    return found


def unmerged(work: Clone) -> set[str]:
    """Return the paths the update in the clone left unmerged (relative to `top`)."""
    listed = git("ls-files", "-z", "--unmerged", "--", str(work.relative), cwd=work.root)
    return {entry.split("\t", 1)[1] for entry in listed.stdout.split("\0") if entry}


def index_swap(work: Clone, changed: list[Change], into: Path) -> IndexSwap | None:
    """Prepare the service's index with the conflicts the update in the clone recorded.

    copier records a conflict as unmerged index entries (stages 1-3; keelson does the
    same for a dropped file the team changed); they travel with the files so that `git
    status` shows them exactly as after an update in place. Every other path keeps the
    service's own index entry: the update's changes are left unstaged, as copier leaves them.
    """
    conflicted = sorted(unmerged(work) & {change.path for change in changed})
    if not conflicted:
        return None
    git_dir = Path(git("rev-parse", "--absolute-git-dir", cwd=work.top, check=True).stdout.strip())
    target = git_dir / "index"
    _share_objects(work.root, git_dir)
    new = into / "index"
    if target.exists():
        shutil.copy2(target, new)
    staged = git("ls-files", "-z", "--stage", "--", *conflicted, cwd=work.root, check=True)
    lines = [f"0 {'0' * 40}\t{path}" for path in conflicted]
    lines += [entry for entry in staged.stdout.split("\0") if entry]
    git_env(
        "update-index", "-z", "--index-info", cwd=work.top,
        env={"GIT_INDEX_FILE": str(new)}, stdin="\0".join(lines) + "\0",
    )  # fmt: skip
    return IndexSwap(target=target, new=new)


def _share_objects(clone_root: Path, git_dir: Path) -> None:
    """Copy the clone's own loose objects (conflict stages) into the service's store.

    Objects are named by their content: adding them changes nothing anyone sees.
    """
    store = clone_root / ".git" / "objects"
    for folder in store.iterdir():
        if len(folder.name) != 2 or not folder.is_dir():
            continue
        for item in folder.iterdir():
            target = git_dir / "objects" / folder.name / item.name
            if not target.exists():
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(item, target)
