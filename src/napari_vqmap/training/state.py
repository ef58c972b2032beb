"""The resumable training state beside a model: optimiser tensors, step, RNG and sampler
state, loss balance and the loss history; and resuming from it."""

from __future__ import annotations

import base64
import csv
import io
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from napari_vqmap import __version__
from napari_vqmap.adamw import AdamW
from napari_vqmap.checkpoint import read_config, saved_model_config, saved_preprocess_config
from napari_vqmap.errors import ModelFileError
from napari_vqmap.io.atomic import atomic_write, atomic_write_text
from napari_vqmap.model import VQMAP
from napari_vqmap.training.config import LEGACY_TRAIN_OPTIONS, SECTIONS, TrainConfig
from napari_vqmap.training.optim import LossBalance

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"
HISTORY = "history.csv"
HISTORY_FIELDS = (
    "step",
    "head",
    "loss",
    "recon",
    "commit",
    "geometry",
    "perplexity",
    "n_dead",
    "lr",
    "seconds",
)


def _rng_state() -> dict[str, Any]:
    def b64(t: torch.Tensor) -> str:
        return base64.b64encode(t.numpy().tobytes()).decode()

    cuda = [b64(s) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
    return {"torch": b64(torch.get_rng_state()), "cuda": cuda}


def _set_rng_state(state: dict[str, Any]) -> None:
    def tensor(s: str) -> torch.Tensor:
        return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)

    torch.set_rng_state(tensor(state["torch"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensor(s) for s in state["cuda"]])


def save_train_state(
    out: Path,
    optimizer: AdamW,
    step: int,
    elapsed: float,
    done: bool,
    loss_balance: dict[str, float] | None = None,
) -> None:
    """Optimizer tensors (safetensors) and step, RNG and sampler state (JSON), atomically.

    The JSON is written last and names the step the tensors belong to.
    """
    sd = optimizer.state_dict()
    tensors = {
        f"{idx}.{key}": value.detach().cpu().contiguous()
        for idx, state in sd["state"].items()
        for key, value in state.items()
    }
    meta = {"step": str(step)}
    atomic_write(out / STATE_TENSORS, lambda p: save_file(tensors, str(p), metadata=meta))
    state = {
        "step": step,
        "completed": done,
        "seconds": elapsed,
        "param_groups": sd["param_groups"],
        "rng": _rng_state(),
        "sampler": {"kind": "seeded by (seed, step, rank)", "next_step": step},
        "loss_balance": loss_balance or {},
    }
    atomic_write_text(out / STATE_JSON, json.dumps(state, indent=1))


def load_train_state(out: Path, optimizer: AdamW) -> dict[str, Any]:
    """Restore the optimizer and RNG from ``out``; returns the JSON state."""
    json_path, tensor_path = out / STATE_JSON, out / STATE_TENSORS
    for path in (json_path, tensor_path):
        if not path.is_file():
            raise ModelFileError(path, "training state not found; cannot resume")
    try:
        state = json.loads(json_path.read_text())
        tensors = load_file(str(tensor_path))
    except (ValueError, OSError) as err:
        raise ModelFileError(out, f"unreadable training state: {err}") from err
    with open(tensor_path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
    if header.get("__metadata__", {}).get("step") != str(state["step"]):
        raise ModelFileError(tensor_path, f"optimizer state is not from step {state['step']}")
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        per_param.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state["param_groups"]})
    _set_rng_state(state["rng"])
    return state


def read_history(out: Path, step: int) -> list[dict[str, Any]]:
    path = out / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= step]


def write_history(out: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / HISTORY, buf.getvalue())


def versions() -> dict[str, str]:
    return {
        "napari-vqmap": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def check_resume(out: Path, config: TrainConfig) -> None:
    raw = read_config(out)
    sections = {k: raw[k] for k in SECTIONS} | {
        "model": saved_model_config(raw),
        "preprocess": saved_preprocess_config(raw).to_dict(),
    }
    sections["train"] = {**LEGACY_TRAIN_OPTIONS, **sections["train"]}
    saved = TrainConfig.from_dict(sections)
    for what, a, b in [
        ("model", saved.model, config.model),
        ("preprocess", saved.preprocess, config.preprocess),
        ("seed", saved.seed, config.seed),
        ("recon_weighting", saved.recon_weighting, config.recon_weighting),
    ]:
        if a != b:
            raise ValueError(f"{out}: cannot resume with a different {what} config ({a} != {b})")


def resume_state(
    out: Path, model: VQMAP, optimizer: AdamW, meta: dict, device: torch.device
) -> tuple[int, float, list[dict[str, Any]], LossBalance]:
    saved = read_config(out)
    if set(saved["heads"]) != set(meta["heads"]):
        raise ValueError(
            f"{out}: the data give heads {sorted(meta['heads'])}, the saved model has "
            f"{sorted(saved['heads'])}; resume with the same datasets"
        )
    tensors = load_file(str(out / "model.safetensors"), device=str(device))
    model.load_state_dict(tensors)
    state = load_train_state(out, optimizer)
    history = read_history(out, state["step"])
    return state["step"], float(state["seconds"]), history, LossBalance(state.get("loss_balance"))
