"""The interface of an export format, and what every format's writing shares.

`tk export --format NAME` builds `EXPORT_FORMATS[NAME]` and asks it two things: to write the
run's model, traced on a sample of named inputs, to a file; and to run that file on other
inputs, so the export can be checked against the PyTorch model. A plugin adds a format by
registering a subclass in `tk_register_export_formats`; the built-in ones live in
`taskkit.plugins.exporters` and are registered the same way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from taskkit.errors import BadInputError, describe
from taskkit.storage.atomic import atomic_write


class ExportFormat:
    """A file format a trained run can be exported to.

    `suffix` names the file (`model<suffix>` by default). The model given to `write` returns
    one tensor, named `logits`; `sample` maps the model's input names, in call order, to the
    tensors to trace with; `axes` maps input and output names to the axes that must stay
    dynamic (`{"images": {0: "batch"}}`), or is None where every shape is fixed.
    """

    suffix: str = ""

    def write(self, model: Any, sample: dict[str, Any], target: Path, axes: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not say how to write a model")

    def run(self, target: Path, inputs: dict[str, Any]) -> Any:
        """The written file's `logits` for `inputs` (torch tensors), as a torch tensor or NumPy array."""
        raise NotImplementedError(f"{type(self).__name__} does not say how to run what it wrote")


def write_file(target: Path, what: str, write: Callable[[Path], None], instead: str) -> None:
    """Write atomically; a model the exporter cannot follow is bad input, told in one line that
    names the format to try `instead`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(target, write)
    except Exception as exc:  # an operator without a counterpart, control flow a trace cannot record
        raise BadInputError(f"this model cannot be exported to {what}: {describe(exc)}; "
                            f"try --format {instead}") from None


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Tracing warns about shapes it records as constants, as a fixed input size intends, and
    that it is deprecated in favour of torch.export; neither is for the user to act on."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


@contextlib.contextmanager
def quiet_native_warnings() -> Iterator[None]:
    """Silence what torch prints straight to the process's stdout and stderr while exporting:
    for packed sequences, that shape inference of its packing nodes is missing, which the check
    after the export shows to be harmless; for an operator it cannot export, a forty-line graph
    before the exception. Errors still arrive, as exceptions, and become one line."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in saved:
                os.dup2(devnull.fileno(), fd)
            yield
    finally:
        sys.stdout.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
