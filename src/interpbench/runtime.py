"""Seeding and device selection shared by training, explanation and attacks."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .errors import ConfigError

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; make CPU kernels deterministic. Returns a seeded generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cpu``/``cuda``/``cuda:N``/``mps`` are taken as given."""
    if device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            chosen = torch.device(device)
        except RuntimeError:
            raise ConfigError(
                f"device: {device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
            ) from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device: {device!r} was asked for but CUDA is not available here.")
    log.info("Using device %s", chosen)
    return chosen


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (restored afterwards); ``None`` leaves torch's setting.

    Small models run fastest on one thread, and on a shared machine two OpenMP threads per
    process wait on each other (a 10-epoch MLP training took 20 s with 2 threads next to other
    jobs and 0.4 s with 1).
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
