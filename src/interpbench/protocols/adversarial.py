"""Study ``adversarial``: the *Adversaries & Interpretability* practicum (Santurkar & Tsipras,
MadryLab), measured. Plain functions over models and tensors; each returns results rows.

Exercises (the formulas are in the modules they call):

1. SmoothGrad vs the gradient (Smilkov et al. 2017): ``SG_N,σ(x) = 1/N Σ_i ∇f_y(x + ε_i)``,
   ``ε_i ~ N(0, (σ·(max x - min x))²)``; scored by the share of ``|map|`` mass inside the object mask
   and the pointing game (:mod:`interpbench.metrics.trojans`: ``footprint_mass``, ``pointing_game``).
2. The minimal flipping eps on a grid, standard vs robust (:mod:`interpbench.attacks.min_eps`).
3. The mislabelled training set of Ilyas et al. 2019 (:mod:`interpbench.attacks.mislabelled`).
4. Large-eps targeted attacks judged by another model; the share of ``|δ|`` inside the target
   class's shape drawn where the object is (scenes only).
5. Gradients of the robust vs the standard model (and SmoothGrad), scored as in 1.
6. Feature visualisation by maximising penultimate units (:mod:`interpbench.attacks.maximize`).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
from torch import nn

from interpbench.attacks.maximize import check_units, maximize_units, n_units, representation, scaled_l2
from interpbench.attacks.min_eps import minimal_eps, success_curve
from interpbench.attacks.mislabelled import attack_targets, mislabelled_set
from interpbench.errors import ConfigError
from interpbench.explain import attribute
from interpbench.explain.postprocess import aggregate_channels
from interpbench.metrics.adversarial import (
    difference_ci,
    geometric_mean_ratio_ci,
    median_ci,
    paired_median_difference_ci,
)
from interpbench.metrics.results import summarize
from interpbench.metrics.trojans import footprint_mass, pointing_game
from interpbench.models import build_model
from interpbench.models.training import accuracy_per_item, predict, train_model
from interpbench.protocols.adversarial_params import MODES
from interpbench.runtime import resolve_device, seed_everything

log = logging.getLogger(__name__)

LOCALISATION = {"object_mass": footprint_mass, "pointing_game": pointing_game}


# --------------------------------------------------------------------------- judges
def check_judges(judges: dict[str, nn.Module], attacked: dict[str, nn.Module]) -> None:
    """The judge is never the model under test: no judge may be one of the attacked models (by
    identity), share its parameter tensors, or hold the very same weights (a copy of it)."""
    for jname, judge in judges.items():
        jparams = {id(p) for p in judge.parameters()}
        for aname, model in attacked.items():
            if judge is model or jparams & {id(p) for p in model.parameters()}:
                raise ConfigError(f"judge {jname!r} is the attacked model {aname!r}: a judge must be another model.")
    check_judge_states({j: m.state_dict() for j, m in judges.items()}, {a: m.state_dict() for a, m in attacked.items()})


def check_judge_states(judges: dict[str, dict], attacked: dict[str, dict]) -> None:
    """:func:`check_judges` on state_dicts (models not built yet): no judge holds the very same
    weights as an attacked model."""
    for jname, sa in judges.items():
        for aname, sb in attacked.items():
            if sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and torch.equal(sa[k].cpu(), sb[k].cpu())
                                              for k in sa):
                raise ConfigError(f"judge {jname!r} has the same weights as the attacked model {aname!r}: a judge "
                                  "must be another model (e.g. adversarial.judge.seed_offset must not be 0).")


def predict_labels(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """:func:`interpbench.models.training.predict` on the model's own device."""
    return predict(model, x, batch_size, device=next(model.parameters()).device)


def correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """0/1 (float64) of ``model(x) == y`` per item: :func:`interpbench.models.training.accuracy_per_item`
    on the model's own device."""
    return accuracy_per_item(model, x, y, batch_size, device=next(model.parameters()).device).double()


# --------------------------------------------------------------------------- exercises 1 and 5
def importance(maps: torch.Tensor) -> torch.Tensor:
    """``|attribution|`` summed over the colour channels: ``[N, H, W]``."""
    return aggregate_channels(maps, "abs_sum")


