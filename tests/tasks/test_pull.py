"""``pull_data`` against a local HTTP server: fill a fresh folder, verify, keep what is intact, re-fetch what is not.

The datasets here are small invented ones (their pins are the sha256 of bytes
the test writes), so these run without the benchmark files; the real pins are
exercised through ``fnforge data pull`` in tests/fnforge/test_cli_data.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge.tasks import DataFile, DataPullError, Dataset, TaskDataError, load_tasks, pull_data

from .file_server import FileServer, serve

ROWS = b'{"question": "1+1?", "answer": "#### 2"}\n{"question": "2+2?", "answer": "#### 4"}\n'
LICENCE = b"MIT License\n"


def pin(name: str, data: bytes, rows: int | None, source: str | None) -> DataFile:
    return DataFile(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest(), rows=rows, source=source)


SMALL = Dataset(name="gsm8k", licence="MIT", upstream="invented", files=(
    pin("train.jsonl", ROWS, 2, "org/repo/raw/c0ffee/data/train.jsonl"),
    pin("LICENSE", LICENCE, None, "org/repo/raw/c0ffee/LICENSE"),
))


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[FileServer]:
    with serve(tmp_path / "mirror") as server:
        server.put("org/repo/raw/c0ffee/data/train.jsonl", ROWS)
        server.put("org/repo/raw/c0ffee/LICENSE", LICENCE)
        yield server


def test_pull_data_does_fill_a_fresh_folder_with_verified_files(mirror: FileServer, tmp_path: Path) -> None:
    result = pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    assert [(f.name, f.outcome) for f in result.files] == [("train.jsonl", "fetched"), ("LICENSE", "fetched")]
    assert (tmp_path / "cache" / "gsm8k" / "train.jsonl").read_bytes() == ROWS
    assert result.downloaded == len(ROWS) + len(LICENCE)
    assert [t.answer for t in load_tasks("gsm8k", "train", data_dir=tmp_path / "cache")] == ["2", "4"]


def test_pull_data_does_keep_intact_files_without_downloading(mirror: FileServer, tmp_path: Path) -> None:
    pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    mirror.paths.clear()
    result = pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    assert {f.outcome for f in result.files} == {"kept"} and mirror.paths == [] and result.downloaded == 0


def test_pull_data_does_refetch_only_a_corrupted_file(mirror: FileServer, tmp_path: Path) -> None:
    pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    target = tmp_path / "cache" / "gsm8k" / "train.jsonl"
    target.write_bytes(ROWS.replace(b"4", b"5"))
    mirror.paths.clear()
    result = pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    assert [(f.name, f.outcome, f.problem) for f in result.files] == [
        ("train.jsonl", "replaced", "train.jsonl does not match its sha256"), ("LICENSE", "kept", None)]
    assert mirror.paths == ["org/repo/raw/c0ffee/data/train.jsonl"] and target.read_bytes() == ROWS


def test_pull_data_rejects_a_download_that_does_not_match_its_pin(mirror: FileServer, tmp_path: Path) -> None:
    mirror.put("org/repo/raw/c0ffee/data/train.jsonl", ROWS.replace(b"4", b"5"))
    with pytest.raises(DataPullError, match=r"train.jsonl: sha256 [0-9a-f]{12}\.\.\., expected [0-9a-f]{12}\.\.\.; "
                                            r"upstream changed or the download was corrupted"):
        pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url)
    assert sorted(p.name for p in (tmp_path / "cache" / "gsm8k").iterdir()) == [".pull.lock"]


def test_pull_data_rejects_a_row_count_that_differs_from_its_pin(mirror: FileServer, tmp_path: Path) -> None:
    wrong = Dataset(name="gsm8k", licence="MIT", upstream="invented",
                    files=(pin("train.jsonl", ROWS, 3, "org/repo/raw/c0ffee/data/train.jsonl"),))
    with pytest.raises(DataPullError, match=r"train.jsonl: 2 rows, expected 3"):
        pull_data(wrong, tmp_path / "cache", base_url=mirror.base_url)


def test_pull_data_rejects_a_missing_upstream_file_naming_the_url(mirror: FileServer, tmp_path: Path) -> None:
    gone = Dataset(name="gsm8k", licence="MIT", upstream="invented",
                   files=(pin("train.jsonl", ROWS, 2, "org/repo/raw/c0ffee/gone.jsonl"),))
    with pytest.raises(DataPullError, match=rf"cannot download {mirror.base_url}org/repo/raw/c0ffee/gone.jsonl: "
                                            r"HTTP 404"):
        pull_data(gone, tmp_path / "cache", base_url=mirror.base_url)


def test_pull_data_does_report_download_progress(mirror: FileServer, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int | None]] = []
    pull_data(SMALL, tmp_path / "cache", base_url=mirror.base_url, progress=lambda *event: seen.append(event))
    assert seen[-1] == ("LICENSE", len(LICENCE), len(LICENCE))
    assert ("train.jsonl", len(ROWS), len(ROWS)) in seen


# --- MATH: built from an archive of per-problem files ------------------------------------------------

PROBLEMS = {
    "train/algebra/7.json": {"problem": "Solve $x+1=3$.", "level": "Level 1", "type": "Algebra",
                             "solution": "So $x=\\boxed{2}$."},
    "train/algebra/10.json": {"problem": "What is $3^2$?", "level": "Level ?", "type": "Algebra",
                              "solution": "It is $\\boxed 9$."},
    "test/number_theory/3.json": {"problem": "What is $7 \\bmod 4$?", "level": "Level 2", "type": "Number Theory",
                                  "solution": "The remainder is $\\fbox{3}$."},
}
EXPECTED_TRAIN = (
    '{"problem": "Solve $x+1=3$.", "solution": "So $x=\\\\boxed{2}$.", "answer": "2", "subject": "Algebra", '
    '"level": 1, "unique_id": "train/algebra/7.json"}\n'
    '{"problem": "What is $3^2$?", "solution": "It is $\\\\boxed 9$.", "answer": "9", "subject": "Algebra", '
    '"level": null, "unique_id": "train/algebra/10.json"}\n'
).encode()
EXPECTED_TEST = (
    '{"problem": "What is $7 \\\\bmod 4$?", "solution": "The remainder is $\\\\fbox{3}$.", "answer": "3", '
    '"subject": "Number Theory", "level": 2, "unique_id": "test/number_theory/3.json"}\n'
).encode()


def archive(problems: dict[str, dict[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, problem in [*problems.items(), ("README.txt", {})]:
            data = json.dumps(problem).encode()
            info = tarfile.TarInfo(f"repo-c0ffee/data/math/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


MATH = Dataset(name="math", licence="MIT", upstream="invented", archive="org/repo/archive/c0ffee.tar.gz",
               archive_folder="data/math", files=(pin("math_train.jsonl", EXPECTED_TRAIN, 2, None),
                                                  pin("math_test.jsonl", EXPECTED_TEST, 1, None)))


def test_pull_data_does_build_math_jsonl_from_the_per_problem_archive(mirror: FileServer, tmp_path: Path) -> None:
    mirror.put("org/repo/archive/c0ffee.tar.gz", archive(PROBLEMS))
    result = pull_data(MATH, tmp_path / "cache", base_url=mirror.base_url)
    assert [f.outcome for f in result.files] == ["fetched", "fetched"]
    assert (tmp_path / "cache" / "math" / "math_train.jsonl").read_bytes() == EXPECTED_TRAIN
    assert [t.id for t in load_tasks("math", "test", data_dir=tmp_path / "cache")] == ["test/number_theory/3.json"]
    assert not [p for p in (tmp_path / "cache" / "math").iterdir() if p.name.endswith(".part")]


def test_pull_data_does_download_the_archive_once_for_both_files(mirror: FileServer, tmp_path: Path) -> None:
    mirror.put("org/repo/archive/c0ffee.tar.gz", archive(PROBLEMS))
    pull_data(MATH, tmp_path / "cache", base_url=mirror.base_url)
    (tmp_path / "cache" / "math" / "math_test.jsonl").unlink()
    (tmp_path / "cache" / "math" / "math_train.jsonl").write_bytes(b"damaged\n")
    mirror.paths.clear()
    result = pull_data(MATH, tmp_path / "cache", base_url=mirror.base_url)
    assert [f.outcome for f in result.files] == ["replaced", "fetched"]
    assert mirror.paths == ["org/repo/archive/c0ffee.tar.gz"]


def test_pull_data_rejects_an_archive_problem_without_a_boxed_answer(mirror: FileServer, tmp_path: Path) -> None:
    broken = {**PROBLEMS, "test/algebra/1.json": {**PROBLEMS["train/algebra/7.json"], "solution": "It is 2."}}
    mirror.put("org/repo/archive/c0ffee.tar.gz", archive(broken))
    with pytest.raises(TaskDataError, match=r"test/algebra/1.json: the solution has no \\boxed answer"):
        pull_data(MATH, tmp_path / "cache", base_url=mirror.base_url)


def test_pull_data_rejects_a_file_that_is_not_an_archive(mirror: FileServer, tmp_path: Path) -> None:
    mirror.put("org/repo/archive/c0ffee.tar.gz", b"<html>rate limited</html>")
    with pytest.raises(TaskDataError, match=r"cannot read the archive"):
        pull_data(MATH, tmp_path / "cache", base_url=mirror.base_url)
