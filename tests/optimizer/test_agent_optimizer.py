"""AgentOptimizer.step (paper Alg. 1) against the scripted server and the real sandbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import LLMClient, LLMConfig
from fnforge.functions import Function, FunctionSet
from fnforge.optimizer._actions import ActionRejected, parse_action
from fnforge.optimizer._agent_optimizer import AgentOptimizer, Failure, History, StepResult
from fnforge.optimizer._smoke import smoke_arguments
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import Fault, Request, ScriptedLLM, reply_text, reply_tool_call, reply_tool_calls
from tests.optimizer.policies import (
    TERMINATE,
    OptimizerScript,
    add_call,
    make_report,
    remove_call,
    revise_call,
)

pytestmark = pytest.mark.anyio

POLICY = SandboxPolicy(timeout_s=1.0, kill_grace_s=0.5)
X = {"x": {"type": "number", "description": "a number"}}
DOUBLE = "def double(x):\n    return 2 * x\n"
SQUARE = "def square(x):\n    return x * x\n"


def fn(name: str, body: str = "return 2 * x") -> Function:
    return Function(name=name, description=f"The {name} function.",
                    parameters={"type": "object", "properties": X, "required": ["x"]},
                    code=f"def {name}(x):\n    {body}\n")


BEST = FunctionSet((fn("double"),))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(POLICY, workers=1, spares=1) as sb:
        yield sb


@pytest.fixture
async def client(llm_server: ScriptedLLM) -> AsyncIterator[LLMClient]:
    config = LLMConfig(model="optimizer-model", base_url=llm_server.base_url, max_retries=0, timeout_s=10.0)
    async with LLMClient(config) as c:
        yield c


def history(best: FunctionSet = BEST, failures: tuple[Failure, ...] = ()) -> History:
    report = make_report([True, False, False, True])
    return History(best=best, best_score=report.accuracy, report=report, failures=failures)


async def step(server: ScriptedLLM, client: LLMClient, sandbox: Sandbox, replies: list[Any], *,
               best: FunctionSet = BEST, **options: Any) -> StepResult:
    server.policy = OptimizerScript([replies])
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, **options)
    return await optimizer.step(best, history(best))


def tool_message(req: Request, index: int = -1) -> str:
    return req.tool_results()[index]


# ------------------------------------------------------------------ accepted actions


async def test_step_does_add_a_correct_helper(llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    result = await step(llm_server, client, sandbox,
                        [add_call("square", SQUARE, arguments=X, content="Squares recur."), TERMINATE])
    assert result.function_set.names == ("double", "square")
    assert [a.describe() for a in result.actions] == ["add square"] and result.describe() == "add square"
    assert result.terminated and result.rejections == ()
    assert result.function_set["square"].parameters["required"] == ["x"]
    assert result.actions[0].note == "Smoke call square(x=1) returned 1."
    assert result.rationale == "Squares recur."
    assert result.llm_calls == 2 and result.tokens > 0


async def test_step_does_outline_list_b_after_an_action_without_sending_its_code_again(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    await step(llm_server, client, sandbox, [add_call("square", SQUARE, arguments=X), TERMINATE])
    second = llm_server.requests[1]
    assert second.messages[0] == llm_server.requests[0].messages[0]  # the prompt is not rebuilt
    result_text = tool_message(second)
    assert result_text.startswith("Applied: add square.")
    assert "- double(x): as in List A\n- square(x): added in this step" in result_text
    assert "def " not in result_text  # List B's code is in the prompt and in the model's own call
    assert "You may make 2 more change(s)" in result_text


async def test_step_does_send_list_b_code_once_over_three_actions(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    def next_add(req: Request) -> Any:
        name = f"helper{req.turn}"
        return add_call(name, f"def {name}(x):\n    return x + {req.turn}\n", arguments=X)

    await step(llm_server, client, sandbox, [next_add], max_actions=3)
    last = json.dumps(llm_server.requests[-1].messages)
    assert last.count("return x + 0") == 1  # only in the call that added helper0
    assert last.count("return 2 * x") == 1  # List A, in the prompt only


async def test_step_does_keep_every_request_of_the_conversation_within_the_budget(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    report = make_report([i % 5 == 0 for i in range(200)], output_chars=2_000, calls=5)
    llm_server.policy = OptimizerScript([[remove_call("missing")]])  # rejected again and again: the talk grows
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, prompt_budget_tokens=12_000, max_retries=3)
    result = await optimizer.step(BEST, History(best=BEST, best_score=report.accuracy, report=report))
    sizes = [(len(json.dumps(r.messages)) + len(json.dumps(r.tools))) / 4 for r in llm_server.requests]
    assert len(sizes) == 12 and max(sizes) <= 12_000  # 3 slots x (1 + 3 retries), each request in budget
    assert result.conversation_tokens_estimate <= 12_000


async def test_step_does_end_the_conversation_where_the_next_request_would_exceed_the_budget(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    def long_add(req: Request) -> Any:  # a function with a 12,000-character docstring: ~3,000 tokens a turn
        name = f"long{req.turn}"
        return add_call(name, f'def {name}(x):\n    """{"word " * 2_400}"""\n    return x\n', arguments=X)

    llm_server.policy = OptimizerScript([[long_add]])
    report = make_report([i % 5 == 0 for i in range(200)], output_chars=2_000, calls=5)  # fills the first prompt
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, prompt_budget_tokens=16_000, max_actions=4)
    result = await optimizer.step(BEST, History(best=BEST, best_score=report.accuracy, report=report))
    assert result.cut[-1].startswith("conversation: ended after 3 calls, the next request")
    assert len(result.actions) == 3 and not result.terminated
    assert llm_server.count == 3 and result.conversation_tokens_estimate <= 16_000


async def test_step_does_key_each_call_by_its_sample_name_in_the_response_cache(
        llm_server: ScriptedLLM, sandbox: Sandbox, tmp_path: Path) -> None:
    config = LLMConfig(model="optimizer-model", base_url=llm_server.base_url, max_retries=0,
                       cache_path=tmp_path / "llm-cache.sqlite")
    llm_server.policy = OptimizerScript([[TERMINATE]])
    async with LLMClient(config) as cached_client:
        optimizer = AgentOptimizer(cached_client, sandbox, policy=POLICY)
        first = await optimizer.step(BEST, history(), sample="run-a/step-1")
        other = await optimizer.step(BEST, history(), sample="run-a/step-2")
        replay = await optimizer.step(BEST, history(), sample="run-a/step-1")
    assert (first.cached_calls, other.cached_calls, replay.cached_calls) == (0, 0, 1)
    assert llm_server.count == 2


async def test_step_does_revise_a_function_by_name(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    result = await step(llm_server, client, sandbox,
                        [revise_call("double", "def double(x):\n    return x + x\n", arguments=X), TERMINATE])
    assert result.function_set.names == ("double",)
    assert "return x + x" in result.function_set["double"].code
    assert [a.describe() for a in result.actions] == ["revise double"]


async def test_step_does_remove_a_function_by_name(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    best = BEST.add(fn("triple", "return 3 * x"))
    result = await step(llm_server, client, sandbox, [remove_call("double"), TERMINATE], best=best)
    assert result.function_set.names == ("triple",) and "double" not in result.function_set
    assert result.actions[0].function is None


async def test_step_does_tolerate_double_encoded_arguments(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    llm_server.set_faults({0: Fault.DOUBLE_ENCODED})
    result = await step(llm_server, client, sandbox, [add_call("square", SQUARE, arguments=X), TERMINATE])
    assert isinstance(json.loads(llm_server.requests[1].messages[1]["tool_calls"][0]["function"]["arguments"]), str)
    assert result.function_set.names == ("double", "square") and result.rejections == ()


async def test_step_does_tolerate_function_error_on_dummy_arguments(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    code = "def parse(text):\n    if text == '1':\n        raise ValueError('not an equation')\n    return text\n"
    args = {"text": {"type": "string"}}
    result = await step(llm_server, client, sandbox, [add_call("parse", code, arguments=args), TERMINATE])
    assert "parse" in result.function_set
    assert "raised ValueError: not an equation" in result.actions[0].note and "tolerated" in result.actions[0].note


# ------------------------------------------------------------------ rejections and retries


async def test_step_rejects_syntax_error_and_feeds_reason_back(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    broken = "def square(x):\n    return x *\n"
    result = await step(llm_server, client, sandbox,
                        [add_call("square", broken, arguments=X), add_call("square", SQUARE, arguments=X), TERMINATE])
    assert result.function_set.names == ("double", "square")
    assert len(result.rejections) == 1 and result.rejections[0].startswith("add_function(square):")
    feedback = tool_message(llm_server.requests[1])
    assert feedback.startswith("Rejected:") and "line 2: syntax error" in feedback
    assert llm_server.requests[1].messages != llm_server.requests[0].messages


async def test_step_rejects_forbidden_import_and_feeds_reason_back(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    code = "import os\ndef cwd(x):\n    return os.getcwd()\n"
    result = await step(llm_server, client, sandbox, [add_call("cwd", code, arguments=X), TERMINATE])
    assert result.function_set == BEST and result.actions == ()
    feedback = tool_message(llm_server.requests[1])
    assert "import of 'os' is not allowed" in feedback and "fails the sandbox check" in feedback
    assert "import of 'os' is not allowed" in result.rejections[0]


async def test_step_rejects_forbidden_package_and_feeds_reason_back(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    result = await step(llm_server, client, sandbox,
                        [add_call("square", SQUARE, arguments=X, packages="requests"), TERMINATE])
    assert result.actions == ()
    assert "package(s) requests not allowed" in tool_message(llm_server.requests[1])


async def test_step_rejects_smoke_call_that_times_out(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    code = "def spin(x):\n    while True:\n        x = x + 1\n"
    result = await step(llm_server, client, sandbox, [add_call("spin", code, arguments=X), TERMINATE])
    assert result.actions == ()
    feedback = tool_message(llm_server.requests[1])
    assert "the smoke call spin(x=1) failed" in feedback and "time limit" in feedback


@pytest.mark.parametrize(("reply", "reason"), [
    (remove_call("missing"), "there is no function 'missing' in List B (functions: double)"),
    (revise_call("missing", "def missing(x):\n    return x\n", arguments=X), "use add_function to create it"),
    (add_call("double", DOUBLE, arguments=X), "already exists in List B; use revise_function"),
    (reply_tool_call("delete_everything", {}), "unknown tool 'delete_everything'"),
    (reply_tool_call("add_function", '{"name": "f", "code": '), "cannot be read: the JSON ends before it is complete"),
    (reply_tool_call("add_function", {"name": "f"}), "missing the argument(s): description, arguments, code"),
])
async def test_step_rejects_bad_action_with_reason(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox, reply: Any, reason: str) -> None:
    result = await step(llm_server, client, sandbox, [reply, TERMINATE])
    assert result.function_set == BEST and result.terminated
    assert reason in tool_message(llm_server.requests[1]) and reason in result.rejections[0]


async def test_step_does_drop_an_action_after_max_retries(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    result = await step(llm_server, client, sandbox, [remove_call("missing")],
                        max_actions=2, max_retries=1)
    assert llm_server.count == 4 and len(result.rejections) == 4  # 2 slots x (1 + 1 retry)
    assert result.actions == () and not result.terminated
    assert "rejected 2 times and is dropped" in tool_message(llm_server.requests[2])


async def test_step_retries_never_hit_the_response_cache(
        llm_server: ScriptedLLM, sandbox: Sandbox, tmp_path: Path) -> None:
    config = LLMConfig(model="optimizer-model", base_url=llm_server.base_url, max_retries=0,
                       cache_path=tmp_path / "llm-cache.sqlite")
    llm_server.policy = OptimizerScript([[remove_call("missing"), remove_call("missing"), TERMINATE]])
    async with LLMClient(config) as cached_client:
        optimizer = AgentOptimizer(cached_client, sandbox, policy=POLICY)
        result = await optimizer.step(BEST, history())
    assert llm_server.count == 3 and result.cached_calls == 0 and len(result.rejections) == 2


# ------------------------------------------------------------------ ending a step


async def test_step_does_end_at_once_on_a_plain_text_reply(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    result = await step(llm_server, client, sandbox,
                        [reply_text("The list looks right to me."), add_call("square", SQUARE, arguments=X)])
    assert llm_server.count == 1 and result.terminated
    assert result.function_set == BEST and result.actions == ()
    assert result.rationale == "The list looks right to me."


async def test_step_does_respect_max_actions(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    def next_add(req: Request) -> Any:
        name = f"helper{req.turn}"
        return add_call(name, f"def {name}(x):\n    return x\n", arguments=X)

    result = await step(llm_server, client, sandbox, [next_add], max_actions=2)
    assert llm_server.count == 2 and len(result.actions) == 2 and not result.terminated
    assert result.function_set.names == ("double", "helper0", "helper1")
    assert "That was the last change of this step." in result.transcript[-1]["content"]


async def test_step_does_apply_only_the_first_of_several_tool_calls(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    square = json.loads(add_call("square", SQUARE, arguments=X).tool_calls[0][2])
    several = reply_tool_calls([("add_function", square), ("remove_function", {"name": "double"})])
    result = await step(llm_server, client, sandbox, [several, TERMINATE])
    assert result.function_set.names == ("double", "square")
    results = llm_server.requests[1].tool_results()
    assert results[0].startswith("Applied: add square.") and results[1].startswith("Ignored:")


async def test_step_rejects_best_that_is_not_history_best(client: LLMClient, sandbox: Sandbox) -> None:
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY)
    with pytest.raises(ValueError, match="history.best"):
        await optimizer.step(FunctionSet(), history())


async def test_step_does_send_failure_record_and_budget_stats(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]])
    failures = (Failure(function_set=BEST.add(fn("bad", "return 0")), score=0.25),)
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, prompt_budget_tokens=20_000)
    result = await optimizer.step(BEST, history(failures=failures))
    prompt = llm_server.requests[0].question
    assert "Failed set 1: success rate 0.2500" in prompt and "def bad(x):" in prompt
    assert llm_server.requests[0].tool_names == ["add_function", "revise_function", "remove_function"]
    assert 0 < result.prompt_tokens_estimate <= result.prompt_budget_tokens == 20_000
    assert result.cut == ()


async def test_step_does_keep_the_prompt_within_budget_for_500_long_tasks(
        llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]])
    report = make_report([i % 5 == 0 for i in range(500)], output_chars=2_000, calls=5)
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, prompt_budget_tokens=40_000)
    result = await optimizer.step(BEST, History(best=BEST, best_score=report.accuracy, report=report))
    sent = llm_server.requests[0]
    assert result.prompt_tokens_estimate <= 40_000
    assert len(sent.question) + len(json.dumps(sent.tools)) <= 40_000 * 4
    assert any(c.startswith("histories:") and "omitted" in c for c in result.cut)
    assert sent.question.count("\nt499: 1") + sent.question.count("\nt499: 0") == 1


# ------------------------------------------------------------------ parsing (no LLM)


def test_parse_action_does_accept_full_schema_object_and_type_aliases() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "int"}, "k": {"type": "float"}}, "required": []}
    code = "def f(n, k=2.0):\n    return n * k\n"
    action = parse_action("add_function", {"name": "f", "description": "d", "arguments": schema,
                                           "packages": "math, sympy>=1.12", "code": code})
    assert action.function is not None
    assert action.function.parameters == {"type": "object", "required": ["n"],
                                          "properties": {"n": {"type": "integer"}, "k": {"type": "number"}}}
    assert action.function.packages == ("math", "sympy")


def test_parse_action_rejects_name_that_differs_from_def() -> None:
    with pytest.raises(ActionRejected, match="must define 'def g"):
        parse_action("add_function", {"name": "g", "description": "d", "arguments": "{}",
                                      "code": "def f():\n    return 1\n"})


def test_smoke_arguments_does_fill_required_parameters_deterministically() -> None:
    schema = {"type": "object", "required": ["n", "s", "xs", "flag", "kind", "obj"], "properties": {
        "n": {"type": "integer", "minimum": 3}, "s": {"type": "string"}, "opt": {"type": "number"},
        "xs": {"type": "array", "items": {"type": "number"}}, "flag": {"type": "boolean"},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "obj": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"]}}}
    assert smoke_arguments(schema) == {"n": 3, "s": "1", "xs": [1], "flag": True, "kind": "a", "obj": {"k": "1"}}


async def test_optimizer_does_accept_many_actions_per_step_within_the_default_budget(client: LLMClient,
                                                                                     sandbox: Sandbox) -> None:
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, max_actions=40)  # room for the turns is capped
    assert optimizer.max_actions == 40
