"""The `composer` command line: each command parses options and makes one library call.

Library modules are imported inside the commands so that `composer --help` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from composer import __version__
from composer.artifacts import DEFAULT_MODEL_DIR
from composer.config import (
    CONTEXT_LAYOUT,
    COPY_THRESHOLD_BARS,
    DEFAULT_PITCH_TEMPERATURE,
    DEFAULT_TEMPERATURE,
    ENDING_BARS,
    TIME_SIGNATURE_DENOMINATORS,
    EncodingConfig,
    ModelConfig,
    TrainConfig,
)
from composer.errors import ComposerError
from composer.scales import SCALES
from composer.training.distribute import MODES as DISTRIBUTE_MODES

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


def _encoding_options(command):
    """The options that shape the encoding, shared by `train` and `prepare`."""
    for option in reversed(
        [
            click.option(
                "--steps-per-quarter",
                type=click.IntRange(min=1),
                default=ENCODING_DEFAULTS.steps_per_quarter,
                show_default=True,
                help="Time grid of the encoding.",
            ),
            click.option("--velocity/--no-velocity", default=True, show_default=True, help="Encode note velocities."),
            click.option(
                "--duration/--no-duration",
                default=True,
                show_default=True,
                help="Encode note lengths (off: a note lasts until its part's next note).",
            ),
            click.option(
                "--held-notes/--no-held-notes",
                default=True,
                show_default=True,
                help="Restate the notes still sounding at every onset, so the model sees the chord it adds to.",
            ),
            click.option(
                "--one-key/--keys-as-written",
                default=True,
                show_default=True,
                help="Move every piece to C major or A minor and say how far (a Key event), so the model learns one "
                "scale; generated pieces are moved back to the key sampled.",
            ),
            click.option(
                "--sustain-pedal/--no-sustain-pedal",
                default=True,
                show_default=True,
                help="Notes held by the sustain pedal (CC64) last until it lifts.",
            ),
            click.option(
                "--repeat-bars",
                type=click.IntRange(min=0),
                default=ENCODING_DEFAULTS.repeat_bars,
                show_default=True,
                help="A bar repeating one up to this many bars back is one Repeat event (0: none).",
            ),
        ]
    ):
        command = option(command)
    return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn note-event sequences from MIDI files with an LSTM and compose new MIDI."""


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--tokens",
    "num_tokens",
    default=32,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many of the first tokens to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect(file: Path, num_tokens: int, as_json: bool) -> None:
    """Show what FILE contains and how the default encoding sees it."""
    from composer.evaluation.inspection import format_inspection, inspect_file

    info = inspect_file(file, ENCODING_DEFAULTS, num_tokens)
    click.echo(json.dumps(info, indent=2) if as_json else format_inspection(info))


