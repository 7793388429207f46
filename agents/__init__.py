"""Who uses the functions: the LLM client, the tool and ReAct agents, trajectories.

Example (async or needs a provider, so shown, not run)::

    async with LLMClient(LLMConfig(model="gpt-4o", api_key=key)) as client:
        traj = await solve(AgentConfig(kind="tool"), function_set, task, sandbox, client)
    traj.answer, traj.stop
    # -> ('42', <StopReason.ANSWER: 'answer'>)
"""

from __future__ import annotations

from fnforge.agents._agent import AgentConfig, solve, stream
from fnforge.agents._client import LLMClient
from fnforge.agents._exceptions import (
    AgentError,
    LLMCacheError,
    LLMContextExceeded,
    LLMError,
    LLMRejected,
    LLMUnavailable,
    PromptTemplateError,
    TrajectoryError,
)
from fnforge.agents._fences import CodeRead, read_code
from fnforge.agents._lenient import JSONRead, read_json_object
from fnforge.agents._prompts import (
    AGENT_TEMPLATES,
    RUN_PYTHON,
    check_agent_template,
    check_placeholders,
    default_agent_template,
)
from fnforge.agents._react import ReactReply, parse_react
from fnforge.agents._render import render_messages
from fnforge.agents._replies import unreadable_text_call
from fnforge.agents._records import ClientStats, Completion, LLMConfig, ToolCall, Usage
from fnforge.agents._trajectory import (
    SCHEMA_VERSION,
    AnswerStep,
    ErrorStep,
    ModelStep,
    Step,
    StopReason,
    ToolStep,
    Trajectory,
    cut_middle,
    render_compact,
)

__all__ = [
    "AGENT_TEMPLATES",
    "AgentConfig",
    "AgentError",
    "AnswerStep",
    "ClientStats",
    "CodeRead",
    "Completion",
    "ErrorStep",
    "JSONRead",
    "LLMCacheError",
    "LLMClient",
    "LLMConfig",
    "LLMContextExceeded",
    "LLMError",
    "LLMRejected",
    "LLMUnavailable",
    "ModelStep",
    "PromptTemplateError",
    "RUN_PYTHON",
    "ReactReply",
    "SCHEMA_VERSION",
    "Step",
    "StopReason",
    "ToolCall",
    "ToolStep",
    "Trajectory",
    "TrajectoryError",
    "Usage",
    "check_agent_template",
    "check_placeholders",
    "cut_middle",
    "default_agent_template",
    "parse_react",
    "read_code",
    "read_json_object",
    "render_compact",
    "render_messages",
    "solve",
    "stream",
    "unreadable_text_call",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = "fnforge.agents"
        except (AttributeError, TypeError):
            pass
