"""The optimizer LLM's JSON is untrusted: a deep action is a rejected action, not a RecursionError (issue 11)."""

from __future__ import annotations

import pytest

from fnforge.optimizer._actions import ActionRejected, parse_action


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"name": "x", "pad": ' + "[" * 70 + "]" * 70 + "}",
                                 '{"name": NaN}'])
def test_parse_action_rejects_untrusted_json_with_a_reason(raw: str) -> None:
    with pytest.raises(ActionRejected, match="cannot be read: .*(deep|NaN)"):
        parse_action("remove_function", raw)
