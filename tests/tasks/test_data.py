"""Where the built-in datasets are read from, and the built-in slice: what it holds and what it serves."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from fnforge.tasks import (
    BUILTIN_DATA_DIR,
    DATASETS,
    MATH_SUBJECTS,
    SLICE_SEED,
    DataNotAvailableError,
    Task,
    load_tasks,
    locate_data,
    make_splits,
    select_split,
)

from .conftest import REPO


def pulled(real_data: Path, cache: Path, name: str) -> Path:
    """A pulled copy of ``name`` in ``cache``: the full files, which match the pins."""
    entry = next(d for d in DATASETS if d.name == name)
    (cache / name).mkdir(parents=True)
    for file in entry.files:
        shutil.copyfile(real_data / name / file.name, cache / name / file.name)
    return cache


# --- where data is read from ------------------------------------------------------------------------


def test_locate_data_does_prefer_a_given_folder_over_everything(tmp_path: Path) -> None:
    source = locate_data("math", data_dir=tmp_path / "mine", cache_dir=tmp_path / "cache")
    assert (source.origin, source.root) == ("folder", tmp_path / "mine")


def test_locate_data_does_fall_back_to_the_builtin_slice_when_nothing_was_pulled(tmp_path: Path) -> None:
    source = locate_data("gsm8k", cache_dir=tmp_path / "cache")
    assert (source.origin, source.folder) == ("builtin", BUILTIN_DATA_DIR / "gsm8k")


def test_locate_data_does_use_a_complete_pulled_copy(real_data: Path, tmp_path: Path) -> None:
    cache = pulled(real_data, tmp_path / "cache", "gsm8k")
    source = locate_data("gsm8k", cache_dir=cache)
    assert (source.origin, source.root) == ("cache", cache)
    assert len(load_tasks("gsm8k", "test", cache_dir=cache)) == 1319


def test_locate_data_rejects_tabmwp_when_nothing_was_pulled(tmp_path: Path) -> None:
    with pytest.raises(DataNotAvailableError) as info:
        locate_data("tabmwp", cache_dir=tmp_path / "cache")
    assert str(info.value) == ("tabmwp is not on this machine (fnforge ships no copy of it): "
                               "run `fnforge data pull tabmwp` (or pass --data DIR)")
    assert info.value.dataset == "tabmwp" and info.value.exit_code == 6


def test_locate_data_rejects_a_damaged_pulled_copy_instead_of_falling_back(tmp_path: Path) -> None:
    (tmp_path / "cache" / "math").mkdir(parents=True)
    (tmp_path / "cache" / "math" / "math_train.jsonl").write_text("{}\n")
    with pytest.raises(DataNotAvailableError, match=r"the pulled copy of math in .*cache/math is damaged or "
                                                    r"incomplete \(math_train.jsonl has 3 bytes, expected 6967671; "
                                                    r"math_test.jsonl is missing; LICENSE is missing\): "
                                                    r"run `fnforge data pull math`"):
        locate_data("math", cache_dir=tmp_path / "cache")


def test_locate_data_rejects_an_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'gaia'"):
        locate_data("gaia")


# --- what the slice serves --------------------------------------------------------------------------


def test_make_splits_does_serve_the_paper_sizes_of_every_math_subject_from_the_slice(tmp_path: Path) -> None:
    for subject in MATH_SUBJECTS:
        splits = make_splits(f"math:{subject}", n_train=20, n_test=80, seed=0, cache_dir=tmp_path)
        assert (len(splits.train), len(splits.test)) == (20, 80)


def test_make_splits_from_the_slice_rejects_another_seed(tmp_path: Path) -> None:
    with pytest.raises(DataNotAvailableError, match=r"^the built-in math slice holds the seed-0 selections only; "
                                                    r"seed 3 needs the full data: run `fnforge data pull math`"):
        make_splits("math:algebra", n_train=20, n_test=80, seed=3, cache_dir=tmp_path)


def test_make_splits_from_the_slice_rejects_more_tasks_than_it_has(tmp_path: Path) -> None:
    have = len(load_tasks("math:algebra@level5", "test"))
    with pytest.raises(DataNotAvailableError) as info:
        make_splits("math:algebra@level5", n_train=1, n_test=have + 1, seed=0, cache_dir=tmp_path)
    assert str(info.value) == (f"the built-in math slice has {have} test tasks of math:algebra@level5, {have + 1} "
                               "asked for; the full data has more: run `fnforge data pull math` (or pass --data DIR)")


def test_make_splits_from_the_slice_rejects_asking_for_every_task(tmp_path: Path) -> None:
    with pytest.raises(DataNotAvailableError, match=r"has 100 train tasks of gsm8k, all asked for"):
        make_splits("gsm8k", n_train=None, n_test=10, seed=0, cache_dir=tmp_path)


@pytest.mark.parametrize(("spec", "n_train", "n_test"), [
    ("math:algebra", 20, 80), ("math:precalculus", 40, 100), ("math", 100, 300), ("math@level3", 20, 80),
    ("math:number_theory@level5", 5, 20), ("gsm8k", 20, 80), ("gsm8k", 100, 200),
])
def test_make_splits_from_the_slice_equals_the_full_data_selection(real_data: Path, tmp_path: Path, spec: str,
                                                                   n_train: int, n_test: int) -> None:
    built_in = make_splits(spec, n_train=n_train, n_test=n_test, seed=0, cache_dir=tmp_path)
    full = make_splits(spec, n_train=n_train, n_test=n_test, seed=0, data_dir=real_data)
    assert (built_in.train.tasks, built_in.test.tasks) == (full.train.tasks, full.test.tasks)


def _prefix_holds(full: tuple[Task, ...], part: tuple[Task, ...], split: str) -> bool:
    """``part`` is exactly the first len(part) tasks of ``full`` in seed-0 selection order."""
    chosen = select_split(full, len(part), SLICE_SEED, split=split)  # type: ignore[arg-type]
    return set(chosen.ids) == {t.id for t in part}


@pytest.mark.parametrize("split", ["train", "test"])
def test_slice_is_a_prefix_of_the_selection_order_of_every_subject_and_level(real_data: Path, split: str) -> None:
    full = load_tasks("math", split, data_dir=real_data)  # type: ignore[arg-type]
    part = load_tasks("math", split)  # type: ignore[arg-type]
    for subject in (None, *MATH_SUBJECTS):
        for level in (None, 1, 2, 3, 4, 5):
            def keep(t: Task) -> bool:
                return subject in (None, t.domain.split(":")[1]) and level in (None, t.metadata["level"])
            assert _prefix_holds(tuple(filter(keep, full)), tuple(filter(keep, part)), split), (subject, level)


# --- what the slice is ------------------------------------------------------------------------------


def test_slice_holds_math_and_gsm8k_with_their_licences_and_nothing_else() -> None:
    files = sorted(str(p.relative_to(BUILTIN_DATA_DIR)) for p in BUILTIN_DATA_DIR.rglob("*") if p.is_file())
    assert files == ["SOURCE.md", "gsm8k/LICENSE", "gsm8k/test.jsonl", "gsm8k/train.jsonl", "math/LICENSE",
                     "math/math_test.jsonl", "math/math_train.jsonl"]
    assert all((BUILTIN_DATA_DIR / d / "LICENSE").read_text().startswith("MIT License") for d in ("math", "gsm8k"))


def test_slice_is_small() -> None:
    assert sum(p.stat().st_size for p in BUILTIN_DATA_DIR.rglob("*") if p.is_file()) < 2_000_000


def test_slice_has_at_least_the_paper_sizes_of_every_math_subject() -> None:
    for split, least in (("train", 40), ("test", 100)):
        counts = {s: len(load_tasks(f"math:{s}", split)) for s in MATH_SUBJECTS}  # type: ignore[arg-type]
        assert min(counts.values()) >= least, counts


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_data_slice", REPO / "tools" / "build_data_slice.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slice_equals_its_rebuild_from_the_full_files(real_data: Path, tmp_path: Path) -> None:
    rebuilt = _builder().build(real_data, tmp_path / "slice")
    shipped = {str(p.relative_to(BUILTIN_DATA_DIR)): p.read_bytes() for p in BUILTIN_DATA_DIR.rglob("*") if p.is_file()}
    assert sorted(rebuilt) == sorted(shipped)
    assert [name for name in sorted(shipped) if rebuilt[name] != shipped[name]] == []
