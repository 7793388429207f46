from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fnforge.tasks import Task, TaskDataError, TaskError, load_tasks

from .conftest import FIXTURES


def copy_data(fixture_data: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(fixture_data, target)
    return target


# --- MATH -------------------------------------------------------------------------------------------


def test_math_loader_does_read_train_tasks_from_the_train_file_only(fixture_data: Path) -> None:
    tasks = load_tasks("math", "train", data_dir=fixture_data)
    assert [t.id for t in tasks] == ["train/algebra/0.json", "train/algebra/1.json",
                                     "train/counting_and_probability/0.json", "train/geometry/7.json",
                                     "train/number_theory/2.json"]


def test_math_loader_does_read_test_tasks_from_the_test_file_only(fixture_data: Path) -> None:
    tasks = load_tasks("math", "test", data_dir=fixture_data)
    assert all(t.id.startswith("test/") for t in tasks) and len(tasks) == 3


def test_math_loader_does_fill_record_fields_in_snake_case(fixture_data: Path) -> None:
    task = load_tasks("math:counting_and_probability", "train", data_dir=fixture_data)[0]
    assert task == Task(id="train/counting_and_probability/0.json", question="How many ways can 3 books be ordered?",
                        answer="6", domain="math:counting_and_probability",
                        metadata={"subject": "counting_and_probability", "level": 3})


def test_math_loader_does_filter_by_subject_and_level(fixture_data: Path) -> None:
    assert [t.id for t in load_tasks("math:algebra@level5", "train", data_dir=fixture_data)] == ["train/algebra/0.json"]
    assert [t.id for t in load_tasks("math@level5", "train", data_dir=fixture_data)] == [
        "train/algebra/0.json", "train/number_theory/2.json"]


def test_math_loader_does_keep_a_null_level_unless_a_level_is_asked(fixture_data: Path) -> None:
    assert load_tasks("math:geometry", "train", data_dir=fixture_data)[0].metadata["level"] is None
    with pytest.raises(TaskError, match="has no train tasks"):
        load_tasks("math:geometry@level1", "train", data_dir=fixture_data)


def test_math_loader_rejects_a_test_problem_in_the_train_file(fixture_data: Path, tmp_path: Path) -> None:
    data = copy_data(fixture_data, tmp_path)
    test_line = (data / "math" / "math_test.jsonl").read_text().splitlines()[0]
    with (data / "math" / "math_train.jsonl").open("a") as handle:
        handle.write(test_line + "\n")
    with pytest.raises(TaskDataError, match=r"math_train.jsonl line 6: unique_id 'test/algebra/3.json' is not a train"):
        load_tasks("math", "train", data_dir=data)


def test_math_loader_does_skip_rows_with_an_empty_answer(fixture_data: Path, tmp_path: Path) -> None:
    data = copy_data(fixture_data, tmp_path)
    row = {"problem": "p", "solution": "\\boxed{}", "answer": "", "subject": "Algebra", "level": 1,
           "unique_id": "train/algebra/99.json"}
    with (data / "math" / "math_train.jsonl").open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    assert "train/algebra/99.json" not in {t.id for t in load_tasks("math", "train", data_dir=data)}


# --- corrupt and missing files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"problem": "p", "answer": "1"', "line 3: invalid JSON (Expecting ',' delimiter, column 31)"),
        ("[1, 2]", "line 3: expected a JSON object, got an array"),
        ('{"problem": "p", "solution": "s", "answer": "1", "level": 1, "unique_id": "train/algebra/9.json"}',
         "line 3: missing field 'subject' (fields: answer, level, problem, solution, unique_id)"),
        ('{"problem": 7, "solution": "s", "answer": "1", "subject": "Algebra", "level": 1, '
         '"unique_id": "train/algebra/9.json"}', "line 3: field 'problem' must be a string, got a number"),
        ('{"problem": "p", "solution": "s", "answer": "1", "subject": "Algebra", "level": "hard", '
         '"unique_id": "train/algebra/9.json"}', "line 3: field 'level' must be an integer, got a string"),
        ('{"problem": "p", "solution": "s", "answer": "1", "subject": "Topology", "level": 1, '
         '"unique_id": "train/topology/9.json"}', "line 3: unknown subject 'Topology'"),
    ],
)
def test_jsonl_reader_rejects_a_corrupt_line_naming_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "math").mkdir()
    good = (FIXTURES / "data" / "math" / "math_train.jsonl").read_text().splitlines()[:2]
    path = tmp_path / "math" / "math_train.jsonl"
    path.write_text("\n".join([*good, line, *good]) + "\n")
    with pytest.raises(TaskDataError) as info:
        load_tasks("math", "train", data_dir=tmp_path)
    assert str(info.value) == f"{path} {message}"
    assert (info.value.path, info.value.line, info.value.exit_code) == (str(path), 3, 6)


