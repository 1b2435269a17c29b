"""The ``features`` judge: an independent classifier's internal features (never the model under test).

Embedding of an image (resized to the judge's input size): for each of the judge model's blocks
but the output layer (:func:`interpbench.models.registry.model_blocks`, input to output), the
channel means and standard deviations over positions of a convolutional output (the first- and
second-order statistics that texture and style descriptors use, Gatys et al. 2016) or the vector of
a fully connected one; each block's part L2-normalised, concatenated, and the whole L2-normalised,
so every block weighs the same and the similarity of two images is a cosine in [-1, 1].

In the trojans study the judge model is the clean twin: the trojaned model's architecture and
recipe trained on the clean scenes, which never saw a trigger (a torchvision model with local
weights can be configured instead).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.registry import model_blocks


class FeatureJudge:
    """Embeds images with ``model``'s block outputs (see the module docstring)."""

    name = "features"

    def __init__(self, model: nn.Module, *, image_size: int, device: str | torch.device = "cpu", batch_size: int = 256):
        self.model = model.eval().to(device)
        self.image_size = int(image_size)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.blocks = [m for _, m in reversed(model_blocks(model)[1:])]  # input -> output, without the output layer
        self.description = (f"features of an independent {type(model).__name__} (block outputs: channel means and "
                            "standard deviations, cosine similarity)")

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """[N, D] unit vectors for images [N, 3, h, w] in [0, 1]."""
        out = []
        for i in range(0, len(images), self.batch_size):
            out.append(self._embed(images[i:i + self.batch_size].to(self.device, torch.float32)))
        return torch.cat(out).cpu() if out else torch.zeros(0, 0)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                              align_corners=False)
        feats: list[torch.Tensor] = []

        def keep(_m, _inp, output):
            f = output.flatten(2) if output.dim() > 2 else output
            f = torch.cat([f.mean(2), f.std(2)], dim=1) if f.dim() == 3 else f
            feats.append(F.normalize(f.flatten(1).float(), dim=1))

        handles = [b.register_forward_hook(keep) for b in self.blocks]
        try:
            self.model(x)
        finally:
            for h in handles:
                h.remove()
        return F.normalize(torch.cat(feats, dim=1), dim=1)
