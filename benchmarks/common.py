"""Measurement helpers shared by the benchmark scripts (run by hand, never by the tests)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

RESULTS = Path(__file__).parent / "results"


def count_macs(build: Callable[[], torch.nn.Module], shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass at ``shape``, counted on the meta device.

    Built on meta tensors, so a 720p count of a large model costs no memory or time.
    torch's flop counter counts 2 FLOPs per multiply-accumulate; we report MACs = FLOPs / 2.
    """
    with torch.device("meta"):
        model = build().eval()
        x = torch.zeros(shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


def median_latency(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time in seconds of ``fn()`` over ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def fp32_bf16_latency(model: torch.nn.Module, shape: tuple[int, ...], runs: int
                      ) -> dict[str, float]:
    """Median seconds of ``model`` on one random input of ``shape`` (channels-last, inference
    mode) in fp32 and in CPU bf16 autocast: ``{"fp32": s, "bf16": s}``."""
    model = model.eval().to(memory_format=torch.channels_last)
    x = torch.rand(*shape).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        fp32, _ = median_latency(lambda: model(x), runs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16, _ = median_latency(lambda: model(x), runs)
    return {"fp32": fp32, "bf16": bf16}


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux) and its bf16 instruction sets."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in info.splitlines()
             if line.startswith("model name")]
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                  if line.startswith("flags")), [])
    extras = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    name = names[0] if names else platform.machine()
    return f"{name}, {', '.join(extras)}" if extras else name


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def load_json(name: str) -> dict | None:
    """``benchmarks/results/<name>`` read back, or None when it does not exist yet."""
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def save_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def replace_marked_block(doc: Path, start: str, end: str, body: str) -> bool:
    """Replace the text between the markers ``start`` and ``end`` in ``doc`` with ``body``.

    Nothing is written when the file or either marker is missing (a doc without the markers
    does not want the table).

    Args:
        doc: the Markdown file.
        start: the opening marker (kept).
        end: the closing marker (kept).
        body: the new text between them.

    Returns:
        True when the file was rewritten.
    """
    if not doc.exists():
        return False
    text = doc.read_text()
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + start + body + end + tail)
    return True


def auc(score, y) -> float | None:
    """Area under the ROC curve: the probability that a positive (``y == 1``) outscores a
    negative, ties counting half. None when a score is NaN or a class is missing."""
    import numpy as np

    score, y = np.asarray(score, dtype=float), np.asarray(y)
    if np.isnan(score).any() or not (y == 1).any() or not (y == 0).any():
        return None
    pos, neg = score[y == 1], score[y == 0]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
