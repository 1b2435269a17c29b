"""A direct, loop-based transcription of NetDissect-Lite's tally (CSAILVision/NetDissect-Lite,
``feature_operation.py``: ``quantile_threshold``, ``tally_job``, ``tally``), in float64 with an
exact quantile, to check :mod:`interpbench.metrics.dissection` against.

Written from the algorithm, not copied: per image, per unit, the same loops and the same
bookkeeping (``tally_labels``, ``tally_units``, ``tally_units_cat``, ``tally_both``). Deviations,
each also documented in :mod:`interpbench.metrics.dissection`: the threshold is the exact
quantile at ``994/999`` (the readout grid point NetDissect-Lite reads) instead of its approximate
sketch; upsampling is an explicit bilinear formula (pixel centres, clamped edges) instead of PIL;
an image with only image-level labels starts ``tally_cat`` from zero (NetDissect-Lite reuses a
stale value there); the category ranking sorts stably (numpy's default sort is stable for so
few categories).
"""

from __future__ import annotations

import numpy as np

Q = 994 / 999


def bilinear_upsample(fm: np.ndarray, sh: int, sw: int) -> np.ndarray:
    h, w = fm.shape
    out = np.zeros((sh, sw))
    for y in range(sh):
        sy = max((y + 0.5) * h / sh - 0.5, 0.0)
        y0 = int(sy)
        y1 = y0 + 1 if y0 < h - 1 else y0
        ly = sy - y0
        for x in range(sw):
            sx = max((x + 0.5) * w / sw - 0.5, 0.0)
            x0 = int(sx)
            x1 = x0 + 1 if x0 < w - 1 else x0
            lx = sx - x0
            out[y, x] = ((1 - ly) * ((1 - lx) * fm[y0, x0] + lx * fm[y0, x1])
                         + ly * ((1 - lx) * fm[y1, x0] + lx * fm[y1, x1]))
    return out


def reference_dissect(features, pixels, scalars, label_category, n_categories, sh, sw, q=Q):
    """``features`` [N, U, h, w]; ``pixels[i]`` [D_i, sh, sw] label numbers (or None);
    ``scalars[i]`` image-level label numbers; ``label_category[j]`` primary category (-1: none).
    Returns (thresholds [U], iou [U, L], label [U], category [U], score [U])."""
    features = np.asarray(features, dtype=np.float64)
    N, U = features.shape[:2]
    L = len(label_category)
    labelcat = np.zeros((L, n_categories))
    for j, c in enumerate(label_category):
        if c >= 0:
            labelcat[j, c] = 1.0
    threshold = np.quantile(features.transpose(1, 0, 2, 3).reshape(U, -1), q, axis=1)
    tally_both = np.zeros((U, L))
    tally_units = np.zeros(U)
    tally_units_cat = np.zeros((U, n_categories))
    tally_labels = np.zeros(L)
    for i in range(N):
        px = pixels[i]
        sc = list(scalars[i])
        for s in sc:
            tally_labels[s] += sh * sw
        if px is not None and len(px):
            tl = np.bincount(px.ravel())
            tl[0] = 0
            tally_labels[: len(tl)] += tl
        for u in range(U):
            fm = features[i, u]
            if fm.max() > threshold[u]:
                mask = bilinear_upsample(fm, sh, sw)
                indexes = np.argwhere(mask > threshold[u])
                tally_units[u] += len(indexes)
                tally_cat = np.zeros(n_categories)
                if px is not None and len(px):
                    tally_bt = np.bincount(px[:, indexes[:, 0], indexes[:, 1]].ravel())
                    if len(tally_bt) > 0:
                        tally_bt[0] = 0
                    tally_cat = np.dot(tally_bt[None, :], labelcat[: len(tally_bt), :])[0]
                    tally_both[u, : len(tally_bt)] += tally_bt
                for s in sc:
                    tally_cat = tally_cat + labelcat[s]
                    tally_both[u, s] += len(indexes)
                tally_units_cat[u] += len(indexes) * (tally_cat > 0)
    units_cat = np.dot(tally_units_cat, labelcat.T)
    iou = tally_both / (units_cat + tally_labels[None, :] - tally_both + 1e-10)
    primary = np.asarray(label_category)
    pciou = np.array([iou * (primary == ci)[None, :] for ci in range(n_categories)])
    label_pciou = pciou.argmax(axis=2)
    score_pciou = pciou[np.arange(n_categories)[:, None], np.arange(U)[None, :], label_pciou]
    bestcat = score_pciou.argsort(axis=0, kind="stable")[::-1][0]
    label = label_pciou[bestcat, np.arange(U)]
    score = score_pciou[bestcat, np.arange(U)]
    return threshold, iou, label, bestcat, score
