"""Early rejection: stop evaluating a trial once no outcome of its remaining units could get it accepted.

The bound is the same for every rule: complete the units seen so far with the
**best case** (every unit not yet seen correct) and ask the rule
(:func:`~optimizer._significance.decide`). Each rule is monotone in the trial's
outcomes (one more correct unit never turns an acceptance into a rejection:
``strict`` and ``ties`` count, and the sign test's p-value only falls when a
loss becomes a tie or a tie a win), so when even the best case is rejected the
full evaluation is rejected too. The decision is therefore identical to a full
evaluation's; only the cost differs. For ``strict`` the bound reads
``correct_so_far + unseen <= best_correct``; for ``ties`` ``<``; for
``significant``, the sign test with every unseen unit where the best failed
turned into a win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic

from fnforge.optimizer._significance import AcceptRule, Unit, decide

__all__ = ["EarlyRejector", "hopeless"]


def hopeless(seen: Mapping[Unit, bool], best: Mapping[Unit, bool], rule: AcceptRule, alpha: float = 0.05) -> bool:
    """True when the trial (outcomes ``seen`` on some of ``best``'s units) is rejected whatever the rest are.

    Example:
        >>> best = {i: i < 15 for i in range(20)}
        >>> hopeless({i: False for i in range(5)}, best, "strict"), hopeless({i: False for i in range(4)}, best, "strict")
        (True, False)
    """
    optimistic = {unit: seen.get(unit, True) for unit in best}
    return not decide(optimistic, best, rule, alpha).accepted


class EarlyRejector(Generic[Unit]):
    """Watches a trial's outcomes arrive and says when it has become hopeless (``stopped``)."""

    def __init__(self, best: Mapping[Unit, bool], rule: AcceptRule, alpha: float = 0.05) -> None:
        self.best, self.rule, self.alpha = dict(best), rule, alpha
        self.seen: dict[Unit, bool] = {}
        self.stopped = False

    def observe(self, unit: Unit, correct: bool) -> bool:
        """Record one unit's outcome; True the first time the trial becomes hopeless."""
        if self.stopped or unit not in self.best:
            return False
        self.seen[unit] = correct
        self.stopped = hopeless(self.seen, self.best, self.rule, self.alpha)
        return self.stopped
