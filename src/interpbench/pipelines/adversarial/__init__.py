"""Study ``adversarial``: the *Adversaries & Interpretability* practicum (Santurkar & Tsipras)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
