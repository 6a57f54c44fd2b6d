"""Reading and writing SAEs in SAELens's on-disk layout: ``cfg.json`` + ``sae_weights.safetensors``.

Weights are read from safetensors only. A directory that holds only pickles (``*.pt``, ``*.pth``, ``*.pkl``,
``*.bin``, ``*.ckpt``) is refused: unpickling runs arbitrary code.

``cfg.json`` is written as SAELens 6 writes it (sizes and architecture fields at the top, where the
activations come from under ``metadata``). Read back are SAELens 6 files, SAELens 5 and older flat files
(``hook_point``, ``activation_fn_str``, ``activation_fn_kwargs: {"k": ...}``, boolean
``normalize_activations``) and Gemma Scope converted to that layout.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from kgalign.errors import ConfigError, ModelError
from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder
from kgalign.neural.sae.registry import get_architecture

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
#: SAELens's optional per-latent log10 firing frequency.
SPARSITY_FILENAME = "sparsity.safetensors"
#: Files ``save_sae`` may replace; a directory holding anything else is never overwritten.
READOUT_FILENAME = "readout.safetensors"  # kgalign readout vectors (idf, background), optional
SAE_FILES = frozenset({CFG_FILENAME, WEIGHTS_FILENAME, SPARSITY_FILENAME, READOUT_FILENAME})
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")

#: The cfg.json layout written here. SAELens reads ``metadata.sae_lens_version`` to choose its parser.
SAELENS_LAYOUT_VERSION = "6.0.0"

_METADATA_FIELDS = ("model_name", "hook_name", "hook_layer")
# Flat keys of SAELens <= 5 cfg.json files that SAELens 6 moves under "metadata".
_FLAT_METADATA_KEYS = frozenset(
    {
        "model_class_name",
        "hook_head_index",
        "model_from_pretrained_kwargs",
        "prepend_bos",
        "exclude_special_tokens",
        "neuronpedia_id",
        "context_size",
        "seqpos_slice",
        "dataset_path",
        "dataset_trust_remote_code",
    }
)
_VERSION_KEYS = frozenset({"sae_lens_version", "sae_lens_training_version"})
_RENAMED_KEYS = {
    "hook_point": "hook_name",
    "hook_point_layer": "hook_layer",
    "hook_point_head_index": "hook_head_index",
}


# -- cfg.json ---------------------------------------------------------------------------------------------


def config_to_dict(cfg: SAEConfig) -> dict[str, Any]:
    """The ``cfg.json`` content of ``cfg`` in SAELens 6's layout."""
    out: dict[str, Any] = {
        "architecture": cfg.architecture,
        "d_in": cfg.d_in,
        "d_sae": cfg.d_sae,
        "dtype": cfg.dtype,
        "device": cfg.device,
        "apply_b_dec_to_input": cfg.apply_b_dec_to_input,
        "normalize_activations": cfg.normalize_activations,
        "reshape_activations": "none",
        **cfg.architecture_fields(),
    }
    if cfg.norm_scaling_factor is not None:
        out["norm_scaling_factor"] = cfg.norm_scaling_factor
    metadata: dict[str, Any] = {name: getattr(cfg, name) for name in _METADATA_FIELDS}
    metadata.update(cfg.metadata_extra)
    metadata["sae_lens_version"] = SAELENS_LAYOUT_VERSION
    out["metadata"] = metadata
    return out


def _normalize_activations_value(value: Any) -> Any:
    # SAELens <= 3 wrote a boolean; some converted configs write null.
    if value is None or value is False:
        return "none"
    if value is True:
        return "expected_average_only_in"
    return value


