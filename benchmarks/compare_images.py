"""keelson's images side by side with the docker-init pattern, and with their physical limit.

Usage: .venv/bin/python benchmarks/compare_images.py [--only python,node] [--runs 3]

For each language (database none) it renders one service and builds it twice from the
same sources in the same run: with the service's own Dockerfile (keelson) and with
the reference Dockerfile in templates/<language>/bench/ (the single-stage pattern `docker
init` writes: cache and bind mounts, a non-root user, `pip install -r
requirements.txt` / `npm ci --omit=dev` on the official image). It prints one table:

- size: the image's size as the engine reports it (`docker image inspect .Size`);
- limit: what the service needs to run, measured in each image's own files (the
  exported file system, ELF headers read on the host); the table shows the smaller
  of the two measurements, the lines below it both, with what lies beyond:
  Python and Node: the interpreter binary, every shared library it and its
  extension modules link (DT_NEEDED, resolved like ld.so does, transitively), the
  standard library (Python), the production dependencies (Python: the files pip
  recorded for each package in requirements.txt; Node: node_modules) and the
  service's code; Python bytecode is a start-up cache and counts as beyond it;
  Go: the binary (and any library it links), the CA bundle, tzdata, passwd, group;
- cold: every RUN step runs again while BuildKit's cache mounts (pip's, npm's
  and Go's download and build caches) stay warm, as on a developer's machine
  (benchmarks/cold.py: not `--no-cache`, which empties the cache mounts too);
- warm: rebuild after a one-line source change;
- dep: rebuild after adding one dependency to requirements.txt / package.json +
  lock / go.mod + go.sum + an import, from the original sources each time; its
  download is primed once beforehand so that the figure measures the rebuild, not
  the network;
- start: from `docker run` to the first 200 from GET /healthz;
  cold and dep are medians of --runs rounds; warm and start of three times as
  many when every sample takes under 5 s (one such sample is mostly noise);
  keelson and reference built one right after the other and their order swapped
  every round, so noise from a shared machine hits both; every sample is printed
  below the table;
- idle mem: the container's memory 3 s after that (docker stats).
Ratios are keelson / reference. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cold import cold_args, cold_dockerfile  # noqa: E402
from generator import (  # noqa: E402
    ensure_images,
    packs,
    required_images,
)
from generator.docker import build as docker_build  # noqa: E402
from generator.docker import docker  # noqa: E402
from generator.images import dockerfile_bases  # noqa: E402
from generator.verify import free_port, image_size, request, wait_for  # noqa: E402
from tests.matrix import render  # noqa: E402

# every language comes from its pack: the source file to edit and its comment leader,
# the code folders, the version build argument, the dependency the "dep" column adds
# and the reference Dockerfile (templates/<language>/bench/reference.Dockerfile)
PACKS = packs.discover(ROOT)
LANGUAGES = tuple(PACKS)
# a figure whose samples all take under QUICK_SECONDS (warm rebuilds and starts,
# mostly) is mostly noise in one sample: QUICK_ROUNDS times --runs of them
QUICK_ROUNDS = 3
QUICK_SECONDS = 5.0


def build(project: Path, tag: str, dockerfile: Path, args: dict[str, str], *extra: str) -> float:
    """Build with BuildKit through the docker CLI; return the wall time."""
    took, _log = docker_build(
        project,
        tag=tag,
        dockerfile=dockerfile,
        build_args=args,
        options=["--quiet", *extra],
        timeout=None,
    )
    return took


# --- the physical limit, read from the image's own files --------------------------


class Tree:
    """The regular files and symlinks of an image's exported file system."""

    def __init__(self, archive: Path) -> None:
        self.archive = tarfile.open(archive)  # noqa: SIM115 - closed by close()
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in self.archive.getmembers():
            self.members[member.name.lstrip("./").rstrip("/")] = member

    def close(self) -> None:
        self.archive.close()

    def resolve(self, path: str, depth: int = 0) -> str | None:
        """Resolve symlinks (in every component) inside the tree; None if absent."""
        parts = [p for p in PurePosixPath("/" + path).parts[1:] if p not in {"", "."}]
        current: list[str] = []
        for index, part in enumerate(parts):
            if part == "..":
                if current:
                    current.pop()
                continue
            current.append(part)
            name = "/".join(current)
            member = self.members.get(name)
            if member is None:
                return None
            if member.issym() and depth < 40:
                target = member.linkname
                base = "" if target.startswith("/") else "/".join(current[:-1])
                rest = "/".join(parts[index + 1 :])
                joined = "/".join(p for p in (base, target.lstrip("/"), rest) if p)
                return self.resolve(joined, depth + 1)
        return "/".join(current)

    def size(self, path: str) -> int:
        member = self.members.get(path)
        return member.size if member is not None and member.isfile() else 0

    def read(self, path: str) -> bytes:
        member = self.members.get(path)
        if member is None or not member.isfile():
            return b""
        handle = self.archive.extractfile(member)
        return handle.read() if handle else b""

    def files_under(self, prefix: str, skip: Callable[[str], bool] = lambda _p: False) -> set[str]:
        """Regular files below a directory (itself resolved), minus skipped paths."""
        real = self.resolve(prefix)
        if real is None:
            return set()
        return {
            name
            for name, m in self.members.items()
            if (m.isfile() or m.islnk()) and name.startswith(real + "/") and not skip(name)
        }

    def which(self, command: str, path_env: str) -> str | None:
        for folder in path_env.split(":"):
            found = self.resolve(f"{folder.strip('/')}/{command}")
            if found and self.members[found].isfile():
                return found
        return None


