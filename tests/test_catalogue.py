"""The team catalogue: schema validation, discovery, `catalogue list` and `new --preset`.

Templates are local git repositories built here: a copy of the keelson template and
a tiny copier template of the tests' own, so that a catalogue naming "any copier
template" is exercised too. No network.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from generator.catalogue import (
    choose_preset,
    config_path,
    find_catalogue,
    load_catalogue,
    parse_catalogue,
)
from generator.errors import CatalogueError
from tests.conftest import Keelson, Terminal
from tests.helpers import answers, greeter, line_of, preset_yaml
from tests.matrix import ROOT, clone_release, release


@dataclass(frozen=True)
class Templates:
    other: Path
    keelson: Path


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> Templates:
    """A small copier template at v1.0.0 and v2.0.0, and keelson's at v0.1.0."""
    other = greeter(tmp_path_factory.mktemp("other") / "greeter")
    (other / "README.md.jinja").write_text("v2: {{ greeting }} x{{ size }}\n")
    release(other, "v2.0.0")

    own = clone_release(released_template, tmp_path_factory.mktemp("keelson") / "keelson", "v0.1.0")
    return Templates(other=other, keelson=own)


def write_catalogue(folder: Path, templates: Templates, presets: str = "") -> Path:
    """A catalogue in `folder` naming both templates (the small one by relative path)."""
    relative = os.path.relpath(templates.other, folder)
    path = folder / "catalogue.yml"
    path.write_text(
        "version: 1\n"
        "templates:\n"
        "  greeter:\n"
        f"    url: {relative}\n"
        "    ref: v1.0.0\n"
        "  keelson:\n"
        f"    url: {templates.keelson}\n"
        "    ref: v0.1.0\n"
        "presets:\n"
        + preset_yaml("friendly", "greeter", "A friendly greeter", greeting="hi")
        + preset_yaml(
            "node-postgres",
            "keelson",
            "Node.js API with PostgreSQL",
            language="node",
            database="postgresql",
            port=4000,
        )
        + presets
    )
    return path


# --- the schema ---------------------------------------------------------------

