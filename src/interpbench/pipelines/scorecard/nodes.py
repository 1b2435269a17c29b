"""Thin nodes of the scorecard: parse the parameters, call :mod:`interpbench.reporting.scorecard`
and :mod:`interpbench.reporting.html`, return what the catalog saves."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from interpbench.config import parse
from interpbench.datasets import FileTree
from interpbench.reporting.html import index_page, report_sections
from interpbench.reporting.scorecard import (
    ScorecardOptions,
    build_scorecard,
    heatmap,
    scorecard_metrics,
    scorecard_report,
)

log = logging.getLogger(__name__)


def scorecard_options(measures: dict | None, alpha: float) -> ScorecardOptions:
    """``scorecard.measures`` parsed strictly, with the trojans study's ``report.alpha``."""
    return parse(ScorecardOptions, {**(measures or {}), "alpha": alpha}, "scorecard.measures")


def build_scorecard_outputs(measures: dict, alpha: float, *tables: pd.DataFrame | None, studies: Sequence[str]):
    """The scorecard of the studies' results tables (None: a study has not saved one yet): its table,
    heat-map, Markdown report and MLflow metrics."""
    options = scorecard_options(measures, alpha)
    card = build_scorecard(dict(zip(studies, tables)), options)
    if card.missing_studies:
        log.warning("Scorecard: no saved results table of %s; their measures are not scored",
                    ", ".join(card.missing_studies))
    return card.table, heatmap(card), scorecard_report(card, options), scorecard_metrics(card)


def write_index_page(scorecard_report_md: str, files: FileTree, *reports: str | None, studies: Sequence[str]) -> str:
    """One HTML page with the scorecard and every study's report (None: not saved yet), figures
    embedded from the reports folder."""
    sections = report_sections({"scorecard": scorecard_report_md, **dict(zip(studies, reports))})
    return index_page(sections, files.read)
