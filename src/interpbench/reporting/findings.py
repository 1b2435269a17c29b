"""Findings of a study's report: each passed, failed, or not evaluated (with the reason).

A report lists every finding its study knows. One whose inputs are missing (rows absent, NaN, the
method recorded as not applicable, the test switched off) is ``not_evaluated`` and says why, so it
cannot silently vanish. :func:`finding_counts` gives the three counts logged to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "not_evaluated"]
STATUSES: tuple[str, ...] = ("passed", "failed", "not_evaluated")
MARKS = {"passed": "✅", "failed": "❌", "not_evaluated": "⚠"}


@dataclass(frozen=True)
class Finding:
    """One claim checked against a run: ``evidence`` is the numbers behind it, or for a
    ``not_evaluated`` finding the reason it could not be checked; ``threshold`` the criterion."""

    claim: str
    status: Status
    evidence: str
    threshold: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Finding status must be one of {STATUSES}, got {self.status!r}.")

    @property
    def holds(self) -> bool:
        """True when the finding passed (the former boolean field)."""
        return self.status == "passed"

    @property
    def evaluated(self) -> bool:
        return self.status != "not_evaluated"


def checked(claim: str, holds: bool, evidence: str, threshold: str = "") -> Finding:
    """A finding that was evaluated: passed when ``holds``, else failed (absent or NaN inputs:
    :func:`missing`)."""
    return Finding(claim, "passed" if bool(holds) else "failed", evidence, threshold)


def missing(claim: str, why: str, threshold: str = "") -> Finding:
    """A finding that could not be evaluated, and why."""
    return Finding(claim, "not_evaluated", why, threshold)


def render_finding(f: Finding) -> str:
    if f.status == "not_evaluated":
        return f"- ⚠ not evaluated: **{f.claim}**: {f.evidence}."
    threshold = f" (threshold: {f.threshold})" if f.threshold else ""
    return f"- {MARKS[f.status]} **{f.claim}**{threshold}: {f.evidence}."


def render_findings(findings: list[Finding], empty: str = "_(no findings)_") -> list[str]:
    """The Markdown lines of ``findings`` (one bullet each), ``[empty]`` when there are none."""
    return [render_finding(f) for f in findings] or [empty]


def finding_counts(findings: list[Finding]) -> dict[str, int]:
    """``{"findings.passed": n, "findings.failed": n, "findings.not_evaluated": n}``."""
    return {f"findings.{s}": sum(f.status == s for f in findings) for s in STATUSES}

