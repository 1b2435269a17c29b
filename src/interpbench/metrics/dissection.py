"""Network Dissection (Bau et al. 2017; NetDissect-Lite's ``feature_operation.py``), vectorised in torch.

For every unit u of a layer, over a Broden-layout probe set (:mod:`interpbench.data.broden`):

1. ``T_u`` = the top-0.005 quantile of u's activations over all images and positions. NetDissect-Lite
   reads index ``int(1000 · (1 − 0.005)) − 1 = 994`` of a 1000-point quantile readout on the grid
   ``linspace(0, 1, 1000)``, i.e. the quantile at ``q = 994 / 999`` (≈ 0.99499), not 0.995. Here:
   the exact quantile at ``q = 994/999`` with linear interpolation between order statistics (numpy's
   default), kept exact while streaming by holding each unit's top ``N − ⌊q(N−1)⌋`` values
   (N = images × positions). Beyond ``exact_limit`` held values (units × that count) a documented
   approximation is used instead: a second pass builds a ``bins``-bin histogram per unit between
   its min and max and reads the quantile by linear interpolation inside the bin (it lies within one
   bin width, (max − min)/bins, of the two order statistics the exact value interpolates). NetDissect-Lite itself uses an approximate streaming sketch.
2. Each activation map is upsampled bilinearly to the segmentation size (``align_corners=False``:
   pixel centres, edges clamped -- PIL's bilinear upsampling, which NetDissect-Lite's ``imresize``
   calls) and thresholded: ``mask = up > T_u``. Bilinear weights are convex, so a map whose maximum is
   ``<= T_u`` has no pixel above it: only the maps that fire are upsampled, and the tallies run on
   the activated (image, unit, pixel) triples (sparse), not on dense masks.
3. Tallies over the whole probe set, per unit u and label c (label = concept; every label has one
   primary category, :class:`BrodenProbe.label_category`):
   ``I[u, c]`` = Σ over images of |mask ∩ pixels labelled c| (an image-level label counts every
   activated pixel), ``L[c]`` = Σ |pixels labelled c| (an image-level label counts ``sh × sw``),
   ``A[u, k]`` = Σ over images of |mask| where category k occurs *under the activated pixels* of
   that image or as one of its image-level labels -- NetDissect-Lite's ``tally_units_cat``, which is
   narrower than "images that have any label of k". Then
   ``IoU[u, c] = I / (A[u, cat(c)] + L[c] − I + 1e-10)``.
4. Per category, the unit's best label is the first argmax of IoU over that category's labels
   (label 0, ``-``, when all are 0); the unit's label is the best of those, ties going to the
   *later* category (NetDissect-Lite's reversed ``argsort``). Interpretable: IoU > 0.04.

Quirks of NetDissect-Lite and how they are handled: the quantile index (above); its
``Image.resize(seg_size)`` passes ``(sh, sw)`` where PIL expects ``(width, height)`` (the same for
square segmentations; here the size is ``(sh, sw)`` as intended); label 0 is never counted; a
label listed in several segmentation layers of one pixel counts once per layer (its ``bincount``
over stacked layers); an image with image-level labels but no segmentation reuses the previous
unit's ``tally_cat`` there (a bug: here its categories are its image-level ones only); a unit whose
activations never exceed its threshold fires nowhere and gets IoU 0 everywhere, so label ``-`` in
the last category, not interpretable. Bilinear downsampling (a feature map larger than the
segmentation) is plain bilinear here, without PIL's antialiasing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

log = logging.getLogger(__name__)

#: NetDissect-Lite's threshold: index 994 of quantile readout(1000), i.e. q = 994/999.
NETDISSECT_QUANTILE = 994 / 999
IOU_THRESHOLD = 0.04
EXACT_LIMIT = 2**26  # held activation values (units x top count) up to which the quantile is exact
HIST_BINS = 4096


def layer_names(model: nn.Module) -> list[str]:
    """Every named submodule of ``model`` (the names ``layers`` may use)."""
    return [n for n, _ in model.named_modules() if n]


def check_layers(model: nn.Module, layers: list[str], where: str = "layers") -> None:
    known = layer_names(model)
    for name in layers:
        if name not in known:
            raise ConfigError(f"{where}: {type(model).__name__} has no layer {name!r}. Its layers: {', '.join(known)}.")


@contextmanager
def _capture(model: nn.Module, layers: list[str]):
    out: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o)) for n in layers]
    try:
        yield out
    finally:
        for h in hooks:
            h.remove()


def layer_activations(model: nn.Module, layers: list[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs ``[B, U, h, w]`` of ``layers`` for images ``x`` (one forward pass, no grad)."""
    with _capture(model, layers) as out, torch.no_grad():
        model(x)
    for n in layers:
        if out[n].dim() != 4:
            raise ConfigError(f"layer {n!r} outputs shape {tuple(out[n].shape)}; dissection needs a "
                              f"convolutional feature map [B, units, h, w].")
    return dict(out)


