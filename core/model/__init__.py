"""Working on an assembled model: freezing stages, loading pretrained weights, test-time
augmentation, and the per-layer summary (shapes, parameters, FLOPs, receptive fields).
"""

#: The vocabulary size at which a sequence encoder's model card (`tk info`, `tk summary`) counts
#: its embedding's parameters. Here, below torch, so the CLI can name it without importing torch.
CARD_VOCABULARY = 10_000