def config_from_dict(raw: Mapping[str, Any], *, source: str = CFG_FILENAME) -> SAEConfig:
    """An ``SAEConfig`` from any SAELens ``cfg.json`` variant; errors name ``source`` and the problem."""
    if not isinstance(raw, Mapping):
        raise ModelError(f"{source}: expected a JSON object, got {type(raw).__name__}")
    flat = {_RENAMED_KEYS.get(key, key): value for key, value in raw.items()}
    nested = flat.pop("metadata", None)
    if nested is None:
        nested = flat.pop("meta", None)  # SAELens 6 release candidates
    if nested is not None and not isinstance(nested, Mapping):
        raise ModelError(f"{source}: 'metadata' must be a JSON object")
    metadata = {_RENAMED_KEYS.get(key, key): value for key, value in (nested or {}).items()}

    activation_fn = flat.get("activation_fn", flat.get("activation_fn_str"))
    architecture = flat.get("architecture")
    if architecture is None or (architecture == "standard" and activation_fn == "topk"):
        # SAELens 5 expressed TopK as a standard SAE with a topk activation function.
        architecture = "topk" if activation_fn == "topk" else "standard"
    try:
        config_class, _ = get_architecture(architecture)
    except ConfigError as exc:
        raise ModelError(f"{source}: {exc}") from None

    missing = [name for name in ("d_in", "d_sae") if name not in flat]
    if missing:
        raise ModelError(f"{source}: missing required field(s) {', '.join(missing)}")

    fields: dict[str, Any] = {
        "d_in": flat["d_in"],
        "d_sae": flat["d_sae"],
        "normalize_activations": _normalize_activations_value(flat.get("normalize_activations")),
    }
    if "dtype" in flat:
        dtype = flat["dtype"]
        fields["dtype"] = dtype.removeprefix("torch.") if isinstance(dtype, str) else dtype
    for name in ("device", "apply_b_dec_to_input", "norm_scaling_factor"):
        if name in flat and flat[name] is not None:
            fields[name] = flat[name]
    for name in _METADATA_FIELDS:
        value = metadata.get(name, flat.get(name))
        if value is not None:
            fields[name] = value

    architecture_specific = {
        name: flat[name]
        for name in config_class.__dataclass_fields__
        if name not in SAEConfig.__dataclass_fields__ and name in flat
    }
    if architecture == "topk" and "k" not in architecture_specific:
        kwargs = flat.get("activation_fn_kwargs") or {}
        if isinstance(kwargs, Mapping) and "k" in kwargs:
            architecture_specific["k"] = kwargs["k"]
        else:
            raise ModelError(f"{source}: a topk SAE needs 'k' (or activation_fn_kwargs.k)")
    fields.update(architecture_specific)

    extra = {key: value for key, value in flat.items() if key in _FLAT_METADATA_KEYS}
    extra.update(
        {
            key: value
            for key, value in metadata.items()
            if key not in _METADATA_FIELDS and key not in _VERSION_KEYS
        }
    )
    fields["metadata_extra"] = extra

    try:
        return config_class(architecture=architecture, **fields)
    except ConfigError as exc:
        raise ModelError(f"{source}: {exc}") from None
    except TypeError as exc:  # a field of the wrong kind that the dataclass itself rejects
        raise ModelError(f"{source}: {exc}") from None


