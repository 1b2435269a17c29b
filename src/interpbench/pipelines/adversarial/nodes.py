"""Nodes of the study ``adversarial`` (Santurkar & Tsipras, *Adversaries & Interpretability*):
thin wrappers that parse the parameters they use and call :mod:`interpbench.protocols.adversarial`
and :mod:`interpbench.reporting.adversarial_report`."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.attacks import pgd_attack
from interpbench.attacks.mislabelled import mislabelled_set
from interpbench.data import main_shape_mask, subsample
from interpbench.errors import ConfigError
from interpbench.explain import attribute
from interpbench.metrics.results import results_table, summarize, summarize_seeds
from interpbench.parallel import parse_parallel, run_jobs
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import build_for_data, train_for_data
from interpbench.pipelines.params import ig_slot_models, input_gradients_params
from interpbench.protocols import adversarial as adv
from interpbench.protocols.adversarial import predict_labels
from interpbench.protocols.adversarial_params import adversarial_params
from interpbench.reporting import adversarial_report as report
from interpbench.runtime import cpu_threads, resolve_device

log = logging.getLogger(__name__)

MASK_KEYS = ("main_mask", "main_center", "main_radius")


def _pair(ig_models: dict):
    """The input_gradients rgb slot's model parameters (the reused standard model's architecture)."""
    return ig_slot_models(input_gradients_params({"models": ig_models}, "input_gradients"), "rgb")


def _model(ig_models: dict, x: torch.Tensor, state: dict, device: str):
    return build_for_data(_pair(ig_models), x, state).to(resolve_device(device)).eval()


def _keys(test: dict, study: str) -> dict:
    return {"study": study, "dataset": test["dataset"]}


def select_images(scenes_train: dict, scenes_test: dict, rgb_train: dict, rgb_test: dict, params: dict,
                  seed: int) -> tuple[dict, dict, dict]:
    """The study's images: the scenes with their object masks (embedded default), or the
    input_gradients rgb slot's images (e.g. CIFAR-10: no masks): the training set, the test images
    of the exercises (a seeded subsample, ``data.n_test``) and the whole test set (``eval``: the
    clean test set of the mislabelled-set models)."""
    p = adversarial_params(params)
    if p.data.source == "scenes":
        train = {"x": scenes_train["x"], "y": scenes_train["y"], "classes": list(scenes_train["classes"])}
        test = {k: scenes_test[k] for k in ("x", "y", *MASK_KEYS)}
        test["classes"] = list(scenes_test["classes"])
        name = "scenes"
    else:
        train, test = {"x": rgb_train["x"], "y": rgb_train["y"]}, {"x": rgb_test["x"], "y": rgb_test["y"]}
        name = "rgb_slot"
    evaluation = {"x": test["x"], "y": test["y"], "classes": list(test.get("classes", []))}
    test = subsample(test, p.data.n_test, seed + 1)
    for bundle in (train, test, evaluation):
        bundle["dataset"] = name
    log.info("adversarial: %s images, %d train / %d test%s", name, len(train["y"]), len(test["y"]),
             " with object masks" if "main_mask" in test else " (no object masks)")
    return train, test, evaluation


def train_robust_model(train: dict, standard_state: dict, params: dict, ig_models: dict, seed: int,
                       device: str) -> tuple[dict, pd.DataFrame]:
    """The study's robust model: the reused standard model fine-tuned with PGD (Madry et al. 2018)."""
    p = adversarial_params(params)
    a = p.robust.attack
    return train_for_data(_pair(ig_models), train, standard_state, dataclasses.replace(p.robust.train, seed=seed),
                          attack={"norm": a.norm, "eps": a.eps, "steps": a.steps}, seed=seed, device=device,
                          threads=p.cpu_threads, desc=f"adversarial robust {a.norm} eps={a.eps:g}")


