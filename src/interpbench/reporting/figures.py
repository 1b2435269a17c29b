"""Matplotlib figures shared by the studies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from interpbench.explain.postprocess import normalize  # noqa: E402


def image_array(x: torch.Tensor, *, clamp: bool = False) -> np.ndarray:
    """An image ``[C, H, W]`` as imshow takes it (``[H, W]`` or ``[H, W, C]``); ``clamp``: as float
    in [0, 1] (attacked images may leave the range)."""
    x = x.detach().cpu()
    arr = (x.float().clamp(0, 1) if clamp else x).numpy()
    return arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))


def attribution_grid(
    images: torch.Tensor,
    maps: torch.Tensor,
    row_labels: list[str],
    col_labels: list[str] | None = None,
    *,
    signed: bool = False,
    title: str = "",
) -> plt.Figure:
    """Grid: row 0 the input images, then one row per entry of ``maps`` [R, N, C, H, W] or [R, N, H, W].

    Maps are normalised per image as in :func:`interpbench.explain.postprocess.normalize` (abs: PAIR
    grayscale of sum_c |m_c|, shown on [0, 1]; signed: PAIR diverging of sum_c m_c, where 0.5 is
    zero, shown on [0, 1] with a diverging colour map); NaN maps (method not applicable) are left
    blank with a note.
    """
    n_rows, n_cols = maps.shape[0] + 1, maps.shape[1]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.4 * n_cols + 1.2, 1.4 * n_rows), squeeze=False)
    cmap = "coolwarm" if signed else "gray"  # both normalisations are shown on [0, 1]
    for j in range(n_cols):
        axes[0, j].imshow(image_array(images[j]), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
        if col_labels:
            axes[0, j].set_title(col_labels[j], fontsize=7)
        for i in range(maps.shape[0]):
            m = maps[i, j].detach().cpu().numpy()
            ax = axes[i + 1, j]
            if np.isnan(m).all():
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=8)
            else:
                shown = normalize(m[None], "signed" if signed else "abs")[0]
                ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    for i, label in enumerate(["input", *row_labels]):
        axes[i, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def metric_bars(results: pd.DataFrame, metric: str, *, title: str = "", ylabel: str = "") -> plt.Figure:
    """Bar chart of ``metric`` per model with its 95% bootstrap interval."""
    rows = results[results["metric"] == metric].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * max(len(rows), 1), 3.0))
    err = np.vstack([rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]])
    labels = [f"{m}\n({d})" for m, d in zip(rows["model"], rows["dataset"])]
    ax.bar(labels, rows["value"], yerr=np.nan_to_num(err), capsize=4, color="#4c72b0")
    ax.set_ylim(0, 1.05 if rows["value"].max() <= 1 else None)
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title or metric, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def randomization_grid(
    images: torch.Tensor, maps: torch.Tensor, steps: list[str], methods: list[str], n_images: int, *, title: str = ""
) -> plt.Figure:
    """Adebayo et al.'s figure: per image, rows = methods, columns = input then each step's map.

    ``maps`` is ``[S, M, N, C, H, W]`` (or ``[S, M, N, H, W]``); each map is abs-normalised on its
    own (PAIR grayscale: g = sum_c |m_c|, (g - min g) / (p99(g) - min g) clipped to [0, 1]).
    """
    if maps.numel() == 0:  # e.g. data randomization switched off
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, f"{title or 'maps'}: not computed", ha="center", va="center", fontsize=8)
        ax.axis("off")
        return fig
    n_images = min(n_images, images.shape[0])
    n_steps, n_methods = maps.shape[0], maps.shape[1]
    rows, cols = n_images * n_methods, n_steps + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols + 1.6, 1.0 * rows + 0.6), squeeze=False)
    for i in range(n_images):
        for m in range(n_methods):
            r = i * n_methods + m
            axes[r, 0].imshow(image_array(images[i]), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
            axes[r, 0].set_ylabel(methods[m], fontsize=7, rotation=0, ha="right", va="center")
            for s in range(n_steps):
                ax = axes[r, s + 1]
                mp = maps[s, m, i].numpy()
                if np.isnan(mp).all():
                    ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=7)
                else:
                    ax.imshow(normalize(mp[None], "abs")[0], cmap="gray", vmin=0, vmax=1)
    for s, label in enumerate(["input", *steps]):
        axes[0, s].set_title(label, fontsize=7, rotation=30 if len(label) > 8 else 0)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title
    return fig


def similarity_curves(results: pd.DataFrame, metrics: list[str], *, title: str = "") -> plt.Figure:
    """One panel per metric: similarity to the trained model's maps along ``layer_step``, per
    method, with 95% bootstrap bands (rows of ``results`` for one model variant)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = results[results["metric"] == metric]
        for method, curve in rows.groupby("method", sort=True):
            curve = curve.sort_values("x")
            ax.plot(curve["x"], curve["value"], marker="o", ms=3, label=method)
            ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], alpha=0.15)
        ticks = rows.drop_duplicates("x").sort_values("x")
        ax.set_xticks(ticks["x"], ticks["x_label"], rotation=45, ha="right", fontsize=7)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylim(-0.3, 1.05)
        ax.set_title(metric, fontsize=9)
    axes[0, 0].set_ylabel("similarity to original")
    axes[0, -1].legend(fontsize=6, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def block_attribution_grid(
    images: torch.Tensor,
    maps: torch.Tensor,
    row_labels: list[str],
    col_labels: list[str] | None = None,
    *,
    boundary: int | None = None,
    title: str = "",
) -> plt.Figure:
    """:func:`attribution_grid` (abs-normalised maps) with a line between the two blocks of
    BlockMNIST images (at image row ``boundary``) in every panel."""
    fig = attribution_grid(images, maps, row_labels, col_labels, signed=False, title=title)
    if boundary is not None:
        for ax in fig.axes:
            ax.axhline(boundary - 0.5, color="#d62728", lw=0.6, ls="--")
    return fig


def k_curves(
    results: pd.DataFrame,
    metric: str,
    *,
    panel: str = "dataset",
    title: str = "",
    ylabel: str = "",
    reference: float | None = None,
    reference_label: str = "",
    ylim: tuple[float, float] | None = None,
) -> plt.Figure:
    """One panel per value of ``panel``: ``metric`` along ``x`` (e.g. k), one curve per
    (model, method) with its 95% bootstrap band; ``reference`` draws a dashed level (e.g. chance)."""
    rows = results[results["metric"] == metric]
    panels = sorted(rows[panel].unique()) or ["(no rows)"]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(5.5, 3.8 * len(panels)), 3.2), squeeze=False)
    for ax, name in zip(axes[0], panels):
        sel = rows[rows[panel] == name]
        for (model, method), curve in sel.groupby(["model", "method"], sort=True):
            curve = curve.sort_values("x")
            label = method if model in ("none", "") else f"{model} ({method})"
            ax.plot(curve["x"], curve["value"], marker="o", ms=3, label=label)
            ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], alpha=0.15)
        ticks = sel.drop_duplicates("x").sort_values("x")
        if not ticks.empty:
            ax.set_xticks(ticks["x"], ticks["x_label"], fontsize=7)
        if reference is not None:
            ax.axhline(reference, color="grey", lw=0.8, ls="--", label=reference_label or None)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_xlabel("k (fraction of pixels)", fontsize=8)
        ax.set_title(str(name), fontsize=9)
        ax.legend(fontsize=6)
    axes[0, 0].set_ylabel(ylabel or metric)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def grouped_bars(results: pd.DataFrame, metrics: list[str], *, title: str = "", ylabel: str = "") -> plt.Figure:
    """One panel per dataset: bars of each ``metric`` per model, with 95% bootstrap intervals."""
    rows = results[results["metric"].isin(metrics)]
    datasets = sorted(rows["dataset"].unique()) or ["(no rows)"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets), 3.0), squeeze=False)
    width = 0.8 / max(len(metrics), 1)
    for ax, name in zip(axes[0], datasets):
        sel = rows[rows["dataset"] == name]
        models = sorted(sel["model"].unique())
        for j, metric in enumerate(metrics):
            m = sel[sel["metric"] == metric].set_index("model").reindex(models)
            pos = np.arange(len(models)) + (j - (len(metrics) - 1) / 2) * width
            err = np.vstack([m["value"] - m["ci_low"], m["ci_high"] - m["value"]])
            ax.bar(pos, m["value"], width, yerr=np.nan_to_num(err), capsize=3, label=metric)
        ax.set_xticks(np.arange(len(models)), models, fontsize=7, rotation=15)
        ax.set_ylim(0, 1.05)
        ax.set_title(str(name), fontsize=9)
        ax.legend(fontsize=6, loc="lower right")
    axes[0, 0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
