"""PGD: stays in the eps-ball and the image box, raises the loss, targeted lowers it toward the target."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interpbench.attacks import PGDPerturber, pgd_attack, pgd_perturber
from interpbench.errors import ConfigError
from interpbench.models import build_model
from interpbench.models.training import TrainConfig, accuracy_per_item, train_model

SIDE = 6


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread is faster and immune to oversubscribed CPUs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _stripes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """3 classes: which vertical third of a 6x6 image is bright; noisy background."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.rand(n, 1, SIDE, SIDE, generator=g) * 0.4
    for c in range(3):
        x[y == c, :, :, 2 * c : 2 * c + 2] += 0.5
    return x.clamp(0, 1), y


@pytest.fixture(scope="module")
def trained():
    x, y = _stripes(300, seed=0)
    model = build_model("mlp", num_classes=3, image_size=SIDE, hidden=(32,))
    train_model(model, x, y, TrainConfig(epochs=15, batch_size=32, lr=1e-2, seed=0))
    xt, yt = _stripes(64, seed=1)
    assert accuracy_per_item(model, xt, yt).mean() > 0.95
    return model, xt, yt


def _loss(model, x, y):
    with torch.no_grad():
        return F.cross_entropy(model(x), y, reduction="none")


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 0.5)])
def test_stays_in_ball_and_box(trained, norm, eps):
    model, x, y = trained
    x_adv = pgd_attack(model, x, y, eps=eps, norm=norm, steps=7, seed=0)
    delta = (x_adv - x).flatten(1)
    if norm == "linf":
        assert delta.abs().max() <= eps + 1e-6
    else:
        assert (delta.norm(dim=1) <= eps + 1e-5).all()
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert x_adv.shape == x.shape and not x_adv.requires_grad


@pytest.mark.parametrize("norm,eps", [("linf", 0.3), ("l2", 2.0)])
def test_raises_loss_and_lowers_accuracy(trained, norm, eps):
    model, x, y = trained
    x_adv = pgd_attack(model, x, y, eps=eps, norm=norm, steps=10, seed=0)
    clean, adv = _loss(model, x, y), _loss(model, x_adv, y)
    assert adv.mean() > clean.mean() + 0.5
    assert (adv >= clean - 1e-4).float().mean() > 0.95
    perturb = pgd_perturber(eps, norm, steps=10, seed=0)
    assert accuracy_per_item(model, x, y, perturb=perturb).mean() < accuracy_per_item(model, x, y).mean()


@pytest.mark.parametrize("norm,eps", [("linf", 0.15), ("l2", 1.0)])
def test_targeted_lowers_loss_toward_target(trained, norm, eps):
    model, x, y = trained
    target = (y + 1) % 3
    x_adv = pgd_attack(model, x, y, eps=eps, norm=norm, steps=10, targeted=True, target=target, seed=0)
    assert _loss(model, x_adv, target).mean() < _loss(model, x, target).mean() - 0.5
    x_int = pgd_attack(model, x, y, eps=eps, norm=norm, steps=10, targeted=True, target=2, seed=0)
    t2 = torch.full_like(y, 2)
    assert _loss(model, x_int, t2).mean() < _loss(model, x, t2).mean()


def test_one_linf_step_is_fgsm(trained):
    """No random start, one step of size >= eps: x + eps * sign(grad), clamped to the box."""
    model, x, y = trained
    eps = 0.05
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    expected = (x + eps * g.sign()).clamp(0, 1)
    got = pgd_attack(model, x, y, eps=eps, norm="linf", steps=1, random_start=False, iterate="last")
    torch.testing.assert_close(got, expected)


def test_one_l2_step_moves_along_normalised_gradient(trained):
    model, x, y = trained
    eps, alpha = 0.3, 0.1
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    unit = g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    expected = (x + alpha * unit).clamp(0, 1)
    got = pgd_attack(model, x, y, eps=eps, norm="l2", steps=1, step_size=alpha, random_start=False, iterate="last")
    torch.testing.assert_close(got, expected)


