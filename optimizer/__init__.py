"""How the functions learn: evaluation (cached, concurrent), the AgentOptimizer step, the trainer."""

from __future__ import annotations

from types import FunctionType as _FunctionType

from fnforge.optimizer._actions import ACTION_TOOLS, Action, smoke_arguments
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
from fnforge.optimizer._run_state import RunRecord, TrainingError, find_run
from fnforge.optimizer._run_state import StepRecord
from fnforge.optimizer._summary import RunStop, RunSummary, TestScore, read_summary
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
    "Domain",
    "DryRunPlan",
    "EvalCache",
    "EvalCacheError",
    "EventSink",
    "Failure",
    "FunctionReport",
    "History",
    "MERGE_MODES",
    "MergeOutcome",
    "OptimizerError",
    "OptimizerPrompt",
    "Phase",
    "PhaseStarted",
    "ProgressCallback",
    "REASONS",
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
    "TaskDone",
    "TaskResult",
    "TestScore",
    "ToolsetPrompts",
    "TrainConfig",
    "TrainEvent",
    "Trainer",
    "TrainingError",
    "TransferMatrix",
    "build_prompt",
    "build_report",
    "cache_key",
    "estimate_tokens",
    "evaluate",
    "find_run",
    "function_complexity",
    "load_prompts",
    "merge_domains",
    "plan_run",
    "plot_function_calls",
    "plot_heatmap",
    "plot_learning_curve",
    "read_summary",
    "smoke_arguments",
    "summary_lines",
    "transfer_matrix",
    "wilson_interval",
    "write_report",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, (type, _FunctionType)):
        _obj.__module__ = "fnforge.optimizer"
del _name, _obj
