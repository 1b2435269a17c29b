"""DiffROAR masking: exactly round(k*H*W) pixels kept, the right ones, deterministic under ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.errors import ConfigError
from interpbench.metrics.roar import (
    diffroar,
    keep_mask,
    mask_by_attribution,
    num_kept,
    pixel_ranking,
    random_attribution,
)


@pytest.mark.parametrize("keep", ["top", "bottom"])
@pytest.mark.parametrize("k", [0.0, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_exact_fraction_kept(keep, k):
    x = torch.rand(5, 3, 10, 7, generator=torch.Generator().manual_seed(0)) + 1.0  # never equal to fill
    attr = random_attribution((5, 10, 7), seed=1)
    out = mask_by_attribution(x, attr, k, keep=keep, fill=0.0)
    kept = (out == x).all(dim=1)  # all channels of a kept pixel survive
    masked = (out == 0).all(dim=1)
    assert torch.equal(kept, ~masked)
    assert (kept.flatten(1).sum(1) == int(np.floor(k * 70 + 0.5))).all()


@pytest.mark.parametrize("keep", ["top", "bottom"])
def test_exact_fraction_under_ties(keep):
    x = torch.ones(2, 1, 4, 5)
    attr = torch.zeros(2, 4, 5)  # every pixel tied
    m = keep_mask(attr, 0.3, keep)
    assert (m.flatten(1).sum(1) == 6).all()
    assert torch.equal(keep_mask(attr, 0.3, keep), m)  # ties in a seeded order: same seed, same mask
    assert torch.equal(keep_mask(attr, 0.3, keep, seed=0), m)
    assert not torch.equal(keep_mask(attr, 0.3, keep, seed=1), m)
    assert not torch.equal(m[0], m[1])  # each image draws its own order
    assert (mask_by_attribution(x, attr, 0.3, keep, fill=0.0).flatten(1).sum(1) == 6).all()


def test_top_set_holds_the_largest_and_bottom_the_smallest():
    g = torch.Generator().manual_seed(0)
    attr = torch.randn(6, 3, 8, 8, generator=g)  # channels abs-summed
    score = attr.abs().sum(1).flatten(1)
    m = num_kept(0.2, 64)
    top = keep_mask(attr, 0.2, "top").flatten(1)
    bottom = keep_mask(attr, 0.2, "bottom").flatten(1)
    for i in range(6):
        assert score[i][top[i]].min() >= score[i][~top[i]].max()
        assert score[i][bottom[i]].max() <= score[i][~bottom[i]].min()
        assert set(score[i].topk(m).indices.tolist()) == set(torch.nonzero(top[i]).flatten().tolist())
    # top-k and bottom-(1-k) are exact complements
    assert torch.equal(keep_mask(attr, 0.25, "top"), ~keep_mask(attr, 0.75, "bottom"))


def test_signed_attributions_rank_by_magnitude():
    attr = torch.tensor([[[-5.0, 1.0], [0.5, 2.0]]])
    assert keep_mask(attr, 0.25, "top")[0].tolist() == [[True, False], [False, False]]
    assert keep_mask(attr, 0.25, "bottom")[0].tolist() == [[False, False], [True, False]]


def test_fill_variants():
    x = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    attr = random_attribution((3, 4, 4), seed=0)
    drop = ~keep_mask(attr, 0.5, "top").unsqueeze(1).expand_as(x)
    per_channel = torch.tensor([0.1, 0.9])
    out = mask_by_attribution(x, attr, 0.5, "top", fill=per_channel)
    assert torch.allclose(out[:, 0][drop[:, 0]], torch.tensor(0.1)) and torch.allclose(out[:, 1][drop[:, 1]], torch.tensor(0.9))
    image = torch.arange(32, dtype=torch.float32).view(2, 4, 4)
    out = mask_by_attribution(x, attr, 0.5, "top", fill=image)
    assert torch.equal(out[drop], image.expand_as(x)[drop])
    out = mask_by_attribution(x, attr, 0.5, "top")  # default: per-channel mean of x
    mean = x.mean(dim=(0, 2, 3)).view(1, 2, 1, 1).expand_as(x)
    torch.testing.assert_close(out[drop], mean[drop])
    with pytest.raises(ConfigError, match="fill"):
        mask_by_attribution(x, attr, 0.5, "top", fill=torch.zeros(3))


def test_diffroar_and_random_attribution():
    assert diffroar(0.9, 0.6) == pytest.approx(0.3)
    np.testing.assert_allclose(diffroar([0.9, 0.8], [0.5, 0.8]), [0.4, 0.0])
    a, b = random_attribution((2, 5, 5), seed=3), random_attribution((2, 5, 5), seed=3)
    assert torch.equal(a, b) and a.shape == (2, 5, 5) and not torch.equal(a, random_attribution((2, 5, 5), seed=4))


@pytest.mark.parametrize(
    "kwargs,needle",
    [({"k": 1.2}, "k=1.2"), ({"k": -0.1}, "k=-0.1"), ({"keep": "middle"}, "'middle'")],
)
def test_bad_arguments(kwargs, needle):
    args = {"k": 0.1, "keep": "top", **kwargs}
    with pytest.raises(ConfigError, match=needle):
        mask_by_attribution(torch.rand(1, 1, 4, 4), torch.rand(1, 4, 4), **args)


def test_shape_mismatch():
    with pytest.raises(ConfigError, match="do not match"):
        mask_by_attribution(torch.rand(2, 1, 4, 4), torch.rand(2, 4, 5), 0.1)
    with pytest.raises(ConfigError, match=r"\[N, H, W\]"):
        keep_mask(torch.rand(4, 4), 0.1)


def test_untied_maps_rank_as_the_stable_sort_of_before_whatever_the_seed():
    g = torch.Generator().manual_seed(3)
    attr = torch.randn(5, 2, 9, 7, generator=g)
    old = torch.sort(attr.abs().sum(1).flatten(1), dim=1, descending=True, stable=True).indices
    for seed in (0, 1, 123):
        assert torch.equal(pixel_ranking(attr, seed=seed), old)
        for k in (0.1, 0.5):
            old_top = torch.zeros(5, 63, dtype=torch.bool).scatter_(1, old[:, : num_kept(k, 63)], True)
            assert torch.equal(keep_mask(attr, k, "top", seed=seed).flatten(1), old_top)


def test_ties_are_not_biased_to_the_top_rows():
    # all-zero maps (every pixel tied), 2000 images 28 x 28, k = 0.1 -> 78 pixels each: the share of
    # kept pixels in the top half is hypergeometric with sd 0.054 per image, 0.0012 over the mean
    n, m = 2000, num_kept(0.1, 784)
    mask = keep_mask(torch.zeros(n, 28, 28), 0.1, "top", seed=7)
    assert (mask.flatten(1).sum(1) == m).all()
    top_share = mask[:, :14].flatten(1).sum(1).double() / m
    assert abs(top_share.mean().item() - 0.5) < 0.01
    # every pixel kept about k of the time (no position favoured): 2000 x 0.1 = 200 +- 13.4
    per_pixel = mask.sum(0).double()
    assert (per_pixel - 200).abs().max().item() < 6 * 13.4


def test_ties_keep_top_and_bottom_complements_and_seed_reaches_mask_by_attribution():
    attr = torch.tensor([[[0.0, 1.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]]]).repeat(3, 1, 1)
    for seed in (0, 5):
        assert torch.equal(keep_mask(attr, 0.25, "top", seed=seed), ~keep_mask(attr, 0.75, "bottom", seed=seed))
        top = keep_mask(attr, 0.5, "top", seed=seed)
        assert top[:, 0, 1].all() and top[:, 1, 0].all()  # the two untied largest are always kept
        x = torch.arange(24.0).view(3, 1, 2, 4)
        out = mask_by_attribution(x, attr, 0.5, "top", fill=-1.0, seed=seed)
        assert torch.equal(out != -1.0, top.unsqueeze(1))


def test_seed_must_be_an_integer():
    with pytest.raises(ConfigError, match="seed=0.5"):
        pixel_ranking(torch.zeros(1, 2, 2), seed=0.5)
