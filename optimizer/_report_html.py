"""Render a :class:`~optimizer._report.RunReport` as one self-contained HTML page (images inlined)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fnforge.optimizer._report import FunctionReport, RunReport

__all__ = ["render_html"]

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.muted { color: #666; } code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f6f8fa; padding: .7rem; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; margin: .6rem 0; } td, th { border: 1px solid #ddd; padding: .25rem .6rem; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-accepted { color: #2ca02c; } .status-rejected { color: #d62728; } .status-initial { color: #1f77b4; }
.status-rollback { color: #888; } .add { color: #116329; background: #e6ffec; display: block; }
.del { color: #82071e; background: #ffebe9; display: block; } .hunk { color: #6639ba; display: block; }
.fn { border: 1px solid #ddd; border-radius: 6px; padding: 0 1rem 1rem; margin: 1rem 0; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return f'<p class="muted">No data for the {escape(alt)} yet.</p>'
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" title="{escape(path.name)}">'


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _patch(text: str) -> str:
    lines = []
    for line in text.splitlines():
        cls = ""
        if line.startswith("+") and not line.startswith("+++"):
            cls = "add"
        elif line.startswith("-") and not line.startswith("---"):
            cls = "del"
        elif line.startswith("@@"):
            cls = "hunk"
        lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def _steps_table(report: RunReport) -> str:
    rows = "".join(
        f"<tr><td class=num>{p.step}</td><td class=num>{'' if p.epoch is None else p.epoch}</td>"
        f'<td class="status-{escape(p.status)}">{escape(p.status)}</td><td class=num>{p.score:.4f}</td>'
        f"<td class=num>{_score(p.val_score)}</td><td><code>{p.commit[:7] or '-'}</code></td>"
        f"<td>{escape(p.subject)}</td></tr>"
        for p in report.steps
    )
    return ("<table><tr><th>step</th><th>epoch</th><th>status</th><th>train score</th><th>validation score</th>"
            f"<th>commit</th><th>subject</th></tr>{rows}</table>")


def _functions_table(report: RunReport) -> str:
    rows = "".join(
        f'<tr><td><a href="#fn-{escape(fr.function.name)}"><code>{escape(fr.function.name)}</code></a></td>'
        f"<td class=num>{fr.complexity}</td><td class=num>{fr.nloc}</td><td class=num>{fr.helpers}</td>"
        f"<td class=num>{fr.calls[-1][1] if fr.calls else 0}</td><td class=num>{len(fr.history)}</td></tr>"
        for fr in report.functions
    )
    mean = report.mean_complexity
    foot = f"<p class=muted>Mean cyclomatic complexity: {mean:.2f} (lizard; the paper treats ≤ 10 as good).</p>" \
        if mean is not None else ""
    return ("<table><tr><th>function</th><th>cyclomatic complexity</th><th>nloc</th><th>nested helpers</th>"
            f"<th>successful calls (last epoch)</th><th>commits</th></tr>{rows}</table>{foot}")


def _calls_table(report: RunReport) -> str:
    epochs = sorted({e for fr in report.functions for e, _ in fr.calls})
    if not epochs:
        return '<p class="muted">No training notes with function calls.</p>'
    head = "".join(f"<th>epoch {e}</th>" for e in epochs)
    rows = ""
    for fr in report.functions:
        counts = dict(fr.calls)
        cells = "".join(f"<td class=num>{counts.get(e, '')}</td>" for e in epochs)
        rows += f"<tr><td><code>{escape(fr.function.name)}</code></td>{cells}</tr>"
    return f"<table><tr><th>function</th>{head}</tr>{rows}</table>"


def _function_section(fr: FunctionReport) -> str:
    fn = fr.function
    history = "".join(
        f'<details><summary><code>{short}</code> <span class="status-{escape(status)}">{escape(status)}</span> '
        f"{escape(subject)}</summary>{_patch(patch)}</details>"
        for short, status, subject, patch in fr.history
    )
    packages = ", ".join(fn.packages) or "none"
    return (
        f'<div class="fn" id="fn-{escape(fn.name)}"><h3><code>{escape(fn.name)}</code></h3>'
        f"<p>{escape(fn.description)}</p>"
        f"<p class=muted>cyclomatic complexity {fr.complexity} · {fr.nloc} lines of code · packages: "
        f"{escape(packages)}</p>"
        f"<details><summary>parameters (JSON Schema)</summary><pre>"
        f"{escape(json.dumps(fn.parameters, indent=2, sort_keys=True))}</pre></details>"
        f"<pre class=code>{escape(fn.code)}</pre>"
        f"<h4>History (git log -p of functions/{escape(fn.name)}.py and .json)</h4>{history}</div>"
    )


def render_html(report: RunReport, *, curve_png: Path, calls_png: Path | None) -> str:
    """The whole page as text; the PNGs are inlined as data URIs.

    Example:
        >>> from fnforge.optimizer import build_report, plot_learning_curve
        >>> _ = plot_learning_curve([(0, 0.25, "initial"), (1, 0.65, "accepted")], Path("learning-curve.png"))
        >>> render_html(build_report(repo), curve_png=Path("learning-curve.png"), calls_png=None)[:15]
        '<!doctype html>'
    """
    run = escape(report.run) if report.run else "all runs"
    test = _score(report.test_score) + (f" ({report.test_n} tasks)" if report.test_n else "")
    best = f"<code>{report.best_commit[:7]}</code>" if report.best_commit else "none"
    functions = "".join(_function_section(fr) for fr in report.functions) or "<p class=muted>No functions.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fnforge report: {escape(report.branch)}</title>
<style>{_CSS}</style></head><body>
<h1>fnforge report: {escape(report.branch)}</h1>
<p class="muted">run {run} · tasks {escape(report.tasks or "–")} · runs on this branch: {len(report.runs)}</p>
<table>
<tr><th>best commit</th><td>{best}</td></tr>
<tr><th>best train score</th><td class=num>{_score(report.best_score)}</td></tr>
<tr><th>validation score of the best</th><td class=num>{_score(report.best_val)}</td></tr>
<tr><th>test score of the best</th><td class=num>{test}</td></tr>
<tr><th>functions in the best set</th><td class=num>{len(report.functions)}</td></tr>
</table>
<h2 id="learning-curve">Learning curve</h2>
{_img(curve_png, "learning curve")}
{_steps_table(report)}
<h2 id="functions">Functions of the best set</h2>
{_functions_table(report)}
<h2 id="calls">Successful calls per function across epochs</h2>
{_img(calls_png, "successful calls per function")}
{_calls_table(report)}
<h2 id="code">Code and history</h2>
{functions}
<p class="muted">Generated by fnforge from commits, trailers and git notes. The functions are untrusted
LLM-written code; fnforge runs them only in its sandbox.</p>
</body></html>
"""
