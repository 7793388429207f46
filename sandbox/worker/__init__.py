"""Layer 3, the OS boundary and the pool: confined worker processes and the Sandbox that drives them.

``_sandbox.py`` (the public ``Sandbox``), ``_pool.py`` (warm workers and spares),
``_process.py`` (one worker as the parent sees it), ``_worker.py`` (the worker
process), ``_confine.py`` (namespaces, private read-only root, uid,
capabilities, rlimits, parent-death signal), ``_seccomp.py`` (the syscall
allow-list), ``_syscalls.py`` (numbers per architecture), ``_landlock.py``,
``_audit.py`` (the audit hook). Internal to ``fnforge.sandbox``.
"""
