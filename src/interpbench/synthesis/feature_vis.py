"""Feature visualisation by optimisation: ``fourier_target``, ``fourier_inner``, ``cppn_target``,
``cppn_inner``.

Images ``x = g(theta)`` maximise an objective of the model under random transformations
(Olah, Mordvintsev & Schubert 2017, *Feature Visualization*, Distill; the lucid library):

    theta* = argmin_theta  E_T [ -objective(model(T(g(theta)))) ]

with ``T`` :func:`~interpbench.synthesis.transforms.random_affine` (jitter, scale, rotation,
0.5-grey fill), Adam, all ``n_images`` images optimised as one batch from different random
initialisations. The image size is the model's (the clean images' size, else ``image_size``).

Parameterisations ``g``:

- Fourier (lucid ``fft_image`` + ``to_valid_rgb``): a random spectrum (std 0.01) of
  ``rfft2`` coefficients scaled by ``1 / max(f, 1/max(h, w)) ** decay_power`` (``f`` the spatial
  frequency), inverse real FFT (orthonormal) divided by 4, colour decorrelation with lucid's
  square root of the ImageNet colour correlation matrix (normalised by its largest column norm),
  then a sigmoid.
- CPPN (Mordvintsev et al. 2018, *Differentiable Image Parameterizations*, Distill): a
  compositional pattern-producing network ``(x, y, r) -> RGB`` over the pixel grid (x, y in
  [-sqrt 3, sqrt 3], r = sqrt(x^2 + y^2)), ``layers`` 1x1 layers of ``hidden`` units with lucid's
  composite activation ``[atan(z) / 0.67, atan(z)^2 / 0.6]`` (weights N(0, 1/fan_in), zero biases),
  a zero-initialised sigmoid RGB output; its weights are what is optimised. Defaults 6 layers of
  16 units for 32 px on a CPU (lucid: 8 layers of 24).

Objectives:

- ``*_target``: the target class logit.
- ``*_inner``: the mean activation of one channel of an inner layer (lucid's ``channel``
  objective): by default the model's last conv block (``cnn_small``: ``relu3``, the ReLU output
  of ``conv3``), and the channel with the largest mean gradient x activation contribution to the
  target logit over the clean images when given, else at a uniform 0.5-grey image (see
  :mod:`interpbench.synthesis.objectives`). ``layer`` and ``channel`` override both. When the
  layer is a ReLU, the objective reads the channel before the ReLU (lucid's ``*_pre_relu``
  tensors): a channel that is zero on the initial image would otherwise give no gradient.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .objectives import capture, inner_layer, top_channel
from .registry import SynthesisContext, SynthesisResult, positive, register_synthesis
from .transforms import random_affine

log = logging.getLogger(__name__)

#: lucid's square root of the colour correlation matrix (ImageNet), columns R, G, B.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR = torch.from_numpy(COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0)))


def to_valid_rgb(t: Tensor) -> Tensor:
    """lucid's ``to_valid_rgb(decorrelate=True, sigmoid=True)``: decorrelated colours -> [0, 1]."""
    return torch.sigmoid(torch.einsum("nchw,dc->ndhw", t, _COLOR.to(t.device)))


def fourier_scale(h: int, w: int, decay_power: float, device) -> Tensor:
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power
    return torch.as_tensor(scale, dtype=torch.float32, device=device)


def fourier_image(spectrum: Tensor, scale: Tensor, h: int, w: int) -> Tensor:
    """Images (N, 3, h, w) in [0, 1] from a spectrum (2, N, 3, h, w // 2 + 1) (real, imaginary)."""
    spec = torch.complex(spectrum[0], spectrum[1]) * scale
    return to_valid_rgb(torch.fft.irfft2(spec, s=(h, w), norm="ortho") / 4.0)


class CPPN(nn.Module):
    """``n`` independent CPPNs evaluated as one batch: (x, y, r) grid -> (n, 3, h, w) in [0, 1]."""

    def __init__(self, n: int, h: int, w: int, hidden: int, layers: int, device):
        super().__init__()
        r = 3**0.5
        ys, xs = torch.meshgrid(torch.linspace(-r, r, h), torch.linspace(-r, r, w), indexing="ij")
        grid = torch.stack([xs, ys, torch.sqrt(xs**2 + ys**2)], -1).reshape(1, h * w, 3).to(device)
        self.register_buffer("grid", grid.expand(n, -1, -1).contiguous())
        self.shape = (h, w)
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        fan_in = 3
        for _ in range(layers):
            self.weights.append(nn.Parameter(torch.randn(n, fan_in, hidden, device=device) / fan_in**0.5))
            self.biases.append(nn.Parameter(torch.zeros(n, 1, hidden, device=device)))
            fan_in = 2 * hidden
        self.out_w = nn.Parameter(torch.zeros(n, fan_in, 3, device=device))
        self.out_b = nn.Parameter(torch.zeros(n, 1, 3, device=device))

    def forward(self) -> Tensor:
        z = self.grid
        for w, b in zip(self.weights, self.biases):
            a = torch.atan(torch.baddbmm(b, z, w))
            z = torch.cat([a / 0.67, a * a / 0.6], -1)
        rgb = torch.sigmoid(torch.baddbmm(self.out_b, z, self.out_w))
        h, w = self.shape
        return rgb.transpose(1, 2).reshape(-1, 3, h, w)


def _size(context: SynthesisContext, image_size: int | None) -> tuple[int, int]:
    if image_size is not None:
        if image_size < 8:
            raise ConfigError(f"image_size: expected at least 8 pixels, got {image_size}.")
        return image_size, image_size
    if context.clean_images is not None:
        return tuple(context.clean_images.shape[-2:])
    return 32, 32


