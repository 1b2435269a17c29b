"""The cross-study scorecard: explanation methods x protocol measures, from the studies' results tables.

Each study writes its own results table (the results contract: ``study, dataset, model, method,
metric, x_name, x, x_label, value, ci_low, ci_high, n, seed``). The scorecard reads one cell per
(method, measure) out of them, keeps the cell's 95% interval, and ranks the methods within each
column taking the measure's direction into account. Nothing here knows Kedro.

Rows come in three blocks, ranked only within their block:

- ``attribution``: attribution methods (Captum underneath), scored by sanity_checks,
  input_gradients and the attribution half of trojans.
- ``feature synthesis``: the trojans study's feature-synthesis methods (TABOR, feature
  visualisation, adversarial patch, RFLA, SNAFUE). They are not attribution methods: they make
  images of what the model has learnt, and only the multiple-choice rediscovery test scores them.
- ``unit labels``: Network Dissection's concept labels of units (neuron_robustness), one row.

Rows with the role ``baseline`` (trojans' ``blank`` map and ``sobel_edges`` detector, input_gradients'
``random`` ranking, the synthesis test's ``chance``) are shown for reference and never ranked.

The measures (:data:`MEASURES`, in column order; a measure gives one column per model, or per judge,
found in its rows; "x" is the value of the table's ``x`` column that is read):

``model_randomization`` (sanity_checks, lower is better)
    Spearman rank correlation of abs-normalised maps (``metric == "spearman_abs"``) between a
    method's map of the trained model and its map after *every* block is re-initialised by
    cascading randomization: rows ``model == "<m>_cascading"``, ``x_name == "layer_step"``, x = the
    model's last step. One column per model ``<m>``. Lower: the map changed more when the learnt
    weights were destroyed, which is what Adebayo et al.'s model randomization test asks of a method.
``data_randomization`` (sanity_checks, lower is better)
    Spearman (abs) between the maps of a model trained on permuted labels and of a true-label
    control trained on the same subset with the same recipe: rows ``model == "<m>_random_labels"``,
    ``metric == "spearman_abs"``, ``x_name == "data_randomization"`` (one row). Lower: the map depends
    on what the labels taught. The report notes each pair's fit of its training labels
    (``train_acc`` rows): the comparison only means something when both fit them.
``null_block_share`` (input_gradients, lower is better)
    Share of a method's top-k pixels that fall in BlockMNIST's null block: rows
    ``dataset == "blockmnist"``, ``metric == "null_block_share"``, ``x_name == "k"``, x =
    ``null_block_share_k`` (10% of the pixels by default; the study's findings read every k <= 10%).
    One column per model (standard and adversarially robust). Shah et al. read a large share as
    *feature leakage* (the map highlights the non-discriminative block; a random map gives 0.5):
    lower is better.
``diffroar`` (input_gradients, higher is better)
    DiffROAR(k) = accuracy of a model retrained on the top-k pixels by |attribution| minus on the
    bottom-k pixels, mean over retraining seeds with its 95% t-interval over seeds: rows
    ``metric == "diffroar"``, ``x_name == "k"``, x = ``diffroar_k`` (10%). One column per model whose
    maps were ranked; the ``random`` ranking (model ``none``) is the baseline row of every column.
    Higher: the ranking puts discriminative pixels first.
``trojan_l1`` (trojans, lower is better)
    Casper et al.'s first localisation metric: L1 distance between the map scaled to [0, 1] and the
    trigger's footprint, mean over the triggered images of the patch and natural trojans: rows
    ``metric == "footprint_l1_all"`` (x_name ``none``). One column per trojaned model; ``blank`` and
    ``sobel_edges`` are baseline rows.
``trojan_correlation`` (trojans, higher is better)
    Casper et al.'s second metric: Pearson correlation of the map with the footprint, rows
    ``metric == "footprint_correlation_all"``, otherwise as ``trojan_l1``.
``baselines_beaten`` (trojans, higher is better)
    How many of Casper et al.'s baseline tests the method passes: L1 below the blank map's
    (``l1_vs_blank_p_holm``) and correlation above the edge detector's
    (``correlation_vs_sobel_edges_p_holm``), each a Holm-adjusted one-sided Wilcoxon test over the
    images, passed when p < ``alpha`` (the trojans study's ``report.alpha``). Every ``*_vs_*_p_holm``
    row of a method counts; ``n`` is the number of tests, there is no interval.
``rediscovery`` (trojans, block feature synthesis, higher is better)
    Accuracy of the multiple-choice test (a judge that is never the trojaned model picks the trigger
    among the options from each synthesized image), all trojans pooled, with its 95% interval over
    trojans: rows ``metric == "synthesis_accuracy_<judge>"``, ``x_name == "none"``. One column per
    judge; ``chance`` (``synthesis_chance``, 1 / options) is the baseline row.
``dissection_noise`` (neuron_robustness, block unit labels, lower is better)
    Share of a layer's interpretable units whose Network Dissection label changes when the probe
    images get Gaussian noise: rows ``method == "gaussian_noise"``, ``metric == "label_changed"``,
    ``x_name == "noise_std"``, x = ``noise_std`` (0.05). One column per dissected layer.
``dissection_attack`` (neuron_robustness, block unit labels, lower is better)
    Share of the targeted units whose label changes under the crafted attack on the probe images:
    rows ``method == "crafted_attack"``, ``metric == "label_changed"``. One column per layer attacked.

A method a study did not score, a study whose table is missing, an x the table lacks and a NaN
value are all *not scored*: NaN in the table, grey "n/s" in the figure, "not scored" in the report,
never zero. Ranks: 1 = best within (block, column), ties share the best rank (``min``), computed
over the scored ``method`` rows. The heat-map colours a cell by its rank (green best, red worst;
ties at their *average* rank, so a value most methods share, such as 0 baselines beaten, sits
mid-scale); baselines and a column's only scored method stay white.

The table (:data:`TABLE_COLUMNS`, one row per block, role, method and column) is long-format like
the results contract: ``value, ci_low, ci_high, n, x_label`` are the study's row, ``scored`` is
False (and ``value`` NaN) for a cell not scored, ``note`` says why, ``rank`` / ``n_ranked`` its rank
among the ``n_ranked`` methods scored in the column.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from .markdown import fmt, table  # noqa: E402

Direction = Literal["lower", "higher"]
BLOCKS: dict[str, str] = {
    "attribution": "attribution methods",
    "feature synthesis": "feature-synthesis methods (trojans: rediscovery of the trigger)",
    "unit labels": "unit labels (Network Dissection)",
}
CONTEXT_STUDIES: dict[str, str] = {"zoo": "the default models' accuracies: no method is scored there"}
CELL_COLUMNS = ("method", "role", "variant", "value", "ci_low", "ci_high", "n", "x_label")
TABLE_COLUMNS = ("block", "role", "method", "column", "measure", "variant", "study", "direction", "value",
                 "ci_low", "ci_high", "n", "x_label", "scored", "rank", "n_ranked", "note")


class NotScored(Exception):
    """A measure's rows are absent from a study's table (the message says which and why)."""


@dataclass
class ScorecardOptions:
    """Where the curves are read (``scorecard.measures`` in conf/base/parameters_scorecard.yml) and
    the trojans study's test level (its ``report.alpha``)."""

    null_block_share_k: float = 0.1
    diffroar_k: float = 0.1
    noise_std: float = 0.05
    alpha: float = 0.05


