"""Working on an assembled model: freezing stages, loading pretrained weights, test-time
augmentation, and the per-layer summary (shapes, parameters, FLOPs, receptive fields).
"""
