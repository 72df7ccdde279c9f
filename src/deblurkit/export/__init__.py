"""Export trained networks to ONNX and TorchScript files that run without deblurkit.

Example:
    >>> from deblurkit.export import export_onnx, load_model_spec     # doctest: +SKIP
    >>> export_onnx(load_model_spec("net.safetensors"), "net.onnx")   # doctest: +SKIP
"""

from deblurkit.export.common import (EXPORTABLE_KINDS, ONNX_NOT_EXPORTABLE,
                                     TORCHSCRIPT_NOT_EXPORTABLE, ExportWrapper, load_model_spec,
                                     not_exportable)
from deblurkit.export.onnx import export_onnx, read_onnx_metadata
from deblurkit.export.torchscript import (export_torchscript, load_torchscript,
                                          read_torchscript_metadata)

__all__ = ["EXPORTABLE_KINDS", "ONNX_NOT_EXPORTABLE", "TORCHSCRIPT_NOT_EXPORTABLE",
           "ExportWrapper", "export_onnx", "export_torchscript", "load_model_spec",
           "load_torchscript", "not_exportable", "read_onnx_metadata",
           "read_torchscript_metadata"]