@dataclass(frozen=True)
class Measure:
    """One protocol measure: where its rows are in ``study``'s table (``select``) and its metadata."""

    name: str
    label: str  # short column header
    study: str
    block: str
    direction: Direction
    description: str
    select: Callable[[pd.DataFrame, ScorecardOptions], pd.DataFrame] = field(repr=False)
    notes: Callable[[pd.DataFrame], list[str]] | None = field(default=None, repr=False)
    digits: int = 3
    methods: tuple[str, ...] = ()  # rows the measure always has (shown not scored when its table is missing)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


MEASURES: dict[str, Measure] = {}


def register_measure(name: str, *, label: str, study: str, block: str, direction: Direction, description: str,
                     notes: Callable[[pd.DataFrame], list[str]] | None = None, digits: int = 3,
                     methods: tuple[str, ...] = ()):
    """Register ``select(results, options) -> cells`` as the measure ``name`` (column order = registration
    order). ``cells`` has :data:`CELL_COLUMNS`; ``select`` raises :class:`NotScored` when its rows are absent."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; one of {list(BLOCKS)}")
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction must be 'lower' or 'higher', got {direction!r}")

    def decorate(select):
        MEASURES[name] = Measure(name, label, study, block, direction, description, select, notes, digits, methods)
        return select

    return decorate


def studies() -> tuple[str, ...]:
    """Every study the scorecard reads: the context studies, then those the measures score from."""
    return tuple(dict.fromkeys([*CONTEXT_STUDIES, *(m.study for m in MEASURES.values())]))


# --------------------------------------------------------------------------- selection helpers


def _cells(rows: pd.DataFrame, *, variant: str | pd.Series = "", method: str | None = None,
           role: str | pd.Series = "method") -> pd.DataFrame:
    out = pd.DataFrame({
        "method": rows["method"] if method is None else method,
        "role": role,
        "variant": variant,
        "value": rows["value"].astype(float),
        "ci_low": rows["ci_low"].astype(float),
        "ci_high": rows["ci_high"].astype(float),
        "n": rows["n"],
        "x_label": rows["x_label"].astype(str),
    })
    return out[list(CELL_COLUMNS)].reset_index(drop=True)


def _at_x(rows: pd.DataFrame, x: float, what: str) -> pd.DataFrame:
    at = rows[np.isclose(rows["x"].astype(float), x)]
    if at.empty:
        have = ", ".join(f"{v:g}" for v in sorted(rows["x"].dropna().unique())) or "none"
        raise NotScored(f"no {what} row at x = {x:g} (the table has x = {have})")
    return at


def _need(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    if rows.empty:
        raise NotScored(f"no {what} rows in the table")
    return rows


def _baseline_role(methods: pd.Series, baselines: tuple[str, ...]) -> pd.Series:
    return methods.map(lambda m: "baseline" if m in baselines else "method")


# --------------------------------------------------------------------------- the measures


def _random_label_fits(results: pd.DataFrame) -> list[str]:
    fits = results[(results["metric"] == "train_acc") & (results["x_name"] == "labels_permuted")]
    out = []
    for model, g in fits.groupby("model", sort=False):
        shown = {("random-label model" if x == 1.0 else "true-label control"): v for x, v in zip(g["x"], g["value"])}
        out.append(f"data randomization, {model.removesuffix('_random_labels')}: eval-mode fit of the training labels "
                   + ", ".join(f"{k} {fmt(v)}" for k, v in shown.items())
                   + " (the comparison means something only when both fit them; see the sanity_checks report)")
    return out


@register_measure(
    "model_randomization", label="model randomization", study="sanity_checks", block="attribution", direction="lower",
    description="Spearman (abs) between the map of the trained model and the map after cascading randomization "
                "of every block: model `<m>_cascading`, metric `spearman_abs`, x_name `layer_step`, x = the "
                "model's last step; one column per model. Lower = more sensitive to the model's weights.")
def _model_randomization(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[(results["metric"] == "spearman_abs") & (results["x_name"] == "layer_step")
                         & results["model"].str.endswith("_cascading")], "cascading spearman_abs")
    parts = []
    for model, g in rows.groupby("model", sort=False):
        last = g[g["x"] == g["x"].max()]
        parts.append(_cells(last, variant=model.removesuffix("_cascading")))
    return pd.concat(parts, ignore_index=True)


@register_measure(
    "data_randomization", label="data randomization", study="sanity_checks", block="attribution", direction="lower",
    notes=_random_label_fits,
    description="Spearman (abs) between the maps of a model trained on permuted labels and of a true-label "
                "control (same subset, same recipe): model `<m>_random_labels`, metric `spearman_abs`, x_name "
                "`data_randomization`; one column per model. Lower = more sensitive to what the labels taught.")
def _data_randomization(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[(results["metric"] == "spearman_abs") & (results["x_name"] == "data_randomization")],
                 "data-randomization spearman_abs")
    return _cells(rows, variant=rows["model"].str.removesuffix("_random_labels"))


@register_measure(
    "null_block_share", label="null-block share", study="input_gradients", block="attribution", direction="lower",
    description="share of the method's top-k pixels in BlockMNIST's null block: dataset `blockmnist`, metric "
                "`null_block_share`, x_name `k`, x = `null_block_share_k`; one column per model (standard, "
                "robust). Shah et al. read a large share as feature leakage (a random map gives 0.5): lower is better.")
def _null_block_share(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[(results["dataset"] == "blockmnist") & (results["metric"] == "null_block_share")],
                 "BlockMNIST null_block_share")
    rows = _at_x(rows, options.null_block_share_k, "BlockMNIST null_block_share")
    return _cells(rows, variant=rows["model"])


@register_measure(
    "diffroar", label="DiffROAR", study="input_gradients", block="attribution", direction="higher",
    description="accuracy retrained on the top-k minus on the bottom-k pixels by |attribution|, mean over "
                "retraining seeds with a 95% t-interval over seeds: metric `diffroar`, x_name `k`, x = "
                "`diffroar_k`; one column per model ranked; the `random` ranking is the baseline of every column.")
def _diffroar(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _at_x(_need(results[results["metric"] == "diffroar"], "diffroar"), options.diffroar_k, "diffroar")
    ranked, random = rows[rows["method"] != "random"], rows[rows["method"] == "random"]
    parts = [_cells(ranked, variant=ranked["model"])]
    for model in ranked["model"].unique():
        parts.append(_cells(random, variant=model, role="baseline"))
    if ranked.empty:
        parts.append(_cells(random, variant=random["model"], role="baseline"))
    return pd.concat(parts, ignore_index=True)


_TROJAN_BASELINES = ("blank", "sobel_edges")


def _footprint(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = _need(results[(results["metric"] == metric) & (results["x_name"] == "none")], metric)
    return _cells(rows, variant=rows["model"], role=_baseline_role(rows["method"], _TROJAN_BASELINES))


@register_measure(
    "trojan_l1", label="trojan L1", study="trojans", block="attribution", direction="lower",
    description="Casper et al.'s L1 distance between the map scaled to [0, 1] and the trigger footprint, mean "
                "over the triggered images of the patch and natural trojans: metric `footprint_l1_all`; one column "
                "per trojaned model; `blank` and `sobel_edges` are baselines.")
def _trojan_l1(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    return _footprint(results, "footprint_l1_all")


@register_measure(
    "trojan_correlation", label="trojan correlation", study="trojans", block="attribution", direction="higher",
    description="Casper et al.'s correlation between the map and the trigger footprint, mean over the triggered "
                "images: metric `footprint_correlation_all`; otherwise as trojan L1.")
def _trojan_correlation(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    return _footprint(results, "footprint_correlation_all")


@register_measure(
    "baselines_beaten", label="baselines beaten", study="trojans", block="attribution", direction="higher", digits=0,
    description="how many of the trojans study's baseline tests the method passes (L1 below the blank map's, "
                "correlation above the edge detector's; Holm-adjusted one-sided Wilcoxon p < the study's "
                "`report.alpha`): every `*_vs_*_p_holm` row; n = tests, no interval.")
def _baselines_beaten(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    tests = _need(results[results["metric"].str.contains(r"_vs_.+_p_holm$", regex=True)], "`*_vs_*_p_holm`")
    tests = tests[tests["value"].notna()]
    rows = []
    for (model, method), g in tests.groupby(["model", "method"], sort=False):
        rows.append({"method": method, "role": "method", "variant": model, "value": float((g["value"] < options.alpha).sum()),
                     "ci_low": math.nan, "ci_high": math.nan, "n": len(g),
                     "x_label": f"of {len(g)} tests, p < {options.alpha:g}"})
    if not rows:
        raise NotScored("every baseline test's p is NaN")
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


@register_measure(
    "rediscovery", label="rediscovery accuracy", study="trojans", block="feature synthesis", direction="higher",
    description="multiple-choice accuracy of a judge (never the trojaned model) picking the trigger from each "
                "synthesized image, all trojans pooled, 95% interval over trojans: metric "
                "`synthesis_accuracy_<judge>`, x_name `none`; one column per judge; `chance` is the baseline.")
def _rediscovery(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[results["metric"].str.startswith("synthesis_accuracy_") & (results["x_name"] == "none")],
                 "synthesis_accuracy_<judge>")
    judge = rows["metric"].str.removeprefix("synthesis_accuracy_")
    parts = [_cells(rows, variant=judge)]
    chance = results[results["metric"] == "synthesis_chance"]
    for j in judge.unique():
        parts.append(_cells(chance, variant=j, role="baseline"))
    return pd.concat(parts, ignore_index=True)


@register_measure(
    "dissection_noise", label="label change, noise", study="neuron_robustness", block="unit labels", direction="lower",
    methods=("network_dissection",),
    description="share of a layer's interpretable units whose Network Dissection label changes under Gaussian "
                "noise on the probe images: method `gaussian_noise`, metric `label_changed`, x_name `noise_std`, "
                "x = `noise_std`; one column per layer.")
def _dissection_noise(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[(results["method"] == "gaussian_noise") & (results["metric"] == "label_changed")
                         & (results["x_name"] == "noise_std")], "gaussian_noise label_changed")
    rows = _at_x(rows, options.noise_std, "gaussian_noise label_changed")
    return _cells(rows, variant=rows["model"], method="network_dissection")


@register_measure(
    "dissection_attack", label="label change, attack", study="neuron_robustness", block="unit labels",
    direction="lower", methods=("network_dissection",),
    description="share of the targeted units whose label changes under the crafted attack on the probe images: "
                "method `crafted_attack`, metric `label_changed`; one column per layer attacked.")
def _dissection_attack(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[(results["method"] == "crafted_attack") & (results["metric"] == "label_changed")],
                 "crafted_attack label_changed")
    return _cells(rows, variant=rows["model"], method="network_dissection")


@register_measure(
    "object_mass", label="object mass", study="adversarial", block="attribution", direction="higher",
    description="share of the absolute map's mass inside the scenes' object mask (adversarial study, exercises 1 and 5): "
                "metric `object_mass` of `saliency` and of SmoothGrad per noise level at its largest N; one column "
                "per model (standard, robust); the uniform map (the object's area) is the baseline.")
def _object_mass(results: pd.DataFrame, options: ScorecardOptions) -> pd.DataFrame:
    rows = _need(results[results["metric"] == "object_mass"], "object_mass")
    grad = rows[rows["method"] == "saliency"]
    sg = rows[rows["method"].str.startswith("smoothgrad_sigma")]
    sg = sg[sg["x"] == sg.groupby("method")["x"].transform("max")]
    maps = pd.concat([grad, sg], ignore_index=True)
    parts = [_cells(maps, variant=maps["model"])]
    uniform = rows[rows["method"] == "uniform_map"]
    for model in maps["model"].unique():
        parts.append(_cells(uniform, variant=model, role="baseline"))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- the scorecard


@dataclass
class Scorecard:
    """``table``: one row per (block, role, method, column) with :data:`TABLE_COLUMNS`; ``sources``:
    per study, whether its table was read (``status`` ``read`` / ``missing``), rows and version;
    ``notes``: caveats the measures report."""

    table: pd.DataFrame
    sources: pd.DataFrame
    notes: list[str]

    @property
    def missing_studies(self) -> list[str]:
        return list(self.sources.loc[self.sources["status"] == "missing", "study"])


def column_key(measure: str, variant: str) -> str:
    return f"{measure}[{variant}]" if variant else measure


def build_scorecard(tables: Mapping[str, pd.DataFrame | None], options: ScorecardOptions | None = None,
                    measures: Mapping[str, Measure] | None = None) -> Scorecard:
    """The scorecard of ``tables`` (study -> its results table, None when the study has not saved one)."""
    options = options or ScorecardOptions()
    measures = MEASURES if measures is None else measures
    sources = _sources(tables, measures)
    cells, columns, notes = [], [], []
    for m in measures.values():
        results = tables.get(m.study)
        if results is None:
            columns.append((m, "", f"not scored: no saved results table of {m.study}"))
            continue
        try:
            found = m.select(results, options)
        except NotScored as why:
            columns.append((m, "", f"not scored: {why}"))
            continue
        if m.notes is not None:
            notes += m.notes(results)
        for variant in dict.fromkeys(found["variant"]):
            columns.append((m, variant, "not scored: the study did not score this method"))
        cells.append(found.assign(measure=m.name))
    found = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(columns=[*CELL_COLUMNS, "measure"])
    grid = _grid(found, columns)
    return Scorecard(_rank(grid), sources, list(dict.fromkeys(notes)))


def _sources(tables: Mapping[str, pd.DataFrame | None], measures: Mapping[str, Measure]) -> pd.DataFrame:
    rows = []
    for study in dict.fromkeys([*CONTEXT_STUDIES, *(m.study for m in measures.values()), *tables]):
        t = tables.get(study)
        scored = [m.name for m in measures.values() if m.study == study]
        rows.append({"study": study, "status": "missing" if t is None else "read",
                     "rows": 0 if t is None else len(t),
                     "version": "" if t is None else str(t.attrs.get("version", "")),
                     "measures": ", ".join(scored) or CONTEXT_STUDIES.get(study, "no scorecard measure")})
    return pd.DataFrame(rows, columns=["study", "status", "rows", "version", "measures"])


def _grid(found: pd.DataFrame, columns: list[tuple[Measure, str, str]]) -> pd.DataFrame:
    """Every (method of the block) x (column of the block), scored or not."""
    out = []
    for block in BLOCKS:
        block_cols = [c for c in columns if c[0].block == block]
        in_block = found[found["measure"].isin({m.name for m, _, _ in block_cols})]
        fixed = pd.DataFrame([("method", name) for m, _, _ in block_cols for name in m.methods],
                             columns=["role", "method"])
        rows = pd.concat([in_block[["role", "method"]], fixed], ignore_index=True).drop_duplicates()
        rows = rows.assign(order=rows["role"].map({"method": 0, "baseline": 1})).sort_values(["order", "method"])
        for m, variant, why in block_cols:
            cells = in_block[(in_block["measure"] == m.name) & (in_block["variant"] == variant)]
            cells = cells.drop_duplicates(["role", "method"]).set_index(["role", "method"])
            for role, method in zip(rows["role"], rows["method"]):
                cell = cells.loc[(role, method)] if (role, method) in cells.index else None
                value = math.nan if cell is None else float(cell["value"])
                note = why if cell is None else ("not scored: NaN in the results table" if math.isnan(value) else "")
                out.append({
                    "block": block, "role": role, "method": method, "column": column_key(m.name, variant),
                    "measure": m.name, "variant": variant, "study": m.study, "direction": m.direction,
                    "value": value,
                    "ci_low": math.nan if cell is None else float(cell["ci_low"]),
                    "ci_high": math.nan if cell is None else float(cell["ci_high"]),
                    "n": 0 if cell is None else int(cell["n"]),
                    "x_label": "" if cell is None else str(cell["x_label"]),
                    "scored": not math.isnan(value), "note": note,
                })
            if rows.empty:  # a column whose block has no method at all still shows
                out.append({"block": block, "role": "method", "method": "", "column": column_key(m.name, variant),
                            "measure": m.name, "variant": variant, "study": m.study, "direction": m.direction,
                            "value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "x_label": "",
                            "scored": False, "note": why})
    frame = pd.DataFrame(out, columns=[c for c in TABLE_COLUMNS if c not in ("rank", "n_ranked")])
    return frame.astype({"value": float, "ci_low": float, "ci_high": float, "n": int, "scored": bool})


def _rank(grid: pd.DataFrame) -> pd.DataFrame:
    """Rank 1 = best within (block, column) over the scored ``method`` rows, ties sharing the best rank."""
    grid = grid.copy()
    grid["rank"] = math.nan
    grid["n_ranked"] = 0
    ranked = grid["scored"] & (grid["role"] == "method")
    for _, idx in grid[ranked].groupby(["block", "column"]).groups.items():
        values = grid.loc[idx, "value"]
        lower = grid.loc[idx, "direction"].iloc[0] == "lower"
        grid.loc[idx, "rank"] = values.rank(method="min", ascending=lower)
        grid.loc[idx, "n_ranked"] = len(idx)
    return grid[list(TABLE_COLUMNS)]


def scorecard_metrics(card: Scorecard) -> dict[str, dict]:
    """The scored cells as MLflow metrics ``<column>.<method>`` (the catalog adds the ``scorecard`` prefix)."""
    scored = card.table[card.table["scored"]]
    return {f"{r.measure}.{r.variant + '.' if r.variant else ''}{r.method}": {"value": float(r.value), "step": 0}
            for r in scored.itertuples(index=False)}


# --------------------------------------------------------------------------- figure


NOT_SCORED_COLOUR = "#d0d0d0"
UNRANKED_COLOUR = "#ffffff"


def _columns_of(block_table: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(column key, measure, variant, direction) in table order."""
    cols = block_table.drop_duplicates("column")
    return list(zip(cols["column"], cols["measure"], cols["variant"], cols["direction"]))


