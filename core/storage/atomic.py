"""Atomic file writes: a file is either its old self or its complete new self, never half.

The new content goes to a temporary file beside the destination, is flushed to disk, then
renamed over the destination in one step. A crash or a full disk mid-write leaves the
previous file untouched and no temporary file behind. The file gets the permissions a plain
`open` would give it (0666 less the umask), not the owner-only ones of a temporary file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from taskkit.errors import WriteError, one_line


def _plain_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _plain_file_mode()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it onto `path`.

    A write the storage refuses (a full disk, a quota, a size limit) is a `WriteError`
    (exit 1) naming the file, whose previous version is kept.
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        _raise_if_refused(exc, path)
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _raise_if_refused(exc, path)
        raise


#: How writers that are not Python's own report a failed write: safetensors gives the OS
#: error's text, torch's zip writer a C++ stream error.
_FOREIGN_WRITE_FAILURES = ("os error", "iostream error", "write failed", "No space left")


def _raise_if_refused(exc: BaseException, path: Path) -> None:
    """Raise a `WriteError` if `exc` is the storage refusing the write, not a failure of what was written."""
    reason = next((_why(e) for e in _chain(exc) if _why(e) is not None), None)
    if reason is None:
        return
    with contextlib.suppress(OSError):
        if shutil.disk_usage(path.parent).free < 2**20:
            reason = "no space left on the device"
    kept = "its previous version is kept" if path.exists() else "nothing was written"
    raise WriteError(f"could not write {path} ({reason}); {kept}") from None


def _why(exc: BaseException) -> str | None:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, Exception) and any(marker in str(exc) for marker in _FOREIGN_WRITE_FAILURES):
        return one_line(exc, 120)
    return None


def _chain(exc: BaseException | None):
    """`exc` and the exceptions it was raised from or while handling (torch's writer raises a
    second error while closing the file, over the stream error that says what happened)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
