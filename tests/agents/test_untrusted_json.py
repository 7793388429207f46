"""An LLM's JSON is untrusted: deep, non-finite or surrogate-laden arguments are an argument error (issue 11)."""

from __future__ import annotations

import pytest

from fnforge.agents._tools import ArgumentsError, parse_arguments


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"x": ' + "[" * 70 + "]" * 70 + "}", '{"x": NaN}', '{"x": 1e999}',
                                 '{"x": "\\ud800"}', '"' + "[" * 100_000 + '"'])
def test_parse_arguments_turns_untrusted_json_into_an_arguments_error(raw: str) -> None:
    with pytest.raises(ArgumentsError):
        parse_arguments(raw)
