"""Composer against baselines timed in the same run: generation, training, ingestion and the CLI.

Every figure is reported with a ratio to a baseline measured in the same run on
the same machine (the ``vs`` column):

- generation events/s: composer's NumPy sampler (single stream, batch 16) vs a
  stateful ``tf.function`` step loop, and that vs the windowed ``model.predict`` loop;
- training tokens/s: composer's pipeline vs a plain ``model.fit`` of the same model,
  and its achieved FLOP/s (analytic count, see ``training_flops_per_token``) as a
  fraction of NumPy float32 matmul FLOP/s (target >= 0.45);
- ingestion files/s: ``load_corpus`` vs ``music21.converter.parse`` on the same
  files; a second (cached) ``load_corpus`` run vs the first;
- wall time of ``composer --help`` and ``composer generate --length 200`` vs a bare
  ``python -c pass``.

    python scripts/bench.py [--only generation,training,ingestion,cli] [--quick] [--sweep]
                            [--tf-threads N] [--data midi_samples] [--json PATH|-]

Results, the FLOP formula and what limits training are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.data.corpus import find_midi_files, load_corpus, split_corpus
from composer.events import START, vocabulary
from composer.generation.inference import NumpyLSTM
from composer.generation.sample import sample_pieces

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("generation", "training", "ingestion", "cli")
WINDOW = 64  # events the windowed model.predict baseline re-reads each step
WARMUP_STEPS = 2
ELEMENTWISE_PER_UNIT = 13  # per LSTM unit and step: 4 bias adds, 3 sigmoids, 2 tanh, 4 products/sums


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; ``QUICK`` is a smoke test."""

    events: int = 400  # generated events per stream
    predict_events: int = 30  # the windowed model.predict loop is ~1000x slower
    # the event-only network (--no-context): its LSTM is what these rates compare; the context input is
    # measured by scripts/quality.py's training times
    generation_model: ModelConfig = ModelConfig(embedding_dim=256, units=512, layers=2, context=False)
    train_steps: int = 20  # timed training steps of the default batch (sweeps time as many tokens)
    repeats: int = 1  # best of, for the training pair
    train_model: ModelConfig = ModelConfig(context=False)
    # composer 0.4's shape, 32 windows of 128 events, which docs/benchmarks.md's figures are for (epochs only bound
    # the dataset's length), random transposition included as it then was; the default shape since, 8 windows of
    # 64, is in the sweep
    training: TrainConfig = TrainConfig(epochs=100, batch_size=32, sequence_length=128, transpose_semitones=6)
    music21_files: int = 20
    corpus_files: int | None = None  # None: the whole --data folder
    command_repeats: int = 3
    matmul_seconds: float = 3.0  # best of many timings: the fastest is the least disturbed
    # (batch, sequence length, units) for --sweep
    sweep: tuple[tuple[int, int, int], ...] = (
        (8, 64, 256),
        (64, 128, 256),
        (128, 128, 256),
        (32, 128, 512),
        (128, 64, 512),
    )


QUICK = Sizes(
    events=20,
    predict_events=5,
    generation_model=ModelConfig(embedding_dim=16, units=32, context=False),
    train_steps=3,
    repeats=1,
    train_model=ModelConfig(embedding_dim=16, units=32, context=False),
    training=TrainConfig(batch_size=4, sequence_length=16, epochs=100),
    music21_files=3,
    corpus_files=12,
    command_repeats=1,
    matmul_seconds=0.1,
    sweep=((8, 16, 32),),
)


@dataclass
class Section:
    """Rows of (name, value, unit, ratio, vs) plus the settings they were measured with."""

    rows: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str, vs: str | None = None, **extra) -> dict:
        """One measurement, with its ratio to the row named ``vs``; ``extra`` goes into the JSON."""
        ratio = None if vs is None else value / self.value(vs)
        self.rows.append({"name": name, "value": value, "unit": unit, "ratio": ratio, "vs": vs, **extra})
        return self.rows[-1]

    def value(self, name: str) -> float:
        return next(row["value"] for row in self.rows if row["name"] == name)


