import torch

from interpbench.models import build_model
from interpbench.models.training import TrainConfig, accuracy_per_item, train_model


def _toy(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.2
    x[y == 1, :, :4] += 0.8  # class 1 lights up the top half
    return x.clamp(0, 1), y


def test_training_learns_and_is_deterministic():
    x, y = _toy()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=1e-2, seed=7)
    states = []
    for _ in range(2):
        torch.manual_seed(7)
        model = build_model("mlp", num_classes=2, image_size=8, hidden=[16])
        hist = train_model(model, x, y, cfg)
        states.append(model.state_dict())
    assert hist[-1]["accuracy"] > 0.95
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert accuracy_per_item(model, x, y).mean() > 0.95


def test_onecycle_schedule_warms_up_and_anneals(monkeypatch):
    x, y = _toy()
    seen = []
    original = torch.optim.Adam.step

    def record(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    torch.manual_seed(0)
    model = build_model("mlp", num_classes=2, image_size=8, hidden=[16])
    hist = train_model(model, x, y, TrainConfig(epochs=4, batch_size=32, lr=1e-2, schedule="onecycle"))
    assert len(seen) == 4 * 8  # stepped once per batch
    peak = max(range(len(seen)), key=seen.__getitem__)
    assert abs(seen[peak] - 1e-2) < 1e-3 and 0.2 < peak / len(seen) < 0.4  # warm-up over ~30% of the steps
    assert seen[0] < 1e-3 and seen[-1] < 1e-4  # starts low (lr / 25), anneals to ~0
    assert hist[-1]["accuracy"] > 0.95
