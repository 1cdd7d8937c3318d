"""`keelson catalogue validate`, `show`, and owner/tags in `list`.

Templates are local git repositories built here (a tiny copier template with
validators, and a copy of keelson's own for its real `port` validator), plus one
URL on 127.0.0.1 that nothing answers. No network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Keelson, ReleaseClone
from tests.helpers import GREETER_YML, line_of, preset_yaml
from tests.helpers import greeter as make_greeter
from tests.matrix import git

# a question asked only for some answers: `show` lists it once size is 3
SHOUT_YML = """\

shout:
  type: bool
  help: Whether to shout
  default: false
  when: "{{ size == 3 }}"
"""
UNREACHABLE = "http://127.0.0.1:9/nothing.git"


@pytest.fixture(scope="module")
def greeter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_greeter(tmp_path_factory.mktemp("greeter") / "greeter", GREETER_YML + SHOUT_YML)


def write(folder: Path, text: str) -> Path:
    path = folder / "catalogue.yml"
    path.write_text(text)
    return path


def test_validate_passes_a_sound_catalogue(keelson: Keelson, greeter: Path, tmp_path: Path) -> None:
    catalogue = write(
        tmp_path,
        "version: 1\n"
        f"templates:\n  greeter: {{url: {greeter}, ref: v1.0.0}}\n"
        "presets:\n"
        "  - {name: friendly, description: d, template: greeter, answers: {greeting: hi}}\n"
        "  - {name: big, description: d, template: greeter, answers: {size: 3, shout: true}}\n",
    )
    result = keelson("catalogue", "validate", "--catalogue", catalogue)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{catalogue}: 1 template(s) and 2 preset(s), all valid\n"
    assert result.stderr == ""


def test_validate_names_every_finding_with_file_and_line(
    keelson: Keelson, greeter: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "greeter.git"
    git(tmp_path, "clone", "-q", "--bare", str(greeter), str(bare))
    mirror = bare.as_uri()  # a git URL: listed with ls-remote, not read in place
    catalogue = write(
        tmp_path,
        "version: 1\n"
        "templates:\n"
        f"  greeter:\n    url: {greeter}\n    ref: v1.0.0\n"
        f"  future:\n    url: {greeter}\n    ref: v9.9.9\n"
        "  gone:\n    url: /nonexistent/template\n    ref: v1.0.0\n"
        f"  remote:\n    url: {UNREACHABLE}\n    ref: v1.0.0\n"
        f"  mirror:\n    url: {mirror}\n    ref: v9.9.9\n"
        f"  mirrored:\n    url: {mirror}\n    ref: v1.0.0\n"
        "presets:\n"
        + preset_yaml("typo", "greeter", greting="hi")
        + preset_yaml("shouty", "greeter", greeting="hello there, world")
        + preset_yaml("huge", "greeter", size=9)
        + preset_yaml("fine", "greeter")
        + preset_yaml("later", "future")
        + preset_yaml("far", "mirrored", size=7),
    )
    result = keelson("catalogue", "validate", "--catalogue", catalogue)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    where = f"keelson: {catalogue}"
    assert lines[:2] == [
        f"{where}:{line_of(catalogue, 'future:')}: template 'future': ref 'v9.9.9' is not a "
        f"tag, branch or commit of {greeter}",
        f"{where}:{line_of(catalogue, 'gone:')}: template 'gone': /nonexistent/template does "
        "not exist",
    ]
    # git's own words for the refused connection follow
    assert lines[2].startswith(
        f"{where}:{line_of(catalogue, 'remote:')}: template 'remote': cannot reach "
        f"{UNREACHABLE}: fatal: unable to access"
    )
    assert lines[3] == (
        f"{where}:{line_of(catalogue, 'mirror:')}: template 'mirror': ref 'v9.9.9' is not a "
        f"tag or branch of {mirror}"
    )
    assert lines[4:] == [
        f"{where}:{line_of(catalogue, 'greting:')}: preset 'typo': 'greting' is not a question "
        "of template 'greeter' at v1.0.0; it asks: greeting, size, shout",
        f"{where}:{line_of(catalogue, 'greeting: hello there')}: preset 'shouty': invalid "
        "greeting: at most 10 characters",
        f"{where}:{line_of(catalogue, 'size: 9')}: preset 'huge': invalid size: 9 is not one "
        "of: 1, 2, 3",
        # a template by git URL is read at its ref like a local one
        f"{where}:{line_of(catalogue, 'size: 7')}: preset 'far': invalid size: 7 is not one "
        "of: 1, 2, 3",
    ]


def test_validate_refuses_port_80_with_keelsons_own_validator(
    keelson: Keelson, tmp_path: Path, template_release: ReleaseClone
) -> None:
    template = template_release(tmp_path / "keelson", "v0.1.0")
    catalogue = write(
        tmp_path,
        "version: 1\n"
        f"templates:\n  keelson:\n    url: {template}\n    ref: v0.1.0\n"
        "presets:\n"
        + preset_yaml("node-api", "keelson", language="node", port=4000)
        + preset_yaml("low-port", "keelson", language="node", port=80),
    )
    result = keelson("catalogue", "validate", "--catalogue", catalogue)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"keelson: {catalogue}:{line_of(catalogue, 'port: 80')}: preset 'low-port': invalid "
        "port: must be an integer from 1024 to 65535 (got 80)"
    ]


def owned_catalogue(folder: Path, greeter: Path) -> Path:
    return write(
        folder,
        "version: 1\n"
        f"templates:\n  greeter: {{url: {greeter}, ref: v1.0.0}}\n"
        "presets:\n"
        "  - name: friendly\n    description: A friendly greeter\n    template: greeter\n"
        "    owner: team-web\n    tags: [web, small]\n"
        "    answers:\n      greeting: hi\n"
        "  - name: big\n    description: A big one\n    template: greeter\n"
        "    tags: [web]\n"
        "    answers:\n      size: 3\n"
        "  - name: plain\n    description: Nothing set\n    template: greeter\n",
    )


def test_list_shows_owner_and_tags_and_filters_by_them(
    keelson: Keelson, greeter: Path, tmp_path: Path
) -> None:
    catalogue = owned_catalogue(tmp_path, greeter)
    listed = keelson("catalogue", "list", "--catalogue", catalogue)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "NAME      TEMPLATE  VERSION  OWNER     TAGS       DESCRIPTION",
        "friendly  greeter   v1.0.0   team-web  web,small  A friendly greeter",
        "big       greeter   v1.0.0   -         web        A big one",
        "plain     greeter   v1.0.0   -         -          Nothing set",
    ]
    web = keelson("catalogue", "list", "--catalogue", catalogue, "--tag", "web")
    assert [row.split()[0] for row in web.stdout.splitlines()[1:]] == ["friendly", "big"]
    both = keelson("catalogue", "list", "--catalogue", catalogue, "--tag", "web", "--tag", "small")
    assert [row.split()[0] for row in both.stdout.splitlines()[1:]] == ["friendly"]
    owned = keelson("catalogue", "list", "--catalogue", catalogue, "--owner", "team-web", "--json")
    data = json.loads(owned.stdout)
    assert [(p["name"], p["owner"], p["tags"]) for p in data["presets"]] == [
        ("friendly", "team-web", ["web", "small"])
    ]
    nobody = keelson("catalogue", "list", "--catalogue", catalogue, "--owner", "nobody")
    assert nobody.stdout.splitlines() == ["NAME  TEMPLATE  VERSION  OWNER  TAGS  DESCRIPTION"]


def test_tags_must_be_a_list_of_words(keelson: Keelson, greeter: Path, tmp_path: Path) -> None:
    catalogue = owned_catalogue(tmp_path, greeter)
    catalogue.write_text(catalogue.read_text().replace("tags: [web]", "tags: web"))
    result = keelson("catalogue", "list", "--catalogue", catalogue)
    assert result.returncode == 2
    assert result.stderr == (
        f"keelson: {catalogue}:{line_of(catalogue, 'tags: web')}: preset 'big': tags must be "
        "a list of words\n"
    )


def test_show_gives_template_answers_and_the_questions_left(
    keelson: Keelson, greeter: Path, tmp_path: Path
) -> None:
    catalogue = owned_catalogue(tmp_path, greeter)
    shown = keelson("catalogue", "show", "friendly", "--catalogue", catalogue)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"preset: friendly ({catalogue}:{line_of(catalogue, 'name: friendly')})",
        "description: A friendly greeter",
        f"template: greeter at v1.0.0 ({greeter})",
        "owner: team-web",
        "tags: web, small",
        "answers:",
        "  greeting: hi",
        "questions left (asked; their defaults with --defaults):",
        "  size: How big (default: 1)",
    ]
    # size 3 makes `shout` a question; the preset answered size, so only shout is left
    big = keelson("catalogue", "show", "big", "--catalogue", catalogue)
    assert big.stdout.splitlines()[-3:] == [
        "questions left (asked; their defaults with --defaults):",
        "  greeting: How the README greets (default: hello)",
        "  shout: Whether to shout (default: False)",
    ]
    missing = keelson("catalogue", "show", "nope", "--catalogue", catalogue)
    assert missing.returncode == 2
    assert "has no preset 'nope'; its presets: friendly, big, plain" in missing.stderr
