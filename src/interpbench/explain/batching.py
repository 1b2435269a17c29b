"""How many expanded samples (IG steps, noise draws, perturbations) go through the model at once.

Methods expand a batch of N images into N x k model inputs. Captum splits that work with
``internal_batch_size`` (IG), ``nt_samples_batch_size`` (NoiseTunnel) and
``perturbations_per_eval`` (perturbation methods); a method's own parameter of that name overrides
the default chosen here. On a CPU, chunks of a few hundred small images are the sweet spot: with
2 threads, mnist_cnn runs 1.5-2x faster per image at 256-512 images a call than at 64, and slower
again beyond 1,024 (out of cache); with 1 thread, 64-256 are equal. A GPU wants larger chunks.
The element caps bound activation memory for large images.
``benchmarks/attribution_overhead.py`` measures the effect.
"""

from __future__ import annotations

from torch import Tensor

CPU_MAX_SAMPLES = 256
"""At most this many expanded samples per forward(+backward) call on a CPU."""

CPU_MAX_ELEMENTS = 2**22
"""At most this many input elements (samples x C x H x W) per call on a CPU: 27 at 3x224x224."""

GPU_MAX_SAMPLES = 4096
GPU_MAX_ELEMENTS = 2**26
"""On an accelerator: 445 samples at 3x224x224."""


def samples_per_call(x: Tensor) -> int:
    """Expanded samples one model call may take for inputs shaped like ``x`` ``[N, C, H, W]``."""
    per_sample = max(1, x[0].numel())
    if x.device.type == "cpu":
        return max(1, min(CPU_MAX_SAMPLES, CPU_MAX_ELEMENTS // per_sample))
    return max(1, min(GPU_MAX_SAMPLES, GPU_MAX_ELEMENTS // per_sample))


def copies_per_call(x: Tensor, copies: int) -> int:
    """How many of ``copies`` expanded copies of the whole batch ``x`` fit in one call (>= 1)."""
    return max(1, min(copies, samples_per_call(x) // x.shape[0]))