def read_config(directory: str | os.PathLike[str]) -> SAEConfig:
    """The ``SAEConfig`` in ``directory/cfg.json``."""
    path = Path(directory) / CFG_FILENAME
    if not path.is_file():
        raise ModelError(
            f"{Path(directory)}: no {CFG_FILENAME} (an SAE directory holds {CFG_FILENAME} and {WEIGHTS_FILENAME})"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot be read: {exc}") from None
    return config_from_dict(raw, source=str(path))


# -- weights ----------------------------------------------------------------------------------------------


def expected_shapes(cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape that ``cfg`` requires in ``sae_weights.safetensors``."""
    shapes = {
        "W_enc": (cfg.d_in, cfg.d_sae),
        "W_dec": (cfg.d_sae, cfg.d_in),
        "b_enc": (cfg.d_sae,),
        "b_dec": (cfg.d_in,),
    }
    if cfg.architecture == "jumprelu":
        shapes["threshold"] = (cfg.d_sae,)
    return shapes


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Every tensor in a safetensors file (on CPU); anything else is a ``ModelError`` naming the file."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[name] = handle.get_tensor(name)
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found") from None
    except Exception as exc:  # safetensors raises its own SafetensorError, or OSError / ValueError
        raise ModelError(f"{path}: not a valid safetensors file ({exc})") from None
    return tensors


def _shape(shape: tuple[int, ...] | torch.Size) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _state_dict_from_file(
    cfg: SAEConfig, tensors: dict[str, torch.Tensor], path: Path
) -> dict[str, torch.Tensor]:
    tensors = dict(tensors)
    if "threshold" not in tensors and "log_threshold" in tensors and cfg.architecture == "jumprelu":
        tensors["threshold"] = tensors.pop("log_threshold").float().exp()  # older SAELens checkpoints
    # SAELens's finetuning scaling factor multiplies the codes before decoding; fold it into W_dec.
    scaling = tensors.pop("finetuning_scaling_factor", None)
    scaling_alt = tensors.pop("scaling_factor", None)
    scaling = scaling if scaling is not None else scaling_alt

    shapes = expected_shapes(cfg)
    missing = [name for name in shapes if name not in tensors]
    if missing:
        raise ModelError(
            f"{path}: missing tensor(s) {', '.join(missing)} needed by a {cfg.architecture} SAE "
            f"(the file has: {', '.join(sorted(tensors)) or 'nothing'})"
        )
    unexpected = sorted(set(tensors) - set(shapes))
    if unexpected:
        raise ModelError(f"{path}: unexpected tensor(s) {', '.join(unexpected)} for a {cfg.architecture} SAE")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise ModelError(
                f"{path}: tensor {name!r} has shape {_shape(tensors[name].shape)} but cfg.json "
                f"(d_in={cfg.d_in}, d_sae={cfg.d_sae}) needs {_shape(shape)}"
            )
        if not tensors[name].is_floating_point():
            raise ModelError(
                f"{path}: tensor {name!r} has dtype {tensors[name].dtype}; a floating type is needed"
            )
    if scaling is not None:
        if tuple(scaling.shape) != (cfg.d_sae,):
            raise ModelError(
                f"{path}: tensor 'scaling_factor' has shape {_shape(scaling.shape)}; expected {_shape((cfg.d_sae,))}"
            )
        tensors["W_dec"] = tensors["W_dec"] * scaling.to(tensors["W_dec"].dtype)[:, None]
    return {name: tensors[name].to(cfg.torch_dtype) for name in shapes}


def load_sae(directory: str | os.PathLike[str], device: str = "cpu") -> SparseAutoencoder:
    """The SAE stored in ``directory`` (``cfg.json`` + ``sae_weights.safetensors``) on ``device``, ready for
    inference: eval mode, parameters not requiring gradients (call ``requires_grad_(True)`` to fine-tune)."""
    directory = Path(directory)
    if not directory.exists():
        raise ModelError(f"{directory}: no such SAE directory")
    if not directory.is_dir():
        raise ModelError(f"{directory}: an SAE is a directory holding {CFG_FILENAME} and {WEIGHTS_FILENAME}")
    weights = directory / WEIGHTS_FILENAME
    if not weights.is_file():
        pickles = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise ModelError(
                f"{directory}: holds pickle file(s) {', '.join(pickles)} and no {WEIGHTS_FILENAME}; "
                "kgalign never loads pickles (unpickling can run arbitrary code). "
                f"Convert the weights to {WEIGHTS_FILENAME} (safetensors) first"
            )
        others = sorted(p.name for p in directory.glob("*.safetensors"))
        found = f" (found {', '.join(others)})" if others else ""
        raise ModelError(f"{directory}: no {WEIGHTS_FILENAME}{found}")
    cfg = read_config(directory)
    try:
        cfg = cfg.replace(device=device)
    except ConfigError as exc:
        raise ModelError(str(exc)) from None
    state = _state_dict_from_file(cfg, read_safetensors(weights), weights)
    _, module_class = get_architecture(cfg.architecture)
    sae = module_class(cfg, seed=0)
    sae.load_state_dict(state)
    sae.requires_grad_(False)
    readout = directory / "readout.safetensors"  # kgalign's readout vectors (idf, background), if shipped
    if readout.is_file():
        sae.readout_vectors = {k: v.float().numpy() for k, v in read_safetensors(readout).items()}
    if cfg.normalize_activations == "expected_average_only_in" and cfg.norm_scaling_factor is None:
        warnings.warn(
            f"{directory}: normalize_activations is 'expected_average_only_in' but cfg.json has no "
            "norm_scaling_factor; raw activations will be encoded without rescaling",
            stacklevel=2,
        )
    return sae.eval()


# -- saving -----------------------------------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a crash (best effort: errors are ignored)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_sae(
    sae: SparseAutoencoder,
    directory: str | os.PathLike[str],
    *,
    feature_density: torch.Tensor | None = None,
) -> Path:
    """Write ``sae`` to ``directory`` as ``cfg.json`` + ``sae_weights.safetensors`` (SAELens's layout).

    The files are written into a temporary sibling directory that is then renamed into place, so an
    interruption never leaves half-written files. An existing directory is replaced only if it holds
    nothing but SAE files. ``feature_density [d_sae]`` (firing frequency per latent), when given, is stored
    as SAELens's ``sparsity.safetensors`` (log10 of the density).
    """
    target = Path(directory)
    if target.exists():
        if not target.is_dir():
            raise ModelError(f"{target}: exists and is not a directory")
        foreign = sorted(p.name for p in target.iterdir() if p.name not in SAE_FILES)
        if foreign:
            raise ModelError(
                f"{target}: refusing to replace a directory that holds other files ({', '.join(foreign[:5])})"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    cfg_dict = config_to_dict(sae.cfg)
    try:
        cfg_text = json.dumps(cfg_dict, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"SAE config cannot be written as JSON: {exc}") from None
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in sae.state_dict().items()}

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old: Path | None = None
    try:
        save_file(state, str(tmp / WEIGHTS_FILENAME))
        if feature_density is not None:
            density = feature_density.detach().to("cpu", torch.float32).flatten()
            if density.numel() != sae.cfg.d_sae:
                raise ModelError(
                    f"feature_density has {density.numel()} values; the SAE has d_sae={sae.cfg.d_sae}"
                )
            save_file({"sparsity": torch.log10(density + 1e-10)}, str(tmp / SPARSITY_FILENAME))
        (tmp / CFG_FILENAME).write_text(cfg_text + "\n", encoding="utf-8")
        for name in os.listdir(tmp):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            old.rmdir()
            os.rename(target, old)
        os.rename(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():
            os.rename(old, target)  # put the previous SAE back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_feature_density(directory: str | os.PathLike[str]) -> torch.Tensor | None:
    """Firing frequency per latent ``[d_sae]`` from ``sparsity.safetensors``, or ``None`` if absent."""
    path = Path(directory) / SPARSITY_FILENAME
    if not path.is_file():
        return None
    tensors = read_safetensors(path)
    if "sparsity" not in tensors:
        raise ModelError(f"{path}: no 'sparsity' tensor (has: {', '.join(sorted(tensors)) or 'nothing'})")
    log_density = tensors["sparsity"].float()
    density = torch.pow(10.0, log_density)
    return torch.where(log_density <= -10 + 1e-6, torch.zeros_like(density), density)


__all__ = [
    "CFG_FILENAME",
    "WEIGHTS_FILENAME",
    "SPARSITY_FILENAME",
    "config_from_dict",
    "config_to_dict",
    "expected_shapes",
    "load_feature_density",
    "load_sae",
    "read_config",
    "read_safetensors",
    "save_sae",
]
