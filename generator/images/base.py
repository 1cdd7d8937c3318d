"""The Debian trixie base every stand-in builds on, made with ``debootstrap``.

It holds what the official ``debian:trixie-slim`` holds (debuerreotype's apt and
dpkg settings, no documentation), plus the updates and security fixes published
since the release.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from generator.docker import build, docker_command, run, run_docker
from generator.errors import StandInError
from generator.images.labels import (
    RECIPE_LABEL,
    RUNTIME_LABEL,
    STANDIN_LABEL,
    VERSION_LABEL,
)

__all__ = [
    "BASE_IMAGE",
    "DEBIAN_RELEASE",
    "MIRROR",
    "SECURITY_MIRROR",
    "SUITE",
    "build_base",
    "is_stale",
    "recipe_digest",
]

BASE_IMAGE = "keelson-standin/debian:trixie"
"""The shared Debian base every stand-in is built from."""
SUITE = "trixie"
DEBIAN_RELEASE = "13"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"

Log = Callable[[str], None]

# what debuerreotype puts in the official debian images' /etc/apt and /etc/dpkg,
# so that apt inside a stand-in behaves like apt inside debian:trixie-slim
_APT_FILES = {
    "etc/apt/apt.conf.d/docker-autoremove-suggests": (
        'Apt::AutoRemove::SuggestsImportant "false";\n'
    ),
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
    "etc/dpkg/dpkg.cfg.d/docker": (
        "# slim: no documentation, manuals or translations (as debian:*-slim)\n"
        "path-exclude /usr/share/doc/*\n"
        "path-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/groff/*\n"
        "path-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/linda/*\n"
        "path-exclude /usr/share/lintian/overrides/*\n"
        "path-exclude /usr/share/locale/*\n"
        "path-exclude /usr/share/man/*\n"
    ),
    # services must not start while packages install in a build
    "usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
    "etc/apt/sources.list.d/debian.sources": (
        "Types: deb\n"
        f"URIs: {MIRROR}\n"
        f"Suites: {SUITE} {SUITE}-updates\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        f"URIs: {SECURITY_MIRROR}\n"
        f"Suites: {SUITE}-security\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    ),
}


def _remove_tree_contents(path: Path, keep: Callable[[Path], bool] = lambda _p: False) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if keep(child):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _slim_rootfs(rootfs: Path) -> None:
    """Turn a debootstrap tree into what the official slim image holds."""
    for rel, content in _APT_FILES.items():
        target = rootfs / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    (rootfs / "usr/sbin/policy-rc.d").chmod(0o755)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    # docker mounts its own; the host's must not leak into the image
    (rootfs / "etc/resolv.conf").unlink(missing_ok=True)
    (rootfs / "etc/hostname").write_text("", encoding="utf-8")
    _remove_tree_contents(
        rootfs / "var/lib/apt/lists", keep=lambda p: p.name in {"partial", "lock"}
    )
    _remove_tree_contents(rootfs / "var/cache/apt", keep=lambda p: p.name == "archives")
    _remove_tree_contents(
        rootfs / "var/cache/apt/archives", keep=lambda p: p.name in {"partial", "lock"}
    )
    _remove_tree_contents(rootfs / "var/log", keep=lambda p: p.is_dir())
    _remove_tree_contents(rootfs / "usr/share/man")
    _remove_tree_contents(rootfs / "usr/share/info")
    _remove_tree_contents(rootfs / "usr/share/groff")
    _remove_tree_contents(rootfs / "usr/share/lintian/overrides")
    _remove_tree_contents(rootfs / "usr/share/locale")
    for doc in (rootfs / "usr/share/doc").glob("*"):
        if doc.is_dir() and not doc.is_symlink():
            _remove_tree_contents(doc, keep=lambda p: p.name == "copyright")


def _find_debootstrap() -> str:
    for candidate in (shutil.which("debootstrap"), "/usr/sbin/debootstrap"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StandInError(
        "debootstrap is needed to build the Debian base of the stand-ins: "
        "`apt-get install -y debootstrap`"
    )


def recipe_digest(folders: Sequence[Path]) -> str:
    """Digest of what a stand-in is built from: the base recipe and its folders' files.

    Only content counts (each file's name and bytes, not the folder's place), so a
    recipe moved to another folder keeps its digest and its built images.

    Args:
        folders: The recipe's `folders` (none for the Debian base itself).

    """
    digest = hashlib.sha256()
    digest.update(f"{SUITE} {MIRROR} {SECURITY_MIRROR}\n".encode())
    for rel, content in sorted(_APT_FILES.items()):
        digest.update(f"{rel}\0{content}\0".encode())
    for folder in folders:
        if folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_file():
                    digest.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def is_stale(labels: dict[str, str], folders: Sequence[Path]) -> bool:
    """Tell whether labels mark a keelson stand-in built from an older recipe."""
    if labels.get(STANDIN_LABEL) != "1":
        return False
    return labels.get(RECIPE_LABEL) != recipe_digest(folders)


def build_base(log: Log) -> str:
    """Build `BASE_IMAGE` with debootstrap; return the Debian point release inside."""
    debootstrap = _find_debootstrap()
    if os.geteuid() != 0:
        raise StandInError(
            f"building {BASE_IMAGE} runs debootstrap, which needs root: run as root, "
            "or build it once with `sudo keelson verify --standins build`"
        )
    rootfs_tag = f"{BASE_IMAGE}-rootfs"
    with tempfile.TemporaryDirectory(prefix="keelson-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"{BASE_IMAGE}: debootstrap --variant=minbase {SUITE} from {MIRROR}")
        run(
            [debootstrap, "--variant=minbase", "--components=main", SUITE, str(rootfs), MIRROR],
            what=f"debootstrap {SUITE}",
            error=StandInError,
        )
        _slim_rootfs(rootfs)
        release = (rootfs / "etc/debian_version").read_text(encoding="utf-8").strip()
        log(f"{BASE_IMAGE}: importing Debian {release}")
        import_cmd = [docker_command(), "import", "--change", 'CMD ["bash"]', "-", rootfs_tag]
        with subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
            stdout=subprocess.PIPE,
        ) as tar:
            run(
                import_cmd,
                what=f"docker import {BASE_IMAGE}",
                error=StandInError,
                stdin=tar.stdout.fileno() if tar.stdout else None,
            )
            if tar.wait() != 0:
                raise StandInError(f"packing the {SUITE} root file system failed")
    # debootstrap takes the release only; the official image also carries the
    # updates and security fixes published since
    log(f"{BASE_IMAGE}: applying {SUITE}-updates and {SUITE}-security")
    build(
        "-",
        tag=BASE_IMAGE,
        options=["--quiet"],
        labels={
            STANDIN_LABEL: "1",
            RUNTIME_LABEL: "debian",
            VERSION_LABEL: release,
            RECIPE_LABEL: recipe_digest(()),
        },
        dockerfile_text=(
            f"FROM {rootfs_tag}\n"
            "RUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*\n"
        ),
        what=f"updating {BASE_IMAGE}",
        error=StandInError,
        timeout=None,
    )
    run_docker("rmi", rootfs_tag, what=f"removing {rootfs_tag}", error=StandInError, timeout=None)
    return release
