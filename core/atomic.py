"""Atomic file writes: a file is either its old self or its complete new self, never half.

The new content goes to a temporary file beside the destination, is flushed to disk, then
renamed over the destination in one step. A crash or a full disk mid-write leaves the
previous file untouched and no temporary file behind. The file gets the permissions a plain
`open` would give it (0666 less the umask), not the owner-only ones of a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _plain_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _plain_file_mode()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it onto `path`."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
