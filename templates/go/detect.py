"""keelson adopt's Go detection: module, version, main package, port and database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from generator.adopt.findings import (
    Detection,
    DetectionError,
    at_least,
    pick_version,
    read_text,
    release,
    slug,
)
from generator.packs import Adoption
from generator.template import TemplateSpec

_GO_PORT = (
    re.compile(r"\"(?:0\.0\.0\.0|127\.0\.0\.1|localhost)?:(\d{2,5})\""),
    re.compile(r"Getenv\(\"PORT\"\)[\s\S]{0,120}?\"(\d{4,5})\""),
)


def _go_version(detection: Detection, gomod: str, spec: TemplateSpec) -> None:
    wanted = [m[1] for m in re.finditer(r"^go\s+(\d+\.\d+)", gomod, re.M)]
    wanted += [m[1] for m in re.finditer(r"^toolchain\s+go(\d+\.\d+)", gomod, re.M)]
    if not wanted:
        detection.propose("go_version", spec.questions["go_version"].default, "default")
        return
    need = max(wanted, key=release)
    version = pick_version(spec, "go_version", at_least(need), "go.mod", f"Go {need}")
    detection.propose("go_version", version, f"go.mod (go {need})")


def _go_main(detection: Detection, texts: Mapping[Path, str]) -> None:
    root = detection.root
    mains = sorted(
        {
            "./" + str(path.parent.relative_to(root)) if path.parent != root else "."
            for path, text in texts.items()
            if re.search(r"^package\s+main\b", text, re.M)
        }
    )
    if "go_main" in detection.answers:
        return
    if len(mains) == 1:
        detection.propose("go_main", mains[0], f"package main in {mains[0]}")
    elif not mains:
        raise DetectionError(
            f"{root} has no package main: pass --data go_main=./cmd/<name> (the package to build)"
        )
    else:
        options = " or ".join(f"--data go_main={m}" for m in mains[:4])
        raise DetectionError(f"{root} has several main packages: pass {options}")


def detect(detection: Detection, spec: TemplateSpec, adoption: Adoption) -> None:
    """Propose a Go module's answers."""
    root = detection.root
    gomod = read_text(root / "go.mod")
    module = re.search(r"^module\s+(\S+)", gomod, re.M)
    if module is None:
        raise DetectionError(f"{root / 'go.mod'} has no module line")
    module_path = module[1].strip('"')
    detection.propose("go_module", module_path, "go.mod module")
    if name := slug(module_path):
        detection.propose("project_name", name, "go.mod module")
    if "go_version" not in detection.answers:
        _go_version(detection, gomod, spec)
    detection.propose("package_manager", "go", "go.mod")
    texts = {
        path: read_text(path)
        for path in detection.files(root, (".go",))
        if "_test" not in path.name
    }
    _go_main(detection, texts)
    detection.propose("start_command", [], "the binary itself")
    requires = {
        m[1]: "go.mod"
        for m in re.finditer(r"^\s*(?:require\s+)?([\w.\-]+/[\w./\-]+)\s+v", gomod, re.M)
    }
    detection.propose_database(requires, adoption.databases)
    main_dir = (root / str(detection.answers["go_main"])).resolve()
    in_main = [p for p in texts if p.parent.resolve() == main_dir]
    detection.propose_port(texts, in_main, _GO_PORT, adoption.pack.default_port)
    detection.propose_health(texts)
