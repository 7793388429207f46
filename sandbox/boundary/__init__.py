"""Layer 4, the boundary: only JSON crosses between the host and a worker, and errors are typed.

``_protocol.py`` (framing, bounded decoding), ``_encoder.py`` (any value to
capped, JSON-safe data), ``_replies.py`` (a reply to a CallResult or an error),
``_errors.py`` (the exception tree). Internal to ``fnforge.sandbox``.
"""