def test_restores_mode_and_requires_grad_and_leaves_no_grads(trained):
    model, x, y = trained
    model.zero_grad(set_to_none=True)
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    with torch.no_grad():  # must still work under no_grad
        pgd_attack(model, x, y, eps=0.1, norm="linf", steps=2, seed=0)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    model.eval()


def test_seeded_random_start_is_reproducible(trained):
    model, x, y = trained
    a = pgd_attack(model, x, y, eps=0.1, norm="l2", steps=2, seed=3)
    b = pgd_attack(model, x, y, eps=0.1, norm="l2", steps=2, seed=3)
    c = pgd_attack(model, x, y, eps=0.1, norm="l2", steps=2, seed=4)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    p1, p2 = pgd_perturber(0.1, "linf", steps=2, seed=5), pgd_perturber(0.1, "linf", steps=2, seed=5)
    first = p1(model, x, y)
    torch.testing.assert_close(first, p2(model, x, y))
    assert not torch.equal(first, p1(model, x, y))  # generator advances across batches


def test_l2_random_start_is_inside_ball():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIDE * SIDE, 3))
    x = torch.full((200, 1, SIDE, SIDE), 0.5)
    y = torch.zeros(200, dtype=torch.long)
    x_adv = pgd_attack(model, x, y, eps=0.4, norm="l2", steps=1, step_size=1e-9, seed=0)
    norms = (x_adv - x).flatten(1).norm(dim=1)
    assert (norms <= 0.4 + 1e-5).all() and norms.min() < 0.4 * 0.99 and norms.mean() > 0.3


def test_adversarial_training_runs(trained):
    _, x, y = trained
    model = build_model("mlp", num_classes=3, image_size=SIDE, hidden=(16,))
    hist = train_model(model, x, y, TrainConfig(epochs=2, batch_size=32, seed=0), perturb=pgd_perturber(0.1, "linf", 3, seed=0))
    assert len(hist) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"eps": 0.0, "norm": "linf"}, "eps=0.0"),
        ({"eps": -1, "norm": "l2"}, "eps=-1"),
        ({"eps": 0.1, "norm": "l3"}, "'l3'"),
        ({"eps": 0.1, "norm": "linf", "steps": 0}, "steps=0"),
        ({"eps": 0.1, "norm": "linf", "step_size": -0.1}, "step_size=-0.1"),
        ({"eps": 0.1, "norm": "linf", "clamp": (1.0, 0.0)}, "clamp"),
        ({"eps": 0.1, "norm": "linf", "targeted": True}, "target"),
        ({"eps": 0.1, "norm": "linf", "restarts": 0}, "restarts=0"),
        ({"eps": 0.1, "norm": "linf", "restarts": 2.0}, "restarts=2.0"),
        ({"eps": 0.1, "norm": "linf", "restarts": 3, "random_start": False}, "restarts=3 needs random_start"),
        ({"eps": 0.1, "norm": "linf", "iterate": "best"}, "iterate='best'"),
    ],
)
def test_bad_arguments_raise_config_error(trained, kwargs, needle):
    model, x, y = trained
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        pgd_attack(model, x[:2], y[:2], **kwargs)


def test_perturber_validates_at_construction():
    with pytest.raises(ConfigError, match="'Linf2'"):
        pgd_perturber(0.1, "Linf2")
    with pytest.raises(ConfigError, match="restarts=0"):
        pgd_perturber(0.1, "linf", restarts=0)
    with pytest.raises(ConfigError, match="needs random_start"):
        pgd_perturber(0.1, "linf", random_start=False, restarts=2)
    assert isinstance(pgd_perturber(0.3, "Linf", 5), PGDPerturber)
    assert pgd_perturber(0.3, "Linf", 5).norm == "linf"
    assert pgd_perturber(np.float32(0.3), "l2", np.int64(5)).steps == 5  # numpy scalars from configs


class Band(torch.nn.Module):
    """One-pixel images, true class 0: class 1 wins only in the band |x - 0.55| < 0.02.
    From x = 0.5, Linf steps of 0.04 (no random start) oscillate 0.54 (fooled) <-> 0.58 (not)."""

    def forward(self, x):
        d = x.flatten(1)[:, 0] - 0.55
        return torch.stack([torch.zeros_like(d), 1 - 2500 * d**2], dim=1)


