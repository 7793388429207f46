"""Layer 1, the static gate: the rules a function's source must pass before it may run.

``_check.py`` (entry points, parsing, size and depth limits, RestrictedPython),
``_rules.py`` (shape, imports, names), ``_transformer.py`` (the RestrictedPython
policy subclass: guarded calls, augmented assignment). Internal to ``fnforge.sandbox``.
"""
