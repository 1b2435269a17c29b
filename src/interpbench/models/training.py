"""Seeded supervised training and evaluation of zoo models on in-memory tensors.

``perturb`` turns the loop into adversarial training (Madry et al. 2018): each batch is replaced
by ``perturb(model, x, y)`` (e.g. a PGD attack from :mod:`interpbench.attacks`) before the step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from ..runtime import seed_everything

log = logging.getLogger(__name__)

Perturb = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    stop_at_accuracy: float | None = None  # stop once an epoch's train accuracy reaches this
    # "constant": lr throughout; "onecycle": torch's OneCycleLR (Smith & Topin 2019) stepped per
    # batch, warming up to ``lr`` over the first 30% of the steps and annealing (cosine) to ~0
    schedule: Literal["constant", "onecycle"] = "constant"

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(
                f"epochs and batch_size must be >= 1 and lr > 0 (got epochs={self.epochs}, "
                f"batch_size={self.batch_size}, lr={self.lr})"
            )


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    perturb: Perturb | None = None,
    desc: str = "train",
) -> list[dict]:
    """Train ``model`` in place on ``(x, y)``; returns per-epoch ``{epoch, loss, accuracy}``.

    Shuffling uses a generator seeded from ``cfg.seed``, so the same seed gives the same weights
    on CPU.
    """
    gen = seed_everything(cfg.seed)
    device = torch.device(device)
    model.to(device)
    opt = _optimizer(model, cfg)
    n = len(x)
    steps = cfg.epochs * -(-n // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps) if cfg.schedule == "onecycle" else None
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(range(0, n, cfg.batch_size), desc=f"{desc} epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=None)  # None: no bar when the output is not a terminal (CI, log files)
        for start in bar:
            idx = order[start : start + cfg.batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            if perturb is not None:
                model.eval()
                xb = perturb(model, xb, yb).detach()
                model.train()
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        row = {"epoch": epoch + 1, "loss": total_loss / seen, "accuracy": correct / seen}
        log.info("%s epoch %d/%d: loss %.4f, train accuracy %.4f", desc, epoch + 1, cfg.epochs, row["loss"], row["accuracy"])
        history.append(row)
        if cfg.stop_at_accuracy is not None and row["accuracy"] >= cfg.stop_at_accuracy:
            log.info("%s reached train accuracy %.4f >= %.4f; stopping", desc, row["accuracy"], cfg.stop_at_accuracy)
            break
    model.eval()
    return history


@torch.no_grad()
def _predict(model, xb):
    return model(xb).argmax(1)


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256, device="cpu") -> torch.Tensor:
    """Predicted classes of ``x`` (eval mode, batched)."""
    model.eval().to(device)
    out = [_predict(model, x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def accuracy_per_item(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 256,
    device="cpu",
    perturb: Perturb | None = None,
) -> torch.Tensor:
    """0/1 correctness of each item (after ``perturb``, e.g. a PGD attack, when given)."""
    model.eval().to(device)
    out = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        if perturb is not None:
            xb = perturb(model, xb, yb).detach()
        out.append((_predict(model, xb) == yb).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)