def _rows_of(block_table: pd.DataFrame) -> list[tuple[str, str]]:
    rows = block_table[block_table["method"] != ""].drop_duplicates(["role", "method"])
    return list(zip(rows["role"], rows["method"]))


def rank_colour(rank: float, n_ranked: int, cmap=None):
    """Green for rank 1, red for the last (RdYlGn); white when not ranked or alone in its column."""
    if n_ranked < 2 or math.isnan(rank):
        return UNRANKED_COLOUR
    cmap = cmap or plt.get_cmap("RdYlGn")
    return cmap(0.85 - 0.7 * (rank - 1) / (n_ranked - 1))


def _wrap_name(name: str, width: int) -> list[str]:
    """``name`` in lines of at most ``width`` characters, broken after ``_`` or ``.`` where possible."""
    lines = textwrap.wrap(re.sub(r"([_.])", r"\1 ", name), width + 1, break_on_hyphens=False)
    return [line.replace("_ ", "_").replace(". ", ".") for line in lines]


def _colour_ranks(t: pd.DataFrame) -> pd.Series:
    """The rank that sets a cell's colour: the *average* rank of its ties (a value most methods share,
    e.g. 0 baselines beaten, sits mid-column instead of sharing the best colour), 1 = best."""
    out = pd.Series(math.nan, index=t.index)
    ranked = t["scored"] & (t["role"] == "method")
    for _, idx in t[ranked].groupby(["block", "column"]).groups.items():
        out[idx] = t.loc[idx, "value"].rank(method="average", ascending=t.loc[idx, "direction"].iloc[0] == "lower")
    return out