@dataclass
class LayerDissection:
    """One layer's dissection: ``thresholds`` [U], the tallies and ``iou`` [U, L] (float64)."""

    layer: str
    thresholds: torch.Tensor
    iou: torch.Tensor
    intersection: torch.Tensor
    label_pixels: torch.Tensor
    activated_cat: torch.Tensor  # [U, C]
    exact: bool

    def best(self, label_category: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label id, category index, IoU) per unit, NetDissect-Lite's choice (module docstring, 4)."""
        iou = self.iou.numpy()
        cat = np.asarray(label_category)
        per_cat = np.stack([np.where(cat[None, :] == k, iou, 0.0) for k in range(n_categories)])  # [C, U, L]
        label = per_cat.argmax(axis=2)  # [C, U], first argmax
        score = np.take_along_axis(per_cat, label[:, :, None], axis=2)[:, :, 0]  # [C, U]
        best_cat = (n_categories - 1) - score[::-1].argmax(axis=0)  # ties -> the later category
        units = np.arange(iou.shape[0])
        return label[best_cat, units], best_cat, score[best_cat, units]


def units_table(d: LayerDissection, probe, iou_threshold: float = IOU_THRESHOLD) -> pd.DataFrame:
    """One row per unit: layer, unit, threshold, label, label_id, category, iou, interpretable."""
    label, cat, score = d.best(probe.label_category, len(probe.categories))
    return pd.DataFrame({
        "layer": d.layer,
        "unit": np.arange(len(label), dtype=np.int64),
        "threshold": d.thresholds.numpy().astype(np.float64),
        "label": [probe.labels[j] for j in label],
        "label_id": label.astype(np.int64),
        "category": [probe.categories[k] for k in cat],
        "iou": score.astype(np.float64),
        "interpretable": score > iou_threshold,
    })


def top_concepts(d: LayerDissection, probe, k: int = 5) -> pd.DataFrame:
    """The ``k`` highest-IoU concepts of every unit: layer, unit, rank, label, category, iou."""
    iou = d.iou.clone()
    iou[:, torch.as_tensor(probe.label_category) < 0] = -1.0
    k = min(k, int((probe.label_category >= 0).sum()))
    val, idx = iou.topk(k, dim=1)
    units = np.repeat(np.arange(iou.shape[0]), k)
    ids = idx.reshape(-1).numpy()
    return pd.DataFrame({
        "layer": d.layer, "unit": units.astype(np.int64), "rank": np.tile(np.arange(1, k + 1), iou.shape[0]),
        "label": [probe.labels[j] for j in ids], "category": [probe.categories[probe.label_category[j]] for j in ids],
        "iou": val.reshape(-1).numpy().astype(np.float64),
    })


# --------------------------------------------------------------------------- thresholds


class _TopBuffer:
    """Each unit's ``k`` largest values seen so far (exact streaming quantile)."""

    def __init__(self, k: int):
        self.k, self.top = k, None

    def add(self, v: torch.Tensor) -> None:  # v [U, n]
        cat = v if self.top is None else torch.cat([self.top, v], dim=1)
        self.top = cat.topk(min(self.k, cat.shape[1]), dim=1).values if cat.shape[1] > self.k else cat

    def quantile(self, n: int, q: float) -> torch.Tensor:
        pos = q * (n - 1)
        lo = math.floor(pos)
        frac = pos - lo
        t = self.top.sort(dim=1, descending=True).values
        k = n - lo
        v_lo = t[:, k - 1]
        v_hi = t[:, k - 2] if k >= 2 else v_lo
        return v_lo + (v_hi - v_lo) * frac


def _flat_units(a: torch.Tensor) -> torch.Tensor:
    return a.transpose(0, 1).reshape(a.shape[1], -1)


def _batches(probe, batch_size: int, transform):
    for batch in probe.batches(batch_size):
        if transform is not None:
            batch = {**batch, "x": transform(batch["x"], batch["index"])}
        yield batch


