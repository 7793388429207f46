"""Prompt templates (package data ``prompt_*.txt``) and tool descriptions in text."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from string import Template
from typing import Any  # Any: tool schemas (JSON Schema)

from fnforge.agents._exceptions import PromptTemplateError

__all__ = ["AGENT_TEMPLATES", "RUN_PYTHON", "RUN_PYTHON_TOOL", "check_agent_template", "check_placeholders",
           "default_agent_template", "describe_tools", "render"]

AGENT_TEMPLATES = ("react", "tool")
"""The agent kinds whose system prompt a toolset may replace (``prompts/<kind>.txt``)."""

_AGENT_VALUES = ("answer_instruction", "tool_descriptions", "tool_names")

RUN_PYTHON = "run_python"

RUN_PYTHON_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": RUN_PYTHON,
        "description": (
            "Run Python code in a sandbox and return what it prints (and the value of a final "
            "expression). Every other tool is defined there as a Python function, so the code "
            "may call them. Only allow-listed modules can be imported."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}

def render(template: str, **values: str) -> str:
    """Fill the package-data template ``prompt_<template>.txt``.

    Raises:
        KeyError: the template names a variable not given in ``values``.
    """
    return _template(template).substitute(values).strip()


@functools.cache
def _template(name: str) -> Template:
    """The package-data template ``prompt_<name>.txt``, read once per process (it is part of the installed
    package; reading it for every task cost more than the rest of a run's set-up)."""
    return Template(resources.files("fnforge.agents").joinpath(f"prompt_{name}.txt").read_text(encoding="utf-8"))


def check_placeholders(text: str, *, required: Iterable[str], allowed: Iterable[str], source: str) -> str:
    """``text`` if, as a ``string.Template``, it uses every ``required`` placeholder and only ``allowed`` ones.

    Raises:
        PromptTemplateError: naming ``source`` and each missing, unknown or malformed placeholder.

    Example:
        >>> check_placeholders("Hi $who", required=["who"], allowed=["who", "when"], source="greeting")
        'Hi $who'
    """
    template = Template(text)
    used = set(template.get_identifiers())
    problems = []
    if missing := sorted(set(required) - used):
        problems.append("missing placeholders " + ", ".join(f"${name}" for name in missing))
    if unknown := sorted(used - set(allowed)):
        problems.append("unknown placeholders " + ", ".join(f"${name}" for name in unknown)
                        + " (known: " + ", ".join(f"${name}" for name in sorted(allowed)) + ")")
    if not template.is_valid():
        problems.append("a '$' that starts no placeholder (write $$ for a dollar sign)")
    if problems:
        raise PromptTemplateError(f"{source}: {'; '.join(problems)}")
    return text


def default_agent_template(kind: str) -> str:
    """The package's system prompt template for ``kind`` (one of :data:`AGENT_TEMPLATES`).

    Example:
        >>> "$answer_instruction" in default_agent_template("tool")
        True
    """
    if kind not in AGENT_TEMPLATES:
        raise ValueError(f"no agent template {kind!r}; known: {', '.join(AGENT_TEMPLATES)}")
    return _template(kind).template


def check_agent_template(kind: str, text: str, *, source: str = "") -> str:
    """``text`` if it can replace the ``kind`` agent's system prompt: it uses the placeholders the default
    uses (the model needs them: the react agent's tool list, the answer format) and no unknown one.

    Raises:
        PromptTemplateError: a placeholder is missing, unknown or malformed.

    Example:
        >>> check_agent_template("tool", "Be brief. $answer_instruction")
        'Be brief. $answer_instruction'
    """
    required = Template(default_agent_template(kind)).get_identifiers()
    return check_placeholders(text, required=required, allowed=_AGENT_VALUES, source=source or f"{kind} template")


def describe_tools(tools: Sequence[dict[str, Any]]) -> str:
    """Tools as text for prompts without native tools: name, description, JSON Schema."""
    lines = []
    for tool in tools:
        fn = tool.get("function", tool)
        schema = json.dumps(fn.get("parameters", {}), sort_keys=True)
        lines.append(f"- {fn.get('name')}: {fn.get('description', '').strip()}\n  Arguments (JSON Schema): {schema}")
    return "\n".join(lines)
