"""S4's run-time report of a video run: ``T_run = t_d * N_b + t_c * N_a`` (S4, eq. 14).

:func:`runtime_totals` turns the per-frame records of a run (was the frame classified,
deblurred, how long each took) into the ``totals`` of the JSON report that
``deblurkit video --report`` writes (see ``docs/video.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["runtime_totals"]


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def runtime_totals(frames: Sequence[dict[str, Any]], wall_seconds: float) -> dict[str, Any]:
    """S4's run-time model from the per-frame records of a report.

    ``T_run = t_d * N_b + t_c * N_a`` (S4, eq. 14) with ``N_a`` all frames, ``N_b`` deblurred
    frames, ``t_d`` the mean deblur time per deblurred frame and ``t_c`` the mean classify
    (score) time per *classified* frame. In ``middle15`` mode only ``N_c`` frames are
    classified, so ``T_run`` (the paper's formula, which charges ``t_c`` to every frame) is an
    upper bound and ``T_run_classified = t_d * N_b + t_c * N_c`` the model of what actually ran.
    ``speedup_vs_all = t_d * N_a / wall_seconds``: the estimated time to deblur every frame
    over the measured wall time of this run (``speedup_model`` uses ``T_run`` instead).
    Unknown quantities (``t_d`` when nothing was deblurred) are ``None``; they count as 0 in
    ``T_run``.

    Args:
        frames: dicts with ``classified`` (bool), ``deblurred`` (bool), ``classify_seconds``
            and ``deblur_seconds``.
        wall_seconds: measured wall time of the whole run.

    Returns:
        The ``totals`` dict.

    Example:
        >>> fr = [{"classified": True, "deblurred": d, "classify_seconds": 0.1,
        ...        "deblur_seconds": 1.0 if d else 0.0} for d in (True, False, False, True)]
        >>> t = runtime_totals(fr, wall_seconds=2.5)
        >>> t["N_a"], t["N_b"], t["T_run"], t["speedup_vs_all"]
        (4, 2, 2.4, 1.6)
    """
    n_a = len(frames)
    classified = [f["classify_seconds"] for f in frames if f["classified"]]
    deblurred = [f["deblur_seconds"] for f in frames if f["deblurred"]]
    n_b, n_c = len(deblurred), len(classified)
    t_c = _mean(classified) if classified else 0.0
    t_d = _mean(deblurred)
    t_run = (t_d or 0.0) * n_b + t_c * n_a
    est_all = t_d * n_a if t_d is not None else None
    return {
        "N_a": n_a,
        "N_b": n_b,
        "N_c": n_c,
        "t_c": t_c,
        "t_d": t_d,
        "wall_seconds": wall_seconds,
        "T_run": t_run,
        "T_run_classified": (t_d or 0.0) * n_b + t_c * n_c,
        "estimated_all_seconds": est_all,
        "speedup_vs_all": (est_all / wall_seconds) if est_all is not None and wall_seconds > 0
        else None,
        "speedup_model": (est_all / t_run) if est_all is not None and t_run > 0 else None,
        "speedup_basis": "speedup_vs_all = t_d * N_a / wall_seconds; "
                         "speedup_model = t_d * N_a / T_run",
    }
