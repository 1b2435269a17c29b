"""interpbench.synthesis on toy models with a planted patch trigger (see conftest.py)."""

from __future__ import annotations

import pytest
import torch

from interpbench.errors import ConfigError
from interpbench.models import build_model
from interpbench.synthesis import SynthesisContext, available_methods, method_info, synthesize, train_generator
from interpbench.synthesis.objectives import inner_layer
from interpbench.synthesis.transforms import paste

SIDE, TRIGGER, TARGET = 16, 5, 3  # as in conftest.py: image side, trigger side, the trojan's target

METHODS = ["adversarial_patch", "cppn_inner", "cppn_target", "fourier_inner", "fourier_target", "rfla_gen",
           "rfla_perturb", "snafue", "tabor"]
#: few steps, for the tests that do not look at the optimisation itself
QUICK = {m: {"steps": 3} for m in METHODS} | {"snafue": {"candidates": 24}}


@pytest.fixture(scope="module")
def generator(anywhere_model):
    return train_generator(anywhere_model[1]["x"], seed=0, epochs=2)


@pytest.fixture(scope="module")
def context(anywhere_model, generator):
    data = anywhere_model[1]
    return SynthesisContext(clean_images=data["x"], clean_labels=data["y"], generator=generator)


def test_available_methods():
    assert available_methods() == METHODS
    outputs = {m: method_info(m).output for m in METHODS}
    assert outputs["tabor"] == "trigger" and outputs["snafue"] == "patch" and outputs["cppn_inner"] == "image"


@pytest.mark.parametrize("method", METHODS)
def test_loss_falls(method, anywhere_model, context):
    model = anywhere_model[0]
    r = synthesize(method, model, TARGET, n_images=4, context=context, seed=0)
    losses = r.losses
    assert all(torch.isfinite(torch.tensor(losses)))
    if method == "snafue":  # a search: the best-so-far score, one value per batch of candidates
        assert losses[-1] < losses[0] and all(b <= a for a, b in zip(losses, losses[1:]))
    else:
        k = 10
        assert sum(losses[-k:]) / k < sum(losses[:k]) / k, (losses[:k], losses[-k:])


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_shapes_ranges(method, anywhere_model, context):
    model = anywhere_model[0]
    a = synthesize(method, model, TARGET, n_images=3, context=context, seed=7, **QUICK[method])
    b = synthesize(method, model, TARGET, n_images=3, context=context, seed=7, **QUICK[method])
    c = synthesize(method, model, TARGET, n_images=3, context=context, seed=8, **QUICK[method])
    assert torch.equal(a.images, b.images) and a.losses == b.losses
    assert not torch.equal(a.images, c.images)
    assert a.images.shape[:2] == (3, 3) and a.images.dtype == torch.float32 and a.images.device.type == "cpu"
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    # the model is left as it was: eval mode, gradients on
    assert all(p.requires_grad for p in model.parameters())


def test_tabor_recovers_the_corner_trigger(corner_model):
    model, data = corner_model
    ctx = SynthesisContext(clean_images=data["x"], clean_labels=data["y"])
    r = synthesize("tabor", model, TARGET, n_images=6, context=ctx, seed=0, steps=200, lr=0.1)
    truth = torch.zeros(SIDE, SIDE, dtype=torch.bool)
    truth[SIDE - TRIGGER:, SIDE - TRIGGER:] = True
    mask = r.extras["masks"][:, 0].mean(0) > 0.5  # the restarts' mean mask
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.5, float(iou)
    assert r.images.shape == (6, 3, SIDE, SIDE)


def test_adversarial_patch_flips_held_out_images(anywhere_model):
    model, data = anywhere_model
    ctx = SynthesisContext(clean_images=data["x"])
    r = synthesize("adversarial_patch", model, TARGET, n_images=4, context=ctx, seed=0)
    held = data["x_held"]
    g = torch.random.fork_rng(devices=[])
    with g, torch.no_grad():
        torch.manual_seed(123)
        rates = [(model(paste(p[None].expand(len(held), -1, -1, -1), held)).argmax(1) == TARGET).float().mean()
                 for p in r.images]
    assert max(rates) > 0.9 and sum(rates) / len(rates) > 0.8, rates


