"""Scoring one randomization step of the sanity checks against computing that step's maps.

For each size, a model (random init: timings do not depend on the weights), ``n`` images, the
methods of a sanity_checks configuration, and one model randomization step (cascading step 1, the
output block re-initialised):

- maps: every method's maps of that step (``method_maps``, which shares the methods' common work,
  as the study computes them);
- scoring: what ``score_randomization`` spends on that step: the four similarity metrics of every
  method's maps against the prepared step-0 reference (``SimilarityMetric.against``) and the
  bootstrap summaries of the rows. Preparing the reference (its ranks, HOG descriptors) happens
  once per randomization mode and is printed apart.

Rows: 28 px (``mnist_cnn``, 100 images, ``conf/base`` methods) and 224 px (torchvision
``resnet18``, ``--large-images`` images, 3 channels, ``conf/imagenet`` methods). The large maps
of the full method set take minutes on a CPU (SmoothGrad and VarGrad 50 passes, IG 50, IG-SmoothGrad
400: about 170 s for 2 images on one thread, twice, for step 0 and step 1);
``--large-methods single`` times only the single-pass methods (saliency, guided backprop, GradCAM,
guided GradCAM, input x gradient), a lower bound of the step's maps, while scoring always covers
all nine methods. On ``--device cuda`` the model, the images and the scoring (the maps moved to
the GPU, as the study's scoring nodes do with the run's device) are on the GPU, and every timing
synchronises the device before it starts and before it stops. Times are process CPU seconds (all
threads; the wall seconds beside them move with the machine's load; on CUDA compare the wall
seconds). Goal: scoring < maps at both sizes, on each device.

    python benchmarks/similarity_cost.py [--device cpu|cuda] [--threads 1] [--large-images 2]
        [--large-methods all|single] [--large-side 224] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
import yaml  # noqa: E402

from devices import add_device_option, chosen_device, device_name, sync  # noqa: E402
from interpbench.explain import method_maps  # noqa: E402
from interpbench.metrics.results import summarize  # noqa: E402
from interpbench.metrics.similarity import SIMILARITY_METRICS  # noqa: E402
from interpbench.models import build_model  # noqa: E402
from interpbench.models.randomize import randomization_steps  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["spearman_abs", "spearman_signed", "ssim", "hog"]
SINGLE_PASS = ("saliency", "guided_backprop", "gradcam", "guided_gradcam", "input_x_gradient")


def methods_of(env: str) -> dict:
    conf = yaml.safe_load((ROOT / "conf" / env / "parameters_sanity_checks.yml").read_text())
    return conf["sanity_checks"]["protocol"]["methods"]


DEVICE = torch.device("cpu")


def clock() -> tuple[float, float]:
    """(process CPU seconds, wall seconds), after the device's queued work has finished."""
    sync(DEVICE)
    return time.process_time(), time.perf_counter()


def since(start: tuple[float, float]) -> tuple[float, float]:
    cpu, wall = clock()
    return cpu - start[0], wall - start[1]


def one_size(label: str, model: torch.nn.Module, x: torch.Tensor, methods: dict, timed_methods: dict,
             n_boot: int, seed: int = 0) -> dict:
    model = model.eval().to(DEVICE)
    x = x.to(DEVICE)
    with torch.no_grad():
        target = model(x).argmax(1)
    step = next(randomization_steps(model, "cascading", seed, include_original=False))
    reference, _ = method_maps(model, x, target, timed_methods, seed)  # step 0 (not timed)
    start = clock()
    maps, _ = method_maps(step.model, x, target, timed_methods, seed)
    t_maps = since(start)
    # Scoring covers every configured method: the timed maps, repeated to the full method count.
    reps = -(-len(methods) // len(timed_methods))
    reference = torch.cat([reference] * reps)[: len(methods)]
    maps = torch.cat([maps] * reps)[: len(methods)]
    start = clock()
    reference = reference.to(DEVICE)
    prepared = {(name, i): SIMILARITY_METRICS[name].prepare(reference[i]) for name in METRICS for i in range(len(methods))}
    t_prep = since(start)
    start = clock()
    maps = maps.to(DEVICE)
    for (name, i), prep in prepared.items():
        summarize(SIMILARITY_METRICS[name].against(prep, maps[i]), seed=seed, n_boot=n_boot)
    t_score = since(start)
    return {"label": label, "n": len(x), "maps": t_maps, "timed": len(timed_methods), "methods": len(methods),
            "prep": t_prep, "score": t_score}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--large-images", type=int, default=2)
    parser.add_argument("--large-side", type=int, default=224, help="224 (ResNet) to 299 (Inception) px")
    parser.add_argument("--large-methods", choices=["single", "all"], default="all")
    parser.add_argument("--n-boot", type=int, default=1000)
    add_device_option(parser)
    args = parser.parse_args()
    global DEVICE
    DEVICE = chosen_device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    small = methods_of("base")
    rows.append(one_size("28 px, mnist_cnn", build_model("mnist_cnn"), torch.rand(100, 1, 28, 28), small, small,
                         args.n_boot))
    large = methods_of("imagenet")
    timed = large if args.large_methods == "all" else {m: p for m, p in large.items() if m in SINGLE_PASS}
    side = args.large_side
    rows.append(one_size(f"{side} px, resnet18", build_model("resnet18"),
                         torch.rand(args.large_images, 3, side, side), large, timed, args.n_boot))

    print(f"device {device_name(DEVICE)}; torch threads {torch.get_num_threads()}; CPU seconds (wall seconds)")
    print(f"{'size, model':<20}{'images':>7}{'methods timed':>15}{'maps of the step':>19}{'scoring it':>17}"
          f"{'ratio':>7}{'reference, once':>19}")
    for r in rows:
        timed = f"{r['timed']} of {r['methods']}" + ("*" if r["timed"] < r["methods"] else "")
        cells = [f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in ("maps", "score", "prep")]
        print(f"{r['label']:<20}{r['n']:>7}{timed:>15}{cells[0]:>19}{cells[1]:>17}"
              f"{r['score'][0] / r['maps'][0]:>7.2f}{cells[2]:>19}")
    if any(r["timed"] < r["methods"] for r in rows):
        print("* the single-pass methods' maps only: a lower bound of the step's maps (--large-methods all)")


if __name__ == "__main__":
    main()
