"""`tk TASK --devices N`: the same command in N processes, started by torchrun's own launcher.

torchrun is how PyTorch starts distributed training; `--devices N` spares the user its
options on one machine. It runs torchrun's launcher (a standalone rendezvous on a free local
port, as `torchrun --standalone` does) on the command line that was typed, so every process
parses the same options, and inside torchrun `--devices` starts nothing more. The launcher
waits for the processes and exits with their status; each already said why it failed.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any

from taskkit import drive

from taskkit.train import ranks
from taskkit.errors import BadInputError

_command_line: list[str] | None = None


def remember_command_line(argv: list[str]) -> None:
    """The arguments of this `tk` call, which the processes `--devices` starts are given."""
    global _command_line
    _command_line = list(argv)


def start_processes_if_asked(options: dict[str, Any]) -> None:
    """With `devices` above 1 outside torchrun, run this command in that many processes and
    exit with their status; otherwise return and let the command run here."""
    devices = options.get("devices", 1)
    if devices == 1 or ranks.distributed():
        return
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        raise BadInputError(f"--devices must be a positive whole number, got {devices!r}")
    if drive.current() is not None:
        raise BadInputError("--devices is for a task's own command: tk cv, tk tune and tk lr-find train in one process")
    if _command_line is None:
        raise BadInputError("--devices works from the tk command line; run this under torchrun instead")
    import typer

    raise typer.Exit(run_processes(devices, _command_line))


def run_processes(devices: int, argv: list[str]) -> int:
    """Run `python -m taskkit ARGV` in `devices` processes on this machine; returns their exit status."""
    import torch
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if torch.cuda.is_available():
        if devices > torch.cuda.device_count():
            raise BadInputError(f"--devices {devices} asks for more GPUs than this machine has "
                                f"({torch.cuda.device_count()})")
    else:  # the processes share the cores rather than each taking all of them
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=devices, run_id=f"tk-{uuid.uuid4().hex}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    for name in list(logging.root.manager.loggerDict):  # each process reports its own failure
        if name.startswith(("torch.distributed.elastic", "torch.distributed.launcher")):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-u", "-m", "taskkit", *argv)
    except ChildFailedError as exc:
        code = exc.get_first_failure()[1].exitcode
        return 128 - code if code < 0 else code or 1  # killed by a signal: 128 + its number, as a shell says
    except SignalException as exc:  # Ctrl-C or a kill reached the launcher, which stopped the processes
        return 128 + int(exc.sigval)
    return 0
