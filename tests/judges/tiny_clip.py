"""A randomly initialised tiny OpenCLIP model saved to a local file, for the CLIP judge's plumbing."""

from __future__ import annotations

import json
from pathlib import Path

import torch

NAME = "interpbench-tiny"
CONFIG = {"embed_dim": 32,
          "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
          "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}


def tiny_clip_checkpoint(folder: Path) -> Path:
    """Register the tiny model config with OpenCLIP and write its random weights under ``folder``."""
    import open_clip

    (folder / "cfg").mkdir(parents=True, exist_ok=True)
    (folder / "cfg" / f"{NAME}.json").write_text(json.dumps(CONFIG))
    open_clip.add_model_config(folder / "cfg")
    torch.manual_seed(0)
    ckpt = folder / "tiny_clip.bin"
    torch.save(open_clip.create_model(NAME, pretrained=None).state_dict(), ckpt)
    return ckpt
