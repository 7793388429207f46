"""The run report: data read back from commits and notes, the HTML page, its PNGs, a headless render."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from fnforge.optimizer._report import build_report, function_complexity, summary_lines, write_report

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and Path(p).exists()), None)
SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def fn(name: str, body: str) -> Function:
    return Function(name=name, description=f"The {name} function.", parameters=SCHEMA,
                    code=f"def {name}(x):\n{body}")


SIGN = fn("sign", "    if x > 0:\n        return 1\n    elif x < 0:\n        return -1\n    return 0\n")
HALF = fn("half", "    return x / 2\n")


def train_note(score: float, calls: dict[str, int]) -> dict[str, object]:
    return {"train": {"accuracy": score, "n": 4, "correct": round(score * 4), "function_calls": calls,
                      "results": []}}


@pytest.fixture
def repo(tmp_path: Path) -> registry.Repository:
    """A run r1 as the trainer writes it: initial, accepted, rejected + roll-back, accepted; a test note."""
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"})
    base = {"Split": "train", "Run": "r1", "Tasks": "math:algebra (4 tasks, sha256:abc)"}
    v0 = repo.commit(FunctionSet(), subject="epoch 0: initial evaluation",
                     trailers={"Score": 0.25, "Status": "initial", "Epoch": 0, "Step": 0, **base})
    repo.add_note(v0.sha, train_note(0.25, {}))
    v1 = repo.commit(FunctionSet((HALF,)), subject="epoch 1: add half",
                     trailers={"Score": 0.5, "Status": "accepted", "Epoch": 1, "Step": 1, **base})
    repo.add_note(v1.sha, train_note(0.5, {"half": 2}))
    repo.commit(FunctionSet((fn("half", "    return x * 2\n"),)), subject="epoch 1: revise half",
                trailers={"Score": 0.0, "Status": "rejected", "Epoch": 1, "Step": 2, **base})
    repo.rollback(epoch=1, run="r1", trailers={"Step": 2})
    v3 = repo.commit(FunctionSet((HALF, SIGN)), subject="epoch 2: add sign",
                     trailers={"Score": 0.75, "Status": "accepted", "Epoch": 2, "Step": 3, **base})
    repo.add_note(v3.sha, {**train_note(0.75, {"half": 3, "sign": 2}),
                           "test": {"accuracy": 0.625, "n": 8, "correct": 5}})
    return repo


def test_build_report_reads_the_learning_curve_of_the_run(repo: registry.Repository) -> None:
    report = build_report(repo)
    assert [(p.step, p.status, p.score) for p in report.steps] == [
        (0, "initial", 0.25), (1, "accepted", 0.5), (2, "rejected", 0.0), (3, "accepted", 0.75)]
    assert (report.run, report.best_score, report.test_score, report.test_n) == ("r1", 0.75, 0.625, 8)


def test_build_report_counts_successful_calls_per_epoch(repo: registry.Repository) -> None:
    calls = {f.function.name: f.calls for f in build_report(repo).functions}
    assert calls == {"half": ((1, 2), (2, 3)), "sign": ((2, 2),)}


def test_build_report_keeps_each_function_history(repo: registry.Repository) -> None:
    history = {f.function.name: [h[1] for h in f.history] for f in build_report(repo).functions}
    assert history == {"half": ["rollback", "rejected", "accepted"], "sign": ["accepted"]}


def test_build_report_rejects_an_unknown_run(repo: registry.Repository) -> None:
    with pytest.raises(Exception, match="no run 'r9' on main; runs there: r1"):
        build_report(repo, run="r9")


def test_complexity_counts_branches_of_the_function_itself() -> None:
    assert function_complexity(SIGN)[0] == 3 and function_complexity(HALF)[:2] == (1, 2)


def test_write_report_inlines_the_learning_curve_and_every_best_function(repo: registry.Repository,
                                                                           tmp_path: Path) -> None:
    index = write_report(build_report(repo), tmp_path / "out")
    html = index.read_text()
    curve = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="learning curve"', html)
    assert curve is not None
    assert base64.b64decode(curve.group(1)) == (tmp_path / "out" / "learning-curve.png").read_bytes()
    for function in repo.read("best/main"):
        assert f'id="fn-{function.name}"' in html and function.code.splitlines()[0] in html
    assert Image.open(tmp_path / "out" / "learning-curve.png").size == (800, 450)
    assert Image.open(tmp_path / "out" / "function-calls.png").size == (800, 400)


def test_summary_lines_give_scores_and_complexity(repo: registry.Repository) -> None:
    lines = summary_lines(build_report(repo))
    assert lines[0] == "branch main, run r1: 4 steps (2 accepted, 1 rejected, 0 unchanged)"
    assert lines[1].endswith("train 0.2500 -> 0.7500, test 0.6250")
    assert lines[2] == "2 functions, mean cyclomatic complexity 2.0"


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium) for the headless render")
def test_report_renders_headless_to_a_non_blank_screenshot(repo: registry.Repository, tmp_path: Path) -> None:
    index = write_report(build_report(repo), tmp_path / "out")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600", f"--screenshot={shot}",
         index.as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 1600)
    low, high = image.getextrema()
    assert high - low > 100  # text and the plot, not a blank page


def test_build_report_shows_the_steps_that_committed_nothing(repo: registry.Repository) -> None:
    from fnforge.optimizer._live import Spend, StepStatus
    from fnforge.optimizer._run_state import StepRecord, append_step

    append_step(repo, "r1", StepRecord(step=4, epoch=2, status=StepStatus.UNCHANGED, score=0.75, best_score=0.75,
                                       subject="epoch 2: no change (terminated)"), Spend())
    report = build_report(repo)
    assert [(p.step, p.status) for p in report.steps][-2:] == [(3, "accepted"), (4, "unchanged")]
    assert summary_lines(report)[0] == "branch main, run r1: 5 steps (2 accepted, 1 rejected, 1 unchanged)"


def test_plots_of_one_epoch_span_whole_numbers_around_it() -> None:
    from matplotlib.figure import Figure

    from fnforge.optimizer._plots import _whole_numbers

    axes = Figure().add_subplot()
    axes.plot([1], [3], marker="o")
    _whole_numbers(axes, [1])
    assert axes.get_xlim() == (0.5, 1.5)  # matplotlib alone gives 0.945...1.055
