"""Model folders: ``model.safetensors`` (weights and EMA codebook buffers) + ``config.json``.

Nothing here unpickles: weights are safetensors, everything else is JSON.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from napari_vqmap.errors import ModelFileError
from napari_vqmap.io.atomic import atomic_write, atomic_write_text
from napari_vqmap.model import VQMAP, ModelConfig
from napari_vqmap.model.config import RETIRED_OPTIONS
from napari_vqmap.preprocess import PreprocessConfig

FORMAT = "napari-vqmap-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def tensors_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict as contiguous CPU tensors, ready for safetensors."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def state_sha256(model: torch.nn.Module) -> str:
    """Hash of every weight and buffer, to compare models (e.g. across DDP ranks)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors_of(model).items()):
        digest.update(name.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(model_dir: str | Path, model: VQMAP, meta: dict[str, Any]) -> Path:
    """Write the weights and ``config.json`` (``meta`` plus format and model config) atomically.

    ``meta["heads"]`` must map each head name to its skeleton information.
    """
    model_dir = Path(model_dir)
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    info["model"] = model.config.to_dict()
    tensors = tensors_of(model)
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    atomic_write(model_dir / WEIGHTS_FILE, lambda p: save_file(tensors, str(p), metadata=header))
    atomic_write_text(model_dir / CONFIG_FILE, json.dumps(info, indent=2))
    return model_dir


def read_config(model_dir: str | Path) -> dict[str, Any]:
    """The checked contents of ``config.json`` in ``model_dir``."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise ModelFileError(path, "model config not found (is this a napari-vqmap model folder?)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(path, f"model config is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(path, f"not a napari-vqmap model config (format is not {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"model format version {meta.get('format_version')!r}; this napari-vqmap "
            f"reads version {FORMAT_VERSION}",
        )
    if not isinstance(meta.get("heads"), dict) or not isinstance(meta.get("model"), dict):
        raise ModelFileError(path, "model config lacks its 'model' or 'heads' section")
    return meta


# Model options added after models were first saved, with the value an older folder meant:
# before residual subtypes the latent was split in two, before per-type subtypes the
# subtype codes were shared by all types, before the 2D lift 2D input was read as 2D,
# before anchored spans each pose was reconstructed in its own frame, and heights counted
# as much as the rest in the latent geometry.
LEGACY_MODEL_OPTIONS = {
    "residual": False,
    "subtypes_per_type": False,
    "lift_2d": False,
    "anchor_span": 0,
    "geometry_weight": 0.0,
    "geometry_height": 1.0,
}


def saved_model_config(meta: dict) -> dict:
    """A model folder's ``model`` config section, with options it predates filled in as
    they were when it was written (:data:`LEGACY_MODEL_OPTIONS`) and options since retired
    (:data:`~napari_vqmap.model.config.RETIRED_OPTIONS`, saved at their no-effect value)
    left out."""
    saved = {k: v for k, v in meta["model"].items() if k not in RETIRED_OPTIONS}
    return {**LEGACY_MODEL_OPTIONS, **saved}


# Preprocessing options added later, with the value an older folder meant: 2D data were
# aligned in image coordinates (y down), unflipped, and every frame from its anchors.
LEGACY_PREPROCESS_OPTIONS = {"flip_2d_y": False, "alignment": "anchors"}


def saved_preprocess_config(meta: dict) -> PreprocessConfig:
    """A model folder's preprocessing, with options it predates as they were then."""
    return PreprocessConfig.from_dict({**LEGACY_PREPROCESS_OPTIONS, **meta.get("preprocess", {})})


def model_folder(model_dir: str | Path | None) -> str | Path:
    """``model_dir``, or the bundled model's folder when it is ``None`` (the one place that
    makes this choice)."""
    if model_dir is not None:
        return model_dir
    from napari_vqmap.sample_data import bundled_model_dir

    return bundled_model_dir()


def load_model(
    model_dir: str | Path | None = None, device: str | torch.device = "cpu"
) -> tuple[VQMAP, dict]:
    """Load a trained model folder (``None``: the bundled model,
    :func:`~napari_vqmap.sample_data.bundled_model_dir`); returns the model (in eval mode)
    and its config dict."""
    model_dir = Path(model_folder(model_dir))
    meta = read_config(model_dir)
    config_path, weights_path = model_dir / CONFIG_FILE, model_dir / WEIGHTS_FILE
    try:
        config = ModelConfig.from_dict(saved_model_config(meta))
        heads = {name: (h["n_keypoints"], h["n_dims"]) for name, h in meta["heads"].items()}
        model = VQMAP(config, heads)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(config_path, f"invalid model configuration: {err}") from err
    if not weights_path.is_file():
        raise ModelFileError(weights_path, "model weights not found")
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ModelFileError(weights_path, f"not a readable safetensors file: {err}") from err
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:
        raise ModelFileError(
            weights_path, f"weights do not match {CONFIG_FILE}: {str(err)[:500]}"
        ) from err
    return model.to(device).eval(), meta


def head_for(meta: dict[str, Any], keypoints: Sequence[str], n_dims: int) -> str | None:
    """The model head trained on this skeleton (the same keypoints, in the same order if a
    head has them so, else in any order, and the same number of dimensions), or None.
    ``meta`` is the model's config (from :func:`load_model`). Files of one tracker project
    often list the same keypoints in another order; the head's own order then applies to
    what it decodes."""
    keypoints = [str(k) for k in keypoints]
    same_dims = {
        name: [str(k) for k in head["skeleton"]["keypoints"]]
        for name, head in meta.get("heads", {}).items()
        if int(head["n_dims"]) == n_dims
    }
    exact = [name for name, kps in same_dims.items() if kps == keypoints]
    reordered = [name for name, kps in same_dims.items() if sorted(kps) == sorted(keypoints)]
    return (exact or reordered or [None])[0]


def export_model(model_dir: str | Path, dest: str | Path) -> Path:
    """Copy a trained model folder to ``dest`` (a new or empty folder), all or nothing:
    the files are copied into a temporary folder beside ``dest`` that is then renamed."""
    src, dest = Path(model_dir), Path(dest)
    if not (src / "model.safetensors").is_file() or not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a model folder (no model.safetensors/config.json)")
    if dest.resolve() == src.resolve():
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for item in src.iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
