"""Time VQ-MAP training steps and encoding on the CPU; prints a table.

Run with ``python benchmarks/bench_model.py`` (``--quick`` for a short run). Each case (model
size x skeleton) runs in its own process, so the peak memory (``ru_maxrss``, which includes
torch's CPU allocations) is that case's alone. Inputs are random windows: the cost does not
depend on the values. Target: encode >= 50,000 frames/s on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

THREADS = 2
ENCODE_TARGET = 50_000
MODELS = {
    "default": {},
    "reference": {"hidden": 256, "res_depth": 3},  # hidden 256, 3 residual units (VQ-MAP.md)
}
SKELETONS = {"9 kp 3D": (9, 3), "22 kp 3D": (22, 3)}


def run_case(model_name: str, skeleton: str, quick: bool) -> dict[str, float | int | str]:
    """Train-step and encode throughput of one model size on one skeleton (this process)."""
    import torch

    from napari_vqmap.model.config import ModelConfig
    from napari_vqmap.model.vqmap import VQMAP
    from napari_vqmap.skeletons import REGIONS

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    cfg = ModelConfig(**MODELS[model_name])
    k, d = SKELETONS[skeleton]
    model = VQMAP(cfg, {"s": (k, d)})
    regions = torch.arange(k) % len(REGIONS)
    n_params = sum(p.numel() for p in model.parameters())
    batch, enc_batch = 64, 256
    n_train, n_enc = (3, 3) if quick else (10, 8)

    x = torch.randn(batch, cfg.window, k, d)
    mask = torch.rand(batch, cfg.window, k) > 0.1
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        out = model(x, mask, regions, head="s")
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(n_train):
        step()
    step_s = (time.perf_counter() - start) / n_train

    xe = torch.randn(enc_batch, cfg.window, k, d)
    me = torch.ones(enc_batch, cfg.window, k, dtype=torch.bool)
    model.eval()
    model.encode(xe, me, regions)  # warm-up
    start = time.perf_counter()
    for _ in range(n_enc):
        model.encode(xe, me, regions)
    enc_s = (time.perf_counter() - start) / n_enc
    return {
        "model": model_name,
        "skeleton": skeleton,
        "params": n_params,
        "step_ms": 1000 * step_s,
        "train_fps": batch * cfg.window / step_s,
        "encode_fps": enc_batch * cfg.window / enc_s,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "window": cfg.window,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    """Run every case in a child process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer timed repetitions")
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "SKELETON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(*args.case, args.quick)))
        return 0

    import torch

    rows = []
    for model_name in MODELS:
        for skeleton in SKELETONS:
            cmd = [sys.executable, __file__, "--case", model_name, skeleton]
            cmd += ["--quick"] if args.quick else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))

    print(
        f"CPU: {_cpu_model()}, {os.cpu_count()} cores visible; torch {torch.__version__}; "
        f"torch.set_num_threads({THREADS}); OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; "
        f"train batch 64, encode batch 256, window {rows[0]['window']} frames"
    )
    head = ["model", "skeleton", "params", "train step", "train frames/s", "encode frames/s",
            "peak RSS", "encode >= 50k"]  # fmt: skip
    table = [
        [
            r["model"],
            r["skeleton"],
            f"{r['params']:,}",
            f"{r['step_ms']:.0f} ms",
            f"{r['train_fps']:,.0f}",
            f"{r['encode_fps']:,.0f}",
            f"{r['peak_mib']:.0f} MiB",
            "yes" if r["encode_fps"] >= ENCODE_TARGET else "NO",
        ]
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *table, strict=True)]
    for line in [head, ["-" * w for w in widths], *table]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