def cell_text(value: float, digits: int = 3) -> str:
    return "n/s" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def heatmap(card: Scorecard, measures: Mapping[str, Measure] | None = None) -> plt.Figure:
    """One panel per block: rows methods (baselines last, in italics), columns measures (header: name,
    direction arrow, model or judge); cells coloured by rank within the column (green best), value
    printed; not-scored cells grey with "n/s"."""
    measures = MEASURES if measures is None else measures
    t = card.table.assign(colour_rank=_colour_ranks(card.table))
    blocks = [b for b in BLOCKS if (t["block"] == b).any()]
    cw, rh, label_w, head_h, gap = 1.05, 0.26, 1.9, 0.62, 0.32
    ncols = max([len(_columns_of(t[t["block"] == b])) for b in blocks] or [1])
    nrows = [max(len(_rows_of(t[t["block"] == b])), 1) for b in blocks]
    width = label_w + ncols * cw + 0.3
    height = 0.5 + sum(head_h + gap + n * rh for n in nrows) + 0.6
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    ax.text(0.15, 0.3, "Scorecard: explanation methods x protocol measures", fontsize=11, weight="bold", va="center")
    y = 0.5
    for block, n in zip(blocks, nrows):
        bt = t[t["block"] == block]
        cols, rows = _columns_of(bt), _rows_of(bt)
        ax.text(0.15, y + 0.25, BLOCKS[block], fontsize=9, weight="bold", va="center")
        y += gap
        for j, (_, measure, variant, direction) in enumerate(cols):
            m = measures.get(measure)
            head = f"{m.label if m else measure} {'↑' if direction == 'higher' else '↓'}"
            lines = textwrap.wrap(head, 17) + _wrap_name(variant, 17)
            ax.text(label_w + (j + 0.5) * cw, y + head_h - 0.05, "\n".join(lines), fontsize=6.5, ha="center",
                    va="bottom")
        y += head_h
        if not rows:
            ax.text(label_w, y + rh / 2, "no method scored (see the report)", fontsize=7, va="center", color="0.3")
        lookup = bt.set_index(["role", "method", "column"])
        for i, (role, method) in enumerate(rows):
            yy = y + i * rh
            ax.text(label_w - 0.08, yy + rh / 2, method + (" (baseline)" if role == "baseline" else ""), fontsize=7,
                    ha="right", va="center", style="italic" if role == "baseline" else "normal")
            for j, (key, measure, _, _) in enumerate(cols):
                c = lookup.loc[(role, method, key)]
                colour = rank_colour(c["colour_rank"], int(c["n_ranked"])) if c["scored"] else NOT_SCORED_COLOUR
                ax.add_patch(Rectangle((label_w + j * cw, yy), cw, rh, facecolor=colour, edgecolor="0.75", lw=0.5))
                digits = measures[measure].digits if measure in measures else 3
                ax.text(label_w + (j + 0.5) * cw, yy + rh / 2, cell_text(c["value"], digits), fontsize=6.5,
                        ha="center", va="center", color="0.35" if not c["scored"] else "black")
        y += n * rh
    ax.text(0.15, y + 0.3, "Colour: rank within the column among the scored methods (green = best, red = worst; "
                           "↑ higher is better, ↓ lower is better).\nWhite: a baseline, or the only method scored; "
                           "grey n/s: not scored (the study did not score the method, or its table is missing).",
            fontsize=6.5, va="top", color="0.25")
    return fig