@main.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_MODEL_DIR,
    show_default=True,
    help="Model directory to create (or to resume).",
)
@click.option("--force", is_flag=True, help="Replace an existing model directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint, with its settings.")
@click.option("--epochs", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.batch_size, show_default=True)
@click.option(
    "--sequence-length",
    type=click.IntRange(min=2),
    default=TRAIN_DEFAULTS.sequence_length,
    show_default=True,
    help="Events per training window (backpropagation through time).",
)
@click.option("--learning-rate", type=float, default=TRAIN_DEFAULTS.learning_rate, show_default=True)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=TRAIN_DEFAULTS.patience,
    show_default=True,
    help="Stop after this many epochs without a better validation loss.",
)
@click.option("--valid-fraction", type=float, default=TRAIN_DEFAULTS.valid_fraction, show_default=True)
@click.option(
    "--transpose",
    type=click.IntRange(min=0, max=24),
    default=TRAIN_DEFAULTS.transpose_semitones,
    show_default=True,
    help="Random transposition of up to this many semitones (drums stay).",
)
@click.option("--velocity-jitter", type=click.IntRange(min=0), default=0, help="Random velocity shift, in levels.")
@click.option("--tempo-jitter", type=click.IntRange(min=0), default=0, help="Random tempo shift, in levels.")
@click.option("--units", type=click.IntRange(min=1), default=MODEL_DEFAULTS.units, show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=MODEL_DEFAULTS.layers, show_default=True)
@click.option("--embedding-dim", type=click.IntRange(min=1), default=MODEL_DEFAULTS.embedding_dim, show_default=True)
@click.option(
    "--dropout",
    type=click.FloatRange(0, 1, max_open=True),
    default=MODEL_DEFAULTS.dropout,
    show_default=True,
    help="Share of the LSTM outputs dropped in training; with --init-from, the base model's unless given.",
)
@click.option(
    "--context/--no-context",
    default=True,
    show_default=True,
    help="Give the network the notes sounding, where they end, each part's last pitch and the key so far "
    "at every event.",
)
@_encoding_options
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    default=None,
    help="Fine-tune this model (.keras or model directory) on DATA: its encoding and network are kept.",
)
@click.option(
    "--steps-per-epoch",
    type=click.IntRange(min=1),
    default=None,
    help="Cap an epoch (checkpoint, validation, early stopping) at this many steps: for big corpora.",
)
@click.option(
    "--mixed-precision", is_flag=True, help="Compute in float16 (GPUs with tensor cores); weights stay float32."
)
@click.option(
    "--carry-state/--no-carry-state",
    default=TRAIN_DEFAULTS.carry_state,
    show_default=True,
    help="Start each training window from the LSTM state the previous window of its lane ended with, as "
    "generation runs one state through a piece (one process, MIDI folder only).",
)
@click.option("--seed", type=int, default=None, help="Makes the run reproducible; a random one is printed if absent.")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where encoded files are cached [default: $COMPOSER_CACHE_DIR or ~/.cache/composer].",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Encoding processes [default: all cores].")
@click.option(
    "--distribute",
    type=click.Choice(DISTRIBUTE_MODES),
    default="auto",
    show_default=True,
    help="tf.distribute strategy: mirrored for several GPUs of one machine, multi-worker for the group "
    "that TF_CONFIG describes; auto picks one of these when it applies.",
)
def train(data, out, force, resume, init_from, seed, cache_dir, workers, distribute, **options) -> None:
    """Train the LSTM on the MIDI files in DATA (searched recursively), or on a cache made by `composer prepare`."""
    import random

    from composer.artifacts import resolve_model
    from composer.data.prepare import is_cache
    from composer.training.train import TrainRequest
    from composer.training.train import train as run_training

    context = click.get_current_context()
    if data is not None and is_cache(data):
        _refuse_given(
            context,
            [*ENCODING_OPTIONS, "valid_fraction", "cache_dir", "workers"],
            "a prepared cache was encoded and split by `composer prepare`; give these options to it instead",
        )
    if resume:
        _refuse_given(
            context,
            ["seed", "init_from", *options],
            "a resumed run keeps the settings it was started with; drop these options, or start a new run with --force",
        )
    if init_from is not None:
        _refuse_given(
            context,
            [*ENCODING_OPTIONS, *NETWORK_SHAPE_OPTIONS],
            "a fine-tuned model keeps the encoding and network of --init-from; drop these options",
        )
        init_from = resolve_model(init_from)[0]
    if seed is None and not resume and _in_worker_group(distribute):
        raise UserError(
            "--seed is needed to train as a worker group (TF_CONFIG is set): every worker must "
            "shuffle the data alike; give all of them the same --seed"
        )
    if seed is None and not resume:
        seed = random.randrange(2**31)
        click.echo(f"seed: {seed} (pass --seed {seed} to repeat this run)")
    request = TrainRequest(
        data=data,
        out=out,
        force=force,
        resume=resume,
        cache_dir=cache_dir,
        workers=workers,
        init_from=init_from,
        fine_tune_dropout=_given(context, "dropout", options),
        distribute=distribute,
        **_train_configs(options, seed or 0),
    )
    with _FileProgress() as progress:
        summary = run_training(request, report=click.echo, on_file=progress)
    if summary.get("interrupted"):
        click.echo(
            f"Interrupted; {summary['epochs_done']} completed epochs are saved. "
            f"Continue with: composer train --resume --out {summary['out']}",
            err=True,
        )
        raise SystemExit(130)
    if "worker" in summary:
        click.echo(f"worker {summary['worker']} done after {summary['epochs']} epochs; the chief wrote the model")
        return
    click.echo(_format_training_summary(summary))


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the prepared cache.")
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=None,
    help="Token files to write [default: one per 2,000 MIDI files]; at least one per training worker.",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Encoding processes [default: all cores].")
