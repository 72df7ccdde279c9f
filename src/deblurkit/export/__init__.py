"""Export trained networks to ONNX and TorchScript files that run without deblurkit.

The network to export comes from :func:`deblurkit.models.files.load_network` (here also named
``load_model_spec``): a bundled name, a registered name or a ``.safetensors`` file. The files
written carry a :class:`~deblurkit.models.files.ModelFileInfo`, which
:func:`read_onnx_metadata`, :func:`read_torchscript_metadata` and :func:`load_torchscript`
(from :mod:`deblurkit.models.files`) read back.

Example:
    >>> from deblurkit.export import export_onnx, load_model_spec     # doctest: +SKIP
    >>> export_onnx(load_model_spec("net.safetensors"), "net.onnx")   # doctest: +SKIP
"""

from deblurkit.export.common import EXPORTABLE_KINDS, ExportWrapper
from deblurkit.export.onnx import export_onnx
from deblurkit.export.torchscript import export_torchscript
from deblurkit.models.files import load_network as load_model_spec
from deblurkit.models.files import (load_torchscript, read_onnx_metadata,
                                    read_torchscript_metadata)

__all__ = ["EXPORTABLE_KINDS", "ExportWrapper", "export_onnx", "export_torchscript",
           "load_model_spec", "load_torchscript", "read_onnx_metadata",
           "read_torchscript_metadata"]
