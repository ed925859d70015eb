"""Distributed data-parallel training on CPU with the standard launcher.

``torchrun --nproc_per_node=2 -m genrelens train ...`` starts one process per rank with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`setup` joins the ``gloo`` process group from them (a single process without those
variables gets a one-rank context and no process group). Every rank holds the same features
and the same seeded generator, so all ranks draw the same permutation of the training set and
keep every ``world_size``-th item of it (what ``torch.utils.data.DistributedSampler`` does),
padded so that every rank runs the same number of batches. Only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
import torch.distributed as dist

from genrelens.errors import ParameterError

__all__ = ["DistContext", "setup", "teardown", "shard", "all_reduce_sum", "default_threads"]


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly one-process) data-parallel job.

    Attributes
    ----------
    rank, world_size : int
    active : bool
        Whether a process group is in use (``world_size > 1``).
    """

    rank: int = 0
    world_size: int = 1
    active: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and shows progress."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for all ranks (no-op for one process)."""
        if self.active:
            dist.barrier()


def setup() -> DistContext:
    """Join the process group described by torchrun's environment variables, if any.

    Returns
    -------
    DistContext
        ``DistContext()`` when ``WORLD_SIZE`` is unset or 1.

    Raises
    ------
    ParameterError
        If ``WORLD_SIZE``/``RANK`` are not integers.
    """
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        raise ParameterError(
            f"WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}, RANK={os.environ.get('RANK')!r}: "
            "expected integers (as set by torchrun)."
        ) from None
    if world_size <= 1:
        return DistContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return DistContext(rank=rank, world_size=world_size, active=True)


def teardown(context: DistContext) -> None:
    """Leave the process group joined by :func:`setup`."""
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def shard(order: np.ndarray, *, context: DistContext) -> np.ndarray:
    """This rank's share of ``order``: every ``world_size``-th item, padded by wrapping around.

    Parameters
    ----------
    order : numpy.ndarray, shape (n,)
        The epoch's permutation of item indices (identical on all ranks).
    context : DistContext

    Returns
    -------
    numpy.ndarray, shape (ceil(n / world_size),)
    """
    if context.world_size == 1:
        return order
    total = -(-len(order) // context.world_size) * context.world_size
    padded = np.resize(order, total)  # repeats the start of the permutation, as DistributedSampler
    return padded[context.rank :: context.world_size]


def all_reduce_sum(values: list[float], *, context: DistContext) -> list[float]:
    """Sum a list of numbers over all ranks (identity for one process)."""
    if not context.active:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def default_threads(*, context: DistContext) -> int:
    """Intra-op threads per process: the usable CPUs divided among the ranks (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // context.world_size)
