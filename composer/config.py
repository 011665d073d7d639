"""Frozen configuration dataclasses; each one is saved inside every model artefact.

A config is the whole recipe for its stage: the event vocabulary is derived from
``EncodingConfig`` alone, so a model file that stores its config can always be
decoded again, whatever the defaults of a later version are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from composer.errors import ComposerError

TIME_SIGNATURE_DENOMINATORS = (2, 4, 8, 16)
MAX_TIME_EVENTS = 16_384  # keeps every token id within int16, how encoded files are stored
# Sampling's default: when notes start, how long they last, the instruments and the form a little below the network
# as it learned (0.9), which pitch a new note takes a little above (1.05). In one key the network needs no cooling to
# keep the key, and the rhythm gains from it: over six seeds of 40 pieces of the bundled model (docs/quality.md,
# "The sampler's default over six seeds") this keeps the samples about as surprising to the network as real
# chorales (0.90-0.96 of their NLL) with the highest mean feature overlap of the settings that keep it there
# (0.852; 0.95 for every event, composer 0.13.0's default, 0.844). Cooler pitches make the samples likelier than
# real music (0.9 with pitches at 0.8, the default of composer 0.8 to 0.12: 0.76-0.81 of its NLL); top-p 0.95-0.98
# does too (0.79-0.84).
DEFAULT_TEMPERATURE = 0.9
DEFAULT_PITCH_TEMPERATURE: float | None = 1.05
# --ending's search: the bundled model reaches a cadence within four bars in about half of its pieces (eight: two
# thirds); four keep a piece near the length asked for (docs/quality.md, "Endings").
ENDING_BARS = 4
# Bars of music shared in a row (in any key) that flag a piece as copied: a whole chorale phrase with its cadence.
# One shared bar is no evidence: a cadence formula of one bar recurs across Bach's own chorales (a third of the
# held-out ones share 64 events, about a bar, with the training chorales); two bars are shared only between two
# settings of the same hymn tune.
COPY_THRESHOLD_BARS = 2.0  # evaluate --copy-check
CONTEXT_LAYOUT = 4  # the layout of composer.context that new networks read (1: composer 0.4.0's)

_Config = TypeVar("_Config", bound="_Serializable")


class _Serializable:
    """JSON round trip for the config dataclasses (saved in every model file)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[_Config], data: dict[str, Any]) -> _Config:
        return config_from_dict(cls, data)


@dataclass(frozen=True)
class EncodingConfig(_Serializable):
    """How a score becomes note events. Steps are fractions of a quarter note."""

    steps_per_quarter: int = 12  # 12 holds 16ths (3 steps) and eighth/16th triplets (4, 2)
    max_duration_quarters: int = 8  # longer notes are shortened to this
    min_pitch: int = 0
    max_pitch: int = 127
    use_velocity: bool = True
    num_velocity_bins: int = 32
    default_velocity: int = 100  # the velocity of every note when velocity is off
    use_duration: bool = True  # off: a note lasts until its instrument's next onset
    held_notes: bool = True  # restate the notes still sounding at every onset (needs use_duration)
    use_programs: bool = True  # off: all pitched parts become one piano part, drums dropped
    declare_parts: bool = True  # list the piece's instruments before its first note; it plays only those
    use_tempo: bool = True
    min_qpm: int = 40
    max_qpm: int = 250
    qpm_step: int = 5
    use_time_signatures: bool = True
    max_time_signature_numerator: int = 16
    sustain_pedal: bool = True  # notes held by the sustain pedal (CC64) last until it lifts
    repeat_bars: int = 16  # a bar that repeats one up to this many bars back is one Repeat event; 0: never
    # each onset lists its notes highest first, so the melody comes before the parts under it (which a
    # harmonization needs: they are then chosen knowing it); off: lowest first, the bass first
    highest_first: bool = True
    # every piece is moved to C major or A minor and a Key event says how far, so that the network learns one
    # key's scale instead of twelve (docs/quality.md, row 29); decoding moves the notes back
    one_key: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodingConfig:
        # models before composer 0.7 had no Repeat events; before 0.8 they listed each onset lowest first; before
        # 0.13 they kept each piece in its own key
        return config_from_dict(cls, {"repeat_bars": 0, "highest_first": False, "one_key": False, **data})

    def __post_init__(self) -> None:
        _require(self.steps_per_quarter >= 1, "steps_per_quarter must be at least 1")
        _require(self.repeat_bars >= 0, "repeat_bars must be 0 or more")
        _require(self.max_duration_quarters >= 1, "max_duration_quarters must be at least 1")
        _require(0 <= self.min_pitch <= self.max_pitch <= 127, "need 0 <= min_pitch <= max_pitch <= 127")
        _require(1 <= self.num_velocity_bins <= 127, "num_velocity_bins must be in 1..127")
        _require(1 <= self.default_velocity <= 127, "default_velocity must be in 1..127")
        _require(0 < self.min_qpm <= self.max_qpm and self.qpm_step >= 1, "need 0 < min_qpm <= max_qpm, qpm_step >= 1")
        _require(self.max_time_signature_numerator >= 1, "max_time_signature_numerator must be at least 1")
        _require(
            self.max_bar_steps + self.max_duration_steps <= MAX_TIME_EVENTS,
            f"a grid of {self.steps_per_quarter} steps per quarter needs more than {MAX_TIME_EVENTS} position and "
            "duration events; lower --steps-per-quarter (48 already holds 64th notes and triplets)",
        )

    @property
    def max_bar_steps(self) -> int:
        """Steps in the longest bar: of the largest numerator over 2 (or 4/4, MIDI's default meter)."""
        half_notes = self.max_time_signature_numerator if self.use_time_signatures else 2
        return max(half_notes, 2) * 2 * self.steps_per_quarter

    @property
    def max_duration_steps(self) -> int:
        return self.max_duration_quarters * self.steps_per_quarter


