"""keelson as a new user meets it: the paths people really take, and their rough edges.

Each test here reproduces one defect seen when keelson was tried by hand (a
traceback, a service that could never update, a prompt that hid its error) and
holds the fixed behaviour: one line naming the problem, the right exit code, and
nothing written.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.conftest import Keelson, Ran, Terminal, tool
from tests.helpers import answers, succeeds
from tests.matrix import clone_release, git

SCREEN_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def one_line(result: Ran) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, released_template: Path) -> Path:
    """A clean checkout of the keelson template with an `origin` remote, as a user clones it."""
    base = tmp_path_factory.mktemp("clone")
    origin = base / "origin.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(origin))
    checkout = clone_release(released_template, base / "keelson", None)
    git(checkout, "remote", "add", "origin", str(origin))
    git(checkout, "push", "-q", "origin", "main")
    return checkout


# --- where services come from ------------------------------------------------


def test_a_checkout_service_records_its_origin_and_a_real_commit(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    succeeds(keelson, "new", tmp_path / "svc", "--defaults", "--template", template, "--trust")
    recorded = answers(tmp_path / "svc")
    assert recorded["_src_path"] == str(template.parent / "origin.git")
    head = git(template, "rev-parse", "HEAD")
    assert head.startswith(str(recorded["_commit"]))
    # the commit is one every clone of the template has, not a throwaway one
    assert git(template.parent / "origin.git", "cat-file", "-t", str(recorded["_commit"])) == (
        "commit\n"
    )
    assert git(tmp_path / "svc", "rev-list", "--count", "HEAD").strip() == "1"


def test_dirty_template_checkout_is_refused(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    scratch = template / "templates" / "scratch.txt.jinja"
    scratch.write_text("work in progress\n")
    try:
        refused = keelson("new", tmp_path / "svc", "--defaults", "--template", template, "--trust")
        assert refused.returncode == 2
        line = one_line(refused)
        assert "uncommitted change" in line and "--allow-dirty" in line
        assert not (tmp_path / "svc").exists()
        allowed = succeeds(
            keelson, "new", tmp_path / "svc", "--defaults", "--template", template, "--trust",
            "--allow-dirty",
        )  # fmt: skip
        assert "cannot be updated" in allowed.stderr  # the author is told what it means
    finally:
        scratch.unlink()


def test_a_release_tag_the_clone_lacks_is_named_with_the_way_out(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    refused = keelson("new", tmp_path / "svc", "--defaults", "--template", template,
                      "--trust", "--vcs-ref", "v0.1.0")  # fmt: skip
    assert refused.returncode == 2
    line = one_line(refused)
    assert line.startswith("keelson: --vcs-ref v0.1.0: no such tag")
    assert "no release tags" in line
    assert not (tmp_path / "svc").exists()


def test_destination_inside_the_template_checkout_is_refused(
    keelson: Keelson, template: Path
) -> None:
    refused = keelson("new", "my-service", "--defaults", "--template", template, cwd=template)
    assert refused.returncode == 2
    assert "inside the template checkout" in one_line(refused)
    assert git(template, "status", "--porcelain") == ""


def test_unreachable_recorded_template_says_how_to_fix_it(keelson: Keelson, tmp_path: Path) -> None:
    service = tmp_path / "svc"
    service.mkdir()
    (service / ".copier-answers.yml").write_text(
        "_commit: v0.1.0\n_src_path: /home/someone-else/keelson\nproject_name: svc\n"
    )
    checked = keelson("check", service)
    assert checked.returncode == 2
    # "cannot tell" is a failure: on stderr, as every failure
    assert checked.stdout == ""
    assert "not on this machine" in checked.stderr and "_src_path" in checked.stderr


# --- the destination ---------------------------------------------------------


def test_a_folder_with_only_starter_files_takes_the_service(
    keelson: Keelson, tmp_path: Path
) -> None:
    dest = tmp_path / "orders"
    dest.mkdir()
    git(dest, "init", "-q", "-b", "main")
    (dest / "README.md").write_text("# Orders\nOur own words.\n")
    (dest / "LICENSE").write_text("MIT\n")
    made = succeeds(keelson, "new", dest, "--defaults", "--allow-dirty", "--vcs-ref", "HEAD")
    assert (dest / "README.md").read_text() == "# Orders\nOur own words.\n"
    assert (dest / "Dockerfile").is_file()
    assert "kept your README.md" in made.stderr
    # the service was committed into the repository that was there
    assert git(dest, "status", "--porcelain") == ""
    assert "Dockerfile" in git(dest, "ls-files")


def test_a_service_inside_another_repository_is_left_for_its_owner_to_commit(
    keelson: Keelson,
    tmp_path: Path,
) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    made = succeeds(keelson, "new", tmp_path / "services" / "svc", "--defaults", "--allow-dirty")
    assert not (tmp_path / "services" / "svc" / ".git").exists()
    assert "commit the service there" in made.stderr


def test_no_git_leaves_git_alone(keelson: Keelson, tmp_path: Path) -> None:
    succeeds(keelson, "new", tmp_path / "svc", "--defaults", "--allow-dirty", "--no-git")
    assert not (tmp_path / "svc" / ".git").exists()


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("file-parent", "is a file, not a folder"),
        ("not-utf8", "not UTF-8"),
        ("proc", "cannot write /proc/keelson-test-service"),
    ],
)
def test_system_errors_are_one_line_exit_2_and_write_nothing(
    keelson: Keelson, tmp_path: Path, setup: str, fragment: str
) -> None:
    args: list[str | Path] = ["--defaults", "--allow-dirty"]
    if setup == "file-parent":
        (tmp_path / "afile").write_text("x")
        dest: Path = tmp_path / "afile" / "sub"
    elif setup == "not-utf8":
        data = tmp_path / "answers.yml"
        data.write_bytes(b"description: caf\xe9\n")
        dest = tmp_path / "svc"
        args += ["--data-file", data]
    else:
        # a parent no one may write into, whoever runs the suite (root included)
        dest = Path("/proc/keelson-test-service")
    before = sorted(tmp_path.iterdir())
    result = keelson("new", dest, *args)
    assert result.returncode == 2
    assert fragment in one_line(result)
    assert not dest.exists()
    assert sorted(tmp_path.iterdir()) == before


def test_an_unforeseen_failure_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # nothing in keelson raises this on purpose: a stand-in for the unforeseeable
    from generator import cli
    from generator.commands import create

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr(create, "create_service", explode)
    assert cli.main(["new", str(tmp_path / "svc"), "--defaults"]) == 2
    err = capsys.readouterr().err
    assert err == "keelson: unexpected error (RuntimeError): disk full; nothing was written\n"


def test_a_data_file_answering_everything_needs_no_terminal(
    keelson: Keelson, tmp_path: Path
) -> None:
    data = tmp_path / "answers.yml"
    data.write_text(
        "project_name: billing\ndescription: Billing API\nlanguage: go\ngo_version: '1.27'\n"
        "go_module: example.com/shop/billing\nport: 9000\ndatabase: none\n"
        "image_repository: registry.example.com/shop/billing\nnamespace: shop\n"
        "ingress_host: ''\nrenovate: true\nci: gitlab\n"
    )
    succeeds(keelson, "new", tmp_path / "billing", "--data-file", data, "--allow-dirty", stdin="")
    assert answers(tmp_path / "billing")["port"] == 9000
    assert (tmp_path / "billing" / ".gitlab-ci.yml").is_file()
    assert "module example.com/shop/billing" in (tmp_path / "billing" / "go.mod").read_text()


# --- output ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["path", "dot"])
def test_success_is_quiet_uncoloured_and_says_the_next_steps(
    keelson: Keelson, tmp_path: Path, where: str
) -> None:
    if where == "path":
        made = keelson("new", "svc", "--defaults", "--data", "database=redis", "--allow-dirty",
                       cwd=tmp_path)  # fmt: skip
    else:
        (tmp_path / "svc").mkdir()
        made = keelson("new", "--defaults", "--data", "database=redis", "--allow-dirty",
                       cwd=tmp_path / "svc")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == ""
    for noise in ("No git tags", "Running task", "secrets.token", "Copying from template", "\x1b["):
        assert noise not in made.stderr
    assert made.stderr.startswith("keelson: created svc (python, redis)")
    if where == "path":
        assert "  cd svc\n" in made.stderr
    else:
        assert "cd " not in made.stderr
    assert "curl http://localhost:8000/healthz" in made.stderr
    quiet = keelson("new", "q", "--defaults", "--allow-dirty", "-q", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_database_password_files_are_private(keelson: Keelson, tmp_path: Path) -> None:
    succeeds(keelson, "new", tmp_path / "svc", "--defaults", "--data", "database=postgresql",
             "--allow-dirty")  # fmt: skip
    service = tmp_path / "svc"

    def mode(rel: str) -> int:
        return stat.S_IMODE((service / rel).stat().st_mode)

    assert mode(".secrets") == mode("k8s/overlays/dev/secrets") == 0o700
    assert mode("k8s/overlays/dev/secrets/db-password") == 0o600
    # compose bind-mounts this one as it is for the app's UID 10001: readable
    # inside its private folder, and nowhere else
    assert mode(".secrets/db_password") == 0o644
    password = (service / ".secrets/db_password").read_text()
    assert password == (service / "k8s/overlays/dev/secrets/db-password").read_text()
    assert password not in git(service, "show", "HEAD", "--stat")
    assert ".secrets" not in git(service, "ls-files")


# --- the interactive path ----------------------------------------------------


def test_ctrl_c_at_a_question_prints_one_line_exits_130_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    with closing(Terminal("new", "svc", "--allow-dirty", cwd=tmp_path)) as terminal:
        terminal.expect("Service name")
        terminal.send(b"\r")
        terminal.expect("description")
        terminal.send(b"\r")
        terminal.expect("Language")
        terminal.send(b"\x03")
        assert terminal.wait() == 130, terminal.screen
    assert "keelson: interrupted; nothing was written" in terminal.screen
    assert "AnswersMap" not in terminal.screen and "Traceback" not in terminal.screen
    assert list(tmp_path.iterdir()) == []


def test_prompts_show_plain_defaults_and_whole_validation_messages(tmp_path: Path) -> None:
    with closing(Terminal("new", "svc", "--allow-dirty", cwd=tmp_path)) as terminal:
        terminal.expect("Service name")
        terminal.send(b"\x7f" * 3 + b"Bad_Name\r")
        # the message ends with the value it got: all of it is on the screen
        terminal.expect('(got "Bad_Name")')
        terminal.send(b"\x7f" * 8 + b"billing\r")
        for question in ("description", "Language", "Python release"):
            terminal.expect(question)
            terminal.send(b"\r")
        terminal.expect("Port the service listens on")
        terminal.expect("8000")
        terminal.send(b"\x7f" * 4 + b"9000\r")
        for question in (
            "Database",
            "Image repository",
            "namespace",
            "Ingress",
            "Renovate",
            "Delivery pipeline",
        ):
            terminal.expect(question)
            terminal.send(b"\r")
        assert terminal.wait() == 0, terminal.screen
    assert "..." not in SCREEN_CODES.sub("", terminal.screen)
    recorded = answers(tmp_path / "svc")
    assert (recorded["project_name"], recorded["port"]) == ("billing", 9000)


# --- trust -------------------------------------------------------------------


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template that is not keelson's own and runs a task."""
    repo = tmp_path_factory.mktemp("stranger") / "tpl"
    repo.mkdir()
    (repo / "copier.yml").write_text(
        "name:\n  type: str\n  default: x\n"
        "_tasks:\n  - [\"{{ _copier_python }}\", \"-c\", \"open('ran', 'w').write('yes')\"]\n"
    )
    (repo / "README.md.jinja").write_text("{{ name }}\n")
    (repo / "{{_copier_conf.answers_file}}.jinja").write_text("{{ _copier_answers|to_nice_yaml }}")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "stranger")
    return repo


