"""The built-in export formats: ONNX (checked with onnxruntime) and traced TorchScript.

Registered through `tk_register_export_formats` like a plugin's format; the hook imports the
format modules, and through them torch, only when the formats are first asked for.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_export_formats(formats):
    from taskkit.plugins.exporters.onnx import Onnx
    from taskkit.plugins.exporters.torchscript import TorchScript

    formats.register("onnx")(Onnx)
    formats.register("torchscript")(TorchScript)
