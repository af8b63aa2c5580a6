"""Finished results on disk, keyed by their full settings, so that a result trained once is never trained
again: not after a server restart, not by the next class.

Format: one folder per key, named by the SHA-256 of the key's canonical JSON. Inside, `manifest.json`
holds the result's structure and scalars, and each DataFrame is a Parquet file (pyarrow ships with
Streamlit). Parquet keeps dtypes, the index, NaN and nullable integers exactly, is compressed, and
pandas, DuckDB or Polars read it. JSON holds the rest. Nothing is pickled, so loading a result never
runs code, and only dataclasses of `bn_demo` can be rebuilt.

The store is bounded on disk: the least recently read entries go first. It is read lazily, one entry
when it is asked for. A read-only store serves the precomputed lessons shipped in the repository
(`data/lessons/`). The walker that writes results also measures what they hold in memory
(`result_bytes`) for the registry's bound.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import math
import os
import shutil
import threading
import uuid
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = 1  # part of every key's hash: raise it when results change shape, and old entries are ignored
MANIFEST = "manifest.json"
ENGINE_PACKAGE = "bn_demo"  # the only package whose dataclasses a stored result may name
REPO_ROOT = Path(__file__).resolve().parents[2]
LESSONS = REPO_ROOT / "data" / "lessons"  # precomputed lessons, shipped read-only with the repository
DEFAULT_FOLDER = REPO_ROOT / "store"  # gitignored: results trained on this machine, not source
DEFAULT_MAX_MB = 300
log = logging.getLogger(__name__)


class StoreError(TypeError):
    """A value the store cannot write (or a manifest naming something it must not rebuild)."""


@dataclass(frozen=True)
class Stored:
    """A result read back, and how long it took to train (the job's own duration)."""

    result: Any
    seconds: float


def encode(obj: Any, frames: list[pd.DataFrame] | None) -> Any:
    """`obj` as JSON values: tagged objects for what JSON lacks (tuples, ordered dicts with any keys,
    non-finite floats, numpy scalars, dataclasses); each DataFrame is appended to `frames` and
    replaced by its index there (frames=None refuses DataFrames, as in keys)."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.generic):
        return {"$np": obj.dtype.str, "v": encode(obj.item(), frames)}
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if isinstance(obj, list):
        return [encode(x, frames) for x in obj]
    if isinstance(obj, tuple):
        return {"$tuple": [encode(x, frames) for x in obj]}
    if isinstance(obj, dict):
        return {"$dict": [[encode(k, frames), encode(v, frames)] for k, v in obj.items()]}
    if isinstance(obj, pd.DataFrame):
        if frames is None:
            raise StoreError("a DataFrame cannot be part of a key")
        frames.append(obj)
        return {"$frame": len(frames) - 1}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        name = f"{cls.__module__}:{cls.__qualname__}"
        _check_engine(cls.__module__)
        if hasattr(cls, "to_dict") and hasattr(cls, "from_dict"):
            return {"$dataclass": name, "dict": encode(obj.to_dict(), frames)}
        fields = {f.name: encode(getattr(obj, f.name), frames) for f in dataclasses.fields(obj) if f.init}
        return {"$dataclass": name, "fields": fields}
    raise StoreError(f"cannot store a {type(obj).__name__}")


def decode(data: Any, frames: list[pd.DataFrame]) -> Any:
    """The inverse of `encode`, with the DataFrames read back in `frames`."""
    if isinstance(data, list):
        return [decode(x, frames) for x in data]
    if not isinstance(data, dict):
        return data
    if "$float" in data:
        return float(data["$float"])
    if "$np" in data:
        return np.dtype(data["$np"]).type(decode(data["v"], frames))
    if "$tuple" in data:
        return tuple(decode(x, frames) for x in data["$tuple"])
    if "$dict" in data:
        return {decode(k, frames): decode(v, frames) for k, v in data["$dict"]}
    if "$frame" in data:
        return frames[data["$frame"]]
    if "$dataclass" in data:
        cls = _engine_dataclass(data["$dataclass"])
        if "dict" in data:
            return cls.from_dict(decode(data["dict"], frames))
        return cls(**{k: decode(v, frames) for k, v in data["fields"].items()})
    raise StoreError(f"unknown tag in a stored result: {sorted(data)}")


def _check_engine(module: str) -> None:
    if module != ENGINE_PACKAGE and not module.startswith(ENGINE_PACKAGE + "."):
        raise StoreError(f"only {ENGINE_PACKAGE} dataclasses are stored, not {module}")


def _engine_dataclass(name: str) -> type:
    module, _, qualname = name.partition(":")
    _check_engine(module)
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise StoreError(f"{name} is not a dataclass")
    return obj


def key_json(key: Hashable) -> str:
    """The canonical JSON of a job key (configs, sweeps, names): equal keys give equal text."""
    return json.dumps({"format": FORMAT, "key": encode(key, None)}, sort_keys=True, separators=(",", ":"))


def key_digest(key: Hashable) -> str:
    return hashlib.sha256(key_json(key).encode()).hexdigest()


def frames_in(obj: Any) -> Iterator[pd.DataFrame]:
    """Every DataFrame inside a result (dicts, lists, tuples, dataclasses), once each."""
    frames: list[pd.DataFrame] = []
    encode(obj, frames)
    seen: set[int] = set()
    for frame in frames:
        if id(frame) not in seen:
            seen.add(id(frame))
            yield frame


def result_bytes(obj: Any) -> int:
    """What a result holds in memory: its DataFrames, measured deeply (strings included); 0 for a
    result the store cannot walk."""
    try:
        return int(sum(frame.memory_usage(deep=True).sum() for frame in frames_in(obj)))
    except StoreError:
        return 0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


class ResultStore:
    """Results by key in `folder`, at most `max_bytes` on disk (least recently read out first).
    Safe to share between threads, and between processes that only add and read entries."""

    def __init__(self, folder: str | Path, max_bytes: int = DEFAULT_MAX_MB * 2**20, read_only: bool = False) -> None:
        self.folder, self.max_bytes, self.read_only = Path(folder), max_bytes, read_only
        self.lock = threading.Lock()

    @classmethod
    def default(cls) -> ResultStore:
        """The writable store: `$BN_DEMO_STORE` or `store/` in the repository, bounded by
        `$BN_DEMO_STORE_MB` (default 300 MB)."""
        folder = os.environ.get("BN_DEMO_STORE") or DEFAULT_FOLDER
        return cls(folder, int(float(os.environ.get("BN_DEMO_STORE_MB", DEFAULT_MAX_MB)) * 2**20))

    @classmethod
    def lessons(cls) -> ResultStore:
        return cls(LESSONS, max_bytes=0, read_only=True)

    def path(self, key: Hashable) -> Path:
        return self.folder / key_digest(key)

    def __contains__(self, key: Hashable) -> bool:
        return (self.path(key) / MANIFEST).is_file()

    def get(self, key: Hashable) -> Stored | None:
        """The stored result for `key`, or None (also for an unreadable entry, which a writable store
        then deletes: the next finished job replaces it)."""
        folder = self.path(key)
        manifest = folder / MANIFEST
        if not manifest.is_file():
            return None
        try:
            meta = json.loads(manifest.read_text())
            if meta["key"] != json.loads(key_json(key)):
                return None  # a hash collision, in theory
            frames = [pd.read_parquet(folder / f"{i}.parquet") for i in range(meta["frames"])]
            stored = Stored(decode(meta["result"], frames), float(meta["seconds"]))
        except Exception as e:  # a cache entry that cannot be read is a miss, never an error page
            log.warning("unreadable stored result %s: %s", folder.name, e)
            if not self.read_only:
                shutil.rmtree(folder, ignore_errors=True)
            return None
        if not self.read_only:
            os.utime(manifest)  # last access, for the least-recently-used bound
        return stored

    def get_digest(self, digest: str) -> Hashable | None:
        """The key stored under `digest` (a link names a run by it), or None; reads the manifest only."""
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            return None
        try:
            return decode(json.loads((self.folder / digest / MANIFEST).read_text())["key"]["key"], [])
        except Exception:  # missing or unreadable: get() deals with the entry if it is asked for
            return None

    def put(self, key: Hashable, result: Any, *, seconds: float) -> bool:
        """Write `result` under `key` (False if this store is read-only, the result holds something
        the store cannot write, or it alone is over the bound). Entries are written to a temporary
        folder and renamed into place, so a reader never sees half an entry."""
        if self.read_only:
            return False
        frames: list[pd.DataFrame] = []
        try:
            meta = {"key": json.loads(key_json(key)), "result": encode(result, frames)}
        except StoreError as e:
            log.warning("result not stored: %s", e)
            return False
        meta.update(frames=len(frames), seconds=seconds)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            try:
                for i, frame in enumerate(frames):
                    frame.to_parquet(tmp / f"{i}.parquet", compression="zstd")
                (tmp / MANIFEST).write_text(json.dumps(meta, separators=(",", ":")))
            except Exception as e:  # e.g. a table Parquet cannot hold: the result stays in memory only
                log.warning("result not stored: %s", e)
                return False
            if folder_bytes(tmp) > self.max_bytes:
                return False
            with self.lock:
                try:
                    tmp.rename(self.path(key))
                except OSError:  # another thread or process stored it first
                    return True
                self._evict(keep=self.path(key))
            return True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last access, bytes, folder) of every complete entry."""
        found = []
        for folder in self.folder.glob("[0-9a-f]" * 4 + "*"):
            try:
                found.append(((folder / MANIFEST).stat().st_mtime, folder_bytes(folder), folder))
            except OSError:  # being written or deleted by someone else
                continue
        return found

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def _evict(self, keep: Path) -> None:
        entries = sorted(self.entries(), key=lambda e: e[0])
        total = sum(size for _, size, _ in entries)
        for _, size, folder in entries:
            if total <= self.max_bytes:
                break
            if folder != keep:
                shutil.rmtree(folder, ignore_errors=True)
                total -= size
