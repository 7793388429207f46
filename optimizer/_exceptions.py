"""The optimizer package's errors.

Tree::

    FnforgeError
    └── OptimizerError          exit 1   optimizer/: evaluation, optimizer steps, training runs
"""

from __future__ import annotations

from fnforge.functions import FnforgeError

__all__ = ["OptimizerError"]


class OptimizerError(FnforgeError):
    """Root of optimizer/ errors; raised directly for a run, merge or report that cannot proceed."""

    exit_code = 1
