"""Harvesting residual-stream activations into a resumable, memory-mapped cache on disk.

Layout of one cache (``<cache_root>/<model-slug>-L<layer>/<key>/``, ``key`` a hash of the model
fingerprint, the settings and the texts):

- ``activations.f32`` (or ``.f16``): raw little-endian ``[n_tokens, d_model]`` array, read with
  :class:`numpy.memmap`, appended shard by shard;
- ``tokens.npy``: structured ``[n_tokens]`` array (``snippet``, ``position``, ``token_id``, ``start``,
  ``end``: the text index, the token's index in that text and its character span), appended in step;
- ``texts.jsonl``: the texts, one JSON string a line;
- ``meta.json``: model, layer, counts, progress and the ``done`` flag.

Each shard is written in this order: activations, then token rows, then the ``tokens.npy`` header, then
``meta.json`` (atomically replaced); each step is flushed and synced first. A killed harvest therefore
never leaves ``meta.json`` claiming more than is on disk, and :func:`harvest` resumes after the last
complete shard (cutting off any partial tail).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import ConfigError, EmbedError

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.neural.model import BaseModel

__all__ = [
    "ActivationCache",
    "HarvestProgress",
    "TOKEN_DTYPE",
    "cache_dir_for",
    "default_cache_root",
    "harvest",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Row type of ``tokens.npy``.
TOKEN_DTYPE = np.dtype(
    [("snippet", "<i4"), ("position", "<i4"), ("token_id", "<i4"), ("start", "<i4"), ("end", "<i4")]
)
_STORAGE = {"float32": ("f32", np.dtype("<f4")), "float16": ("f16", np.dtype("<f2"))}
_NPY_HEADER = 256  # fixed header size of tokens.npy, so it can be rewritten in place as rows are appended


# ---------------------------------------------------------------------------------------------- cache


class ActivationCache:
    """A (possibly partial) harvest on disk. Open one with :meth:`open`.

    ``activations`` ``[n_tokens, d_model]`` memory-mapped, ``tokens`` ``[n_tokens]`` (:data:`TOKEN_DTYPE`),
    ``texts``, ``meta``; ``done`` tells whether the harvest finished.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta

    @classmethod
    def open(cls, path: str | Path) -> ActivationCache:
        path = Path(path)
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EmbedError(f"{path} is not an activation cache (no meta.json)") from None
        except json.JSONDecodeError as e:
            raise EmbedError(f"{path / 'meta.json'}: not valid JSON ({e.msg})") from None
        if meta.get("format") != FORMAT_VERSION:
            raise EmbedError(
                f"{path}: activation cache format {meta.get('format')!r}, expected {FORMAT_VERSION}"
            )
        return cls(path, meta)

    def __repr__(self) -> str:
        state = "done" if self.done else f"partial {self.meta['texts_done']}/{self.n_texts} texts"
        return (
            f"ActivationCache({str(self.path)!r}, {self.meta['model']} L{self.layer}, "
            f"{self.n_tokens} tokens × {self.d_model}, {state})"
        )

    @property
    def model(self) -> str:
        return str(self.meta["model"])

    @property
    def layer(self) -> int:
        return int(self.meta["layer"])

    @property
    def d_model(self) -> int:
        return int(self.meta["d_model"])

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    @property
    def n_texts(self) -> int:
        return int(self.meta["n_texts"])

    @property
    def done(self) -> bool:
        return bool(self.meta["done"])

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE[self.meta["dtype"]][1]

    @property
    def activations_path(self) -> Path:
        return self.path / f"activations.{_STORAGE[self.meta['dtype']][0]}"

    @property
    def activations(self) -> np.ndarray:
        """``[n_tokens, d_model]`` read-only :class:`numpy.memmap` (float32 or float16)."""
        if self.n_tokens == 0:
            return np.zeros((0, self.d_model), dtype=self.dtype)
        return np.memmap(
            self.activations_path, dtype=self.dtype, mode="r", shape=(self.n_tokens, self.d_model)
        )

    @property
    def tokens(self) -> np.ndarray:
        """``[n_tokens]`` structured array: ``snippet``, ``position``, ``token_id``, ``start``, ``end``."""
        arr = np.load(self.path / "tokens.npy", mmap_mode="r") if self.n_tokens else np.zeros(0, TOKEN_DTYPE)
        return arr[: self.n_tokens]

    @property
    def texts(self) -> list[str]:
        with open(self.path / "texts.jsonl", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]

    def to_array(self, dtype: Any = np.float32, limit: int | None = None) -> np.ndarray:
        """The activations (the first ``limit`` rows) loaded into memory as ``dtype``."""
        acts = self.activations
        return np.asarray(acts[:limit] if limit is not None else acts, dtype=dtype)


