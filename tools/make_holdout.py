"""Write the list of training scenes kept apart for tuning (configs/data/holdout.txt).

    .venv/bin/python tools/make_holdout.py ../shared/data -o configs/data/holdout.txt

The rule is fixed and content-blind, so anyone can check it: in every folder of photographs
under ``<root>/photos/train`` (natural file order), every ``--photo-every``-th file starting
with the ``--photo-first``-th; among the high-frame-rate files under ``<root>/highfps/train``
(natural order over all of them), every ``--clip-every``-th starting with the
``--clip-first``-th. Paths are written relative to ``<root>``, which is how
:class:`deblurkit.synth.corpus.HoldOut` matches them. The recipes that read the train split
leave these scenes out (``holdout: {list: configs/data/holdout.txt, use: rest}``) and
``make realhold`` renders the held-out tuning set from them alone (``use: listed``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def pick(items: list[Path], first: int, every: int) -> list[Path]:
    """Every ``every``-th item starting at index ``first``."""
    return items[first::every]


def main(argv: list[str] | None = None) -> int:
    from deblurkit.io import IMAGE_SUFFIXES
    from deblurkit.synth.sources import VIDEO_SUFFIXES
    from deblurkit.utils.atomic import write_text_atomic
    from deblurkit.utils.sorting import natural_key

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="the data root (holds photos/ and highfps/)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--photo-first", type=int, default=3)
    ap.add_argument("--photo-every", type=int, default=8)
    ap.add_argument("--clip-first", type=int, default=2)
    ap.add_argument("--clip-every", type=int, default=6)
    args = ap.parse_args(argv)
    images = {s.lower() for s in IMAGE_SUFFIXES}
    photo_root, clip_root = args.root / "photos" / "train", args.root / "highfps" / "train"
    if not photo_root.is_dir() or not clip_root.is_dir():
        print(f"{args.root}: expected photos/train and highfps/train under it", file=sys.stderr)
        return 1
    chosen: list[Path] = []
    for folder in sorted((p for p in photo_root.iterdir() if p.is_dir()),
                         key=lambda p: natural_key(p.name)):
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in images),
                       key=lambda p: natural_key(p.name))
        chosen += pick(files, args.photo_first, args.photo_every)
    clips = sorted((p for p in clip_root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES),
                   key=lambda p: natural_key(p.relative_to(clip_root).as_posix()))
    chosen += pick(clips, args.clip_first, args.clip_every)
    header = [f"# Training scenes kept apart for tuning: {len(chosen)} files of "
              f"{args.root.name}/{{photos,highfps}}/train.",
              "# Written by: tools/make_holdout.py <data root> -o configs/data/holdout.txt "
              f"--photo-first {args.photo_first} --photo-every {args.photo_every} "
              f"--clip-first {args.clip_first} --clip-every {args.clip_every}",
              "# Recipes leave them out (holdout: {list: ..., use: rest}); make realhold renders "
              "the tuning set from them alone."]
    lines = header + [p.relative_to(args.root).as_posix() for p in chosen]
    write_text_atomic(args.output, "\n".join(lines) + "\n", overwrite=True)
    n_clips = sum(1 for p in chosen if p.suffix.lower() in VIDEO_SUFFIXES)
    print(f"{args.output}: {len(chosen) - n_clips} photos, {n_clips} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
