"""Restore blurred images: files, folders (searched recursively) and glob patterns.

Each output goes to OUTDIR under the input's path relative to the folder (or the glob's
fixed prefix) it was found in -- a file given directly goes to OUTDIR/its name -- with the
same format, bit depth and alpha (alpha is carried through unchanged). Outputs are written
atomically; existing outputs are kept unless --overwrite. An output never replaces an
input: OUTDIR may not be an input folder (unless --overwrite with a --suffix), and an output
path equal to an input path is refused even with --overwrite.

Large images: --tile auto (default) restores in overlapping tiles sized from the memory
available; --tile 0 runs whole images. Unreadable or failing inputs are reported at the end
and make the exit status 1; the others are still written.

Sharded runs: under torchrun (RANK / WORLD_SIZE set), rank r restores inputs r, r+W, r+2W...
and prints its own summary (prefixed "rank r/W"); no process group is created.
Example: python -m torch.distributed.run --nproc_per_node=2 -m deblurkit restore in -o out
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import time
from pathlib import Path

from deblurkit.cli._common import add_model_arguments, make_restorer, positive_int
from deblurkit.errors import UserError

HELP = "restore blurred images (files, folders, globs) into an output folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (recursive) or glob patterns (quote them)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="output folder (created if needed)")
    add_model_arguments(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (inputs are never replaced)")
    parser.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                        help="refuse pictures with more pixels than this (decompression-bomb "
                        "guard; default the reader's limit, docs/io.md)")
    parser.add_argument("--suffix", default="", metavar="TEXT",
                        help="appended to each output file's stem, e.g. _sharp (default none)")


def _glob_root(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def plan_outputs(inputs: list[str], outdir: Path, suffix: str,
                 overwrite: bool) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs keeping relative paths under ``outdir``.

    Raises:
        UserError: no inputs, OUTDIR is an input folder (without ``--overwrite``), an output
            path equal to an input path, or two inputs mapping to one output.
    """
    from deblurkit.io import list_images

    pairs: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            root = path
            if not overwrite and outdir.resolve() == path.resolve():
                raise UserError(f"{outdir}: output folder is the input folder; choose another "
                                "-o (or pass --overwrite with a --suffix)")
        elif path.is_file():
            root = path.parent
        else:
            root = _glob_root(item)
        for file in list_images([item]):
            key = file.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                relative = file.resolve().relative_to(root.resolve())
            except ValueError:
                relative = Path(file.name)
            out = outdir / relative.with_name(relative.stem + suffix + relative.suffix)
            pairs.append((file, out))
    inputs_resolved = {src.resolve(): src for src, _ in pairs}
    targets: dict[Path, Path] = {}
    for src, out in pairs:
        key = out.resolve()
        if key in inputs_resolved:
            raise UserError(f"{out}: output would replace the input {inputs_resolved[key]}; "
                            "choose another -o or a --suffix")
        if key in targets:
            raise UserError(f"{out}: both {targets[key]} and {src} would be written here")
        targets[key] = src
    return pairs


@contextlib.contextmanager
def _tile_bar(restorer, src: Path):
    """A progress bar over the tiles of one picture (shown once a picture needs tiles)."""
    from deblurkit.utils.progress import progress_enabled

    enabled = progress_enabled()
    if enabled is False or not hasattr(restorer, "on_tile"):
        yield
        return
    from tqdm import tqdm

    bar = None

    def on_tile(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=f"{src.name} tiles", unit="tile", leave=False,
                       dynamic_ncols=True, disable=None if enabled is None else not enabled)
        bar.total = total
        bar.update(done - bar.n)

    restorer.on_tile = on_tile
    try:
        yield
    finally:
        restorer.on_tile = None
        if bar is not None:
            bar.close()


def restore_file(restorer, src: Path, dst: Path, *, overwrite: bool,
                 max_pixels: int | None = None) -> None:
    """Read ``src``, restore its colour channels, write ``dst`` like the input (atomic).

    ``max_pixels``: the decompression-bomb limit of :func:`deblurkit.io.read_image` (None: its
    default)."""
    from deblurkit.errors import OutputExistsError
    from deblurkit.io import read_image, write_image

    if dst.exists() and not overwrite:
        raise OutputExistsError(dst)
    image = read_image(src) if max_pixels is None else read_image(src, max_pixels=max_pixels)
    with _tile_bar(restorer, src):
        # in the stored dtype: the restorer never makes a float copy of the picture
        restored = restorer(image.pixels)
    write_image(dst, restored, alpha=image.alpha, info=image.info, overwrite=overwrite)


def run(args: argparse.Namespace) -> int:
    import torch

    from deblurkit.inference.shard import rank_and_world, shard
    from deblurkit.io import BatchReport
    from deblurkit.utils.progress import progress

    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"{outdir}: exists and is not a folder")
    pairs = plan_outputs(args.inputs, outdir, args.suffix, args.overwrite)
    rank, world = rank_and_world()
    mine = shard(pairs, rank, world)
    prefix = f"deblurkit restore: rank {rank}/{world}:" if world > 1 else "deblurkit restore:"
    if world > 1 and args.device == "auto" and torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        args.device = f"cuda:{local_rank % torch.cuda.device_count()}"  # one GPU per rank
    restorer = make_restorer(args)  # loads the model once, before the first file
    report = BatchReport()
    catch = (UserError, OSError, MemoryError, torch.OutOfMemoryError)
    start = time.perf_counter()
    for src, dst in progress(mine, total=len(mine), desc="restore", unit="img"):
        with report.item(src, catch=catch):
            restore_file(restorer, src, dst, overwrite=args.overwrite,
                         max_pixels=args.max_pixels)
    seconds = time.perf_counter() - start
    where = f"; outputs in {outdir}" if report.succeeded else ""
    print(f"{prefix} {report.summary(f'{seconds:.1f} s{where}')}", file=sys.stderr)
    sys.stderr.flush()
    return report.exit_code

