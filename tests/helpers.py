"""Small helpers several test files share: a tiny template, catalogue text, answers.

Unlike tests/matrix.py (plain, imported by benchmarks/ too), these may use pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.matrix import git, has_commits, release, template_history

if TYPE_CHECKING:
    from tests.conftest import Keelson, Ran

# a tiny copier template's questions: a validated string and an int with choices
GREETER_YML = """\
_templates_suffix: .jinja
_answers_file: .copier-answers.yml

greeting:
  type: str
  help: How the README greets
  default: hello
  validator: "{% if greeting | length > 10 %}at most 10 characters{% endif %}"

size:
  type: int
  help: How big
  choices: [1, 2, 3]
  default: 1
"""


def greeter(repo: Path, copier_yml: str = GREETER_YML, tag: str = "v1.0.0") -> Path:
    """A new git repository at `repo` holding a tiny template, released as `tag`.

    Its README greets with `greeting` `size` times (`hello x1`); its answers file is
    copier's own.
    """
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "copier.yml").write_text(copier_yml)
    (repo / "README.md.jinja").write_text("{{ greeting }} x{{ size }}\n")
    (repo / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml -}}\n"
    )
    release(repo, tag)
    return repo


def preset_yaml(name: str, template: str, description: str = "d", **answers: object) -> str:
    """One preset of a catalogue's `presets:` list, in block style."""
    text = f"  - name: {name}\n    description: {description}\n    template: {template}\n"
    if answers:
        text += "    answers:\n" + "".join(
            f"      {key}: {value}\n" for key, value in answers.items()
        )
    return text


def line_of(path: Path, text: str) -> int:
    """1-based number of the line of `path` that holds `text`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def answers(service: Path) -> dict[str, object]:
    """The answers a service records in `.copier-answers.yml`."""
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def succeeds(keelson: Keelson, *args: str | Path, **options: object) -> Ran:
    """Run `keelson ARGS` and fail the test with its stderr unless it exits 0."""
    ran = keelson(*args, **options)
    assert ran.returncode == 0, ran.stderr
    return ran


def new_from(
    keelson: Keelson, template: Path, ref: str, service: Path, *data: str, **options: object
) -> Ran:
    """`keelson new SERVICE` from `template` at `ref`: defaults, each of `data` as `--data`.

    Fails the test unless it succeeds; `options` go to `keelson` (`cwd`, `env`).
    """
    answers = [arg for answer in data for arg in ("--data", answer)]
    return succeeds(
        keelson, "new", service, "--template", template, "--vcs-ref", ref, "--defaults",
        *answers, "--trust", "-q", **options,
    )  # fmt: skip


def before_and_now(tmp_path_factory: pytest.TempPathFactory, before: str) -> Path:
    """The template at commit `before` released as v1.0.0, the working tree as v2.0.0.

    Skips where this clone lacks `before` (a shallow clone).
    """
    if not has_commits(before):
        pytest.skip(f"this clone lacks the commit {before} (a shallow clone?)")
    return template_history(
        tmp_path_factory.mktemp("template") / "keelson", [("v1.0.0", before), ("v2.0.0", None)]
    )
