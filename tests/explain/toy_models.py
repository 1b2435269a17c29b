"""Toy models shared by the explain tests (architectures some methods cannot handle)."""

import torch.nn.functional as F
from torch import nn


class FunctionalReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(16, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class WithSoftplus(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Softplus(), nn.Linear(8, 3))

    def forward(self, x):
        return self.body(x)


class ReusedReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(16, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x.flatten(1))))))