def smoothgrad_grid(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_samples: list[int],
                    noise_levels: list[float], *, seed: int, batch_size: int = 512) -> torch.Tensor:
    """SmoothGrad importance maps for every ``(σ, N)``: ``[len(noise_levels), len(n_samples), N, H, W]``.

    For each σ, ``max(n_samples)`` noisy copies are drawn once (seeded) and their input gradients
    (the registry's ``saliency``) averaged over the first ``N`` copies for every ``N`` of the grid:
    each entry is exactly SmoothGrad with ``N`` samples, and the grid costs ``max(N)`` gradient
    passes per σ instead of ``Σ N``. Noise std = σ × the image's value range (Smilkov et al. 2017).
    """
    n_max = max(n_samples)
    flat = x.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))  # a constant image counts as range 1
    g = torch.Generator().manual_seed(int(seed))
    out = torch.empty(len(noise_levels), len(n_samples), x.shape[0], *x.shape[2:])
    for si, sigma in enumerate(noise_levels):
        total = torch.zeros_like(x)
        noise = torch.randn((n_max, *x.shape), generator=g)
        for k in range(n_max):
            noisy = x + noise[k] * (sigma * span).view(-1, 1, 1, 1)
            grads = torch.cat([attribute("saliency", model, noisy[i : i + batch_size], y[i : i + batch_size])
                               for i in range(0, len(x), batch_size)])
            total += grads
            if k + 1 in n_samples:
                out[si, n_samples.index(k + 1)] = importance(total / (k + 1))
    return out


def localisation_rows(name: str, maps: torch.Tensor, mask: torch.Tensor, *, keys: dict, seed: int,
                      n_boot: int) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Object mass and pointing game of importance maps ``[N, H, W]`` against ``mask`` (per-item values too)."""
    rows, per_item = [], {}
    for metric, fn in LOCALISATION.items():
        v = fn(maps, mask)
        per_item[metric] = v
        rows.append(summarize(v, seed=seed, n_boot=n_boot, method=name, metric=metric, **keys))
    return rows, per_item


def area_share(mask: torch.Tensor) -> np.ndarray:
    """Per image, the mask's share of the pixels: the object mass of a uniform map."""
    return mask.flatten(1).double().mean(1).numpy()


# --------------------------------------------------------------------------- exercise 2
def min_eps_job(standard: nn.Module, robust: nn.Module, x: torch.Tensor, y: torch.Tensor, targets: torch.Tensor,
                grids: dict[str, list[float]], steps: int, batch_size: int, *, which: str, norm: str, mode: str,
                seed: int) -> np.ndarray:
    """One (model, norm, mode) search (a fan-out job): per image, the grid's first flipping eps (``inf``: none)."""
    model = standard if which == "standard" else robust
    target = targets if mode == "targeted" else None
    return minimal_eps(model, x, y, grids[norm], norm=norm, steps=steps, target=target, seed=seed, batch_size=batch_size)


def min_eps_rows(found: dict[tuple[str, str, str], np.ndarray], grids: dict[str, list[float]], *, keys: dict,
                 seed: int, n_boot: int) -> list[dict]:
    """Success-rate curves, median minimal eps and the share never flipped, per (model, norm, mode);
    and per (norm, mode) the robust - standard difference of the medians (paired by image)."""
    rows = []
    for (model, norm, mode), m in found.items():
        grid = grids[norm]
        common = dict(keys, model=model, method=f"pgd_{norm}_{mode}")
        for e, rate in zip(grid, success_curve(m, grid)):
            rows.append(dict(common, metric="success_rate", x_name="eps", x=e, x_label=f"{e:.4g}", value=float(rate),
                             n=len(m), seed=seed))
        med, lo, hi = median_ci(m, n_boot=n_boot, seed=seed)
        rows.append(dict(common, metric="min_eps_median", value=med, ci_low=lo, ci_high=hi, n=len(m), seed=seed))
        rows.append(summarize(np.isinf(m).astype(float), seed=seed, n_boot=n_boot, metric="not_flipped", **common))
    for norm in grids:
        for mode in MODES:
            if ("standard", norm, mode) in found and ("robust", norm, mode) in found:
                r, s = found[("robust", norm, mode)], found[("standard", norm, mode)]
                d, lo, hi = paired_median_difference_ci(r, s, cap=2 * grids[norm][-1], n_boot=n_boot, seed=seed)
                rows.append(dict(keys, model="robust_minus_standard", method=f"pgd_{norm}_{mode}",
                                 metric="min_eps_median_difference", value=d, ci_low=lo, ci_high=hi, n=len(r), seed=seed))
                g, lo, hi = geometric_mean_ratio_ci(r, s, cap=2 * grids[norm][-1], n_boot=n_boot, seed=seed)
                rows.append(dict(keys, model="robust_over_standard", method=f"pgd_{norm}_{mode}", metric="min_eps_ratio",
                                 value=g, ci_low=lo, ci_high=hi, n=len(r), seed=seed))
    return rows