# --- generation -----------------------------------------------------------------------------------


def composer_rate(network: NumpyLSTM, config: EncodingConfig, events: int, batch: int) -> float:
    started = time.perf_counter()
    sample_pieces(network, config, num_events=events, batch=batch, seed=0)
    return events * batch / (time.perf_counter() - started)


def windowed_predict_rate(model, events: int) -> float:
    sequence = [START]
    started = time.perf_counter()
    for _ in range(events):
        logits = model.predict(np.array([sequence[-WINDOW:]]), verbose=0)[0, -1]
        sequence.append(int(np.argmax(logits)))
    return events / (time.perf_counter() - started)


def stateful_tf_function_rate(model, config: ModelConfig, events: int, batch: int) -> float:
    from composer.tf_runtime import tf

    embedding, dense = model.get_layer("embedding"), model.get_layer("logits")
    cells = [model.get_layer(f"lstm_{i}").cell for i in range(config.layers)]

    @tf.function
    def step(events, states):
        x, new_states = embedding(events), []
        for cell, state in zip(cells, states):
            x, state = cell(x, state)
            new_states.append(state)
        return tf.argmax(dense(x), axis=-1, output_type=tf.int32), new_states

    states = [[tf.zeros((batch, config.units)), tf.zeros((batch, config.units))] for _ in cells]
    tokens, states = step(tf.fill((batch,), START), states)  # trace once, outside the timing
    started = time.perf_counter()
    for _ in range(events):
        tokens, states = step(tokens, states)
    tokens.numpy()
    return events * batch / (time.perf_counter() - started)


def bench_generation(sizes: Sizes, args) -> Section:
    from composer.model.network import build_model
    from composer.tf_runtime import keras

    encoding, config, events = EncodingConfig(), sizes.generation_model, sizes.events
    keras.utils.set_random_seed(0)  # random weights cost the same as trained ones
    model = build_model(config, len(vocabulary(encoding)))
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "bench.keras")
        network = NumpyLSTM.load(Path(folder) / "bench.keras")
    section = Section(settings={"model": config.to_dict(), "events_per_stream": events, "window": WINDOW})
    predict = "windowed model.predict, 1 stream"
    section.add(predict, windowed_predict_rate(model, sizes.predict_events), "events/s")
    for batch in (1, 16):
        streams = "1 stream" if batch == 1 else f"batch {batch}"
        tf_rate = stateful_tf_function_rate(model, config, events, batch)
        section.add(f"stateful tf.function, {streams}", tf_rate, "events/s", vs=predict)
        section.add(
            f"composer NumPy, {streams}",
            composer_rate(network, encoding, events, batch),
            "events/s",
            vs=f"stateful tf.function, {streams}",
        )
    return section


# --- training -------------------------------------------------------------------------------------


def training_flops_per_token(config: ModelConfig, vocab_size: int) -> float:
    """FLOPs of one training token: 3x the forward pass (forward, input gradients, weight gradients).

    Forward: embedding lookup 0; LSTM layer 2*4u*(in + u) + 13u; dense 2*u*V; softmax and loss left out.
    """
    forward, inputs = 0.0, config.embedding_dim
    for _ in range(config.layers):
        forward += 2 * 4 * config.units * (inputs + config.units) + ELEMENTWISE_PER_UNIT * config.units
        inputs = config.units
    return 3 * (forward + 2 * config.units * vocab_size)


def matmul_flops(m: int, k: int, n: int, seconds: float) -> float:
    """NumPy float32 (m, k) @ (k, n) FLOP/s, best of repeated timings over about ``seconds``."""
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
    a @ b
    reps, best, deadline = max(1, int(2e8 / (m * k * n))), 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        started = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - started))
    return best


