"""Resumable training: the loop's whole state saved at every epoch's end, so that a run stopped
at any point (a lent machine handed back, a session cut off, `--pause-after-epochs`) goes on
from its last finished epoch with `--resume` and ends exactly where an uninterrupted run would.

The state is everything the next epoch reads: the weights, the optimiser's moments, the step and
epoch, the history and the best validation state so far, the moving average of the weights, the
patience counter, the three random generators (torch, numpy, Python) and the training seconds
used. A run on the epoch-based schedule therefore resumes bit for bit; a wall-clock schedule
(`schedule_minutes`) resumes with the seconds it had used, so the time between the two
processes is not counted.

A file belongs to one run: its settings, model shape and training data (a fingerprint). Resuming
it with anything else is refused, naming what differs. A run in two phases (`TrainConfig.refit`)
keeps one file per phase; a finished phase's file holds its final weights and history, so that
a resumed run skips it. The CLI removes the files once the bundle is written.

The file is written to a temporary name and renamed, so a process killed while writing leaves
the previous epoch's file whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# the exit status of a run that stopped to be resumed (`--pause-after-epochs`): sysexits' EX_TEMPFAIL
PAUSED = 75

# settings that may change between the processes of one run: they do not change what is computed
# (threads change only the speed)
_FREE = {"threads"}


class CheckpointError(ValueError):
    """A training state that cannot be resumed (another run's, or unreadable)."""


@dataclass
class Checkpoint:
    """Where one phase of a run keeps its state, and what that run is.

    - path: the state file (`<out>/train-state.pt`, or `train-state-refit.pt` for the refit).
    - fingerprint: what the run is (settings, model shape, data size); see `fingerprint`.
    - resume: continue the state in `path` (False: a state found there is refused, so that a
      new run never overwrites an unfinished one unasked).
    - pause_after_epochs: stop after this many epochs of this process (0: never).
    """

    path: Path
    fingerprint: dict
    resume: bool = False
    pause_after_epochs: int = 0

    def load(self) -> dict | None:
        """The saved state to continue, or None for a fresh start.

        - Throws: CheckpointError for a state found without `resume`, an unreadable file, or
          another run's state (naming the first setting that differs)."""
        if not self.path.is_file():
            return None
        if not self.resume:
            raise CheckpointError(f"{self.path} holds an unfinished run (epoch {self._peek_epoch()}): "
                                  "pass --resume to go on with it, or remove the file to start afresh")
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 -- any unreadable file gets the same one line
            raise CheckpointError(f"{self.path}: not a readable training state ({exc})") from None
        saved = state.get("fingerprint", {})
        for key in sorted(set(saved) | set(self.fingerprint)):
            if saved.get(key) != self.fingerprint.get(key):
                raise CheckpointError(f"{self.path} was written by another run: {key} was "
                                      f"{saved.get(key)!r}, this run has {self.fingerprint.get(key)!r}")
        return state

    def _peek_epoch(self) -> str:
        try:
            return str(torch.load(self.path, map_location="cpu", weights_only=False)["epoch"])
        except Exception:  # noqa: BLE001
            return "unknown"

    def save(self, state: dict) -> None:
        """Write `state` (with the fingerprint) atomically."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save({**state, "fingerprint": self.fingerprint}, tmp)
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def fingerprint(tc, cfg, seqs) -> dict:
    """What makes two processes one run: every training setting but `threads`, the model's
    shape and the training data's size (sequences and events)."""
    out: dict = {f"train.{k}": v for k, v in asdict(tc).items() if k not in _FREE}
    out.update({f"model.{k}": v for k, v in asdict(cfg).items()})
    out.update({"data.sequences": len(seqs), "data.events": int(sum(len(s.rows) for s in seqs)),
                "data.item_rows_sum": int(sum(int(s.rows.sum()) for s in seqs))})
    return out
