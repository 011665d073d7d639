"""`composer train`: fit the LSTM on a MIDI folder with checkpoints, resume and a final report.

Safety first: every file is written atomically, an existing run is never
replaced without --force, and --resume continues from the last completed epoch
with the saved configuration and optimizer state (after a crash, kill -9 or
Ctrl-C). Every random choice derives from the recorded seed.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from composer import artifacts
from composer.atomic import read_json, write_json
from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.data.corpus import representation_problems
from composer.data.prepare import is_cache, read_manifest, shard_files
from composer.data.training_data import TrainingData, load_training_data, steps_per_epoch, validation_steps
from composer.errors import ComposerError
from composer.events import token_names, vocabulary
from composer.model.ngram import fit_baseline
from composer.render.plot import plot_losses
from composer.training import run_state
from composer.training.distribute import (
    Cluster,
    agree_on_start,
    check_replicas,
    cluster_from_env,
    lost_member,
    make_strategy,
    ready_for_fit,
    weights_fingerprint,
)
from composer.training.run_state import FineTuningBase, RunState


@dataclass(frozen=True)
class TrainRequest:
    """Everything `composer train` was asked to do."""

    data: Path | None
    out: Path = artifacts.DEFAULT_MODEL_DIR
    encoding: EncodingConfig = EncodingConfig()
    model: ModelConfig = ModelConfig()
    training: TrainConfig = TrainConfig()
    force: bool = False
    resume: bool = False
    cache_dir: Path | None = None
    workers: int | None = None
    init_from: Path | None = None  # fine-tune this model: its encoding and network, new data and training
    fine_tune_dropout: float | None = None  # with init_from: its dropout instead of the base model's
    distribute: str = "none"  # see composer.training.distribute.MODES


def train(request: TrainRequest, report: Callable[[str], None] = print, on_file=None) -> dict[str, Any]:
    """Run (or resume) training; returns the final summary, or {"interrupted": True, ...}.

    In a worker group every worker runs this; only the chief writes to --out, which
    every worker must be able to read (a shared folder) to resume a restarted group.
    """
    started = time.time()
    cluster = cluster_from_env(request.distribute)
    out, writes = request.out, cluster.is_chief
    resume = request.resume or _restarted_group(request, cluster)
    if writes or resume:
        artifacts.check_output_dir(out, force=request.force, resume=resume)
    elif not request.force and _finished_run(out):  # as the chief refuses it: the others must not wait for it
        raise ComposerError(f"{out} already holds a finished run; pass --force to replace it")
    state = _resumed_state(request, report) if resume else _new_state(request)
    _check_transposition(state)
    elapsed_before = state.elapsed_seconds  # by earlier sessions of the run
    if cluster.mode == "multi-worker" and not is_cache(Path(state.data)):
        raise ComposerError(
            "a worker group trains from a prepared cache, each worker on its own shards: "
            f"run `composer prepare {state.data} --out CACHE` and train on CACHE"
        )
    data = load_training_data(
        Path(state.data),
        state.encoding,
        state.training,
        cache_dir=request.cache_dir,
        workers=request.workers,
        on_file=on_file,
    )
    _check_carry_state(state.training, data, cluster)
    state = _with_data(state, data, cluster)
    report(_describe_corpus(state.data_summary))
    steps = steps_per_epoch(data, state.training, cluster.workers)
    if writes:  # only now: the data is usable
        artifacts.prepare_output_dir(out, force=request.force, resume=resume)
    if state.ngram is None and writes:  # only the chief reports it
        state = replace(
            state, ngram=fit_baseline(data.train_pieces, data.valid_pieces, len(vocabulary(state.encoding)))[1]
        )
        report(
            f"n-gram baseline (order {state.ngram['order']}): "
            f"validation NLL {state.ngram['nll_per_event']:.4f} nats/event"
        )
    # Saving reads variables through collective ops, so every worker saves; the others into a folder of their own.
    work = out if writes else Path(tempfile.mkdtemp(prefix=f"composer-worker-{cluster.index}-"))
    try:
        result, state = _fit(out, work, state, data, steps, report, cluster)
    finally:
        if not writes:
            shutil.rmtree(work, ignore_errors=True)
    if result == "interrupted" and writes:  # what is on disk, not in memory: Ctrl-C may have hit mid-checkpoint
        state = run_state.load(out)
    state = replace(state, elapsed_seconds=elapsed_before + time.time() - started)
    if result == "interrupted":
        state = replace(state, status="interrupted")
        if writes:
            run_state.save(out, state)
        return {"interrupted": True, "epochs_done": state.epoch, "out": str(out)}
    if not writes:
        return {"worker": cluster.index, "epochs": state.epoch}
    return _finish(out, state, data.valid_pieces)


def _with_data(state: RunState, data: TrainingData, cluster: Cluster) -> RunState:
    """The run as this session reads its data: what the corpus held, how it was split, on what engine, and how
    often each event occurs (a fine-tuned model has seen the events of its first training too)."""
    counts = data.event_counts.copy()
    if state.init_from:
        counts += np.asarray(state.init_from.event_counts)
    return replace(
        state,
        data_summary=data.summary,
        split=data.split,
        event_counts=tuple(counts.tolist()),
        distribute={"mode": cluster.mode, "workers": cluster.workers},
    )


def _check_transposition(state: RunState) -> None:
    """Random transposition would move the pieces out of the one key a one-key encoding writes them in."""
    if state.encoding.one_key and state.training.transpose_semitones:
        raise ComposerError(
            "--transpose moves pieces out of C major and A minor, where this encoding writes every piece; "
            "leave it off, or encode with --keys-as-written"
        )


def _check_carry_state(training: TrainConfig, data: TrainingData, cluster: Cluster) -> None:
    """A carried state lives in one process's LSTM, one lane of the stream per batch row: no strategy may
    split the batch, and a cache's shards are not read as one stream."""
    if training.carry_state and (data.cache is not None or cluster.mode in ("mirrored", "multi-worker")):
        raise ComposerError(
            "--carry-state trains in one process from a MIDI folder; "
            "drop it to train on a prepared cache or with --distribute"
        )


