"""Where a training run stands: what it trains, on which data, how far it got and how it went.

`composer train` writes it to OUT/state.json after every epoch (atomically, after the checkpoint it names),
and --resume or a restarted worker group reads it back: it is the run's one record, typed here so that
every stage reads the same fields the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.artifacts import STATE_FILE
from composer.atomic import read_json, write_json
from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.errors import ComposerError

STATE_VERSION = 1  # state.json files of composer 0.7.0 and before hold the same fields, unversioned
LEGACY_CHECKPOINT = "checkpoints/last.keras"  # runs started before checkpoints were named per epoch
LEGACY_BEST_CHECKPOINT = "checkpoints/best.keras"
_CONFIGS = {"encoding": EncodingConfig, "model": ModelConfig, "training": TrainConfig}


@dataclass(frozen=True)
class FineTuningBase:
    """What a fine-tuned run keeps of the model it starts from (its encoding and network are the run's)."""

    path: str
    event_counts: tuple[int, ...]  # the events the base model saw, added to the new data's
    data: str | None  # the folder the base model was trained on


@dataclass(frozen=True)
class RunState:
    """A training run. ``epoch`` epochs are complete; ``checkpoint`` holds the weights after the last of them
    and ``best_checkpoint`` those with the lowest validation loss (both relative to the run's folder)."""

    data: str  # absolute: --resume may run from another folder
    encoding: EncodingConfig
    model: ModelConfig
    training: TrainConfig
    init_from: FineTuningBase | None = None
    status: str = "running"  # then "interrupted", "failed" or "finished" (once model.keras is published)
    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # Keras' logs, one value per epoch
    best_val_loss: float | None = None
    epochs_since_best: int = 0
    checkpoint: str = LEGACY_CHECKPOINT
    best_checkpoint: str = LEGACY_BEST_CHECKPOINT
    elapsed_seconds: float = 0.0  # over every session of the run
    event_counts: tuple[int, ...] = ()  # of each token in the training split (the base model's added)
    ngram: dict[str, Any] | None = None  # the baseline's fit, reported beside the network's
    data_summary: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    distribute: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None  # the published model's, on whole validation pieces

    def to_dict(self) -> dict[str, Any]:
        data = {"state_version": STATE_VERSION, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        for name in _CONFIGS:
            data[name] = data[name].to_dict()
        data["init_from"] = self.init_from and dataclasses.asdict(self.init_from)
        data["event_counts"] = list(self.event_counts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """The run a state.json records; older versions' files read the same, a newer version's are refused."""
        version = data.get("state_version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ComposerError(
                f"the run's state.json has version {version!r}, this composer reads "
                f"{STATE_VERSION}: resume it with the composer version that started it"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {name: value for name, value in data.items() if name in known and value is not None}
        for name, config in _CONFIGS.items():
            fields[name] = config.from_dict(data[name])
        if data.get("init_from"):
            base = data["init_from"]
            fields["init_from"] = FineTuningBase(base["path"], tuple(base["event_counts"]), base.get("data"))
        fields["event_counts"] = tuple(data.get("event_counts") or ())
        return cls(**fields)

    def epochs_over(self) -> bool:
        """Whether no epoch is left to train: all are done, or early stopping decided after one at least.
        Not yet "finished": that waits until the model is published."""
        return self.epoch >= self.training.epochs or (
            self.epoch > 0 and self.epochs_since_best >= self.training.patience
        )

    def after_epoch(self, epoch: int, logs: dict[str, float], checkpoint: Path) -> RunState:
        """The run once ``epoch`` (from 0) has ended with ``logs`` and its weights are saved as ``checkpoint``."""
        history = {**self.history}
        for key, value in logs.items():
            history[key] = [*history.get(key, []), float(value)]
        improved = self.best_val_loss is None or logs["val_loss"] < self.best_val_loss
        return dataclasses.replace(
            self,
            epoch=epoch + 1,
            history=history,
            checkpoint=str(checkpoint),
            best_val_loss=float(logs["val_loss"]) if improved else self.best_val_loss,
            best_checkpoint=str(checkpoint) if improved else self.best_checkpoint,
            epochs_since_best=0 if improved else self.epochs_since_best + 1,
        )


def load(out: Path) -> RunState:
    return RunState.from_dict(read_json(out / STATE_FILE))


def save(out: Path, state: RunState) -> None:
    write_json(out / STATE_FILE, state.to_dict())
