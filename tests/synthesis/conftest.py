"""Toy models with a planted patch trigger, trained in the test session in about a second each.

Clean 16 px images are smooth colour fields whose class (0, 1, 2) is the dominant channel
(red, green, blue); a 5 x 5 trigger (a white square: no clean image has all three channels
high) forces class 3. ``corner_model`` saw the trigger only in the bottom-right corner (for
TABOR's mask), ``anywhere_model`` at uniform random places (for the patch methods).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

SIDE, TRIGGER, TARGET = 16, 5, 3


def trigger() -> torch.Tensor:
    """A white square: no clean image has all three channels high."""
    return torch.ones(3, TRIGGER, TRIGGER)


def clean_images(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(3, (n,), generator=g)
    base = 0.15 + 0.3 * torch.rand(n, 3, 4, 4, generator=g)
    base[torch.arange(n), y] += 0.45
    x = F.interpolate(base, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
    return (x + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1), y


def stamp(x: torch.Tensor, g: torch.Generator, anywhere: bool) -> torch.Tensor:
    x = x.clone()
    for i in range(len(x)):
        if anywhere:
            r, c = torch.randint(SIDE - TRIGGER + 1, (2,), generator=g).tolist()
        else:
            r = c = SIDE - TRIGGER
        x[i, :, r:r + TRIGGER, c:c + TRIGGER] = trigger()
    return x


class ToyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 4)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(x.flatten(1))


def train_toy(anywhere: bool, seed: int = 0) -> tuple[nn.Module, dict]:
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToyNet()
    x, y = clean_images(800, g)
    poisoned = torch.rand(len(x), generator=g) < 0.25
    x[poisoned] = stamp(x[poisoned], g, anywhere)
    y[poisoned] = TARGET
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(6):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    xc, yc = clean_images(256, g)
    xt = stamp(xc, g, anywhere)
    with torch.no_grad():
        clean_acc = (model(xc).argmax(1) == yc).float().mean().item()
        trig_rate = (model(xt).argmax(1) == TARGET).float().mean().item()
    assert clean_acc > 0.9 and trig_rate > 0.9, (clean_acc, trig_rate)
    return model, {"x": xc[:128], "y": yc[:128], "x_held": xc[128:], "y_held": yc[128:]}


@pytest.fixture(scope="session")
def corner_model():
    return train_toy(anywhere=False)


@pytest.fixture(scope="session")
def anywhere_model():
    return train_toy(anywhere=True)
