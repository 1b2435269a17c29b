"""The feature-synthesis registry and :func:`synthesize`, the one entry point of the methods.

A method is a function ``fn(model, target, n_images, context, **params) -> SynthesisResult``
whose own parameters are keyword-only with defaults and type hints; ``@register_synthesis``
records it (zennit/Quantus style). :func:`synthesize` gives every method the same contract:

- the method name and parameter names and types are checked (``ConfigError`` naming the valid
  ones), with the attribution registry's helpers (:mod:`interpbench.explain.registry`);
- the context the method needs (clean images, a generator) is checked before it runs;
- the model is used on ``device`` (moved there and back when it lives elsewhere), in eval mode
  (restored after), with its parameters' ``requires_grad`` switched off while the method runs;
- the method runs under torch RNGs seeded from ``seed`` (the caller's states are restored after),
  so the same seed gives identical images on the same device and thread count;
- the images come back float32, detached, on the CPU, clamped to [0, 1].
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, unknown_name
from ..explain.registry import _defaults, _params_dataclass, _seeded
from ..config import parse

log = logging.getLogger(__name__)

NEEDS = ("clean_images", "generator")
#: What a method's images are: ``image`` (a whole input image), ``patch`` (a patch meant to be
#: pasted into images) or ``trigger`` (a full-size trigger stamp, pattern x mask).
OUTPUTS = ("image", "patch", "trigger")
_RESERVED = {"method", "model", "target", "n_images", "context", "seed", "device"}


@dataclass
class SynthesisContext:
    """What a method may use besides the model.

    clean_images: (N, 3, H, W) in [0, 1], clean images (patch pasting, TABOR, SNAFUE, RFLA).
    clean_labels: (N,) int64, their labels.
    generator: the small image generator of :func:`train_generator` (RFLA-Perturb / RFLA-Gen).
    patch_bank: (M, 3, h, w) in [0, 1] natural patches for SNAFUE (None: cut from clean_images).
    source: a class-universal trojan's source class: methods that paste onto images use the clean
        images of that class; None = universal (all clean images).
    """

    clean_images: torch.Tensor | None = None
    clean_labels: torch.Tensor | None = None
    generator: nn.Module | None = None
    patch_bank: torch.Tensor | None = None
    source: int | None = None


@dataclass
class SynthesisResult:
    """images: (n_images, 3, h, w) in [0, 1] on the CPU, what a judge is shown; losses: the
    objective at each optimisation step (lower is better), averaged over the batch; extras:
    method-specific tensors (e.g. TABOR's ``masks``), on the CPU."""

    images: torch.Tensor
    losses: list[float]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


SynthesisFn = Callable[..., SynthesisResult]


@dataclass(frozen=True)
class SynthesisSpec:
    name: str
    fn: SynthesisFn
    needs: tuple[str, ...]
    output: str
    description: str
    params: dict[str, Any]
    params_type: type


_METHODS: dict[str, SynthesisSpec] = {}


def register_synthesis(name: str, *, output: str, needs: tuple[str, ...] = ()) -> Callable[[SynthesisFn], SynthesisFn]:
    """Decorator: ``@register_synthesis("tabor", output="trigger", needs=("clean_images",))`` on
    ``fn(model, target, n_images, context, *, param=default, ...)``."""
    bad = sorted(set(needs) - set(NEEDS))
    if bad:
        raise ConfigError(f"register_synthesis({name!r}): unknown needs {bad}; valid: {list(NEEDS)}.")
    if output not in OUTPUTS:
        raise ConfigError(f"register_synthesis({name!r}): output must be one of {list(OUTPUTS)}, got {output!r}.")

    def wrap(fn: SynthesisFn) -> SynthesisFn:
        if name in _METHODS:
            raise ConfigError(f"A synthesis method named {name!r} is already registered.")
        clash = sorted(set(_defaults(fn)) & _RESERVED)
        if clash:
            raise ConfigError(f"Synthesis method {name!r}: parameter names {clash} are reserved by synthesize().")
        _METHODS[name] = SynthesisSpec(
            name=name,
            fn=fn,
            needs=tuple(needs),
            output=output,
            description=(fn.__doc__ or "").strip().split("\n")[0],
            params=_defaults(fn),
            params_type=_params_dataclass(name, fn),
        )
        return fn

    return wrap


def available_methods() -> list[str]:
    """Names of the registered synthesis methods, sorted."""
    return sorted(_METHODS)


def method_info(name: str) -> SynthesisSpec:
    """The :class:`SynthesisSpec` of ``name``; an unknown name raises ConfigError listing the known ones."""
    if name not in _METHODS:
        raise unknown_name("synthesis method", name, _METHODS)
    return _METHODS[name]


def synthesize(
    method: str,
    model: nn.Module,
    target: int,
    *,
    n_images: int = 10,
    context: SynthesisContext | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    **params: Any,
) -> SynthesisResult:
    """Synthesize ``n_images`` images that ``method`` finds for class ``target`` of ``model``."""
    spec = method_info(method)
    if params and not spec.params:
        raise ConfigError(f"synthesis method {method!r} takes no parameters, got {', '.join(map(repr, params))}.")
    options = dataclasses.asdict(parse(spec.params_type, params, where=f"synthesis method {method!r}"))
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ConfigError(f"synthesize({method!r}): n_images must be a positive integer, got {n_images!r}.")
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise ConfigError(f"synthesize({method!r}): target must be a class index (int >= 0), got {target!r}.")
    context = SynthesisContext() if context is None else context
    device = torch.device(device)
    context = _check_context(method, spec.needs, context, device)
    weights = list(model.parameters())
    home = weights[0].device if weights else device
    training = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in weights]
    if home != device:
        model.to(device)
    model.eval()
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        with _seeded(seed, device, all_rngs=False):
            log.debug("synthesize %s: target %d, %d images, %s", method, target, n_images, options)
            result = spec.fn(model, target, n_images, context, **options)
    except ConfigError as exc:  # a method's own check of its parameters: say which method
        raise ConfigError(f"synthesis method {method!r}: {exc}") from None
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, flag in training:
            m.train(flag)
        if home != device:
            model.to(home)
    images = result.images.detach().to(device="cpu", dtype=torch.float32).clamp(0, 1)
    if images.dim() != 4 or images.shape[0] != n_images or images.shape[1] != 3:
        raise RuntimeError(f"{method} returned images of shape {tuple(images.shape)}, expected ({n_images}, 3, h, w).")
    extras = {k: v.detach().cpu() for k, v in result.extras.items()}
    return SynthesisResult(images=images, losses=[float(v) for v in result.losses], extras=extras)


