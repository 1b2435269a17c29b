"""Attacks on inputs: PGD adversarial examples (Linf / L2) and PGD perturbers for adversarial training."""

from .pgd import NORMS, PGDPerturber, pgd_attack, pgd_perturber

__all__ = ["NORMS", "PGDPerturber", "pgd_attack", "pgd_perturber"]