def train_judge(train: dict, params: dict, ig_models: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """The independent standard judge: the same architecture trained from another seed."""
    p = adversarial_params(params)
    s = seed + p.judge.seed_offset
    return train_for_data(_pair(ig_models), train, None, dataclasses.replace(p.judge.train, seed=s), attack=None,
                          seed=s, device=device, threads=p.cpu_threads, desc=f"adversarial judge seed {s}")


def compute_gradient_maps(test: dict, standard_state: dict, robust_state: dict, params: dict, ig_models: dict,
                          seed: int, device: str) -> dict:
    """Exercises 1 and 5: |gradient| maps of both models and the SmoothGrad grid (N x σ) of the
    standard model, as importance maps (|map| summed over channels)."""
    p = adversarial_params(params)
    sg = p.smoothgrad
    x, y = test["x"], test["y"]
    out = {"n_samples": list(sg.n_samples), "noise_levels": list(sg.noise_levels)}
    log.info("adversarial: gradients of both models, SmoothGrad of the standard one over N %s x σ %s on %d images",
             sg.n_samples, sg.noise_levels, len(y))
    with cpu_threads(p.cpu_threads):
        for which, state in (("standard", standard_state), ("robust", robust_state)):
            model = _model(ig_models, x, state, device)
            out[f"{which}_gradient"] = adv.importance(attribute("saliency", model, x, y))
            if which == "standard":
                out["standard_smoothgrad"] = adv.smoothgrad_grid(model, x, y, sg.n_samples, sg.noise_levels, seed=seed,
                                                                 batch_size=sg.batch_size)
    return out


def score_gradient_maps(maps: dict, test: dict, params: dict, seed: int, *, study: str) -> pd.DataFrame:
    """Object mass and pointing game of every map (curves over N per σ), and the paired
    differences the findings use: SmoothGrad - gradient, robust - standard gradient."""
    p = adversarial_params(params)
    if "main_mask" not in test:
        log.warning("adversarial: no object masks (%s): exercises 1 and 5 are not scored", test["dataset"])
        return results_table([])
    mask, keys = test["main_mask"].bool(), _keys(test, study)
    rows, items = [], {}
    for which in ("standard", "robust"):
        r, items[(which, "gradient")] = adv.localisation_rows("saliency", maps[f"{which}_gradient"], mask,
                                                               keys=dict(keys, model=which), seed=seed, n_boot=p.n_boot)
        rows += r
        if which != "standard":
            continue
        for si, sigma in enumerate(maps["noise_levels"]):
            for ni, n in enumerate(maps["n_samples"]):
                r, v = adv.localisation_rows(f"smoothgrad_sigma{sigma:g}", maps[f"{which}_smoothgrad"][si, ni], mask,
                                             keys=dict(keys, model=which, x_name="n_samples", x=float(n), x_label=str(n)),
                                             seed=seed, n_boot=p.n_boot)
                rows += r
                items[(which, f"sg_{sigma:g}_{n}")] = v
    rows.append(summarize(adv.area_share(mask), seed=seed, n_boot=p.n_boot, model="none", method="uniform_map",
                          metric="object_mass", **keys))
    h = p.smoothgrad.headline
    head = f"sg_{h['noise_level']:g}_{h['n_samples']}"
    for metric in adv.LOCALISATION:
        std, rob, sgv = items[("standard", "gradient")][metric], items[("robust", "gradient")][metric], \
            items[("standard", head)][metric]
        rows.append(adv.paired_rows(sgv, std, model="standard", method="smoothgrad_minus_saliency",
                                    metric=f"{metric}_difference", keys=keys, seed=seed, n_boot=p.n_boot))
        rows.append(adv.paired_rows(rob, std, model="robust_minus_standard", method="saliency",
                                    metric=f"{metric}_difference", keys=keys, seed=seed, n_boot=p.n_boot))
        rows.append(adv.paired_rows(rob, sgv, model="robust_minus_standard", method="saliency_vs_smoothgrad",
                                    metric=f"{metric}_difference", keys=keys, seed=seed, n_boot=p.n_boot))
    return results_table(rows)


def _targets(test: dict, ig_models: dict, seed: int) -> torch.Tensor:
    """A seeded random other class per test image (the targeted attacks' targets)."""
    return adv.attack_targets(test["y"], _num_classes(ig_models), "random", seed)


def _num_classes(ig_models: dict) -> int:
    """The classifier's number of classes (the reused model's ``num_classes``)."""
    return int(_pair(ig_models).model.num_classes)


def search_min_eps(test: dict, standard_state: dict, robust_state: dict, params: dict, ig_models: dict,
                   parallel: dict, seed: int, device: str, *, study: str) -> tuple[pd.DataFrame, dict]:
    """Exercise 2: per image, the smallest grid eps that flips the prediction (untargeted and
    targeted, per norm), standard vs robust; one fan-out job per (model, norm, mode). Also the
    figure's examples: a few test images attacked (untargeted, first norm) on both models at the
    standard model's median minimal eps."""
    p = adversarial_params(params)
    m = p.min_eps
    x = test["x"]
    models = {"standard": _model(ig_models, x, standard_state, device), "robust": _model(ig_models, x, robust_state, device)}
    targets = _targets(test, ig_models, seed)
    shared = {**models, "x": x, "y": test["y"], "targets": targets, "grids": m.grids,
              "steps": m.steps, "batch_size": p.batch_size}
    jobs = {f"{w}/{norm}/{mode}": {"which": w, "norm": norm, "mode": mode, "seed": seed}
            for w in ("standard", "robust") for norm in m.grids for mode in m.modes}
    done = run_jobs(adv.min_eps_job, jobs, parse_parallel(parallel, "parallel"), shared=shared, threads=p.cpu_threads,
                    desc="minimal eps searches")
    found = {tuple(k.split("/")): v for k, v in done.items()}
    for (w, norm, mode), v in found.items():
        log.info("minimal eps %s %s %s: median %s, %d/%d never flipped", w, norm, mode, np.median(v),
                 int(np.isinf(v).sum()), len(v))
    rows = adv.min_eps_rows(found, m.grids, keys=_keys(test, study), seed=seed, n_boot=p.n_boot)
    norm = next(iter(m.grids))
    mode = m.modes[0]
    eps = float(np.quantile(found[("standard", norm, mode)], 0.5, method="inverted_cdf"))
    eps = eps if np.isfinite(eps) else m.grids[norm][-1]
    n = min(p.report.figure_images, len(x))
    xs, ys = x[:n], test["y"][:n]
    target = targets[:n] if mode == "targeted" else None
    examples = {"x": xs, "y": ys, "eps": eps, "norm": norm, "mode": mode, "classes": list(test.get("classes", []))}
    with cpu_threads(p.cpu_threads):
        for which, model in models.items():
            dev = next(model.parameters()).device
            x_adv = pgd_attack(model, xs.to(dev), ys.to(dev), eps=eps, norm=norm, steps=m.steps, seed=seed,
                                   targeted=target is not None,
                                   target=target.to(dev) if target is not None else None).cpu()
            examples[which] = x_adv
            examples[f"{which}_pred"] = predict_labels(model, x_adv)
            examples[f"{which}_min_eps"] = torch.from_numpy(found[(which, norm, mode)][:n])
    return results_table(rows), examples


def train_on_mislabelled_sets(train: dict, evaluation: dict, standard_state: dict, robust_state: dict, params: dict,
                              ig_models: dict, parallel: dict, seed: int, device: str, *,
                              study: str) -> tuple[pd.DataFrame, dict]:
    """Exercise 3 (Ilyas et al. 2019): each training image attacked toward another class on the
    standard (and, as the control, the robust) model and relabelled as it; fresh models trained on
    each set alone, one per seed, scored on the clean test set. Also the two-class variant."""
    p = adversarial_params(params)
    q = p.mislabelled
    num_classes = _num_classes(ig_models)
    base = subsample({"x": train["x"], "y": train["y"]}, p.data.n_train, seed + 2)
    sources = {"all": (base["x"], base["y"], adv.attack_targets(base["y"], num_classes, q.targets, seed))}
    tests = {"all": (evaluation["x"], evaluation["y"], num_classes)}
    if q.two_class is not None:
        if max(q.two_class) >= num_classes:
            raise ConfigError(f"adversarial.mislabelled.two_class: class {max(q.two_class)} is out of range: the "
                              f"data have {num_classes} classes (0..{num_classes - 1}).")
        px, py = adv.pair_subset(train, q.two_class)
        pair_train = subsample({"x": px, "y": py}, p.data.n_train, seed + 3)
        sources["two_class"] = (pair_train["x"], pair_train["y"], 1 - pair_train["y"])
        tests["two_class"] = (*adv.pair_subset(evaluation, q.two_class), 2)
    x = train["x"]
    models = {"standard": _model(ig_models, x, standard_state, device), "robust": _model(ig_models, x, robust_state, device)}
    par = parse_parallel(parallel, "parallel")
    built = run_jobs(adv.mislabelled_job, {f"{w}/{v}": {"which": w, "variant": v, "seed": seed}
                                           for w in models for v in sources},
                     par, shared={**models, "sources": sources, "attack": q.attack, "batch_size": p.batch_size},
                     threads=p.cpu_threads, desc="mislabelled sets")
    seeds = [seed + 100 + i for i in range(q.seeds)]
    jobs = {f"{key}/seed{s}": {"which": key.split("/")[0], "variant": key.split("/")[1], "seed": s}
            for key in built for s in seeds}
    pair = _pair(ig_models)
    correct = run_jobs(adv.retrain_job, jobs, par, shared={"model_params": pair.model, "sets": built, "tests": tests,
                                                           "cfg": q.train, "device": device},
                       threads=p.cpu_threads, desc="trainings on mislabelled sets")
    keys = _keys(evaluation, study)
    rows = []
    for key, bundle in built.items():
        which, variant = key.split("/")
        common = dict(keys, model=f"trained_on_{which}_attacks", method=f"mislabelled_{variant}")
        accs = [float(correct[f"{key}/seed{s}"]["correct"].mean()) for s in seeds]
        fits = [correct[f"{key}/seed{s}"]["fit"] for s in seeds]
        rows.append(summarize_seeds(accs, seed=seed, metric="clean_test_acc", **common))
        rows.append(summarize_seeds(fits, seed=seed, metric="mislabelled_fit", **common))
        rows += [dict(common, metric="clean_test_acc_seed", x_name="seed", x=float(s), x_label=str(s), value=a, n=1,
                      seed=seed) for s, a in zip(seeds, accs)]
        rows.append(summarize(bundle["hit"].double().numpy(), seed=seed, n_boot=p.n_boot, metric="attack_hit_rate",
                              **common))
        chance = 1.0 / tests[variant][2]
        rows.append(dict(common, metric="chance", value=chance, n=len(tests[variant][1]), seed=seed))
        log.info("mislabelled %s %s: attack hit %.2f, fit of its set %s, clean test accuracy %s (chance %.3f)", which,
                 variant, float(bundle["hit"].double().mean()), ", ".join(f"{f:.3f}" for f in fits),
                 ", ".join(f"{a:.3f}" for a in accs), chance)
    n_fig = p.report.figure_images
    examples = {k: {"x": b["x"][:n_fig], "y": b["y"][:n_fig], "source_y": b["source_y"][:n_fig]} for k, b in built.items()}
    examples["originals"] = {v: s[0][:n_fig] for v, s in sources.items()}
    examples["classes"] = list(train.get("classes", [str(i) for i in range(num_classes)]))
    examples["two_class"] = list(q.two_class) if q.two_class is not None else []
    return results_table(rows), examples


def attack_large_eps(test: dict, standard_state: dict, robust_state: dict, judge_state: dict, judge_robust_state: dict,
                     params: dict, ig_models: dict, seed: int, device: str, *, study: str) -> tuple[pd.DataFrame, dict]:
    """Exercise 4: large-eps targeted attacks on the standard and the robust model, judged by two
    other models (the independent standard judge and input_gradients' robust model); the share of
    the perturbation inside the target class's shape drawn where the object is (scenes)."""
    p = adversarial_params(params)
    a = p.large_eps
    x, y = test["x"], test["y"]
    targets = _targets(test, ig_models, seed + 4)
    attacked = {"standard": _model(ig_models, x, standard_state, device), "robust": _model(ig_models, x, robust_state, device)}
    judges = {"standard": _model(ig_models, x, judge_state, device), "robust": _model(ig_models, x, judge_robust_state, device)}
    adv.check_judges(judges, attacked)
    keys = _keys(test, study)
    target_mask = main_shape_mask(targets, test["main_center"], test["main_radius"], x.shape[-1]) \
        if "main_center" in test else None
    n_fig = p.report.figure_images
    rows, hits, shares = [], {}, {}
    examples = {"x": x[:n_fig], "target": targets[:n_fig], "y": y[:n_fig], "classes": list(test.get("classes", []))}
    method = f"pgd_{a.norm}_targeted_eps{a.eps:g}"
    with cpu_threads(p.cpu_threads):
        for which, model in attacked.items():
            # Targeted PGD with a large budget: the same attack as the mislabelled sets'.
            attack = mislabelled_set(model, x, y, targets, eps=a.eps, norm=a.norm, steps=a.steps, seed=seed,
                                     batch_size=p.batch_size)
            x_adv = attack["x"]
            examples[which] = x_adv[:n_fig]
            common = dict(keys, model=which, method=method)
            self_hit = attack["hit"].double().numpy()
            rows.append(summarize(self_hit, seed=seed, n_boot=p.n_boot, metric="attacked_model_target_rate", **common))
            for jname, judge in judges.items():
                hit = adv.correct(judge, x_adv, targets).numpy()
                hits[(which, jname)] = hit
                rows.append(summarize(hit, seed=seed, n_boot=p.n_boot, metric=f"judged_as_target_{jname}", **common))
            if target_mask is not None:
                shares[which] = adv.perturbation_share(x_adv, x, target_mask)
                rows.append(summarize(shares[which], seed=seed, n_boot=p.n_boot, metric="perturbation_in_target_shape",
                                      **common))
    for jname in judges:
        rows.append(adv.paired_rows(hits[("robust", jname)], hits[("standard", jname)], model="robust_minus_standard",
                                    method=method, metric=f"judged_as_target_{jname}",
                                    keys=keys, seed=seed, n_boot=p.n_boot))
    if target_mask is not None:
        rows.append(summarize(adv.area_share(target_mask), seed=seed, n_boot=p.n_boot, model="none", method="uniform_map",
                              metric="perturbation_in_target_shape", **keys))
        rows.append(adv.paired_rows(shares["robust"], shares["standard"], model="robust_minus_standard",
                                    method=method, metric="perturbation_in_target_shape",
                                    keys=keys, seed=seed, n_boot=p.n_boot))
    examples["judged"] = {f"{w}/{j}": torch.from_numpy(h[:n_fig]) for (w, j), h in hits.items()}
    for (w, j), h in hits.items():
        log.info("large-eps targeted attacks on the %s model: %.2f judged as the target by the %s judge", w, h.mean(), j)
    return results_table(rows), examples


def visualize_neurons(test: dict, standard_state: dict, robust_state: dict, params: dict, ig_models: dict, seed: int,
                      device: str) -> dict:
    """Exercise 6: every configured penultimate unit maximised from noise and from a test image,
    per model, with its top-activating test images."""
    p = adversarial_params(params)
    x = test["x"]
    out = {}
    log.info("adversarial: maximising penultimate units from %s, %d steps", " and ".join(p.neurons.starts), p.neurons.steps)
    with cpu_threads(p.cpu_threads):
        for which, state in (("standard", standard_state), ("robust", robust_state)):
            model = _model(ig_models, x, state, device)
            out[which] = adv.visualize_units(model, x, test["y"], p.neurons, seed=seed + 5,
                                             where="adversarial.neurons.units")
    out["classes"] = list(test.get("classes", []))
    return out


def score_neurons(vis: dict, test: dict, standard_state: dict, robust_state: dict, judge_state: dict,
                  judge_robust_state: dict, params: dict, ig_models: dict, seed: int, device: str, *,
                  study: str) -> pd.DataFrame:
    """Exercise 6 scored: activation reached vs the top test images', and how often each judge
    classifies a unit's maximising input as the unit's class (its top images' majority label)."""
    p = adversarial_params(params)
    x = test["x"]
    adv.check_judge_states({"standard": judge_state, "robust": judge_robust_state},
                           {"standard": standard_state, "robust": robust_state})
    judges = {"standard": _model(ig_models, x, judge_state, device), "robust": _model(ig_models, x, judge_robust_state, device)}
    rows, judged = adv.unit_rows({w: vis[w] for w in ("standard", "robust")}, judges, keys=_keys(test, study), seed=seed,
                                 n_boot=p.n_boot, batch_size=p.batch_size)
    for (w, j), hits in judged.items():
        log.info("%s units: %.2f of the maximising inputs judged as the unit's class by the %s judge", w,
                 float(np.concatenate(hits).mean()), j)
    return results_table(rows)


def plot_smoothgrad(results: pd.DataFrame) -> Figure:
    """Exercises 1 and 5: object mass and pointing game vs N per σ, with the gradients' levels."""
    return report.localisation_curves(results)


def plot_gradient_grid(maps: dict, test: dict, params: dict) -> Figure:
    """Exercises 1 and 5: test images, their object masks, the gradient of both models and SmoothGrad."""
    return report.gradient_grid(maps, test, adversarial_params(params))


def plot_min_eps(results: pd.DataFrame) -> Figure:
    """Exercise 2: success rate vs eps, standard vs robust, per norm and mode."""
    return report.min_eps_curves(results)


def plot_min_eps_examples(examples: dict) -> Figure:
    """Exercise 2: test images attacked at one eps on both models, with each image's minimal eps."""
    return report.min_eps_grid(examples)


def plot_smoothgrad_grid(maps: dict, test: dict) -> Figure:
    """Exercise 1: SmoothGrad of one test image over the N x σ grid."""
    return report.smoothgrad_grid_figure(maps, test)


def plot_mislabelled(examples: dict, results: pd.DataFrame) -> Figure:
    """Exercise 3: originals and their mislabelled versions, and the clean test accuracy per set."""
    return report.mislabelled_figure(examples, results)


def plot_large_eps(examples: dict) -> Figure:
    """Exercise 4: test images and their large-eps targeted versions on both models."""
    return report.large_eps_grid(examples)


def plot_neurons(vis: dict, test: dict, params: dict) -> Figure:
    """Exercise 6: per unit, the top test images beside the maximising inputs, per model."""
    return report.neuron_grid(vis, test, adversarial_params(params))


def write_adversarial_report(results: pd.DataFrame, params: dict) -> tuple[str, dict]:
    """The study's Markdown report and its findings' counts (for MLflow)."""
    p = adversarial_params(params)
    findings = report.adversarial_findings(results, p)
    return report.adversarial_report(results, p, findings), findings_to_metrics(findings)
