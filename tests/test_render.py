"""Every language x database combination renders a complete service."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from generator import packs
from tests.conftest import Render
from tests.matrix import MATRIX, MATRIX_IDS, ROOT, SPEC

PACKS = packs.load_all(ROOT, SPEC.choices("language"))

COMMON = [
    "Dockerfile",
    ".dockerignore",
    "compose.yaml",
    "README.md",
    ".gitignore",
    ".copier-answers.yml",
    "k8s/base/kustomization.yaml",
    "k8s/base/deployment.yaml",
    "k8s/base/service.yaml",
    "k8s/base/serviceaccount.yaml",
    "k8s/base/hpa.yaml",
    "k8s/base/pdb.yaml",
    "k8s/base/networkpolicy.yaml",
    "k8s/overlays/dev/kustomization.yaml",
    "k8s/overlays/prod/kustomization.yaml",
    "k8s/checkov/skips/kustomization.yaml",
    "k8s/checkov/dev/kustomization.yaml",
    "k8s/checkov/prod/kustomization.yaml",
]
DB_FILES = [
    "k8s/overlays/dev/database/statefulset.yaml",
    "k8s/overlays/dev/database/service.yaml",
    "k8s/overlays/dev/database/networkpolicy.yaml",
    ".secrets/db_password",
    "k8s/overlays/dev/secrets/db-password",
]


@pytest.mark.parametrize("combo", MATRIX, ids=MATRIX_IDS)
def test_combination_renders_complete_service(rendered: Render, combo: dict[str, str]) -> None:
    root = rendered(**combo)
    pack = PACKS[combo["language"]]
    # every file the pack names unconditionally is there, under its rendered name
    own = [f.removesuffix(".jinja") for f in pack.own_files() if "{%" not in f]
    assert own, f"the {pack.language} pack has no files of its own"
    for rel in COMMON + own:
        assert (root / rel).exists(), rel
    # and no file of another language: each pack is self-contained
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
        for other in PACKS.values():
            if other is not pack:
                assert not other.owns(rel), f"{other.language}'s {rel} in a {pack.language} service"
    for rel in DB_FILES:
        assert (root / rel).exists() == (combo["database"] != "none"), rel
    # nothing is left unrendered
    for path in root.rglob("*"):
        assert not path.name.endswith(".jinja"), path
        if path.is_file() and path.suffix in {".yaml", ".yml", ".json", ".md", ".toml", ".txt"}:
            # GitHub's own expressions, `${{ github.ref }}`, are not Jinja left unrendered
            text = re.sub(r"\$\{\{.*?\}\}", "", path.read_text(encoding="utf-8"))
            assert "{{" not in text or path.name == "README.md", path


def test_database_password_is_random_and_shared(rendered: Render, tmp_path: Path) -> None:
    first = rendered(language="go", database="postgresql")
    second = rendered(language="node", database="postgresql")
    password = (first / ".secrets/db_password").read_text().strip()
    assert len(password) >= 24
    assert (first / "k8s/overlays/dev/secrets/db-password").read_text().strip() == password
    assert (second / ".secrets/db_password").read_text().strip() != password
    assert "password" not in (first / "compose.yaml").read_text().lower().replace(
        "db_password", ""
    ).replace("password_file", "")
    ignored = (first / ".gitignore").read_text().splitlines()
    assert ".secrets/" in ignored and "k8s/overlays/dev/secrets/" in ignored


NASTY = 'Say "hi": #1 \\ {{ not jinja }} ünïcødé ✓ 😀 - second part: {% raw %} $HOME'


@pytest.mark.parametrize("language", PACKS)
def test_nasty_description_survives_every_format(rendered: Render, language: str) -> None:
    root = rendered(language=language, database="redis", description=NASTY)
    answers = yaml.safe_load((root / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["description"] == NASTY
    # every manifest parses, and one that has a description has the answer's
    for path in root.glob("*.json"):
        description = json.loads(path.read_text(encoding="utf-8")).get("description")
        assert description in (None, NASTY), path
    for path in root.glob("*.toml"):
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
        assert meta.get("project", {}).get("description") in (None, NASTY), path
    dockerfile = (root / "Dockerfile").read_text(encoding="utf-8")
    label = next(line for line in dockerfile.splitlines() if "image.description" in line)
    assert "\\$HOME" in label and '\\"hi\\"' in label
    for rel in ["compose.yaml", *(str(p.relative_to(root)) for p in root.glob("k8s/**/*.yaml"))]:
        list(yaml.safe_load_all((root / rel).read_text(encoding="utf-8")))


def test_answers_file_records_template_and_answers(rendered: Render) -> None:
    root = rendered(language="go", database="mariadb", port=9000)
    answers = yaml.safe_load((root / ".copier-answers.yml").read_text())
    assert answers["_src_path"]
    assert answers["_commit"]
    assert (answers["language"], answers["database"], answers["port"]) == ("go", "mariadb", 9000)
    assert answers["mariadb_version"] == "11.8"
    others = [p.version_question for name, p in PACKS.items() if name != answers["language"]]
    assert others and not set(others) & set(answers)


def test_ingress_only_with_host(rendered: Render) -> None:
    without = rendered(language="python", database="none")
    assert not (without / "k8s/base/ingress.yaml").exists()
    with_host = rendered(language="python", database="none", ingress_host="api.example.com")
    ingress = yaml.safe_load((with_host / "k8s/base/ingress.yaml").read_text())
    assert ingress["spec"]["rules"][0]["host"] == "api.example.com"
    kustomization = yaml.safe_load((with_host / "k8s/base/kustomization.yaml").read_text())
    assert "ingress.yaml" in kustomization["resources"]


def test_every_language_choice_is_one_pack() -> None:
    """A language is a `copier.yml` choice plus one folder, and nothing else."""
    folders = {path.parent.name for path in (ROOT / "templates").glob(f"*/{packs.PACK_FILE}")}
    assert folders == set(SPEC.choices("language"))
    for pack in PACKS.values():
        # the pack's files name only its own language's sources
        for rel in pack.own_files():
            rendered_name = rel.removesuffix(".jinja")
            for other in PACKS.values():
                if other is not pack:
                    assert not other.owns(rendered_name), f"{pack.language} pack has {rel}"
