"""The training time budget: the epoch count shrinks to what fits, never grows, and the schedule follows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from training.budget import apply_epoch_budget, epochs_within_budget
from training.config import ConfigError, parse_config


def test_planned_epochs_are_kept_when_they_fit():
    # GIVEN 36 planned epochs, 2 done at 40 s each, 90 s spent of a 30-minute budget
    # WHEN the budget is checked
    fit = epochs_within_budget(36, [40.0, 40.0], 90.0, 1800.0)
    # THEN all 36 are kept (2 + 42 would fit, but the budget never adds epochs)
    assert fit == 36


def test_epochs_are_cut_to_those_that_fit_at_the_mean_epoch_time():
    # GIVEN 36 planned epochs, one done in 54 s, 70 s spent (set-up included) of a 29-minute budget
    # WHEN the budget is checked
    fit = epochs_within_budget(36, [54.0], 70.0, 29 * 60.0)
    # THEN the run keeps the epoch done plus floor((1740 - 70) / 54) = 30 more
    assert fit == 31


def test_an_overrun_budget_never_undoes_finished_epochs():
    # GIVEN 3 epochs done and the budget already spent
    # WHEN the budget is checked
    fit = epochs_within_budget(10, [5.0, 5.0, 5.0], 20.0, 10.0)
    # THEN the run ends with the 3 epochs it has
    assert fit == 3


def test_the_budget_is_estimated_after_an_epoch_only():
    # GIVEN no epoch done yet WHEN the budget is checked THEN the error says why
    with pytest.raises(ValueError, match="after at least one epoch"):
        epochs_within_budget(10, [], 0.0, 60.0)


def _trainer(epochs: int, epoch: int) -> SimpleNamespace:
    trainer = SimpleNamespace(epochs=epochs, args=SimpleNamespace(epochs=epochs), epoch=epoch, stop=False)
    trainer.scheduler = None

    def setup_scheduler() -> None:  # Ultralytics builds the cosine schedule over trainer.epochs
        trainer.scheduler = SimpleNamespace(last_epoch=-1, over=trainer.epochs)

    trainer._setup_scheduler = setup_scheduler
    return trainer


def test_a_cut_refits_the_schedule_to_the_new_epoch_count():
    # GIVEN a trainer planned for 36 epochs, after its first epoch (index 0) of 54 s
    trainer = _trainer(36, epoch=0)
    # WHEN a 29-minute budget is applied with 70 s spent
    cut = apply_epoch_budget(trainer, [54.0], 70.0, 29 * 60.0)
    # THEN the trainer runs 31 epochs, its schedule spans 31 and resumes after the epoch just finished
    assert cut is not None
    assert (trainer.epochs, trainer.args.epochs) == (31, 31)
    assert (trainer.scheduler.over, trainer.scheduler.last_epoch) == (31, 0)
    assert not trainer.stop
    # AND the cut is recorded with the figures it was decided on
    assert (cut.after_epoch, cut.planned, cut.epochs, cut.mean_epoch_s) == (1, 36, 31, 54.0)


def test_a_cut_to_the_epochs_done_stops_the_run():
    # GIVEN a trainer after its second epoch with the budget spent
    trainer = _trainer(10, epoch=1)
    # WHEN the budget is applied
    apply_epoch_budget(trainer, [30.0, 30.0], 65.0, 60.0)
    # THEN it stops after this epoch
    assert trainer.epochs == 2
    assert trainer.stop


def test_no_cut_leaves_the_trainer_alone():
    # GIVEN a run well inside its budget
    trainer = _trainer(5, epoch=0)
    # WHEN the budget is applied THEN nothing changes
    assert apply_epoch_budget(trainer, [10.0], 12.0, 600.0) is None
    assert trainer.epochs == 5
    assert trainer.scheduler is None


def test_a_budget_that_is_not_positive_names_the_field():
    # GIVEN a config with a zero budget WHEN parsed THEN the error names the field
    with pytest.raises(ConfigError, match=r"training\.time_budget_minutes"):
        parse_config({"skill": "s", "training": {"time_budget_minutes": 0}})