# --------------------------------------------------------------------------- report


def _cell_markdown(c: pd.Series, digits: int) -> str:
    if not c["scored"]:
        return "not scored"
    text = cell_text(c["value"], digits)
    if not (math.isnan(c["ci_low"]) or math.isnan(c["ci_high"])):
        text += f" [{fmt(c['ci_low'], digits)}, {fmt(c['ci_high'], digits)}]"
    if c["n_ranked"] >= 2 and not math.isnan(c["rank"]):
        text += f" (#{int(c['rank'])})"
    return text


def block_table(card: Scorecard, block: str, measures: Mapping[str, Measure] | None = None) -> str:
    """A block as a Markdown table: rows methods, columns ``measure direction (model)``; cells
    ``value [95% interval] (#rank)`` or ``not scored``."""
    measures = MEASURES if measures is None else measures
    bt = card.table[card.table["block"] == block]
    cols, rows = _columns_of(bt), _rows_of(bt)
    if not rows:
        return "_(no method scored in this block)_"
    lookup = bt.set_index(["role", "method", "column"])
    header = []
    for _, measure, variant, direction in cols:
        m = measures.get(measure)
        header.append(f"{m.label if m else measure} {'↑' if direction == 'higher' else '↓'}"
                      + (f" ({variant})" if variant else ""))
    body = []
    for role, method in rows:
        body.append([f"`{method}`" + (" (baseline)" if role == "baseline" else "")]
                    + [_cell_markdown(lookup.loc[(role, method, key)], measures[m].digits if m in measures else 3)
                       for key, m, _, _ in cols])
    return table(pd.DataFrame(body, columns=["method", *header]))


