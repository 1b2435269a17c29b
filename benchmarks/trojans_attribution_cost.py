"""Cost of the ``trojans`` study's attribution maps: seconds per image per method, and the share of
each method's time spent outside model passes.

On the embedded model (as configured in ``conf/base/parameters_trojans.yml``, ``cnn_small``,
random init: the cost does not depend on the weights) and triggered 32 px scenes, every method of
``trojans.explanation.methods`` runs with its configured parameters on ``--images`` images in one
batch. A forward hook counts the samples each method sends through the model, split into passes
under autograd (forward+backward) and without (forward only). The ideal time is

    ideal = samples_with_grad x t(forward+backward per sample) + samples_without x t(forward per sample)

with both per-sample times measured on a batch of 64; ``outside`` = 1 - ideal / measured is the
share of the method's time spent outside model passes (Captum's bookkeeping, surrogate fits, our
post-processing). Negative values mean the method's batches ran faster per sample than the 64-image
reference.

On ``--device cuda`` the model and images are on the GPU and every timing synchronises the device
before it starts and before it stops.

    python benchmarks/trojans_attribution_cost.py [--device cpu|cuda] [--images 16] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from devices import add_device_option, chosen_device, device_name, sync
from interpbench.data import generate_scenes
from interpbench.data.trojans import parse_trojans, triggered_test_sets
from interpbench.errors import NotApplicableError
from interpbench.explain import aggregate_channels, attribute
from interpbench.models import build_model

ROOT = Path(__file__).resolve().parents[1]


def per_sample(model, x, grad: bool, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync(x.device)
        start = time.perf_counter()
        if grad:
            xi = x.clone().requires_grad_(True)
            model(xi)[:, 0].sum().backward()
        else:
            with torch.no_grad():
                model(x)
        sync(x.device)
        best = min(best, time.perf_counter() - start)
    return best / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    add_device_option(ap)
    args = ap.parse_args()
    device = chosen_device(ap, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    p = yaml.safe_load((ROOT / "conf/base/parameters_trojans.yml").read_text())["trojans"]
    d, m = p["data"], p["model"]["model"]
    specs = [s for s in parse_trojans(p["trojans"], d["num_classes"]) if s.kind in ("patch", "natural")]
    scenes = generate_scenes(max(64, 4 * args.images), image_size=d["image_size"], num_classes=d["num_classes"], seed=0)
    trig = triggered_test_sets(scenes, specs, seed=1)
    x = torch.cat([trig[s.name]["x"] for s in specs])[: args.images].to(device)
    target = torch.cat([trig[s.name]["target"] for s in specs])[: args.images].to(device)
    torch.manual_seed(0)
    model = build_model(m["architecture"], num_classes=d["num_classes"], in_channels=3, image_size=d["image_size"],
                        **m.get("options", {})).eval().to(device)
    for q in model.parameters():
        q.requires_grad_(False)
    ref = torch.rand(64, 3, d["image_size"], d["image_size"], device=device)
    t_fb, t_f = per_sample(model, ref, True), per_sample(model, ref, False)
    counts = {"grad": 0, "nograd": 0}
    model.register_forward_hook(lambda mod, inp, out: counts.__setitem__(
        "grad" if torch.is_grad_enabled() else "nograd", counts["grad" if torch.is_grad_enabled() else "nograd"] + len(inp[0])))
    print(f"device {device_name(device)}; {args.images} images of {d['image_size']} px, {m['architecture']} {m.get('options', {})}, "
          f"{torch.get_num_threads()} torch threads; one pass per sample: fwd+bwd {1e3 * t_fb:.3f} ms, fwd {1e3 * t_f:.3f} ms")
    print(f"{'method':<24}{'s/image':>10}{'samples/image':>15}{'outside':>10}")
    total, total_ideal = 0.0, 0.0
    for name, params in p["explanation"]["methods"].items():
        counts.update(grad=0, nograd=0)
        sync(device)
        start = time.perf_counter()
        try:
            aggregate_channels(attribute(name, model, x, target, seed=0, **(params or {})), "abs_sum")
        except NotApplicableError:
            print(f"{name:<24}{'not applicable':>35}")
            continue
        wall = time.perf_counter() - start
        ideal = counts["grad"] * t_fb + counts["nograd"] * t_f
        total, total_ideal = total + wall, total_ideal + ideal
        outside = 1 - ideal / wall if wall > 0 else float("nan")
        samples = (counts["grad"] + counts["nograd"]) / len(x)
        print(f"{name:<24}{wall / len(x):>10.4f}{samples:>15.0f}{outside:>10.1%}")
    print(f"{'all methods':<24}{total / len(x):>10.4f}{'':>15}{1 - total_ideal / total:>10.1%}")


if __name__ == "__main__":
    main()
