"""Errors raised for a user's mistakes: each names the file, key or value and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InterpbenchError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(InterpbenchError, ValueError):
    """A parameter, name or path in the configuration is invalid."""


class DataError(InterpbenchError, ValueError):
    """A data file is missing, truncated or not in the expected layout."""


class NotApplicableError(InterpbenchError):
    """An attribution method cannot run on this model for a known reason (e.g. LRP through residual
    additions); see ``interpbench.explain.registry.NOT_APPLICABLE_CAUSES``."""


class AttributionError(InterpbenchError, RuntimeError):
    """An attribution method failed for a reason that is not a known incompatibility:
    ``"<method> on <model> failed: <original>"``, chained to the original exception."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown registry name that lists the known ones (closest first)."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(f"Unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(known)}.")