def _not_scored_columns(card: Scorecard, block: str) -> list[str]:
    """Why whole columns are empty (missing study, absent rows), and NaN cells."""
    bt = card.table[card.table["block"] == block]
    out = []
    for key, g in bt.groupby("column", sort=False):
        if not g["scored"].any():
            out.append(f"`{key}`: {g['note'].iloc[0].removeprefix('not scored: ')}")
        else:
            nan = g[g["note"] == "not scored: NaN in the results table"]
            if not nan.empty:
                out.append(f"`{key}`: NaN in the results table for {', '.join(f'`{m}`' for m in nan['method'])}")
    return out


def scorecard_report(card: Scorecard, options: ScorecardOptions | None = None,
                     measures: Mapping[str, Measure] | None = None, figure: str = "heatmap.png") -> str:
    """The Markdown report: which tables were read (and which were missing), one table per block with
    intervals, directions and ranks, the heat-map, and every measure's definition."""
    options = options or ScorecardOptions()
    measures = MEASURES if measures is None else measures
    lines = [
        "# Scorecard: explanation methods across the studies",
        "",
        "One cell per (method, protocol measure), read from each study's latest results table: the value with "
        "its 95% interval (as the study computed it: bootstrap over items, or t-interval over retraining seeds "
        "for DiffROAR), the measure's direction (↑ higher is better, ↓ lower is better) and the method's rank "
        "within the column (#1 = best; ties share the best rank). A method a study did not score is "
        "*not scored*, never zero. Blocks are ranked separately: feature-synthesis methods are not attribution "
        "methods (they make images of what the model learnt, scored only by the trojans study's rediscovery "
        "test), and Network Dissection's unit labels are a third kind of explanation. Baselines are shown for "
        "reference and not ranked.",
        "",
    ]
    missing = card.missing_studies
    if missing:
        lines += [f"⚠ **Missing: {', '.join(f'`{s}`' for s in missing)}** has no saved results table yet; its "
                  f"measures are not scored. Run `kedro run --pipelines {missing[0]}`"
                  + (" (and the other missing studies)" if len(missing) > 1 else "") + ", then `kedro run "
                  "--pipelines scorecard`.", ""]
    lines += ["## Tables read", ""]
    for r in card.sources.itertuples(index=False):
        if r.status == "missing":
            lines.append(f"- ⚠ `{r.study}`: missing (no saved results table); not scored: {r.measures}")
        else:
            version = f", version {r.version}" if r.version else ""
            lines.append(f"- ✅ `{r.study}`: {r.rows} rows{version}; measures: {r.measures}")
    lines += ["", f"Settings: null-block share at k = {options.null_block_share_k:g}, DiffROAR at k = "
                  f"{options.diffroar_k:g}, label changes at noise std {options.noise_std:g}, baseline tests "
                  f"passed at Holm-adjusted p < {options.alpha:g}.", "",
              f"![scorecard heat-map]({figure})", ""]
    for block, title in BLOCKS.items():
        if not (card.table["block"] == block).any():
            continue
        lines += [f"## {title[0].upper()}{title[1:]}", "", block_table(card, block, measures), ""]
        why = _not_scored_columns(card, block)
        if why:
            lines += ["Not scored:", "", *[f"- {w}" for w in why], ""]
    if card.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in card.notes], ""]
    lines += ["## Measures", "",
              table(pd.DataFrame([{"measure": f"`{m.name}`", "study": m.study, "block": m.block,
                                   "direction": f"{m.arrow} {m.direction} is better", "rows read": m.description}
                                  for m in measures.values()])), ""]
    return "\n".join(lines)
