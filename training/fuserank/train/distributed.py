"""Distributed data-parallel training: `torchrun --nproc_per_node N -m fuserank.train ...`.

Without `WORLD_SIZE` in the environment (plain `python -m fuserank.train`) nothing here runs:
`init_distributed()` returns None, no process group is created and the trainer uses
`SingleProcess`, whose every method is the identity of the original code path.

Under torchrun (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT` set by it) every
process joins one process group: backend `gloo` on a machine without CUDA, `cpu:gloo,cuda:nccl`
where CUDA exists (CPU tensors go over gloo, CUDA tensors over NCCL; the trainer itself runs on
the CPU today, so its collectives use gloo either way).

**What each rank trains on (the same examples per step as one process).** Every rank builds the
single-process plan of batches: the users' windows sorted by length, cut into global batches of
`train.batch_size`, the batch order shuffled each epoch by the shared seed. A global batch is a
fixed list of windows (one window per user) and only the order of the batches changes between
epochs, so rank r takes, in every global batch, the windows at positions r, r + W, r + 2W, ...
(W = world size). That is a deterministic split of the users: each user belongs to one rank for
the whole run, the ranks' shards of a step are disjoint, and their union is exactly the batch the
single process trains at that step. Per-rank batch = global batch / W (windows at strided
positions of a length-sorted batch, so the ranks get similar lengths); when W does not divide the
batch, ranks differ by one window, which the loss normalisation below makes exact anyway. A last
batch with fewer windows than ranks is merged into the one before it (no rank ever steps on an
empty batch); this is the only place the plan may differ from one process's.

**The gradient is the single process's.** The loss of a batch is the mean over its loss rows
(`[RANK]` groups, and event rows with `event_loss`), and a rank's rows vary with its windows'
lengths. One all-reduce per step sums `[rows, loss * rows, rank 0's elapsed seconds]`; each
rank back-propagates `loss_r * rows_r * W / rows_total`, and DistributedDataParallel averages the
gradients over the W ranks, so the all-reduced gradient is that of the global mean loss over the
union of the shards. Gradient clipping and AdamW then see identical gradients on every rank, and
the parameters stay identical (DDP also broadcasts rank 0's initial parameters).

**Decisions agree on every rank.** The learning-rate schedule is step-based (every rank runs
the same number of steps) or follows wall-clock time (`schedule_minutes`): then every rank uses
rank 0's elapsed time from the step's all-reduce, for the learning rate and for stopping. Rank 0
alone runs the validation and broadcasts its NDCG@10, so early stopping, the best epoch and the
restored best state agree. After training the process group is closed; rank 0 alone evaluates
on the test split and writes the learning curve, `metrics.json`, the model card and the bundle;
the other ranks exit.

**When it is exact.** With dropout 0 and no per-sample random draws (`cut_fraction` 1, no item
text or `context_prob` 0, `random_window_prob` 0, `drop_type_prob`/`drop_time_prob` 0) the N-process
run trains exactly the single process's examples at every step, and differs only by float
rounding (other padding per sub-batch, gradients summed in another order): in float32
(`bf16_autocast` and `bf16_logits` false) tests/test_distributed.py checks 2 processes against 1
to 1e-4 (measured 3e-7 after 15 steps). Under bfloat16 (the default) every rank's partial weight
gradient, a sum over its rows only, is rounded to bfloat16 before the all-reduce adds them, where
one process rounds the whole batch's sum once: the runs then differ by bfloat16 rounding (about
1e-4 in loss after 15 steps for each of the two options, 4e-4 with both, on the test's tiny
model), the same training but not the same bits. The numpy stream that draws
those per-sample choices is consumed window by window in batch order, so a rank cannot replay the
single process's draws without the other ranks' windows: rank r draws from its own stream (seed
+ r; rank 0's is the single process's), and so does dropout (torch seed + r). Such runs are the
same training in distribution, not bit for bit.

**Data.** Every rank parses the interaction file (the catalogue, the item table, the vocabulary
and the validation cases must be identical on every rank, and parsing costs seconds) and knows
every user's window bounds (the plan needs every window's length), but builds samples, batches,
seen-item masks and repeat-head pairs, and runs forward and backward, only for its own users.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any, Callable, Sequence, TypeVar

import torch
from torch import Tensor, nn

T = TypeVar("T")

# How long a collective may wait: the other ranks wait in a broadcast while rank 0 validates.
TIMEOUT = timedelta(minutes=int(os.environ.get("FUSERANK_DIST_TIMEOUT_MIN", "120")))


def shard_batches(batches: Sequence[Sequence[T]], rank: int, world: int) -> list[list[T]]:
    """Rank `rank`'s part of every global batch: positions rank, rank + world, ... (the union over
    ranks is the batch). A last batch with fewer than `world` items is merged into the previous
    one. Raises when a batch cannot give every rank an item."""
    batches = [list(b) for b in batches]
    if world > 1 and len(batches) > 1 and len(batches[-1]) < world:
        batches[-2:] = [batches[-2] + batches[-1]]
    if any(len(b) < world for b in batches):
        raise ValueError(f"{sum(len(b) for b in batches)} training windows cannot feed {world} processes")
    return [b[rank::world] for b in batches]


class SingleProcess:
    """One process: the trainer's original behaviour (every hook is the identity)."""

    rank = 0
    world = 1
    is_main = True

    def shard(self, batches: list[list[T]]) -> list[list[T]]:
        return batches

    def forward(self, model: nn.Module) -> Callable[..., Any]:
        """`fwd(fn, *args)` = `fn(model, *args)`."""
        return lambda fn, *args: fn(model, *args)

    def global_loss(self, loss: Tensor, rows: int, t_start: float) -> tuple[Tensor, float]:
        """(the tensor to back-propagate, the step's loss for the log)."""
        return loss, loss.item()

    def elapsed(self, t_start: float) -> float:
        return time.time() - t_start

    def validator(self, validate: Callable[[nn.Module], float] | None) -> Callable[[nn.Module], float] | None:
        return validate

    def agree(self, flags: list[bool]) -> list[bool]:
        """Rank 0's flags on every rank (a choice each rank made alone, such as the probed precision)."""
        return flags