def positive(**values: float) -> None:
    """ConfigError naming the first of ``values`` (parameter name -> value) that is not > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{name}: expected a positive value, got {value!r}.")


def _check_context(method: str, needs: tuple[str, ...], ctx: SynthesisContext, device: torch.device) -> SynthesisContext:
    """Check what ``method`` needs; returns a copy with the clean images (of ``source`` when given)
    and the patch bank as float32 on ``device``."""
    if "generator" in needs and ctx.generator is None:
        raise ConfigError(
            f"synthesis method {method!r} needs context.generator: an image generator from "
            "interpbench.synthesis.train_generator(clean_images, seed=...)."
        )
    x, y = ctx.clean_images, ctx.clean_labels
    if x is not None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3 or x.shape[0] == 0:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ConfigError(f"synthesis method {method!r}: context.clean_images must be a tensor (N, 3, H, W), got {shape}.")
        x = x.detach().to(device=device, dtype=torch.float32)
    if y is not None and (x is None or not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],)):
        raise ConfigError(f"synthesis method {method!r}: context.clean_labels must be a tensor (N,) matching clean_images.")
    if ctx.source is not None and x is not None:
        if y is None:
            raise ConfigError(
                f"synthesis method {method!r}: context.source={ctx.source} needs context.clean_labels "
                "to pick the clean images of the source class."
            )
        keep = y.to(x.device) == ctx.source
        if not bool(keep.any()):
            raise ConfigError(f"synthesis method {method!r}: no clean image of source class {ctx.source}.")
        x, y = x[keep], y[keep]
    if "clean_images" in needs and x is None:
        raise ConfigError(
            f"synthesis method {method!r} needs context.clean_images: clean images (N, 3, H, W) in [0, 1] "
            "to paste its patches or triggers onto."
        )
    bank = ctx.patch_bank
    if bank is not None:
        if not isinstance(bank, torch.Tensor) or bank.dim() != 4 or bank.shape[1] != 3 or bank.shape[0] == 0:
            raise ConfigError(f"synthesis method {method!r}: context.patch_bank must be a tensor (M, 3, h, w).")
        bank = bank.detach().to(device=device, dtype=torch.float32)
    generator = ctx.generator
    if generator is not None:
        generator = generator.to(device)
    return SynthesisContext(clean_images=x, clean_labels=None if y is None else y.to(device),
                            generator=generator, patch_bank=bank, source=ctx.source)
