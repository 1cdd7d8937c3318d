"""The catalogue's pins: `check` and `update` honour them, `--to` moves past them.

A tiny copier template of the tests' own, in a local git repository with release
tags v1.0.0 to v1.2.0, and a catalogue pinning it to v1.1.0: the team has tried
v1.1.0, not yet v1.2.0. Real copier, real git, no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Keelson
from tests.helpers import answers, new_from, preset_yaml, succeeds
from tests.matrix import git, release

COPIER_YML = """\
_templates_suffix: .jinja
_answers_file: .copier-answers.yml

greeting:
  type: str
  default: hello

keelson_preset:
  type: str
  default: ""
  when: "{{ keelson_preset | default('') != '' }}"
"""
CHANGELOG = """\
# Changelog

## [1.2.0] - 2026-03-01
- Shouts.

## [1.1.0] - 2026-02-01
- Waves.

## [1.0.0] - 2026-01-01
- First.
"""


def make_template(root: Path) -> Path:
    """The template at v1.0.0, v1.1.0 and v1.2.0; README.md names the version."""
    repo = root / "greeter"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "copier.yml").write_text(COPIER_YML)
    (repo / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml -}}\n"
    )
    (repo / "CHANGELOG.md").write_text(CHANGELOG)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        (repo / "README.md.jinja").write_text(f"{{{{ greeting }}}} from v{version}\n")
        release(repo, f"v{version}")
    return repo


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(template, catalogue pinning it to v1.1.0 with a preset `friendly`)."""
    monkeypatch.delenv("KEELSON_CATALOGUE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    template = make_template(tmp_path)
    catalogue = tmp_path / "catalogue.yml"
    catalogue.write_text(
        "version: 1\n"
        "templates:\n"
        "  greeter:\n"
        f"    url: {template}\n"
        "    ref: v1.1.0\n"
        "presets:\n" + preset_yaml("friendly", "greeter", "A friendly greeter", greeting="hi")
    )
    return template, catalogue


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """Where a test makes its service."""
    return tmp_path / "svc"


def check(keelson: Keelson, catalogue: Path, service: Path, code: int) -> list[str]:
    """`keelson check --catalogue` on `service`: the lines it printed, once it exited `code`."""
    checked = keelson("check", "--catalogue", catalogue, service)
    assert checked.returncode == code, checked.stdout + checked.stderr
    return checked.stdout.splitlines()


def update(keelson: Keelson, catalogue: Path, service: Path) -> object:
    """`keelson update --catalogue` on `service`: the template version it is on after."""
    succeeds(keelson, "update", "--catalogue", catalogue, "--trust", service)
    return answers(service)["_commit"]


def test_preset_pinned_behind_newest_check_passes_update_stays_to_moves_on(
    keelson: Keelson, team: tuple[Path, Path], service: Path
) -> None:
    _, catalogue = team
    succeeds(
        keelson,
        "new",
        "--catalogue",
        catalogue,
        "--preset",
        "friendly",
        "--defaults",
        "--trust",
        service,
    )
    assert answers(service)["keelson_preset"] == "friendly"
    assert answers(service)["_commit"] == "v1.1.0"

    checked = keelson("check", service, env={"KEELSON_CATALOGUE": str(catalogue)})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [
        f"{service} is up to date with template version v1.1.0 (the catalogue's pin is v1.1.0)",
        "newer than the catalogue's pin: v1.2.0; `keelson update --to v1.2.0` moves past it "
        "once the team has tried it",
    ]

    stayed = succeeds(keelson, "update", "--catalogue", catalogue, "--trust", service)
    assert stayed.stderr.splitlines() == [
        f"keelson: {service} is up to date with template version v1.1.0",
        f"keelson: v1.2.0 is out beyond the catalogue's pin v1.1.0 ({catalogue}:3); "
        "`keelson update --to v1.2.0` moves past it",
    ]
    assert (service / "README.md").read_text() == "hi from v1.1.0\n"

    succeeds(keelson, "update", "--catalogue", catalogue, "--trust", "--to", "v1.2.0", service)
    assert (service / "README.md").read_text() == "hi from v1.2.0\n"
    # the provenance survives copier's update
    assert answers(service)["keelson_preset"] == "friendly"
    assert answers(service)["_commit"] == "v1.2.0"
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "template v1.2.0")
    assert check(keelson, catalogue, service, 0) == [
        f"{service} is up to date with template version v1.2.0 (the catalogue's pin is v1.1.0)"
    ]
    # past the pin, a plain update never takes the service back
    assert update(keelson, catalogue, service) == "v1.2.0"


def test_service_behind_its_pin_is_behind_and_update_goes_to_the_pin(
    keelson: Keelson, team: tuple[Path, Path], service: Path
) -> None:
    _, catalogue = team
    succeeds(
        keelson, "new", "--catalogue", catalogue, "--preset", "friendly", "--defaults", "--trust",
        "--vcs-ref", "v1.0.0", service,
    )  # fmt: skip
    assert check(keelson, catalogue, service, 1) == [
        f"{service} is on template version v1.0.0; the catalogue pins v1.1.0 "
        "(1 release behind: v1.1.0)",
        "newer than the catalogue's pin: v1.2.0; `keelson update --to v1.2.0` moves past it "
        "once the team has tried it",
        "",
        "## [1.1.0] - 2026-02-01",
        "- Waves.",
        "",
        f"run `keelson update --trust {service}` to update, then review and commit",
    ]
    assert update(keelson, catalogue, service) == "v1.1.0"
    assert (service / "README.md").read_text() == "hi from v1.1.0\n"

    # without a catalogue, the newest release is the target, as before
    unpinned = keelson("check", service)
    assert unpinned.returncode == 1
    assert unpinned.stdout.splitlines()[0] == (
        f"{service} is on template version v1.1.0; the newest is v1.2.0 (1 release behind: v1.2.0)"
    )


def test_service_without_preset_is_pinned_by_its_template(
    keelson: Keelson, team: tuple[Path, Path], service: Path
) -> None:
    template, catalogue = team
    new_from(keelson, template, "v1.0.0", service)
    assert "keelson_preset" not in answers(service)
    assert check(keelson, catalogue, service, 1)[0] == (
        f"{service} is on template version v1.0.0; the catalogue pins v1.1.0 "
        "(1 release behind: v1.1.0)"
    )
    assert update(keelson, catalogue, service) == "v1.1.0"


def test_an_existing_service_takes_a_preset_name_with_update_data(
    keelson: Keelson, team: tuple[Path, Path], service: Path
) -> None:
    template, catalogue = team
    new_from(keelson, template, "v1.1.0", service)
    succeeds(
        keelson, "update", "--catalogue", catalogue, "--trust", "--data", "keelson_preset=friendly",
        service,
    )  # fmt: skip
    assert answers(service)["keelson_preset"] == "friendly"
    assert answers(service)["_commit"] == "v1.1.0"  # at the pin: the version stays