def config_from_dict(cls: type[_Config], data: dict[str, Any]) -> _Config:
    """Rebuild a config, refusing keys this version does not know (a newer model file)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ComposerError(
            f"{cls.__name__} has unknown settings {', '.join(unknown)}; "
            "the file was probably written by a newer composer, upgrade it"
        )
    try:
        return cls(**data)
    except TypeError as error:
        raise ComposerError(f"invalid {cls.__name__}: {error}") from error


def _require(condition: bool, message: str, stage: str = "encoding") -> None:
    if not condition:
        raise ComposerError(f"invalid {stage} config: {message}")


@dataclass(frozen=True)
class ModelConfig(_Serializable):
    """Embedding -> stacked LSTM -> logits over the event vocabulary."""

    embedding_dim: int = 128
    units: int = 256
    layers: int = 2
    dropout: float = 0.2
    context: int = CONTEXT_LAYOUT  # the layout of composer.context the network reads beside each event; 0: none

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        # models before composer 0.4 had no context; 0.4.0 wrote true for layout 1
        data = {**data, "context": int(data.get("context", 0))}
        return config_from_dict(cls, data)

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "units", "layers"):
            _require(getattr(self, name) >= 1, f"{name} must be at least 1", "model")
        _require(0 <= self.dropout < 1, "dropout must be in [0, 1)", "model")
        _require(0 <= self.context <= CONTEXT_LAYOUT, f"context layout must be in 0..{CONTEXT_LAYOUT}", "model")


@dataclass(frozen=True)
class TrainConfig(_Serializable):
    """How the model is fitted: windows for truncated BPTT, optimiser, stopping, augmentation."""

    # Short windows in small batches: eight times the optimiser steps of 128 x 32 for the same events, which on a
    # 2-core CPU learns more per minute than anything else tried (docs/quality.md, "Learning per minute")
    sequence_length: int = 64  # events per training window; gradients flow back this far
    batch_size: int = 8
    epochs: int = 8  # the quickstart: under 15 minutes on a 2-core CPU
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    clipnorm: float = 1.0  # gradient clipping against exploding gradients
    patience: int = 3  # epochs without a better validation loss before stopping
    valid_fraction: float = 0.1
    # Random transposition up to this far either way; 0 = off. Off by default: a network trained on windows moved
    # at random has no key or register of the corpus to keep to (docs/quality.md, row 17)
    transpose_semitones: int = 0
    velocity_jitter: int = 0  # random shift of velocity levels per window; 0 = off
    tempo_jitter: int = 0  # random shift of tempo levels per window; 0 = off
    seed: int = 0
    steps_per_epoch: int = 0  # 0: an epoch is one pass over the data; else at most this many steps (big corpora)
    mixed_precision: bool = False  # float16 compute with float32 weights, for GPUs with tensor cores
    carry_state: bool = False  # each window starts from the LSTM state the one before it in its lane ended with

    def __post_init__(self) -> None:
        for name in ("sequence_length", "batch_size", "epochs"):
            _require(getattr(self, name) >= 1, f"{name} must be at least 1", "training")
        _require(
            self.learning_rate > 0 and self.clipnorm > 0, "learning_rate and clipnorm must be positive", "training"
        )
        _require(0 < self.valid_fraction < 1, "valid_fraction must be between 0 and 1", "training")
        for name in (
            "warmup_steps",
            "patience",
            "transpose_semitones",
            "velocity_jitter",
            "tempo_jitter",
            "steps_per_epoch",
        ):
            _require(getattr(self, name) >= 0, f"{name} must not be negative", "training")