# --------------------------------------------------------------------------- exercise 3
def mislabelled_job(standard: nn.Module, robust: nn.Module, sources: dict, attack, batch_size: int, *, which: str,
                    variant: str, seed: int) -> dict:
    """Build one mislabelled set (a fan-out job): ``sources[variant]`` = ``(x, y, targets)`` attacked on
    the ``which`` model (:func:`interpbench.attacks.mislabelled.mislabelled_set`)."""
    x, y, targets = sources[variant]
    model = standard if which == "standard" else robust
    return mislabelled_set(model, x, y, targets, eps=attack.eps, norm=attack.norm, steps=attack.steps, seed=seed,
                           batch_size=batch_size)


def retrain_job(model_params, sets: dict, tests: dict, cfg, device: str = "cpu", *, which: str, variant: str,
                seed: int) -> np.ndarray:
    """A fan-out job: :func:`retrain` on ``sets[(which, variant)]``, tested on ``tests[variant]``:
    ``{"correct": per clean test item 1.0 when right, "fit": accuracy on the set it was trained on}``."""
    test_x, test_y, num_classes = tests[variant]
    return retrain(model_params, num_classes, sets[f"{which}/{variant}"], test_x, test_y, cfg, seed, device,
                   desc=f"mislabelled {which} {variant}")


def retrain(model_params, num_classes: int, train_set: dict, test_x: torch.Tensor, test_y: torch.Tensor, cfg,
            seed: int, device: str = "cpu", desc: str = "mislabelled") -> dict:
    """Train a fresh ``model_params`` model (``num_classes`` outputs, initial weights from ``seed``) on
    the mislabelled set alone; per clean test item, 1.0 when it is classified correctly, and its
    accuracy on the mislabelled set itself (eval mode): a model that did not fit its training set
    cannot show what that set teaches."""
    seed_everything(seed)
    model = build_model(model_params.architecture, num_classes=num_classes, in_channels=int(test_x.shape[1]),
                        image_size=int(test_x.shape[-1]), **model_params.options)
    train_model(model, train_set["x"], train_set["y"], dataclasses.replace(cfg, seed=seed), resolve_device(device),
                desc=f"{desc} seed {seed}")
    fit = float(correct(model, train_set["x"], train_set["y"]).mean())
    return {"correct": correct(model, test_x, test_y).numpy(), "fit": fit}


