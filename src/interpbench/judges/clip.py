"""The ``clip`` judge: OpenCLIP's image encoder (Radford et al. 2021; Cherti et al. 2023), read from
a local checkpoint, as in Casper et al. 2023's automated judge.

Images are resized to the model's input size and normalised with its mean and standard
deviation; the embedding is ``encode_image`` L2-normalised, and options are compared with the
synthesized images image to image (both are pictures). OpenCLIP is an optional extra
(``pip install -e ".[clip]"``); nothing is downloaded: ``checkpoint`` must be a file on disk.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ConfigError

INSTALL = 'pip install -e ".[clip]"'


def _open_clip():
    try:
        import open_clip
    except ImportError:
        raise ConfigError(f"the 'clip' judge needs OpenCLIP, which is not installed; install the extra with `{INSTALL}` "
                          "(or choose the 'features' judge).") from None
    return open_clip


def check_clip_checkpoint(model: str, checkpoint: str | None, where: str = "judge clip") -> Path:
    """The checkpoint's path; a ConfigError saying where the file is expected and how to install
    the extra when it is missing or OpenCLIP is not installed."""
    path = Path(checkpoint or "").expanduser()
    if not checkpoint or not path.is_file():
        raise ConfigError(f"{where}: the OpenCLIP weights of {model!r} are expected at {str(checkpoint)!r}, which is not "
                          f"a file. Put them there (e.g. open_clip_pytorch_model.bin) or point "
                          f"trojans.synthesis.judge.checkpoint at them; nothing is downloaded at run time. The judge "
                          f"also needs OpenCLIP: `{INSTALL}`.")
    _open_clip()
    return path


class ClipJudge:
    """Embeds images with an OpenCLIP model ``model`` whose weights are the file ``checkpoint``."""

    name = "clip"

    def __init__(self, *, model: str, checkpoint: str, device: str | torch.device = "cpu", batch_size: int = 64):
        path = check_clip_checkpoint(model, checkpoint)
        open_clip = _open_clip()
        if model not in open_clip.list_models():
            raise ConfigError(f"judge clip: unknown OpenCLIP model {model!r}; known: {', '.join(open_clip.list_models()[:12])}, ...")
        try:
            self.model = open_clip.create_model(model, pretrained=str(path), device=torch.device(device)).eval()
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ConfigError(f"judge clip: {path} could not be loaded as the weights of {model!r}: {exc}") from None
        visual = self.model.visual
        size = visual.image_size
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (int(size), int(size))
        self.mean = torch.tensor(getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.description = f"OpenCLIP {model} image embeddings ({path.name}), cosine similarity"

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, len(images), self.batch_size):
            x = images[i:i + self.batch_size].float()
            x = F.interpolate(x, size=self.image_size, mode="bicubic", align_corners=False).clamp(0, 1)
            x = ((x - self.mean) / self.std).to(self.device)
            out.append(F.normalize(self.model.encode_image(x).float(), dim=1).cpu())
        return torch.cat(out) if out else torch.zeros(0, 0)