VALID_HEAD = (
    "version: 1\ntemplates:\n  t:\n    url: https://git.example.invalid/t.git\n    ref: v1\n"
)
BAD_CATALOGUES = [
    # (id, text, line, message fragment)
    # PyYAML points one line past the end here; the message names the last line
    ("malformed-yaml", VALID_HEAD + "presets: [\n  {name: a,\n", 7, "invalid YAML"),
    ("tab-indent", "version: 1\ntemplates:\n\t t: {}\n", 3, "invalid YAML"),
    ("not-a-mapping", "- version: 1\n", 1, "the catalogue must be a mapping"),
    ("unknown-top-key", VALID_HEAD + "presets: []\nextras: 1\n", 7, "unknown key 'extras'"),
    ("missing-presets", VALID_HEAD, 1, "missing required key 'presets'"),
    ("missing-version", "templates: {}\npresets: []\n", 1, "missing required key 'version'"),
    (
        "wrong-version",
        VALID_HEAD.replace("version: 1", "version: 2") + "presets: []\n",
        1,
        "version 2",
    ),
    (
        "template-missing-ref",
        "version: 1\ntemplates:\n  t:\n    url: x\npresets: []\n",
        4,
        "template 't': missing required key 'ref'",
    ),
    (
        "template-unknown-key",
        VALID_HEAD + "    branch: main\npresets: []\n",
        6,
        "template 't': unknown key 'branch'; allowed keys: url, ref",
    ),
    ("no-templates", "version: 1\ntemplates: {}\npresets: []\n", 2, "at least one template"),
    ("presets-not-list", VALID_HEAD + "presets:\n  a: 1\n", 7, "presets must be a list"),
    (
        "preset-missing-field",
        VALID_HEAD + "presets:\n  - name: a\n    template: t\n",
        7,
        "presets[0]: missing required key 'description'",
    ),
    (
        "preset-unknown-key",
        VALID_HEAD
        + "presets:\n  - name: a\n    description: d\n    template: t\n    anwsers: {}\n",
        10,
        "presets[0]: unknown key 'anwsers'",
    ),
    (
        "unknown-template",
        VALID_HEAD + "presets:\n  - name: a\n    description: d\n    template: nope\n",
        9,
        "preset 'a': unknown template 'nope'; the catalogue's templates: t",
    ),
    (
        "duplicate-preset",
        VALID_HEAD
        + "presets:\n  - {name: a, description: d, template: t}\n"
        + "  - {name: b, description: d, template: t}\n"
        + "  - {name: a, description: e, template: t}\n",
        9,
        "duplicate preset name 'a' (first on line 7)",
    ),
    (
        "duplicate-key",
        VALID_HEAD + "presets:\n  - name: a\n    name: b\n    description: d\n    template: t\n",
        8,
        "duplicate key 'name' (first on line 7)",
    ),
    (
        "answers-not-mapping",
        VALID_HEAD + "presets:\n  - {name: a, description: d, template: t, answers: [x]}\n",
        7,
        "preset 'a': answers must be a mapping",
    ),
    (
        "bad-preset-name",
        VALID_HEAD + "presets:\n  - {name: My Preset, description: d, template: t}\n",
        7,
        "preset 'My Preset': names use lowercase",
    ),
    (
        "empty-description",
        VALID_HEAD + 'presets:\n  - {name: a, description: "", template: t}\n',
        7,
        "description must be a non-empty string",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [c[1:] for c in BAD_CATALOGUES],
    ids=[c[0] for c in BAD_CATALOGUES],
)
def test_invalid_catalogue_names_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "team/catalogue.yml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"team/catalogue.yml:{line}: "), message
    assert fragment in message


def test_empty_catalogue() -> None:
    with pytest.raises(CatalogueError, match=r"^c\.yml: the catalogue is empty$"):
        parse_catalogue("# nothing yet\n", "c.yml")


def test_valid_catalogue_keeps_answers_and_resolves_local_paths(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "templates:\n"
        "  local: {url: ../tpl, ref: abc1234}\n"
        "  remote: {url: 'gh:acme/keelson', ref: v0.1.0}\n"
        "presets:\n"
        "  - name: api\n"
        "    description: >\n"
        "      An API\n"
        "      service\n"
        "    template: remote\n"
        "    answers: {port: 8080, ingress_host: '', flag: true}\n"
    )
    catalogue = parse_catalogue(text, "c.yml", tmp_path / "team")
    assert catalogue.templates["local"].url == str(tmp_path / "tpl")
    assert catalogue.templates["local"].is_local
    assert catalogue.templates["remote"].url == "gh:acme/keelson"
    assert not catalogue.templates["remote"].is_local
    preset = catalogue.preset("api")
    assert preset.description == "An API service"
    assert dict(preset.answers) == {"port": 8080, "ingress_host": "", "flag": True}
    assert preset.answer_lines == {"port": 11, "ingress_host": 11, "flag": 11}
    with pytest.raises(CatalogueError, match="has no preset 'apii'; its presets: api"):
        catalogue.preset("apii")


def test_scp_style_urls_of_any_user_are_remote_as_keelson_new_reads_them(tmp_path: Path) -> None:
    # git's `user@host:path` form is not only `git@`: a catalogue must not turn
    # `deploy@git.internal:platform/keelson.git` into a folder beside it
    text = (
        "version: 1\n"
        "templates:\n"
        "  scp: {url: 'deploy@git.internal:platform/keelson.git', ref: v1.0.0}\n"
        "presets:\n"
        "  - {name: api, description: An API, template: scp, answers: {}}\n"
        "services:\n"
        "  - {url: 'ci@git.internal:team/orders.git'}\n"
    )
    catalogue = parse_catalogue(text, "c.yml", tmp_path / "team")
    assert catalogue.templates["scp"].url == "deploy@git.internal:platform/keelson.git"
    assert not catalogue.templates["scp"].is_local
    assert [s.url for s in catalogue.services] == ["ci@git.internal:team/orders.git"]


def test_example_catalogue_is_valid_and_listed(keelson: Keelson) -> None:
    listed = keelson("catalogue", "list", "--catalogue", "catalogue.example.yml")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0].split() == ["NAME", "TEMPLATE", "VERSION", "DESCRIPTION"]
    example = yaml.safe_load((ROOT / "catalogue.example.yml").read_text())
    assert len(rows) == 1 + len(example["presets"])
    for row, preset in zip(rows[1:], example["presets"], strict=True):
        ref = example["templates"][preset["template"]]["ref"]
        assert row.split()[:3] == [preset["name"], preset["template"], ref]
        assert row.endswith(preset["description"])
    as_json = json.loads(
        keelson("catalogue", "list", "--json", "--catalogue", "catalogue.example.yml").stdout
    )
    assert [p["name"] for p in as_json["presets"]] == [p["name"] for p in example["presets"]]
    assert as_json["presets"][0]["answers"] == example["presets"][0]["answers"]


