"""Robust feature-level adversaries: ``rfla_perturb`` and ``rfla_gen`` (Casper et al. 2022, *Robust
Feature-Level Adversaries are Interpretability Tools*, NeurIPS), and the small image generator they
use, :func:`train_generator`.

Casper et al. perturb a pretrained image generator (BigGAN) so that its output, resized to a patch
and pasted into clean images under random transformations, makes the classifier predict the
target. Here the generator is the decoder of a small convolutional autoencoder trained for a few
seconds on the clean images (resized to ``size`` px): :class:`PatchGenerator`. Random latents are
drawn from a diagonal Gaussian fitted to the clean images' codes.

- RFLA-Perturb: for ``n_images`` latents (codes of random clean images), an additive perturbation
  ``delta`` of the decoder's activations after decoder block ``layer`` is optimised:

      min_delta  E_{x, place, side, angle} CE(f(paste(G_{>layer}(G_{<=layer}(z) + delta), x)), t)
                 + perturb_l2 * mean(delta^2)

- RFLA-Gen: a copy of the decoder's weights is fine-tuned for the same CE, each step on fresh
  random latents; the returned patches are decoded from ``n_images`` seeded random latents.

Included regulariser: the L2 penalty on the perturbation (RFLA-Perturb). Omitted: the paper's
discriminator-based and entropy "disguise" terms (an autoencoder has no discriminator).
"""

from __future__ import annotations

import copy
import logging
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .patches import check_size, pasted_loss
from .registry import SynthesisResult, positive, register_synthesis

log = logging.getLogger(__name__)