def test_jsonl_reader_rejects_invalid_utf8_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b'{"question": "q", "answer": "a"}\n{"question": "\xff", "answer": "a"}\n')
    with pytest.raises(TaskDataError, match=r"qa.jsonl line 2: not valid UTF-8"):
        load_tasks(f"jsonl:{path}", "train")


def test_jsonl_reader_does_skip_blank_lines_and_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('\n{"question": "q1", "answer": "a"}\n\n{"question": "q2", "answer": "b"}\n\n')
    assert [t.id for t in load_tasks(f"jsonl:{path}", "train")] == ["line2", "line4"]


def test_loader_rejects_a_missing_file_with_a_layout_hint(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError) as info:
        load_tasks("gsm8k", "test", data_dir=tmp_path)
    assert str(info.value) == (f"{tmp_path / 'gsm8k' / 'test.jsonl'}: file not found; the data folder should be "
                               "laid out like shared/data (gsm8k/, math/, tabmwp/)")


def test_loader_does_read_the_builtin_slice_without_a_data_folder() -> None:
    tasks = load_tasks("math:algebra", "train", data_dir=None)
    assert tasks and {t.domain for t in tasks} == {"math:algebra"}


def test_gsm8k_loader_does_take_a_row_id_when_the_row_has_one(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"id": "test/41", "question": "q", "answer": "#### 4"}\n')
    assert [t.id for t in load_tasks("gsm8k", "test", data_dir=tmp_path)] == ["test/41"]


def test_gsm8k_loader_rejects_a_row_id_of_the_other_split(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"id": "train/41", "question": "q", "answer": "#### 4"}\n')
    with pytest.raises(TaskDataError, match=r"test.jsonl line 1: id 'train/41' is not a test problem"):
        load_tasks("gsm8k", "test", data_dir=tmp_path)


def test_loader_rejects_an_unknown_split(fixture_data: Path) -> None:
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_tasks("gsm8k", "dev", data_dir=fixture_data)  # type: ignore[arg-type]


def test_loader_rejects_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(TaskError, match=r"task set 'jsonl:.*empty.jsonl' has no train tasks"):
        load_tasks(f"jsonl:{path}", "train")


# --- GSM8K ------------------------------------------------------------------------------------------


def test_gsm8k_loader_does_take_the_answer_from_the_final_hash_line(fixture_data: Path) -> None:
    tasks = load_tasks("gsm8k", "train", data_dir=fixture_data)
    assert [(t.id, t.answer, t.domain) for t in tasks] == [("train/0", "7", "gsm8k"), ("train/1", "1,200", "gsm8k")]
    assert tasks[0].question == "Ann has 3 apples and buys 4 more. How many apples does she have?"


def test_gsm8k_loader_rejects_an_answer_without_a_final_line(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "it is 4"}\n')
    with pytest.raises(TaskDataError, match=r"test.jsonl line 1: answer has no final '#### <number>' line"):
        load_tasks("gsm8k", "test", data_dir=tmp_path)


# --- TabMWP -----------------------------------------------------------------------------------------


def test_tabmwp_loader_does_use_dev1k_for_train_and_test1k_for_test(fixture_data: Path) -> None:
    assert [t.id for t in load_tasks("tabmwp", "train", data_dir=fixture_data)] == ["dev/101", "dev/102"]
    assert [t.id for t in load_tasks("tabmwp", "test", data_dir=fixture_data)] == ["test/201", "test/202", "test/203"]