class _Apply(nn.Module):
    """The module DDP wraps: `forward(fn, *args)` runs `fn(model, *args)`, so the encoder's forward
    goes through DistributedDataParallel (which arms the gradient all-reduce for the backward)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(self.model, *args)


class Distributed:
    """A rank of a torchrun job (see the module docstring)."""

    def __init__(self, rank: int, world: int, local_rank: int, backend: str):
        self.rank, self.world, self.local_rank, self.backend = rank, world, local_rank, backend
        self.is_main = rank == 0
        self._elapsed = 0.0   # rank 0's elapsed seconds as of the last step's all-reduce
        self._ddp: nn.Module | None = None

    def shard(self, batches: list[list[T]]) -> list[list[T]]:
        return shard_batches(batches, self.rank, self.world)

    def forward(self, model: nn.Module) -> Callable[..., Any]:
        """Wrap `model` in DistributedDataParallel (once; this broadcasts rank 0's parameters) and
        return `fwd(fn, *args)` = `fn(model, *args)` through DDP's forward. Every parameter must get
        a gradient each step (the trainer's loss uses all of them), so no unused-parameter search."""
        from torch.nn.parallel import DistributedDataParallel as DDP
        self._ddp = DDP(_Apply(model), broadcast_buffers=False, find_unused_parameters=False)
        ddp = self._ddp
        return lambda fn, *args: ddp(fn, *args)

    def global_loss(self, loss: Tensor, rows: int, t_start: float) -> tuple[Tensor, float]:
        """One all-reduce of [rows, loss * rows, rank 0's elapsed]: returns this rank's share of
        the global mean loss, scaled for DDP's averaging (loss * rows * W / total rows), and the
        global mean loss of the step (the same on every rank)."""
        import torch.distributed as dist
        t = torch.tensor([float(rows), loss.item() * rows,
                          time.time() - t_start if self.is_main else 0.0], dtype=torch.float64)
        dist.all_reduce(t)
        total = t[0].item()
        self._elapsed = t[2].item()
        return loss * (rows * self.world / total), t[1].item() / total

    def elapsed(self, t_start: float) -> float:
        """Rank 0's elapsed time as of the last step (the same on every rank)."""
        return self._elapsed

    def validator(self, validate: Callable[[nn.Module], float] | None) -> Callable[[nn.Module], float] | None:
        """Rank 0 validates; every rank gets its value (a broadcast)."""
        if validate is None:
            return None
        import torch.distributed as dist

        def run(model: nn.Module) -> float:
            t = torch.tensor([validate(model) if self.is_main else 0.0], dtype=torch.float64)
            dist.broadcast(t, src=0)
            return t.item()
        return run

    def agree(self, flags: list[bool]) -> list[bool]:
        """Rank 0's flags on every rank (a broadcast)."""
        import torch.distributed as dist

        t = torch.tensor([float(f) for f in flags], dtype=torch.float64)
        dist.broadcast(t, src=0)
        return [bool(v) for v in t.tolist()]

    def card_section(self, batch_size: int) -> str:
        """The model card's note on how the run was distributed."""
        per = batch_size / self.world
        return (f"\n\n## Distributed training\n\n- {self.world} processes (torchrun, backend `{self.backend}`): "
                f"global batch {batch_size}, {per:g} windows per process (each process trains a fixed, "
                "disjoint shard of the users; gradients all-reduced with DistributedDataParallel); "
                "rank 0 validated and wrote this bundle (`fuserank/train/distributed.py`).\n")

    def close(self) -> None:
        """Leave the job: a barrier first (no rank tears its group down while another still has
        work in flight), then the process group."""
        import torch.distributed as dist
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def init_distributed() -> Distributed | None:
    """Join the torchrun job described by the environment; None (nothing initialised) when
    `WORLD_SIZE` is absent, i.e. a plain `python -m fuserank.train`."""
    if "WORLD_SIZE" not in os.environ:
        return None
    import torch.distributed as dist
    cuda = torch.cuda.is_available()
    backend = "cpu:gloo,cuda:nccl" if cuda else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, timeout=TIMEOUT)
    return Distributed(dist.get_rank(), dist.get_world_size(), local_rank, backend)
