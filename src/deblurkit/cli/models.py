"""List the registered networks: name, kind, paper, parameter count.

Examples:
  deblurkit models
  deblurkit models --kind generator
  deblurkit models 's1_*' --params
"""

from __future__ import annotations

import argparse

HELP = "list the registered networks (generators, discriminators, classifier, features)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="glob on model names (default: all)")
    parser.add_argument("--kind", choices=["generator", "discriminator", "classifier", "features"],
                        help="only models of this kind")
    parser.add_argument("--params", action="store_true",
                        help="build each model and show its parameter count (slower)")


def run(args: argparse.Namespace) -> int:
    from deblurkit.models import create_model, get_entry, list_models

    names = list_models(args.pattern, kind=args.kind)
    if not names:
        print(f"no model matches {args.pattern!r}")
        return 1
    rows = [("name", "kind", "params", "paper")]
    for name in names:
        entry = get_entry(name)
        params = ""
        if args.params:
            model = create_model(name)
            params = f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M"
        rows.append((name, entry.kind, params, entry.paper))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
