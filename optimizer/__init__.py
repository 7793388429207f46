"""How the functions learn: evaluation (cached, concurrent), the AgentOptimizer step, the trainer."""

from __future__ import annotations

from types import FunctionType as _FunctionType

from optimizer._actions import ACTION_TOOLS, Action, smoke_arguments
from optimizer._agent_optimizer import AgentOptimizer, Failure, History, StepResult
from optimizer._eval_cache import CacheKey, EvalCache, EvalCacheError
from optimizer._evaluation import ProgressCallback, Report, TaskResult, cache_key, evaluate, wilson_interval
from optimizer._exceptions import OptimizerError
from optimizer._live import (
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
from optimizer._plan import CallEstimate, DryRunPlan, plan_run
from optimizer._prompt import OptimizerPrompt, build_prompt, estimate_tokens
from optimizer._run_state import RunRecord, TrainingError, find_run
from optimizer._summary import RunStop, RunSummary, StepRecord, TestScore, read_summary
from optimizer._train_config import TrainConfig
from optimizer._trainer import Trainer

__all__ = [
    "ACTION_TOOLS",
    "Action",
    "AgentOptimizer",
    "CacheKey",
    "CallEstimate",
    "DryRunPlan",
    "EvalCache",
    "EvalCacheError",
    "EventSink",
    "Failure",
    "History",
    "OptimizerError",
    "OptimizerPrompt",
    "Phase",
    "PhaseStarted",
    "ProgressCallback",
    "Report",
    "RunFinished",
    "RunRecord",
    "RunStarted",
    "RunStop",
    "RunSummary",
    "Spend",
    "StepFinished",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "TaskDone",
    "TaskResult",
    "TestScore",
    "TrainConfig",
    "TrainEvent",
    "Trainer",
    "TrainingError",
    "build_prompt",
    "cache_key",
    "estimate_tokens",
    "evaluate",
    "find_run",
    "plan_run",
    "read_summary",
    "smoke_arguments",
    "wilson_interval",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, (type, _FunctionType)):
        _obj.__module__ = "optimizer"
del _name, _obj