def thresholds(model, layers, probe, *, quantile=NETDISSECT_QUANTILE, batch_size=64, dtype=torch.float64,
               device="cpu", transform=None, exact_limit=EXACT_LIMIT, bins=HIST_BINS,
               keep: list | None = None, keep_limit: int = 0) -> tuple[dict, dict]:
    """Per layer, ``T_u`` [U] and whether it is exact (module docstring, 1). With ``keep`` (a list),
    every batch's activations are appended to it while they total at most ``keep_limit`` values
    (so the tally pass need not run the model again); past that it is cleared and left empty."""
    kept = 0
    bufs: dict[str, _TopBuffer] = {}
    n_pos: dict[str, int] = {}
    approx: dict[str, list] = {}
    for batch in _batches(probe, batch_size, transform):
        out = layer_activations(model, layers, batch["x"].to(device))
        for name, a in out.items():
            v = _flat_units(a.to(dtype))
            if name not in n_pos:
                per_image = a.shape[2] * a.shape[3]
                n = per_image * len(probe)
                n_pos[name] = n
                k = n - math.floor(quantile * (n - 1))
                if a.shape[1] * k <= exact_limit:
                    bufs[name] = _TopBuffer(k)
                else:
                    approx[name] = [v.min(dim=1).values, v.max(dim=1).values]
                    log.info("dissection: layer %s holds %d x %d values; approximate quantile (%d bins)",
                             name, a.shape[1], k, bins)
            if name in bufs:
                bufs[name].add(v)
            else:
                lo, hi = approx[name]
                approx[name] = [torch.minimum(lo, v.min(dim=1).values), torch.maximum(hi, v.max(dim=1).values)]
        if keep is not None and kept >= 0:
            kept += sum(a.numel() for a in out.values())
            if kept <= keep_limit:
                keep.append(out)
            else:
                keep.clear()
                kept = -1
    result = {name: buf.quantile(n_pos[name], quantile) for name, buf in bufs.items()}
    if approx:
        result.update(_hist_quantiles(model, approx, n_pos, probe, quantile, batch_size, dtype, device, transform, bins))
    return result, {name: name in bufs for name in layers}


def _hist_quantiles(model, approx, n_pos, probe, q, batch_size, dtype, device, transform, bins) -> dict:
    names = list(approx)
    hist = {n: None for n in names}
    for batch in _batches(probe, batch_size, transform):
        out = layer_activations(model, names, batch["x"].to(device))
        for n in names:
            v = _flat_units(out[n].to(dtype))
            lo, hi = approx[n]
            width = (hi - lo).clamp_min(1e-12)
            idx = ((v - lo[:, None]) / width[:, None] * bins).long().clamp(0, bins - 1)
            h = torch.zeros(v.shape[0], bins, dtype=dtype, device=v.device).scatter_add_(1, idx, torch.ones_like(v))
            hist[n] = h if hist[n] is None else hist[n] + h
    result = {}
    for n in names:
        lo, hi = approx[n]
        cdf = hist[n].cumsum(dim=1)
        rank = q * (n_pos[n] - 1) + 1  # the 1-based order statistic (fractional)
        b = torch.searchsorted(cdf, torch.full((len(lo), 1), rank, dtype=cdf.dtype, device=cdf.device)).squeeze(1)
        b = b.clamp(max=bins - 1)
        before = torch.where(b > 0, cdf.gather(1, (b - 1).clamp_min(0)[:, None])[:, 0], torch.zeros_like(lo))
        inside = hist[n].gather(1, b[:, None])[:, 0].clamp_min(1)
        frac = ((rank - before) / inside).clamp(0, 1)
        result[n] = lo + (hi - lo) * (b.to(lo.dtype) + frac) / bins
    return result


# --------------------------------------------------------------------------- tally