def _elf_needs(data: bytes) -> tuple[str | None, list[str], list[str]]:
    """Return (PT_INTERP, DT_NEEDED names, RPATH/RUNPATH entries) of a 64-bit LE ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None, [], []
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    interp = None
    dynamic: tuple[int, int] | None = None
    loads: list[tuple[int, int, int]] = []
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 3:
            interp = data[p_offset : p_offset + p_filesz].rstrip(b"\0").decode()
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
        elif p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
    if dynamic is None:
        return interp, [], []
    entries: list[tuple[int, int]] = []
    for off in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        entries.append((tag, val))
    strtab = next((v for t, v in entries if t == 5), None)
    if strtab is None:
        return interp, [], []
    strtab_off = next((o + strtab - v for v, o, s in loads if v <= strtab < v + s), strtab)

    def string(offset: int) -> str:
        start = strtab_off + offset
        return data[start : data.index(b"\0", start)].decode()

    needed = [string(v) for t, v in entries if t == 1]
    paths = [p for t, v in entries if t in {15, 29} for p in string(v).split(":") if p]
    return interp, needed, paths


_LIB_DIRS = (
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "lib64",
    "usr/lib64",
    "lib",
    "usr/lib",
    "usr/local/lib",
)


def linked_libraries(tree: Tree, binaries: Iterable[str]) -> set[str]:
    """Every shared object the binaries load (transitively), as real paths in the tree."""
    found: set[str] = set()
    todo = list(binaries)
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        interp, needed, rpaths = _elf_needs(tree.read(path))
        origin = str(PurePosixPath(path).parent)
        dirs = [p.replace("$ORIGIN", "/" + origin).lstrip("/") for p in rpaths] + list(_LIB_DIRS)
        names = [interp.lstrip("/")] if interp else []
        for lib in needed:
            names += [f"{d}/{lib}" for d in dirs if tree.resolve(f"{d}/{lib}")][:1]
        for name in names:
            real = tree.resolve(name)
            if real and real not in found:
                found.add(real)
                todo.append(real)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _python_limit(tree: Tree, env: dict[str, str], project: Path) -> dict[str, set[str]]:
    interpreter = tree.which("python3", env.get("PATH", "")) or ""
    stdlib_os = next(
        (n for n in tree.members if re.fullmatch(r"(usr/(local/)?)?lib/python3\.\d+/os\.py", n)),
        "",
    )
    stdlib = str(PurePosixPath(stdlib_os).parent)
    skip = re.compile(r"/(site-packages|dist-packages|__pycache__)/")
    stdlib_files = tree.files_under(stdlib, lambda n: bool(skip.search(n)))
    wanted = {
        _normal(line.split("==")[0].strip())
        for line in (project / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    deps: set[str] = set()
    for name in list(tree.members):
        m = re.fullmatch(r"(.*)/([^/]+)-[^-/]+\.dist-info/RECORD", name)
        if not m or _normal(m.group(2)) not in wanted:
            continue
        for row in tree.read(name).decode().splitlines():
            rel = row.rsplit(",", 2)[0]
            real = tree.resolve(f"{m.group(1)}/{rel}")
            # bytecode is a start-up cache, not something the service needs
            if real and "/__pycache__/" not in real and not real.endswith(".pyc"):
                deps.add(real)
    extensions = {n for n in stdlib_files | deps if n.endswith(".so")}
    libs = linked_libraries(tree, [interpreter, *extensions]) - stdlib_files - deps
    return {"interpreter": {interpreter}, "libraries": libs, "stdlib": stdlib_files, "deps": deps}


def _node_limit(
    tree: Tree, env: dict[str, str], entrypoint: list[str], workdir: str
) -> dict[str, set[str]]:
    search = env.get("PATH", "") + ":/nodejs/bin"
    candidates = [tree.resolve(entrypoint[0])] if entrypoint else []
    node = next((c for c in candidates if c and c.endswith("/node")), None)
    node = node or tree.which("node", search) or ""
    deps = tree.files_under(f"{workdir.strip('/')}/node_modules")
    addons = {n for n in deps if n.endswith(".node")}
    libs = linked_libraries(tree, [node, *addons]) - deps
    return {"interpreter": {node}, "libraries": libs, "deps": deps}


def _go_limit(tree: Tree, entrypoint: list[str]) -> dict[str, set[str]]:
    binary = tree.resolve(entrypoint[0]) or ""
    data = {
        tree.resolve(p) or ""
        for p in ("etc/ssl/certs/ca-certificates.crt", "etc/passwd", "etc/group")
    }
    data |= tree.files_under("usr/share/zoneinfo")
    return {"binary": {binary}, "libraries": linked_libraries(tree, [binary]), "data": data - {""}}


def runtime_parts(
    pack: packs.Pack,
    tree: Tree,
    env: dict[str, str],
    *,
    entrypoint: list[str],
    workdir: str,
    project: Path,
) -> dict[str, set[str]]:
    """List the files the runtime needs, by part, as the pack's `runtime_kind` lays them out."""
    if pack.runtime_kind == "cpython":
        return _python_limit(tree, env, project)
    if pack.runtime_kind == "nodejs":
        return _node_limit(tree, env, entrypoint, workdir)
    if pack.runtime_kind == "static":
        return _go_limit(tree, entrypoint)
    raise SystemExit(
        f"{pack.root / 'pack.jinja'}: runtime_kind {pack.runtime_kind!r} is not cpython, "
        "nodejs or static; teach benchmarks/compare_images.py the new layout"
    )


