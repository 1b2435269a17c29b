"""What each run records in MLflow beside its parameters and metrics (see RunRecordHooks).

Pure helpers: the git commit of the code, the device the run used, and the version of each
versioned dataset it loaded or saved. None of them raises: outside a git checkout, or without
git installed, the commit is ``unknown``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import torch

UNKNOWN = "unknown"


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # git missing, cwd gone, hung
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: str | Path = ".") -> dict[str, str]:
    """``{"git.commit": <sha or 'unknown'>, "git.dirty": 'true' | 'false' | 'unknown'}`` of ``path``'s checkout."""
    path = Path(path)
    commit = _git(["rev-parse", "HEAD"], path)
    if not commit:
        return {"git.commit": UNKNOWN, "git.dirty": UNKNOWN}
    status = _git(["status", "--porcelain", "--untracked-files=no"], path)
    dirty = UNKNOWN if status is None else str(bool(status)).lower()
    return {"git.commit": commit, "git.dirty": dirty}


def device_description(device: str | None = "auto") -> str:
    """``cpu (N threads)`` or ``cuda: <GPU name>, CUDA <version>`` for the run's ``device`` parameter."""
    try:
        if device in (None, "auto"):
            dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            dev = torch.device(device)
        if dev.type == "cuda" and torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(dev)}, CUDA {torch.version.cuda}"
        if dev.type == "cpu":
            return f"cpu ({torch.get_num_threads()} threads)"
        return str(dev)
    except (RuntimeError, AssertionError, ValueError):
        return f"{device} (unavailable)"


def dataset_version(dataset: Any, saved: bool) -> str | None:
    """The version a versioned dataset was saved (``saved``) or loaded with; None if unversioned."""
    if dataset is None or not getattr(dataset, "_version", None):
        return None
    try:
        return dataset.resolve_save_version() if saved else dataset.resolve_load_version()
    except Exception:  # e.g. no version on disk yet: never fail the run for the record
        return None


def run_tags(run_id: str | None, device: str | None = "auto", project_path: str | Path = ".") -> dict[str, str]:
    """Tags of one run: git commit and state, the Kedro run id, the device, torch's version."""
    return {
        **git_info(project_path),
        "kedro.run_id": str(run_id or UNKNOWN),
        "device": device_description(device),
        "torch.version": torch.__version__,
    }


def version_tags(versions: dict[str, str]) -> dict[str, str]:
    """``dataset_version.<name>`` tags of the datasets' versions."""
    return {f"dataset_version.{name}": version for name, version in sorted(versions.items())}