def test_worst_iterate_keeps_an_example_fooled_by_an_earlier_step():
    model, x, y = Band(), torch.full((3, 1, 1, 1), 0.5), torch.zeros(3, dtype=torch.long)
    kw = {"eps": 0.1, "norm": "linf", "step_size": 0.04, "random_start": False}
    for steps, last_fooled in ((1, True), (2, False), (3, True), (4, False)):
        last = pgd_attack(model, x, y, steps=steps, iterate="last", **kw)
        worst = pgd_attack(model, x, y, steps=steps, **kw)
        torch.testing.assert_close(last.flatten(), torch.full((3,), 0.54 if last_fooled else 0.58))
        torch.testing.assert_close(worst.flatten(), torch.full((3,), 0.54))  # fooled in every case
        assert accuracy_per_item(model, worst, y).sum() == 0
        assert accuracy_per_item(model, last, y).sum() == (0 if last_fooled else 3)


@pytest.mark.parametrize("norm,eps", [("linf", 0.25), ("l2", 1.0)])  # robust accuracy about 0.2 and 0.9
def test_worst_iterate_is_never_less_fooled_nor_lower_loss_than_the_last(trained, norm, eps):
    model, x, y = trained
    kw = {"eps": eps, "norm": norm, "steps": 5, "step_size": eps, "seed": 0}  # large steps: iterates oscillate
    last = pgd_attack(model, x, y, iterate="last", **kw)
    worst = pgd_attack(model, x, y, **kw)
    last_ok, worst_ok = accuracy_per_item(model, last, y).bool(), accuracy_per_item(model, worst, y).bool()
    assert not (worst_ok & ~last_ok).any()  # fooled by the last iterate -> fooled by the worst
    both = worst_ok & last_ok
    assert (_loss(model, worst, y)[both] >= _loss(model, last, y)[both] - 1e-6).all()
    assert ((worst - x).abs().amax() if norm == "linf" else (worst - x).flatten(1).norm(dim=1).max()) <= eps + 1e-5


@pytest.mark.parametrize("norm,eps", [("linf", 0.3), ("l2", 1.5)])
def test_restarts_never_unfool_an_example(trained, norm, eps):
    model, x, y = trained
    kw = {"eps": eps, "norm": norm, "steps": 2, "step_size": eps / 4, "seed": 2}  # a weak attack: restarts matter
    one = pgd_attack(model, x, y, **kw)
    torch.testing.assert_close(one, pgd_attack(model, x, y, restarts=1, **kw))
    ok1 = accuracy_per_item(model, one, y).bool()
    for r in (2, 5):
        ok_r = accuracy_per_item(model, pgd_attack(model, x, y, restarts=r, **kw), y).bool()
        assert not (ok_r & ~ok1).any()
        assert ok_r.sum() <= ok1.sum()
    perturb = pgd_perturber(eps, norm, 3, seed=2, restarts=3)
    assert perturb.restarts == 3
    again = pgd_perturber(eps, norm, 3, seed=2, restarts=3)
    torch.testing.assert_close(perturb(model, x, y), again(model, x, y))  # seeded: reproducible


def test_restarts_fool_more_examples_where_the_start_decides():
    # Band model from 0.55 - 0.1 + uniform start in [-0.1, 0.1] (eps 0.1 around x = 0.5, steps of
    # 1e-6): fooled iff the start lands in the band (0.53, 0.57), p = 0.2 per start; 400 examples
    # -> about 80 fooled with one start, 400 * (1 - 0.8^5) = 269 with five (sd about 8 and 9)
    model, x, y = Band(), torch.full((400, 1, 1, 1), 0.5), torch.zeros(400, dtype=torch.long)
    kw = {"eps": 0.1, "norm": "linf", "steps": 1, "step_size": 1e-6, "seed": 0}
    fooled = [400 - accuracy_per_item(model, pgd_attack(model, x, y, restarts=r, **kw), y).sum().item() for r in (1, 5)]
    assert 40 < fooled[0] < 120 and 230 < fooled[1] < 310