def _finished_run(out: Path) -> bool:
    path = out / artifacts.STATE_FILE
    return path.exists() and read_json(path).get("status") == "finished"  # a peek: any version's file


def _restarted_group(request: TrainRequest, cluster: Cluster) -> bool:
    """Whether --out holds an unfinished run of this worker group to pick up without --resume.

    A cluster restarts a failed group with the same command (a Kubernetes Job, say), so,
    like Keras' BackupAndRestore, the run continues from its last completed epoch.
    """
    path = request.out / artifacts.STATE_FILE
    if cluster.mode != "multi-worker" or request.force or not path.exists() or _finished_run(request.out):
        return False
    changed = _changed_settings(run_state.load(request.out), request)
    if changed:
        raise ComposerError(
            f"{request.out} holds an unfinished run with other settings ({'; '.join(changed)}): "
            "pass --resume to continue it as it was, or --force to start again"
        )
    return True


def _changed_settings(state: RunState, request: TrainRequest) -> list[str]:
    """Each setting this command asks for that differs from the run's, as "name <run's value> there, <asked> now".
    Compared as configs, so a setting the run's (older) version did not record counts at its default."""
    pairs = [(state.training, request.training)]
    if not state.init_from:  # a fine-tuned network is the base model's, whatever --units says
        pairs.append((state.model, request.model))
    return [
        f"{name} {value} there, {asked} now"
        for recorded, requested in pairs
        for (name, value), asked in zip(recorded.to_dict().items(), requested.to_dict().values())
        if value != asked
    ]


def _new_state(request: TrainRequest) -> RunState:
    if request.data is None:
        raise ComposerError("give the folder of MIDI files to train on")
    data = str(request.data.resolve())
    if request.init_from is not None:
        return _fine_tuning_state(request.init_from, request, data)
    return RunState(data, _encoding_of(request.data, request.encoding), request.model, request.training)


def _encoding_of(data: Path, requested: EncodingConfig) -> EncodingConfig:
    """A prepared cache was encoded once and for all: its encoding is the run's."""
    return EncodingConfig.from_dict(read_manifest(data)["encoding"]) if is_cache(data) else requested


def _fine_tuning_state(model_path: Path, request: TrainRequest, data: str) -> RunState:
    """A run that fine-tunes ``model_path``: its encoding and network, once it is clear they suit the new data."""
    from composer.generation.inference import check_layers

    check_layers(model_path)  # a foreign network is refused before its weights are read
    if request.out.resolve() in model_path.resolve().parents:
        raise ComposerError(
            f"--init-from {model_path} lies inside --out {request.out}, which a new run clears; "
            "copy the model elsewhere first, or choose another --out"
        )
    metadata, config = artifacts.model_encoding(model_path)
    problems = representation_problems(request.data, config)
    if problems:
        raise ComposerError(
            f"{model_path} cannot represent the music in {request.data}: {'; '.join(problems)}. "
            "Train a new model on it instead (without --init-from)"
        )
    base = FineTuningBase(str(model_path.resolve()), tuple(metadata["event_counts"]), metadata["data"].get("folder"))
    network = ModelConfig.from_dict(metadata["model"])
    if request.fine_tune_dropout is not None:  # dropout shapes the training only, not the weights
        network = replace(network, dropout=request.fine_tune_dropout)
    return RunState(data, config, network, request.training, init_from=base)


