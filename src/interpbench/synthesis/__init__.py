"""Feature-synthesis methods of Casper et al. 2023 (*Red Teaming Deep Neural Networks with Feature
Synthesis Tools*): images, patches and triggers that a model associates with a class, for the
``trojans`` study's multiple-choice test. Kedro-free.

    synthesize("tabor", model, target=4, n_images=10, context=SynthesisContext(clean_images=x), seed=0)

Methods (one module per family): ``fourier_target``, ``fourier_inner``, ``cppn_target``,
``cppn_inner`` (:mod:`.feature_vis`), ``adversarial_patch``, ``snafue`` (:mod:`.patches`),
``tabor`` (:mod:`.trigger`), ``rfla_perturb``, ``rfla_gen`` (:mod:`.rfla`, with
:func:`train_generator`).

Every method returns ``SynthesisResult(images, losses, extras)``: ``n_images`` images in [0, 1] on
the CPU (``method_info(name).output`` says whether they are whole images, patches or trigger
stamps), the objective at each step (lower is better) and method-specific tensors (TABOR's
``masks`` and ``patterns``, SNAFUE's ``scores``). The defaults are sized for the embedded CPU
run (32 px, tens to a hundred optimisation steps; measured costs in ``benchmarks/README.md``); the
papers use thousands of steps, which belong in a GPU environment's parameters.
"""

from . import feature_vis, patches, rfla, trigger  # noqa: F401  (register the methods)
from .registry import (
    SynthesisContext,
    SynthesisResult,
    available_methods,
    method_info,
    register_synthesis,
    synthesize,
)
from .rfla import PatchGenerator, train_generator

__all__ = [
    "PatchGenerator",
    "SynthesisContext",
    "SynthesisResult",
    "available_methods",
    "method_info",
    "register_synthesis",
    "synthesize",
    "train_generator",
]