def events_per_second(model, data, steps: int, events_per_step: int, **fit_args) -> float:
    """Fit a short warm-up epoch (graph tracing), then time ``steps`` steps one by one.

    The median step is what counts: on a shared machine a few steps run at half speed
    while another process takes a core, and a total over all steps would swing with them.
    """
    from composer.tf_runtime import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    model.fit(data, epochs=1, steps_per_epoch=WARMUP_STEPS, verbose=0, shuffle=False, **fit_args)
    model.fit(
        data,
        epochs=2,
        initial_epoch=1,
        steps_per_epoch=steps,
        verbose=0,
        shuffle=False,
        callbacks=[StepTimer()],
        **fit_args,
    )
    return events_per_step / float(np.median(seconds))


def fresh_model(
    config: ModelConfig, training: TrainConfig, vocab_size: int, total_steps: int, stateful_batch: int | None = None
):
    from composer.model.network import build_model, compile_model
    from composer.tf_runtime import keras

    keras.utils.set_random_seed(training.seed)
    model = build_model(config, vocab_size, stateful_batch)
    compile_model(model, training.learning_rate, training.warmup_steps, total_steps, training.clipnorm)
    return model


def pipeline_rate(stream, config: ModelConfig, training: TrainConfig, steps: int) -> float:
    from composer.data.dataset import training_dataset

    model = fresh_model(config, training, len(vocabulary(EncodingConfig())), 3 * steps)
    data = training_dataset(stream, EncodingConfig(), training)
    return events_per_second(model, data, steps, training.sequence_length * training.batch_size)


def carried_state_rate(stream, config: ModelConfig, training: TrainConfig, steps: int) -> float:
    """composer's pipeline with --carry-state: a stateful network fed lanes dealt out in NumPy each epoch."""
    from composer.data.dataset import lane_training_dataset
    from composer.data.training_data import lane_steps

    carrying = replace(training, carry_state=True)
    model = fresh_model(config, training, len(vocabulary(EncodingConfig())), 3 * steps, training.batch_size)
    data = lane_training_dataset(stream, EncodingConfig(), carrying, lane_steps(len(stream.tokens), carrying))
    return events_per_second(model, data, steps, training.sequence_length * training.batch_size)


def plain_and_pipeline_rates(stream, sizes: Sizes) -> dict[str, float]:
    """Tokens/s of a plain ``model.fit`` on pre-cut NumPy windows and of composer's pipeline, best of repeats."""
    config, training, steps = sizes.train_model, sizes.training, sizes.train_steps
    length, batch = training.sequence_length, training.batch_size
    windows = stream.tokens[(length * np.arange(stream.num_windows(length)))[:, None] + np.arange(length + 1)]
    best = {"plain": 0.0, "ours": 0.0}
    for _ in range(sizes.repeats):
        model = fresh_model(config, training, len(vocabulary(EncodingConfig())), 3 * steps)
        best["plain"] = max(
            best["plain"],
            events_per_second(model, windows[:, :-1], steps, length * batch, y=windows[:, 1:], batch_size=batch),
        )
        best["ours"] = max(best["ours"], pipeline_rate(stream, config, training, steps))
    return best


def pipeline_rate_without_onednn(args) -> float:
    """composer's pipeline in a child process with oneDNN off, as TensorFlow ships on CPUs without AVX-512.

    TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it loads, hence the second process.
    """
    command = [
        sys.executable,
        __file__,
        "--only",
        "training",
        "--json",
        "-",
        "--data",
        str(args.data),
        "--tf-threads",
        str(args.tf_threads),
        *(["--quick"] if args.quick else []),
    ]
    child = subprocess.run(command, env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}, capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"the oneDNN-off run failed:\n{child.stderr[-3000:]}")
    rows = json.loads(child.stdout)["sections"]["training"]["rows"]
    return next(row["value"] for row in rows if row["name"] == "composer pipeline")


