"""A wall-clock budget for a training run: the epoch count shrinks (never grows) so the run ends in time.

The same recipe runs at different speeds on different machines (the make skill's 36 epochs took 25.5 min
on one day's 2 shared cores and 32.6 min on another's). After every epoch the run measures its mean epoch
time; when the planned epochs would overrun the budget, the count is cut to the epochs that fit and the
learning-rate schedule is re-fitted to the new count, so the cosine decay still ends at lr0 x lrf.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict


class BudgetCut(BaseModel):
    """Where a budget cut the run: after which epoch, from how many planned epochs to how many."""

    model_config = ConfigDict(frozen=True)

    after_epoch: int
    planned: int
    epochs: int
    budget_s: float
    elapsed_s: float
    mean_epoch_s: float


def epochs_within_budget(
    planned: int, epoch_seconds: Sequence[float], elapsed_s: float, budget_s: float
) -> int:
    """The epochs the run can have in all: those done, plus as many more at the mean epoch time so far as
    fit in what is left of the budget; never more than planned, never fewer than done."""
    done = len(epoch_seconds)
    if done == 0:
        raise ValueError("the epoch budget is estimated after at least one epoch")
    if budget_s <= 0:
        raise ValueError(f"a time budget must be positive, got {budget_s} s")
    mean = sum(epoch_seconds) / done
    more = math.floor(max(0.0, budget_s - elapsed_s) / mean) if mean > 0 else planned
    return max(done, min(planned, done + more))


def apply_epoch_budget(
    trainer: Any, epoch_seconds: Sequence[float], elapsed_s: float, budget_s: float
) -> BudgetCut | None:
    """Cut an Ultralytics trainer's epochs to what fits in the budget (called at the end of an epoch).

    The scheduler is rebuilt for the new count and set to the epoch just finished, as Ultralytics' own
    `time` mode does; `stop` is set when the epoch just finished is the new last one. Returns the cut, or
    None when the planned epochs still fit.
    """
    planned = int(trainer.epochs)
    fit = epochs_within_budget(planned, epoch_seconds, elapsed_s, budget_s)
    if fit >= planned:
        return None
    trainer.epochs = trainer.args.epochs = fit
    trainer._setup_scheduler()
    trainer.scheduler.last_epoch = trainer.epoch
    done = len(epoch_seconds)
    if done >= fit:
        trainer.stop = True
    cut = BudgetCut(
        after_epoch=done,
        planned=planned,
        epochs=fit,
        budget_s=round(budget_s, 1),
        elapsed_s=round(elapsed_s, 1),
        mean_epoch_s=round(sum(epoch_seconds) / done, 2),
    )
    print(
        f"time budget: {planned} epochs at {cut.mean_epoch_s} s each would overrun {cut.budget_s} s "
        f"({cut.elapsed_s} s spent after epoch {done}); training {fit} epochs, schedule re-fitted",
        file=sys.stderr,
        flush=True,
    )
    return cut
