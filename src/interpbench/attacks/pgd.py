"""Projected gradient descent (PGD) adversarial examples in an Linf or L2 ball.

Madry et al. 2018, *Towards Deep Learning Models Resistant to Adversarial Attacks*, eq. (2):

    x^{t+1} = Proj_{B(x, eps) ∩ [0,1]^d} ( x^t + alpha * s(∇_x L(f(x^t), y)) )

with the steepest-ascent direction ``s`` of the norm: ``sign(g)`` for Linf, ``g / ||g||_2`` for L2
(per example). The projection onto the Linf ball clamps ``delta = x^t - x`` to ``[-eps, eps]``;
onto the L2 ball it rescales ``delta`` to ``delta * min(1, eps / ||delta||_2)``. The image box is
enforced after every step by clamping ``x^t`` to ``clamp`` (default ``[0, 1]``), which only shrinks
``delta``, so ``x^t`` stays inside both sets. The random start (Madry et al. §3) is uniform in the
ball: uniform in ``[-eps, eps]^d`` for Linf; for L2 a Gaussian direction normalised to the unit
sphere, scaled by the radius ``eps * U^(1/d)`` (uniform in volume). The default step size
``2.5 * eps / steps`` is the one of Madry et al. and the MadryLab ``robustness`` library.

Targeted attacks *descend* the cross-entropy toward ``target`` instead of ascending it on ``y``.

Which iterate is returned (``iterate``): ``"worst"`` (default) keeps, per example, the worst of
the iterates ``x^0`` (the start) ... ``x^T``: one that reaches the attack's goal (misclassified; for
targeted attacks, classified as ``target``) if any does, and among those, or else among all, the
one with the highest attack loss (cross-entropy on ``y``; minus the cross-entropy on ``target``).
This is the practice of AutoAttack's APGD (``x_best_adv``: an iterate that misclassifies) and of
the MadryLab ``robustness`` library (``use_best=True``: the highest-loss iterate), so that an
example fooled at step t and un-fooled at step T (oscillating steps) is not counted as robust.
``"last"`` returns ``x^T`` (Madry et al.'s eq. (2) as written). The loss of ``x^t`` is read from
the forward pass of step t (one extra forward pass for ``x^T``).

Random restarts (``restarts``, Madry et al. §3; ``robustness``'s ``random_restarts``): the attack
is run ``restarts`` times from independent random starts and, per example, the worst result by the
same rule is kept, so an example is robust only if it survives every restart. The first restart
draws the same start as a single run, so more restarts never make an example less fooled.

The model is run in eval mode during the attack and its mode and every parameter's
``requires_grad`` are restored afterwards; gradients are taken with :func:`torch.autograd.grad`
with respect to the input only (parameters are frozen while attacking, so no graph is built for
them and no ``.grad`` is touched).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

NORMS = ("linf", "l2")
_TINY = 1e-12


ITERATES = ("worst", "last")


def _check_choice(iterate, restarts, random_start) -> None:
    if iterate not in ITERATES:
        raise ConfigError(f"PGD iterate must be one of {list(ITERATES)}, got iterate={iterate!r}.")
    if isinstance(restarts, bool) or not isinstance(restarts, numbers.Integral) or restarts < 1:
        raise ConfigError(f"PGD restarts must be an integer >= 1, got restarts={restarts!r}.")
    if restarts > 1 and not random_start:
        raise ConfigError(f"PGD restarts={restarts} needs random_start=True (restarts from the same point repeat).")


def _check_args(eps, norm, steps, step_size, clamp) -> str:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps) or eps <= 0:
        raise ConfigError(f"PGD eps must be a finite number > 0, got eps={eps!r}.")
    if not isinstance(norm, str) or norm.lower() not in NORMS:
        raise ConfigError(f"PGD norm must be one of {list(NORMS)}, got norm={norm!r}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ConfigError(f"PGD steps must be an integer >= 1, got steps={steps!r}.")
    if step_size is not None and (
        isinstance(step_size, bool)
        or not isinstance(step_size, numbers.Real)
        or not math.isfinite(step_size)
        or step_size <= 0
    ):
        raise ConfigError(f"PGD step_size must be a number > 0 or None, got step_size={step_size!r}.")
    if clamp is not None:
        if not isinstance(clamp, Sequence) or len(clamp) != 2 or not clamp[0] < clamp[1]:
            raise ConfigError(f"PGD clamp must be None or a pair (low, high) with low < high, got clamp={clamp!r}.")
    return norm.lower()


@contextmanager
def _frozen_eval(model: nn.Module):
    """Eval mode and ``requires_grad=False`` on every parameter, both restored on exit."""
    was_training = model.training
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    model.eval()
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        model.train(was_training)


def _per_example_norm(t: torch.Tensor) -> torch.Tensor:
    """L2 norm of each example, shaped ``[N, 1, 1, ...]`` to broadcast against ``t``."""
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """A point uniform in the eps-ball of ``norm`` (drawn on the CPU so that seeds agree across devices)."""
    shape = x.shape
    if norm == "linf":
        delta = (torch.rand(shape, generator=generator) * 2.0 - 1.0) * eps
    else:
        d = x[0].numel()
        direction = torch.randn(shape, generator=generator)
        direction = direction / (_per_example_norm(direction) + _TINY)
        radius = torch.rand(shape[0], generator=generator).pow(1.0 / d) * eps
        delta = direction * radius.view(-1, *([1] * (len(shape) - 1)))
    return delta.to(device=x.device, dtype=x.dtype)


def _target_tensor(target, n: int, device) -> torch.Tensor:
    t = torch.as_tensor(target, dtype=torch.long, device=device)
    if t.dim() == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ConfigError(f"PGD target must be an int or {n} class indices, got shape {tuple(t.shape)}.")
    return t


def _attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str,
    steps: int,
    step_size: float | None,
    random_start: bool,
    targeted: bool,
    target,
    clamp: tuple[float, float] | None,
    generator: torch.Generator | None,
    iterate: str = "worst",
    restarts: int = 1,
) -> torch.Tensor:
    _check_choice(iterate, restarts, random_start)
    if targeted:
        if target is None:
            raise ConfigError("PGD targeted=True needs target= (an int or one class index per example).")
        labels = _target_tensor(target, len(x), x.device)
    else:
        labels = torch.as_tensor(y, dtype=torch.long, device=x.device)
    alpha = 2.5 * eps / steps if step_size is None else float(step_size)
    x = x.detach()
    if not x.is_floating_point():
        raise ConfigError(f"PGD needs floating-point images, got dtype {x.dtype}.")
    def project(x_adv: torch.Tensor) -> torch.Tensor:
        return _project(x_adv, x, eps, norm, clamp)

    def score(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(goal reached, attack loss) per example: what ``iterate="worst"`` maximises."""
        ce = F.cross_entropy(logits.detach(), labels, reduction="none")
        hit = logits.detach().argmax(1) == labels
        return (hit, -ce) if targeted else (~hit, ce)

    best = best_hit = best_loss = None
    for _ in range(restarts):
        x_adv = project(x + _random_start(x, eps, norm, generator)) if random_start else x.clone()
        if len(x) == 0:
            return x_adv
        run = run_hit = run_loss = None
        with _frozen_eval(model), torch.enable_grad():
            for _ in range(steps):
                x_adv = x_adv.detach().requires_grad_(True)
                logits = model(x_adv)
                if iterate == "worst":
                    run, run_hit, run_loss = _keep_worse((run, run_hit, run_loss), (x_adv.detach(), *score(logits)))
                loss = F.cross_entropy(logits, labels, reduction="sum")
                (grad,) = torch.autograd.grad(loss, x_adv)
                if targeted:
                    grad = -grad
                if norm == "linf":
                    direction = grad.sign()
                else:
                    direction = grad / (_per_example_norm(grad) + _TINY)
                x_adv = project(x_adv.detach() + alpha * direction)
            with torch.no_grad():
                result = (x_adv.detach(), *score(model(x_adv)))
        if iterate == "worst":
            result = _keep_worse((run, run_hit, run_loss), result)
        best, best_hit, best_loss = _keep_worse((best, best_hit, best_loss), result)
    return best


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str, clamp) -> torch.Tensor:
    """Onto the ``norm`` ball of radius ``eps`` around ``x``, then into the ``clamp`` box."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / (_per_example_norm(delta) + _TINY)).clamp(max=1.0)
    x_adv = x + delta
    return x_adv.clamp(*clamp) if clamp is not None else x_adv


def _direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    return grad.sign() if norm == "linf" else grad / (_per_example_norm(grad) + _TINY)


def pgd_minimize(
    model: nn.Module,
    loss_fn,
    x: torch.Tensor,
    *,
    eps: float,
    norm: str = "linf",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = False,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    seed: int | None = None,
) -> torch.Tensor:
    """PGD *descent* of an arbitrary per-example objective: ``loss_fn(x_adv) -> [N]`` (it runs
    ``model`` itself, e.g. to read a hidden layer), minimised by ``x_adv <- Proj(x_adv - alpha ·
    s(grad))`` with the same steepest direction ``s``, projection and box as :func:`pgd_attack`;
    returns the last iterate (e.g. Srivastava et al. 2023's probe-image attack on a unit's
    activation map). ``model`` is frozen in eval mode while attacking (restored afterwards)."""
    norm = _check_args(eps, norm, steps, step_size, clamp)
    eps, steps = float(eps), int(steps)
    alpha = 2.5 * eps / steps if step_size is None else float(step_size)
    x = x.detach()
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    x_adv = _project(x + _random_start(x, eps, norm, generator), x, eps, norm, clamp) if random_start else x.clone()
    if len(x) == 0:
        return x_adv
    with _frozen_eval(model), torch.enable_grad():
        for _ in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(loss_fn(x_adv).sum(), x_adv)
            x_adv = _project(x_adv.detach() - alpha * _direction(grad, norm), x, eps, norm, clamp)
    return x_adv.detach()


def _keep_worse(current, candidate):
    """Per example, the worse (for the model) of two ``(x, goal reached, loss)`` triples: reaching
    the goal beats not reaching it, then the higher loss wins; ties keep ``current``."""
    x, hit, loss = current
    if x is None:
        return candidate
    cx, chit, closs = candidate
    take = (chit & ~hit) | ((chit == hit) & (closs > loss))
    view = take.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(view, cx, x), torch.where(take, chit, hit), torch.where(take, closs, loss)


def pgd_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    targeted: bool = False,
    target: int | torch.Tensor | None = None,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    seed: int | None = None,
    iterate: str = "worst",
    restarts: int = 1,
) -> torch.Tensor:
    """PGD adversarial examples ``x_adv`` of ``x`` (``[N, C, H, W]``) within ``eps`` in ``norm``.

    Untargeted: ascend the cross-entropy on the true labels ``y``. Targeted (``targeted=True``):
    descend the cross-entropy toward ``target`` (an int or ``[N]`` class indices; ``y`` is then
    unused). ``step_size`` defaults to ``2.5 * eps / steps`` (Madry et al. 2018). ``seed`` seeds the
    random start (``None``: torch's global generator). Returns, per example, the worst iterate
    over ``restarts`` random restarts (``iterate="worst"``; ``"last"``: the last iterate of each
    restart; see the module docstring), detached, on ``x``'s device; ``||x_adv - x|| <= eps`` in the chosen norm and ``x_adv`` lies in ``clamp``.
    ``clamp`` must contain ``x`` (images in [0, 1]); pass ``clamp=None`` for inputs that are
    already normalised, or the box would pull ``x_adv`` out of the ball.
    """
    norm = _check_args(eps, norm, steps, step_size, clamp)
    steps = int(steps)
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    return _attack(
        model, x, y, eps=float(eps), norm=norm, steps=steps, step_size=step_size,
        random_start=random_start, targeted=targeted, target=target, clamp=clamp, generator=generator,
        iterate=iterate, restarts=restarts,
    )


@dataclass
class PGDPerturber:
    """A PGD attack as a ``perturb(model, x, y) -> x_adv`` callable for adversarial training.

    Madry et al. 2018 train on ``min_theta E[max_{||delta|| <= eps} L(f_theta(x + delta), y)]``;
    :func:`interpbench.models.training.train_model` calls this on every batch. With a ``seed``, one
    generator is seeded once and advanced across calls, so every batch gets a fresh random start and
    the whole run is reproducible. ``iterate`` and ``restarts`` as in :func:`pgd_attack`.
    """

    eps: float
    norm: str
    steps: int = 10
    step_size: float | None = None
    random_start: bool = True
    clamp: tuple[float, float] | None = (0.0, 1.0)
    seed: int | None = None
    iterate: str = "worst"
    restarts: int = 1
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.norm = _check_args(self.eps, self.norm, self.steps, self.step_size, self.clamp)
        self.eps = float(self.eps)
        self.steps = int(self.steps)
        _check_choice(self.iterate, self.restarts, self.random_start)
        self.restarts = int(self.restarts)
        if self.seed is not None:
            self._generator = torch.Generator().manual_seed(int(self.seed))

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _attack(
            model, x, y, eps=self.eps, norm=self.norm, steps=self.steps, step_size=self.step_size,
            random_start=self.random_start, targeted=False, target=None, clamp=self.clamp,
            generator=self._generator, iterate=self.iterate, restarts=self.restarts,
        )


def pgd_perturber(
    eps: float,
    norm: str,
    steps: int = 10,
    step_size: float | None = None,
    *,
    random_start: bool = True,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    seed: int | None = None,
    iterate: str = "worst",
    restarts: int = 1,
) -> PGDPerturber:
    """``perturb(model, x, y) -> x_adv`` for ``train_model(..., perturb=...)`` or
    ``accuracy_per_item(..., perturb=...)`` (untargeted PGD)."""
    return PGDPerturber(eps, norm, steps, step_size, random_start, clamp, seed, iterate, restarts)
