"""Which of several training processes this one is, read from what torchrun sets (no torch here).

torchrun, and `tk TASK --devices N` which starts it, gives each process RANK, WORLD_SIZE and
LOCAL_RANK; a plain `tk` process has none of them and is rank 0 of 1. The CLI reads these
before torch is imported, to let only rank 0 print errors.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Whether this process writes the run directory and prints: rank 0, or the only one."""
    return rank() == 0


def distributed() -> bool:
    return world_size() > 1
