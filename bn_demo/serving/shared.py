"""Figures and tables of one result built once, however many sessions draw it at the same moment.

Thirty students watching one job draw the same partial result (`Job.peek` hands every watcher the same
object until the job reports again), and building the figures, not sending them, was 94 % of the server's
work per redraw. A function decorated with `shared` computes its value once per distinct arguments, and a
caller that asks while another is computing the same value waits for it instead of computing it too.

Arguments count by value where they are values (numbers, strings, frozen configs), by their items where
they are lists, tuples or dicts (a page's fresh list of the same runs is the same key), and by identity
otherwise (results, DataFrames): those are held by weak references, so an entry goes when its result goes
and nothing here keeps a result alive. The value must not hold its arguments, and callers must not modify
it (a Plotly figure handed to `st.plotly_chart` is only read).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

MAX_ENTRIES = 64  # per function: a bound in case many results stay alive at once
F = TypeVar("F", bound=Callable[..., Any])


class Unshareable(TypeError):
    """An argument that can be neither compared by value nor watched by a weak reference."""


def argument_key(arg: Any, watched: list[Any]) -> Hashable:
    """How `arg` counts in a key; objects counted by identity are appended to `watched`."""
    if isinstance(arg, (list, tuple)):
        return (type(arg).__name__, tuple(argument_key(a, watched) for a in arg))
    if isinstance(arg, dict):
        return ("dict", tuple((k, argument_key(v, watched)) for k, v in arg.items()))
    if type(arg).__hash__ not in (None, object.__hash__):  # a value (an object hashed by identity is not)
        try:
            hash(arg)
            return ("value", arg)
        except TypeError:  # a frozen dataclass holding a DataFrame
            pass
    try:
        weakref.ref(arg)
    except TypeError as e:
        raise Unshareable(type(arg).__name__) from e
    watched.append(arg)
    return ("id", id(arg))


def shared(fn: F) -> F:
    """Memoise `fn` per distinct arguments, as described above, one computation at a time per key."""
    cache: OrderedDict[Hashable, Future] = OrderedDict()
    lock = threading.RLock()  # a weak reference's callback may run inside the lock (a collection)

    def forget(key: Hashable) -> None:
        with lock:
            cache.pop(key, None)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        watched: list[Any] = []
        try:
            key = argument_key((args, kwargs), watched)
        except Unshareable:
            return fn(*args, **kwargs)
        with lock:
            future = cache.get(key)
            computing = future is None
            if computing:
                future = cache[key] = Future()
                while len(cache) > MAX_ENTRIES:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(key)
        if not computing:
            return future.result()
        try:
            value = fn(*args, **kwargs)
        except BaseException as e:
            forget(key)
            future.set_exception(e)
            raise
        for obj in watched:
            weakref.finalize(obj, forget, key)
        future.set_result(value)
        return value

    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
