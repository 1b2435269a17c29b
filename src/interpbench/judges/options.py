"""The options of the multiple-choice rediscovery test (Casper et al. 2023, sec. 4.2): the true
trigger and ``n_options - 1`` distractors, and augmented renderings of each option for a judge.

Casper et al. show 8 options (chance 1/8): the trojan's trigger and 7 distractors. Here the
distractors come from a pool (every trojan's trigger plus configured extra triggers of each kind),
the other triggers of the same kind first, then triggers of the other kinds, each group in an
order fixed by the seed; the options are then shown in a seeded random order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..data.trojans import KINDS, trigger_picture
from ..errors import ConfigError
from ..synthesis.transforms import affine_resample


@dataclass(frozen=True)
class Option:
    """A multiple-choice option: a trigger of a kind (``patch``, ``style``, ``natural``)."""

    kind: str
    trigger: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.trigger}"


def option_pool(triggers: Iterable[tuple[str, str]], extra: dict[str, list[str]]) -> list[Option]:
    """The distinct options: the study's ``(kind, trigger)`` pairs, then ``extra`` (kind -> names)."""
    pool: list[Option] = []
    for kind, trigger in [*triggers, *((k, t) for k, names in extra.items() for t in names)]:
        if kind not in KINDS:
            raise ConfigError(f"distractor kind {kind!r} is unknown; expected one of {list(KINDS)}.")
        if Option(kind, trigger) not in pool:
            pool.append(Option(kind, trigger))
    return pool


def choose_options(true: Option, pool: list[Option], n_options: int, rng: np.random.Generator) -> list[Option]:
    """``true`` and ``n_options - 1`` distractors from ``pool`` (same kind first), in a random order."""
    others = [o for o in pool if o != true]
    if len(others) < n_options - 1:
        raise ConfigError(f"the multiple-choice test needs {n_options - 1} distractors for {true.label}, but the "
                          f"option pool has only {len(others)} other triggers; add triggers to "
                          "synthesis.options.distractors.")
    same = [o for o in others if o.kind == true.kind]
    rest = [o for o in others if o.kind != true.kind]
    ordered = [same[i] for i in rng.permutation(len(same))] + [rest[i] for i in rng.permutation(len(rest))]
    chosen = [true, *ordered[: n_options - 1]]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def render_option(option: Option, size: int, n: int, rng: np.random.Generator, *, base: int = 64,
                  fill: float = 0.5) -> torch.Tensor:
    """``n`` augmented renderings [n, 3, size, size] of the option's picture
    (:func:`interpbench.data.trojans.trigger_picture`): a random zoom (side scale in [0.6, 1.5]; the
    uncovered area grey ``fill``), shift, and horizontal flip. Rendering 0 is the plain picture."""
    pic = torch.from_numpy(trigger_picture(option.kind, option.trigger, base)).float().permute(2, 0, 1)
    return augment(pic[None].expand(n, -1, -1, -1), size, rng, fill=fill, keep_first=True)


def augment(images: torch.Tensor, size: int, rng: np.random.Generator, *, fill: float = 0.5,
            keep_first: bool = False) -> torch.Tensor:
    """Random zoom / shift / flip of each image [N, 3, H, W], resampled to ``size`` px (bilinear)."""
    n = len(images)
    zoom = np.exp(rng.uniform(math.log(0.6), math.log(1.5), n))  # >1: the picture shrinks inside the frame
    shift = rng.uniform(-0.25, 0.25, (n, 2))
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if keep_first:
        zoom[0], shift[0], flip[0] = 1.0, 0.0, 1.0
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.from_numpy(zoom * flip).float()
    theta[:, 1, 1] = torch.from_numpy(zoom).float()
    theta[:, :, 2] = torch.from_numpy(shift).float()
    return affine_resample(images.float(), theta, size=(size, size), pad_value=fill).clamp(0, 1)
