"""The upstream files of the built-in datasets, rebuilt from a full data folder (shared/data) for a local mirror.

GSM8K's and TabMWP's files and every licence are the upstream bytes, so they
are copied. MATH upstream is an archive of per-problem files; this writes one
with the same layout (``agents-<commit>/src/agents/datasets/data/math/<split>/<subject>/<n>.json``)
from the rows of ``math_{train,test}.jsonl`` (``level`` back to ``"Level N"``,
``subject`` back to ``type``), so a pull must rebuild the pinned jsonl files
from it exactly.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from fnforge.tasks import DATASETS, Dataset

def math_archive(full: Path, folder: str, top: str) -> bytes:
    """A tar.gz of MATH's per-problem files under ``<top>/<folder>/``, made from the full jsonl files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "test"):
            for line in (full / "math" / f"math_{split}.jsonl").read_text().splitlines():
                row = json.loads(line)
                level = "Level ?" if row["level"] is None else f"Level {row['level']}"
                problem = {"problem": row["problem"], "level": level, "type": row["subject"],
                           "solution": row["solution"]}
                data = json.dumps(problem, indent=4).encode()
                info = tarfile.TarInfo(f"{top}/{folder}/{row['unique_id']}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upstream_files(entry: Dataset, full: Path) -> dict[str, bytes]:
    """Path below the base URL -> bytes, for every file a pull of ``entry`` downloads."""
    files = {f.source: (full / entry.name / f.name).read_bytes() for f in entry.files if f.source is not None}
    if entry.archive is not None and entry.archive_folder is not None:
        commit = entry.archive.rsplit("/", 1)[1].removesuffix(".tar.gz")
        files[entry.archive] = math_archive(full, entry.archive_folder, f"agents-{commit}")
    return files


def build_mirror(full: Path, root: Path) -> None:
    """Write every built-in dataset's upstream files below ``root``, as GitHub serves them."""
    for entry in DATASETS:
        for path, data in upstream_files(entry, full).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
