"""Image data for classification: named datasets, folders and manifests as normalised splits.

`load_image_data` gives train/val/test datasets with statistics from the train split;
`load_image_for_prediction` prepares one file the same way; `check_data` reports what a
dataset holds and which files are unreadable. They are loaded on first use, because the
package also holds the data options every task's command declares, and `tk --help` must not
pay for torch to read them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"check_data": "taskkit.data.check", "load_image_for_prediction": "taskkit.data.images",
          "ImageData": "taskkit.data.splits", "load_image_data": "taskkit.data.splits"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'taskkit.data' has no attribute '{name}'")
    return getattr(import_module(_WHERE[name]), name)