def _resumed_state(request: TrainRequest, report) -> RunState:
    """The saved run; DATA, when given again, replaces the recorded folder (for a corpus that moved)."""
    state = run_state.load(request.out)
    if request.data is not None and request.data.resolve() != Path(state.data):
        report(f"data: reading {request.data} instead of the recorded {state.data}")
        state = replace(state, data=str(request.data.resolve()))
    return state


def _describe_corpus(summary: dict[str, Any]) -> str:
    skipped = ", ".join(f"{count} {reason}" for reason, count in summary["skipped_by_reason"].items())
    return (
        f"data: {summary['files_used']} files used, {summary['files_skipped']} skipped"
        + (f" ({skipped})" if skipped else "")
        + (f", {summary['duplicates_dropped']} duplicates dropped" if summary["duplicates_dropped"] else "")
        + f", {summary['tokens']} events"
        + (
            f" (a prepared cache of {summary['shards']} shards)"
            if "shards" in summary
            else f" ({summary['cache_hits']} files from cache)"
        )
    )


def _fit(
    out: Path, work: Path, state: RunState, data: TrainingData, steps: int, report, cluster: Cluster
) -> tuple[str, RunState]:
    """Run the epochs still to do, resuming from ``out`` and checkpointing into ``work``;
    ('done' or 'interrupted', the run as it then stands) (NaN raises)."""
    from composer.tf_runtime import keras

    training = state.training
    one_device = training.carry_state and cluster.mode == "auto"
    strategy, mode = make_strategy(Cluster() if one_device else cluster)  # first: before any other TensorFlow work
    state = replace(state, distribute={**state.distribute, "mode": mode})
    if strategy:
        check_replicas(strategy.num_replicas_in_sync, training.batch_size, training.mixed_precision)
    keras.utils.set_random_seed(training.seed)
    if state.epochs_over():
        return "done", state  # only the model is left to publish
    scope = strategy.scope if strategy else nullcontext
    with scope(), _compute_precision(training.mixed_precision, report):
        model = _model(out, state, steps, report)
    ready_for_fit(model, strategy)
    if cluster.workers > 1:
        agree_on_start(strategy, state.epoch, weights_fingerprint(model))
    train_data, valid_data, valid_steps = _datasets(data, state, steps, strategy, cluster)
    guard, checkpointer, callbacks = _callbacks(work, state, training.sequence_length * training.batch_size)
    callbacks.append(dropout_seeds(training.seed))
    if training.carry_state:
        callbacks.append(state_reset())
    run_state.save(work, state)
    try:
        with _sigterm_as_interrupt(), scope():
            model.fit(
                train_data,
                validation_data=valid_data,
                validation_steps=valid_steps,
                epochs=training.epochs,
                initial_epoch=state.epoch,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,  # the dataset shuffles itself, reproducibly
                verbose=1 if sys.stdout.isatty() else 2,  # a live bar for people, one line per epoch for logs
            )
    except KeyboardInterrupt:  # the epoch in progress is dropped: the checkpoint and state.json agree
        return "interrupted", checkpointer.state
    except Exception as error:
        if not lost_member(error, cluster):
            raise
        raise ComposerError(
            f"worker {cluster.index}: the group lost a worker during epoch {checkpointer.state.epoch + 1} "
            f"({type(error).__name__} in a collective step); the epochs completed before it "
            f"({checkpointer.state.epoch}) are kept: start every worker "
            "again with the same command and the group resumes after them"
        ) from None
    if cluster.workers > 1:
        report(f"worker {cluster.index}: final weights fingerprint {weights_fingerprint(model)}")
    state = checkpointer.state
    if guard.failed_at:
        run_state.save(work, replace(state, status="failed"))
        kept = (
            f"the last good checkpoint (epoch {state.epoch}) is kept in {out / state.checkpoint}"
            if state.epoch
            else "no epoch had completed, so there is no checkpoint"
        )
        raise ComposerError(
            f"training diverged: the loss became NaN or infinite in epoch {guard.failed_at[0] + 1}; "
            f"{kept}. Lower --learning-rate and start again with --force"
        )
    return "done", state


