"""Model-parameter randomization tests of Adebayo et al. 2018 (*Sanity Checks for Saliency Maps*, §3.1).

- **Cascading randomization**: re-initialise the model's blocks one after another from the output
  towards the input, cumulatively; step ``k`` has blocks ``1..k`` re-initialised.
- **Independent randomization**: re-initialise one block at a time, every other block trained.

A *block* is an entry of the model's ``block_names`` (output -> input, see :func:`model_blocks`).
Re-initialisation uses each layer's own default initialiser (``reset_parameters``: Kaiming-uniform
for Conv/Linear; weight 1, bias 0 and fresh running statistics for BatchNorm, so a BatchNorm-only
block is *reset* rather than randomized). Block ``b`` (0-based, output first) is re-initialised under
a torch seed derived from ``(seed, b)`` only, so the new weights of a block are the same in the
cascading step that reaches it and in its independent step, and do not depend on the other blocks.

Every yielded model is a fresh deep copy in eval mode; the trained model is never modified. The
generators yield one copy at a time (cascading also keeps one private working copy), so memory
stays at a few models whatever the number of blocks.
Seeded weights are reproducible per device type (CPU and CUDA draw from different generators).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..errors import unknown_name
from .registry import model_blocks

log = logging.getLogger(__name__)

ORIGINAL = "original"


class RandomizationStep(NamedTuple):
    """One model of a randomization sequence; unpacks as ``(step, block_name, model)``.

    ``step`` 0 is the trained model (``block_name == "original"``); step ``k >= 1`` names the block
    re-initialised at that step (cascading: the deepest one re-initialised so far).
    """

    step: int
    block_name: str
    model: nn.Module


def block_seed(seed: int, block_index: int) -> int:
    """The torch seed for block ``block_index`` (0-based, output -> input) under run seed ``seed``."""
    state = np.random.SeedSequence([int(seed) % 2**63, int(block_index)]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1  # < 2**63, as torch.manual_seed accepts


def reinitialize(module: nn.Module, generator_seed: int) -> nn.Module:
    """Re-initialise, in place, every submodule of ``module`` that has ``reset_parameters``.

    Each layer gets its own default initialiser (BatchNorm also resets its running statistics).
    The draws come from torch's RNG seeded with ``generator_seed`` inside ``torch.random.fork_rng``,
    so the global RNG state (CPU, and CUDA for parameters that live there) is unchanged afterwards.
    Parameters owned by modules without an initialiser are left as they are and logged as a warning.
    Returns ``module``.
    """
    tensors = [*module.parameters(), *module.buffers()]
    cuda = sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
    uncovered = []
    with torch.random.fork_rng(devices=cuda, device_type="cuda"), torch.no_grad():
        # Seed only the generators that were forked: torch.manual_seed would also reseed every CUDA
        # device, changing global state that fork_rng does not restore.
        torch.default_generator.manual_seed(generator_seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(generator_seed)
        for name, sub in module.named_modules():
            reset = getattr(sub, "reset_parameters", None) or getattr(sub, "_reset_parameters", None)
            if callable(reset):
                reset()
            elif any(True for _ in sub.parameters(recurse=False)):
                uncovered.append(name or type(sub).__name__)
    # A parent's initialiser (e.g. MultiheadAttention) may cover its children's parameters, so only
    # modules that own parameters directly and have no initialiser at all are reported.
    if uncovered:
        log.warning(
            "reinitialize: %d module(s) own parameters but have no reset_parameters; left unchanged: %s",
            len(uncovered), ", ".join(uncovered[:10]),
        )
    return module


def cascading_randomization(
    model: nn.Module, seed: int, include_original: bool = True
) -> Iterator[RandomizationStep]:
    """Yield the trained model (step 0) then step ``k`` = blocks ``1..k`` re-initialised (output first).

    Block ``k`` is re-initialised with :func:`block_seed` ``(seed, k - 1)``. Each yielded model is a
    new deep copy in eval mode; ``model`` itself is never modified.
    """
    blocks = [name for name, _ in model_blocks(model)]
    if include_original:
        yield RandomizationStep(0, ORIGINAL, _eval_copy(model))
    # A private working copy accumulates the re-initialisations; the caller gets a copy of it at each
    # step, so whatever the caller does to a yielded model (hooks, .grad, device moves) never leaks
    # into the next step.
    working = copy.deepcopy(model)
    for index, name in enumerate(blocks):
        reinitialize(working.get_submodule(name), block_seed(seed, index))
        yield RandomizationStep(index + 1, name, _eval_copy(working))


def independent_randomization(
    model: nn.Module, seed: int, include_original: bool = True
) -> Iterator[RandomizationStep]:
    """Yield the trained model (step 0) then step ``k`` = only block ``k`` re-initialised, others trained.

    Block ``k`` gets the same new weights as in :func:`cascading_randomization` with the same seed.
    """
    blocks = [name for name, _ in model_blocks(model)]
    if include_original:
        yield RandomizationStep(0, ORIGINAL, _eval_copy(model))
    for index, name in enumerate(blocks):
        copy_ = _eval_copy(model)
        reinitialize(copy_.get_submodule(name), block_seed(seed, index))
        yield RandomizationStep(index + 1, name, copy_)


RANDOMIZATIONS = {"cascading": cascading_randomization, "independent": independent_randomization}


def randomization_steps(
    model: nn.Module, mode: str, seed: int, include_original: bool = True
) -> Iterator[RandomizationStep]:
    """:func:`cascading_randomization` or :func:`independent_randomization` by name (``mode``)."""
    if mode not in RANDOMIZATIONS:
        raise unknown_name("randomization", mode, RANDOMIZATIONS)
    return RANDOMIZATIONS[mode](model, seed, include_original=include_original)


def _eval_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).eval()
