"""Files on disk: atomic writes, user files read safely, the run directory and its file names,
config.yaml, and checkpoints (weights as safetensors, resumable state loaded weights-only).
"""
