"""Overhead of the attribution registry over the bare model passes a method needs.

On a zoo model (``--model``: ``mnist_cnn`` by default, or ``mlp``; random init) with a batch of
``--batch`` (64) MNIST-shaped inputs on ``--device`` (``cpu`` or ``cuda``), each method's time per
batch (median of a few repeats after a warm-up) is divided by its ideal:

    ideal = passes x (one measured pass of the batch)

where a pass is forward+backward (gradient of the target logits with respect to the input,
weights frozen as ``attribute`` freezes them) for the gradient methods, and a forward pass under
``no_grad`` for occlusion. Passes: saliency 1, integrated_gradients n_steps, smoothgrad n_samples,
occlusion the number of window positions + 1 (the unoccluded input). A ratio below 1 means the
registry's larger internal batches beat batches of ``--batch`` images. The reference pass is timed
next to each repeat (the load of a shared machine drifts) and the median per-repeat ratio is
reported. Each timing window calls the function enough times to last about 0.1 s (a single 1 ms
call is mostly timer and scheduling noise). On CUDA every timing synchronises the device before it
starts and before it stops.
Goal: ratio <= 1.1 for saliency, IG and smoothgrad, also for a model whose pass takes about 1 ms
(``--batch 1`` with mnist_cnn on a CPU core, or ``--model mlp`` with batch 64).

    python benchmarks/attribution_overhead.py [--device cpu] [--model mnist_cnn] [--batch 64]
        [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from devices import add_device_option, chosen_device, device_name, sync
from interpbench.explain import attribute
from interpbench.models import build_model

STEPS = 50
SAMPLES = 50
PATCH, STRIDE = 4, 2


def seconds(fn: Callable[[], object], runs: int = 1, device: torch.device = torch.device("cpu")) -> float:
    """Mean wall time of ``runs`` calls of ``fn`` (the device synchronised around them)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    sync(device)
    return (time.perf_counter() - start) / runs


#: Each timed window lasts at least this long (a 1 ms call timed 5 times is mostly timer and
#: scheduling noise): the number of calls per window is chosen from one untimed call.
WINDOW_S = 0.1


def runs_for(fn: Callable[[], object], device: torch.device) -> int:
    """Calls of ``fn`` that fill about :data:`WINDOW_S` (one call timed first), at least one."""
    return max(1, min(5000, round(WINDOW_S / max(seconds(fn, 1, device), 1e-6))))


def main(repeats: int, device: str = "cpu", model_name: str = "mnist_cnn", batch: int = 64) -> list[dict]:
    dev = torch.device(device)
    model = build_model(model_name).eval().to(dev)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, 28, 28, generator=gen).to(dev)
    y = torch.randint(0, 10, (batch,), generator=gen).to(dev)

    def forward_backward() -> torch.Tensor:
        xg = x.clone().requires_grad_()
        return torch.autograd.grad(model(xg).gather(1, y[:, None]).sum(), xg)[0]

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    def unit_pass(kind: str) -> float:
        # The weights are frozen for the reference pass, as ``attribute`` freezes them.
        params = [p.requires_grad_(False) for p in model.parameters()]
        fn = forward_backward if kind == "fb" else forward
        try:
            return seconds(fn, runs=runs_for(fn, dev), device=dev)
        finally:
            for p in params:
                p.requires_grad_(True)

    windows = ((28 - PATCH) // STRIDE + 1) ** 2
    cases = [
        ("saliency", {}, 1, "fb"),
        ("integrated_gradients", {"n_steps": STEPS}, STEPS, "fb"),
        ("smoothgrad", {"n_samples": SAMPLES}, SAMPLES, "fb"),
        ("occlusion", {"patch": PATCH, "stride": STRIDE}, windows + 1, "f"),
    ]
    for kind in ("fb", "f"):  # warm-up
        unit_pass(kind)
    rows = []
    for method, params, passes, kind in cases:
        run = lambda: attribute(method, model, x, y, **params)  # noqa: E731
        run()  # warm-up
        # The machine's load drifts: time the reference pass right next to each repeat and take
        # the median of the per-repeat ratios.
        units, times = [], []
        for _ in range(repeats):
            units.append(unit_pass(kind))
            times.append(seconds(run, runs=runs_for(run, dev), device=dev))
        ratios = [t / (passes * u) for t, u in zip(times, units)]
        rows.append({
            "method": method, "passes": passes, "unit": statistics.median(units),
            "seconds": statistics.median(times), "ratio": statistics.median(ratios),
        })

    print(f"{model_name}, batch {batch}, device {device_name(dev)}, torch threads {torch.get_num_threads()}")
    print(f"{'method':<22}{'passes':>7}{'pass ms':>9}{'s/batch':>9}{'ideal s':>9}{'ratio':>7}")
    for r in rows:
        print(f"{r['method']:<22}{r['passes']:>7}{r['unit'] * 1e3:>9.1f}{r['seconds']:>9.3f}"
              f"{r['passes'] * r['unit']:>9.3f}{r['ratio']:>7.2f}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    add_device_option(parser)
    parser.add_argument("--model", default="mnist_cnn", choices=["mnist_cnn", "mlp"])
    parser.add_argument("--batch", type=int, default=64, help="images per batch (1 with mnist_cnn: a ~1 ms pass)")
    args = parser.parse_args()
    chosen_device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    main(args.repeats, args.device, args.model, args.batch)
