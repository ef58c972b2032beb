"""AdamW (Loshchilov & Hutter, "Decoupled weight decay regularization") in a few lines.

Why not ``torch.optim.AdamW``: its first use imports ``torch._dynamo`` (1-2 s of imports
that hold the GIL for 0.1-0.3 s at a time, and that register torch custom operators, which
torch does not support doing from two threads at once, pytorch/pytorch#128535). Training
starts in the napari Train widget's worker thread, so that import either froze the viewer
or had to be done on the GUI thread beforehand. This optimizer needs neither.

It takes the same steps as ``torch.optim.AdamW`` with its defaults on the CPU (no AMSGrad,
no ``maximize``), and its :meth:`AdamW.state_dict` has the same layout, so training states
saved with either resume with the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


class AdamW:
    """AdamW over parameter groups (dicts with ``params`` and optionally ``weight_decay``).

    ``param_groups[i]["lr"]`` may be changed between steps (a learning-rate schedule).
    """

    def __init__(
        self,
        groups: Iterable[dict[str, Any]],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[Tensor, dict[str, Tensor]] = {}

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``set_to_none=False``: zero them in place)."""
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = {"step": torch.tensor(0.0)}
                    for key in STATE_KEYS[1:]:
                        state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    self.state[p] = state
                state["step"] += 1
                t = float(state["step"])
                if group["weight_decay"]:
                    p.mul_(1 - lr * group["weight_decay"])  # decoupled from the gradient
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(p.grad, 1 - beta1)  # first moment
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)  # second moment
                # bias-corrected moments: m / (1 - beta1^t) and v / (1 - beta2^t)
                denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(group["eps"])
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {"step", "exp_avg", "exp_avg_sq"}}, "param_groups": [...]}``,
        parameters numbered in group order, as ``torch.optim`` does."""
        index = {p: i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**g, "params": list(range(start, start + n))})
            start += n
        state = {index[p]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (also one of ``torch.optim.AdamW``)."""
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("the saved optimizer state has other parameter groups")
        for mine, saved in zip(self.param_groups, groups, strict=True):
            for key in ("lr", "betas", "eps", "weight_decay"):
                mine[key] = tuple(saved[key]) if key == "betas" else saved[key]
        params = self._params()
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {
                "step": torch.as_tensor(saved["step"], dtype=torch.float32).clone().cpu(),
                "exp_avg": saved["exp_avg"].to(p.device, p.dtype).clone(),
                "exp_avg_sq": saved["exp_avg_sq"].to(p.device, p.dtype).clone(),
            }
