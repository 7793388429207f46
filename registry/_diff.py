"""Per-function unified diffs between two versions (what ``fnforge diff`` prints)."""

from __future__ import annotations

import difflib

from fnforge.functions import FunctionSet, to_files
from fnforge.registry._writebase import WriteBase

__all__ = ["DiffMixin", "diff_sets"]


def diff_sets(old: FunctionSet, new: FunctionSet, *, old_label: str = "a", new_label: str = "b") -> str:
    """A unified diff of the two sets' files, grouped by function (added, removed, revised).

    Each function's ``.json`` (spec) and ``.py`` (code) get their own hunk
    headers ``--- a/functions/<name>.py`` / ``+++ b/functions/<name>.py``; an
    empty string means the sets are equal.
    """
    changes = old.diff(new)
    old_files, new_files = to_files(old), to_files(new)
    chunks: list[str] = []
    for name in sorted(changes.added + changes.removed + changes.revised):
        for suffix in (".json", ".py"):
            file = f"{name}{suffix}"
            before = old_files.get(file, b"").decode().splitlines(keepends=True)
            after = new_files.get(file, b"").decode().splitlines(keepends=True)
            if before == after:
                continue
            chunks.extend(
                difflib.unified_diff(
                    before,
                    after,
                    fromfile=f"{old_label}/functions/{file}" if before else "/dev/null",
                    tofile=f"{new_label}/functions/{file}" if after else "/dev/null",
                )
            )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)


class DiffMixin(WriteBase):
    """``diff``."""

    def diff(self, old: str, new: str = "HEAD") -> str:
        """The per-function unified diff from revision ``old`` to ``new`` ("" if the sets are equal).

        Raises:
            UnknownRevision: a revision names no commit.

        Example:
            >>> print(repo.diff("HEAD~1", "HEAD"))
            --- /dev/null
            +++ b/functions/double.json
            ...
            +++ b/functions/double.py
            @@ -0,0 +1,2 @@
            +def double(x):
            +    return 2 * x
            <BLANKLINE>
        """
        return diff_sets(self.read(old), self.read(new))