@pytest.mark.parametrize("params", [{}, {"adversarial": 2, "neighbours": 3, "adversarial_steps": 20}])
def test_snafue_ranks_the_trigger_first(anywhere_model, params):
    model, data = anywhere_model
    bank = 0.6 * data["x"][:40, :, :TRIGGER, :TRIGGER]  # dimmed natural crops (a bright crop is nearly the trigger)
    bank[13] = 1.0  # the trigger, hidden in the bank
    ctx = SynthesisContext(clean_images=data["x"], patch_bank=bank)
    r = synthesize("snafue", model, TARGET, n_images=3, context=ctx, **params)
    assert torch.equal(r.images[0], bank[13])
    assert r.extras["scores"][0] <= r.extras["scores"][1]


def test_source_class_images(anywhere_model):
    model, data = anywhere_model
    ctx = SynthesisContext(clean_images=data["x"], clean_labels=data["y"], source=1)
    r = synthesize("adversarial_patch", model, TARGET, n_images=2, context=ctx, steps=2)
    assert r.images.shape[0] == 2
    with pytest.raises(ConfigError, match="clean_labels"):
        synthesize("adversarial_patch", model, TARGET, n_images=2, context=SynthesisContext(clean_images=data["x"], source=1))
    with pytest.raises(ConfigError, match="no clean image of source class 3"):
        synthesize("tabor", model, TARGET, context=SynthesisContext(clean_images=data["x"], clean_labels=data["y"], source=3))


def test_errors(anywhere_model, context):
    model = anywhere_model[0]
    with pytest.raises(ConfigError, match=r"Unknown synthesis method 'fourier'.*fourier_inner.*tabor"):
        synthesize("fourier", model, TARGET)
    with pytest.raises(ConfigError, match=r"unknown parameter 'stesp' \(did you mean 'steps'\?\)"):
        synthesize("tabor", model, TARGET, context=context, stesp=3)
    with pytest.raises(ConfigError, match=r"synthesis method 'tabor'.steps"):
        synthesize("tabor", model, TARGET, context=context, steps="many")
    with pytest.raises(ConfigError, match="needs context.clean_images"):
        synthesize("adversarial_patch", model, TARGET)
    with pytest.raises(ConfigError, match="needs context.generator"):
        synthesize("rfla_perturb", model, TARGET, context=SynthesisContext(clean_images=context.clean_images))
    with pytest.raises(ConfigError, match=r"synthesis method 'tabor': steps: expected a positive value, got 0"):
        synthesize("tabor", model, TARGET, context=context, steps=0)
    with pytest.raises(ConfigError, match="size_min, size_max"):
        synthesize("adversarial_patch", model, TARGET, context=context, size_min=0.5, size_max=0.2)
    with pytest.raises(ConfigError, match="n_images"):
        synthesize("fourier_target", model, TARGET, n_images=0)
    with pytest.raises(ConfigError, match="layer 'nope'"):
        synthesize("fourier_inner", model, TARGET, layer="nope")


def test_train_generator_deterministic(anywhere_model, generator):
    x = anywhere_model[1]["x"]
    again = train_generator(x, seed=0, epochs=2)
    for a, b in zip(generator.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with torch.no_grad():
        assert torch.nn.functional.mse_loss(generator(x), x) < 0.05
    with pytest.raises(ConfigError, match="images must be a tensor"):
        train_generator(x[0], seed=0)


def test_inner_layer_of_zoo_models():
    x = torch.rand(1, 3, 32, 32)
    cnn = build_model("cnn_small", num_classes=8, image_size=32).eval()
    assert inner_layer(cnn, None, x)[0] == "relu3"
    res = build_model("resnet_small", num_classes=8).eval()
    assert inner_layer(res, None, x)[0] == "stage3"
    assert inner_layer(cnn, "conv2", x)[0] == "conv2"
