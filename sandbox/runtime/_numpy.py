"""numpy's raw-memory entry points, closed for sandboxed code.

numpy lets a caller place an array over memory it chooses, and checks the
bounds loosely: ``np.ndarray((n,), np.uint8, buffer=bytearray(16), offset=-n)``
is accepted by numpy 2.4 and reads (and writes: SIGSEGV) the worker's heap
(issue 11); an object array over chosen bytes forges ``PyObject*`` pointers.
Every way to choose the memory or the layout is closed:

- ``np.ndarray(shape, dtype, buffer=..., offset=..., strides=...)`` (and the
  same through ``type(arr)``): any of the three is refused, for every dtype;
  ``np.ndarray(shape, dtype)`` alone still allocates a fresh array;
- ``arr.strides = ...``, ``arr.data = ...``, ``arr.flags``: ``_write_`` hands
  out an :class:`ArrayWriter` for arrays, which passes item writes through and
  allows only the attributes in ``SETTABLE``;
- ``np.frombuffer``, ``np.from_dlpack``, ``np.lib`` (``stride_tricks.as_strided``,
  ``sliding_window_view``), ``np.ctypeslib``, ``arr.ctypes``, ``arr.setflags``
  and ``arr.resize`` are not on the allow-list (``_modules.py``, ``_hooks.py``).

:func:`guarded_ndarray` builds the class served as ``numpy.ndarray`` (and
returned by ``type(arr)``): a subclass whose constructor applies the rule
above, and for which ``isinstance``/``issubclass`` answer as for the real class.
"""

from __future__ import annotations

from typing import Any  # Any: numpy arrays and learned code's values (numpy is optional)

from fnforge.sandbox.runtime._monitor import Monitor

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

        def __new__(cls, shape: Any, dtype: Any = float, buffer: Any = None, offset: Any = 0,
                    strides: Any = None, order: Any = None) -> Any:
            if buffer is not None or strides is not None or not (type(offset) is int and offset == 0):
                monitor.refuse("numpy-memory", "ndarray(buffer=..., offset=..., strides=...) places an array "
                                               "over raw memory; use np.array, np.zeros or reshape")
            target = real if cls is facade[0] else cls
            return real.__new__(target, shape, dtype, None, 0, None, order)

    ndarray.__module__ = "numpy"
    ndarray.__qualname__ = "ndarray"
    facade.append(ndarray)
    return ndarray
