"""The Ray engine: each cell attempt is a Ray task with declared CPU and memory.

``ray`` is imported here only, when a :class:`RayEngine` is made (it is the
optional extra ``fnforge[ray]``). The task is
:func:`~optimizer._sweep_worker.run_cell_data`: a plain dict in, a plain dict
out; the worker clones the toolset from the sweep's origin, so the origin must
be a URL or path every node reaches, and every node needs fnforge installed.
A task that dies with its worker or node comes back as a failed outcome, and
the sweep retries it like any other failure (Ray's own task retries are off,
so one rule counts attempts). With no address and no running Ray, a local
cluster is started for the sweep and stopped after it.
"""

from __future__ import annotations

from typing import Any  # Any: ray.init and ray.remote keyword options; ray object refs

from fnforge.optimizer._sweep_grid import SweepError
from fnforge.optimizer._sweep_worker import CellJob, CellOutcome, run_cell_data

__all__ = ["RayEngine"]


class RayEngine:
    """Cells as Ray tasks on a cluster (or a local Ray started for the sweep).

    Args:
        address: the cluster (``ray://host:10001``, ``auto``, ``host:6379``); None: the running
            Ray of this process, else ``RAY_ADDRESS``, else a new local cluster.
        cell_cpus: CPUs each cell declares (fractions are fine: a cell mostly waits for the LLM).
        cell_memory: bytes of memory each cell declares (None: none).
        slots: cells in flight at once (default: as many as the cluster's CPUs and memory hold now).
        init_options: more ``ray.init`` arguments when this engine starts Ray.

    Raises:
        SweepError: ray is not installed, or the cluster cannot be reached.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, cell_cpus: float = 1.0, cell_memory: int | None = None,
                 slots: int | None = None, init_options: dict[str, Any] | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise SweepError("the ray engine needs Ray: pip install 'fnforge[ray]'") from exc
        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            try:
                ray.init(address=address, **(init_options or {}))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise SweepError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}") from exc
        # ray leaves cluster_resources unannotated; it returns a dict of resource name to amount
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.slots = slots or _fitting_cells(resources, cell_cpus, cell_memory)
        options: dict[str, Any] = {"num_cpus": cell_cpus, "max_retries": 0}
        if cell_memory is not None:
            options["memory"] = cell_memory
        self._task = ray.remote(**options)(run_cell_data)
        self._refs: dict[Any, CellJob] = {}

    def submit(self, job: CellJob) -> None:
        ref = self._task.options(name=f"fnforge-cell:{job.cell}").remote(job.to_dict())
        self._refs[ref] = job

    def next_outcome(self) -> CellOutcome:
        if not self._refs:
            raise RuntimeError("no attempt in flight")
        ready, _ = self._ray.wait(list(self._refs), num_returns=1)
        job = self._refs.pop(ready[0])
        try:
            return CellOutcome.from_dict(self._ray.get(ready[0]))
        except self._ray.exceptions.RayError as exc:  # the worker or its node died, or the task was cancelled
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return CellOutcome(cell=job.cell, attempt=job.attempt, returncode=None,
                               error=f"lost on Ray: {type(exc).__name__}: {first}")

    def cancel(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref)  # KeyboardInterrupt in the task: the worker kills its train process

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()


def _fitting_cells(resources: dict[str, float], cell_cpus: float, cell_memory: int | None) -> int:
    """How many cells the cluster's current CPUs and memory hold at once (at least 1).

    Example:
        >>> _fitting_cells({"CPU": 8.0, "memory": 5e9}, 1.0, 2 * 10**9), _fitting_cells({"CPU": 2.0}, 0.5, None)
        (2, 4)
    """
    fits = int(resources.get("CPU", 1.0) // cell_cpus)
    if cell_memory:
        fits = min(fits, int(resources.get("memory", 0.0) // cell_memory))
    return max(1, fits)
