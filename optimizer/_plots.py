"""PNG figures for reports and transfer studies (matplotlib, Agg canvas, no pyplot state).

Each function draws one figure of a fixed pixel size (``size`` inches times
``dpi``) and writes it to ``path``; nothing global is touched, so figures can
be drawn from any thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any  # Any: matplotlib keyword arguments

if TYPE_CHECKING:  # matplotlib is imported by the first figure drawn: `import fnforge.optimizer` stays cheap
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

__all__ = ["plot_function_calls", "plot_heatmap", "plot_learning_curve"]

_STATUS_STYLE: dict[str, dict[str, Any]] = {  # Any: matplotlib keyword arguments
    "initial": {"marker": "s", "color": "#1f77b4", "label": "initial"},
    "accepted": {"marker": "o", "color": "#2ca02c", "label": "accepted"},
    "rejected": {"marker": "x", "color": "#d62728", "label": "rejected"},
    "manual": {"marker": "D", "color": "#9467bd", "label": "manual"},
    "merge": {"marker": "P", "color": "#8c564b", "label": "merge"},
    "unchanged": {"marker": ".", "color": "#7f7f7f", "label": "unchanged"},
}


def _figure(size: tuple[float, float], dpi: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _integer_ticks() -> MaxNLocator:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _whole_numbers(axes: Any, xs: Sequence[int]) -> None:
    """Integer ticks on the x axis, half a step of margin: one epoch shows as 1, not 0.945...1.050."""
    axes.xaxis.set_major_locator(_integer_ticks())
    if xs:
        axes.set_xlim(min(xs) - 0.5, max(xs) + 0.5)


def plot_learning_curve(
    points: Sequence[tuple[int, float, str]],
    path: Path,
    *,
    test_score: float | None = None,
    val_points: Sequence[tuple[int, float]] = (),
    title: str = "Learning curve",
    size: tuple[float, float] = (8.0, 4.5),
    dpi: int = 100,
) -> Path:
    """Train score per step, marked by status, with the best-so-far line and the best set's test score.

    Args:
        points: ``(step, train score, status)`` per scored commit, in order.
        path: where the PNG goes.
        test_score: the best set's test score (a dashed line), if known.
        val_points: ``(step, validation score)`` of the validated steps (initial and accepted
            trials of a run with ``--val``), drawn as a line with its own markers.
        title: the figure title.
        size: inches (width, height); with ``dpi`` fixes the pixel size.
        dpi: pixels per inch.

    Returns:
        ``path``.

    Example:
        >>> plot_learning_curve([(0, 0.3, "initial"), (1, 0.5, "accepted")], Path("curve.png")).name
        'curve.png'
    """
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    best: list[tuple[int, float]] = []
    for step, score, status in points:
        if status in ("initial", "accepted", "manual", "merge") and (not best or score > best[-1][1]):
            best.append((step, score))
        elif best:
            best.append((step, best[-1][1]))
    if best:
        axes.step([s for s, _ in best], [v for _, v in best], where="post", color="#7f7f7f", lw=1.2,
                  label="best so far (train)")
    for status, style in _STATUS_STYLE.items():
        chosen = [(s, v) for s, v, st in points if st == status]
        if chosen:
            axes.scatter([s for s, _ in chosen], [v for _, v in chosen], zorder=3, **style)
    if val_points:
        axes.plot([s for s, _ in val_points], [v for _, v in val_points], color="#2ca02c", marker="D", ms=5,
                  lw=1.2, zorder=2, label="validation")
    if test_score is not None:
        axes.axhline(test_score, color="#ff7f0e", ls="--", lw=1.2, label=f"test score of best: {test_score:.3f}")
    axes.set_xlabel("step")
    _whole_numbers(axes, [s for s, _, _ in points])
    axes.set_ylabel("score")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if points or test_score is not None:
        axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def plot_heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float]],
    path: Path,
    *,
    title: str = "Transfer (rows: trained on, columns: tested on)",
    labels: tuple[str, str] = ("trained on", "tested on"),
    size: tuple[float, float] = (6.4, 4.8),
    dpi: int = 100,
) -> Path:
    """A score matrix as an annotated heatmap on a fixed 0..1 colour scale (like the paper's Fig. 3).

    Args:
        rows: row labels (trained on).
        columns: column labels (tested on).
        values: ``values[i][j]`` for row i, column j.
        path: where the PNG goes.
        title: the figure title.
        labels: what the rows and the columns are (the axes' labels).
        size: inches (width, height).
        dpi: pixels per inch.

    Returns:
        ``path``.

    Example:
        >>> plot_heatmap(["none"], ["math:algebra"], [[0.3]], Path("m.png")).name
        'm.png'
    """
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    image = axes.imshow([list(r) for r in values], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(columns)), labels=list(columns), rotation=20, ha="right")
    axes.set_yticks(range(len(rows)), labels=list(rows))
    axes.set_ylabel(labels[0])
    axes.set_xlabel(labels[1])
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            axes.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value < 0.6 else "black")
    figure.colorbar(image, ax=axes, label="score")
    axes.set_title(title, fontsize="medium")
    return _save(figure, path)


def plot_function_calls(
    calls: Mapping[str, Sequence[tuple[int, int]]],
    path: Path,
    *,
    title: str = "Successful calls per function",
    size: tuple[float, float] = (8.0, 4.0),
    dpi: int = 100,
) -> Path:
    """Successful calls per function across epochs (one line per function).

    Args:
        calls: function name -> ``(epoch, successful calls)`` pairs.
        path: where the PNG goes.
        title: the figure title.
        size: inches (width, height).
        dpi: pixels per inch.

    Returns:
        ``path``.

    Example:
        >>> plot_function_calls({"solve": [(0, 2), (1, 5)]}, Path("calls.png")).name
        'calls.png'
    """
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    for name, series in sorted(calls.items()):
        ordered = sorted(series)
        axes.plot([e for e, _ in ordered], [c for _, c in ordered], marker="o", label=name)
    axes.set_xlabel("epoch")
    _whole_numbers(axes, [e for series in calls.values() for e, _ in series])
    axes.set_ylabel("successful calls (train)")
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(_integer_ticks())
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if calls:
        axes.legend(loc="upper left", fontsize="small")
    return _save(figure, path)
