from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.tasks import (
    Task,
    TaskSplit,
    TaskSplitError,
    load_tasks,
    make_splits,
    select_split,
    selection_hash,
)

from .conftest import FIXTURES


def pool(size: int, prefix: str = "") -> tuple[Task, ...]:
    return tuple(Task(id=f"{prefix}{i}", question=f"q{i}", answer=str(i), domain="jsonl") for i in range(size))


POOL = pool(200)
seeds = st.integers(min_value=-(2**63), max_value=2**63)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, n=st.integers(min_value=0, max_value=200))
def test_select_split_does_choose_the_same_tasks_for_the_same_seed(seed: int, n: int) -> None:
    assert select_split(POOL, n, seed) == select_split(POOL, n, seed)


@settings(max_examples=25, deadline=None)
@given(first=seeds, second=seeds)
def test_select_split_does_choose_differently_for_different_seeds(first: int, second: int) -> None:
    if first != second:
        assert set(select_split(POOL, 20, first).ids) != set(select_split(POOL, 20, second).ids)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, order=st.randoms(use_true_random=False))
def test_select_split_does_not_depend_on_pool_order(seed: int, order: random.Random) -> None:
    shuffled = list(POOL)
    order.shuffle(shuffled)
    assert select_split(shuffled, 30, seed).ids == select_split(POOL, 30, seed).ids


@settings(max_examples=25, deadline=None)
@given(seed=seeds, n_train=st.integers(0, 100), n_test=st.integers(0, 100))
def test_select_split_does_keep_train_and_test_of_one_pool_apart(seed: int, n_train: int, n_test: int) -> None:
    train = select_split(POOL, n_train, seed, split="train")
    test = select_split(POOL, n_test, seed, split="test")
    assert not set(train.ids) & set(test.ids)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, small=st.integers(0, 50), extra=st.integers(0, 50))
def test_select_split_does_make_a_smaller_split_a_prefix_of_a_larger(seed: int, small: int, extra: int) -> None:
    assert select_split(POOL, small + extra, seed).ids[:small] == select_split(POOL, small, seed).ids


def test_select_split_does_take_the_whole_pool_for_none() -> None:
    assert sorted(select_split(POOL, None, 0).ids) == sorted(t.id for t in POOL)


def test_select_split_rejects_more_tasks_than_the_pool() -> None:
    with pytest.raises(TaskSplitError, match="jsonl:x: 201 train tasks requested, the pool has 200"):
        select_split(POOL, 201, 0, spec="jsonl:x")


def test_select_split_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate task ids"):
        select_split(POOL + POOL[:1], 3, 0)


def test_select_split_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        select_split(POOL, -1, 0)


def test_task_split_hash_does_ignore_order_and_follow_content() -> None:
    split = select_split(POOL, 10, 3)
    assert split.hash == selection_hash(split.tasks[::-1])
    changed = (Task(id=split.tasks[0].id, question="other", answer="1", domain="jsonl"), *split.tasks[1:])
    assert selection_hash(changed) != split.hash


def test_task_split_describe_does_give_a_stable_trailer_line() -> None:
    split = select_split(POOL, 20, 0, spec="math:algebra")
    assert split.describe() == f"math:algebra (20 tasks, sha256:{split.hash[:12]})"
    assert select_split(POOL, 1, 0, spec="gsm8k").describe().startswith("gsm8k (1 task, sha256:")


def test_task_split_does_iterate_and_count_its_tasks() -> None:
    split = select_split(POOL, 5, 0)
    assert tuple(split) == split.tasks and len(split) == 5


def test_task_split_record_does_restore_the_same_split() -> None:
    split = select_split(POOL, 12, 7, spec="jsonl:x", split="test")
    record = json.loads(json.dumps(split.to_dict()))
    assert record["n"] == 12 and record["seed"] == 7 and record["split"] == "test"
    assert TaskSplit.from_dict(record, POOL[::-1]) == split


def test_task_split_record_rejects_changed_task_content() -> None:
    split = select_split(POOL, 3, 0, spec="jsonl:x")
    edited = tuple(Task(id=t.id, question=t.question + "!", answer=t.answer, domain=t.domain) for t in POOL)
    with pytest.raises(TaskSplitError, match="jsonl:x train split: task content changed since it was recorded"):
        TaskSplit.from_dict(split.to_dict(), edited)


