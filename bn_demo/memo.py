"""Figures and tables of a result built once, however many sessions draw it.

Thirty students watching one job all draw the same partial result (`Job.peek` hands the same object to
every watcher for a second). A function decorated with `shared` computes its value once per distinct
arguments: unhashable arguments (results, DataFrames) count by identity, held by weak references, so an
entry goes when its result does and nothing here keeps a result alive; hashable ones (layer numbers,
titles) count by value. The value must not hold its arguments, and callers must not modify it (a Plotly
figure handed to `st.plotly_chart` is only read).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

MAX_ENTRIES = 256  # per function: a bound in case many results stay alive at once
F = TypeVar("F", bound=Callable[..., Any])


class SharedDict(dict):
    """A dict that weak references can point at (a plain dict cannot): results keyed by run name."""


def shareable(result: Any) -> Any:
    """`result`, as an object `shared` can recognise by identity (plain dicts become SharedDicts)."""
    return SharedDict(result) if type(result) is dict else result


def _part(arg: Any) -> tuple[Hashable, Any] | None:
    """(how the argument counts in the key, the object to watch or None); None if it cannot count."""
    try:
        hash(arg)
    except TypeError:
        try:
            return ("id", id(arg)), weakref.ref(arg)
        except TypeError:
            return None
    return ("value", arg), None


def shared(fn: F) -> F:
    """Memoise `fn` per distinct arguments as described above; calls whose arguments can neither be
    hashed nor weakly referenced (a plain dict) are not memoised."""
    cache: OrderedDict[tuple, tuple[list[weakref.ref], Any]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        parts = [_part(a) for a in (*args, *kwargs.values())]
        if any(p is None for p in parts):
            return fn(*args, **kwargs)
        key = (tuple(p[0] for p in parts), tuple(kwargs))
        with lock:
            hit = cache.get(key)
            if hit is not None and all(r() is not None for r in hit[0]):
                cache.move_to_end(key)
                return hit[1]
        value = fn(*args, **kwargs)
        refs = [p[1] for p in parts if p[1] is not None]
        with lock:
            cache[key] = (refs, value)
            while len(cache) > MAX_ENTRIES:
                cache.popitem(last=False)
        for ref in refs:
            weakref.finalize(ref(), _forget, cache, lock, key)
        return value

    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _forget(cache: OrderedDict, lock: threading.Lock, key: tuple) -> None:
    with lock:
        cache.pop(key, None)
