"""What a run writes besides checkpoints: progress bar, metrics.csv, TensorBoard, curves.png.

``metrics.csv`` is in long form, one value per row (``step,epoch,split,metric,value``), so
that train losses, validation metrics and learning rates with different step grids share one
file that any plotting tool reads; on resume, rows after the resumed step are dropped (they
are about to be recomputed). Only the process of rank 0 creates a :class:`RunLogger`.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from deblurkit.utils.atomic import atomic_path
from deblurkit.utils.progress import progress_enabled

logger = logging.getLogger(__name__)

METRICS_CSV = "metrics.csv"
CURVES_PNG = "curves.png"
TENSORBOARD_DIR = "tensorboard"
CSV_FIELDS = ("step", "epoch", "split", "metric", "value")


def image_grid(blurred: torch.Tensor, restored: torch.Tensor, sharp: torch.Tensor,
               count: int) -> torch.Tensor:
    """``count`` rows of ``blurred | restored | sharp`` as one ``3 x H' x W'`` image.

    Shape:
        three ``(B, 3, H, W)`` tensors -> ``(3, min(B, count) * H, 3 * W)``, clamped to [0, 1].
    """
    rows = [torch.cat([b, r, s], dim=-1)
            for b, r, s in zip(blurred[:count], restored[:count], sharp[:count])]
    return torch.cat(rows, dim=-2).clamp(0, 1).float().cpu()


class RunLogger:
    """Bar, CSV, TensorBoard and the final plot of one run (rank 0 only).

    Args:
        run_dir: the run folder.
        total_steps: steps of the whole run.
        start_step: the first step of this session (after a resume).
        tensorboard: write TensorBoard event files.
    """

    def __init__(self, run_dir: Path, total_steps: int, start_step: int = 0,
                 tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.total = total_steps
        self.start_step = start_step
        self.csv_path = self.run_dir / METRICS_CSV
        self._truncate_csv(start_step)
        new = not self.csv_path.exists()
        self._csv_file = open(self.csv_path, "a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        if new:
            self._csv.writerow(CSV_FIELDS)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR),
                                             purge_step=start_step if start_step else None)
            except ImportError as exc:  # tensorboard not installed
                logger.warning("TensorBoard logging off (%s)", exc)
        enabled = progress_enabled()
        self._bar_on = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        if self._bar_on:
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step",
                             dynamic_ncols=True, file=sys.stderr)
        self._t0 = time.perf_counter()
        self._last_line = 0.0

    def _truncate_csv(self, step: int) -> None:
        if not self.csv_path.exists():
            return
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        if len(kept) != len(rows):
            with atomic_path(self.csv_path) as tmp, open(tmp, "w", newline="",
                                                         encoding="utf-8") as handle:
                csv.writer(handle).writerows(kept)

    def scalars(self, step: int, epoch: int, split: str, values: dict[str, float]) -> None:
        """Record ``values`` (name -> number) under ``split`` (``train``, ``val`` ...)."""
        for name, value in values.items():
            self._csv.writerow([step, epoch, split, name, f"{float(value):.8g}"])
            if self._writer is not None:
                self._writer.add_scalar(f"{split}/{name}", float(value), step)
        self._csv_file.flush()

    def image(self, step: int, tag: str, grid: torch.Tensor) -> None:
        if self._writer is not None:
            self._writer.add_image(tag, grid, step)

    def progress(self, step: int, loss: float) -> None:
        """Advance the bar to ``step`` (or print a line every few seconds without a bar)."""
        elapsed = time.perf_counter() - self._t0
        done = step - self.start_step
        rate = done / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            self._bar.refresh()
            return
        if time.perf_counter() - self._last_line >= 10.0 or step == self.total:
            eta = (self.total - step) / rate if rate > 0 else math.inf
            eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
            print(f"step {step}/{self.total} loss {loss:.4g} {rate:.2f} it/s ETA {eta_text}",
                  file=sys.stderr, flush=True)
            self._last_line = time.perf_counter()

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._writer is not None:
            self._writer.close()
        self._csv_file.close()


def read_metrics(path: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """``metrics.csv`` as ``{(split, metric): [(step, value), ...]}``."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            series[(row["split"], row["metric"])].append((int(row["step"]), float(row["value"])))
    return dict(series)


def _panels(series: dict[tuple[str, str], list[tuple[int, float]]]
            ) -> list[tuple[str, list[str]]]:
    """Panels of :func:`plot_curves`: the train split in one, and each validation metric with
    its ``<metric>_input`` baseline in its own (PSNR and SSIM do not share a scale)."""
    panels: dict[str, list[str]] = {}
    for split, name in sorted(series):
        title = split if split in ("train", "lr") else f"{split} {name.removesuffix('_input')}"
        panels.setdefault(title, []).append(name)
    return [(title, names) for title, names in panels.items()]


def plot_curves(run_dir: Path) -> Path | None:
    """Write ``curves.png``: the train losses (and lr) in one panel, each validation metric
    beside its value on the untouched input in its own panel."""
    csv_path = Path(run_dir) / METRICS_CSV
    if not csv_path.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_metrics(csv_path)
    panels = _panels(series)
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), squeeze=False)
    for axis, (title, names) in zip(axes[:, 0], panels):
        split = title.split(" ")[0]
        for name in names:
            points = series[(split, name)]
            steps, values = zip(*points)
            axis.plot(steps, values, label=name, marker="o" if len(points) < 20 else None)
        axis.set_title(title)
        axis.set_xlabel("step")
        if split in ("train", "lr") and all(v > 0 for name in names
                                            for _, v in series[(split, name)]):
            axis.set_yscale("log")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(run_dir) / CURVES_PNG
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return out


__all__ = ["RunLogger", "image_grid", "plot_curves", "read_metrics"]
