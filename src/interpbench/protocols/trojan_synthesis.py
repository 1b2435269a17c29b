"""Study ``trojans``, second half: feature synthesis rediscovers the triggers (Casper et al. 2023,
*Red Teaming Deep Neural Networks with Feature Synthesis Tools*, sec. 4.2), as plain functions.

1. For every trojan, each synthesis method of :mod:`interpbench.synthesis` is given only the
   trojaned model, the trojan's target class (and for a class-universal trojan its source class)
   and clean images, and returns ``n_images`` images (the paper: 10).
2. A judge that is never the trojaned model (:mod:`interpbench.judges`) picks, for each image and
   for each method's set of images, one of ``n_options`` options: the true trigger and distractors
   (chance ``1 / n_options``; the paper: 8 options, chance 12.5%).
3. Accuracy per method, per method and trojan kind, and for all methods together, each the mean
   over trojans of the per-trojan accuracy with a 95% bootstrap interval over trojans (the trojans
   are the independent units: a method's images of one trojan are not independent trials).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.trojans import PATCH_TRIGGERS, TEXTURE_TRIGGERS, TrojanSpec
from ..errors import ConfigError, NotApplicableError, unknown_name
from ..judges.clip import check_clip_checkpoint
from ..judges import ALL, Option, check_judge, choose_options, option_pool
from ..metrics.results import bootstrap_ci, summarize
from ..parallel import ParallelParams, run_jobs

log = logging.getLogger(__name__)

#: The nine methods of Casper et al. 2023's synthesis benchmark, by this project's registry names.
CASPER_SYNTHESIS = ("tabor", "fourier_inner", "fourier_target", "cppn_inner", "cppn_target", "adversarial_patch",
                    "rfla_perturb", "rfla_gen", "snafue")
#: Casper et al. 2023, Table 2: accuracy per method, (human respondents, CLIP).
PAPER_ACCURACY = {
    "tabor": (0.18, 0.07), "fourier_inner": (0.12, 0.09), "fourier_target": (0.12, 0.06), "cppn_inner": (0.24, 0.18),
    "cppn_target": (0.37, 0.12), "adversarial_patch": (0.30, 0.17), "rfla_perturb": (0.47, 0.21),
    "rfla_gen": (0.42, 0.18), "snafue": (0.39, 0.13), ALL: (0.49, math.nan),
}


@dataclass
class JudgeParams:
    """``features``: the embedding of an independent classifier, by default the study's clean twin
    (``model: clean``); ``clip``: OpenCLIP ``clip_model`` with weights from ``checkpoint``."""

    name: str = "features"
    model: str = "clean"
    clip_model: str = "ViT-B-32"
    checkpoint: str | None = None


@dataclass
class OptionsParams:
    n_options: int = 8
    renderings: int = 16  # augmented renderings of each option, averaged into its prototype
    #: distractors besides the trojans' own triggers (duplicates are dropped): every built-in trigger
    distractors: dict[str, list[str]] = field(default_factory=lambda: {
        "patch": list(PATCH_TRIGGERS), "style": list(TEXTURE_TRIGGERS), "natural": ["heart", "arrow"]})


@dataclass
class BankParams:
    """SNAFUE's bank of natural patches (:func:`natural_patch_bank`)."""

    clean: int = 256  # crops of clean images
    per_photo: int = 32  # crops of each bundled photograph
    size: int = 12  # patch side, pixels


@dataclass
class SynthesisParams:
    enabled: bool = True
    cpu_threads: int | None = 1  # torch CPU threads of the synthesis and judge nodes (small batches: 1 is fastest)
    n_images: int = 10  # synthesized images per trojan and method (the paper: 10)
    clean_images: int = 512  # clean training images the methods may paste onto or search
    methods: dict[str, dict[str, Any]] = field(default_factory=lambda: {m: {} for m in CASPER_SYNTHESIS})
    generator: dict[str, Any] = field(default_factory=dict)  # train_generator's options (RFLA)
    bank: BankParams = field(default_factory=BankParams)
    judge: JudgeParams = field(default_factory=JudgeParams)
    options: OptionsParams = field(default_factory=OptionsParams)


