"""The device helpers every benchmark shares: ``--device cpu|cuda``, its check, synchronising a GPU
around timings, and the device's name for a table's header."""

from __future__ import annotations

import argparse

import torch


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])


def chosen_device(parser: argparse.ArgumentParser, name: str) -> torch.device:
    """``name`` as a device; ``cuda`` without CUDA is an argparse error, not a torch traceback."""
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here")
    return torch.device(name)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU): call it before and after a timing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
