"""Judges of synthesized images: an embedding (``embed(images) -> [N, D]`` unit vectors) that is
never the model under test, and the multiple-choice test built on it.

- ``features`` (:class:`~.features.FeatureJudge`): an independent classifier's block features;
- ``clip`` (:class:`~.clip.ClipJudge`): OpenCLIP's image encoder from a local checkpoint (extra ``[clip]``).
"""

from __future__ import annotations

from ..errors import unknown_name
from .clip import ClipJudge
from .features import FeatureJudge
from .multiple_choice import ALL, multiple_choice, option_prototypes
from .options import Option, augment, choose_options, option_pool, render_option

JUDGES = ("features", "clip")

__all__ = ["ALL", "JUDGES", "ClipJudge", "FeatureJudge", "Option", "augment", "check_judge", "choose_options",
           "multiple_choice", "option_pool", "option_prototypes", "render_option"]


def check_judge(name: str) -> str:
    """``name`` if it is a known judge, else a ConfigError listing them."""
    if name not in JUDGES:
        raise unknown_name("judge", name, JUDGES)
    return name