def physical_limit(image: str, language: str, project: Path) -> tuple[int, str]:
    """Return the limit in bytes and how it splits, measured in the image's files."""
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    entrypoint = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    container = docker("create", image, "/none").strip()
    with tempfile.TemporaryDirectory(prefix="keelson-limit-") as tmp:
        archive = Path(tmp) / "rootfs.tar"
        try:
            docker("export", "--output", str(archive), container, timeout=600)
        finally:
            docker("rm", "--force", container, check=False)
        tree = Tree(archive)
        try:
            workdir = config.get("WorkingDir") or "/"
            parts = runtime_parts(
                PACKS[language], tree, env, entrypoint=entrypoint, workdir=workdir, project=project
            )
            sizes = {k: sum(tree.size(p) for p in v) for k, v in parts.items()}
            extra = _beyond_limit(tree, set().union(*parts.values()))
        finally:
            tree.close()
    code = sum(
        f.stat().st_size
        for d in PACKS[language].source_paths
        for f in (project / d).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    )
    if PACKS[language].source_paths:
        sizes["code"] = code
    detail = " + ".join(f"{k} {v / 1e6:.1f}" for k, v in sizes.items())
    top = sorted(extra.items(), key=lambda item: -item[1])[:6]
    detail += "; beyond it: " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in top)
    return sum(sizes.values()), detail


