"""How the functions learn: evaluation (cached, concurrent), the AgentOptimizer step, the trainer."""

from __future__ import annotations

from types import FunctionType as _FunctionType

from fnforge.optimizer._actions import ACTION_TOOLS, Action
from fnforge.optimizer._agent_optimizer import AgentOptimizer, Failure, History, StepResult
from fnforge.optimizer._eval_cache import CacheKey, EvalCache, EvalCacheError
from fnforge.optimizer._evaluation import REASONS, ProgressCallback, Report, TaskResult, evaluate, wilson_interval
from fnforge.optimizer._exceptions import OptimizerError
from fnforge.optimizer._live import (
    EventSink,
    Phase,
    PhaseStarted,
    RunFinished,
    RunStarted,
    Spend,
    StepFinished,
    StepStatus,
    TaskDone,
    TrainEvent,
)
from fnforge.optimizer._plots import plot_function_calls, plot_heatmap, plot_learning_curve
from fnforge.optimizer._plan import CallEstimate, DryRunPlan, plan_run
from fnforge.optimizer._prompt import OptimizerPrompt, build_prompt, estimate_tokens
from fnforge.optimizer._result_key import cache_key
from fnforge.optimizer._report import (
    FunctionReport,
    RunReport,
    StepPoint,
    build_report,
    function_complexity,
    summary_lines,
    write_report,
)
from fnforge.optimizer._report_sweep import TRANSFER_FOLDER, write_sweep_report
from fnforge.optimizer._run_state import (ProviderOutage, RunRecord, StepRecord, TrainingError, UnknownRun,
                                          check_measured, find_run)
from fnforge.optimizer._significance import TaskFlips, sign_test_p, task_flips
from fnforge.optimizer._smoke import smoke_arguments
from fnforge.optimizer._summary import RunStop, RunSummary, TestScore, read_summary
from fnforge.optimizer._sweep import SweepEvent, budget_share, local_workdir, plan_sweep, run_sweep
from fnforge.optimizer._sweep_engines import Engine, LocalEngine
from fnforge.optimizer._sweep_grid import Cell, SweepError, SweepGrid, TaskAxis
from fnforge.optimizer._sweep_ray import RayEngine
from fnforge.optimizer._sweep_results import SweepRow, format_sweep_table, sweep_csv, sweep_rows
from fnforge.optimizer._sweep_state import (CellState, CellStatus, SweepRecord, list_sweeps, load_sweep,
                                            sweep_dir)
from fnforge.optimizer._sweep_worker import CellJob, CellOutcome, push_branch, run_cell
from fnforge.optimizer._toolset_prompts import ToolsetPrompts, load_prompts
from fnforge.optimizer._train_config import TrainConfig
from fnforge.optimizer._trainer import Trainer
from fnforge.optimizer._transfer import (
    BASELINE_LABEL,
    MERGE_MODES,
    Domain,
    MergeOutcome,
    TransferMatrix,
    merge_domains,
    transfer_matrix,
)

__all__ = [
    "ACTION_TOOLS",
    "Action",
    "AgentOptimizer",
    "BASELINE_LABEL",
    "CacheKey",
    "CallEstimate",
    "Cell",
    "CellJob",
    "CellOutcome",
    "CellState",
    "CellStatus",
    "Domain",
    "DryRunPlan",
    "Engine",
    "EvalCache",
    "EvalCacheError",
    "EventSink",
    "Failure",
    "FunctionReport",
    "History",
    "LocalEngine",
    "MERGE_MODES",
    "MergeOutcome",
    "OptimizerError",
    "OptimizerPrompt",
    "Phase",
    "PhaseStarted",
    "ProgressCallback",
    "ProviderOutage",
    "REASONS",
    "RayEngine",
    "Report",
    "RunFinished",
    "RunRecord",
    "RunReport",
    "RunStarted",
    "RunStop",
    "RunSummary",
    "Spend",
    "StepFinished",
    "StepPoint",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "SweepError",
    "SweepEvent",
    "SweepGrid",
    "SweepRecord",
    "SweepRow",
    "TRANSFER_FOLDER",
    "TaskAxis",
    "TaskDone",
    "TaskFlips",
    "TaskResult",
    "TestScore",
    "ToolsetPrompts",
    "TrainConfig",
    "TrainEvent",
    "Trainer",
    "TrainingError",
    "TransferMatrix",
    "UnknownRun",
    "budget_share",
    "build_prompt",
    "build_report",
    "cache_key",
    "check_measured",
    "estimate_tokens",
    "evaluate",
    "find_run",
    "format_sweep_table",
    "function_complexity",
    "list_sweeps",
    "load_prompts",
    "load_sweep",
    "local_workdir",
    "merge_domains",
    "plan_run",
    "plan_sweep",
    "plot_function_calls",
    "plot_heatmap",
    "plot_learning_curve",
    "push_branch",
    "read_summary",
    "run_cell",
    "run_sweep",
    "sign_test_p",
    "smoke_arguments",
    "summary_lines",
    "sweep_csv",
    "sweep_dir",
    "sweep_rows",
    "task_flips",
    "transfer_matrix",
    "wilson_interval",
    "write_report",
    "write_sweep_report",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, (type, _FunctionType)):
        _obj.__module__ = "fnforge.optimizer"
del _name, _obj
