"""Cost of the feature-synthesis methods (:mod:`interpbench.synthesis`): seconds per synthesized
image and per target for every method with its default parameters.

On the ``trojans`` study's embedded model shape (``cnn_small``, width 16, 8 classes, 32 px, random
init: the cost does not depend on the weights) and ``--clean`` clean 32 px scenes as the context,
each method synthesizes ``--images`` images for each of ``--targets`` targets (the six trojans of
the embedded default: 6); the generator of RFLA is trained once beforehand (its time is printed
apart). ``cpu s/target`` is the process CPU time (on a busy machine it moves less than the wall
time); the reference line gives one forward+backward pass of the model per sample at batch 64, to
scale the numbers to another machine or load. The last line is the total for all methods x targets, the embedded default's synthesis
cost. On CUDA every timing synchronises the device.

    python benchmarks/synthesis_cost.py [--images 10] [--targets 6] [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import torch

from devices import add_device_option, chosen_device, sync
from interpbench.data import generate_scenes
from interpbench.models import build_model
from interpbench.synthesis import SynthesisContext, available_methods, synthesize, train_generator


def pass_per_sample(model, device, repeats: int = 5) -> float:
    x = torch.rand(64, 3, 32, 32, device=device, requires_grad=True)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        model(x)[:, 0].sum().backward()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--targets", type=int, default=6)
    ap.add_argument("--clean", type=int, default=400)
    ap.add_argument("--threads", type=int, default=None)
    add_device_option(ap)
    ap.add_argument("--methods", default=",".join(available_methods()))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = chosen_device(ap, args.device)
    scenes = generate_scenes(args.clean, image_size=32, num_classes=8, seed=0, cooccur_prob=0.0)
    torch.manual_seed(0)
    model = build_model("cnn_small", num_classes=8, in_channels=3, image_size=32, width=16).eval().to(device)
    sync(device)
    start = time.perf_counter()
    gen = train_generator(scenes["x"], seed=0, device=device)
    sync(device)
    t_gen = time.perf_counter() - start
    ctx = SynthesisContext(clean_images=scenes["x"], clean_labels=scenes["y"], generator=gen)
    print(f"cnn_small 32 px on {device}, {torch.get_num_threads()} torch threads; {args.images} images x "
          f"{args.targets} targets per method; train_generator (defaults): {t_gen:.2f} s; "
          f"reference fwd+bwd {1e3 * pass_per_sample(model, device):.3f} ms per sample")
    print(f"{'method':<20}{'steps':>7}{'s/target':>10}{'s/image':>10}{'cpu s/target':>14}")
    total = 0.0
    for name in args.methods.split(","):
        times, cpu = [], time.process_time()
        for target in range(args.targets):
            sync(device)
            start = time.perf_counter()
            r = synthesize(name, model, target % 8, n_images=args.images, context=ctx, seed=target, device=device)
            sync(device)
            times.append(time.perf_counter() - start)
        per_target = sum(times) / len(times)
        cpu = (time.process_time() - cpu) / len(times)
        total += sum(times)
        print(f"{name:<20}{len(r.losses):>7}{per_target:>10.3f}{per_target / args.images:>10.4f}{cpu:>14.3f}")
    print(f"{'all methods':<20}{'':>7}{total / args.targets:>10.3f}{total / args.targets / args.images:>10.4f}"
          f"   total {total:.1f} s (+ {t_gen:.1f} s generator)")


if __name__ == "__main__":
    main()
