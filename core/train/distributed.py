"""Training in several processes on PyTorch's own engine: process group, DDP, data shards, reductions.

torchrun starts the processes (`taskkit.train.launch` starts it for `--devices N`). Each joins the
process group (gloo for CPU tensors, nccl for CUDA ones), trains a DistributedDataParallel
replica on its share of every epoch's batch order, and adds up what the metrics need, so
that all of them end each epoch with the same numbers and so take the same decisions: the
best epoch, early stopping, a stop on NaN. Only rank 0 writes the run directory; what it
decides there (the run's name) reaches the others by broadcast. In one process, every
function here does nothing or calls straight through.
"""

from __future__ import annotations

import atexit
import contextlib
from typing import Any, Callable, Iterator, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from taskkit.train import ranks
from taskkit.errors import TaskkitError, TrainingError, describe

T = TypeVar("T")


def start() -> None:
    """Join the process group, once; nothing in a single process."""
    if not ranks.distributed() or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank())
        dist.init_process_group("cpu:gloo,cuda:nccl")
    else:
        dist.init_process_group("gloo")
    atexit.register(_finish)


def _finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def from_main(produce: Callable[[], T]) -> T:
    """What `produce()` returns on rank 0, on every rank (an error it raises, raised on every rank).

    Only rank 0 runs it, so only rank 0 touches the disk (claiming the run directory)."""
    if not ranks.distributed():
        return produce()
    start()
    box: list[Any] = [None]
    failure: BaseException | None = None
    if ranks.is_main():
        try:
            box = [("value", produce())]
        except TaskkitError as exc:
            box = [("error", exc)]
        except Exception as exc:
            failure, box = exc, [("error", TrainingError(f"rank 0 failed: {describe(exc)}"))]
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if failure is not None:
        raise failure
    if kind == "error":
        raise value
    return value


def reduce_sum(tensor: Tensor) -> Tensor:
    """`tensor` summed over every process (a new tensor; the argument is left as it was)."""
    total = tensor.clone()
    dist.all_reduce(total)
    return total


def broadcast_module(module: nn.Module) -> None:
    """Every parameter and buffer of `module` as rank 0 has it (after it loaded the best weights)."""
    if not ranks.distributed():
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def combining(evaluate: Callable[..., Any]) -> Callable[..., Any]:
    """An evaluator that scores this process's shard, then joins all shards' results into one.

    The result type's `combine(parts)` joins them (the engine's `Evaluation` concatenates
    logits in shard order; segmentation adds up confusion matrices); a task's own result
    type without one cannot be evaluated across processes, which is said in one line.
    """
    def run(model: nn.Module, loader: Any, loss_fn: Callable, options: Any) -> Any:
        part = evaluate(model, loader, loss_fn, options)
        combine = getattr(type(part), "combine", None)
        if combine is None:
            raise TrainingError(f"{type(part).__name__} has no combine(parts), so it cannot be evaluated across "
                                "processes; train with one process")
        parts: list[Any] = [None] * ranks.world_size()
        dist.all_gather_object(parts, part)
        return combine(parts)

    return run


class Shard(Sampler):
    """This process's share of what `source` yields: indices, or batches of them.

    Every process reseeds the loader's generator alike at each epoch, so `source` yields the
    same order in all of them. Training (`pad`) takes every world-th item of it, the order
    first padded by repeating its start so that every process has as many steps (DDP waits
    for all at each one). Evaluation takes consecutive blocks without padding, so every
    input is scored exactly once and the shards join back in their order.
    """

    def __init__(self, source: Any, pad: bool) -> None:
        self.source, self.pad = source, pad
        self.rank, self.world = ranks.rank(), ranks.world_size()

    def _bounds(self, n: int) -> tuple[int, int]:
        return self.rank * n // self.world, (self.rank + 1) * n // self.world

    def __len__(self) -> int:
        n = len(self.source)
        if self.pad:
            return -(-n // self.world)
        start, stop = self._bounds(n)
        return stop - start

    def __iter__(self) -> Iterator[Any]:
        items = list(self.source)
        if not self.pad:
            start, stop = self._bounds(len(items))
            return iter(items[start:stop])
        missing = -(-len(items) // self.world) * self.world - len(items)
        while missing > 0 and items:
            extra = items[:missing]
            items, missing = items + extra, missing - len(extra)
        return iter(items[self.rank::self.world])


def shard_loader(loader: DataLoader, train: bool) -> DataLoader:
    """`loader` drawing only this process's share (see `Shard`), batched and loaded as it was."""
    common = {"num_workers": loader.num_workers, "collate_fn": loader.collate_fn, "pin_memory": loader.pin_memory,
              "worker_init_fn": loader.worker_init_fn, "generator": loader.generator,
              "persistent_workers": loader.persistent_workers, "timeout": loader.timeout}
    if loader.num_workers:
        common["prefetch_factor"] = loader.prefetch_factor
    if loader.batch_size is None:  # a batch sampler of its own (texts batched by length)
        return DataLoader(loader.dataset, batch_sampler=Shard(loader.batch_sampler, pad=train), **common)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=Shard(loader.sampler, pad=train),
                      drop_last=loader.drop_last, **common)


class Replicated(nn.Module):
    """The model as a DistributedDataParallel replica, built again whenever what trains changes.

    DDP averages the gradients of the parameters that required them when it was built: a
    stage unfrozen later (`--unfreeze-at`) would otherwise train apart in each process.
    Evaluation and anything without gradients call the model directly.
    """

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.model = model
        self.device_ids = [device.index] if device.type == "cuda" else None
        self.trainable: tuple[bool, ...] | None = None
        object.__setattr__(self, "replica", None)  # not a submodule: its parameters are the model's

    def _replica(self) -> nn.Module:
        trainable = tuple(p.requires_grad for p in self.model.parameters())
        if trainable != self.trainable:
            from torch.nn.parallel import DistributedDataParallel

            object.__setattr__(self, "replica", None)  # its gradient hooks go with it
            object.__setattr__(self, "replica", DistributedDataParallel(self.model, device_ids=self.device_ids))
            self.trainable = trainable
        return self.replica

    def forward(self, *inputs: Any) -> Any:
        if not (self.training and torch.is_grad_enabled()):
            return self.model(*inputs)
        return self._replica()(*inputs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Gradients of this batch stay local: the next batch, which steps, averages them all."""
        with self._replica().no_sync():
            yield
