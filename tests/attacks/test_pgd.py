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
    got = pgd_attack(model, x, y, eps=eps, norm="linf", steps=1, random_start=False)
    torch.testing.assert_close(got, expected)


def test_one_l2_step_moves_along_normalised_gradient(trained):
    model, x, y = trained
    eps, alpha = 0.3, 0.1
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    unit = g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    expected = (x + alpha * unit).clamp(0, 1)
    got = pgd_attack(model, x, y, eps=eps, norm="l2", steps=1, step_size=alpha, random_start=False)
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
    ],
)
def test_bad_arguments_raise_config_error(trained, kwargs, needle):
    model, x, y = trained
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        pgd_attack(model, x[:2], y[:2], **kwargs)


def test_perturber_validates_at_construction():
    with pytest.raises(ConfigError, match="'Linf2'"):
        pgd_perturber(0.1, "Linf2")
    assert isinstance(pgd_perturber(0.3, "Linf", 5), PGDPerturber)
    assert pgd_perturber(0.3, "Linf", 5).norm == "linf"
    assert pgd_perturber(np.float32(0.3), "l2", np.int64(5)).steps == 5  # numpy scalars from configs