def pair_subset(bundle: dict, pair: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The items of the two classes ``pair``, relabelled 0 (``pair[0]``) and 1 (``pair[1]``)."""
    y = bundle["y"]
    keep = (y == pair[0]) | (y == pair[1])
    return bundle["x"][keep], (y[keep] == pair[1]).long()


# --------------------------------------------------------------------------- exercise 4
def perturbation_share(x_adv: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Per image, the share of ``Σ_c |x_adv - x|`` inside ``mask`` (NaN for no perturbation)."""
    return footprint_mass(importance(x_adv - x), mask)


# --------------------------------------------------------------------------- exercise 6
def top_images(model: nn.Module, x: torch.Tensor, units: list[int], k: int, batch_size: int = 512):
    """Per unit, the ``k`` test images that activate it most: ``(indices [U, k], activations [U, k])``."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    with torch.no_grad():
        acts = torch.cat([representation(model, x[i : i + batch_size].to(device)).cpu()
                          for i in range(0, len(x), batch_size)])
    model.train(was)
    vals, idx = acts[:, units].topk(min(k, len(x)), dim=0)
    return idx.T.contiguous(), vals.T.contiguous()


def visualize_units(model: nn.Module, x: torch.Tensor, y: torch.Tensor, p, *, seed: int, where: str) -> dict:
    """Maximise each configured unit from noise and from a (seeded) test image; with each unit's
    top-activating test images, their activations and majority label (the unit's class)."""
    units = check_units(model, p.units if p.units is not None else list(range(n_units(model))), where)
    idx, acts = top_images(model, x, units, p.top_images)
    unit_class = torch.mode(y[idx], dim=1).values
    shape = tuple(x.shape[1:])
    eps, step = scaled_l2(p.eps, shape), scaled_l2(p.step_size, shape)
    g = torch.Generator().manual_seed(int(seed))
    device = next(model.parameters()).device
    out = {"units": torch.tensor(units), "top_index": idx, "top_activation": acts, "unit_class": unit_class,
           "starts": list(p.starts)}
    for start in p.starts:
        if start == "noise":
            x0 = (0.5 + p.noise_std * torch.randn((len(units), *shape), generator=g)).clamp(0, 1)
        else:
            x0 = x[torch.randint(0, len(x), (len(units),), generator=g)]
        xm, reached = maximize_units(model, x0.to(device), units, eps=eps, steps=p.steps, step_size=step)
        out[f"{start}_start"] = x0.cpu()
        out[f"{start}_max"] = xm.cpu()
        out[f"{start}_activation"] = reached.cpu()
    return out


def unit_rows(vis: dict[str, dict], judges: dict[str, nn.Module], *, keys: dict, seed: int, n_boot: int,
              batch_size: int) -> tuple[list[dict], dict]:
    """Per model and start: activation reached / mean top-image activation, and per judge the share
    of maximising inputs judged as the unit's class; per judge the robust - standard difference."""
    rows, judged = [], {}
    for model, v in vis.items():
        top_mean = v["top_activation"].double().mean(1).numpy()
        for start in v["starts"]:
            method = f"maximize_from_{start}"
            ratio = v[f"{start}_activation"].double().numpy() / np.where(top_mean > 0, top_mean, np.nan)
            rows.append(summarize(ratio, seed=seed, n_boot=n_boot, model=model, method=method,
                                  metric="activation_vs_top_images", **keys))
            for jname, judge in judges.items():
                hit = correct(judge, v[f"{start}_max"], v["unit_class"], batch_size).numpy()
                judged.setdefault((model, jname), []).append(hit)
                rows.append(summarize(hit, seed=seed, n_boot=n_boot, model=model, method=method,
                                      metric=f"judged_as_unit_class_{jname}", **keys))
    for jname in judges:
        if ("robust", jname) in judged and ("standard", jname) in judged:
            r, s = np.concatenate(judged[("robust", jname)]), np.concatenate(judged[("standard", jname)])
            d, lo, hi = difference_ci(r, s, n_boot=n_boot, seed=seed)
            rows.append(dict(keys, model="robust_minus_standard", method="maximize", metric=f"judged_as_unit_class_{jname}",
                             value=d, ci_low=lo, ci_high=hi, n=len(r) + len(s), seed=seed))
    return rows, judged


def paired_rows(a: np.ndarray, b: np.ndarray, *, model: str, method: str, metric: str, keys: dict, seed: int,
                n_boot: int) -> dict:
    """One row: the mean paired difference ``a - b`` over the pairs without a NaN, and its bootstrap
    interval (:func:`interpbench.metrics.results.summarize` of the differences)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return summarize(d, seed=seed, n_boot=n_boot, **keys, model=model, method=method, metric=metric)


__all__ = [
    "area_share", "attack_targets", "check_judge_states", "check_judges", "importance", "localisation_rows",
    "min_eps_job", "min_eps_rows", "mislabelled_job", "pair_subset", "paired_rows", "perturbation_share",
    "retrain_job", "smoothgrad_grid", "top_images", "unit_rows", "visualize_units",
]
