"""Train a model from a YAML recipe (configs/*.yaml; small CPU variants in configs/small/).

The run folder (train.out_dir) receives config.yaml (the fully resolved recipe),
checkpoints/step_NNNNNNNN/ (model.safetensors + state.pt, written atomically),
metrics.csv, tensorboard/, curves.png and summary.json.

Overrides use dotted keys and YAML values; unknown keys are errors:
  deblurkit train configs/small/s1_han.yaml --set train.steps=50 --set optim.lr=2e-4

Ctrl-C finishes the current step, writes a checkpoint and exits with status 130;
--resume continues from the newest readable checkpoint exactly where it stopped.

Several processes (DDP; gloo on CPU, NCCL on CUDA):
  torchrun --nproc_per_node=2 -m deblurkit train configs/s1_han.yaml

Example:
  deblurkit synth -o data/synth_small --train 200 --test 20 --size 96 --kinds kernel,average
  deblurkit train configs/small/s1_han.yaml
"""

from __future__ import annotations

import argparse
import sys

HELP = "train a model from a YAML recipe (supervised, adversarial, multi-task, classifier)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="YAML recipe")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a setting (repeatable), e.g. "
                        "train.steps=100 or data.train.args.root=/data/GOPRO_Large")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest readable checkpoint in train.out_dir")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config and exit")
    parser.add_argument("--no-tensorboard", action="store_true",
                        help="do not write TensorBoard event files")


def run(args: argparse.Namespace) -> int:
    from deblurkit.training import dump_config, load_config, train

    config = load_config(args.config, args.overrides)
    if args.print_config:
        sys.stdout.write(dump_config(config))
        return 0
    result = train(config, resume=args.resume, tensorboard=not args.no_tensorboard)
    if result.interrupted:
        print(f"deblurkit train: interrupted at step {result.step}; checkpoint "
              f"{result.checkpoint}; continue with --resume", file=sys.stderr)
        return 130
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items())
    print(f"trained {result.step} steps; run folder {result.run_dir}; checkpoint "
          f"{result.checkpoint}" + (f"; val {shown}" if shown else ""))
    return 0