def test_example_catalogue_answers_are_keelson_questions() -> None:
    from generator.template import TemplateSpec

    spec = TemplateSpec.load(ROOT)
    catalogue = load_catalogue(str(ROOT / "catalogue.example.yml"))
    for preset in catalogue.presets:
        if preset.template.name == "keelson":
            assert set(preset.answers) <= set(spec.questions), preset.name
            for key, value in preset.answers.items():
                if spec.questions[key].choices:
                    assert str(value) in spec.questions[key].choices, (preset.name, key)


# --- discovery ---------------------------------------------------------------


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    xdg = tmp_path / "xdg"
    assert find_catalogue(None, {}) is None
    fallback = home / ".config" / "keelson" / "catalogue.yml"
    assert config_path({}) == fallback
    fallback.parent.mkdir(parents=True)
    fallback.write_text("version: 1\n")
    assert find_catalogue(None, {}) == str(fallback)
    # XDG_CONFIG_HOME replaces ~/.config (and a relative one is ignored, as the spec says)
    assert find_catalogue(None, {"XDG_CONFIG_HOME": str(xdg)}) is None
    assert find_catalogue(None, {"XDG_CONFIG_HOME": "relative"}) == str(fallback)
    (xdg / "keelson").mkdir(parents=True)
    (xdg / "keelson" / "catalogue.yml").write_text("version: 1\n")
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert find_catalogue(None, env) == str(xdg / "keelson" / "catalogue.yml")
    env["KEELSON_CATALOGUE"] = "https://example.invalid/catalogue.yml"
    assert find_catalogue(None, env) == "https://example.invalid/catalogue.yml"
    assert find_catalogue("mine.yml", env) == "mine.yml"


def test_cli_finds_catalogue_from_env_and_config_dir(
    keelson: Keelson, templates: Templates, tmp_path: Path
) -> None:
    team = tmp_path / "team"
    team.mkdir()
    catalogue = write_catalogue(team, templates)
    xdg = tmp_path / "xdg"
    no_catalogue = keelson("catalogue", "list", env={"XDG_CONFIG_HOME": str(xdg)})
    assert no_catalogue.returncode == 2
    assert "no catalogue: pass --catalogue PATH|URL, set $KEELSON_CATALOGUE" in no_catalogue.stderr
    assert str(xdg / "keelson" / "catalogue.yml") in no_catalogue.stderr

    by_env = keelson(
        "catalogue", "list", env={"XDG_CONFIG_HOME": str(xdg), "KEELSON_CATALOGUE": str(catalogue)}
    )
    assert by_env.returncode == 0, by_env.stderr
    assert [row.split()[0] for row in by_env.stdout.splitlines()] == [
        "NAME",
        "friendly",
        "node-postgres",
    ]
    (xdg / "keelson").mkdir(parents=True)
    shutil.copy2(catalogue, xdg / "keelson" / "catalogue.yml")
    # relative template paths are relative to the catalogue file, wherever it is
    (xdg / "keelson" / "catalogue.yml").write_text(
        catalogue.read_text().replace(
            f"url: {os.path.relpath(templates.other, team)}", f"url: {templates.other}"
        )
    )
    by_config = keelson("catalogue", "list", "--json", env={"XDG_CONFIG_HOME": str(xdg)})
    assert by_config.returncode == 0, by_config.stderr
    listed = json.loads(by_config.stdout)
    assert listed["templates"]["greeter"] == {"url": str(templates.other), "ref": "v1.0.0"}
    missing = keelson("catalogue", "list", env={"KEELSON_CATALOGUE": str(tmp_path / "nope.yml")})
    assert missing.returncode == 2
    assert f"catalogue {tmp_path / 'nope.yml'} does not exist" in missing.stderr


