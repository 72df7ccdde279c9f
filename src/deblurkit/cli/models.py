"""List the registered networks and the bundled trained weights.

The first table: every registered network (name, kind, paper, parameter count); a name alone
(``--model s2_msrn_cpu``) builds it with untrained weights. The second: the trained weights that
ship with the package (``deblurkit.pretrained.BUNDLED``), usable as ``--model NAME`` by every
command that restores; each with its network, task, file size and model card.

Examples:
  deblurkit models
  deblurkit models --kind generator
  deblurkit models 's1_*' --params
"""

from __future__ import annotations

import argparse
from fnmatch import fnmatchcase

HELP = "list the registered networks and the bundled trained weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="glob on model names (default: all)")
    parser.add_argument("--kind", choices=["generator", "discriminator", "classifier", "features"],
                        help="only models of this kind")
    parser.add_argument("--params", action="store_true",
                        help="build each model and show its parameter count (slower)")


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _bundled_rows(pattern: str, kind: str | None) -> list[tuple[str, ...]]:
    """One row per bundled weight file whose name matches: name, network, task, size, card."""
    from deblurkit.models.weights import read_metadata
    from deblurkit.pretrained import BUNDLED

    task_kind = {"deblur": "generator", "frame_selection": "classifier"}
    rows = []
    for name, card in BUNDLED.items():
        if not fnmatchcase(name, pattern) or (kind and task_kind.get(card.task) != kind):
            continue
        if card.path.is_file():
            network = read_metadata(card.path).get("deblurkit_name", "?")
            size = f"{card.path.stat().st_size / 1e6:.1f} MB"
        else:
            network, size = "?", "missing"
        rows.append((name, network, card.task, size, card.model_card))
    return rows


def run(args: argparse.Namespace) -> int:
    from deblurkit.models import create_model, get_entry, list_models

    names = list_models(args.pattern, kind=args.kind)
    bundled = _bundled_rows(args.pattern, args.kind)
    if not names and not bundled:
        print(f"no model matches {args.pattern!r}")
        return 1
    if names:
        rows = [("name", "kind", "params", "paper")]
        for name in names:
            entry = get_entry(name)
            params = ""
            if args.params:
                model = create_model(name)
                params = f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M"
            rows.append((name, entry.kind, params, entry.paper))
        _table(rows)
    if bundled:
        if names:
            print()
        print("trained weights bundled with deblurkit (--model NAME):")
        _table([("name", "network", "task", "size", "model card")] + bundled)
    return 0