def _device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _objective(model: nn.Module, target: int, context: SynthesisContext, inner: bool, layer: str | None,
               channel: int | None, size: tuple[int, int]) -> tuple[Callable[[Tensor], Tensor], Callable[[], None], str]:
    """(loss(x) -> per-image loss, cleanup(), description)."""
    dev = _device(model)
    if not inner:
        return (lambda x: -model(x)[:, target]), (lambda: None), f"logit {target}"
    grey = torch.full((1, 3, *size), 0.5, device=dev)
    name, module = inner_layer(model, layer, grey)
    probe = context.clean_images[:256] if context.clean_images is not None else grey
    if channel is None:
        channel = top_channel(model, module, target, probe)
    store, handle = capture(module, pre_relu=isinstance(module, nn.ReLU))
    with torch.no_grad():
        model(grey)
    n_channels = store[0].shape[1]
    if not 0 <= channel < n_channels:
        handle.remove()
        raise ConfigError(f"channel: {name} has {n_channels} channels, got {channel}.")

    def loss(x: Tensor) -> Tensor:
        model(x)
        a = store[0][:, channel]
        return -a.flatten(1).mean(1)

    return loss, handle.remove, f"{name} channel {channel}"


def _optimise(model, target, n_images, context, *, make, inner, layer, channel, steps, lr, jitter, scale, degrees,
              image_size) -> SynthesisResult:
    positive(steps=steps, lr=lr)
    size = _size(context, image_size)
    dev = _device(model)
    loss_fn, cleanup, what = _objective(model, target, context, inner, layer, channel, size)
    params, render = make(n_images, size, dev)
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    try:
        with torch.enable_grad():
            for step in range(steps):
                x = random_affine(render(), jitter=jitter, scale=(1 - scale, 1 + scale), degrees=degrees)
                loss = loss_fn(x).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        with torch.no_grad():
            images = render()
    finally:
        cleanup()
    log.debug("feature visualisation of %s: loss %.3f -> %.3f in %d steps", what, losses[0], losses[-1], steps)
    return SynthesisResult(images=images, losses=losses)


def _fourier(decay_power: float):
    def make(n, size, dev):
        h, w = size
        spectrum = (0.01 * torch.randn(2, n, 3, h, w // 2 + 1, device=dev)).requires_grad_(True)
        scale = fourier_scale(h, w, decay_power, dev)
        return [spectrum], lambda: fourier_image(spectrum, scale, h, w)

    return make


def _cppn(hidden: int, layers: int):
    if hidden < 1 or layers < 1:
        raise ConfigError(f"hidden and layers: expected positive integers, got {hidden}, {layers}.")

    def make(n, size, dev):
        net = CPPN(n, *size, hidden, layers, dev)
        return list(net.parameters()), net

    return make


@register_synthesis("fourier_target", output="image")
def fourier_target(model, target, n_images, context, *, steps: int = 96, lr: float = 0.05, decay_power: float = 1.0,
                   jitter: float = 2.0, scale: float = 0.1, degrees: float = 10.0,
                   image_size: int | None = None) -> SynthesisResult:
    """Fourier-parameterised feature visualisation of the target logit (Olah et al. 2017)."""
    return _optimise(model, target, n_images, context, make=_fourier(decay_power), inner=False, layer=None,
                     channel=None, steps=steps, lr=lr, jitter=jitter, scale=scale, degrees=degrees,
                     image_size=image_size)


@register_synthesis("fourier_inner", output="image")
def fourier_inner(model, target, n_images, context, *, steps: int = 96, lr: float = 0.05, decay_power: float = 1.0,
                  jitter: float = 2.0, scale: float = 0.1, degrees: float = 10.0, image_size: int | None = None,
                  layer: str | None = None, channel: int | None = None) -> SynthesisResult:
    """Fourier-parameterised feature visualisation of the inner channel most tied to the target (Olah et al. 2017)."""
    return _optimise(model, target, n_images, context, make=_fourier(decay_power), inner=True, layer=layer,
                     channel=channel, steps=steps, lr=lr, jitter=jitter, scale=scale, degrees=degrees,
                     image_size=image_size)


@register_synthesis("cppn_target", output="image")
def cppn_target(model, target, n_images, context, *, steps: int = 64, lr: float = 0.02, hidden: int = 16,
                layers: int = 6, jitter: float = 2.0, scale: float = 0.1, degrees: float = 10.0,
                image_size: int | None = None) -> SynthesisResult:
    """CPPN-parameterised feature visualisation of the target logit (Mordvintsev et al. 2018)."""
    return _optimise(model, target, n_images, context, make=_cppn(hidden, layers), inner=False, layer=None,
                     channel=None, steps=steps, lr=lr, jitter=jitter, scale=scale, degrees=degrees,
                     image_size=image_size)


@register_synthesis("cppn_inner", output="image")
def cppn_inner(model, target, n_images, context, *, steps: int = 64, lr: float = 0.02, hidden: int = 16,
               layers: int = 6, jitter: float = 2.0, scale: float = 0.1, degrees: float = 10.0,
               image_size: int | None = None, layer: str | None = None,
               channel: int | None = None) -> SynthesisResult:
    """CPPN-parameterised feature visualisation of the inner channel most tied to the target (Mordvintsev et al. 2018)."""
    return _optimise(model, target, n_images, context, make=_cppn(hidden, layers), inner=True, layer=layer,
                     channel=channel, steps=steps, lr=lr, jitter=jitter, scale=scale, degrees=degrees,
                     image_size=image_size)
