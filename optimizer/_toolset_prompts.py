"""A toolset's own prompt templates: ``prompts/<template>`` files that replace the package's.

``prompts/tool.txt`` and ``prompts/react.txt`` replace the agents' system
prompts (the agent run's ``AgentConfig.system_prompt``, so they are part of the
evaluation-cache key), ``prompts/optimizer.md`` the optimizer prompt (sent as the
request's text, so the optimizer's response cache keys on it). Each file is
checked when it is read: a placeholder the prompt needs that is missing, or one
that is never filled, is a :class:`agents.PromptTemplateError` (exit code 2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fnforge.agents import AGENT_TEMPLATES, AgentConfig, PromptTemplateError, check_agent_template
from fnforge.optimizer._prompt import check_template

__all__ = ["PROMPTS_DIR", "ToolsetPrompts", "load_prompts"]

PROMPTS_DIR = "prompts"
"""The toolset folder that holds prompt templates."""

_FILES = {**{f"{kind}.txt": kind for kind in AGENT_TEMPLATES}, "optimizer.md": "optimizer"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolsetPrompts:
    """The templates a toolset overrides (``None``: the package's own).

    Attributes:
        tool, react: the system prompt templates of the two agent kinds.
        optimizer: the optimizer prompt template.
    """

    tool: str | None = None
    react: str | None = None
    optimizer: str | None = None

    def agent_config(self, config: AgentConfig) -> AgentConfig:
        """``config`` with this toolset's system prompt for its kind, unless it sets its own.

        Example:
            >>> ToolsetPrompts(tool="Be brief. $answer_instruction").agent_config(AgentConfig()).system_prompt
            'Be brief. $answer_instruction'
        """
        template = self.tool if config.kind == "tool" else self.react
        if template is None or config.system_prompt is not None:
            return config
        return replace(config, system_prompt=template)


def load_prompts(toolset: Path) -> ToolsetPrompts:
    """Read and check ``<toolset>/prompts/``; no folder gives the package's templates.

    Raises:
        agents.PromptTemplateError: a file has a missing, unknown or malformed placeholder, is not
            UTF-8, or is not named after a template (``tool.txt``, ``react.txt``, ``optimizer.md``).

    Example:
        >>> load_prompts(Path("no-such-toolset"))
        ToolsetPrompts(tool=None, react=None, optimizer=None)
    """
    folder = toolset / PROMPTS_DIR
    if not folder.is_dir():
        return ToolsetPrompts()
    found: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.name not in _FILES:
            raise PromptTemplateError(f"{path}: not a prompt template; the templates are "
                                      f"{', '.join(sorted(_FILES))}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptTemplateError(f"{path}: cannot be read: {exc}") from exc
        name = _FILES[path.name]
        found[name] = (check_template(text, source=str(path)) if name == "optimizer"
                       else check_agent_template(name, text, source=str(path)))
    return ToolsetPrompts(**found)
