"""``fnforge data list`` / ``fnforge data pull``, and training with no data folder (the built-in slice).

The pull tests run the real pins end to end: a local HTTP server on 127.0.0.1
serves the upstream files as GitHub would (GSM8K and TabMWP byte for byte, MATH
as an archive of per-problem files rebuilt from shared/data), and the pulled
files must equal shared/data's. Each test points the user cache folder
(``XDG_CACHE_HOME``) at its own temporary folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from fnforge import registry
from fnforge.tasks import BUILTIN_DATA_DIR, DATASETS, load_tasks, make_splits
from tests.fnforge.cli import ok, run
from tests.llm_server import ScriptedLLM, tool_solver
from tests.optimizer.policies import TERMINATE, OptimizerScript, add_call
from tests.tasks.conftest import real_data  # noqa: F401 (the fixture: shared/data, or skip)
from tests.tasks.file_server import FileServer, serve
from tests.tasks.upstream_mirror import build_mirror


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No data folder, no data URL, and a user cache folder of the test's own."""
    return {"XDG_CACHE_HOME": str(tmp_path / "user-cache"), "FNFORGE_DATA": "", "FNFORGE_DATA_URL": "",
            "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "COLUMNS": "200"}


def cache_folder(tmp_path: Path) -> Path:
    return tmp_path / "user-cache" / "fnforge" / "data"


@pytest.fixture
def mirror(real_data: Path, tmp_path: Path) -> Iterator[FileServer]:
    build_mirror(real_data, tmp_path / "mirror")
    with serve(tmp_path / "mirror") as server:
        yield server


def listing(result: Result) -> list[str]:
    return [" ".join(line.split()) for line in result.stdout.splitlines()]


# --- data list --------------------------------------------------------------------------------------


def test_data_list_does_show_the_builtin_slice_on_a_fresh_machine(env: dict[str, str]) -> None:
    result = ok(env, "data", "list")
    assert listing(result) == [
        "dataset source train test folder",
        f"* gsm8k built-in 100 200 {BUILTIN_DATA_DIR / 'gsm8k'}",
        f"* math built-in 474 1118 {BUILTIN_DATA_DIR / 'math'}",
        "tabmwp - - - not on this machine: fnforge data pull tabmwp",
    ]


def test_data_list_does_mark_a_data_folder_as_the_one_read(env: dict[str, str], real_data: Path) -> None:
    rows = json.loads(ok(env, "data", "list", "--data", str(real_data), "--json").stdout)
    used = {(r["dataset"], r["source"]): (r["used"], r["train"], r["test"]) for r in rows}
    assert used == {("gsm8k", "folder"): (True, 7473, 1319), ("gsm8k", "builtin"): (False, 100, 200),
                    ("math", "folder"): (True, 7498, 5000), ("math", "builtin"): (False, 474, 1118),
                    ("tabmwp", "folder"): (True, 1000, 1000)}


def test_data_list_does_read_the_data_folder_from_the_environment(env: dict[str, str], tmp_path: Path) -> None:
    rows = json.loads(ok({**env, "FNFORGE_DATA": str(tmp_path / "none")}, "data", "list", "--json").stdout)
    folder = [r for r in rows if r["source"] == "folder"]
    assert [r["dataset"] for r in folder] == ["gsm8k", "math", "tabmwp"]
    assert all(r["used"] and "file not found" in r["problem"] for r in folder)


# --- data pull, against a local mirror of the upstream files -----------------------------------------


def test_data_pull_does_fill_a_fresh_cache_with_files_equal_to_shared_data(
        env: dict[str, str], mirror: FileServer, real_data: Path, tmp_path: Path) -> None:
    result = ok({**env, "FNFORGE_DATA_URL": mirror.base_url}, "data", "pull", "math", "gsm8k", "tabmwp")
    for entry in DATASETS:
        for file in entry.files:
            assert (cache_folder(tmp_path) / entry.name / file.name).read_bytes() == (
                real_data / entry.name / file.name).read_bytes(), file.name
    assert "math_train.jsonl 7500 rows fetched" in listing(result)[1]
    assert "licence: CC BY-NC-SA 4.0 (non-commercial use only)" in result.stdout
    rows = json.loads(ok(env, "data", "list", "--json").stdout)
    assert {(r["dataset"], r["source"]) for r in rows if r["used"]} == {
        ("gsm8k", "cache"), ("math", "cache"), ("tabmwp", "cache")}


def test_data_pull_does_detect_a_corrupted_file_and_fetch_it_again(
        env: dict[str, str], mirror: FileServer, real_data: Path, tmp_path: Path) -> None:
    pull_env = {**env, "FNFORGE_DATA_URL": mirror.base_url}
    ok(pull_env, "data", "pull", "math")
    damaged = cache_folder(tmp_path) / "math" / "math_train.jsonl"
    damaged.write_bytes(damaged.read_bytes().replace(b'"answer": "0"', b'"answer": "1"', 1))
    listed = run(env, "data", "list")
    assert "damaged: math_train.jsonl does not match its sha256; `fnforge data pull math` repairs it" in listed.stdout
    ok(env, "init", str(tmp_path / "algebra"), "--task", "math:algebra")
    refused = run(env, "-C", str(tmp_path / "algebra"), "train", "--dry-run")
    assert refused.exit_code == 6 and "math is damaged or incomplete" in refused.stderr
    mirror.paths.clear()
    result = ok(pull_env, "data", "pull", "math")
    assert "replaced (was: math_train.jsonl does not match its sha256)" in result.stdout
    assert mirror.paths == [f"aiwaves-cn/agents/archive/e8c4e3c2d19739d3dff59e577d1c97090cc15f59.tar.gz"]
    assert damaged.read_bytes() == (real_data / "math" / "math_train.jsonl").read_bytes()


def test_data_pull_does_fill_a_dest_folder_that_data_then_reads(
        env: dict[str, str], mirror: FileServer, tmp_path: Path) -> None:
    result = ok(env, "data", "pull", "gsm8k", "--dest", str(tmp_path / "mine"), "--base-url", mirror.base_url)
    assert result.stdout.splitlines()[-1] == f"Read it with: --data {tmp_path / 'mine'} (or FNFORGE_DATA={tmp_path / 'mine'})"
    assert not cache_folder(tmp_path).exists()
    assert len(load_tasks("gsm8k", "train", data_dir=tmp_path / "mine")) == 7473


def test_data_pull_rejects_an_unreachable_source_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    with serve(tmp_path / "empty") as empty:
        result = run(env, "data", "pull", "gsm8k", "--base-url", empty.base_url)
    assert (result.exit_code, result.stdout) == (6, "")
    assert result.stderr == (f"Error: cannot download {empty.base_url}openai/grade-school-math/raw/"
                             "3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/train.jsonl: "
                             "HTTP 404 File not found\n")


def test_data_pull_rejects_an_unknown_dataset(env: dict[str, str]) -> None:
    result = run(env, "data", "pull", "gaia")
    assert result.exit_code == 2 and "'gaia' is not one of 'gsm8k', 'math', 'tabmwp'" in result.stderr


# --- training and evaluating with no data folder ------------------------------------------------------

ECHO = '''def echo_answer(answer):
    """Return the answer it is given."""
    return answer
'''


def answer_of(question: str) -> dict[str, str]:
    """The reference answer of a built-in math:algebra task, found by its question."""
    tasks = load_tasks("math:algebra", "train") + load_tasks("math:algebra", "test")
    return {"answer": next(t.answer for t in tasks if t.question == question)}


def test_train_on_math_algebra_does_use_the_builtin_slice_with_no_data_folder(
        env: dict[str, str], llm_server: ScriptedLLM, tmp_path: Path) -> None:
    llm_server.policy = OptimizerScript(
        [[add_call("echo_answer", ECHO, arguments={"answer": {"type": "string", "description": "the answer"}},
                   description="Return the answer it is given."), TERMINATE], [TERMINATE]],
        agent=tool_solver("echo_answer", answer_of, fallback="0"))
    llm_env = {**env, "OPENAI_BASE_URL": llm_server.base_url}
    ok(llm_env, "init", str(tmp_path / "algebra"), "--task", "math:algebra", "--model", "agent-model")
    result = ok(llm_env, "-C", str(tmp_path / "algebra"), "train", "--train", "4", "--test", "4", "--patience", "1",
                "--concurrency", "2", "--json")
    summary = json.loads(result.stdout)
    assert (summary["best_score"], summary["test"]["accuracy"]) == (1.0, 1.0)
    expected = make_splits("math:algebra", n_train=4, n_test=4, seed=0)
    with registry.open(tmp_path / "algebra") as repo:
        assert repo.best() is not None
        assert repo.best().trailer("Tasks") == expected.train.describe()  # type: ignore[union-attr]
    assert not cache_folder(tmp_path).exists()
