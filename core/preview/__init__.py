"""Pictures to look at before training: a grid of augmented samples of image data or of a
segmentation folder (`tk aug preview`). It stands above both data packages, which it reads.
"""
