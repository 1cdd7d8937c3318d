"""A language is one folder: a copied pack under a new name is a fourth language.

In a temporary copy of the template, templates/go is copied to templates/gox and only
what must be renamed inside the new folder is renamed (its `language` value and its
own questions). With no other edit, gox is a `keelson new` choice, a row of the render
matrix, a service whose images all have stand-ins (the copy's own rows in the plan), a
row of every benchmark table, and a language `keelson adopt` detects from the (trusted)
template.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator import packs
from generator.adopt.detection import adoptions
from generator.errors import TemplateError
from generator.images import required_images, standin_supported
from generator.images.base import recipe_digest
from generator.images.recipes import families, recipe_for
from generator.template import TemplateSpec
from tests.conftest import Keelson
from tests.matrix import ROOT, combinations, copy_template, git

NEW = "gox"
FROM = "go"


def copy_pack(template: Path, source: str, name: str, *, relabel: bool = True) -> Path:
    """Copy a pack to a new name, renaming inside the new folder only."""
    target = template / "templates" / name
    shutil.copytree(template / "templates" / source, target, symlinks=True)
    pack = packs.load(template, source)
    own = re.compile(rf"\b{source}_(?=\w)")  # its questions: go_version, go_module, go_main
    for path in target.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        text = own.sub(f"{name}_", text).replace(f"templates/{source}/", f"templates/{name}/")
        text = text.replace(f"language == '{source}'", f"language == '{name}'")
        if path.name == packs.CHOICE_FILE:
            text = re.sub(rf"^{source}$", name, text, flags=re.MULTILINE)
        if relabel and path.name == packs.PACK_FILE:  # its name in the `language` question
            text = text.replace(f"label = '{pack.label}'", f"label = '{pack.label}x'")
        path.write_text(text, encoding="utf-8")
    suffix = pack.version_question.removeprefix(f"{source}_")
    assert packs.load(template, name).version_question == f"{name}_{suffix}"
    return target


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_template(tmp_path_factory.mktemp("fourth") / "keelson")
    copy_pack(root, FROM, NEW)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a fourth language")
    return root


def test_the_new_pack_is_a_choice_and_a_matrix_row(template: Path) -> None:
    assert NEW in packs.languages(template)
    assert NEW not in packs.languages(ROOT)
    rows = combinations(template)
    assert {"language": NEW, "database": "none"} in rows
    assert len(rows) == len(combinations(ROOT)) + len(
        [c for c in combinations(ROOT) if c["language"] == FROM]
    )


def test_a_pack_under_another_packs_label_is_refused(tmp_path: Path) -> None:
    root = copy_template(tmp_path / "keelson")
    copy_pack(root, FROM, NEW, relabel=False)
    with pytest.raises(TemplateError, match=rf"label '{packs.load(ROOT, FROM).label}' is "):
        packs.discover(root)


@pytest.mark.parametrize(
    ("text", "said"),
    [("- repo: a\n  repo: b\n", "line 2: duplicate key 'repo'"),
     ("- repo: [a\n", "line 2: invalid YAML"),
     ("repo: a\n", "must be a list of image rows")],
    ids=["duplicate-key", "syntax", "not-a-list"],
)  # fmt: skip
def test_a_broken_standin_images_file_is_one_line_naming_where(
    tmp_path: Path, text: str, said: str
) -> None:
    folder = tmp_path / "templates" / NEW / "standins"
    folder.mkdir(parents=True)
    (folder / "images.yml").write_text(text)
    with pytest.raises(TemplateError) as raised:
        packs.standin_images(tmp_path, NEW)
    assert str(raised.value).startswith(f"{folder / 'images.yml'}: "), raised.value
    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_keelson_new_makes_a_service_of_it_with_stand_ins_for_its_images(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    service = tmp_path / "svc"
    made = keelson(
        "new", service, "--template", template, "--defaults", "--trust", "-q",
        "--data", f"language={NEW}", "--data", "database=none", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["language"] == NEW
    own = TemplateSpec.load(template).questions[f"{NEW}_version"]
    assert answers[f"{NEW}_version"] == own.default and own.choices
    assert answers["port"] == packs.load(template, NEW).default_port
    images = required_images(service)
    assert images and all(standin_supported(image, template) for image in images), images
    # the stand-in plan reads every pack's standins/images.yml, the copy's too: its rows
    # follow the original's, and its builder context has the original's digest
    folder, rows = packs.standin_images(template, NEW)
    assert rows == packs.standin_images(ROOT, FROM)[1]
    repos = [family.repo for family in families(template)]
    assert all(repos.count(row["repo"]) == 2 for row in rows), repos
    for image in images:
        recipe = recipe_for(image, template)
        if recipe.context is not None and recipe.context.is_relative_to(template / "templates"):
            copied = recipe_digest((folder / recipe.kind,))
            assert copied == recipe_digest(recipe_for(image).folders), image


def test_every_benchmark_table_has_a_row_for_it(template: Path) -> None:
    # the benchmarks run from the copy, so their tables come from the copy's packs
    shutil.copytree(ROOT / "benchmarks", template / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (template / "tests").mkdir()
    for name in ("tests/__init__.py", "tests/matrix.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, template / name)
    shutil.copytree(ROOT / "generator", template / "generator", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    probe = (
        "import benchmarks.compare_images as c, benchmarks.floor as f, benchmarks.images as i;"
        "import json; print(json.dumps([list(c.LANGUAGES), list(f.PACKS), list(i.PACKS)]))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=template, capture_output=True, text=True,
        check=False, env={**os.environ, "PYTHONPATH": str(template)},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert [NEW in table for table in json.loads(shown.stdout)] == [True] * 3, shown.stdout


def test_adopt_detects_it_from_a_trusted_template(template: Path) -> None:
    spec = TemplateSpec.load(template)
    found = adoptions(spec, trusted=True)
    assert NEW in found, sorted(found)
    copied, original = found[NEW], found[FROM]
    assert copied.markers == original.markers
    assert copied.pack.default_port == original.pack.default_port
    assert (
        copied.pack.version_question
        == f"{NEW}_{original.pack.version_question.removeprefix(FROM + '_')}"
    )
    # an untrusted template's detection code is not run: its new pack is not detected
    assert NEW not in adoptions(spec, trusted=False)