@pytest.mark.parametrize("how", ["flag", "environment", "config"])
def test_one_trust_rule_for_every_way_of_naming_a_template(
    keelson: Keelson, stranger: Path, tmp_path: Path, how: str
) -> None:
    home = tmp_path / "home"
    (home / "keelson").mkdir(parents=True)
    env = {"XDG_CONFIG_HOME": str(home)}
    args: list[str | Path] = ["new", tmp_path / "svc", "--defaults"]
    if how == "flag":
        args += ["--template", stranger]
    elif how == "environment":
        env["KEELSON_TEMPLATE"] = str(stranger)
    else:
        (home / "keelson" / "config.yml").write_text(f"template: {stranger}\n")
    refused = keelson(*args, env=env)
    assert refused.returncode == 2
    line = one_line(refused)
    assert "--trust" in line and "open('ran'" in line
    assert not (tmp_path / "svc").exists()
    succeeds(keelson, *args, "--trust", env=env)
    assert (tmp_path / "svc" / "ran").read_text() == "yes"


def test_trust_question_answered_no_writes_nothing(stranger: Path, tmp_path: Path) -> None:
    with closing(Terminal("new", "svc", "--template", str(stranger), cwd=tmp_path)) as terminal:
        terminal.expect("runs code on this machine")
        terminal.expect("open('ran', 'w')")
        terminal.send(b"n")
        assert terminal.wait() == 1, terminal.screen
    assert "was not trusted; nothing was written" in terminal.screen
    assert list(tmp_path.iterdir()) == []


