"""Does an SAE belong to the model and layer a workspace reads? (``cfg.json`` metadata vs the model.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kgalign.errors import ModelError


def sae_recorded_site(sae_dir: Path) -> dict[str, object]:
    """The model name, hook and layer an SAE's ``cfg.json`` records ({} when it records none)."""
    try:
        cfg = json.loads((Path(sae_dir) / "cfg.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    meta = cfg.get("metadata") or {}
    out = {k: meta.get(k, cfg.get(k)) for k in ("model_name", "hook_name", "hook_layer")}
    return {k: v for k, v in out.items() if v is not None}


def _same_model(recorded: str, model_name: str) -> bool:
    def key(name: str) -> str:
        return Path(str(name).rstrip("/")).name.lower().removesuffix(".gguf")

    return key(recorded) == key(model_name)


def check_sae_site(
    sae_dir: Path, model_name: str, layer: int | None, d_model: int, d_in: int, *, force: bool = False
) -> list[str]:
    """Raise :class:`ModelError` when the SAE was trained on another model or layer than the one the
    workspace reads (or has another width); with ``force``, warn on stderr instead. Returns the warnings."""
    site = sae_recorded_site(sae_dir)
    problems = []
    rec_model = site.get("model_name")
    if rec_model and not _same_model(str(rec_model), model_name):
        problems.append(f"it was trained on model {rec_model!r} but the workspace reads {model_name!r}")
    rec_layer = site.get("hook_layer")
    if rec_layer is not None and layer is not None and int(rec_layer) != int(layer):  # type: ignore[call-overload]
        hook = f" ({site['hook_name']})" if site.get("hook_name") else ""
        problems.append(f"it was trained on layer {rec_layer}{hook} but the workspace reads layer {layer}")
    if d_in != d_model:
        raise ModelError(
            f"{sae_dir}: the SAE takes d_in={d_in} but layer {layer} of {model_name} has width {d_model}; "
            "use an SAE trained on this model and layer"
        )
    if not problems:
        return []
    text = f"{sae_dir}: {'; '.join(problems)}"
    if not force:
        raise ModelError(text + " (use an SAE trained on this model and layer, set --model/--layer to match, "
                         "or pass --force to embed anyway)")
    print(f"kgalign: warning: {text}; embedding anyway (--force)", file=sys.stderr)
    return [text]
