"""fnforge's command line. Imported by nothing else in the project."""

from __future__ import annotations

from fnforge.cli._group import cli, main

__all__ = ["cli", "main"]