# where the files beyond the limit are, in words
_GROUPS = (
    (re.compile(r"usr/lib/[^/]+/gconv/"), "glibc gconv modules"),
    (re.compile(r"usr/share/(doc|man|info|locale|lintian)/"), "docs"),
    (re.compile(r"usr/share/zoneinfo/"), "tzdata"),
    (re.compile(r"(^|/)__pycache__/|\.pyc$"), "bytecode"),
    (re.compile(r"(usr/)?lib/[^/]+/[^/]+\.so[.\d]*$"), "unlinked libraries"),
    (re.compile(r"(usr/)?(s?bin)/"), "other programs"),
    (re.compile(r"(^|/)node_modules/"), "node_modules outside the app"),
)


def _beyond_limit(tree: Tree, counted: set[str]) -> dict[str, int]:
    """Bytes of the files outside the limit, grouped (the rest by top folders)."""
    groups: dict[str, int] = {}
    for name, member in tree.members.items():
        if not member.isfile() or name in counted:
            continue
        label = next((g for rx, g in _GROUPS if rx.search(name)), None)
        label = label or "/".join(name.split("/")[:2])
        groups[label] = groups.get(label, 0) + member.size
    return groups


# --- running the image ------------------------------------------------------------


def start_to_healthy(image: str, port: int) -> float:
    """Seconds from `docker run` to the first 200 from /healthz."""
    host_port = free_port()
    name = f"keelson-bench-run-{host_port}"
    start = time.monotonic()
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{host_port}:{port}", image)
    try:
        took = wait_for(
            lambda: (
                request(f"http://127.0.0.1:{host_port}", "GET", "/healthz", timeout=1).status == 200
            ),
            60,
            0.02,
        )
        if took is None:
            raise SystemExit(f"{image}: no 200 from /healthz within 60 s")
        return time.monotonic() - start
    finally:
        docker("rm", "--force", name, check=False)


def idle_memory(image: str, port: int) -> float:
    """MiB the container uses 3 s after it first answered."""
    host_port = free_port()
    name = f"keelson-bench-mem-{host_port}"
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{host_port}:{port}", image)
    try:
        wait_for(
            lambda: request(f"http://127.0.0.1:{host_port}", "GET", "/healthz").status == 200, 60
        )
        time.sleep(3)
        usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0]
        m = re.match(r"\s*([\d.]+)\s*([KMG]i?B)", usage)
        if not m:
            return float("nan")
        factor = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1 / 1048.576, "MB": 1 / 1.048576}
        return float(m.group(1)) * factor.get(m.group(2), 1)
    finally:
        docker("rm", "--force", name, check=False)


# --- source edits ----------------------------------------------------------------


def add_dependency(project: Path, language: str, nonce: str) -> None:
    """Add one dependency to the service's manifest (and lock), marked with a nonce.

    The commands are the pack's `bench_dependency`.
    """
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    for command in PACKS[language].bench_dependency:
        argv = [part.replace("{nonce}", nonce) for part in command]
        subprocess.run(argv, cwd=project, check=True, capture_output=True, env=env)


@dataclass
class Variant:
    """One of the two images of a language."""

    label: str
    dockerfile: Path
    args: dict[str, str]
    tag: str
    figures: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    detail: str = ""


