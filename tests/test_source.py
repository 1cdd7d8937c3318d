"""Where a service's template lives: recorded sources that work, or a clear word.

Each test builds a tiny template in a real git repository (two releases), its bare
"server" copy, and runs the real keelson and copier against it; nothing leaves the
machine (file:// URLs and paths only; the placeholder host is told by its name).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.repository import FALLBACK_URL
from tests.conftest import Keelson
from tests.matrix import git

COPIER_YML = "name:\n  type: str\n  default: app\n"


def tiny_template(root: Path) -> Path:
    """A template repository with releases v1.0.0 and v2.0.0 (README.txt changes)."""
    repo = root / "tpl"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "copier.yml").write_text(COPIER_YML)
    (repo / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}\n"
    )
    (repo / "README.txt.jinja").write_text("hello {{ name }}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "tag", "v1.0.0")
    (repo / "README.txt.jinja").write_text("hello {{ name }}, v2\n")
    git(repo, "commit", "-q", "-am", "two")
    git(repo, "tag", "v2.0.0")
    return repo


def bare_copy(repo: Path, dest: Path) -> Path:
    git(repo.parent, "clone", "-q", "--bare", str(repo), str(dest))
    return dest


def answers(service: Path) -> dict[str, object]:
    data = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("keelson: note: ")]


def test_bare_repository_by_path_new_check_update_and_data(
    keelson: Keelson, tmp_path: Path
) -> None:
    bare = bare_copy(tiny_template(tmp_path), tmp_path / "n.git")
    made = keelson(
        "new", "svc", "--template", bare, "--defaults", "--vcs-ref", "v1.0.0", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    service = tmp_path / "svc"
    assert answers(service)["_src_path"] == str(bare)
    assert answers(service)["_commit"] == "v1.0.0"
    # a path only this machine has: said once, with the fix
    [note] = notes(made.stderr)
    assert f"local path {bare}" in note and "--template URL" in note
    assert "give the template checkout an `origin`" not in note  # it is no checkout

    behind = keelson("check", service)
    assert behind.returncode == 1, behind.stdout + behind.stderr
    assert "1 release behind: v2.0.0" in behind.stdout

    # a question the template does not ask: refused from the bare repository's copier.yml
    typo = keelson("update", service, "--data", "nmae=x")
    assert typo.returncode == 2, typo.stdout + typo.stderr
    assert typo.stderr.count("\n") == 1 and "unknown question 'nmae'" in typo.stderr
    assert git(service, "status", "--porcelain") == ""
    assert answers(service)["_commit"] == "v1.0.0"

    updated = keelson("update", service, "-q")
    assert updated.returncode == 0, updated.stderr
    assert answers(service)["_commit"] == "v2.0.0"
    assert (service / "README.txt").read_text() == "hello app, v2\n"


def test_update_data_for_a_question_the_url_template_lacks_is_refused(
    keelson: Keelson, tmp_path: Path
) -> None:
    bare = bare_copy(tiny_template(tmp_path), tmp_path / "n.git")
    url = f"file://{bare}"
    unknown = keelson("new", "svc", "--template", url, "--defaults", "--data", "nmae=x",
                      cwd=tmp_path)  # fmt: skip
    assert unknown.returncode == 2
    assert "unknown question 'nmae'" in unknown.stderr and not (tmp_path / "svc").exists()
    made = keelson("new", "svc", "--template", url, "--defaults", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert notes(made.stderr) == []  # a URL that answers, at a version it has
    service = tmp_path / "svc"
    for extra in ([], ["--to", "v1.0.0"]):
        typo = keelson("update", service, "--data", "nmae=x", *extra)
        assert typo.returncode == 2, typo.stdout + typo.stderr
        assert typo.stderr.count("\n") == 1 and "unknown question 'nmae'" in typo.stderr
    assert git(service, "status", "--porcelain") == ""


def test_a_version_the_template_lacks_cannot_be_compared(keelson: Keelson, tmp_path: Path) -> None:
    repo = tiny_template(tmp_path)
    bare = bare_copy(repo, tmp_path / "n.git")
    for name, template in (("by-path", str(repo)), ("by-url", f"file://{bare}")):
        made = keelson("new", name, "--template", template, "--defaults", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        service = tmp_path / name
        file = service / ".copier-answers.yml"
        file.write_text(file.read_text().replace("_commit: v2.0.0", "_commit: deadbeef"))
        git(service, "commit", "-q", "-am", "a version nobody has")
        check = keelson("check", service)
        assert check.returncode == 2, check.stdout + check.stderr
        [line] = (check.stdout + check.stderr).splitlines()
        assert "does not have the service's version deadbeef" in line
        assert "keelson update --template URL" in line and "_commit" in line
        update = keelson("update", service)
        assert update.returncode == 2, update.stdout + update.stderr
        assert "does not have the service's version deadbeef" in update.stderr


def test_a_local_only_tag_is_recorded_as_what_origin_has(keelson: Keelson, tmp_path: Path) -> None:
    server = bare_copy(tiny_template(tmp_path), tmp_path / "server.git")
    url = f"file://{server}"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", url, str(clone))
    (clone / "README.txt.jinja").write_text("hello {{ name }}, v2.1\n")
    git(clone, "commit", "-q", "-am", "pushed, but its tag is not")
    git(clone, "push", "-q", "origin", "main")
    git(clone, "tag", "v2.1.0")
    head = git(clone, "rev-parse", "--short", "HEAD").strip()

    made = keelson("new", "svc", "--template", clone, "--defaults", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    service = tmp_path / "svc"
    recorded = answers(service)
    assert recorded["_src_path"] == url
    # not v2.1.0, which origin lacks: the nearest tag origin has, and the commit
    assert str(recorded["_commit"]).startswith("v2.0.0-1-g")
    assert head.startswith(str(recorded["_commit"]).rpartition("-g")[2][:7])
    assert notes(made.stderr) == []
    assert (service / "README.txt").read_text() == "hello app, v2.1\n"
    # check and update name the same version
    check = keelson("check", service)
    assert check.returncode == 0, check.stdout + check.stderr
    update = keelson("update", service)
    assert update.returncode == 0, update.stderr
    version = recorded["_commit"]
    assert f"up to date with template version {version}" in check.stdout
    assert f"up to date with template version {version}" in update.stderr

    # a commit that exists nowhere but in this clone: kept, and said in one line
    (clone / "README.txt.jinja").write_text("hello {{ name }}, v2.2\n")
    git(clone, "commit", "-q", "-am", "never pushed")
    git(clone, "tag", "v2.2.0")
    local = keelson("new", "local", "--template", clone, "--defaults", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert answers(tmp_path / "local")["_commit"] == "v2.2.0"
    [note] = notes(local.stderr)
    assert f"template version v2.2.0, which {url} does not have" in note
    assert "git push origin v2.2.0" in note and "--template URL" in note


def test_a_source_nobody_can_reach_gets_a_note(keelson: Keelson, tmp_path: Path) -> None:
    repo = tiny_template(tmp_path)
    cases = {
        FALLBACK_URL: "a placeholder no machine can reach",
        f"file://{tmp_path}/gone.git": "which cannot be reached",
    }
    for number, (origin, said) in enumerate(cases.items()):
        git(repo, "remote", "remove", "origin") if number else None
        git(repo, "remote", "add", "origin", origin)
        name = f"svc{number}"
        made = keelson("new", name, "--template", repo, "--defaults", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert answers(tmp_path / name)["_src_path"] == origin
        [note] = notes(made.stderr)
        assert said in note and origin in note
        for fix in ("--template URL", "`template:` in", "[project.urls] Template"):
            assert fix in note


def unrelated_template(repo: Path) -> Path:
    """A template with the same questions and none of the history (one release, v9.0.0)."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "copier.yml").write_text(COPIER_YML)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "unrelated")
    git(repo, "tag", "v9.0.0")
    return repo


