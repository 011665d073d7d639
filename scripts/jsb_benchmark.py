"""JSB Chorales benchmark: test NLL per frame of composer's LSTM and event encoding.

Data: the Boulanger-Lewandowski et al. (2012) split at quarter-note resolution
(train 229 / valid 76 / test 77 chorales); read from ../shared/data, never copied.

Each chorale becomes a one-part score, one quarter-note step per frame, and is
encoded with composer's own encoding (1 step per quarter note; no velocity, no
durations, no programs, tempo or meter): a frame is its pitches in ascending
order followed by a time shift, and the piece ends with End. The map from frame
sequences to event sequences is deterministic and invertible (the sample has no
empty frames at either end; inner empty frames merge into longer shifts), so the
probability the model gives the event sequence is the probability of the frame
sequence, and

    NLL per frame = - sum of log P(event | events before) over the test set / test frames.

Reported two ways: all T frames (scored from the Start event), and frames 2..T
(the first frame given), which is what the LSTM/GRU/TCN figures of Bai et al.
(2018) score.

    python scripts/jsb_benchmark.py [--data PATH] [--minutes 55] [--seed 1] [--carry-state]

With --carry-state the network trains as `composer train --carry-state` does: the stream is dealt
into one lane per batch row and each window starts from the state the previous one ended in.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.data.dataset import (
    TokenStream,
    lane_training_dataset,
    lane_validation_dataset,
    training_dataset,
    validation_dataset,
)
from composer.data.training_data import lane_steps
from composer.events import decode, encode, vocabulary
from composer.model.network import build_model, compile_model
from composer.model.scoring import event_nlls
from composer.score import Note, Score, Track
from composer.tf_runtime import keras
from composer.training.train import state_reset

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "jsb-chorales" / "jsb-chorales-quarter.json"
ENCODING = EncodingConfig(
    steps_per_quarter=1,
    min_pitch=43,
    max_pitch=96,
    use_velocity=False,
    use_duration=False,
    use_programs=False,
    use_tempo=False,
    use_time_signatures=False,
)


def chorale_tokens(frames: list[list[int]]) -> np.ndarray:
    """Events of one chorale: each frame a position in its bar (a Bar every four frames), then its pitches
    ascending; Start ... End."""
    notes = tuple(Note(t, t + 1, pitch, 100) for t, frame in enumerate(frames) for pitch in frame)
    tokens = np.array(encode(Score(tracks=(Track(0, notes=notes),)), ENCODING))
    assert _frames_of(tokens) == len(frames), "the encoding must keep every frame"
    return tokens


def _frames_of(tokens: np.ndarray) -> int:
    return round(decode(tokens, ENCODING).end_beat)


def nll_per_frame(model, chorales: list[np.ndarray], frames: list[list[list[int]]]) -> dict[str, float]:
    """Test NLL per frame over all frames, and over frames 2..T (first frame given)."""
    per_event = event_nlls(model, chorales, config=ENCODING)
    total = sum(float(nll.sum()) for nll, _ in per_event)
    # the first frame is Bar, Pos_0 and its pitches: the first len(frame 1) + 2 predicted events
    first = sum(float(nll[: len(f[0]) + 2].sum()) for (nll, _), f in zip(per_event, frames))
    num_frames = sum(len(f) for f in frames)
    return {"all_frames": total / num_frames, "frames_2_to_T": (total - first) / (num_frames - len(frames))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--minutes", type=float, default=55.0, help="training stops after the epoch that passes this")
    parser.add_argument("--epochs", type=int, default=300, help="the learning rate decays over this many epochs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.4)
    parser.add_argument("--carry-state", action="store_true", help="carry the LSTM state from window to window")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()

    data = json.loads(args.data.read_text())
    tokens = {split: [chorale_tokens(c) for c in data[split]] for split in ("train", "valid", "test")}
    model_config = ModelConfig(embedding_dim=64, units=args.units, layers=args.layers, dropout=args.dropout)
    training = TrainConfig(
        sequence_length=64,
        batch_size=32,
        epochs=args.epochs,
        learning_rate=3e-3,
        warmup_steps=50,
        transpose_semitones=6,
        seed=args.seed,
        carry_state=args.carry_state,
    )
    keras.utils.set_random_seed(args.seed)
    train_stream, valid_stream = (
        TokenStream(tokens[split], ENCODING, model_config.context) for split in ("train", "valid")
    )
    train_data, valid_data, steps, callbacks = datasets(train_stream, valid_stream, training)
    model = build_model(model_config, len(vocabulary(ENCODING)), training.batch_size if args.carry_state else None)
    compile_model(model, training.learning_rate, training.warmup_steps, training.epochs * steps, training.clipnorm)
    started = time.time()
    model.fit(
        train_data,
        validation_data=valid_data,
        epochs=training.epochs,
        steps_per_epoch=steps,
        shuffle=False,
        verbose=2,
        callbacks=[
            *callbacks,
            keras.callbacks.EarlyStopping(patience=15, restore_best_weights=True),
            TimeBudget(args.minutes),
        ],
    )
    minutes = (time.time() - started) / 60
    scored = build_model(model_config, len(vocabulary(ENCODING)))  # whole chorales, each from a zero state
    scored.set_weights(model.get_weights())
    result = {
        "seed": args.seed,
        "model": model_config.to_dict(),
        "carry_state": args.carry_state,
        "training_minutes": round(minutes, 1),
        "valid": nll_per_frame(scored, tokens["valid"], data["valid"]),
        "test": nll_per_frame(scored, tokens["test"], data["test"]),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def datasets(train_stream: TokenStream, valid_stream: TokenStream, training: TrainConfig):
    """(training batches, validation batches, steps per epoch, the callbacks they need): windows, or lanes
    with the state carried."""
    if not training.carry_state:
        steps = train_stream.num_windows(training.sequence_length) // training.batch_size
        return (
            training_dataset(train_stream, ENCODING, training),
            validation_dataset(valid_stream, training),
            steps,
            [],
        )
    steps = lane_steps(len(train_stream.tokens), training)
    return (
        lane_training_dataset(train_stream, ENCODING, training, steps),
        lane_validation_dataset(valid_stream, training),
        steps,
        [state_reset()],
    )


class TimeBudget(keras.callbacks.Callback):
    """Stops after the epoch during which the budget ran out."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.deadline = time.time() + minutes * 60

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = self.model.stop_training or time.time() > self.deadline


if __name__ == "__main__":
    main()
