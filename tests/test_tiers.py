"""The suite's tiers are set in one table (tests/conftest.py TIERS) that names real tests."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import TESTS, TIERS, tiers_of


def _functions(path: str) -> set[str]:
    tree = ast.parse((TESTS / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("entry", list(TIERS))
def test_every_tier_entry_names_a_folder_a_file_or_a_test(entry: str) -> None:
    path, _, test = entry.partition("::")
    if path.endswith("/"):
        assert (TESTS / path).is_dir(), f"{entry}: no such folder under tests/"
        return
    assert (TESTS / path).is_file(), f"{entry}: no such file under tests/"
    if test:
        assert test in _functions(path), f"{entry}: {path} has no test {test}"
    else:
        assert any(name.startswith("test_") for name in _functions(path)), f"{path}: no tests"


def test_a_folder_entry_covers_its_files_and_a_test_entry_only_that_test() -> None:
    assert tiers_of(TESTS / "integration" / "test_boot.py", "test_x") == ("docker",)
    assert tiers_of(TESTS / "kubernetes" / "test_pods.py", "x") == ("kubernetes", "slow")
    slow = "test_update_names_data_as_the_source_of_a_bad_answer"
    assert tiers_of(TESTS / "test_defects_cli.py", slow) == ("slow",)
    assert tiers_of(TESTS / "test_defects_cli.py", "test_something_else") == ()
    assert tiers_of(TESTS / "kubernetes" / "test_deploy_helpers.py", "x") == ()


def test_the_markers_select_the_tiers_pytest_runs() -> None:
    # pytest itself, with the suite's hook: the engine tier is exactly integration/ and
    # the adoption engine tests; the fast tier holds none of them
    def collected(marks: str) -> set[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", marks, "-p", "no:xdist"],
            cwd=TESTS.parent,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}

    engine = collected("docker and not kubernetes and not release and not adopt_corpus")
    assert engine, "no engine-tier tests collected"
    assert all(
        f.startswith("tests/integration/") or f == "tests/adopt/test_adopt_engine.py"
        for f in engine
    ), sorted(engine)
    assert collected("adopt_corpus") == {"tests/adopt/test_adopt_corpus.py"}
    assert collected("release") == {
        f"tests/release/{p.name}" for p in (TESTS / "release").glob("test_*.py")
    }
    fast = collected("not docker and not kubernetes and not slow")
    assert not fast & (engine | {"tests/test_update.py", "tests/kubernetes/test_pods.py"})