class PatchGenerator(nn.Module):
    """A small convolutional autoencoder: ``encode`` (3, s, s) -> (width*2, s/4, s/4) codes,
    ``decode`` codes -> (3, s, s) images in [0, 1] through ``decoder`` blocks (upsampling x2, x2,
    then an RGB head)."""

    def __init__(self, size: int = 16, width: int = 16):
        super().__init__()
        if size % 4 or size < 8:
            raise ConfigError(f"generator size: expected a multiple of 4, at least 8, got {size}.")
        self.size = size
        c1, c2 = width, 2 * width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(), nn.Conv2d(c2, c2, 3, 1, 1)
        )
        self.decoder = nn.ModuleList([
            nn.Sequential(nn.ConvTranspose2d(c2, c2, 4, 2, 1), nn.ReLU()),
            nn.Sequential(nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(c1, 3, 3, 1, 1), nn.Sigmoid()),
        ])
        c = (c2, size // 4, size // 4)
        self.register_buffer("latent_mean", torch.zeros(c))
        self.register_buffer("latent_std", torch.ones(c))

    def encode(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return self.encoder(x)

    def decode(self, z: Tensor, *, layer: int = -1, delta: Tensor | None = None) -> Tensor:
        """Decode ``z``; with ``delta``, add it to the activations after decoder block ``layer``
        (``-1``: to the code itself)."""
        h = z + delta if delta is not None and layer == -1 else z
        for i, block in enumerate(self.decoder):
            h = block(h)
            if delta is not None and i == layer:
                h = h + delta
        return h

    def sample_latents(self, n: int) -> Tensor:
        """``n`` codes from the Gaussian fitted to the training images' codes."""
        return self.latent_mean + self.latent_std * torch.randn(n, *self.latent_mean.shape, device=self.latent_mean.device)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def train_generator(images: Tensor, *, seed: int, epochs: int = 6, batch_size: int = 64, lr: float = 3e-3,
                    size: int = 16, width: int = 16, max_images: int = 2000,
                    device: str | torch.device = "cpu") -> PatchGenerator:
    """Train a :class:`PatchGenerator` (autoencoder, MSE) on ``images`` (N, 3, H, W) in [0, 1]
    resized to ``size`` px: at most ``max_images`` of them (a seeded draw), ``epochs`` epochs of Adam.
    Deterministic per seed on a given device and thread count; a few seconds on one CPU core with
    the defaults. Returns the generator in eval mode on ``device``, weights frozen."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ConfigError("train_generator: images must be a tensor (N, 3, H, W) in [0, 1].")
    if epochs < 1 or batch_size < 1 or max_images < 1:
        raise ConfigError(f"train_generator: epochs, batch_size, max_images must be positive, got "
                          f"{epochs}, {batch_size}, {max_images}.")
    device = torch.device(device)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = PatchGenerator(size, width).to(device)
        order = torch.randperm(len(images))[:max_images]
        x = F.interpolate(images[order].float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False).to(device)
        opt = torch.optim.Adam(gen.parameters(), lr=lr)
        for epoch in range(epochs):
            perm = torch.randperm(len(x))
            total = 0.0
            for i in range(0, len(x), batch_size):
                xb = x[perm[i:i + batch_size]].to(device)
                loss = F.mse_loss(gen(xb), xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(xb)
            log.debug("generator epoch %d: reconstruction MSE %.4f", epoch + 1, total / len(x))
        gen.eval()
        with torch.no_grad():
            codes = torch.cat([gen.encode(x[i:i + 256]) for i in range(0, len(x), 256)])
            gen.latent_mean.copy_(codes.mean(0))
            gen.latent_std.copy_(codes.std(0).clamp_min(1e-3))
    for p in gen.parameters():
        p.requires_grad_(False)
    log.info("Trained the synthesis generator (%d px, %d images, %d epochs) in %.1f s",
             size, len(x), epochs, time.perf_counter() - start)
    return gen


def _generator(context) -> PatchGenerator:
    gen = context.generator
    if not all(hasattr(gen, a) for a in ("encode", "decode", "sample_latents")):
        raise ConfigError("context.generator must be a PatchGenerator from interpbench.synthesis.train_generator "
                          f"(with encode, decode and sample_latents), got {type(gen).__name__}.")
    return gen


@register_synthesis("rfla_perturb", output="patch", needs=("clean_images", "generator"))
def rfla_perturb(model, target, n_images, context, *, steps: int = 48, lr: float = 0.2, per_patch: int = 4,
                 layer: int = 0, perturb_l2: float = 0.01, size_min: float = 0.3, size_max: float = 0.4,
                 degrees: float = 10.0) -> SynthesisResult:
    """RFLA-Perturb (Casper et al. 2022): perturb the generator's inner activations so its patch flips images to the target."""
    size = check_size(size_min, size_max)
    positive(steps=steps, lr=lr, per_patch=per_patch)
    gen = _generator(context)
    if not -1 <= layer < len(gen.decoder) - 1:
        raise ConfigError(f"layer: expected -1 (the code) .. {len(gen.decoder) - 2}, got {layer}.")
    x = context.clean_images
    with torch.no_grad():
        z = gen.encode(x[torch.randint(len(x), (n_images,), device=x.device)])
        h = _upto(gen, z, layer)
    delta = torch.zeros_like(h).requires_grad_(True)
    opt = torch.optim.Adam([delta], lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            patches = gen.decode(z, layer=layer, delta=delta)
            ce = pasted_loss(model, patches, x, target, per_patch, size, degrees)
            loss = (ce + perturb_l2 * delta.pow(2).flatten(1).mean(1)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        images = gen.decode(z, layer=layer, delta=delta)
    log.debug("rfla_perturb: loss %.3f -> %.3f in %d steps", losses[0], losses[-1], steps)
    return SynthesisResult(images=images, losses=losses)


def _upto(gen: PatchGenerator, z: Tensor, layer: int) -> Tensor:
    h = z
    for block in list(gen.decoder)[: layer + 1]:
        h = block(h)
    return h


@register_synthesis("rfla_gen", output="patch", needs=("clean_images", "generator"))
def rfla_gen(model, target, n_images, context, *, steps: int = 48, lr: float = 0.003, per_patch: int = 4,
             size_min: float = 0.3, size_max: float = 0.4, degrees: float = 10.0) -> SynthesisResult:
    """RFLA-Gen (Casper et al. 2022): fine-tune a copy of the generator so its patches flip images to the target."""
    size = check_size(size_min, size_max)
    positive(steps=steps, lr=lr, per_patch=per_patch)
    gen = copy.deepcopy(_generator(context))
    params = list(gen.decoder.parameters())
    for p in params:
        p.requires_grad_(True)
    x = context.clean_images
    z_out = gen.sample_latents(n_images)
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            patches = gen.decode(gen.sample_latents(n_images))
            loss = pasted_loss(model, patches, x, target, per_patch, size, degrees).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        images = gen.decode(z_out)
    log.debug("rfla_gen: loss %.3f -> %.3f in %d steps", losses[0], losses[-1], steps)
    return SynthesisResult(images=images, losses=losses)
