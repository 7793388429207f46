"""The built-in datasets' files as the loaders read them, where each comes from upstream, and their pins.

Every file a loader reads is pinned by size, sha256 and row count (lines of
a ``.jsonl``, top-level entries of a ``.json``). A pulled copy must match its
pins byte for byte, so a pulled dataset is the same everywhere: these are the
files of ``shared/data`` (see its ``SOURCE.md`` per dataset), and they were
checked against the upstream repositories at the pinned commits.

Upstream paths are relative to a base URL (default ``https://github.com/``):
``<owner>/<repo>/raw/<commit>/<path>`` for one file and
``<owner>/<repo>/archive/<commit>.tar.gz`` for a repository archive. A mirror
that serves the same paths can stand in for GitHub (``--base-url``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DATASETS", "DEFAULT_DATA_URL", "DataFile", "Dataset", "DatasetName", "dataset"]

DatasetName = Literal["gsm8k", "math", "tabmwp"]

DEFAULT_DATA_URL = "https://github.com/"
"""Where ``pull_data`` fetches from unless told otherwise."""

_GSM8K = "openai/grade-school-math/raw/3101c7d5072418e28b9008a6636bde82a006892c"
_MATH_LICENSE = "hendrycks/math/raw/01e89c223e2a9dc0f7f72435ee044307cf6b214a"
_MATH_ARCHIVE_COMMIT = "e8c4e3c2d19739d3dff59e577d1c97090cc15f59"
_PROMPTPG = "lupantech/PromptPG/raw/7cf61b1bec07222fc24b4f5a1410911f77c2d2c9"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataFile:
    """One file of a dataset folder, with its pins.

    Args:
        name: the file name inside the dataset's folder, e.g. ``math_train.jsonl``.
        size: bytes.
        sha256: hex digest of the bytes.
        rows: records (jsonl lines, or top-level entries of a json file); None for a licence.
        source: its upstream path relative to the base URL; None when it is built
            from the dataset's archive.

    Example:
        >>> DataFile(name="LICENSE", size=1062, sha256="86bbb73e...", source="org/repo/raw/abc/LICENSE").rows is None
        True
    """

    name: str
    size: int
    sha256: str
    rows: int | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """A built-in dataset: its files, its upstream and its licence.

    Args:
        name: ``gsm8k``, ``math`` or ``tabmwp``.
        files: every file of its folder.
        licence: the data's licence, as its authors state it.
        upstream: one line saying what is downloaded.
        archive: for files built rather than copied: the upstream archive (path
            relative to the base URL) holding the per-problem files.
        archive_folder: the folder inside that archive (below its top-level
            folder) that holds ``train/`` and ``test/``.
        sliced: a slice of it ships with fnforge (see ``tasks/data/SOURCE.md``).
    """

    name: DatasetName
    files: tuple[DataFile, ...]
    licence: str
    upstream: str
    archive: str | None = None
    archive_folder: str | None = None
    sliced: bool = False

    def file(self, name: str) -> DataFile:
        """The file called ``name``; KeyError when the dataset has none."""
        for file in self.files:
            if file.name == name:
                return file
        raise KeyError(name)

    @property
    def data_files(self) -> tuple[DataFile, ...]:
        """The files with records (not the licence)."""
        return tuple(f for f in self.files if f.rows is not None)


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        name="gsm8k",
        licence="MIT",
        upstream=f"openai/grade-school-math @ {_GSM8K.rsplit('/', 1)[1][:12]}: data/train.jsonl, test.jsonl, LICENSE",
        sliced=True,
        files=(
            DataFile(name="train.jsonl", size=4166206, rows=7473,
                     sha256="17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
                     source=f"{_GSM8K}/grade_school_math/data/train.jsonl"),
            DataFile(name="test.jsonl", size=749738, rows=1319,
                     sha256="3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
                     source=f"{_GSM8K}/grade_school_math/data/test.jsonl"),
            DataFile(name="LICENSE", size=1062,
                     sha256="86bbb73e855821d7c401912fd4bf82e34313e6e3b6fd6f909f2b6cc9e209a53b",
                     source=f"{_GSM8K}/LICENSE"),
        ),
    ),
    Dataset(
        name="math",
        licence="MIT",
        upstream=(f"the 12,500 per-problem files of MATH in the aiwaves-cn/agents archive @ "
                  f"{_MATH_ARCHIVE_COMMIT[:12]}, converted to jsonl; LICENSE from hendrycks/math"),
        archive=f"aiwaves-cn/agents/archive/{_MATH_ARCHIVE_COMMIT}.tar.gz",
        archive_folder="src/agents/datasets/data/math",
        sliced=True,
        files=(
            DataFile(name="math_train.jsonl", size=6967671, rows=7500,
                     sha256="9daa1516f9f04537fdde57418a18cbd988ff17792efd9b90da5c406befc8cbb5"),
            DataFile(name="math_test.jsonl", size=4376895, rows=5000,
                     sha256="60a9e8e792878bb6eaea958899cc38e628c59efa3f35b45d4c6695a2fc708382"),
            DataFile(name="LICENSE", size=1070,
                     sha256="8f6401fb0b1fbfcac17aac8d61e4e1b0d2de9aa190d8aa655fedc5fd783b2ace",
                     source=f"{_MATH_LICENSE}/LICENSE"),
        ),
    ),
    Dataset(
        name="tabmwp",
        licence="CC BY-NC-SA 4.0 (non-commercial use only)",
        upstream=(f"lupantech/PromptPG @ {_PROMPTPG.rsplit('/', 1)[1][:12]}: data/tabmwp/problems_dev1k.json, "
                  "problems_test1k.json, splits.json, LICENSE.md"),
        files=(
            DataFile(name="problems_dev1k.json", size=1111726, rows=1000,
                     sha256="e8a3acdb3726c7ab1e2eae0f72665b62c3794d8867d97484db02dd532cf71a4a",
                     source=f"{_PROMPTPG}/data/tabmwp/problems_dev1k.json"),
            DataFile(name="problems_test1k.json", size=1121836, rows=1000,
                     sha256="bf34a84d359c48ba8f401c49f65363858a8a63530921d319b175550e1f352f69",
                     source=f"{_PROMPTPG}/data/tabmwp/problems_test1k.json"),
            DataFile(name="splits.json", size=411685, rows=3,
                     sha256="b7ca8fc9a7a8ba29d7439bccf1ec729c148e1b693e95798794eb6e64b8bfbd24",
                     source=f"{_PROMPTPG}/data/tabmwp/splits.json"),
            DataFile(name="LICENSE", size=1062,
                     sha256="6ce21fd09fe2552b49e28a15e5af3555f2495be7e79b173f81d878b528074a8b",
                     source=f"{_PROMPTPG}/LICENSE.md"),
        ),
    ),
)
"""The three built-in datasets, by name order."""


def dataset(name: str) -> Dataset:
    """The built-in dataset called ``name``.

    Raises:
        ValueError: no built-in dataset has that name.

    Example:
        >>> dataset("math").file("math_test.jsonl").rows
        5000
    """
    for entry in DATASETS:
        if entry.name == name:
            return entry
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(d.name for d in DATASETS)}")
