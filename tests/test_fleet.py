"""`keelson fleet status` and `keelson check --json` over a fleet of local git repositories.

One tiny copier template (asking `keelson_preset`) with releases v1.0.0 to v1.3.0, a
second one of another team, and a catalogue listing twelve services in every state a
platform team meets: current, behind by one and by three (with an answer the newest
release retired), pinned behind on purpose, leftover conflict markers, a monorepo
subfolder, a branch, an unreachable URL, a copier project of another template, a
repository that is no copier project, a team edit whose update conflicts, and a project
adopted with keelson's own template.
Real copier, real git, no network.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from generator.table import columns
from tests.adopt.helpers import copy_fixture
from tests.conftest import Keelson, ReleaseClone
from tests.matrix import git
from tests.test_pins import COPIER_YML

ANSWERS = "{{ _copier_answers | to_nice_yaml -}}\n"
MARKERS = "<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"


def template(
    root: Path, name: str, versions: tuple[str, ...], copier_yml: str, first_only: str = ""
) -> Path:
    """A template repository; `first_only` is a question only its first release asks."""
    repo = root / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "{{_copier_conf.answers_file}}.jinja").write_text(ANSWERS)
    for version in versions:
        (repo / "copier.yml").write_text(
            copier_yml + (first_only if version == versions[0] else "")
        )
        (repo / "README.md.jinja").write_text(f"{{{{ greeting }}}} from {version}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"release {version}")
        git(repo, "tag", version)
    return repo


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def record(service: str, state: str, **fields: Any) -> dict[str, Any]:
    """A record as `fleet status --json` prints it; unnamed fields empty."""
    empty: dict[str, Any] = {
        "service": service, "state": state, "template": None, "template_name": None,
        "preset": None, "version": None, "pin": None, "latest": None, "behind": 0,
        "missed": [], "beyond": [], "conflicts": [], "retired": [], "detail": None, "url": None,
        "branch": None, "subfolder": None, "owner": None,
    }  # fmt: skip
    return {**empty, **fields}


@pytest.fixture
def fleet(
    keelson: Keelson,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    template_release: ReleaseClone,
) -> tuple[Path, dict[str, Path], Path, Path]:
    """(catalogue, service repositories by name, greeter template, other template)."""
    monkeypatch.delenv("KEELSON_CATALOGUE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    greeter = template(
        tmp_path, "greeter", ("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"), COPIER_YML,
        first_only="colour: {type: str, default: blue}\n",
    )  # fmt: skip
    other = template(
        tmp_path, "other", ("v1.0.0", "v2.0.0"), "_answers_file: .copier-answers.yml\n"
        "greeting: {type: str, default: hi}\n",
    )  # fmt: skip
    catalogue = tmp_path / "team" / "catalogue.yml"
    catalogue.parent.mkdir()
    catalogue.write_text(
        "version: 1\n"
        "templates:\n"
        f"  greeter: {{url: {greeter}, ref: v1.3.0}}\n"
        f"  greeter-lts: {{url: {greeter}, ref: v1.1.0}}\n"
        "presets:\n"
        "  - {name: friendly, description: d, template: greeter}\n"
        "  - {name: steady, description: d, template: greeter-lts}\n"
        "services:\n"
        "  - url: ../repos/current\n"
        "  - url: ../repos/behind-one\n    owner: team-a\n"
        "  - url: ../repos/behind-three\n"
        "  - url: ../repos/pinned\n"
        "  - url: ../repos/markers\n"
        "  - url: ../repos/mono\n    subfolder: services/api\n"
        "  - url: ../repos/branchy\n    branch: release\n"
        "  - url: ../repos/gone\n"
        "  - url: ../repos/foreign\n"
        "  - url: ../repos/plain\n"
        "  - url: ../repos/conflicted\n"
        "  - url: ../repos/adopted\n"
    )
    repos = tmp_path / "repos"
    repos.mkdir()

    def new(name: str, ref: str, *args: str | Path) -> Path:
        made = keelson("new", "--defaults", "--trust", "-q", "--vcs-ref", ref, *args, repos / name)
        assert made.returncode == 0, made.stderr
        return repos / name

    preset = ("--catalogue", catalogue, "--preset")
    new("current", "v1.3.0", *preset, "friendly")
    new("behind-one", "v1.2.0", *preset, "friendly")
    new("behind-three", "v1.0.0", *preset, "friendly")
    new("pinned", "v1.1.0", *preset, "steady")
    markers = new("markers", "v1.3.0", *preset, "friendly")
    (markers / "NOTES.md").write_text(MARKERS)
    commit_all(markers, "a half-resolved update")
    mono = repos / "mono"
    new("mono/services/api", "v1.2.0", *preset, "friendly", "--no-git")
    (mono / "README.md").write_text("the monorepo\n")
    git(mono, "init", "-q", "-b", "main")
    commit_all(mono, "monorepo")
    branchy = new("branchy", "v1.0.0", *preset, "friendly")
    git(branchy, "checkout", "-q", "-b", "release")
    assert keelson("update", "--trust", "-q", "--to", "v1.3.0", branchy).returncode == 0
    commit_all(branchy, "template v1.3.0")
    git(branchy, "checkout", "-q", "-")  # back to the default branch, still at v1.0.0
    new("foreign", "v1.0.0", "--template", other)
    plain = repos / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("not generated\n")
    git(plain, "init", "-q", "-b", "main")
    commit_all(plain, "plain")
    # the team rewrote the line every release changes: its update conflicts
    conflicted = new("conflicted", "v1.2.0", *preset, "friendly")
    (conflicted / "README.md").write_text("hello from the team\n")
    commit_all(conflicted, "our README")
    # an existing project adopted with keelson's own template (a copy released as v1.0.0)
    keelson_template = template_release(tmp_path / "keelson")
    adopted = copy_fixture("go-root", repos, "adopted")
    made = keelson("adopt", "--defaults", "--trust", "--template", keelson_template,
                   "--vcs-ref", "v1.0.0", adopted)  # fmt: skip
    assert made.returncode == 0, made.stderr
    git(adopted, "init", "-q", "-b", "main")
    commit_all(adopted, "adopted by keelson")
    return catalogue, {p.name: p for p in repos.iterdir()}, greeter, other


def test_fleet_status_table_and_json(
    keelson: Keelson, fleet: tuple[Path, dict[str, Path], Path, Path]
) -> None:
    catalogue, repos, greeter, other = fleet
    gone = repos["current"].parent / "gone"
    keelson_template = repos["current"].parent.parent / "keelson"
    assert len(repos) + 1 >= 12  # and `gone`, which is no repository at all
    ran = keelson("fleet", "status", "--json", "--catalogue", catalogue)
    assert ran.returncode == 1, ran.stderr
    records = json.loads(ran.stdout)["services"]
    gone_detail = records[7]["detail"]
    assert gone_detail.startswith("fatal: ") and str(gone) in gone_detail

    def at(name: str, **fields: Any) -> dict[str, Any]:
        return {"url": str(repos[name]) if name in repos else str(gone), **fields}

    tmpl = {"template": str(greeter), "template_name": "greeter", "latest": "v1.3.0"}
    assert records == [
        record("current", "current", **tmpl, **at("current"), preset="friendly",
               version="v1.3.0", pin="v1.3.0"),
        record("behind-one", "behind", **tmpl, **at("behind-one"), preset="friendly",
               version="v1.2.0", pin="v1.3.0", behind=1, missed=["v1.3.0"], owner="team-a"),
        record("behind-three", "behind", **tmpl, **at("behind-three"), preset="friendly",
               version="v1.0.0", pin="v1.3.0", behind=3,
               missed=["v1.1.0", "v1.2.0", "v1.3.0"], retired=["colour"]),
        record("pinned", "current", **{**tmpl, "template_name": "greeter-lts"}, **at("pinned"),
               preset="steady", version="v1.1.0", pin="v1.1.0", beyond=["v1.2.0", "v1.3.0"]),
        record("markers", "conflicts", **tmpl, **at("markers"), preset="friendly",
               version="v1.3.0", pin="v1.3.0", conflicts=["NOTES.md"]),
        record("mono/services/api", "behind", **tmpl, **at("mono"), preset="friendly",
               version="v1.2.0", pin="v1.3.0", behind=1, missed=["v1.3.0"],
               subfolder="services/api"),
        record("branchy", "current", **tmpl, **at("branchy"), preset="friendly",
               version="v1.3.0", pin="v1.3.0", branch="release"),
        record("gone", "unreachable", **at("gone"), detail=gone_detail),
        record("foreign", "behind", **at("foreign"), template=str(other), version="v1.0.0",
               latest="v2.0.0", behind=1, missed=["v2.0.0"]),
        record("plain", "not-copier", **at("plain"), detail="no .copier-answers.yml"),
        record("conflicted", "behind", **tmpl, **at("conflicted"), preset="friendly",
               version="v1.2.0", pin="v1.3.0", behind=1, missed=["v1.3.0"]),
        record("adopted", "current", **at("adopted"), template=str(keelson_template),
               version="v1.0.0", latest="v1.0.0"),
    ]  # fmt: skip

    table = keelson("fleet", "status", "--catalogue", catalogue, "--jobs", "2")
    assert table.returncode == 1
    header = ("SERVICE", "STATE", "TEMPLATE", "PRESET", "VERSION", "PIN", "BEHIND", "NOTES")
    assert table.stdout.splitlines() == columns(
        [
            header,
            ("current", "current", "greeter", "friendly", "v1.3.0", "v1.3.0", "0", ""),
            ("behind-one", "behind", "greeter", "friendly", "v1.2.0", "v1.3.0", "1",
             "missed v1.3.0"),
            ("behind-three", "behind", "greeter", "friendly", "v1.0.0", "v1.3.0", "3",
             "missed v1.1.0, v1.2.0, v1.3.0; v1.3.0 no longer asks colour"),
            ("pinned", "current", "greeter-lts", "steady", "v1.1.0", "v1.1.0", "0",
             "v1.2.0, v1.3.0 beyond the pin"),
            ("markers", "conflicts", "greeter", "friendly", "v1.3.0", "v1.3.0", "0",
             "conflict markers in NOTES.md"),
            ("mono/services/api", "behind", "greeter", "friendly", "v1.2.0", "v1.3.0", "1",
             "missed v1.3.0"),
            ("branchy", "current", "greeter", "friendly", "v1.3.0", "v1.3.0", "0", ""),
            ("gone", "unreachable", "-", "-", "-", "-", "-", gone_detail),
            ("foreign", "behind", str(other), "-", "v1.0.0", "-", "1", "missed v2.0.0"),
            ("plain", "not-copier", "-", "-", "-", "-", "-", "no .copier-answers.yml"),
            ("conflicted", "behind", "greeter", "friendly", "v1.2.0", "v1.3.0", "1",
             "missed v1.3.0"),
            ("adopted", "current", str(keelson_template), "-", "v1.0.0", "-", "0", ""),
        ],
        right={6},
    )  # fmt: skip

    # one service, the same record: `keelson check --json` in its folder
    one = keelson("check", "--json", "--catalogue", catalogue, repos["behind-three"])
    assert one.returncode == 1
    mine = json.loads(one.stdout)
    expected = {**records[2], "service": str(repos["behind-three"]), "url": None}
    assert mine == expected

    # a fleet that is all current passes
    current_only = catalogue.parent / "current.yml"
    text = catalogue.read_text()
    current_only.write_text(text[: text.index("services:")] + "services:\n"
                            "  - url: ../repos/current\n  - url: ../repos/pinned\n")  # fmt: skip
    passed = keelson("fleet", "status", "--catalogue", current_only)
    assert passed.returncode == 0, passed.stdout


def test_fleet_status_needs_services(keelson: Keelson, tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yml"
    catalogue.write_text(
        "version: 1\ntemplates:\n  t: {url: https://git.example.invalid/t.git, ref: v1}\n"
        "presets: []\n"
    )
    ran = keelson("fleet", "status", "--catalogue", catalogue)
    assert ran.returncode == 2
    assert ran.stderr == (
        f"keelson: {catalogue} lists no services: add a `services:` list (docs/catalogue.md)\n"
    )


def branch_log(repo: Path, branch: str) -> list[str]:
    """Subjects of the commits `branch` has on top of the checked-out branch."""
    return git(repo, "log", "--format=%s", f"HEAD..{branch}").splitlines()


# the services a fleet update moves, in the order it reports them: (from, to)
UPDATES = {
    "behind-one": ("v1.2.0", "v1.3.0"),
    "behind-three": ("v1.0.0", "v1.3.0"),
    "mono/services/api": ("v1.2.0", "v1.3.0"),
    "foreign": ("v1.0.0", "v2.0.0"),
    "conflicted": ("v1.2.0", "v1.3.0"),
}


def updates(done: str, *conflicted: str) -> list[str]:
    """The line `fleet update` prints for each service it moves, `done` saying what it did.

    The services named in `conflicted` got an update with conflicts in README.md.
    """
    return [
        f"{name}: {done} keelson/template-{to} ({before} -> {to})"
        + (" with conflicts in README.md" if name in conflicted else "")
        for name, (before, to) in UPDATES.items()
    ]


def test_fleet_update_pushes_one_branch_per_behind_service_and_a_rerun_changes_nothing(
    keelson: Keelson, fleet: tuple[Path, dict[str, Path], Path, Path]
) -> None:
    catalogue, repos, _, _ = fleet
    # the team changed the line the template changes in every release: a conflict
    (repos["behind-three"] / "README.md").write_text("hello from the team\n")
    commit_all(repos["behind-three"], "our README")
    branch = "keelson/template-v1.3.0"

    dry = keelson("fleet", "update", "--dry-run", "--catalogue", catalogue)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == updates("would push")
    assert all(git(repo, "branch", "--list", "keelson/*") == "" for repo in repos.values()
               if (repo / ".git").exists())  # fmt: skip

    ran = keelson("fleet", "update", "--catalogue", catalogue)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == updates("pushed", "behind-three", "conflicted")
    assert branch_log(repos["conflicted"], branch) == ["keelson: template v1.2.0 -> v1.3.0"]
    for name in ("behind-one", "behind-three", "mono"):
        assert branch_log(repos[name], branch) == [
            f"keelson: template {'v1.0.0' if name == 'behind-three' else 'v1.2.0'} -> v1.3.0"
        ]
    assert branch_log(repos["foreign"], "keelson/template-v2.0.0") == [
        "keelson: template v1.0.0 -> v2.0.0"
    ]
    show = git(repos["behind-one"], "show", f"{branch}:README.md")
    assert show == "hello from v1.3.0\n"
    api = git(repos["mono"], "show", f"{branch}:services/api/README.md")
    assert api == "hello from v1.3.0\n"
    conflicted = git(repos["behind-three"], "show", f"{branch}:README.md")
    assert conflicted.startswith("<<<<<<< ") and "hello from the team" in conflicted
    assert "hello from v1.3.0" in conflicted
    message = git(repos["behind-three"], "log", "-1", "--format=%B", branch)
    assert message == (
        "keelson: template v1.0.0 -> v1.3.0\n\n"
        "`keelson update --to v1.3.0`, applied by `keelson fleet update`.\n\n"
        "Conflicts, committed with their markers: resolve them (edit the markers away,\n"
        "or `git rm` a kept file the template dropped) before merging:\n"
        "- README.md\n\n"
    )
    # the services' own branches are untouched
    assert (repos["behind-one"] / "README.md").read_text() == "hello from v1.2.0\n"
    assert git(repos["current"], "branch", "--list", "keelson/*") == ""
    assert git(repos["pinned"], "branch", "--list", "keelson/*") == ""
    assert git(repos["adopted"], "branch", "--list", "keelson/*") == ""

    # a person adds a commit to the update branch; a rerun keeps it and changes nothing
    git(repos["behind-one"], "checkout", "-q", branch)
    (repos["behind-one"] / "NOTES.md").write_text("reviewed\n")
    commit_all(repos["behind-one"], "reviewed by a person")
    git(repos["behind-one"], "checkout", "-q", "-")
    tips = {
        name: git(repo, "rev-parse", f"refs/heads/{branch}").strip()
        for name, repo in repos.items() if name in {"behind-one", "behind-three", "mono"}
    }  # fmt: skip
    again = keelson("fleet", "update", "--catalogue", catalogue)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == updates("up to date")
    for name, tip in tips.items():
        assert git(repos[name], "rev-parse", f"refs/heads/{branch}").strip() == tip


def test_fleet_update_never_overwrites_a_branch_it_cannot_push(
    keelson: Keelson, fleet: tuple[Path, dict[str, Path], Path, Path]
) -> None:
    catalogue, repos, _, _ = fleet
    branch = "keelson/template-v1.3.0"
    # a person made the branch by hand (no update on it yet) and has it checked out in
    # the service's repository, where git refuses any push to it
    mine = repos["behind-one"]
    git(mine, "checkout", "-q", "-b", branch)
    (mine / "NOTES.md").write_text("started by hand\n")
    commit_all(mine, "a person's start")
    tip = git(mine, "rev-parse", "HEAD").strip()
    ran = keelson("fleet", "update", "--catalogue", catalogue)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    assert lines, ran.stderr
    assert lines[0].startswith(
        f"behind-one: failed {branch} (v1.2.0 -> v1.3.0): push refused, nothing overwritten: "
    )
    assert "checked out" in lines[0]
    assert lines[1:] == updates("pushed", "conflicted")[1:]
    assert git(mine, "rev-parse", branch).strip() == tip
    assert (mine / "NOTES.md").read_text() == "started by hand\n"
    assert git(mine, "status", "--porcelain") == ""


def test_the_timeout_covers_the_whole_check_of_a_service(
    keelson: Keelson, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service that clones at once but whose template never answers is cut off in time."""
    monkeypatch.delenv("KEELSON_CATALOGUE", raising=False)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does) and never answers them
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/template.git"
        service = tmp_path / "repos" / "stuck"
        service.mkdir(parents=True)
        (service / ".copier-answers.yml").write_text(
            f"_commit: v1.0.0\n_src_path: {url}\ngreeting: hi\n"
        )
        git(service, "init", "-q", "-b", "main")
        commit_all(service, "a service of a template whose host hangs")
        catalogue = tmp_path / "catalogue.yml"
        catalogue.write_text(
            f"version: 1\ntemplates:\n  t: {{url: {url}, ref: v1.0.0}}\npresets: []\n"
            "services:\n  - url: repos/stuck\n"
        )
        started = time.monotonic()
        ran = keelson("fleet", "status", "--json", "--catalogue", catalogue, "--timeout", "2")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert ran.returncode == 1, ran.stderr
    (found,) = json.loads(ran.stdout)["services"]
    assert found == record(
        "stuck", "unknown", url=str(service),
        detail="not checked within 2 seconds (--timeout covers the clone and the check)",
    )  # fmt: skip
    # git's own probe of the template would wait 15 seconds, and its fetch longer
    assert took < 8, took