@dataclass(frozen=True)
class HarvestProgress:
    """Reported after each flushed shard."""

    texts_done: int
    n_texts: int
    tokens_done: int
    seconds: float  # spent in this call

    @property
    def tokens_per_second(self) -> float:
        return 0.0 if self.seconds <= 0 else self.tokens_done / self.seconds


# ---------------------------------------------------------------------------------------------- keys


def default_cache_root() -> Path:
    """``$KGALIGN_CACHE_DIR`` or ``~/.cache/kgalign/activations``: where caches go when no root is given."""
    env = os.environ.get("KGALIGN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "kgalign" / "activations"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "model"


def _key_settings(
    model: BaseModel, *, max_tokens: int | None, skip_special: bool, dtype: str
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        **model.cache_key,
        "max_tokens": max_tokens,
        "skip_special": skip_special,
        "storage_dtype": dtype,
    }


def _text_hash(settings: dict[str, Any], texts: Sequence[str]) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for t in texts:
        b = t.encode("utf-8", errors="surrogatepass")
        h.update(struct.pack("<Q", len(b)))
        h.update(b)
    return h.hexdigest()[:20]


def cache_dir_for(
    model: BaseModel,
    texts: Sequence[str],
    cache_root: str | Path,
    *,
    max_tokens: int | None = None,
    skip_special: bool = True,
    dtype: str = "float32",
) -> Path:
    """Where :func:`harvest` keeps the activations of ``texts`` with these settings."""
    settings = _key_settings(model, max_tokens=max_tokens, skip_special=skip_special, dtype=dtype)
    return Path(cache_root) / f"{_slug(model.name)}-L{model.layer}" / _text_hash(settings, texts)


# ----------------------------------------------------------------------------------------------- files


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    _fsync_write(path / "meta.json", (json.dumps(meta, indent=2) + "\n").encode())


def _npy_header(n: int) -> bytes:
    """A ``.npy`` v1.0 header of exactly ``_NPY_HEADER`` bytes for ``n`` rows of :data:`TOKEN_DTYPE`."""
    descr = np.lib.format.dtype_to_descr(TOKEN_DTYPE)
    d = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({n},), }}"
    body_len = _NPY_HEADER - 10
    if len(d) + 1 > body_len:  # pragma: no cover - only for absurd n
        raise EmbedError("tokens.npy header overflow")
    return (
        b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + (d.ljust(body_len - 1) + "\n").encode("latin1")
    )


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(directory / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise EmbedError(f"another harvest is writing {directory}") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Writer:
    """Appends shards to ``activations.*`` and ``tokens.npy``; cuts both back to ``n_tokens`` on open."""

    def __init__(self, directory: Path, ext: str, row_bytes: int, n_tokens: int) -> None:
        self.acts_path = directory / f"activations.{ext}"
        self.tok_path = directory / "tokens.npy"
        self.row_bytes = row_bytes
        self.n = n_tokens
        if not self.tok_path.exists() or n_tokens == 0:
            with open(self.tok_path, "wb") as fh:
                fh.write(_npy_header(0))
        self.acts = open(self.acts_path, "r+b" if self.acts_path.exists() else "w+b")  # noqa: SIM115
        self.tok = open(self.tok_path, "r+b")  # noqa: SIM115
        # drop whatever a killed run wrote past the last recorded shard
        self.acts.truncate(self.n * row_bytes)
        self.tok.truncate(_NPY_HEADER + self.n * TOKEN_DTYPE.itemsize)
        self.acts.seek(0, os.SEEK_END)
        self.tok.seek(0, os.SEEK_END)

    def append(self, acts: np.ndarray, rows: np.ndarray) -> None:
        self.acts.write(acts.tobytes())
        self.acts.flush()
        os.fsync(self.acts.fileno())
        self.tok.write(rows.tobytes())
        self.tok.flush()
        os.fsync(self.tok.fileno())
        self.n += len(rows)
        self.tok.seek(0)
        self.tok.write(_npy_header(self.n))
        self.tok.flush()
        os.fsync(self.tok.fileno())
        self.tok.seek(0, os.SEEK_END)

    def close(self) -> None:
        self.acts.close()
        self.tok.close()


# --------------------------------------------------------------------------------------------- harvest


def harvest(
    model: BaseModel,
    texts: Sequence[str],
    cache_root: str | Path,
    *,
    batch_size: int = 32,
    max_tokens: int | None = None,
    skip_special: bool = True,
    dtype: str = "float32",
    shard_texts: int | None = None,
    progress: bool = True,
    on_shard: Callable[[HarvestProgress], None] | None = None,
) -> ActivationCache:
    """Residual-stream activations of ``texts`` at ``model.layer``, cached on disk.

    Texts are processed in shards of ``shard_texts`` (default ``8 × batch_size``), each written to disk
    before the next, so memory stays bounded. Token rows are stored in text order; special tokens
    ([CLS], [SEP], BOS) are left out when ``skip_special``; at most ``max_tokens`` tokens are kept. A
    finished cache with the same key is returned without computing anything; an interrupted one is resumed
    after its last complete shard. ``on_shard`` is called after each shard is on disk.
    """
    if dtype not in _STORAGE:
        raise ConfigError(f"dtype must be one of {', '.join(_STORAGE)}; got {dtype!r}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1; got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be >= 1 or None; got {max_tokens}")
    shard_texts = shard_texts or 8 * batch_size
    if shard_texts < 1:
        raise ConfigError(f"shard_texts must be >= 1; got {shard_texts}")
    texts = list(texts)
    if not texts:
        raise EmbedError("corpus is empty: no texts to harvest")

    settings = _key_settings(model, max_tokens=max_tokens, skip_special=skip_special, dtype=dtype)
    directory = Path(cache_root) / f"{_slug(model.name)}-L{model.layer}" / _text_hash(settings, texts)
    if (directory / "meta.json").exists():
        cache = ActivationCache.open(directory)
        if cache.done and cache.meta.get("key") == settings:
            return cache
    directory.mkdir(parents=True, exist_ok=True)

    with _locked(directory):
        return _harvest_into(
            directory,
            model,
            texts,
            settings,
            batch_size,
            max_tokens,
            skip_special,
            dtype,
            shard_texts,
            progress,
            on_shard,
        )


def _harvest_into(
    directory: Path,
    model: BaseModel,
    texts: list[str],
    settings: dict[str, Any],
    batch_size: int,
    max_tokens: int | None,
    skip_special: bool,
    dtype: str,
    shard_texts: int,
    progress: bool,
    on_shard: Callable[[HarvestProgress], None] | None,
) -> ActivationCache:
    ext, np_dtype = _STORAGE[dtype]
    meta: dict[str, Any] | None = None
    if (directory / "meta.json").exists():
        meta = ActivationCache.open(directory).meta
        if meta.get("key") != settings or meta["n_texts"] != len(texts):
            meta = None  # a stale or foreign cache: start over
        elif meta["done"]:
            return ActivationCache(directory, meta)
    if meta is None:
        _fsync_write(
            directory / "texts.jsonl",
            "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode("utf-8"),
        )
        meta = {
            "format": FORMAT_VERSION,
            "model": model.name,
            "fingerprint": model.fingerprint,
            "layer": model.layer,
            "d_model": model.d_model,
            "is_causal": model.is_causal,
            "dtype": dtype,
            "max_length": model.max_length,
            "skip_special": skip_special,
            "max_tokens": max_tokens,
            "n_texts": len(texts),
            "texts_done": 0,
            "n_tokens": 0,
            "done": False,
            "seconds": 0.0,
            "tokens_per_second": None,
            "key": settings,
        }
        _write_meta(directory, meta)
    resumed_from = int(meta["texts_done"])
    writer = _Writer(directory, ext, model.d_model * np_dtype.itemsize, int(meta["n_tokens"]))
    base_seconds = float(meta["seconds"])
    start = time.perf_counter()
    new_tokens = 0
    bar = _progress_bar(progress, meta, max_tokens)
    try:
        pos = resumed_from
        while pos < len(texts) and not meta["done"]:
            end = min(pos + shard_texts, len(texts))
            acts, rows = _shard(model, texts, pos, end, batch_size, skip_special)
            budget = None if max_tokens is None else max_tokens - writer.n
            if budget is not None and len(rows) >= budget:
                acts, rows = acts[:budget], rows[:budget]
                meta["done"] = True
            writer.append(_cast(acts, np_dtype, dtype), rows)
            new_tokens += len(rows)
            pos = end
            elapsed = time.perf_counter() - start
            meta.update(
                texts_done=pos,
                n_tokens=writer.n,
                seconds=round(base_seconds + elapsed, 3),
                done=meta["done"] or pos == len(texts),
            )
            _write_meta(directory, meta)
            if bar is not None:
                bar.update(len(rows))
                if max_tokens is None and pos > 0:
                    bar.total = max(writer.n, round(writer.n / pos * len(texts)))
                    bar.refresh()
            if on_shard is not None:
                on_shard(HarvestProgress(pos, len(texts), writer.n, elapsed))
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start
    meta["tokens_per_second"] = round(new_tokens / elapsed, 1) if elapsed > 0 and new_tokens else None
    _write_meta(directory, meta)
    message = (
        f"harvested {new_tokens} tokens from {int(meta['texts_done']) - resumed_from} texts in {elapsed:.1f}s "
        f"({meta['tokens_per_second']} tokens/s) → {directory}"
    )
    log.info(message)
    if progress:
        print(message, file=sys.stderr)
    return ActivationCache(directory, meta)


def _progress_bar(progress: bool, meta: dict[str, Any], max_tokens: int | None) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=max_tokens,
        initial=int(meta["n_tokens"]),
        unit="tok",
        unit_scale=True,
        desc=f"harvest {meta['model']} L{meta['layer']}",
        file=sys.stderr,
    )