def dissect(model: nn.Module, layers: list[str], probe, *, quantile: float = NETDISSECT_QUANTILE,
            batch_size: int = 64, dtype: torch.dtype = torch.float64, device="cpu",
            transform: Callable | None = None, exact_limit: int = EXACT_LIMIT,
            thresholds_given: dict | None = None, keep_limit: int = 2**25) -> dict[str, LayerDissection]:
    """Dissect ``layers`` of ``model`` on ``probe`` (a :class:`BrodenProbe`); two streaming passes
    (thresholds, then tallies), vectorised over units and the images of a batch.

    ``transform(x, index) -> x`` changes the probe images first (noise, an attack);
    ``thresholds_given`` skips the first pass. ``dtype``: of the thresholds, the upsampled maps and
    the tallies (float64 matches the reference transcription to 1e-6). The first pass's activations
    are kept for the second when they total at most ``keep_limit`` values (else the model runs again).
    """
    check_layers(model, layers)
    model = model.eval().to(device)
    kept: list = []
    if thresholds_given is None:
        thr, exact = thresholds(model, layers, probe, quantile=quantile, batch_size=batch_size, dtype=dtype,
                                device=device, transform=transform, exact_limit=exact_limit, keep=kept,
                                keep_limit=keep_limit)
    else:
        thr, exact = {n: thresholds_given[n].to(dtype) for n in layers}, {n: True for n in layers}
    sh, sw = probe.seg_size
    n_labels, n_cat = probe.n_labels, len(probe.categories)
    cat_of = torch.as_tensor(probe.label_category, dtype=torch.long, device=device)
    has_cat = cat_of >= 0
    label_pixels = torch.zeros(n_labels, dtype=dtype, device=device)
    tallies = {}
    for step, batch in enumerate(_batches(probe, batch_size, None if kept else transform)):
        pixels = batch["pixels"].to(device)  # [B, D, sh, sw]
        scalars = batch["scalars"].to(device)  # [B, S]
        B, D = pixels.shape[:2]
        flat = pixels.reshape(B, D, sh * sw)
        label_pixels += torch.bincount(flat.reshape(-1), minlength=n_labels)[:n_labels].to(dtype)
        label_pixels.index_add_(0, scalars.reshape(-1), torch.full(scalars.shape, float(sh * sw), dtype=dtype,
                                                                    device=device).reshape(-1))
        label_pixels[0] = 0
        scalar_cat = torch.zeros(B, n_cat, dtype=torch.bool, device=device)
        for j in range(scalars.shape[1]):
            c = cat_of[scalars[:, j]]
            ok = (scalars[:, j] > 0) & (c >= 0)
            scalar_cat[ok.nonzero(as_tuple=True)[0], c[ok]] = True
        acts = kept[step] if kept else layer_activations(model, layers, batch["x"].to(device))
        for name in layers:
            a = acts[name].to(dtype)
            U = a.shape[1]
            t = tallies.setdefault(name, {"both": torch.zeros(n_labels, U, dtype=dtype, device=device),
                                          "ucat": torch.zeros(U, n_cat, dtype=dtype, device=device)})
            # Bilinear upsampling is a convex combination: a map whose maximum is <= T_u has no pixel
            # above it after upsampling, so only the (image, unit) pairs that fire are upsampled.
            thr_u = thr[name].to(device)
            bi, ui = (a.amax(dim=(2, 3)) > thr_u[None, :]).nonzero(as_tuple=True)
            sub = a[bi, ui][:, None]  # [K, 1, h, w]
            if a.shape[2:] != (sh, sw) and len(sub):
                sub = F.interpolate(sub, size=(sh, sw), mode="bilinear", align_corners=False)
            k, pos = (sub[:, 0] > thr_u[ui][:, None, None]).reshape(len(sub), sh * sw).nonzero(as_tuple=True)
            # Activated pixels are few (the top 0.5%): work on their (image, unit, position) triples.
            b, u = bi[k], ui[k]
            count = torch.bincount(b * U + u, minlength=B * U).view(B, U).to(dtype)  # activated pixels
            labs = flat[b, :, pos]  # [K, D]: the labels under each activated pixel, every layer
            hit = labs > 0
            bb, uu, ll = b[:, None].expand_as(labs)[hit], u[:, None].expand_as(labs)[hit], labs[hit]
            key, n_hit = torch.unique((bb * n_labels + ll) * U + uu, return_counts=True)
            kb, kl, ku = key // (n_labels * U), (key // U) % n_labels, key % U
            t["both"].index_put_((kl, ku), n_hit.to(dtype), accumulate=True)
            present = scalar_cat[:, None, :].expand(B, U, n_cat).clone()  # [B, U, C]
            ok = cat_of[kl] >= 0
            present[kb[ok], ku[ok], cat_of[kl[ok]]] = True
            for j in range(scalars.shape[1]):  # an image-level label: every activated pixel
                t["both"].index_add_(0, scalars[:, j], count)
            t["ucat"] += (count[:, :, None] * present).sum(dim=0)
    result = {}
    for name in layers:
        t = tallies[name]
        both = t["both"].T.contiguous()
        both[:, 0] = 0
        denom_cat = t["ucat"][:, cat_of.clamp_min(0)] * has_cat.to(dtype)[None, :]
        iou = both / (denom_cat + label_pixels[None, :] - both + 1e-10)
        iou[:, ~has_cat] = 0.0
        result[name] = LayerDissection(name, thr[name].cpu(), iou.cpu(), both.cpu(), label_pixels.cpu(),
                                       t["ucat"].cpu(), exact[name])
    return result