# --- check -------------------------------------------------------------------


def test_check_fails_while_conflict_markers_remain(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    service = tmp_path / "svc"
    succeeds(keelson, "new", service, "--defaults", "--template", template, "--trust")
    clean = keelson("check", service)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    compose = service / "compose.yaml"
    compose.write_text(compose.read_text() + "<<<<<<< before updating\nx: 1\n=======\n"
                       "x: 2\n>>>>>>> after updating\n")  # fmt: skip
    git(service, "commit", "-q", "-am", "oops: committed a conflict")
    conflicted = keelson("check", service)
    assert conflicted.returncode == 1
    assert "conflict markers" in conflicted.stdout and "compose.yaml" in conflicted.stdout


def test_check_cannot_tell_a_commit_the_template_lacks(
    keelson: Keelson, template: Path, tmp_path: Path
) -> None:
    service = tmp_path / "svc"
    succeeds(keelson, "new", service, "--defaults", "--template", template, "--trust")
    recorded = (service / ".copier-answers.yml").read_text()
    commit = str(answers(service)["_commit"])
    (service / ".copier-answers.yml").write_text(recorded.replace(commit, "0123abc"))
    unknown = keelson("check", service)
    assert unknown.returncode == 2, unknown.stderr
    assert "cannot tell" in unknown.stderr and unknown.stdout == ""


# --- answers that YAML would type ---------------------------------------------

ACCEPTED = {
    "namespace=123": {"namespace": "123"},
    "namespace=no": {"namespace": "no"},
    "image_repository=true": {"image_repository": "true"},
    "go-module-of-project-go": {"language": "go", "project_name": "go"},
}


@pytest.mark.parametrize("case", ACCEPTED, ids=list(ACCEPTED))
def test_answers_yaml_would_mistype_come_out_as_strings(
    keelson: Keelson, tmp_path: Path, case: str
) -> None:
    data = ACCEPTED[case]
    args: list[str | Path] = ["new", tmp_path / "svc", "--defaults", "--allow-dirty", "--no-git"]
    for key, value in data.items():
        args += ["--data", f"{key}={value}"]
    succeeds(keelson, *args)
    service = tmp_path / "svc"
    for overlay in ("k8s/base", "k8s/overlays/dev", "k8s/overlays/prod"):
        built = subprocess.run([tool("kubectl"), "kustomize", str(service / overlay)],
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert built.returncode == 0, built.stderr
        import kubernetes_validate

        version = kubernetes_validate.latest_version()
        for doc in yaml.safe_load_all(built.stdout):
            if doc:
                kubernetes_validate.validate(doc, version, strict=True)
                if "namespace" in data:
                    suffix = "-dev" if overlay.endswith("dev") else ""
                    assert doc["metadata"]["namespace"] == data["namespace"] + suffix
    config = subprocess.run([tool("docker-compose"), "config", "--quiet"], cwd=service,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert config.returncode == 0, config.stderr
    if data.get("language") == "go" and shutil.which("go"):
        assert "module example.com/go\n" in (service / "go.mod").read_text()
        vetted = subprocess.run(["go", "vet", "./..."], cwd=service, capture_output=True,
                                text=True, check=False)  # fmt: skip
        assert vetted.returncode == 0, vetted.stderr


def test_catalogue_preset_and_update_name_trust_up_front(
    keelson: Keelson, stranger: Path, tmp_path: Path
) -> None:
    catalogue = tmp_path / "catalogue.yml"
    catalogue.write_text(
        json.dumps(
            {
                "version": 1,
                "templates": {"stranger": {"url": str(stranger), "ref": "main"}},
                "presets": [{"name": "s", "description": "a stranger", "template": "stranger"}],
            }
        )
    )
    refused = keelson("new", tmp_path / "svc", "--catalogue", catalogue, "--preset", "s",
                      "--defaults")  # fmt: skip
    assert refused.returncode == 2
    assert "--trust" in one_line(refused)
    assert not (tmp_path / "svc").exists()


@pytest.mark.parametrize("repository", ["registry.example.com/shop/svc", "localhost:5000/svc"])
def test_the_service_version_has_one_home(
    keelson: Keelson, tmp_path: Path, repository: str
) -> None:
    """Bumping `newTag` alone moves the image, APP_VERSION and the version labels."""
    succeeds(keelson, "new", tmp_path / "svc", "--defaults", "--allow-dirty", "--no-git",
             "--data", "database=postgresql",
             "--data", f"image_repository={repository}")  # fmt: skip
    kustomization = tmp_path / "svc" / "k8s/base/kustomization.yaml"
    text = kustomization.read_text()
    assert text.count('newTag: "0.1.0"') == 1
    kustomization.write_text(text.replace('newTag: "0.1.0"', 'newTag: "2.0"'))
    for overlay in ("dev", "prod"):
        built = subprocess.run(
            [tool("kubectl"), "kustomize", str(tmp_path / "svc" / "k8s/overlays" / overlay)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        assert "from-newTag" not in built.stdout and "0.1.0" not in built.stdout
        docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
        for doc in docs:
            labels = doc["metadata"].get("labels", {})
            if labels.get("app.kubernetes.io/component") == "app":
                assert labels["app.kubernetes.io/version"] == "2.0", doc["kind"]
            if doc["kind"] == "ConfigMap":
                assert doc["data"]["APP_VERSION"] == "2.0"
            if doc["kind"] == "Deployment":
                pod = doc["spec"]["template"]
                assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0"
                assert pod["spec"]["containers"][0]["image"] == f"{repository}:2.0"