def _cast(acts: np.ndarray, np_dtype: np.dtype, name: str) -> np.ndarray:
    out = np.ascontiguousarray(acts, dtype=np_dtype)
    if name == "float16" and len(out) and not np.isfinite(out).all():
        raise EmbedError("activations overflow float16 storage; harvest with dtype='float32'")
    return out


def _shard(
    model: BaseModel, texts: list[str], start: int, end: int, batch_size: int, skip_special: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Activations ``[n, d_model]`` float32 and token rows ``[n]`` of ``texts[start:end]``, in text order."""
    items = model.activations(texts[start:end], batch_size=batch_size)
    hidden: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for k, item in enumerate(items):
        keep = ~item.special_mask if skip_special else np.ones(item.n_tokens, dtype=bool)
        idx = np.flatnonzero(keep)
        if not len(idx):
            continue
        r = np.zeros(len(idx), dtype=TOKEN_DTYPE)
        r["snippet"] = start + k
        r["position"] = idx
        r["token_id"] = item.input_ids[idx]
        r["start"] = item.offsets[idx, 0]
        r["end"] = item.offsets[idx, 1]
        rows.append(r)
        hidden.append(item.hidden[idx])
    if not rows:
        return np.zeros((0, model.d_model), np.float32), np.zeros(0, TOKEN_DTYPE)
    return np.concatenate(hidden), np.concatenate(rows)