def test_tabmwp_loader_does_render_table_question_unit_and_options(fixture_data: Path) -> None:
    by_id = {t.id: t for t in load_tasks("tabmwp", "test", data_dir=fixture_data)}
    assert by_id["test/203"].question == (
        "Table: Practice\nDay | Minutes\nMonday | 18\nTuesday | 21\n\n"
        "Question: What was the rate of change? (Unit: minutes per day)")
    assert by_id["test/202"].question.endswith(
        "Question: Is there a shortage or a surplus at $10?\nOptions: (A) shortage (B) surplus")
    assert by_id["test/202"].metadata["choices"] == ["shortage", "surplus"]
    assert by_id["test/201"].metadata["unit"] == "$"


def test_tabmwp_loader_rejects_invalid_json_naming_the_line(fixture_data: Path, tmp_path: Path) -> None:
    data = copy_data(fixture_data, tmp_path)
    path = data / "tabmwp" / "problems_test1k.json"
    path.write_text(path.read_text().replace('"unit": "$"', '"unit": $'))
    with pytest.raises(TaskDataError, match=r"problems_test1k.json line \d+: invalid JSON \(Expecting value"):
        load_tasks("tabmwp", "test", data_dir=data)


def test_tabmwp_loader_rejects_an_answer_outside_the_choices(fixture_data: Path, tmp_path: Path) -> None:
    data = copy_data(fixture_data, tmp_path)
    path = data / "tabmwp" / "problems_test1k.json"
    problems = json.loads(path.read_text())
    problems["202"]["answer"] = "glut"
    path.write_text(json.dumps(problems))
    with pytest.raises(TaskDataError, match=r"problems_test1k.json: problem 202: answer 'glut' is not one of the"):
        load_tasks("tabmwp", "test", data_dir=data)


# --- GAIA -------------------------------------------------------------------------------------------


def test_gaia_loader_does_name_the_attachment_in_the_question() -> None:
    task = load_tasks(f"gaia:{FIXTURES / 'gaia'}", "test")[0]
    assert task.id == "t-001" and task.answer == "42" and task.domain == "gaia"
    assert task.question.endswith("\n\nAttached file: sales.csv (in your working directory)")
    assert task.attachments == (str((FIXTURES / "gaia" / "sales.csv").resolve()),)
    assert task.metadata["level"] == 1
    assert len(task.metadata["attachment_sha256"]["sales.csv"]) == 64


def test_gaia_loader_does_give_the_same_hash_wherever_the_folder_is(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "gaia", tmp_path / "elsewhere")
    here = load_tasks(f"gaia:{FIXTURES / 'gaia'}", "train")
    there = load_tasks(f"gaia:{tmp_path / 'elsewhere'}", "train")
    assert [t.hash for t in here] == [t.hash for t in there]
    assert here[0].attachments != there[0].attachments


def test_gaia_loader_does_change_the_hash_when_an_attachment_changes(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "gaia", tmp_path / "g")
    before = load_tasks(f"gaia:{tmp_path / 'g'}", "train")[0].hash
    (tmp_path / "g" / "sales.csv").write_text("region,units\nnorth,21\n")
    assert load_tasks(f"gaia:{tmp_path / 'g'}", "train")[0].hash != before


def test_gaia_loader_rejects_a_missing_attachment_naming_the_line(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "gaia", tmp_path / "g")
    (tmp_path / "g" / "sales.csv").unlink()
    with pytest.raises(TaskDataError) as info:
        load_tasks(f"gaia:{tmp_path / 'g'}", "test")
    assert str(info.value) == f"{tmp_path / 'g' / 'metadata.jsonl'} line 1: attachment 'sales.csv' not found in {tmp_path / 'g'}"


def test_gaia_loader_rejects_an_attachment_path_outside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "metadata.jsonl").write_text(json.dumps(
        {"task_id": "x", "Question": "q", "Level": 1, "Final answer": "a", "file_name": "../secret.txt"}) + "\n")
    with pytest.raises(TaskDataError, match="line 1: attachment '../secret.txt' must be a plain file name"):
        load_tasks(f"gaia:{tmp_path}", "test")


def test_gaia_loader_rejects_a_missing_metadata_file(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match=r"metadata.jsonl: file not found$"):
        load_tasks(f"gaia:{tmp_path}", "test")


# --- JSONL ------------------------------------------------------------------------------------------


