"""Shared test set-up: quiet progress bars, one torch thread per xdist worker."""

from __future__ import annotations

import os

os.environ.setdefault("DEBLURKIT_PROGRESS", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