def snapshot(project: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}


def restore(project: Path, saved: dict[Path, bytes]) -> None:
    for path in [p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts]:
        if path not in saved:
            path.unlink()
    for path, content in saved.items():
        if path.read_bytes() != content:
            path.write_bytes(content)


def build_timings(
    project: Path,
    language: str,
    variants: list[Variant],
    original: dict[Path, bytes],
    *,
    runs: int,
    log: Callable[[str], None],
) -> None:
    """Cold, warm and dependency-change builds, each variant right after the other."""
    log(f"{language}: priming caches")
    for v in variants:
        build(project, v.tag, v.dockerfile, v.args)
    log(f"{language}: cold builds")
    cold: dict[str, list[float]] = {v.label: [] for v in variants}
    cold_files = {v.label: cold_dockerfile(v.dockerfile, project.parent / "cold") for v in variants}
    for n in range(runs):
        for v in interleaved(variants, n):
            seconds = build(project, v.tag, cold_files[v.label], {**v.args, **cold_args()})
            cold[v.label].append(seconds)
    log(f"{language}: warm rebuilds")
    warm: dict[str, list[float]] = {v.label: [] for v in variants}
    # edits unique to this run: an edit an earlier run built would be a cache hit
    run_id = uuid.uuid4().hex[:12]
    n = 0
    while n < rounds(runs, warm):
        with (project / PACKS[language].edit_file).open("a") as source:
            source.write(f"{PACKS[language].line_comment} benchmark edit {run_id}-{n}\n")
        for v in interleaved(variants, n):
            warm[v.label].append(build(project, v.tag, v.dockerfile, v.args))
        n += 1
    log(f"{language}: dependency change")
    dep: dict[str, list[float]] = {v.label: [] for v in variants}
    # each time from the original sources with a new nonce, so nothing is a cache
    # hit; the first round is untimed, so that the download itself is cached
    for n in range(-1, runs):
        restore(project, original)
        add_dependency(project, language, f"benchmark dependency {run_id} {n}")
        for v in interleaved(variants, n):
            seconds = build(project, v.tag, v.dockerfile, v.args)
            if n >= 0:
                dep[v.label].append(seconds)
    restore(project, original)
    for v in variants:
        build(project, v.tag, v.dockerfile, v.args)
        for key, samples in (("cold", cold), ("warm", warm), ("dep", dep)):
            v.figures[key] = statistics.median(samples[v.label])
            v.samples[key] = samples[v.label]


def rounds(runs: int, samples: dict[str, list[float]]) -> int:
    """How many rounds a figure takes: --runs, or QUICK_ROUNDS times that while
    every sample so far (the first round decides) came in under QUICK_SECONDS."""
    taken = [s for per_variant in samples.values() for s in per_variant]
    if taken and max(taken) >= QUICK_SECONDS:
        return runs
    return runs * QUICK_ROUNDS


def interleaved(variants: list[Variant], n: int) -> list[Variant]:
    """The variants in turn, the order swapped every round: noise that drifts
    (another build on the shared engine, a warming page cache) then hits both."""
    return variants if n % 2 == 0 else variants[::-1]