def test_jsonl_loader_does_use_the_named_fields_and_ids() -> None:
    tasks = load_tasks(f"jsonl:{FIXTURES / 'qa.jsonl'}", "train", question_field="prompt", answer_field="target")
    assert [(t.id, t.question, t.answer, t.domain) for t in tasks] == [
        ("q1", "Capital of France?", "Paris", "jsonl"), ("q2", "Largest planet?", "Jupiter", "jsonl"),
        ("3", "How many legs has a spider?", "8", "jsonl")]
    assert tasks[0].metadata == {}


def test_jsonl_loader_does_record_a_non_default_scorer() -> None:
    tasks = load_tasks(f"jsonl:{FIXTURES / 'qa.jsonl'}", "train", question_field="prompt", answer_field="target",
                       scorer="numeric")
    assert tasks[2].metadata == {"scorer": "numeric"}


def test_jsonl_loader_rejects_a_missing_question_field() -> None:
    with pytest.raises(TaskDataError, match=r"qa.jsonl line 1: missing field 'question' \(fields: id, prompt, target\)"):
        load_tasks(f"jsonl:{FIXTURES / 'qa.jsonl'}", "train")


def test_jsonl_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "question": "q", "answer": "1"}\n{"id": "a", "question": "r", "answer": "2"}\n')
    with pytest.raises(TaskDataError, match=r"dup.jsonl line 2: duplicate task id 'a' \(first at line 1\)"):
        load_tasks(f"jsonl:{path}", "train")


def test_jsonl_loader_rejects_an_unknown_scorer() -> None:
    with pytest.raises(ValueError, match="unknown scorer 'fuzzy'"):
        load_tasks(f"jsonl:{FIXTURES / 'qa.jsonl'}", "train", scorer="fuzzy")


# --- Task record ------------------------------------------------------------------------------------


def test_task_dict_does_round_trip(fixture_data: Path) -> None:
    for task in load_tasks("tabmwp", "test", data_dir=fixture_data):
        assert Task.from_dict(json.loads(json.dumps(task.to_dict()))) == task


def test_task_from_dict_rejects_another_schema_version() -> None:
    with pytest.raises(ValueError, match="unsupported task schema_version 2"):
        Task.from_dict({"schema_version": 2, "id": "a", "question": "q", "answer": "a", "domain": "d"})


# --- the real benchmark files (skipped when shared/data is absent) --------------------------------


@pytest.mark.parametrize(
    ("spec", "split", "count"),
    [("gsm8k", "train", 7473), ("gsm8k", "test", 1319), ("math", "train", 7498), ("math", "test", 5000),
     ("tabmwp", "train", 1000), ("tabmwp", "test", 1000), ("math:intermediate_algebra", "test", 903),
     ("math:algebra@level5", "test", 307)],
)
def test_real_loader_does_read_every_row(real_data: Path, spec: str, split: str, count: int) -> None:
    tasks = load_tasks(spec, split, data_dir=real_data)  # type: ignore[arg-type]
    assert len(tasks) == count
    assert len({t.hash for t in tasks}) == count


def test_real_math_pools_do_not_share_problems(real_data: Path) -> None:
    train = load_tasks("math", "train", data_dir=real_data)
    test = load_tasks("math", "test", data_dir=real_data)
    assert not {t.id for t in train} & {t.id for t in test}
    assert not {t.question for t in train} & {t.question for t in test}


def test_real_tabmwp_pools_do_not_share_problems(real_data: Path) -> None:
    train = load_tasks("tabmwp", "train", data_dir=real_data)
    test = load_tasks("tabmwp", "test", data_dir=real_data)
    assert not {t.id.split("/")[1] for t in train} & {t.id.split("/")[1] for t in test}


def test_real_gsm8k_loader_does_extract_known_answers(real_data: Path) -> None:
    tasks = {t.id: t for t in load_tasks("gsm8k", "test", data_dir=real_data)}
    assert (tasks["test/0"].answer, tasks["test/2"].answer, tasks["test/146"].answer) == ("18", "70000", "2,125")
    assert tasks["test/0"].question.startswith("Janet\u2019s ducks lay 16 eggs per day.")


def test_real_tabmwp_loader_does_render_a_known_problem(real_data: Path) -> None:
    task = {t.id: t for t in load_tasks("tabmwp", "test", data_dir=real_data)}["test/82"]
    assert task.question.startswith("Table: Average food preparation time\nDay | Food preparation time (minutes)\n")
    assert task.question.endswith("between Wednesday and Thursday? (Unit: minutes per day)")
    assert task.answer == "3"
