import json

import pytest

from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.errors import ComposerError
from composer.training import run_state
from composer.training.run_state import LEGACY_BEST_CHECKPOINT, LEGACY_CHECKPOINT, FineTuningBase, RunState


def _state(**changes) -> RunState:
    state = RunState("/data", EncodingConfig(), ModelConfig(units=16), TrainConfig(epochs=5, patience=2))
    return RunState(**{**state.__dict__, **changes})


def test_a_state_survives_its_file(tmp_path):
    state = _state(
        init_from=FineTuningBase("/base.keras", (1, 2, 3), "/corpus"),
        epoch=2,
        history={"loss": [2.0, 1.5]},
        best_val_loss=1.4,
        ngram={"order": 3},
        event_counts=(4, 5),
    )
    run_state.save(tmp_path, state)
    assert run_state.load(tmp_path) == state
    assert json.loads((tmp_path / "state.json").read_text())["state_version"] == run_state.STATE_VERSION


def test_a_state_file_of_composer_0_7_resumes():
    """Unversioned, no checkpoint named before the first epoch, a fine-tuning base with its encoding beside it."""
    old = {
        "data": "/data",
        "encoding": EncodingConfig().to_dict(),
        "model": ModelConfig().to_dict(),
        "training": TrainConfig().to_dict(),
        "epoch": 0,
        "history": {},
        "best_val_loss": None,
        "epochs_since_best": 0,
        "status": "running",
        "init_from": {"path": "/base.keras", "encoding": {}, "model": {}, "event_counts": [7], "data": None},
    }
    state = RunState.from_dict(old)
    assert state.init_from == FineTuningBase("/base.keras", (7,), None)
    assert (state.checkpoint, state.best_checkpoint) == (LEGACY_CHECKPOINT, LEGACY_BEST_CHECKPOINT)


def test_a_newer_state_file_is_refused():
    with pytest.raises(ComposerError, match="state.json has version 99, this composer reads 1: resume it with"):
        RunState.from_dict({**_state().to_dict(), "state_version": 99})


def test_an_epoch_moves_the_best_checkpoint_only_when_validation_improves():
    state = _state().after_epoch(0, {"loss": 2.0, "val_loss": 1.0}, "checkpoints/epoch-0001.keras")
    state = state.after_epoch(1, {"loss": 1.5, "val_loss": 1.2}, "checkpoints/epoch-0002.keras")
    assert (state.epoch, state.checkpoint, state.best_checkpoint) == (
        2,
        "checkpoints/epoch-0002.keras",
        "checkpoints/epoch-0001.keras",
    )
    assert (state.best_val_loss, state.epochs_since_best, state.history) == (
        1.0,
        1,
        {"loss": [2.0, 1.5], "val_loss": [1.0, 1.2]},
    )


def test_epochs_are_over_at_the_last_epoch_or_when_patience_runs_out():
    assert not _state().epochs_over()
    assert _state(epoch=5).epochs_over()
    assert _state(epoch=3, epochs_since_best=2).epochs_over() and not _state(epoch=3, epochs_since_best=1).epochs_over()
