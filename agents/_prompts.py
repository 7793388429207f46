"""Prompt templates (package data ``prompt_*.txt``) and tool descriptions in text."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from string import Template
from typing import Any

__all__ = ["RUN_PYTHON", "RUN_PYTHON_TOOL", "describe_tools", "render"]

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


def describe_tools(tools: Sequence[dict[str, Any]]) -> str:
    """Tools as text for prompts without native tools: name, description, JSON Schema."""
    lines = []
    for tool in tools:
        fn = tool.get("function", tool)
        schema = json.dumps(fn.get("parameters", {}), sort_keys=True)
        lines.append(f"- {fn.get('name')}: {fn.get('description', '').strip()}\n  Arguments (JSON Schema): {schema}")
    return "\n".join(lines)
