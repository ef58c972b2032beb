"""Our AdamW takes torch.optim.AdamW's steps exactly, shares its state layout, and training
with it never imports torch._dynamo (the import that froze the napari viewer)."""

from __future__ import annotations

import subprocess
import sys

import torch

from napari_vqmap.adamw import AdamW
from napari_vqmap.model import VQMAP, ModelConfig

X = torch.randn(4, 32, 5, 3, generator=torch.Generator().manual_seed(0))
MASK = torch.ones(4, 32, 5, dtype=torch.bool)
REGIONS = torch.zeros(5, dtype=torch.long)


def _model() -> VQMAP:
    torch.manual_seed(0)
    cfg = ModelConfig(window=32, hidden=16, token_dim=8, n_heads=2, codebook_warmup=0)
    return VQMAP(cfg, {"a": (5, 3)})


def _groups(model: VQMAP) -> list[dict]:
    params = list(model.parameters())
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.01},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _train(model: VQMAP, optimizer, steps: range) -> None:
    for step in steps:
        torch.manual_seed(step)  # the quantiser's dead-code reset draws random latents
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * (step + 1) / 10  # a schedule, as train() sets it
        optimizer.zero_grad(set_to_none=True)
        model(X, MASK, REGIONS, head="a").loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()


def _assert_same(a: VQMAP, b: VQMAP) -> None:
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_same_steps_as_torch_adamw_and_interchangeable_states() -> None:
    ours, theirs = _model(), _model()
    opt_ours, opt_theirs = AdamW(_groups(ours), lr=1e-3), torch.optim.AdamW(_groups(theirs))
    _train(ours, opt_ours, range(6))
    _train(theirs, opt_theirs, range(6))
    _assert_same(ours, theirs)
    saved_ours, saved_theirs = opt_ours.state_dict(), opt_theirs.state_dict()
    for i, state in saved_theirs["state"].items():
        for key, value in state.items():
            assert torch.equal(saved_ours["state"][i][key], value), (i, key)

    # each optimizer resumes from the other's state and takes the same steps
    resumed_ours, resumed_theirs = AdamW(_groups(theirs), lr=1.0), torch.optim.AdamW(_groups(ours))
    resumed_ours.load_state_dict(saved_theirs)
    resumed_theirs.load_state_dict(saved_ours)
    _train(theirs, resumed_ours, range(6, 10))
    _train(ours, resumed_theirs, range(6, 10))
    _assert_same(ours, theirs)


def test_training_does_not_import_torch_dynamo(data_dir, tmp_path) -> None:
    code = (
        "import sys\n"
        "from napari_vqmap.model import ModelConfig\n"
        "from napari_vqmap.training import TrainConfig, train\n"
        "model = ModelConfig(window=32, hidden=16, token_dim=8, n_heads=2)\n"
        "config = TrainConfig(steps=2, batch_size=4, model=model)\n"
        f"train([{str(data_dir / 'vame-tests' / 'cropped_video.csv')!r}], "
        f"{str(tmp_path / 'm')!r}, config)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"