def add_flop_rows(section: Section, name: str, tokens_per_s: float, config: ModelConfig, seconds: float) -> None:
    """Achieved FLOP/s against NumPy's square matmul of the model's size (2 x units) and the 2048^3 peak."""
    references = {}
    for n in (2 * config.units, 2048):
        references[n] = f"NumPy float32 matmul {n}^3" + (" (peak)" if n == 2048 else "")
        if all(row["name"] != references[n] for row in section.rows):  # each size measured once
            section.add(references[n], matmul_flops(n, n, n, seconds), "FLOP/s")
    flops = tokens_per_s * training_flops_per_token(config, len(vocabulary(EncodingConfig())))
    peak = flops / section.value(references[2048])
    section.add(
        name,
        flops,
        "FLOP/s",
        vs=references[2 * config.units],
        tokens_per_s=tokens_per_s,
        fraction_of_peak=peak,
        note=f"{peak:.3g}x the 2048^3 peak",
    )


def bench_training(sizes: Sizes, args) -> Section:
    from composer.data.dataset import TokenStream

    config, training, steps = sizes.train_model, sizes.training, sizes.train_steps
    train_files, _ = split_corpus(load_corpus(args.data, EncodingConfig()), training.valid_fraction)
    stream = TokenStream([f.tokens for f in train_files], EncodingConfig())
    section = Section(
        settings={
            "model": config.to_dict(),
            "batch_size": training.batch_size,
            "sequence_length": training.sequence_length,
            "timed_steps": steps,
            "tf_intra_op_threads": args.tf_threads or "default",
            "training_flops_per_token": training_flops_per_token(config, len(vocabulary(EncodingConfig()))),
        }
    )
    rates = plain_and_pipeline_rates(stream, sizes)
    section.add("plain model.fit", rates["plain"], "tokens/s")
    section.add("composer pipeline", rates["ours"], "tokens/s", vs="plain model.fit")
    section.add(
        "composer pipeline, carried state",
        carried_state_rate(stream, config, training, steps),
        "tokens/s",
        vs="composer pipeline",
    )
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":  # composer switches oneDNN on (composer/tf_runtime.py)
        section.add(
            "composer pipeline, oneDNN off", pipeline_rate_without_onednn(args), "tokens/s", vs="composer pipeline"
        )
    add_flop_rows(section, "composer training, achieved", rates["ours"], config, sizes.matmul_seconds)
    # h @ U, the recurrent matmul Keras' time loop runs at every step: skinny, so far below the square one
    m, k, n = training.batch_size, config.units, 4 * config.units
    section.add(
        f"NumPy float32 matmul {m}x{k} @ {k}x{n} (LSTM step)",
        matmul_flops(m, k, n, sizes.matmul_seconds),
        "FLOP/s",
        vs=f"NumPy float32 matmul {2 * config.units}^3",
    )
    tokens = steps * training.batch_size * training.sequence_length  # each sweep point times as many tokens
    for batch, length, units in sizes.sweep if args.sweep else ():
        swept = ModelConfig(config.embedding_dim, units, config.layers, config.dropout, context=False)
        trial = TrainConfig(**{**training.to_dict(), "batch_size": batch, "sequence_length": length})
        rate = pipeline_rate(stream, swept, trial, max(2, tokens // (batch * length)))
        add_flop_rows(
            section, f"sweep: batch {batch}, length {length}, units {units}", rate, swept, sizes.matmul_seconds
        )
    return section


# --- ingestion and the command line ---------------------------------------------------------------


def files_per_second(work, files: list) -> float:
    started = time.perf_counter()
    work(files)
    return len(files) / (time.perf_counter() - started)


def bench_ingestion(sizes: Sizes, args) -> Section:
    import music21

    files = find_midi_files(args.data)[: sizes.corpus_files]
    sample = files[: sizes.music21_files]
    section = Section(settings={"folder": str(args.data), "files": len(files), "music21_files": len(sample)})
    with tempfile.TemporaryDirectory() as scratch:
        subset, whole = Path(scratch, "subset"), Path(scratch, "whole")
        for folder, chosen in ((subset, sample), (whole, files)):
            folder.mkdir()
            for path in chosen:
                shutil.copy(path, folder / path.name)

        def ours(folder: Path, cache: str, workers: int | None = None):
            return lambda _files: load_corpus(folder, EncodingConfig(), cache_dir=Path(scratch, cache), workers=workers)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            section.add(
                "music21.converter.parse",
                files_per_second(lambda c: [music21.converter.parse(p, forceSource=True) for p in c], sample),
                "files/s",
            )
        section.add(
            "load_corpus, same files, 1 process",
            files_per_second(ours(subset, "a", 1), sample),
            "files/s",
            vs="music21.converter.parse",
        )
        first = f"load_corpus, {len(files)} files, empty cache"
        section.add(first, files_per_second(ours(whole, "b"), files), "files/s")
        section.add(
            f"load_corpus, {len(files)} files, second run (cached)",
            files_per_second(ours(whole, "b"), files),
            "files/s",
            vs=first,
        )
    return section


def command_seconds(command: list[str], repeats: int) -> float:
    best = float("inf")
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, cwd=folder, check=True, capture_output=True)
            best = min(best, time.perf_counter() - started)
    return best


def bench_cli(sizes: Sizes, args) -> Section:
    script = Path(sys.executable).with_name("composer")
    composer = [str(script)] if script.exists() else [sys.executable, "-m", "composer.cli"]
    section = Section(settings={"command": composer, "best_of": sizes.command_repeats, "model": "bundled"})
    repeats = sizes.command_repeats
    section.add("python -c pass", command_seconds([sys.executable, "-c", "pass"], repeats), "s")
    section.add(
        "python -c 'import tensorflow'",
        command_seconds([sys.executable, "-c", "import tensorflow"], repeats),
        "s",
        vs="python -c pass",
    )
    section.add("composer --help", command_seconds([*composer, "--help"], repeats), "s", vs="python -c pass")
    section.add(
        "composer generate --length 200",
        command_seconds([*composer, "generate", "--length", "200", "--seed", "1"], repeats),
        "s",
        vs="python -c pass",
    )
    return section


# --- report ---------------------------------------------------------------------------------------


def machine() -> dict:
    """What the figures were measured on."""
    from composer.tf_runtime import keras, tf

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "blas": f"{blas['name']} {blas.get('version', '')}",
        "load_average_at_start": os.getloadavg()[0],
    }


