"""Adopt reads each language's markers, port, databases and detection from its pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import packs
from generator.adopt import detect
from generator.adopt.detection import adoptions
from generator.errors import TemplateError
from generator.template import TemplateSpec
from tests.adopt.helpers import copy_fixture
from tests.matrix import ROOT, SPEC, copy_template


def test_every_offered_language_has_its_adopt_facts_in_its_pack() -> None:
    found = adoptions(SPEC, trusted=True)
    assert list(found) == list(SPEC.questions["language"].choices)
    for language, adoption in found.items():
        assert adoption.code.__file__ == str(ROOT / "templates" / language / packs.DETECT_FILE)
        assert adoption.markers
        assert adoption.pack.version_question in SPEC.questions


@pytest.fixture
def edited_template(tmp_path: Path) -> Path:
    """A copy of the template whose Node.js pack proposes port 4321 and knows `knex`."""
    template = copy_template(tmp_path / "template")
    pack = template / "templates" / "node"
    facts = (pack / packs.PACK_FILE).read_text(encoding="utf-8")
    facts = facts.replace("'ioredis': 'redis',", "'ioredis': 'redis',\n    'knex': 'mariadb',")
    (pack / packs.PACK_FILE).write_text(facts, encoding="utf-8")
    code = (pack / packs.DETECT_FILE).read_text(encoding="utf-8")
    code += "\n\n_detect = detect\n\n\ndef detect(detection, spec, adoption):\n"
    code += '    detection.propose("port", 4321, "the edited pack")\n'
    code += "    _detect(detection, spec, adoption)\n"
    (pack / packs.DETECT_FILE).write_text(code, encoding="utf-8")
    return template


def test_a_trusted_template_detects_with_its_own_packs(
    edited_template: Path, tmp_path: Path
) -> None:
    project = copy_fixture("node-main", tmp_path / "project")
    package = (project / "package.json").read_text(encoding="utf-8")
    (project / "package.json").write_text(
        package.replace('"dependencies": {', '"dependencies": {\n    "knex": "3.1.0",'),
        encoding="utf-8",
    )
    spec = TemplateSpec.load(edited_template)
    found = detect(project, {}, spec, trusted=True)
    assert (found.answers["port"], found.evidence["port"]) == (4321, "the edited pack")
    assert found.answers["database"] == "mariadb"
    # another template's detect.py is code: without trust, keelson's own packs detect
    untrusted = detect(project, {}, spec)
    assert untrusted.evidence["port"] != "the edited pack"
    assert untrusted.answers["database"] == "none"


def test_a_pack_whose_detection_does_not_load_is_named(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    (template / "templates" / "go" / packs.DETECT_FILE).write_text("def detect(:\n")
    with pytest.raises(TemplateError, match=r"templates/go/detect\.py"):
        packs.adoption(template, "go")


def test_a_pack_without_detection_is_not_adopted(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    (template / "templates" / "go" / packs.DETECT_FILE).unlink()
    assert packs.adoption(template, "go") is None
