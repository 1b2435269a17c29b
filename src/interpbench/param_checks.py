"""Parameters checked before any node runs.

Each node parses its parameters strictly (:func:`interpbench.config.parse`), but only when it
runs: a typo in a late stage's key would fail after the earlier stages have run for minutes.
A *params check* parses one top-level parameters key (``mnist``, ``zoo``, ``input_gradients``,
...) the same strict way; :class:`interpbench.hooks.ParamsCheckHooks` runs the checks of every
key a pipeline's nodes read before its first node.

A study registers the check of its own key with :func:`register_params_check` in a module
``interpbench.pipelines.<package>.params_checks``; :func:`params_checks` imports every such module
(no central list to edit).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

from interpbench.errors import ConfigError

log = logging.getLogger(__name__)

ParamsCheck = Callable[[Any, str], Any]
"""``fn(raw_value, where)``: parse ``raw_value`` strictly; raise ConfigError naming ``where``'s key path."""

_CHECKS: dict[str, ParamsCheck] = {}
_discovered = False


def register_params_check(key: str, fn: ParamsCheck) -> ParamsCheck:
    """Register ``fn`` as the check of the top-level parameters key ``key`` (returns ``fn``)."""
    if "." in key or not key:
        raise ValueError(f"a params check is registered for a top-level key, got {key!r}")
    _CHECKS[key] = fn
    return fn


def discover() -> None:
    """Import every ``interpbench.pipelines.<package>.params_checks`` module (once)."""
    global _discovered
    if _discovered:
        return
    import interpbench.pipelines as pipelines

    importlib.import_module(f"{pipelines.__name__}.shared_data")  # checks of the shared data sets
    for info in pkgutil.iter_modules(pipelines.__path__):
        if not info.ispkg:
            continue
        name = f"{pipelines.__name__}.{info.name}.params_checks"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    _discovered = True


def params_checks() -> dict[str, ParamsCheck]:
    """Every registered check, by top-level key (after discovery)."""
    discover()
    return dict(_CHECKS)


def top_level_keys(dataset_names: Iterable[str]) -> set[str]:
    """Top-level parameters keys read through ``params:<key>[.<sub>...]`` dataset names."""
    return {n[len("params:"):].split(".", 1)[0] for n in dataset_names if n.startswith("params:")}


def check_params(parameters: dict[str, Any], keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Run the checks of ``keys`` (default: every key of ``parameters``) on ``parameters``.

    A key that has a check but is missing from ``parameters`` is checked as ``None`` (the check
    decides whether that is an error). Keys in ``parameters`` without a check are logged as a
    warning. Returns the parsed values by key; raises ConfigError on the first mistake.
    """
    checks = params_checks()
    keys = sorted(parameters if keys is None else set(keys))
    unchecked = sorted(k for k in parameters if k not in checks)
    if unchecked:
        log.warning("Parameters without a check (not validated before the run): %s", ", ".join(unchecked))
    parsed = {}
    for key in keys:
        if key in checks:
            parsed[key] = checks[key](parameters.get(key), key)
    return parsed


def mapping(raw: Any, where: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
    """``raw`` as a mapping whose keys are all in ``allowed`` (did-you-mean on a typo) and include ``required``."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}.")
    allowed = list(allowed)
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown parameter {key!r}{hint}. Valid keys: {', '.join(allowed)}.")
    for key in required:
        if key not in raw:
            raise ConfigError(f"{where}: missing required parameter {key!r}.")
    return raw


def _check_seed(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ConfigError(f"{where}: expected an integer, got {raw!r}.")
    return raw


def _check_device(raw: Any, where: str) -> str:
    import torch

    valid = isinstance(raw, str) and raw == "auto"
    if isinstance(raw, str) and not valid:
        try:
            torch.device(raw)
            valid = True
        except (TypeError, RuntimeError, ValueError):
            pass
    if not valid:
        raise ConfigError(f"{where}: {raw!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    return raw


def _check_parallel(raw: Any, where: str):
    from interpbench.parallel import parse_parallel

    return parse_parallel(raw, where)


register_params_check("seed", _check_seed)
register_params_check("parallel", _check_parallel)
register_params_check("device", _check_device)