@click.option(
    "--valid-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=TRAIN_DEFAULTS.valid_fraction,
    show_default=True,
)
@_encoding_options
@click.option("--force", is_flag=True, help="Replace a cache prepared from other files or settings.")
def prepare(data, out, shards, workers, valid_fraction, force, **encoding) -> None:
    """Encode the MIDI files in DATA into a sharded cache that `composer train` streams from.

    Memory stays bounded whatever the corpus size, and an interrupted run picks up
    after the last finished shard when started again."""
    from composer.data.prepare import PrepareRequest
    from composer.data.prepare import prepare as run_prepare

    request = PrepareRequest(
        data=data,
        out=out,
        encoding=_encoding_config(encoding),
        valid_fraction=valid_fraction,
        shards=shards,
        workers=workers,
        force=force,
    )
    with _FileProgress(list_skipped=False) as progress:
        summary = run_prepare(request, on_file=progress)
    click.echo(_format_prepare_summary(summary, out))


def _format_prepare_summary(summary: dict, out: Path) -> str:
    skipped = ", ".join(f"{count} {reason}" for reason, count in summary["skipped_by_reason"].items())
    return (
        f"{summary['files']} files in {summary['seconds']:.0f} s: {summary['files_used']} used "
        f"({summary['split_files']['train']} train, {summary['split_files']['valid']} validation), "
        f"{summary['files_skipped']} skipped{f' ({skipped})' if skipped else ''}, "
        f"{summary['duplicates_dropped']} duplicates; {summary['tokens']} events in {summary['shards']} shards.\n"
        f"Each file's status is listed in {out}/shards/*.json. Train with: composer train {out}"
    )


def _in_worker_group(distribute: str) -> bool:
    from composer.training.distribute import cluster_from_env

    return bool(os.environ.get("TF_CONFIG")) and cluster_from_env(distribute).mode == "multi-worker"


ENCODING_OPTIONS = (
    "steps_per_quarter",
    "velocity",
    "duration",
    "held_notes",
    "one_key",
    "sustain_pedal",
    "repeat_bars",
)
NETWORK_SHAPE_OPTIONS = ("units", "layers", "embedding_dim")


def _given(ctx: click.Context, name: str, options: dict):
    """The option's value when the command line sets it, else None."""
    return options[name] if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE else None


