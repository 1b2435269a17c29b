"""Network Dissection cost: the vectorised tally (:func:`interpbench.metrics.dissection.dissect`)
against the loop-based NetDissect-Lite transcription (``tests/metrics/dissection_reference.py``)
on the same Broden-layout probe set and layer, and peak memory vs probe-set size.

The probe set is written from the colour scenes (as the ``neuron_robustness`` study does); the
model is a randomly initialised ``resnet_small`` (width 16). Times are process CPU seconds (wall
beside them). Table 1: one layer, both implementations, the speed-up and whether every unit's
label is identical. Table 2: peak resident memory of a fresh process that dissects probe sets of
growing size (streaming in batches; ``--no-keep`` re-runs the model in the tally pass instead of
keeping the first pass's activations). On ``--device cuda`` the vectorised tally runs on the GPU
(the loop transcription stays NumPy on the CPU, as the authors' code), every timing synchronises the
device, and Table 2 adds the GPU's peak allocated memory.

``python benchmarks/dissection_cost.py [--device cpu|cuda] [--images 100] [--layer stage2] [--sizes 200,400,800,1600] [--threads 1]``
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices import add_device_option, chosen_device, device_name, sync  # noqa: E402
from interpbench.data import generate_scenes  # noqa: E402
from interpbench.data.broden import read_broden, scenes_to_broden, write_broden  # noqa: E402
from interpbench.metrics.dissection import dissect, layer_activations, units_table  # noqa: E402
from interpbench.models import build_model  # noqa: E402


def _probe(folder: Path, n: int, seed: int = 0):
    write_broden(folder, **scenes_to_broden(generate_scenes(n, image_size=32, num_classes=8, seed=seed)))
    return read_broden(folder)


def _model():
    torch.manual_seed(0)
    return build_model("resnet_small", num_classes=8, width=16, blocks_per_stage=1).eval()


DEVICE = torch.device("cpu")


def _timed(fn):
    sync(DEVICE)
    t0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    sync(DEVICE)
    return out, time.process_time() - t0, time.perf_counter() - w0


def compare(n: int, layer: str) -> None:
    from tests.metrics.dissection_reference import reference_dissect

    with tempfile.TemporaryDirectory() as tmp:
        probe = _probe(Path(tmp), n)
        model = _model()
        batch = probe.batch(range(len(probe)))  # decoded once: neither side pays for reading PNGs
        vec, cpu_v, wall_v = _timed(lambda: dissect(model, [layer], probe, batch_size=100, device=DEVICE)[layer])
        model = model.cpu()

        def loop():
            feats = layer_activations(model, [layer], batch["x"])[layer].double().numpy()
            pixels = [p.numpy() for p in batch["pixels"]]
            scalars = [[int(s) for s in row if s > 0] for row in batch["scalars"]]
            return reference_dissect(feats, pixels, scalars, probe.label_category, len(probe.categories),
                                     *probe.seg_size)

        ref, cpu_l, wall_l = _timed(loop)
        _, cpu_f, _ = _timed(lambda: [layer_activations(model, [layer], batch["x"][i:i + 100])
                                      for i in range(0, len(probe), 100)])
        same = units_table(vec, probe)["label_id"].tolist() == ref[2].tolist()
        err = float(np.abs(vec.iou.cpu().numpy() - ref[1]).max())
        print(f"\nTable 1: {n} probe images, layer {layer} ({vec.iou.shape[0]} units), vectorised on {device_name(DEVICE)}, "
              f"torch threads {torch.get_num_threads()}")
        print("| implementation | CPU s | wall s |")
        print("|---|---|---|")
        print(f"| vectorised (metrics.dissection) | {cpu_v:.2f} | {wall_v:.2f} |")
        print(f"| loop transcription (reference) | {cpu_l:.2f} | {wall_l:.2f} |")
        print(f"| (the model's forward pass, in both) | {cpu_f:.2f} | |")
        print(f"speed-up (CPU): {cpu_l / cpu_v:.1f}x ({(cpu_l - cpu_f) / max(cpu_v - cpu_f, 1e-9):.1f}x without the "
              f"forward pass); identical labels: {same}; max |IoU difference|: {err:.2e}")


def memory_child(n: int, keep: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        probe = _probe(Path(tmp), n)
        probe.cache = False  # stream: decode every batch from disk
        model = _model()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _, cpu, wall = _timed(lambda: dissect(model, ["stage1", "stage2", "stage3"], probe, batch_size=100,
                                              keep_limit=2**25 if keep else 0, device=DEVICE))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        gpu = torch.cuda.max_memory_allocated(DEVICE) / 2**20 if DEVICE.type == "cuda" else float("nan")
        print(f"{n},{before / 1024:.0f},{after / 1024:.0f},{cpu:.2f},{wall:.2f},{gpu:.0f}")


def memory(sizes: list[int], keep: bool, threads: int) -> None:
    print(f"\nTable 2: peak resident memory, layers stage1..3 (112 units), batch 100, "
          f"{'first-pass activations kept' if keep else 'model re-run in the tally pass'}")
    cuda = DEVICE.type == "cuda"
    print("| probe images | RSS before dissect (MB) | peak RSS (MB) | CPU s | wall s |" + (" peak GPU (MB) |" if cuda else ""))
    print("|---|---|---|---|---|" + ("---|" if cuda else ""))
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--threads", str(threads),
                              "--device", DEVICE.type, *([] if keep else ["--no-keep"])],
                             capture_output=True, text=True, check=True)
        size, before, after, cpu, wall, gpu = out.stdout.strip().splitlines()[-1].split(",")
        print(f"| {size} | {before} | {after} | {cpu} | {wall} |" + (f" {gpu} |" if cuda else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--layer", default="stage2")
    ap.add_argument("--sizes", default="200,400,800,1600")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-keep", action="store_true")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    add_device_option(ap)
    args = ap.parse_args()
    global DEVICE
    DEVICE = chosen_device(ap, args.device)
    torch.set_num_threads(args.threads)
    if args.child is not None:
        memory_child(args.child, not args.no_keep)
        return
    compare(args.images, args.layer)
    memory([int(s) for s in args.sizes.split(",")], not args.no_keep, args.threads)


if __name__ == "__main__":
    main()
