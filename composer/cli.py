"""The `composer` command line: each command parses options and makes one library call.

Library modules are imported inside the commands so that `composer --help` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from composer import __version__
from composer.artifacts import DEFAULT_MODEL_DIR
from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.errors import ComposerError

# Light modules (no TensorFlow, no MIDI libraries): their defaults are shown in --help.
ENCODING_DEFAULTS, MODEL_DEFAULTS, TRAIN_DEFAULTS = EncodingConfig(), ModelConfig(), TrainConfig()


class UserError(click.ClickException):
    """Printed as ``Error: <message>`` with exit code 2, never as a traceback."""

    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ComposerError as error:
            raise UserError(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn note-event sequences from MIDI files with an LSTM and compose new MIDI."""


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--tokens", "num_tokens", default=32, show_default=True, type=click.IntRange(min=0),
              help="How many of the first tokens to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect(file: Path, num_tokens: int, as_json: bool) -> None:
    """Show what FILE contains and how the default encoding sees it."""
    from composer.inspection import format_inspection, inspect_file

    info = inspect_file(file, ENCODING_DEFAULTS, num_tokens)
    click.echo(json.dumps(info, indent=2) if as_json else format_inspection(info))


@main.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_MODEL_DIR, show_default=True,
              help="Model directory to create (or to resume).")
@click.option("--force", is_flag=True, help="Replace an existing model directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint, with its settings.")
@click.option("--epochs", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.batch_size, show_default=True)
@click.option("--sequence-length", type=click.IntRange(min=2), default=TRAIN_DEFAULTS.sequence_length,
              show_default=True, help="Events per training window (backpropagation through time).")
@click.option("--learning-rate", type=float, default=TRAIN_DEFAULTS.learning_rate, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.patience, show_default=True,
              help="Stop after this many epochs without a better validation loss.")
@click.option("--valid-fraction", type=float, default=TRAIN_DEFAULTS.valid_fraction, show_default=True)
@click.option("--transpose", type=click.IntRange(min=0, max=24), default=TRAIN_DEFAULTS.transpose_semitones,
              show_default=True, help="Random transposition of up to this many semitones (drums stay).")
@click.option("--velocity-jitter", type=click.IntRange(min=0), default=0, help="Random velocity shift, in levels.")
@click.option("--tempo-jitter", type=click.IntRange(min=0), default=0, help="Random tempo shift, in levels.")
@click.option("--units", type=click.IntRange(min=1), default=MODEL_DEFAULTS.units, show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=MODEL_DEFAULTS.layers, show_default=True)
@click.option("--embedding-dim", type=click.IntRange(min=1), default=MODEL_DEFAULTS.embedding_dim, show_default=True)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=MODEL_DEFAULTS.dropout,
              show_default=True)
@click.option("--steps-per-quarter", type=click.IntRange(min=1), default=ENCODING_DEFAULTS.steps_per_quarter,
              show_default=True, help="Time grid of the encoding.")
@click.option("--velocity/--no-velocity", default=True, show_default=True, help="Encode note velocities.")
@click.option("--duration/--no-duration", default=True, show_default=True,
              help="Encode note lengths (off: a note lasts until its part's next note).")
@click.option("--seed", type=int, default=None, help="Makes the run reproducible; a random one is printed if absent.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="Where encoded files are cached [default: $COMPOSER_CACHE_DIR or ~/.cache/composer].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Encoding processes [default: all cores].")
def train(data, out, force, resume, seed, cache_dir, workers, **options) -> None:
    """Train the LSTM on the MIDI files in DATA (searched recursively)."""
    import random

    from composer.train import TrainRequest
    from composer.train import train as run_training

    if seed is None and not resume:
        seed = random.randrange(2**31)
        click.echo(f"seed: {seed} (pass --seed {seed} to repeat this run)")
    request = TrainRequest(
        data=data, out=out, force=force, resume=resume, cache_dir=cache_dir, workers=workers,
        **_train_configs(options, seed or 0),
    )  # fmt: skip
    with _FileProgress() as progress:
        summary = run_training(request, report=click.echo, on_file=progress)
    if summary.get("interrupted"):
        click.echo(f"Interrupted after epoch {summary['epochs_done']}; checkpoint saved. "
                   f"Continue with: composer train --resume --out {summary['out']}", err=True)  # fmt: skip
        raise SystemExit(130)
    click.echo(_format_training_summary(summary))


def _train_configs(options: dict, seed: int) -> dict:
    return {
        "encoding": EncodingConfig(steps_per_quarter=options["steps_per_quarter"], use_velocity=options["velocity"],
                                   use_duration=options["duration"]),
        "model": ModelConfig(embedding_dim=options["embedding_dim"], units=options["units"], layers=options["layers"],
                             dropout=options["dropout"]),
        "training": TrainConfig(
            sequence_length=options["sequence_length"], batch_size=options["batch_size"], epochs=options["epochs"],
            learning_rate=options["learning_rate"], patience=options["patience"],
            valid_fraction=options["valid_fraction"], transpose_semitones=options["transpose"],
            velocity_jitter=options["velocity_jitter"], tempo_jitter=options["tempo_jitter"], seed=seed,
        ),
    }  # fmt: skip


class _FileProgress:
    """A progress bar over the files being encoded, with one line per skipped file."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, total: int, path: str, reason: str | None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="encoding", file=sys.stderr)
            self.bar.__enter__()
        if reason:
            click.echo(f"\nskipped {path}: {reason}", err=True)
        self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _format_training_summary(summary: dict) -> str:
    valid, ngram = summary["validation"], summary["ngram"]
    minutes, seconds = divmod(round(summary["seconds"]), 60)
    return "\n".join([
        f"validation: {valid['nll_per_event']:.4f} nats/event, perplexity {valid['perplexity']:.3f}, "
        f"accuracy {valid['accuracy']:.1%} over {valid['events']} events",
        f"n-gram baseline (order {ngram['order']}): {ngram['nll_per_event']:.4f} nats/event, "
        f"perplexity {ngram['perplexity']:.3f}",
        f"trained {summary['epochs']} epochs in {minutes}m {seconds:02d}s",
        f"model: {summary['model']} (metadata.json, loss.png, checkpoints/ and logs/ for TensorBoard beside it)",
    ])  # fmt: skip


if __name__ == "__main__":
    main()
