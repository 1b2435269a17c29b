"""Study ``neuron_robustness``: Network Dissection on a Broden-format probe set and how easily its
unit labels are corrupted (Srivastava, Oikarinen, Weng 2023)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
