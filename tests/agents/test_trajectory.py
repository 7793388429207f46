"""Trajectory records: JSON round trip, schema version, compact rendering."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.agents import (
    SCHEMA_VERSION,
    AnswerStep,
    ErrorStep,
    ModelStep,
    StopReason,
    ToolCall,
    ToolStep,
    Trajectory,
    TrajectoryError,
    Usage,
    cut_middle,
    render_compact,
)


def sample(question: str = "What is 2+2?", result: str = "4") -> Trajectory:
    call = ToolCall(id="c1", name="add", arguments='{"a": 2, "b": 2}')
    return Trajectory(
        agent="tool", task_id="t1", question=question, model="m", function_set="abc123",
        functions=("add",), rollout=1,
        system="s", tools=("add", "run_python"),
        steps=(
            ModelStep(turn=0, content=None, tool_calls=(call,), usage=Usage(prompt_tokens=10, completion_tokens=5),
                      latency_s=0.2, retries=1, cached=False, cost_usd=0.001),
            ToolStep(turn=0, call_id="c1", name="add", arguments=call.arguments, result=result, duration_s=0.01),
            ToolStep(turn=0, call_id="c2", name="nope", arguments="{}", error="unknown tool 'nope'",
                     error_kind="unknown_function"),
            ErrorStep(turn=1, error_kind="format", message="no Action line"),
            ModelStep(turn=1, content="\\boxed{4}", usage=Usage(prompt_tokens=20, completion_tokens=3)),
            AnswerStep(turn=1, text="\\boxed{4}", answer="4"),
        ),
        final_text="\\boxed{4}", answer="4", stop=StopReason.ANSWER,
        usage=Usage(prompt_tokens=30, completion_tokens=8), cost_usd=0.001, latency_s=0.5, turns=2, retries=1,
    )


def test_trajectory_does_round_trip_through_json() -> None:
    traj = sample()
    data = json.loads(json.dumps(traj.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION and data["stop"] == "answer"
    assert [s["kind"] for s in data["steps"]] == ["model", "tool", "tool", "error", "model", "answer"]
    assert Trajectory.from_dict(data) == traj


def test_trajectory_does_count_functions_called_successfully() -> None:
    assert sample().function_calls() == {"add": 1}
    assert [s.name for s in sample().tool_steps] == ["add", "nope"]


def test_trajectory_does_count_functions_that_run_python_code_called() -> None:
    snippet = ToolStep(turn=2, call_id="c3", name="run_python", arguments='{"code": "print(add(1, 2))"}',
                       result="3", called=("add",))
    failed = ToolStep(turn=2, call_id="c4", name="run_python", arguments="{}", error="boom", called=())
    traj = replace(sample(), steps=(*sample().steps, snippet, failed))
    assert traj.function_calls() == {"add": 2}
    assert Trajectory.from_dict(json.loads(json.dumps(traj.to_dict()))) == traj


def test_trajectory_rejects_unknown_schema_version() -> None:
    data = sample().to_dict() | {"schema_version": 99}
    with pytest.raises(TrajectoryError, match="schema_version 99"):
        Trajectory.from_dict(data)


def test_trajectory_rejects_missing_field() -> None:
    data = sample().to_dict()
    del data["steps"]
    with pytest.raises(TrajectoryError, match="task 't1' is invalid"):
        Trajectory.from_dict(data)


def test_render_compact_does_show_calls_results_and_errors() -> None:
    text = render_compact(sample())
    assert text.splitlines()[0].startswith("task t1 | stop=answer | answer=4 | turns=2")
    assert 'call add({"a": 2, "b": 2}) -> 4' in text
    assert "ERROR unknown_function: unknown tool 'nope'" in text
    assert "ERROR format: no Action line" in text


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=3000), st.text(max_size=3000), st.integers(min_value=60, max_value=2000))
def test_render_compact_does_stay_within_max_chars(question: str, result: str, max_chars: int) -> None:
    assert len(render_compact(sample(question, result), max_chars)) <= max_chars


@settings(max_examples=50)
@given(st.text(max_size=500), st.integers(min_value=0, max_value=600))
def test_cut_middle_does_keep_head_and_tail_within_limit(text: str, limit: int) -> None:
    out = cut_middle(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert out.startswith(text[: min(5, limit)])
        if limit >= 40:
            assert out.endswith(text[-5:]) and "chars cut" in out


def thinking_sample() -> Trajectory:
    steps = (ModelStep(turn=0, content="The answer is \\boxed{4}.", reasoning="Is it \\boxed{999}? No.",
                       finish_reason="stop"),
             AnswerStep(turn=0, text="The answer is \\boxed{4}.", answer="4"))
    return Trajectory(agent="tool", task_id="t1", question="2+2?", model="m", function_set="abc", functions=(),
                      rollout=0, steps=steps, final_text="The answer is \\boxed{4}.", answer="4",
                      stop=StopReason.ANSWER, turns=1)


def test_render_compact_does_keep_thinking_from_the_optimizer() -> None:
    text = render_compact(thinking_sample())
    assert "999" not in text and "thinking of 22 chars not shown" in text


def test_render_compact_does_mark_a_reply_cut_at_the_token_limit() -> None:
    cut = ModelStep(turn=0, content="So x is", finish_reason="length")
    assert "cut: finish_reason length" in render_compact(dataclasses.replace(thinking_sample(), steps=(cut,)))


def test_trajectory_does_round_trip_thinking_and_finish_reason() -> None:
    traj = thinking_sample()
    back = Trajectory.from_dict(json.loads(json.dumps(traj.to_dict())))
    assert back == traj and back.steps[0].reasoning == "Is it \\boxed{999}? No."  # type: ignore[union-attr]