def print_report(report: dict, out=sys.stdout) -> None:
    """The table: the machine, then one block of rows per section."""
    info = report["machine"]
    load = f"{info['load_average_at_start']:.2f} -> {info.get('load_average_at_end', 0):.2f}"
    print(
        f"{info['cpu']}, {info['cores']} cores; Python {info['python']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}, NumPy {info['numpy']} ({info['blas']}); 1-minute load average {load}",
        file=out,
    )
    for name, section in report["sections"].items():
        print(f"\n{name:<54} {'value':>10} {'unit':<9} {'ratio':>7}  vs", file=out)
        for row in section["rows"]:
            value, unit = (row["value"] / 1e9, "GFLOP/s") if row["unit"] == "FLOP/s" else (row["value"], row["unit"])
            shown = f"{value:>10.3f}" if value < 10 else f"{value:>10,.0f}" if value >= 1000 else f"{value:>10.1f}"
            vs = "; ".join(filter(None, [row["vs"], row.get("note")]))
            print(f"  {row['name']:<52} {shown} {unit:<9} {format_ratio(row['ratio']):>7}  {vs}", file=out)


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--sweep", action="store_true", help="training FLOP/s of other batch/length/units")
    parser.add_argument("--tf-threads", type=int, default=0, help="TensorFlow intra-op threads (0: default)")
    parser.add_argument("--data", type=Path, default=ROOT / "midi_samples")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON ('-': print only the JSON)")
    args = parser.parse_args()
    sections = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    if args.tf_threads:
        from composer.tf_runtime import tf

        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
    sizes = QUICK if args.quick else Sizes()
    report = {"machine": machine(), "quick": args.quick, "sections": {}}
    for name in sections:
        section = globals()[f"bench_{name}"](sizes, args)
        report["sections"][name] = asdict(section)
    report["machine"]["load_average_at_end"] = os.getloadavg()[0]
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
