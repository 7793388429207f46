"""FnforgeTransformer: RestrictedPython's policy, every call guarded, and augmented item/attribute assignment.

Every call goes through the runtime's ``_call_`` hook, which decides what
is really called (``runtime/_hooks.py``): a sandboxed function as it is,
library code with its callee, arguments and result screened::

    f(x, *rest, k=1)   ->   _call_(f)(x, *rest, k=1)

so ``*args``/``**kwargs`` need no ``_apply_`` any more. Calls the
transformer itself generates (``_getattr_(...)``, ``_getiter_(...)``...) name
hooks that sandboxed code cannot name, and are left alone. Unpack specs carry
``star`` (whether the target has a starred name), so the unpack hook takes
only the items a target without one needs.

RestrictedPython 9 rejects ``counts[k] += 1`` and ``self.n += 1`` at compile
time, which breaks ordinary table and counting code. This subclass rewrites
them through the same guards an explicit read-modify-write would use, with
the container and key evaluated exactly once::

    counts[k] += 1   ->   _tmp0 = counts
                          _tmp1 = k
                          _write_(_tmp0)[_tmp1] = _inplacevar_('+=', _getitem_(_tmp0, _tmp1), 1)

Attribute names keep every rule ``visit_Attribute`` enforces (no ``_``
prefix, no ``__roles__`` suffix, no inspect attributes). Slices are refused
with a hint, since a slice is not an expression that can be stored.
Everything else is inherited unchanged: RestrictedPython rejects any AST node
it has no audited visitor for, so new syntax stays denied by default.
"""

from __future__ import annotations

import ast
from typing import cast

from RestrictedPython.transformer import (INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, RestrictingNodeTransformer,
                                          copy_locations)

__all__ = ["FnforgeTransformer"]


def _name(identifier: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(identifier, ctx or ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


class FnforgeTransformer(RestrictingNodeTransformer):
    """RestrictedPython's transformer with guarded calls, allowing ``x[k] op= v`` and ``x.a op= v``."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval"):
            self.error(node, f"{node.func.id.capitalize()} calls are not allowed.")
        node = self.node_contents_visit(node)
        guarded = _call("_call_", node.func)
        copy_locations(guarded, node.func)
        node.func = guarded
        return node

    def gen_unpack_spec(self, tpl: ast.Tuple) -> ast.Dict:
        spec = super().gen_unpack_spec(tpl)
        spec.keys.append(ast.Constant("star"))
        spec.values.append(ast.Constant(any(isinstance(e, ast.Starred) for e in tpl.elts)))
        return spec

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt] | None:
        target = node.target
        if isinstance(target, ast.Name):
            return cast("ast.AST | None", super().visit_AugAssign(node))
        if isinstance(target, ast.Attribute):
            if not self._attribute_allowed(node, target.attr):
                return node
        elif isinstance(target, ast.Subscript):
            index = target.slice
            parts = index.elts if isinstance(index, ast.Tuple) else [index]
            if any(isinstance(part, ast.Slice) for part in parts):
                self.error(node, "Augmented assignment to a slice is not supported; "
                                 "write a[i:j] = a[i:j] + b instead.")
                return node
        else:  # pragma: no cover - the grammar allows nothing else
            self.not_allowed(node)
            return node
        return self._rewrite(node, target)

    def _attribute_allowed(self, node: ast.AST, attr: str) -> bool:
        if attr.startswith("_") and attr != "_":
            self.error(node, f'"{attr}" is an invalid attribute name because it starts with "_".')
            return False
        if attr.endswith("__roles__") or attr in INSPECT_ATTRIBUTES:
            self.error(node, f'"{attr}" is a restricted name, that is forbidden to access.')
            return False
        return True

    def _rewrite(self, node: ast.AugAssign, target: ast.Attribute | ast.Subscript) -> list[ast.stmt]:
        container = self.gen_tmp_name()
        statements: list[ast.stmt] = [
            ast.Assign(targets=[_name(container, ast.Store())], value=self.visit(target.value))
        ]
        if isinstance(target, ast.Attribute):
            current: ast.expr = _call("_getattr_", _name(container), ast.Constant(target.attr))
            store: ast.expr = ast.Attribute(
                value=_call("_write_", _name(container)), attr=target.attr, ctx=ast.Store()
            )
        else:
            key = self.gen_tmp_name()
            statements.append(
                ast.Assign(targets=[_name(key, ast.Store())], value=self.visit(target.slice))
            )
            current = _call("_getitem_", _name(container), _name(key))
            store = ast.Subscript(
                value=_call("_write_", _name(container)), slice=_name(key), ctx=ast.Store()
            )
        operator = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        new_value = _call("_inplacevar_", operator, current, self.visit(node.value))
        statements.append(ast.Assign(targets=[store], value=new_value))
        for statement in statements:
            ast.copy_location(statement, node)
            ast.fix_missing_locations(statement)
        return statements