# --- new --preset ------------------------------------------------------------


def test_preset_of_another_template_renders_at_pinned_ref(
    keelson: Keelson, templates: Templates, tmp_path: Path
) -> None:
    catalogue = write_catalogue(tmp_path, templates)
    dest = tmp_path / "out" / "greeter"
    result = keelson(
        "new", "--catalogue", str(catalogue), "--preset", "friendly", "--defaults", str(dest)
    )
    assert result.returncode == 0, result.stderr
    # v1.0.0, not the newest tag v2.0.0; the preset's answer, the default for the rest
    assert (dest / "README.md").read_text() == "hi x1\n"
    recorded = answers(dest)
    assert recorded["_commit"] == "v1.0.0" and recorded["greeting"] == "hi"

    overridden = tmp_path / "out" / "loud"
    result = keelson(
        "new",
        "--catalogue",
        str(catalogue),
        "--preset",
        "friendly",
        "--defaults",
        "--data",
        "greeting=HEY",
        "--data",
        "size=3",
        str(overridden),
    )
    assert result.returncode == 0, result.stderr
    assert (overridden / "README.md").read_text() == "HEY x3\n"


def test_preset_of_keelson_template(keelson: Keelson, templates: Templates, tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path, templates)
    dest = tmp_path / "orders"
    result = keelson(
        "new",
        "--catalogue",
        str(catalogue),
        "--preset",
        "node-postgres",
        "--defaults",
        "--trust",
        "-q",
        str(dest),
    )
    assert result.returncode == 0, result.stderr
    recorded = answers(dest)
    assert recorded["_commit"] == "v0.1.0"
    assert recorded["keelson_preset"] == "node-postgres"  # what `check` reads the pin by
    assert (recorded["language"], recorded["database"], recorded["port"]) == (
        "node",
        "postgresql",
        4000,
    )
    assert recorded["project_name"] == "orders"
    assert (dest / "package.json").is_file()
    assert (dest / "k8s" / "overlays" / "dev" / "database" / "statefulset.yaml").is_file()
    assert '"127.0.0.1:${APP_PORT:-4000}:4000"' in (dest / "compose.yaml").read_text()


class BadPreset(NamedTuple):
    id: str
    extra: str  # presets appended to the catalogue
    preset: str
    args: tuple[str, ...]
    fragment: str
    line_of: str | None = None  # the catalogue text whose line the message names


BAD_PRESETS = [
    BadPreset(
        "unknown-preset",
        "",
        "friendlyy",
        (),
        "has no preset 'friendlyy'; its presets: friendly, node-postgres",
    ),
    BadPreset(
        "missing-template",
        "  - {name: lost, description: d, template: gone}\n",
        "lost",
        (),
        "preset 'lost': unknown template 'gone'",
        "name: lost",
    ),
    BadPreset(
        "not-a-question",
        "  - name: typo\n    description: d\n    template: greeter\n"
        "    answers:\n      greting: hi\n",
        "typo",
        (),
        "preset 'typo': 'greting' is not a question of template 'greeter' at v1.0.0; "
        "it asks: greeting, size",
        "greting:",
    ),
    BadPreset(
        "validator-rejects",
        "  - name: shouty\n    description: d\n    template: greeter\n"
        "    answers:\n      greeting: hello there, world\n",
        "shouty",
        (),
        "preset 'shouty': invalid greeting: at most 10 characters",
        "greeting: hello there",
    ),
    BadPreset(
        "choice-rejects",
        "  - name: huge\n    description: d\n    template: greeter\n    answers:\n      size: 9\n",
        "huge",
        (),
        "preset 'huge': invalid size: 9 is not one of: 1, 2, 3",
        "size: 9",
    ),
    BadPreset(
        "with-template-flag",
        "",
        "friendly",
        ("--template", "/somewhere"),
        "--preset names its template; drop --template",
    ),
    BadPreset(
        "unknown-ref",
        "",
        "friendly",
        ("--vcs-ref", "v9.9.9"),
        "template 'greeter': ref 'v9.9.9' is not a tag, branch or commit of",
        "greeter:",
    ),
]


