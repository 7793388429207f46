"""Reading scores: the best version of a branch for a task set, and every score on it (train and test)."""

from __future__ import annotations

from fnforge.registry._best import Measurement, TaskSet, best_measurement, measurements, task_set_of, task_sets
from fnforge.registry._notes import NotesMixin
from fnforge.registry._version import Version

__all__ = ["ScoresMixin"]


class ScoresMixin(NotesMixin):
    """``best``, ``best_score``, ``scores`` and ``task_sets`` (the rule is :mod:`registry._best`)."""

    def best(self, branch: str | None = None, split: str = "train", *,
             tasks: TaskSet | str | None = None) -> Version | None:
        """The branch's best version for a task set, or None if nothing is scored on it.

        The rule (the README's "Reading the result"): the first-parent commit
        with the highest score on that exact task set, among commits whose
        trailers are valid; ties go to the later acceptance; a batch run is
        judged by its own record. Train scores are the trailers; test scores
        the notes (``fnforge eval --split test``, the trainer's test run).

        Args:
            branch: a branch name or revision; None means HEAD.
            split: ``train`` or ``test``.
            tasks: the task set: a label (``math:algebra``), a description
                (``math:algebra (20 tasks, sha256:…)``), ``sha256:PREFIX`` or a
                :class:`TaskSet`; None means the branch's current one.

        Raises:
            UnknownRevision: ``branch`` names no commit.

        Example:
            >>> repo.best("main").score
            0.65
        """
        found = self.best_score(branch, split, tasks=tasks)
        return found.version if found is not None else None

    def best_score(self, branch: str | None = None, split: str = "train", *,
                   tasks: TaskSet | str | None = None) -> Measurement | None:
        """Like :meth:`best`, with the score and the task set it was measured on (for test: the note's)."""
        versions = self.log(branch)
        return best_measurement(versions, split, tasks=tasks, notes=self._notes_of(versions, split))

    def scores(self, branch: str | None = None, split: str = "train", *,
               tasks: TaskSet | str | None = None) -> list[Measurement]:
        """Every valid score on one task set (None: the current one) of the branch, newest first."""
        versions = self.log(branch)
        notes = self._notes_of(versions, split)
        task_set = task_set_of(versions, split, tasks=tasks, notes=notes)
        if task_set is None:
            return []
        return [m for m in measurements(versions, split, notes) if m.task_set.same(task_set)]

    def task_sets(self, branch: str | None = None, split: str = "train") -> list[TaskSet]:
        """The task sets the branch's history has valid scores on, newest first."""
        versions = self.log(branch)
        return task_sets(measurements(versions, split, self._notes_of(versions, split)))

    def _notes_of(self, versions: list[Version], split: str) -> dict[str, dict[str, object]] | None:
        return None if split == "train" else self.notes_for(v.sha for v in versions)
