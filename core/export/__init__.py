"""A trained run in a standard format (ONNX, TorchScript, or a plugin's), from what its task
declares it takes and gives; and the ONNX files answering through onnxruntime without torch.
"""