def _refuse_given(ctx: click.Context, names: list[str], why: str) -> None:
    """Options that would be silently ignored are refused instead: ignoring them would mislead."""
    flags = {param.name: param.opts[0] for param in ctx.command.params}
    given = [flags[name] for name in names if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise UserError(", ".join(given) + f": {why}")


def _encoding_config(options: dict) -> EncodingConfig:
    return EncodingConfig(
        steps_per_quarter=options["steps_per_quarter"],
        use_velocity=options["velocity"],
        use_duration=options["duration"],
        held_notes=options["held_notes"],
        one_key=options["one_key"],
        sustain_pedal=options["sustain_pedal"],
        repeat_bars=options["repeat_bars"],
    )


def _train_configs(options: dict, seed: int) -> dict:
    return {
        "encoding": _encoding_config(options),
        "model": ModelConfig(
            embedding_dim=options["embedding_dim"],
            units=options["units"],
            layers=options["layers"],
            dropout=options["dropout"],
            context=CONTEXT_LAYOUT if options["context"] else 0,
        ),
        "training": TrainConfig(
            sequence_length=options["sequence_length"],
            batch_size=options["batch_size"],
            epochs=options["epochs"],
            learning_rate=options["learning_rate"],
            patience=options["patience"],
            valid_fraction=options["valid_fraction"],
            transpose_semitones=options["transpose"],
            velocity_jitter=options["velocity_jitter"],
            tempo_jitter=options["tempo_jitter"],
            seed=seed,
            steps_per_epoch=options["steps_per_epoch"] or 0,
            mixed_precision=options["mixed_precision"],
            carry_state=options["carry_state"],
        ),
    }


class _FileProgress:
    """A progress bar over the files being encoded, with one line per skipped file if ``list_skipped``."""

    def __init__(self, list_skipped: bool = True) -> None:
        self.bar, self.list_skipped = None, list_skipped

    def __call__(self, total: int, path: str, reason: str | None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="encoding", file=sys.stderr)
            self.bar.__enter__()
        if reason and self.list_skipped:
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
    return "\n".join(
        [
            f"validation: {valid['nll_per_event']:.4f} nats/event, perplexity {valid['perplexity']:.3f}, "
            f"accuracy {valid['accuracy']:.1%} over {valid['events']} events",
            f"n-gram baseline (order {ngram['order']}): {ngram['nll_per_event']:.4f} nats/event, "
            f"perplexity {ngram['perplexity']:.3f}",
            f"trained {summary['epochs']} epochs in {minutes}m {seconds:02d}s",
            f"model: {summary['model']} (metadata.json, loss.png, checkpoints/ and logs/ for TensorBoard beside it)",
        ]
    )


def _avoid_parallels(default: bool) -> Callable:
    return click.option(
        "--avoid-parallels/--allow-parallels",
        default=default,
        show_default=True,
        help="No parallel fifths or octaves between parts (unless no other note is allowed).",
    )


def _with_options(options: list) -> Callable:
    """Applies click options in the order listed (commands that share them list them once)."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


_SAMPLING_OPTIONS = [
    click.option(
        "--num",
        "num_files",
        type=click.IntRange(min=1, max=256),
        default=1,
        show_default=True,
        help="How many files to write (sampled together as one batch).",
    ),
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=Path("."),
        show_default=True,
        help="A folder for informatively named files, or a FILE.mid.",
    ),
    click.option("--seed", type=int, default=None, help="Same model, options and seed give the same file."),
    click.option(
        "--temperature",
        type=click.FloatRange(min=0),
        default=DEFAULT_TEMPERATURE,
        show_default=True,
        help="Lower is safer, higher is wilder; 0 always takes the likeliest event. Which pitch a new note "
        "takes has its own: --pitch-temperature.",
    ),
    click.option(
        "--pitch-temperature",
        type=click.FloatRange(min=0),
        default=DEFAULT_PITCH_TEMPERATURE,
        show_default=True,
        help="The temperature of which pitch a new note takes (--temperature decides when notes start, their "
        "lengths and instruments); lower keeps to the key.",
    ),
    click.option("--top-k", type=click.IntRange(min=0), default=0, help="Sample among the K likeliest events only."),
    click.option(
        "--top-p",
        type=click.FloatRange(0, 1, min_open=True),
        default=1.0,
        help="Sample among the likeliest events holding this much probability.",
    ),
    click.option(
        "--repetition-penalty",
        type=click.FloatRange(min=1),
        default=1.0,
        show_default=True,
        help="Above 1, pitches played in the last 64 events become less likely (try 1.2 against loops).",
    ),
    click.option(
        "--no-repeat-ngram",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Never repeat a run of this many events within a piece, nor a whole bar (0: off; 16 is about four notes).",
    ),
]
_CONSTRAINT_OPTIONS = [
    click.option(
        "--tempo", type=click.FloatRange(min=4, max=1000), default=None, help="Tempo in quarter notes per minute."
    ),
    click.option(
        "--program",
        "--instrument",
        "programs",
        multiple=True,
        help="Allowed instrument: General MIDI number or name (violin, 'acoustic grand piano', drums). Repeatable.",
    ),
    click.option("--key", default=None, help="Tonic of --scale, e.g. C, F#, Bb."),
    click.option(
        "--scale", type=click.Choice(sorted(SCALES)), default=None, help="Only notes of this scale (pitched parts)."
    ),
    click.option("--pitch-range", default=None, help="LOW-HIGH in MIDI numbers, e.g. 48-84."),
    click.option("--max-polyphony", type=click.IntRange(min=1), default=None, help="At most this many notes at once."),
    click.option(
        "--chords",
        default=None,
        help='Follow a chord progression: "Am F C G" (a chord a bar) or "C:2 G:2 Am:4" (chord:beats), repeated '
        "to the end; chord tones on every beat, the root (or /bass) lowest on each chord's first beat.",
    ),
]
_OUTPUT_OPTIONS = [
    click.option(
        "--format",
        "formats",
        type=click.Choice(["mid", "musicxml"]),
        multiple=True,
        default=("mid",),
        show_default=True,
        help="Also write MusicXML for notation programs (repeatable).",
    ),
    click.option("--title", default=None, help="Title of the MusicXML score [default: the file's name]."),
    click.option("--plot", is_flag=True, help="Also write a piano-roll PNG next to each file."),
    click.option(
        "--wav",
        is_flag=True,
        help="Also render each file to a WAV with FluidSynth (apt install fluidsynth fluid-soundfont-gm).",
    ),
    click.option("--force", is_flag=True, help="Overwrite existing files."),
]
_MODEL_OPTION = click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="A .keras model or model directory [default: ./composer-model if trained, else the bundled model].",
)


@main.command()
@_MODEL_OPTION
@click.option(
    "--length",
    "num_events",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="How many events to generate (an event is a time shift, note pitch, velocity, duration, ...).",
)
@click.option(
    "--bars",
    "num_bars",
    type=click.IntRange(min=1),
    default=None,
    help="Generate this many bars instead of --length events; the piece ends on the bar line.",
)
@click.option(
    "--ending",
    is_flag=True,
    help=f"Then go on, at most {ENDING_BARS} bars, to end on a cadence (V-I or IV-I on the tonic, on a strong "
    "beat) where the model ends the piece, or else where it was likeliest to.",
)
@_with_options(_SAMPLING_OPTIONS)
@click.option("--primer", type=click.Path(path_type=Path), default=None, help="A MIDI file to continue.")
@click.option("--primer-bars", type=click.IntRange(min=1), default=None, help="Use only the primer's first K bars.")
@click.option(
    "--include-primer/--no-include-primer",
    default=True,
    show_default=True,
    help="Keep the primer at the start of the output.",
)
@click.option(
    "--loop",
    is_flag=True,
    help="End on the bar line after the last note starts (notes ended there, a rest fills the bar): "
    "whole bars for a DAW clip.",
)
@click.option("--time-signature", default=None, help="For example 3/4.")
@_with_options(_CONSTRAINT_OPTIONS)
@_avoid_parallels(default=False)
@_with_options(_OUTPUT_OPTIONS)
@click.option(
    "--from-sidecar",
    type=click.Path(path_type=Path),
    default=None,
    help="Make the file a sidecar (FILE.json, written beside every file) describes again, byte for byte.",
)
def generate(
    model,
    primer,
    primer_bars,
    include_primer,
    loop,
    time_signature,
    num_events,
    num_bars,
    ending,
    from_sidecar,
    **sampling,
) -> None:
    """Compose new music with a trained model and write it as MIDI (with a JSON sidecar to make it again)."""
    from composer.artifacts import resolve_model
    from composer.generation.output import generate_files
    from composer.generation.sidecar import read_sidecar, request_from_sidecar

    context = click.get_current_context()
    if from_sidecar is not None:
        _refuse_given(
            context,
            [name for name in context.params if name not in ("model", "out", "force", "from_sidecar")],
            "--from-sidecar makes the file exactly as recorded; only --model, --out and --force apply",
        )
        model_path = resolve_model(model or Path(read_sidecar(from_sidecar)["model"]["path"]))[0]
        where = {"out": sampling["out"], "force": sampling["force"]}
        for path in generate_files(request_from_sidecar(from_sidecar, model_path, **where), model_path):
            click.echo(f"wrote {path}")
        return
    _compose(
        model,
        sampling,
        num_events=num_events,
        num_bars=num_bars,
        ending_bars=ENDING_BARS if ending else 0,
        primer=primer,
        primer_bars=primer_bars,
        include_primer=include_primer,
        loop=loop,
        time_signature=_parse_time_signature(time_signature),  # refused before any output
    )


@main.command()
@click.argument("melody", type=click.Path(path_type=Path))
@click.option("--part", default=None, help="The melody's part, by name or number (from 1) [default: the highest part].")
@click.option(
    "--melody-program",
    default=None,
    help="Play the melody on this instrument (General MIDI number or name) [default: its own].",
)
@_MODEL_OPTION
@_with_options(_SAMPLING_OPTIONS)
@_with_options(_CONSTRAINT_OPTIONS)
@_avoid_parallels(default=True)
@click.option(
    "--cadence/--no-cadence",
    default=True,
    show_default=True,
    help="Close on the tonic, root in the bass, after the dominant or subdominant on the beat before the "
    "melody's last note (where the melody ends on the tonic chord; not with --chords).",
)
@_with_options(_OUTPUT_OPTIONS)
def harmonize(melody, part, melody_program, model, cadence, **sampling) -> None:
    """Keep the melody of a MIDI file note for note and have the model write the parts under it."""
    from composer.events import DRUMS

    program = None if melody_program is None else _program(melody_program, "--melody-program")
    if program == DRUMS:
        raise ComposerError("--melody-program drums: a melody needs a pitched instrument")
    _compose(model, sampling, melody=melody, melody_part=part, melody_program=program, cadence=cadence)


def _compose(model, sampling: dict, **request) -> None:
    """Checks the options shared by generate and harmonize, names the model and seed, and writes the files."""
    import random

    from composer.artifacts import resolve_model
    from composer.generation.output import generate_files
    from composer.generation.request import GenerateRequest
    from composer.generation.sample import SamplingOptions

    options = SamplingOptions(
        temperature=sampling["temperature"],
        pitch_temperature=sampling["pitch_temperature"],
        top_k=sampling["top_k"],
        top_p=sampling["top_p"],
        repetition_penalty=sampling["repetition_penalty"],
        no_repeat_ngram=sampling["no_repeat_ngram"],
    )
    constraints = _constraints(sampling)  # refused before any output
    if sampling["chords"] is not None:
        from composer.generation.chords import parse_progression

        parse_progression(sampling["chords"])
    model_path, origin = resolve_model(model)
    click.echo(f"model: {model_path} ({origin})")
    seed = sampling["seed"]
    if seed is None:
        seed = random.randrange(2**31)
        click.echo(f"seed: {seed}")
    formats = tuple(dict.fromkeys(sampling["formats"]))
    request = GenerateRequest(
        num_files=sampling["num_files"],
        out=sampling["out"],
        seed=seed,
        options=options,
        constraints=constraints,
        qpm=sampling["tempo"],
        force=sampling["force"],
        formats=formats + (("png",) if sampling["plot"] else ()) + (("wav",) if sampling["wav"] else ()),
        title=sampling["title"],
        chords=sampling["chords"],
        avoid_parallels=sampling["avoid_parallels"],
        **request,
    )
    for path in generate_files(request, model_path):
        click.echo(f"wrote {path}")


def _parse_time_signature(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        numerator, denominator = (int(part) for part in text.split("/"))
    except ValueError:
        raise ComposerError(f"--time-signature {text!r}: give it as N/D, e.g. 3/4") from None
    if numerator < 1 or denominator not in TIME_SIGNATURE_DENOMINATORS:
        allowed = ", ".join(map(str, TIME_SIGNATURE_DENOMINATORS))
        raise ComposerError(f"--time-signature {text!r}: need N >= 1 and D one of {allowed}")
    return numerator, denominator


def _constraints(sampling: dict):
    """The hard limits typed after `generate`: --key D --scale minor --pitch-range 48-84 --program violin."""
    from composer.generation.sample import Constraints
    from composer.scales import scale_pitch_classes

    low, high = _pitch_range(sampling["pitch_range"])
    return Constraints(
        pitch_classes=scale_pitch_classes(sampling["key"], sampling["scale"]),
        min_pitch=low,
        max_pitch=high,
        programs=frozenset(map(_program, sampling["programs"])) or None,
        max_polyphony=sampling["max_polyphony"],
    )


def _pitch_range(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 127
    try:
        low, high = (int(part) for part in text.split("-"))
    except ValueError:
        raise ComposerError(f"--pitch-range {text!r}: give LOW-HIGH in MIDI numbers, e.g. 48-84") from None
    if not 0 <= low <= high <= 127:
        raise ComposerError(f"--pitch-range {text!r}: need 0 <= LOW <= HIGH <= 127")
    return low, high


def _program(text: str, option: str = "--program") -> int:
    """A General MIDI program from its number or name; DRUMS for the drum kit."""
    from composer.events import DRUMS
    from composer.midi_io import program_number

    if text.strip().lower() in ("drums", "drum", "percussion"):
        return DRUMS
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    number = program_number(text)
    if number is None:
        raise ComposerError(f"{option} {text!r}: not a General MIDI program number (0-127) or name")
    return number


@main.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@_MODEL_OPTION
@click.option(
    "--train-data",
    type=click.Path(path_type=Path),
    default=None,
    help="The model's training folder, for the n-gram baseline [default: the folder recorded in the model].",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    default=None,
    help="Compare the music itself with the pieces in this folder, instead of scoring DATA.",
)
@click.option(
    "--copy-check",
    is_flag=True,
    help="Instead of scoring DATA: how much of the generated pieces also occurs in the training files.",
)
@click.option(
    "--copy-bars",
    type=click.FloatRange(min=0, min_open=True),
    default=COPY_THRESHOLD_BARS,
    show_default=True,
    help="With --copy-check: flag pieces sharing this many bars in a row (in any key) with training, counted "
    "as the training files' events per bar.",
)
@click.option(
    "--generated",
    type=click.Path(path_type=Path),
    default=None,
    help="With --reference or --copy-check: the generated pieces [default: sample --samples from the model].",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1, max=256),
    default=20,
    show_default=True,
    help="With --reference and no --generated: how many pieces to sample.",
)
@click.option(
    "--length",
    "num_events",
    type=click.IntRange(min=1),
    default=400,
    show_default=True,
    help="Events per sampled piece.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the sampled pieces.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="With --reference: also write report.md, report.json and features.png into this folder.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing report.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="As for `composer train`.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Encoding processes [default: all cores].")
def evaluate(
    data,
    model,
    train_data,
    reference,
    copy_check,
    copy_bars,
    generated,
    samples,
    num_events,
    seed,
    report_dir,
    force,
    as_json,
    cache_dir,
    workers,
) -> None:
    """How well a model predicts the MIDI files in DATA (NLL per event and per note, by kind of event, perplexity,
    accuracy, n-gram baseline); with --reference, how close generated music is to real music (pitch, harmony,
    rhythm, texture and instrument statistics, and whether a classifier can tell the two apart);
    with --copy-check, whether generated music copies the training files."""
    from composer.artifacts import resolve_model

    if (data is not None) + (reference is not None) + copy_check != 1:
        raise UserError("give one of: DATA to score a model on, --reference FOLDER to compare music, --copy-check")
    sampling = ["samples", "num_events", "seed"]  # they make the pieces when no --generated folder is given
    unused = {
        "data": ["generated", *sampling, "report_dir", "force", "copy_bars"],
        "reference": ["train_data", "copy_bars"]
        + (["model", *sampling] if generated else [])
        + ([] if report_dir else ["force"]),
        "copy_check": ["report_dir", "force"] + (sampling if generated else []),
    }["data" if data is not None else "reference" if reference is not None else "copy_check"]
    _refuse_given(click.get_current_context(), unused, "does not apply to this kind of evaluation")
    pieces = {"generated_folder": generated, "samples": samples, "num_events": num_events, "seed": seed}
    if copy_check:
        from composer.evaluation.evaluate import copy_check as run_copy_check
        from composer.evaluation.evaluate import format_copy_report

        result = run_copy_check(
            resolve_model(model)[0],
            train_data=train_data,
            threshold_bars=copy_bars,
            cache_dir=cache_dir,
            workers=workers,
            **pieces,
        )
        click.echo(json.dumps(result, indent=2) if as_json else format_copy_report(result))
    elif reference is None:
        _evaluate_likelihood(*resolve_model(model), data, train_data, as_json, cache_dir, workers)
    else:
        _compare_music(reference, None if generated else resolve_model(model)[0], pieces, report_dir, force, as_json)


def _compare_music(reference, model_path, pieces: dict, report_dir, force: bool, as_json: bool) -> None:
    from composer.evaluation.evaluate import compare_music, write_music_report
    from composer.evaluation.features import format_report

    result = compare_music(reference, model_path=model_path, **pieces)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))
    for path in write_music_report(result, report_dir, force=force) if report_dir else ():
        click.echo(f"wrote {path}", err=as_json)


def _evaluate_likelihood(model_path, origin, data, train_data, as_json, cache_dir, workers) -> None:
    from composer.evaluation.evaluate import evaluate_folder

    with _FileProgress() as progress:
        result = evaluate_folder(
            model_path, data, train_data=train_data, cache_dir=cache_dir, workers=workers, on_file=progress
        )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    ngram = result["ngram"]
    click.echo(f"model: {model_path} ({origin})")
    click.echo(
        f"{result['data']['files_used']} files, {result['events']} events: {result['nll_per_event']:.4f} "
        f"nats/event, perplexity {result['perplexity']:.3f}, accuracy {result['accuracy']:.1%}"
    )
    _echo_nll_by_kind(result)
    if "unavailable" in ngram:
        click.echo(f"n-gram baseline: {ngram['unavailable']}")
        return
    fitted = f"{ngram['train_files']} training files"
    if ngram["fitted_files"] < ngram["train_files"]:
        fitted = f"the first {ngram['fitted_files']} of {fitted} ({ngram['fitted_events']} events)"
    click.echo(
        f"n-gram baseline (order {ngram['order']}, fitted on {fitted}): "
        f"{ngram['nll_per_event']:.4f} nats/event, perplexity {ngram['perplexity']:.3f}"
    )


def _echo_nll_by_kind(result: dict) -> None:
    """NLL per note, then one line per kind of event, the kind that costs the most first."""
    per_note = "n/a" if result["nll_per_note"] is None else f"{result['nll_per_note']:.4f}"
    click.echo(f"NLL per note: {per_note} nats ({result['notes']} notes); by kind of event predicted:")
    for kind, part in result["nll_by_kind"].items():
        share = "n/a" if part["share"] is None else f"{part['share']:.1%}"
        click.echo(f"  {kind}: {part['nll']:.4f} nats/event over {part['events']} events, {share} of the NLL")


if __name__ == "__main__":
    main()