def _model(out: Path, state: RunState, steps: int, report):
    """The checkpointed model of a resumed run, or a new (or fine-tuned) one, compiled."""
    from composer.model.network import build_model, compile_model
    from composer.tf_runtime import keras

    training = state.training
    if state.epoch > 0:
        report(f"resuming after epoch {state.epoch} of {training.epochs}")
        return keras.models.load_model(out / state.checkpoint)
    stateful_batch = training.batch_size if training.carry_state else None
    model = build_model(state.model, len(vocabulary(state.encoding)), stateful_batch)
    if state.init_from:
        _load_base_weights(model, Path(state.init_from.path))
        report(f"fine-tuning {state.init_from.path}")
    total_steps = training.epochs * steps
    warmup = min(training.warmup_steps, total_steps // 10)  # a small folder must not spend its run warming up
    compile_model(model, training.learning_rate, warmup, total_steps, training.clipnorm)
    return model


def _datasets(data: TrainingData, state: RunState, steps: int, strategy, cluster: Cluster):
    """(training batches, validation batches, validation steps or None for all) for this worker."""
    from composer.data import dataset

    encoding, training, layout, epoch = state.encoding, state.training, state.model.context, state.epoch
    if data.cache is None:  # in memory; a strategy splits each global batch between its replicas
        streams = [dataset.TokenStream(pieces, encoding, layout) for pieces in (data.train_pieces, data.valid_pieces)]
        if training.carry_state:
            return (
                dataset.lane_training_dataset(streams[0], encoding, training, steps, initial_epoch=epoch),
                dataset.lane_validation_dataset(streams[1], training),
                None,
            )
        return (
            dataset.training_dataset(streams[0], encoding, training, initial_epoch=epoch),
            dataset.validation_dataset(streams[1], training),
            None,
        )
    shards = {split: shard_files(data.cache, data.manifest, split) for split in ("train", "valid")}
    valid_steps = validation_steps(data, training, cluster.workers if strategy else 0)

    def training_batches(input_context=None):
        return dataset.shard_training_dataset(shards["train"], steps, encoding, training, epoch, input_context, layout)

    def validation_batches(input_context=None):
        return dataset.shard_validation_dataset(shards["valid"], valid_steps, encoding, training, input_context, layout)

    if strategy is None:
        return training_batches(), validation_batches(), valid_steps
    return (
        strategy.distribute_datasets_from_function(training_batches),
        strategy.distribute_datasets_from_function(validation_batches),
        valid_steps,
    )


def _load_base_weights(model, path: Path) -> None:
    """The weights of the model being fine-tuned (only weights: nothing in the file is run)."""
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:
        raise ComposerError(f"cannot read the weights of --init-from {path} ({str(error).splitlines()[0]})") from None


def _callbacks(out: Path, state: RunState, tokens_per_step: int) -> tuple[Any, Any, list]:
    """(the NaN guard, the checkpointer that holds the run's state, every callback)."""
    from composer.tf_runtime import keras

    class Throughput(keras.callbacks.Callback):
        """Training events per second (validation excluded) into the epoch's logs."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started, self.train_seconds = time.perf_counter(), None

        def on_test_begin(self, logs=None):
            self.train_seconds = self.train_seconds or time.perf_counter() - self.started

        def on_epoch_end(self, epoch, logs=None):
            seconds = self.train_seconds or time.perf_counter() - self.started
            logs["events_per_s"] = round(self.params["steps"] * tokens_per_step / seconds)

    class NaNGuard(keras.callbacks.Callback):
        """Stops at the first non-finite loss, before anything is checkpointed."""

        failed_at: tuple[int, int] | None = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if not math.isfinite(float(logs.get("loss", 0.0))):
                self.failed_at = (self.epoch, batch)
                self.model.stop_training = True

    class Checkpointer(keras.callbacks.Callback):
        """Last and best checkpoints, resumable state and early stopping, once per epoch.

        Each epoch gets a new file and state.json is the only pointer to it, so a
        process killed at any moment leaves a state that names a complete checkpoint.
        """

        def __init__(self, state: RunState):
            super().__init__()
            self.state = state
            # each epoch's state holds the run's time so far: a session killed mid-run still counts in its total
            self.elapsed_before, self.started = state.elapsed_seconds, time.time()

        def on_epoch_end(self, epoch, logs=None):
            if guard.failed_at or not math.isfinite(logs.get("val_loss", math.nan)):
                guard.failed_at = guard.failed_at or (epoch, -1)
                self.model.stop_training = True
                return
            checkpoint = artifacts.CHECKPOINT_DIR / f"epoch-{epoch + 1:04d}.keras"
            artifacts.save_model(self.model, out / checkpoint)
            self.state = replace(
                self.state.after_epoch(epoch, logs, checkpoint),
                elapsed_seconds=self.elapsed_before + time.time() - self.started,
            )
            if self.state.epochs_over():
                self.model.stop_training = True  # "finished" waits for model.keras: a kill before it resumes
            run_state.save(out, self.state)
            artifacts.remove_stale_checkpoints(out, keep={self.state.checkpoint, self.state.best_checkpoint})

    guard, checkpointer = NaNGuard(), Checkpointer(state)
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(out / "logs"), write_graph=False)
    return guard, checkpointer, [Throughput(), guard, checkpointer, tensorboard]


def dropout_seeds(seed: int):
    """Each epoch's dropout masks follow from (seed, epoch) alone. A checkpoint does not hold the random
    generators' state, so a resumed run would otherwise draw other masks than an uninterrupted one (as
    every worker of a restarted group does)."""
    from composer.tf_runtime import keras

    class DropoutSeeds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            generators = [layer.seed_generator for layer in self.model.layers if hasattr(layer, "seed_generator")]
            for index, generator in enumerate(generators):
                generator.state.assign(np.array([seed * 1000 + index + 1, epoch << 32], dtype=generator.state.dtype))

    return DropoutSeeds()


def state_reset():
    """For a network that carries its state (``build_model``'s ``stateful_batch``): every lane starts each epoch
    and each validation from a zero state, since an epoch deals the pieces out anew."""
    from composer.tf_runtime import keras

    class StateReset(keras.callbacks.Callback):
        def reset(self, *args) -> None:
            for layer in self.model.layers:
                if getattr(layer, "stateful", False):
                    layer.reset_state()

        on_epoch_begin = on_test_begin = reset

    return StateReset()


@contextmanager
def _compute_precision(mixed: bool, report):
    """Layers built inside compute in float16 and keep float32 weights; Keras then scales the loss."""
    from composer.tf_runtime import keras, tf

    if not mixed:
        yield
        return
    if not tf.config.list_logical_devices("GPU"):
        report("note: --mixed-precision speeds up GPUs; on this CPU it makes training slower")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:  # the policy is process-wide
        keras.config.set_dtype_policy(previous)


def _published(model, state: RunState):
    """The same weights in a float32 network for batches of any size and no carried state: what generate
    and evaluate load, on any machine, whatever the training computed in or carried."""
    from composer.model.network import build_model

    published = build_model(state.model, len(vocabulary(state.encoding)))
    published.set_weights(model.get_weights())
    return published


@contextmanager
def _sigterm_as_interrupt():
    """A scheduler's SIGTERM stops training just like Ctrl-C does: the completed epochs are kept."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(out: Path, state: RunState, valid_pieces) -> dict[str, Any]:
    """Evaluate the best checkpoint on whole validation pieces and publish it as OUT/model.keras."""
    from composer.model.scoring import sequence_metrics
    from composer.tf_runtime import keras

    best = _published(keras.models.load_model(out / state.best_checkpoint, compile=False), state)
    state = replace(state, metrics=sequence_metrics(best, valid_pieces, config=state.encoding))
    metadata = _metadata(state)
    artifacts.save_model(best, out / artifacts.MODEL_FILE, metadata)
    write_json(out / "metadata.json", metadata)
    run_state.save(out, replace(state, status="finished"))  # last: a chief killed before this publishes again
    plot_losses(state.history, out / "loss.png")
    return {
        "out": str(out),
        "model": str(out / artifacts.MODEL_FILE),
        "epochs": state.epoch,
        "seconds": state.elapsed_seconds,
        "validation": state.metrics,
        "ngram": state.ngram,
    }


def _metadata(state: RunState) -> dict[str, Any]:
    base = state.init_from
    return {
        "metadata_version": artifacts.METADATA_VERSION,
        "encoding": state.encoding.to_dict(),
        "model": state.model.to_dict(),
        "training": state.training.to_dict(),
        "distribute": state.distribute,
        "vocabulary": token_names(range(len(vocabulary(state.encoding))), state.encoding),
        "event_counts": list(state.event_counts),
        "fine_tuned_from": base and {"model": base.path, "data": base.data},
        "data": {"folder": state.data, **state.data_summary, **state.split},
        "history": state.history,
        "metrics": {"validation": state.metrics, "ngram_baseline": state.ngram},
        "training_seconds": state.elapsed_seconds,
        "versions": artifacts.package_versions(),
    }
