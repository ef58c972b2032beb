"""Where the work runs: devices, mixed precision, torchrun ranks and the DDP set-up."""

from __future__ import annotations

import contextlib
import os

import torch

from napari_vqmap.errors import ConfigError


def available_devices() -> list[str]:
    """The device names that can run here: ``auto`` and ``cpu``, then ``cuda`` and ``mps``
    when present."""
    found = [torch.cuda.is_available(), torch.backends.mps.is_available()]
    return ["auto", "cpu", *(d for d, ok in zip(("cuda", "mps"), found, strict=True) if ok)]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. Under torchrun on CUDA: this process's GPU
    (``LOCAL_RANK``).

    A device that this machine or this build of torch lacks is a clear error (not torch's
    assertion at the first tensor moved there)."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    problem = ""
    if device.type == "cuda" and torch.version.cuda is None:
        problem = (
            f"this build of torch ({torch.__version__}) has no CUDA support; install a CUDA "
            'build (e.g. TORCH_SPEC="torch>=2.2" bash scripts/install.sh) or use cpu or auto'
        )
    elif device.type == "cuda" and not torch.cuda.is_available():
        problem = "no CUDA GPU is visible to torch (check the driver and CUDA_VISIBLE_DEVICES)"
    elif device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        problem = f"there is no GPU {device.index} ({torch.cuda.device_count()} visible)"
    elif device.type == "mps" and not torch.backends.mps.is_available():
        problem = "Apple MPS is not available on this machine; use cpu or auto"
    if problem:
        raise ConfigError(None, f"device {name!r}: {problem}")
    if device.type == "cuda" and device.index is None and launched_rank_world()[1] > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision for training steps: bf16 autocast on CUDA; float32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def is_distributed() -> bool:
    """Whether this process is in an initialised ``torch.distributed`` process group."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched_rank_world() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` set by a launcher such as torchrun, else ``(0, 1)``."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def rank_world() -> tuple[int, int]:
    """This process's rank and the world size of its process group; ``(0, 1)`` outside one."""
    if is_distributed():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def setup_distributed(device: str = "auto") -> bool:
    """Join the process group torchrun describes (nccl on CUDA, gloo otherwise)."""
    if launched_rank_world()[1] <= 1 or is_distributed():
        return is_distributed()
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def data_parallel(
    model: torch.nn.Module, device: torch.device, find_unused_parameters: bool
) -> torch.nn.parallel.DistributedDataParallel:
    """``model`` wrapped for DDP on ``device``; buffers are not broadcast (the quantiser
    all-reduces its EMA statistics itself)."""
    return torch.nn.parallel.DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused_parameters,
        broadcast_buffers=False,
    )
