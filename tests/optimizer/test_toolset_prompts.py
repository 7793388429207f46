"""A toolset's prompts/ folder: templates replace the package's, are checked on load, and key the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge.agents import AgentConfig, PromptTemplateError, default_agent_template
from fnforge.optimizer import ToolsetPrompts, load_prompts
from fnforge.optimizer._prompt import build_prompt, default_template
from tests.optimizer.policies import make_report
from tests.optimizer.test_prompt import BEST, MODULES


def write(toolset: Path, name: str, text: str) -> Path:
    (toolset / "prompts").mkdir(exist_ok=True)
    (toolset / "prompts" / name).write_text(text, encoding="utf-8")
    return toolset


def test_load_prompts_does_return_package_defaults_without_a_folder(tmp_path: Path) -> None:
    assert load_prompts(tmp_path) == ToolsetPrompts()


def test_load_prompts_does_read_each_template(tmp_path: Path) -> None:
    write(tmp_path, "tool.txt", "Be brief. $answer_instruction")
    write(tmp_path, "optimizer.md", "Improve the set.\n" + default_template())
    prompts = load_prompts(tmp_path)
    assert prompts.tool == "Be brief. $answer_instruction" and prompts.react is None
    assert prompts.optimizer is not None and prompts.optimizer.startswith("Improve the set.")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("tool.txt", "Be brief.", "missing placeholders $answer_instruction"),
    ("react.txt", default_agent_template("react") + " $tools", "unknown placeholders $tools"),
    ("optimizer.md", default_template().replace("$failures", ""), "missing placeholders $failures"),
    ("optimizer.md", default_template() + "$history", "unknown placeholders $history"),
    ("tool.txt", "Costs 5$. $answer_instruction", "a '$' that starts no placeholder"),
    ("agent.txt", "anything", "not a prompt template"),
])
def test_load_prompts_rejects_a_bad_template_with_exit_code_2(tmp_path: Path, name: str, text: str,
                                                               message: str) -> None:
    write(tmp_path, name, text)
    with pytest.raises(PromptTemplateError, match=message.replace("$", r"\$")) as caught:
        load_prompts(tmp_path)
    assert caught.value.exit_code == 2 and name in str(caught.value)


def test_toolset_prompts_does_set_the_agents_system_prompt_for_its_kind() -> None:
    prompts = ToolsetPrompts(react=default_agent_template("react") + "\nThink twice.")
    assert prompts.agent_config(AgentConfig(kind="tool")).system_prompt is None
    react = prompts.agent_config(AgentConfig(kind="react"))
    assert react.system_prompt is not None and react.system_prompt.endswith("Think twice.")
    # the system prompt is part of AgentConfig.to_dict, which the evaluation-cache key digests
    assert react.to_dict() != AgentConfig(kind="react").to_dict()


def test_build_prompt_does_use_a_toolset_template() -> None:
    template = "Custom optimizer.\n" + default_template()
    text = build_prompt(best=BEST, best_score=0.5, report=make_report([True, False]), failures=(), max_actions=3,
                        allowed_modules=MODULES, budget_tokens=60_000, template=template).text
    assert text.startswith("Custom optimizer.\nYou are a function optimizer.")