def test_task_split_record_rejects_a_task_gone_from_the_data() -> None:
    split = select_split(POOL, 3, 0, spec="jsonl:x")
    with pytest.raises(TaskSplitError, match="3 recorded task.s. no longer in the data"):
        TaskSplit.from_dict(split.to_dict(), pool(5, prefix="other"))


# --- make_splits ------------------------------------------------------------------------------------


def test_make_splits_does_draw_math_train_and_test_from_their_own_files(fixture_data: Path) -> None:
    splits = make_splits("math", n_train=3, n_test=2, seed=0, data_dir=fixture_data)
    assert all(i.startswith("train/") for i in splits.train.ids) and len(splits.train) == 3
    assert all(i.startswith("test/") for i in splits.test.ids) and len(splits.test) == 2
    assert splits.train.spec == "math" and (splits.train.split, splits.test.split) == ("train", "test")


def test_make_splits_does_keep_a_shared_pool_apart() -> None:
    spec = f"jsonl:{FIXTURES / 'qa.jsonl'}"
    splits = make_splits(spec, n_train=1, n_test=2, seed=0, question_field="prompt", answer_field="target")
    assert len(set(splits.train.ids) | set(splits.test.ids)) == 3


def test_make_splits_does_draw_validation_from_the_ranks_after_train(fixture_data: Path) -> None:
    splits = make_splits("math", n_train=2, n_test=2, seed=0, n_val=1, data_dir=fixture_data)
    ahead = make_splits("math", n_train=3, n_test=2, seed=0, data_dir=fixture_data)
    assert splits.val is not None and splits.val.split == "val"
    assert splits.train.ids + splits.val.ids == ahead.train.ids  # seeded, and disjoint from train by construction
    assert make_splits("math", n_train=2, n_test=2, seed=0, data_dir=fixture_data).val is None


def test_make_splits_does_keep_validation_apart_from_a_shared_pools_test() -> None:
    spec = f"jsonl:{FIXTURES / 'qa.jsonl'}"
    splits = make_splits(spec, n_train=1, n_test=1, n_val=1, seed=0, question_field="prompt", answer_field="target")
    assert splits.val is not None and len({*splits.train.ids, *splits.val.ids, *splits.test.ids}) == 3
    with pytest.raises(TaskSplitError, match=r"share one pool of 3 tasks"):
        make_splits(spec, n_train=1, n_test=2, n_val=1, seed=0, question_field="prompt", answer_field="target")


def test_make_splits_rejects_a_shared_pool_too_small_for_both() -> None:
    with pytest.raises(TaskSplitError, match=r"train and test share one pool of 3 tasks; asked for 2 \+ 2"):
        make_splits(f"gaia:{FIXTURES / 'gaia'}", n_train=2, n_test=2, seed=0)


def test_make_splits_does_reproduce_the_papers_math_sizes_on_real_data(real_data: Path) -> None:
    first = make_splits("math:number_theory", n_train=20, n_test=80, seed=0, data_dir=real_data)
    again = make_splits("math:number_theory", n_train=20, n_test=80, seed=0, data_dir=real_data)
    assert (len(first.train), len(first.test)) == (20, 80)
    assert first == again
    assert first.train.describe() == again.train.describe()
    assert not {t.question for t in first.train} & {t.question for t in first.test}


def test_make_splits_does_keep_the_test_split_when_only_the_train_size_changes(real_data: Path) -> None:
    small = make_splits("tabmwp", n_train=10, n_test=100, seed=1, data_dir=real_data)
    large = make_splits("tabmwp", n_train=30, n_test=100, seed=1, data_dir=real_data)
    assert small.test.hash == large.test.hash
    assert large.train.ids[:10] == small.train.ids


def test_make_splits_does_use_pools_that_share_no_task(real_data: Path) -> None:
    for spec in ("gsm8k", "tabmwp", "math:algebra"):
        train = load_tasks(spec, "train", data_dir=real_data)
        test = load_tasks(spec, "test", data_dir=real_data)
        assert not {t.hash for t in train} & {t.hash for t in test}
