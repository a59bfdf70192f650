"""Semantic segmentation: image/mask data, pixel metrics and a generated shapes dataset."""