def measure(language: str, workdir: Path, runs: int, log: Callable[[str], None]) -> list[Variant]:
    answers = {"language": language, "database": "none"}
    project = render(workdir / f"bench-{language}", **answers)
    saved_answers = (project / ".copier-answers.yml").read_text()
    version = re.search(rf"{language}_version: '?([\d.]+)", saved_answers)
    port = int(re.search(r"port: (\d+)", saved_answers).group(1))  # type: ignore[union-attr]
    reference = PACKS[language].bench / "reference.Dockerfile"
    args = {"PORT": str(port)}
    if version:
        args[PACKS[language].version_arg] = version.group(1)
    variants = [
        Variant("keelson", project / "Dockerfile", {}, f"keelson-bench/{language}-keelson:latest"),
        Variant("reference", reference, args, f"keelson-bench/{language}-reference:latest"),
    ]
    images = required_images(project)
    images += [i for i in dockerfile_bases(reference.read_text()) if i not in images]
    ensure_images(images, log=log)
    original = snapshot(project)
    try:
        build_timings(project, language, variants, original, runs=runs, log=log)
        log(f"{language}: sizes and limits")
        for v in variants:
            v.figures["size"] = image_size(v.tag) / 1e6
            limit, v.detail = physical_limit(v.tag, language, project)
            v.figures["limit"] = limit / 1e6
        # one limit per language: the smaller measurement (the reference's Go
        # binary, for one, keeps its symbol tables)
        least = min(v.figures["limit"] for v in variants)
        for v in variants:
            v.figures["own limit"] = v.figures["limit"]
            v.figures["limit"] = least
        log(f"{language}: start and memory")
        starts: dict[str, list[float]] = {v.label: [] for v in variants}
        n = 0
        while n < rounds(runs, starts):
            for v in interleaved(variants, n):
                starts[v.label].append(start_to_healthy(v.tag, port))
            n += 1
        for v in variants:
            v.figures["start"] = statistics.median(starts[v.label])
            v.samples["start"] = starts[v.label]
            v.figures["mem"] = idle_memory(v.tag, port)
    finally:
        restore(project, original)
    return variants


COLUMNS = [
    ("size", "size MB", "{:.1f}"),
    ("limit", "limit MB", "{:.1f}"),
    ("size/limit", "size/limit", "{:.3f}"),
    ("cold", "cold s", "{:.1f}"),
    ("warm", "warm s", "{:.2f}"),
    ("dep", "dep s", "{:.1f}"),
    ("start", "start s", "{:.2f}"),
    ("mem", "idle MiB", "{:.1f}"),
]


def table(results: dict[str, list[Variant]]) -> str:
    header = ["language", "image", *(title for _k, title, _f in COLUMNS)]
    rows = [header, ["---"] * len(header)]
    for language, (ours, ref) in results.items():
        for v in (ours, ref):
            v.figures["size/limit"] = v.figures["size"] / v.figures["limit"]
            rows.append([language, v.label, *(fmt.format(v.figures[k]) for k, _t, fmt in COLUMNS)])
        ratio = [
            "-" if k in {"limit", "size/limit"} else f"{ours.figures[k] / ref.figures[k]:.2f}"
            for k, _t, _f in COLUMNS
        ]
        rows.append([language, "ratio", *ratio])
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    for language, variants in results.items():
        for v in variants:
            own = v.figures["own limit"]
            lines.append(f"limit measured in {language} {v.label}: {own:.1f} MB = {v.detail}")
    lines.append("")
    lines.append("every timed sample (s), keelson / reference, in the order run; the ratio of")
    lines.append("each pair and their median, which the table's ratio should agree with:")
    for language, (ours, ref) in results.items():
        for key in ("cold", "warm", "dep", "start"):
            pairs = list(zip(ours.samples[key], ref.samples[key], strict=True))
            shown = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in pairs)
            paired = statistics.median(a / b for a, b in pairs)
            lines.append(f"{language} {key}: {shown}; paired ratio median {paired:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated languages")
    parser.add_argument("--runs", type=int, default=3, help="rounds of cold, warm, dep and start")
    args = parser.parse_args()
    wanted = [lang for lang in LANGUAGES if not args.only or lang in args.only.split(",")]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict[str, list[Variant]] = {}
    with tempfile.TemporaryDirectory(prefix="keelson-bench-") as tmp:
        try:
            for language in wanted:
                results[language] = measure(language, Path(tmp), args.runs, log)
        finally:
            for language in wanted:
                for label in ("keelson", "reference"):
                    docker(
                        "rmi", "--force", f"keelson-bench/{language}-{label}:latest", check=False
                    )
    print(table(results))


if __name__ == "__main__":
    main()
