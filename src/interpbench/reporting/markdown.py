"""Markdown building blocks for the per-study reports."""

from __future__ import annotations

import math

import pandas as pd


def rows_where(results: pd.DataFrame, **keys) -> pd.DataFrame:
    """The rows of a results table whose columns equal ``keys``."""
    sel = results
    for k, v in keys.items():
        sel = sel[sel[k] == v]
    return sel


def row_where(results: pd.DataFrame, **keys) -> pd.Series | None:
    """The first row whose columns equal ``keys``, None when there is none."""
    sel = rows_where(results, **keys)
    return None if sel.empty else sel.iloc[0]


def fmt(v: float, digits: int = 3) -> str:
    return "NaN" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def value_with_ci(row) -> str:
    if math.isnan(row["ci_low"]):
        return fmt(row["value"])
    return f"{fmt(row['value'])} [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"


def table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pandas' to_markdown needs the tabulate package)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def results_summary(results: pd.DataFrame, columns=("dataset", "model", "method", "metric", "x_label")) -> str:
    """The results table as Markdown: identifying columns, then value [95% CI] and n ("_(no rows)_"
    for an empty table)."""
    if results.empty:
        return "_(no rows)_"
    shown = results[[c for c in columns if c in results]].copy()
    shown["value [95% CI]"] = results.apply(value_with_ci, axis=1)
    shown["n"] = results["n"]
    return table(shown)
