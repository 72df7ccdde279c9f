"""Export a network to ONNX or TorchScript with dynamic batch, height and width.

MODEL is `default` / `default_selector` (the bundled weights), a registered generator /
classifier name (untrained weights: a warning says so) or a .safetensors file saved by
deblurkit (read by deblurkit.models.files, as every --model is; an exported .onnx / .pt file
cannot be exported again). The file takes NCHW float32 RGB in [0, 1] of any size
and returns the restored image in [0, 1] (the classifier: P(blurred) per image); the model's
padding and value range are inside the graph, and its name, arguments and pad multiple are
stored as metadata. Each export is checked against PyTorch on a second input size.

Examples:
  deblurkit export default -o default.onnx
  deblurkit export net.safetensors -o net.onnx
  deblurkit export s4_frame_selector --format torchscript -o selector.pt
  deblurkit export net.safetensors -o net.onnx --opset 18 --height 129 --width 193 --overwrite
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deblurkit.cli._common import add_arch_arguments, positive_int
from deblurkit.errors import UserError

HELP = "export a network to ONNX or TorchScript (dynamic batch, height and width)"

#: The formats written (the model file sources of :mod:`deblurkit.models.files`).
FORMATS = ("onnx", "torchscript")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="default, default_selector, a registered model name, a "
                             ".safetensors weight file, or with --arch a state dict (.pth, "
                             ".pt saved with torch.save, .bin, .ckpt)")
    add_arch_arguments(parser)
    parser.add_argument("--format", choices=FORMATS,
                        help="output format (default: from the -o suffix: .onnx -> onnx, "
                             ".pt/.ts -> torchscript)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE",
                        help="file to write")
    parser.add_argument("--opset", type=positive_int, default=None,
                        help="ONNX opset version (default 17)")
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                        help="ONNX exporter: the TorchScript-based tracer (default) or "
                             "torch.export/dynamo (needs the onnxscript package)")
    parser.add_argument("--height", type=positive_int, default=None,
                        help="height of the traced example input (default: 1 + a multiple "
                             "of the model's pad multiple, >= 64)")
    parser.add_argument("--width", type=positive_int, default=None,
                        help="width of the traced example input")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the comparison with PyTorch on a second input size")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")


def run(args: argparse.Namespace) -> int:
    from deblurkit.models.files import MODEL_FILE_SUFFIXES, load_network

    fmt = args.format or MODEL_FILE_SUFFIXES.get(args.output.suffix.lower())
    if fmt not in FORMATS:
        raise UserError(f"{args.output}: cannot tell the format from the suffix; pass "
                        "--format onnx or --format torchscript")
    if (args.height is None) != (args.width is None):
        raise UserError("give both --height and --width (the example input size), or neither")
    if args.opset is not None and fmt != "onnx":
        raise UserError("--opset applies to --format onnx only")
    if not args.overwrite and args.output.exists():
        from deblurkit.errors import OutputExistsError

        raise OutputExistsError(args.output)

    from deblurkit.export import export_onnx, export_torchscript

    from deblurkit.models.files import parse_model_spec

    spec = parse_model_spec(args.model, arch=args.arch, arch_kwargs=args.arch_kwargs)
    model = load_network(spec)  # a registered name: the one untrained-weights warning
    example = (args.height, args.width) if args.height is not None else None
    if fmt == "onnx":
        from deblurkit.export.onnx import DEFAULT_OPSET

        path = export_onnx(model, args.output, opset=args.opset or DEFAULT_OPSET,
                           example_size=example, overwrite=args.overwrite, verify=args.verify,
                           exporter=args.exporter)
    else:
        path = export_torchscript(model, args.output, example_size=example,
                                  overwrite=args.overwrite, verify=args.verify)
    size_mb = path.stat().st_size / 1e6
    checked = "verified against PyTorch" if args.verify else "not verified"
    print(f"wrote {path} ({fmt}, {size_mb:.1f} MB, {checked})")
    return 0
