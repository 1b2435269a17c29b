"""Do input gradients highlight discriminative features? (Shah, Jain, Netrapalli; NeurIPS 2021).

A standard model and an adversarially robust one (Madry et al. 2018, PGD training) of the same
architecture are compared with three measurements:

1. **Robustness**: clean accuracy and accuracy under PGD at the training eps (``robust_acc``).
2. **Feature leakage on BlockMNIST** (§4): each image stacks a class-determining signal block and
   a fixed null block. For the attribution ``a`` of the true class and a fraction ``k``, with
   ``T_k(a)`` the ``round(k*H*W)`` pixels of largest ``|a|``,

       null_block_share_k(a) = |T_k(a) ∩ null block| / |T_k(a)|       (lower is better)

   (:func:`interpbench.metrics.localisation.null_block_share`). Shah et al. find ~40-50% for the
   input gradients of standard models and far less for robust ones.
3. **DiffROAR** (§3, eq. 1): for an attribution scheme ``A`` and a fraction ``k``, every train and
   test image keeps only its top-k (resp. bottom-k) pixels by ``|A|``, the others set to the
   training-set mean; a fresh model is trained on each masked train set and tested on the masked
   test set, and

       DiffROAR(k) = acc(top-k unmasked, retrained) - acc(bottom-k unmasked, retrained)

   (:mod:`interpbench.metrics.roar`). A random ranking gives ≈ 0; > 0 means ``A`` ranks
   discriminative pixels first. Each (ranking, k, top/bottom) is retrained with several seeds
   (:func:`retrain_seeds`: they vary the fresh model's initialisation and data order; the rankings
   and masks stay fixed), and seed ``s``'s DiffROAR pairs its top and bottom retrainings:
   ``DiffROAR_s(k) = acc_top_s(k) - acc_bottom_s(k)``. The table's ``diffroar`` row is the mean over
   seeds with a 95% Student-t interval over the per-seed values (n - 1 degrees of freedom,
   :func:`interpbench.metrics.results.t_interval`), so retraining variance is in the interval; the
   per-seed rows (``*_seed``, bootstrap interval over test items) stay in the table.

Pixel importance is ``sum_c |a_c|`` (the scores of :func:`interpbench.metrics.roar.pixel_scores`).
Everything here is plain functions over models and tensors (no Kedro).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from interpbench.attacks import pgd_perturber
from interpbench.data import subsample
from interpbench.data.blockmnist import make_blockmnist
from interpbench.errors import ConfigError, NotApplicableError
from interpbench.explain import attribute
from interpbench.metrics.localisation import null_block_share
from interpbench.metrics.results import summarize, summarize_seeds
from interpbench.metrics.roar import diffroar, mask_by_attribution, pixel_scores, random_attribution
from interpbench.models.training import TrainConfig, accuracy_per_item, predict, train_model

log = logging.getLogger(__name__)

VARIANTS = ("standard", "robust")
RANDOM = "random"


def model_label(architecture: str, variant: str, norm: str) -> str:
    """Results-table name of a model: ``mlp_standard``, ``mlp_robust_l2``, ``resnet_small_robust_linf``."""
    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {list(VARIANTS)}, got {variant!r}.")
    return f"{architecture}_standard" if variant == "standard" else f"{architecture}_robust_{norm}"


def k_label(k: float) -> str:
    """``0.025 -> '2.5%'``, ``0.1 -> '10%'``."""
    return f"{100 * k:.4g}%"


def check_fractions(ks: Sequence[float], where: str) -> list[float]:
    """``ks`` as floats in (0, 1], distinct; ConfigError naming ``where`` otherwise."""
    ks = [float(k) for k in ks]
    if not ks:
        raise ConfigError(f"{where}: expected at least one fraction k, got an empty list.")
    bad = [k for k in ks if not 0.0 < k <= 1.0]
    if bad:
        raise ConfigError(f"{where}: every k must be a fraction in (0, 1], got {bad}.")
    if len(set(ks)) != len(ks):
        raise ConfigError(f"{where}: the fractions must be distinct, got {ks}.")
    return ks


# --- Data ---------------------------------------------------------------------------------------


def blockmnist_split(
    train: Mapping[str, Any],
    test: Mapping[str, Any],
    *,
    classes: Sequence[int],
    position: str,
    seed: int,
    null_patch: str = "square",
    max_train: int | None = None,
    max_test: int | None = None,
) -> tuple[dict, dict]:
    """BlockMNIST (``position="random"``) or BlockMNIST-Top (``"top"``) train and test bundles from
    MNIST bundles ``{"x": [N, 1, 28, 28], "y"}``; signal positions are drawn with ``seed`` (train)
    and ``seed + 1`` (test), then each set is optionally subsampled (seeded)."""
    out = []
    for i, (bundle, n) in enumerate(((train, max_train), (test, max_test))):
        block = make_blockmnist(bundle["x"], bundle["y"], classes=classes, signal_position=position,
                                seed=seed + i, null_patch=null_patch)
        block = subsample(block, n, seed=seed + i)
        block["classes"] = [str(c) for c in classes]
        out.append(block)
    log.info("BlockMNIST (signal %s, classes %s): %d train / %d test images",
             position, list(classes), len(out[0]["y"]), len(out[1]["y"]))
    return out[0], out[1]


# --- Training and robustness --------------------------------------------------------------------


def attack_perturber(
    norm: str, eps: float, steps: int, step_size: float | None, seed: int, *, iterate: str = "worst", restarts: int = 1
):
    """Untargeted PGD (random start, projection, [0, 1] clamp) as ``perturb(model, x, y)``;
    ``iterate`` and ``restarts`` as in :func:`interpbench.attacks.pgd_attack`."""
    return pgd_perturber(eps, norm, steps, step_size, seed=seed, iterate=iterate, restarts=restarts)


def train_variant(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    *,
    attack: Mapping[str, Any] | None,
    device: torch.device | str = "cpu",
    desc: str = "train",
) -> list[dict]:
    """Standard training (``attack=None``) or PGD adversarial training (Madry et al. 2018,
    ``min_theta E[max_{||delta|| <= eps} L(f_theta(x + delta), y)]``) of ``model`` in place.

    ``attack``: ``{norm, eps, steps, step_size}``; its random starts are seeded from ``cfg.seed``.
    Training takes the last PGD iterate of one random start (Madry et al.'s eq. (2)).
    Returns the per-epoch history.
    """
    perturb = None
    if attack is not None:
        perturb = attack_perturber(attack["norm"], attack["eps"], attack["steps"], attack.get("step_size"), cfg.seed,
                                   iterate="last")
        log.info("%s: PGD-%s adversarial training, eps=%g, %d steps", desc, attack["norm"], attack["eps"], attack["steps"])
    return train_model(model, x, y, cfg, device, perturb=perturb, desc=desc)


def robustness_rows(
    classifier: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    norm: str,
    eps: float,
    steps: int,
    step_size: float | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    device: torch.device | str = "cpu",
    restarts: int = 1,
    **keys: Any,
) -> list[dict]:
    """``clean_acc`` and ``robust_acc`` (accuracy on untargeted PGD examples at ``eps``) rows.

    An example counts as robust only if no PGD iterate of any of the ``restarts`` random restarts
    fools it (:func:`interpbench.attacks.pgd_attack`, ``iterate="worst"``).
    ``keys`` (study, dataset, model name, ...) identify the rows. The attack's random starts come
    from ``seed + 1`` (not the training stream).
    """
    clean = accuracy_per_item(classifier, x, y, device=device).numpy()
    perturb = attack_perturber(norm, eps, steps, step_size, seed + 1, iterate="worst", restarts=restarts)
    robust = accuracy_per_item(classifier, x, y, device=device, perturb=perturb).numpy()
    log.info("%s: clean accuracy %.3f, PGD-%s (eps=%g, %d steps, %d restarts) accuracy %.3f",
             keys.get("model", "model"), clean.mean(), norm, eps, steps, restarts, robust.mean())
    return [
        summarize(clean, seed=seed, n_boot=n_boot, method="none", metric="clean_acc", **keys),
        summarize(robust, seed=seed, n_boot=n_boot, method=f"pgd_{norm}", metric="robust_acc",
                  x_name="eps", x=float(eps), x_label=f"eps={eps:g}", **keys),
    ]


# --- Attributions ---------------------------------------------------------------------------------


def explained_targets(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: str, device) -> torch.Tensor:
    """The classes explained: the true labels (``"label"``) or the model's predictions (``"predicted"``)."""
    if target == "label":
        return y.clone()
    if target == "predicted":
        return predict(model, x, device=device)
    raise ConfigError(f"target must be 'label' or 'predicted', got {target!r}.")


def attribution_scores(
    model: nn.Module | None,
    x: torch.Tensor,
    target: torch.Tensor,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    desc: str = "",
) -> torch.Tensor:
    """Pixel importance ``sum_c |a_c|`` (float32 ``[N, H, W]``, CPU) of ``method``, in batches.

    ``method="random"`` with ``model=None`` gives the model-free random ranking
    (:func:`interpbench.metrics.roar.random_attribution`, seeded). Batch ``b`` of a stochastic
    method uses seed ``seed + b``.
    """
    if method == RANDOM and model is None:
        return random_attribution((x.shape[0], *x.shape[2:]), seed=seed)
    if model is None:
        raise ConfigError(f"attribution method {method!r} needs a model.")
    model = model.to(device).eval()
    out = []
    starts = range(0, len(x), batch_size)
    bar = tqdm(starts, desc=desc or f"{method} maps", leave=False, disable=True if len(starts) < 4 else None)
    for b, start in enumerate(bar):
        xb, tb = x[start : start + batch_size].to(device), target[start : start + batch_size].to(device)
        out.append(pixel_scores(attribute(method, model, xb, tb, seed=seed + b, **dict(params or {}))))
    return torch.cat(out) if out else torch.zeros(0, *x.shape[2:])


def attribution_bundle(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    methods: Mapping[str, Mapping[str, Any]],
    *,
    target: str = "label",
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """``{"maps": [M, N, H, W] pixel importance, "methods", "target", "skipped": {method: reason}}``;
    a method that is not applicable to the model gets NaN maps."""
    tgt = explained_targets(model, x, y, target, device)
    maps, skipped = [], {}
    for name, params in methods.items():
        try:
            maps.append(attribution_scores(model, x, tgt, name, params, seed=seed, batch_size=batch_size, device=device))
        except NotApplicableError as exc:
            log.warning("%s", exc)
            skipped[name] = str(exc)
            maps.append(torch.full((x.shape[0], *x.shape[2:]), float("nan")))
    return {"maps": torch.stack(maps), "methods": list(methods), "target": tgt.cpu(), "skipped": skipped}


def null_share_rows(
    bundle: Mapping[str, Any], signal_mask: torch.Tensor, ks: Sequence[float], *, seed: int = 0,
    n_boot: int = 1000, **keys: Any
) -> list[dict]:
    """One row per (method, k): the mean share of the top-k pixels in the null block (Shah et al. §4).
    Methods with NaN maps (not applicable) are left out."""
    rows = []
    mask = signal_mask[: bundle["maps"].shape[1]]
    for i, method in enumerate(bundle["methods"]):
        maps = bundle["maps"][i]
        if torch.isnan(maps).all():
            continue
        for k in ks:
            share = null_block_share(maps, mask, k)
            rows.append(summarize(share, seed=seed, n_boot=n_boot, method=method, metric="null_block_share",
                                  x_name="k", x=float(k), x_label=k_label(k), **keys))
    return rows


# --- DiffROAR -------------------------------------------------------------------------------------


def fill_value(x_train: torch.Tensor, how: str = "channel_mean") -> torch.Tensor:
    """The value masked pixels take: the training set's per-channel mean ``[C]`` or mean image ``[C, H, W]``."""
    if how == "channel_mean":
        return x_train.mean(dim=(0, 2, 3))
    if how == "pixel_mean":
        return x_train.mean(dim=0)
    raise ConfigError(f"fill must be 'channel_mean' or 'pixel_mean', got {how!r}.")


def retrain_seeds(seed: int, n: int) -> list[int]:
    """The ``n`` DiffROAR retraining seeds derived from the run's ``seed``: ``seed, seed + 1, ...``
    (the same for every ranking, k and top/bottom, so seed ``i``'s top and bottom runs pair up)."""
    if n < 1:
        raise ConfigError(f"diffroar.seeds must be >= 1, got {n}.")
    return [int(seed) + i for i in range(n)]


def retrain_masked(
    train: Mapping[str, torch.Tensor],
    test: Mapping[str, torch.Tensor],
    scores_train: torch.Tensor,
    scores_test: torch.Tensor,
    *,
    k: float,
    keep: str,
    build: Callable[[], nn.Module],
    cfg: TrainConfig,
    fill: str = "channel_mean",
    device: torch.device | str = "cpu",
    desc: str = "retrain",
    seeds: Sequence[int] | None = None,
    mask_seed: int = 0,
) -> torch.Tensor:
    """ROAR retraining (Hooker et al. 2019; Shah et al. §3): keep the ``keep`` ("top" or "bottom")
    ``k`` fraction of each image's pixels by score, fill the rest with the training mean, train
    ``build()`` on the masked train set and return its 0/1 correctness on the masked test set
    (``[N]``). With ``seeds``, one fresh model per seed (``build(seed)``, ``cfg.seed = seed``) on
    the same masked sets: correctness ``[len(seeds), N]``. Tied scores are ordered at random from
    ``mask_seed`` (:func:`interpbench.metrics.roar.pixel_ranking`), the same masks for every seed."""
    value = fill_value(train["x"], fill)
    x_tr = mask_by_attribution(train["x"], scores_train, k, keep, value, seed=mask_seed)
    x_te = mask_by_attribution(test["x"], scores_test, k, keep, value, seed=mask_seed)

    def one(model: nn.Module, c: TrainConfig, tag: str) -> torch.Tensor:
        train_model(model, x_tr, train["y"], c, device, desc=f"{desc}{tag}")
        correct = accuracy_per_item(model, x_te, test["y"], device=device)
        log.info("%s%s: %s-%s unmasked, test accuracy %.3f", desc, tag, keep, k_label(k), correct.mean().item())
        return correct

    if seeds is None:
        return one(build(), cfg, "")
    return torch.stack([one(build(s), dataclasses.replace(cfg, seed=s), f" seed {s}") for s in seeds])


def diffroar_rows(
    levels: Sequence[Mapping[str, Any]], *, seed: int = 0, n_boot: int = 1000, **keys: Any
) -> list[dict]:
    """DiffROAR rows along ``k`` from ``levels = [{"k", "top", "bottom", "seeds"}, ...]``, where
    ``top`` / ``bottom`` are the retrained models' per-item test correctness, ``[S, N]`` for the
    ``S`` retraining ``seeds`` (or ``[N]``: one retraining, seed ``seed``); seed ``i``'s top and
    bottom runs are paired.

    Per seed ``s`` (``seed`` column = ``s``; value = mean over the N test items, 95% bootstrap
    interval over items, ``n`` = N): ``acc_top_seed``, ``acc_bottom_seed`` and ``diffroar_seed`` =
    ``acc_top_s - acc_bottom_s`` (Shah et al. eq. 1). Over seeds (``seed`` column = the run's
    ``seed``; value = mean of the per-seed values, 95% Student-t interval over them with S - 1
    degrees of freedom -- NaN for one seed --, ``n`` = S): ``acc_top``, ``acc_bottom``, ``diffroar``.
    """
    rows = []
    for level in sorted(levels, key=lambda lv: lv["k"]):
        k = float(level["k"])
        top = np.atleast_2d(np.asarray(level["top"], dtype=np.float64))
        bottom = np.atleast_2d(np.asarray(level["bottom"], dtype=np.float64))
        if top.shape != bottom.shape:
            raise ConfigError(f"DiffROAR at k={k}: top and bottom results cover different test sets or seeds "
                              f"({top.shape} vs {bottom.shape}).")
        seeds = [int(s) for s in level.get("seeds", [seed] * len(top))]
        if len(seeds) != len(top):
            raise ConfigError(f"DiffROAR at k={k}: {len(seeds)} seeds for {len(top)} retrainings.")
        at = dict(x_name="k", x=k, x_label=k_label(k), **keys)
        per_seed = {"acc_top": top.mean(axis=1), "acc_bottom": bottom.mean(axis=1),
                    "diffroar": diffroar(top.mean(axis=1), bottom.mean(axis=1))}
        for metric, values in per_seed.items():
            rows.append(summarize_seeds(values, seed=seed, metric=metric, **at))
        for i, s in enumerate(seeds):
            rows.append(summarize(top[i], seed=s, n_boot=n_boot, metric="acc_top_seed", **at))
            rows.append(summarize(bottom[i], seed=s, n_boot=n_boot, metric="acc_bottom_seed", **at))
            rows.append(summarize(diffroar(top[i], bottom[i]), seed=s, n_boot=n_boot, metric="diffroar_seed", **at))
    return rows
