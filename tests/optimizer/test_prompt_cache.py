"""The run's spend counts the prompt tokens the provider served from its prompt cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fnforge.optimizer import RunSummary, Spend, read_summary
from fnforge.optimizer._train_config import TrainConfig
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript
from tests.optimizer.trainer_support import agent_policy, init_repo, train


def test_spend_does_add_and_subtract_cached_tokens() -> None:
    total = Spend(tokens=10, cost=1.0, prompt_tokens=8, cached_tokens=4) + Spend(prompt_tokens=2, cached_tokens=1)
    assert (total.prompt_tokens, total.cached_tokens, total.cached_share) == (10, 5, 0.5)
    assert total - Spend(prompt_tokens=2, cached_tokens=1) == Spend(tokens=10, cost=1.0, prompt_tokens=8,
                                                                    cached_tokens=4)


def test_trainer_does_record_the_providers_cached_prompt_tokens(tmp_path: Path) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    with ScriptedLLM(script, prompt_cache=True) as server, Sandbox(SandboxPolicy(), workers=1) as sandbox:
        with init_repo(tmp_path / "t") as repo:
            summary = asyncio.run(train(repo, server.base_url, sandbox, TrainConfig(max_steps=2)))
    # two optimizer steps with the same List A: the second request starts as the first did
    assert 0 < summary.cached_tokens < summary.prompt_tokens < summary.tokens
    assert 0 < summary.cached_share < 1
    stored = read_summary(Path(summary.path))
    assert isinstance(stored, RunSummary)
    assert (stored.prompt_tokens, stored.cached_tokens) == (summary.prompt_tokens, summary.cached_tokens)
