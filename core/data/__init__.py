"""Image data for classification: named datasets, folders and manifests as normalised splits.

`load_image_data` gives train/val/test datasets with statistics from the train split;
`load_image_for_prediction` prepares one file the same way; `check_data` reports what a
dataset holds and which files are unreadable. See the modules for the pieces.
"""

from taskkit.data.check import check_data
from taskkit.data.images import load_image_for_prediction
from taskkit.data.splits import ImageData, load_image_data

__all__ = ["ImageData", "check_data", "load_image_data", "load_image_for_prediction"]
