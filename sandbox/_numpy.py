"""numpy's raw-memory entry points, closed for sandboxed code.

An object array stores ``PyObject*`` pointers. Three ways let sandboxed code
choose those pointers, and each one crashed a worker (``SIGSEGV``; with
crafted bytes, a forged object is an arbitrary read/write inside the worker):

- ``np.ndarray(shape, dtype=object, buffer=bytearray(...))`` and the same
  through ``type(arr)``;
- ``np.ndarray(shape, dtype=object, strides=(4,))`` (misaligned pointers);
- ``arr.strides = (4,)`` on an object array.

:func:`guarded_ndarray` builds the class served as ``numpy.ndarray`` (and
returned by ``type(arr)``): a subclass whose constructor refuses ``buffer``
and ``strides`` for dtypes that hold objects, and for which ``isinstance``/
``issubclass`` answer as for the real class. ``_write_`` hands out an
:class:`ArrayWriter` for arrays, which passes item writes through and allows
only the attributes in ``SETTABLE`` (never ``strides``, ``data``, ``flags``).
"""

from __future__ import annotations

from typing import Any

from fnforge.sandbox._guards import Monitor

__all__ = ["SETTABLE", "ArrayWriter", "guarded_ndarray"]

SETTABLE = frozenset({"shape", "dtype", "real", "imag", "flat"})


class ArrayWriter:
    """What ``_write_(array)`` returns: item writes, and a few attribute writes."""

    __slots__ = ("_array", "_monitor")
    _array: Any
    _monitor: Monitor

    def __init__(self, array: Any, monitor: Monitor) -> None:
        object.__setattr__(self, "_array", array)
        object.__setattr__(self, "_monitor", monitor)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._array[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._array[key]

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in SETTABLE:
            self._monitor.refuse("numpy-memory", f"ndarray.{name} cannot be set in the sandbox")
        setattr(self._array, name, value)


def guarded_ndarray(numpy: Any, monitor: Monitor) -> type:
    """The ``numpy.ndarray`` sandboxed code sees: no object arrays over chosen memory."""
    real = numpy.ndarray
    facade: list[type] = []

    class _Meta(type):
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, real) if cls is facade[0] else type.__instancecheck__(cls, obj)

        def __subclasscheck__(cls, sub: Any) -> bool:
            return issubclass(sub, real) if cls is facade[0] else type.__subclasscheck__(cls, sub)

    class ndarray(real, metaclass=_Meta):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def __new__(cls, shape: Any, dtype: Any = float, buffer: Any = None, offset: int = 0,
                    strides: Any = None, order: Any = None) -> Any:
            if (buffer is not None or strides is not None) and numpy.dtype(dtype).hasobject:
                monitor.refuse("numpy-memory", "ndarray(buffer=..., strides=...) cannot hold objects "
                                               "in the sandbox; use np.array or astype(object)")
            target = real if cls is facade[0] else cls
            return real.__new__(target, shape, dtype, buffer, offset, strides, order)

    ndarray.__module__ = "numpy"
    ndarray.__qualname__ = "ndarray"
    facade.append(ndarray)
    return ndarray