def check_synthesis(s: SynthesisParams, where: str) -> None:
    from ..synthesis import available_methods

    for name in s.methods:
        if name not in available_methods():
            raise ConfigError(f"{where}.methods: {unknown_name('synthesis method', name, available_methods())}")
    try:
        check_judge(s.judge.name)
    except ConfigError as exc:
        raise ConfigError(f"{where}.judge.name: {exc}") from None
    if s.judge.name == "clip" and s.enabled:
        check_clip_checkpoint(s.judge.clip_model, s.judge.checkpoint, f"{where}.judge.checkpoint")
    if s.judge.name == "features" and s.judge.model != "clean":
        raise ConfigError(f"{where}.judge.model: the features judge reads the study's clean twin ('clean'), got "
                          f"{s.judge.model!r}.")
    if s.n_images < 1 or s.clean_images < 1 or s.options.renderings < 1 or not 2 <= s.options.n_options <= 64:
        raise ConfigError(f"{where}: n_images, clean_images and options.renderings must be >= 1 and "
                          f"options.n_options in 2..64.")
    option_pool([], s.options.distractors)  # kinds checked


# --------------------------------------------------------------------------- synthesis


def clean_subset(clean: dict, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded sample of ``n`` clean images and labels."""
    idx = torch.from_numpy(np.random.default_rng(seed).permutation(len(clean["x"]))[:n])
    return clean["x"][idx].float(), clean["y"][idx].long()


def synthesize_all(model: nn.Module, specs: list[TrojanSpec], s: SynthesisParams, *, clean_x: torch.Tensor,
                   clean_y: torch.Tensor, generator: nn.Module | None, patch_bank: torch.Tensor | None, image_size: int,
                   seed: int, device, parallel: ParallelParams | None = None) -> tuple[dict, pd.DataFrame]:
    """Every method's ``n_images`` images for every trojan, resized to ``image_size``: one job per
    (trojan, method), seeded ``seed + 1000 * trojan index + method index``, run by ``parallel``
    (:mod:`interpbench.parallel`; sequential by default, with ``s.cpu_threads`` torch threads).

    Returns the bundle ``{"x": [T·M·n, 3, S, S], "trojan": idx, "method": idx, "trojans", "methods",
    "skipped": {method: why}, "seconds": {method: s}, "not_evaluated": {trojan: why}}`` (a
    class-universal trojan whose source class has no clean image is not evaluated; a method that
    is not applicable is skipped from the first trojan it fails on) and the loss curves (trojan,
    method, step, loss).
    """
    untested = {}
    for spec in specs:
        if spec.source is not None and not bool((clean_y == spec.source).any()):
            untested[spec.name] = f"no clean image of its source class {spec.source} to synthesize from"
            log.warning("synthesis: trojan %s not evaluated: %s", spec.name, untested[spec.name])
    specs = [spec for spec in specs if spec.name not in untested]
    jobs = {f"{spec.name}/{method}": {"method": method, "params": params, "target": spec.target, "source": spec.source,
                                      "seed": seed + 1000 * ti + mi}
            for ti, spec in enumerate(specs) for mi, (method, params) in enumerate(s.methods.items())}
    shared = {"model": model.cpu(), "clean_x": clean_x, "clean_y": clean_y, "generator": generator,
              "patch_bank": patch_bank, "image_size": image_size, "n_images": s.n_images, "device": str(device)}
    done = run_jobs(synthesis_job, jobs, parallel or ParallelParams(), shared=shared, threads=s.cpu_threads,
                    desc="feature synthesis")
    xs, t_idx, m_idx, losses, skipped = [], [], [], [], {}
    seconds = {m: 0.0 for m in s.methods}
    for ti, spec in enumerate(specs):
        for mi, method in enumerate(s.methods):
            if method in skipped:
                continue
            out = done[f"{spec.name}/{method}"]
            if "skipped" in out:
                skipped[method] = out["skipped"]
                log.warning("synthesis %s skipped: %s", method, out["skipped"])
                continue
            seconds[method] += out["seconds"]
            xs.append(out["images"])
            t_idx += [ti] * len(out["images"])
            m_idx += [mi] * len(out["images"])
            losses += [{"trojan": spec.name, "method": method, "step": k, "loss": float(v)}
                       for k, v in enumerate(out["losses"])]
    bundle = {"x": torch.cat(xs) if xs else torch.zeros(0, 3, image_size, image_size),
              "trojan": torch.tensor(t_idx, dtype=torch.int64), "method": torch.tensor(m_idx, dtype=torch.int64),
              "trojans": [sp.name for sp in specs], "kinds": [sp.kind for sp in specs],
              "triggers": [sp.trigger for sp in specs], "methods": list(s.methods), "skipped": skipped,
              "seconds": seconds, "not_evaluated": untested}
    return bundle, pd.DataFrame(losses, columns=["trojan", "method", "step", "loss"])


def synthesis_job(model: nn.Module, clean_x: torch.Tensor, clean_y: torch.Tensor, generator: nn.Module | None,
                  patch_bank: torch.Tensor | None, image_size: int, n_images: int, device: str, *, method: str,
                  params: dict, target: int, source: int | None, seed: int) -> dict:
    """One (trojan, method) synthesis (a fan-out job): ``{"images" [n, 3, S, S] on the CPU, "losses",
    "seconds"}``, or ``{"skipped": why}`` when the method is not applicable."""
    from ..synthesis import SynthesisContext, synthesize

    ctx = SynthesisContext(clean_images=clean_x, clean_labels=clean_y, generator=generator, patch_bank=patch_bank,
                           source=source)
    t0 = time.perf_counter()
    try:
        out = synthesize(method, model.to(device), target, n_images=n_images, context=ctx, seed=seed, device=device,
                         **params)
    except NotApplicableError as exc:
        return {"skipped": str(exc)}
    took = time.perf_counter() - t0
    img = out.images.float().cpu()
    if img.shape[-2:] != (image_size, image_size):
        img = F.interpolate(img, size=(image_size, image_size), mode="bilinear", antialias=True,
                            align_corners=False).clamp(0, 1)
    return {"images": img, "losses": [float(v) for v in out.losses], "seconds": took}


# --------------------------------------------------------------------------- the multiple-choice test


def option_sets(bundle: dict, s: SynthesisParams, seed: int) -> tuple[dict[str, list[Option]], dict[str, Option]]:
    """Each trojan's options (true trigger + distractors, fixed by ``seed``) and its true option."""
    truth = {t: Option(k, g) for t, k, g in zip(bundle["trojans"], bundle["kinds"], bundle["triggers"])}
    pool = option_pool([(o.kind, o.trigger) for o in truth.values()], s.options.distractors)
    rng = np.random.default_rng([seed, 7])
    return {t: choose_options(o, pool, s.options.n_options, rng) for t, o in truth.items()}, truth


def images_by_item(bundle: dict) -> dict[tuple[str, str], torch.Tensor]:
    """``(trojan, method) -> images`` from a synthesis bundle."""
    out = {}
    t, m = bundle["trojan"], bundle["method"]
    for ti, trojan in enumerate(bundle["trojans"]):
        for mi, method in enumerate(bundle["methods"]):
            sel = (t == ti) & (m == mi)
            if bool(sel.any()):
                out[(trojan, method)] = bundle["x"][sel]
    return out


def accuracy_rows(choices: pd.DataFrame, *, judge: str, seed: int, n_boot: int, **keys) -> list[dict]:
    """Results rows: ``synthesis_accuracy_<judge>`` (per image) and ``synthesis_set_accuracy_<judge>``
    (per method's set; method ``all``: every method's images together) per method, over all trojans (x_name
    ``none``) and per trojan kind (x_name ``kind``); and ``synthesis_chance``. Value: the mean over
    trojans of the per-trojan accuracy; interval: 95% bootstrap over trojans; n: trojans."""
    rows = []
    if choices.empty:
        return rows
    for (level, method), g in choices.groupby(["level", "method"], sort=False):
        metric = f"synthesis_{'' if level == 'image' else 'set_'}accuracy_{judge}"
        per = g.groupby("trojan", sort=False).agg(acc=("correct", "mean"), kind=("kind", "first"))
        groups = [("none", math.nan, "all trojans", per)] + [
            ("kind", float(i), kind, per[per["kind"] == kind]) for i, kind in enumerate(("patch", "style", "natural"))
            if (per["kind"] == kind).any()]
        for x_name, x, x_label, sub in groups:
            rows.append(summarize(sub["acc"].to_numpy(float), seed=seed, n_boot=n_boot, **keys, method=method,
                                  metric=metric, x_name=x_name, x=x, x_label=x_label))
    n_opt = int(choices["n_options"].iloc[0])
    rows.append({**keys, "method": "chance", "metric": "synthesis_chance", "x_name": "none", "x": math.nan,
                 "x_label": "1 / options", "value": 1.0 / n_opt, "ci_low": math.nan, "ci_high": math.nan,
                 "n": n_opt, "seed": seed})
    return rows


def kind_difference(choices: pd.DataFrame, a: str, b: str, *, seed: int, n_boot: int) -> tuple[float, float, float]:
    """Per-image accuracy of kind ``a`` minus kind ``b`` (all methods pooled, each trojan's accuracy
    weighted equally), with a 95% bootstrap interval resampling the trojans of each kind separately."""
    img = choices[(choices["level"] == "image") & (choices["method"] != ALL)]
    per = img.groupby("trojan").agg(acc=("correct", "mean"), kind=("kind", "first"))
    va, vb = per.loc[per["kind"] == a, "acc"].to_numpy(float), per.loc[per["kind"] == b, "acc"].to_numpy(float)
    if len(va) == 0 or len(vb) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boots = (va[rng.integers(0, len(va), (n_boot, len(va)))].mean(1)
             - vb[rng.integers(0, len(vb), (n_boot, len(vb)))].mean(1))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(va.mean() - vb.mean()), float(lo), float(hi)


def all_vs_best(choices: pd.DataFrame, *, seed: int, n_boot: int) -> dict:
    """Set-level accuracy of all methods together minus that of the best single method (chosen on
    this run: an optimistic comparison for the single method), paired over trojans with a 95%
    bootstrap interval."""
    sets = choices[choices["level"] == "set"].pivot_table(index="trojan", columns="method", values="correct",
                                                          aggfunc="mean")
    singles = [m for m in sets.columns if m != ALL]
    if ALL not in sets.columns or not singles:
        return {}
    best = max(singles, key=lambda m: (sets[m].mean(), m))
    d = (sets[ALL] - sets[best]).to_numpy(float)
    mean, lo, hi = bootstrap_ci(d, n_boot=n_boot, seed=seed)
    return {"best": best, "best_acc": float(sets[best].mean()), "all_acc": float(sets[ALL].mean()),
            "diff": mean, "ci_low": lo, "ci_high": hi, "n": len(d)}


# --------------------------------------------------------------------------- SNAFUE's natural patches

#: scikit-image's bundled photographs that SNAFUE's bank crops (none of them is a built-in trigger
#: or distractor; a configured trigger or distractor of the same name is left out of the bank).
BANK_PHOTOS = ("astronaut", "rocket", "colorwheel", "immunohistochemistry", "retina", "hubble_deep_field", "coins",
               "moon")


def natural_patch_bank(clean_x: torch.Tensor, *, n_clean: int, per_photo: int, size: int, seed: int,
                       exclude: set[str] = frozenset()) -> torch.Tensor:
    """SNAFUE's bank of natural patches [M, 3, size, size] in [0, 1]: random ``size``-px crops of
    clean images and random crops (a quarter to a half of the shorter side, resized) of the
    photographs in :data:`BANK_PHOTOS` not named in ``exclude``."""
    from skimage import data as skdata

    rng = np.random.default_rng([seed, 11])
    n, _, h, w = clean_x.shape
    out = []
    if n_clean and n:
        i = rng.integers(0, n, n_clean)
        ys, xs = rng.integers(0, h - size + 1, n_clean), rng.integers(0, w - size + 1, n_clean)
        out += [clean_x[a, :, y:y + size, x:x + size] for a, y, x in zip(i, ys, xs)]
    for name in BANK_PHOTOS:
        if name in exclude or not per_photo:
            continue
        img = np.asarray(getattr(skdata, name)(), dtype=np.float32) / 255.0
        img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
        t = torch.from_numpy(img).permute(2, 0, 1)
        side = min(t.shape[1:])
        for _ in range(per_photo):
            c = int(rng.integers(side // 4, side // 2 + 1))
            y, x = int(rng.integers(0, t.shape[1] - c + 1)), int(rng.integers(0, t.shape[2] - c + 1))
            out.append(F.interpolate(t[None, :, y:y + c, x:x + c], size=(size, size), mode="bilinear", antialias=True,
                                     align_corners=False)[0])
    return torch.stack(out).clamp(0, 1) if out else torch.zeros(0, 3, size, size)
