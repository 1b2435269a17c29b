"""The multiple-choice rediscovery test of Casper et al. 2023 (sec. 4.2), with a pluggable judge.

For each trojan, its options (:func:`~interpbench.judges.options.choose_options`) are rendered
``renderings`` times with random zoom, shift and flip, and each option's prototype is the
normalised mean of its renderings' embeddings. A synthesized image's similarity to an option is
the cosine between its embedding and the prototype; the judge's choice is the most similar option:

- per image: each synthesized image is one trial (``choice = argmax_o cos(e(img), p_o)``);
- per set (the paper's protocol: a respondent sees all of a method's images for the trojan): the
  option with the largest mean similarity over the method's images; method ``all`` pools the images
  of every method (the paper's "all methods together").

Chance is ``1 / n_options``. Every option is rendered with an RNG seeded by the run seed and the
option's label, so the same option looks the same in every trojan's test.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .options import Option, render_option

ALL = "all"


class Judge(Protocol):
    name: str
    description: str

    def embed(self, images: torch.Tensor) -> torch.Tensor: ...


def option_prototypes(judge: Judge, options: list[Option], *, size: int, renderings: int, seed: int
                      ) -> dict[Option, torch.Tensor]:
    """The unit-norm mean embedding of each option's ``renderings`` augmented renderings."""
    protos = {}
    for o in dict.fromkeys(options):
        rng = np.random.default_rng([seed, zlib.crc32(o.label.encode())])
        protos[o] = F.normalize(judge.embed(render_option(o, size, renderings, rng)).mean(0), dim=0)
    return protos


def multiple_choice(judge: Judge, images: dict[tuple[str, str], torch.Tensor], options: dict[str, list[Option]],
                    truth: dict[str, Option], *, size: int, renderings: int, seed: int) -> pd.DataFrame:
    """The judge's choices for ``images`` ((trojan, method) -> [n, 3, h, w] in [0, 1]).

    One row per trial: ``trojan, kind, method, level`` (``image``: one synthesized image;
    ``set``: all of the method's images), ``image`` (index; -1 for a set), ``chosen``, ``truth``,
    ``correct``, ``n_options``. Method :data:`ALL` holds the set decision over every method's images.
    """
    protos = option_prototypes(judge, [o for opts in options.values() for o in opts], size=size,
                               renderings=renderings, seed=seed)
    rows = []
    pooled: dict[str, list[torch.Tensor]] = {}
    for (trojan, method), x in images.items():
        opts = options[trojan]
        p = torch.stack([protos[o] for o in opts])
        sims = judge.embed(x) @ p.T  # [n, n_options]
        pooled.setdefault(trojan, []).append(sims)
        for i, k in enumerate(sims.argmax(1).tolist()):
            rows.append(_row(trojan, method, "image", i, opts[k], truth[trojan], len(opts)))
        rows.append(_row(trojan, method, "set", -1, opts[int(sims.mean(0).argmax())], truth[trojan], len(opts)))
    for trojan, sims in pooled.items():
        opts = options[trojan]
        rows.append(_row(trojan, ALL, "set", -1, opts[int(torch.cat(sims).mean(0).argmax())], truth[trojan], len(opts)))
    return pd.DataFrame(rows)


def _row(trojan: str, method: str, level: str, image: int, chosen: Option, truth: Option, n_options: int) -> dict:
    return {"trojan": trojan, "kind": truth.kind, "method": method, "level": level, "image": image,
            "chosen": chosen.label, "truth": truth.label, "correct": chosen == truth, "n_options": n_options}