@pytest.mark.parametrize("case", BAD_PRESETS, ids=[c.id for c in BAD_PRESETS])
def test_bad_preset_is_one_line_exit_2_and_writes_nothing(
    keelson: Keelson, templates: Templates, tmp_path: Path, case: BadPreset
) -> None:
    team = tmp_path / "team"
    team.mkdir()
    catalogue = write_catalogue(team, templates, case.extra)
    out = tmp_path / "out"
    out.mkdir()
    result = keelson(
        "new", "--catalogue", str(catalogue), "--preset", case.preset, "--defaults", *case.args,
        "svc", cwd=out,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert case.fragment in lines[0]
    if case.line_of is not None:
        assert lines[0].startswith(f"keelson: {catalogue}:{line_of(catalogue, case.line_of)}: ")
    assert list(out.iterdir()) == []


def test_missing_local_template_names_its_line(
    keelson: Keelson, templates: Templates, tmp_path: Path
) -> None:
    catalogue = write_catalogue(tmp_path, templates)
    catalogue.write_text(catalogue.read_text().replace(str(templates.keelson), "/nonexistent/tpl"))
    result = keelson(
        "new", "--catalogue", str(catalogue), "--preset", "node-postgres", "--defaults",
        str(tmp_path / "svc"),
    )  # fmt: skip
    assert result.returncode == 2
    expected = f"keelson: {catalogue}:{line_of(catalogue, 'keelson:')}: template 'keelson': "
    assert result.stderr.startswith(expected)
    assert "/nonexistent/tpl does not exist" in result.stderr
    assert not (tmp_path / "svc").exists()


def test_malformed_catalogue_fails_every_command(keelson: Keelson, tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yml"
    catalogue.write_text("version: 1\ntemplates:\n  t: {url: x, ref: y\npresets: []\n")
    for args in (("catalogue", "list"), ("new", "--preset", "a", "--defaults", "svc")):
        result = keelson(*args, "--catalogue", str(catalogue), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"keelson: {catalogue}:4: invalid YAML: ")
        assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalogue.yml"]


# --- the interactive path -------------------------------------------------------


def test_choose_preset_offers_every_preset_and_none(templates: Templates, tmp_path: Path) -> None:
    catalogue = load_catalogue(str(write_catalogue(tmp_path, templates)))
    down, enter = "\x1b[B", "\r"
    picks = {enter: "friendly", down + enter: "node-postgres", down + down + enter: None}
    for keys, expected in picks.items():
        with create_pipe_input() as pipe:
            pipe.send_text(keys)
            chosen = choose_preset(catalogue, input=pipe, output=DummyOutput())
        assert (chosen.name if chosen else None) == expected


def test_bare_new_without_terminal_still_asks_for_defaults(
    keelson: Keelson, templates: Templates, tmp_path: Path
) -> None:
    catalogue = write_catalogue(tmp_path, templates)
    out = tmp_path / "out"
    out.mkdir()
    result = keelson("new", cwd=out, env={"KEELSON_CATALOGUE": str(catalogue)})
    assert result.returncode == 2
    assert "no terminal" in result.stderr and "--defaults" in result.stderr
    assert list(out.iterdir()) == []


def test_bare_new_in_terminal_offers_presets_then_asks_the_rest(
    templates: Templates, tmp_path: Path
) -> None:
    catalogue = write_catalogue(tmp_path, templates)
    out = tmp_path / "svc"
    out.mkdir()
    with closing(Terminal("new", cwd=out, env={"KEELSON_CATALOGUE": str(catalogue)})) as terminal:
        terminal.expect("Start from one of your team's presets?")
        terminal.expect("friendly")
        terminal.send(b"\r")  # the first preset: friendly (greeting: hi)
        terminal.expect("How big")  # copier asks what the preset left open
        terminal.send(b"\x1b[B\r")  # size: 2
        assert terminal.wait() == 0, terminal.screen
    assert (out / "README.md").read_text() == "hi x2\n"
    assert answers(out)["_commit"] == "v1.0.0"