def test_update_template_repoints_a_service_to_a_fork(keelson: Keelson, tmp_path: Path) -> None:
    repo = tiny_template(tmp_path)
    bare = bare_copy(repo, tmp_path / "n.git")
    made = keelson("new", "svc", "--template", f"file://{bare}", "--defaults",
                   "--vcs-ref", "v1.0.0", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    service = tmp_path / "svc"
    (service / "NOTES.md").write_text("ours\n")
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "our notes")
    # the service names a placeholder nobody can reach (as wheels recorded before)
    file = service / ".copier-answers.yml"
    file.write_text(file.read_text().replace(f"file://{bare}", FALLBACK_URL))
    git(service, "commit", "-q", "-am", "recorded by an unconfigured keelson")
    check = keelson("check", service)
    assert check.returncode == 2 and "keelson update --template URL" in check.stderr

    # the fork has one more release
    fork = tmp_path / "fork"
    git(tmp_path, "clone", "-q", str(repo), str(fork))
    (fork / "README.txt.jinja").write_text("hello {{ name }}, from the fork\n")
    git(fork, "commit", "-q", "-am", "fork release")
    git(fork, "tag", "v3.0.0")
    fork_url = f"file://{bare_copy(fork, tmp_path / 'fork.git')}"

    # a repository without the service's version cannot tell its edits from the template's
    stranger = unrelated_template(tmp_path / "stranger")
    refused = keelson("update", service, "--template", stranger)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1
    assert "does not have the service's version v1.0.0" in refused.stderr
    assert git(service, "status", "--porcelain") == ""

    dry = keelson("update", service, "--template", fork_url, "--pretend")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"+_src_path: {fork_url}" in dry.stdout and "+_commit: v3.0.0" in dry.stdout
    assert git(service, "status", "--porcelain") == ""
    assert answers(service)["_src_path"] == FALLBACK_URL

    moved = keelson("update", service, "--template", fork_url)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert answers(service)["_src_path"] == fork_url
    assert answers(service)["_commit"] == "v3.0.0"
    assert (service / "README.txt").read_text() == "hello app, from the fork\n"
    assert (service / "NOTES.md").read_text() == "ours\n"
    git(service, "commit", "-q", "-am", "on the fork")
    after = keelson("check", service)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "up to date with template version v3.0.0" in after.stdout

    # re-pointing alone (same version, another mirror) records the new source
    mirror_url = f"file://{bare_copy(fork, tmp_path / 'mirror.git')}"
    again = keelson("update", service, "--template", mirror_url, "-q")
    assert again.returncode == 0, again.stderr
    assert answers(service)["_src_path"] == mirror_url
    assert answers(service)["_commit"] == "v3.0.0"


def test_a_bare_repository_without_tags_by_path(keelson: Keelson, tmp_path: Path) -> None:
    # copier renders such a template's HEAD, and took a path for a checkout to look at
    repo = tiny_template(tmp_path)
    bare = tmp_path / "untagged.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "push", "-q", str(bare), "HEAD~1:refs/heads/main")  # branches only, no tags
    made = keelson("new", "svc", "--template", bare, "--defaults", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    service = tmp_path / "svc"
    assert answers(service)["_src_path"] == str(bare)
    assert (service / "README.txt").read_text() == "hello app\n"
    pinned = keelson("new", "pinned", "--template", bare, "--vcs-ref", "HEAD", "--defaults",
                     cwd=tmp_path)  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr

    git(repo, "push", "-q", str(bare), "main")
    behind = keelson("check", service)
    assert behind.returncode == 1 and "1 commit behind" in behind.stdout
    updated = keelson("update", service, "-q")
    assert updated.returncode == 0, updated.stderr
    assert (service / "README.txt").read_text() == "hello app, v2\n"
    git(service, "commit", "-q", "-am", "updated")
    assert keelson("check", service).returncode == 0
