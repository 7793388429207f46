"""Layer 2, the guarded runtime: what sandboxed code sees and every check on what it touches.

``_runtime.py`` (load, call, run), ``_hooks.py`` (RestrictedPython's hooks and
the builtins), ``_screen.py`` (which values are never handed out),
``_monitor.py`` (violations, output), ``_modules.py`` (allow-lists),
``_proxies.py`` (module proxies, safe ``sympify``), ``_libraries.py``
(numpy and sympy specifics), ``_numpy.py`` (raw-memory constructors),
``_codegen.py`` (sympy's generated code), ``_files.py`` (read-only in-memory
files), ``_outcomes.py`` (results and errors). Internal to ``fnforge.sandbox``.
"""
