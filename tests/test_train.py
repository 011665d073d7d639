import json
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.artifacts import read_metadata
from composer.cli import main
from composer.config import CONTEXT_LAYOUT
from composer.midi_io import write_score
from composer.score import Note, Score, Track

from midi_factory import toy_score, write_toy_corpus
from subprocesses import start
from tiny_training import train_args

pytestmark = pytest.mark.slow  # every test here trains, or starts to

SPLIT = ["--valid-fraction", "0.25", "--workers", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_toy_corpus(tmp_path_factory.mktemp("corpus"))


def _train(corpus, out, *extra):
    cache = ["--cache-dir", str(out.parent / "cache")]
    return CliRunner().invoke(main, train_args(corpus, out, *SPLIT, *cache, *extra))


def test_training_leaves_a_complete_self_describing_model(corpus, tmp_path):
    out = tmp_path / "run"
    result = _train(corpus, out, "--epochs", "2", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "not a MIDI file" in result.output
    assert "data: 12 files used, 2 skipped" in result.output
    assert "n-gram baseline (order" in result.output and "nats/event" in result.output
    assert "events_per_s" in result.output

    metadata = read_metadata(out / "model.keras")
    assert metadata["model"] == {
        "embedding_dim": 8,
        "units": 16,
        "layers": 2,
        "dropout": 0.2,
        "context": CONTEXT_LAYOUT,
    }
    assert metadata["training"]["seed"] == 3 and metadata["training"]["epochs"] == 2
    assert metadata["encoding"]["steps_per_quarter"] == 12
    assert metadata["vocabulary"][:3] == ["Pad", "Start", "End"]
    assert metadata["data"]["files_used"] == 12 and 1 <= metadata["data"]["valid_files"] <= 6
    assert len(metadata["history"]["val_loss"]) == 2
    assert metadata["metrics"]["validation"]["nll_per_event"] > 0
    assert metadata["metrics"]["ngram_baseline"]["order"] >= 1
    assert "tensorflow" in metadata["versions"]
    assert json.loads((out / "metadata.json").read_text()) == metadata
    for name in ("loss.png", "state.json"):
        assert (out / name).stat().st_size > 0, name
    state = json.loads((out / "state.json").read_text())
    assert {p.name for p in (out / "checkpoints").iterdir()} == {
        Path(state["checkpoint"]).name,
        Path(state["best_checkpoint"]).name,
    }
    assert any((out / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs"


def test_no_context_trains_the_event_only_network_and_it_generates(corpus, tmp_path):
    result = _train(corpus, tmp_path / "run", "--epochs", "1", "--seed", "3", "--no-context")
    assert result.exit_code == 0, result.output
    model = tmp_path / "run" / "model.keras"
    assert read_metadata(model)["model"]["context"] == 0
    layers = json.loads(zipfile.ZipFile(model).read("config.json"))["config"]["layers"]
    assert [layer["class_name"] for layer in layers].count("InputLayer") == 1
    made = CliRunner().invoke(
        main, ["generate", "--model", str(model), "--length", "60", "--out", str(tmp_path / "a.mid")]
    )
    assert made.exit_code == 0, made.output


def test_existing_model_directory_is_never_replaced_without_asking(corpus, tmp_path):
    out = tmp_path / "run"
    assert _train(corpus, out, "--epochs", "1").exit_code == 0
    before = (out / "model.keras").read_bytes()
    refused = _train(corpus, out, "--epochs", "1")
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert (out / "model.keras").read_bytes() == before
    assert _train(corpus, out, "--epochs", "1", "--force", "--seed", "9").exit_code == 0
    assert read_metadata(out / "model.keras")["training"]["seed"] == 9


def test_force_keeps_the_old_model_when_the_new_data_is_unusable(corpus, tmp_path):
    out = tmp_path / "run"
    assert _train(corpus, out, "--epochs", "1").exit_code == 0
    before = (out / "model.keras").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _train(empty, out, "--epochs", "1", "--force")
    assert result.exit_code == 2 and "no .mid or .midi files" in result.output
    too_small = _train(corpus, out, "--epochs", "1", "--force", "--batch-size", "100000")
    assert too_small.exit_code == 2 and "too little data" in too_small.output
    assert (out / "model.keras").read_bytes() == before


def test_out_that_is_a_file_is_a_one_line_error(corpus, tmp_path):
    target = tmp_path / "model.txt"
    target.write_text("mine")
    result = _train(corpus, target, "--epochs", "1")
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output
    assert target.read_text() == "mine"


def test_force_never_deletes_a_folder_that_is_not_a_model(corpus, tmp_path):
    out = tmp_path / "my-music"
    out.mkdir()
    (out / "song.mid").write_bytes(b"precious")
    result = _train(corpus, out, "--epochs", "1", "--force")
    assert result.exit_code == 2 and "not a composer model directory" in result.output
    assert (out / "song.mid").read_bytes() == b"precious"


def test_same_seed_gives_the_same_model(corpus, tmp_path):
    histories = []
    for name in ("a", "b"):
        assert _train(corpus, tmp_path / name, "--epochs", "1", "--seed", "11").exit_code == 0
        histories.append(read_metadata(tmp_path / name / "model.keras")["history"])
    assert histories[0]["loss"] == histories[1]["loss"]
    assert histories[0]["val_loss"] == histories[1]["val_loss"]


def test_diverging_loss_stops_with_a_clear_message(corpus, tmp_path):
    out = tmp_path / "run"
    result = _train(corpus, out, "--epochs", "2", "--learning-rate", "1e38")
    assert result.exit_code == 2
    assert "training diverged: the loss became NaN or infinite" in result.output
    assert "Traceback" not in result.output
    assert not (out / "model.keras").exists()
    assert json.loads((out / "state.json").read_text())["status"] == "failed"


def test_ctrl_c_keeps_the_completed_epochs_and_resume_continues_with_the_saved_settings(corpus, tmp_path):
    out = tmp_path / "run"
    process = _start_long_run(corpus, out)
    _wait_for_epochs(out / "state.json", 1, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "completed epochs are saved" in output and "--resume" in output and "Traceback" not in output
    state = json.loads((out / "state.json").read_text())
    done = state["epoch"]
    assert state["status"] == "interrupted" and 1 <= done < 40

    assert (out / state["checkpoint"]).exists() and state["checkpoint"].endswith(f"epoch-{done:04d}.keras")
    refused = CliRunner().invoke(main, ["train", "--resume", "--out", str(out), "--epochs", "3"])
    assert refused.exit_code == 2 and "--epochs: a resumed run keeps the settings" in refused.output

    _shorten_run(out / "state.json", epochs=done + 2)  # keep the test quick: two more epochs
    result = CliRunner().invoke(
        main, ["train", "--resume", "--out", str(out), "--cache-dir", str(out.parent / "cache")]
    )
    assert result.exit_code == 0, result.output
    assert f"resuming after epoch {done}" in result.output
    metadata = read_metadata(out / "model.keras")
    assert len(metadata["history"]["loss"]) == done + 2
    assert metadata["training"]["seed"] == 5 and metadata["model"]["units"] == 16


def test_kill_9_mid_epoch_loses_at_most_that_epoch(corpus, tmp_path):
    out = tmp_path / "run"
    process = _start_long_run(corpus, out)
    _wait_for_epochs(out / "state.json", 2, process)
    process.kill()
    process.communicate(timeout=60)
    state = json.loads((out / "state.json").read_text())
    done = state["epoch"]
    assert done >= 2 and state["status"] == "running"
    assert state["elapsed_seconds"] > 0, "the killed session's epochs count in the run's time"

    _shorten_run(out / "state.json", epochs=done + 1)
    result = CliRunner().invoke(
        main, ["train", "--resume", "--out", str(out), "--cache-dir", str(out.parent / "cache")]
    )
    assert result.exit_code == 0, result.output
    assert f"resuming after epoch {done}" in result.output
    metadata = read_metadata(out / "model.keras")
    assert len(metadata["history"]["loss"]) == done + 1
    assert metadata["training_seconds"] > state["elapsed_seconds"]
    names = {p.name for p in (out / "checkpoints").iterdir()}
    assert len(names) <= 2 and f"epoch-{done + 1:04d}.keras" in names, names


def _start_long_run(corpus, out):
    options = ["--cache-dir", out.parent / "cache", *"--epochs 40 --patience 40 --seed 5".split()]
    return start([sys.executable, "-m", "composer.cli", *train_args(corpus, out, *SPLIT, *options)])


def _wait_for_epochs(state_file, epochs, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.stdout.read()
        if state_file.exists() and json.loads(state_file.read_text())["epoch"] >= epochs:
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail("training did not finish an epoch in time")


def _shorten_run(state_file, epochs):
    state = json.loads(state_file.read_text())
    state["training"]["epochs"] = epochs
    state_file.write_text(json.dumps(state))


def _fine_tune(data, out, model, *extra):
    return CliRunner().invoke(
        main,
        [
            "train",
            str(data),
            "--out",
            str(out),
            "--init-from",
            str(model),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--sequence-length",
            "32",
            "--workers",
            "1",
            "--cache-dir",
            str(out.parent / "cache"),
            *extra,
        ],
    )


def _first_epoch_loss(out):
    return read_metadata(out / "model.keras")["history"]["loss"][0]


def test_init_from_fine_tunes_a_model_keeping_its_encoding_and_network(tiny_model, tmp_path):
    personal = tmp_path / "mine"
    for seed in range(40, 48):
        write_score(toy_score(seed), personal / f"{seed}.mid")
    fresh = _train(personal, tmp_path / "fresh", "--epochs", "1", "--seed", "2", "--valid-fraction", "0.3")
    assert fresh.exit_code == 0, fresh.output
    tuned = _fine_tune(personal, tmp_path / "tuned", tiny_model, "--seed", "2", "--valid-fraction", "0.3")
    assert tuned.exit_code == 0, tuned.output
    assert f"fine-tuning {tiny_model}" in tuned.output
    base, metadata = read_metadata(tiny_model), read_metadata(tmp_path / "tuned" / "model.keras")
    assert metadata["encoding"] == base["encoding"] and metadata["model"] == base["model"]
    assert metadata["fine_tuned_from"]["model"] == str(tiny_model)
    assert _first_epoch_loss(tmp_path / "tuned") < _first_epoch_loss(tmp_path / "fresh"), "starts from what it learned"


def test_init_from_takes_a_new_dropout_and_keeps_the_rest_of_the_network(tiny_model, tmp_path):
    base = read_metadata(tiny_model)["model"]
    tuned = _fine_tune(tiny_model.parent.parent / "corpus", tmp_path / "tuned", tiny_model, "--dropout", "0.45")
    assert tuned.exit_code == 0, tuned.output
    assert read_metadata(tmp_path / "tuned" / "model.keras")["model"] == {**base, "dropout": 0.45} != base


def test_init_from_refuses_music_the_model_cannot_represent_and_conflicting_options(tiny_model, tmp_path):
    quintuplets = Score(tracks=(Track(0, notes=tuple(Note(i / 5, i / 5 + 0.2, 60 + i % 12, 90) for i in range(200))),))
    write_score(quintuplets, tmp_path / "odd" / "fives.mid")
    result = _fine_tune(tmp_path / "odd", tmp_path / "run", tiny_model)
    assert result.exit_code == 2, result.output
    assert "cannot represent the music" in result.output and "fall between its grid steps (1/12 beat)" in result.output
    conflicting = _fine_tune(tmp_path / "odd", tmp_path / "run", tiny_model, "--units", "64")
    assert conflicting.exit_code == 2 and "--units: a fine-tuned model keeps" in conflicting.output


def test_init_from_a_model_inside_out_is_refused_before_anything_is_cleared(tiny_model, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_model.parent, out)
    result = _fine_tune(tiny_model.parent.parent / "corpus", out, out / "model.keras", "--force")
    assert result.exit_code == 2 and "lies inside --out" in result.output
    assert (out / "model.keras").read_bytes() == tiny_model.read_bytes()


def test_training_streams_a_prepared_cache(corpus, tmp_path):
    cache = tmp_path / "cache"
    options = "--shards 3 --valid-fraction 0.5 --workers 1 --steps-per-quarter 6".split()
    prepared = CliRunner().invoke(main, ["prepare", str(corpus), "--out", str(cache), *options])
    assert prepared.exit_code == 0, prepared.output
    out = tmp_path / "run"
    result = CliRunner().invoke(main, train_args(cache, out, "--epochs", 1, "--seed", 3))
    assert result.exit_code == 0, result.output
    assert "data: 12 files used, 2 skipped" in result.output and "(a prepared cache of 3 shards)" in result.output
    metadata = read_metadata(out / "model.keras")
    assert metadata["data"]["folder"] == str(cache.resolve()) and metadata["data"]["shards"] == 3
    assert metadata["encoding"]["steps_per_quarter"] == 6  # the cache's encoding is the run's
    data = metadata["data"]
    assert metadata["metrics"]["validation"]["events"] == data["valid_events"] - data["valid_files"]  # all but Start
    assert metadata["distribute"] == {"mode": "none", "workers": 1}

    refused = CliRunner().invoke(
        main, ["train", str(cache), "--out", str(tmp_path / "b"), "--steps-per-quarter", "4", "--valid-fraction", "0.2"]
    )
    assert refused.exit_code == 2
    assert (
        "--steps-per-quarter, --valid-fraction: a prepared cache was encoded and split by `composer prepare`"
        in refused.output
    )


def test_mixed_precision_trains_in_float16_and_publishes_a_float32_model(corpus, tmp_path):
    from composer.tf_runtime import keras, tf

    out = tmp_path / "run"
    result = _train(corpus, out, "--epochs", "1", "--steps-per-epoch", "3", "--mixed-precision", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert "3/3" in result.output  # --steps-per-epoch caps the epoch
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    assert ("--mixed-precision speeds up GPUs; on this CPU it makes training slower" in result.output) != on_gpu
    checkpoint = keras.models.load_model(
        out / json.loads((out / "state.json").read_text())["checkpoint"], compile=False
    )
    assert checkpoint.get_layer("lstm_0").dtype_policy.name == "mixed_float16"
    published = keras.models.load_model(out / "model.keras")
    assert {layer.dtype_policy.name for layer in published.layers} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"  # the process-wide policy is restored
    assert read_metadata(out / "model.keras")["training"]["mixed_precision"] is True
    generated = CliRunner().invoke(
        main, ["generate", "--model", str(out), "--length", "20", "--out", str(tmp_path / "a.mid")]
    )
    assert generated.exit_code == 0, generated.output


def test_a_chief_killed_while_publishing_leaves_a_run_the_group_restart_finishes(corpus, tmp_path, monkeypatch):
    from dataclasses import replace

    from composer import artifacts
    from composer.config import ModelConfig, TrainConfig
    from composer.training.distribute import Cluster
    from composer.training.train import TrainRequest, _finished_run, _restarted_group, train

    out, save_model = tmp_path / "run", artifacts.save_model

    def killed_while_publishing(model, path, *args):
        if path.name == artifacts.MODEL_FILE:
            raise RuntimeError("killed")
        save_model(model, path, *args)

    training = TrainConfig(sequence_length=32, batch_size=8, epochs=3, patience=0, valid_fraction=0.25, seed=1)
    request = TrainRequest(
        corpus,
        out,
        model=ModelConfig(embedding_dim=8, units=16),
        training=training,
        cache_dir=tmp_path / "cache",
        workers=1,
    )
    monkeypatch.setattr(artifacts, "save_model", killed_while_publishing)
    with pytest.raises(RuntimeError, match="killed"):
        train(request, report=lambda line: None)  # early stopping (patience 0) ends it after epoch 1
    assert not (out / "model.keras").exists() and not _finished_run(out)
    assert _restarted_group(request, Cluster("multi-worker", 2, 0))  # the same command picks it up

    monkeypatch.setattr(artifacts, "save_model", save_model)
    summary = train(replace(request, resume=True), report=lambda line: None)
    assert summary["epochs"] == 1 and read_metadata(out / "model.keras")["history"]["val_loss"]
    assert json.loads((out / "state.json").read_text())["status"] == "finished"


def test_carry_state_resumes_exactly_and_publishes_a_network_for_batches_of_any_size(corpus, tmp_path, monkeypatch):
    from composer.tf_runtime import keras
    from composer.training import train as training

    request = _two_epoch_request(training, corpus, tmp_path, dropout=0.0, carry_state=True)
    whole = _assert_resume_repeats(request, training, "state_reset", monkeypatch)

    state = json.loads((tmp_path / "whole" / "state.json").read_text())
    assert keras.models.load_model(tmp_path / "whole" / state["checkpoint"], compile=False).get_layer("lstm_0").stateful
    published = keras.models.load_model(whole["model"])
    assert not published.get_layer("lstm_0").stateful and published.inputs[0].shape[0] is None
    generated = CliRunner().invoke(
        main, ["generate", "--model", whole["model"], "--length", "20", "--out", str(tmp_path / "a.mid")]
    )
    assert generated.exit_code == 0, generated.output


def _interrupt():
    raise KeyboardInterrupt


def test_carry_state_is_refused_where_a_strategy_would_split_the_batch(corpus, tmp_path):
    out = tmp_path / "run"
    result = _train(corpus, out, "--carry-state", "--distribute", "mirrored")
    assert result.exit_code == 2 and "--carry-state trains in one process from a MIDI folder" in result.output
    assert not out.exists()


def test_a_resumed_run_draws_the_dropout_masks_of_an_uninterrupted_one(corpus, tmp_path, monkeypatch):
    from composer.training import train as training

    request = _two_epoch_request(training, corpus, tmp_path, dropout=0.3)
    _assert_resume_repeats(request, training, "dropout_seeds", monkeypatch)


def _assert_resume_repeats(request, training, hook: str, monkeypatch) -> dict:
    """Trains ``request`` whole (returned), then again interrupted as its second epoch begins (by the callback
    that ``training.<hook>`` makes) and resumed: both must log the same losses."""
    from dataclasses import replace

    whole = training.train(request, report=lambda line: None)
    make_callback = getattr(training, hook)

    def interrupted_before_the_second_epoch(*args):
        callback = make_callback(*args)
        begin = callback.on_epoch_begin
        callback.on_epoch_begin = lambda epoch, logs=None: begin(epoch) if epoch == 0 else _interrupt()
        return callback

    parted = replace(request, out=request.out.parent / "parted")
    monkeypatch.setattr(training, hook, interrupted_before_the_second_epoch)
    assert training.train(parted, report=lambda line: None)["interrupted"]
    monkeypatch.setattr(training, hook, make_callback)
    resumed = training.train(replace(parted, resume=True), report=lambda line: None)
    histories = [read_metadata(Path(run["model"]))["history"] for run in (whole, resumed)]
    assert histories[0]["loss"] == histories[1]["loss"] and histories[0]["val_loss"] == histories[1]["val_loss"]
    return whole


def _two_epoch_request(training, corpus, tmp_path, dropout, **settings):
    """A two-epoch run of a small network into tmp_path/whole, as a TrainRequest for training.train."""
    from composer.config import ModelConfig, TrainConfig

    config = TrainConfig(
        sequence_length=16, batch_size=4, epochs=2, patience=2, valid_fraction=0.25, seed=6, **settings
    )
    model = ModelConfig(embedding_dim=8, units=16, dropout=dropout)
    return training.TrainRequest(
        corpus, tmp_path / "whole", model=model, training=config, cache_dir=tmp_path / "cache", workers=1
    )


def test_transposition_is_refused_in_the_one_key_encoding_and_trains_keys_as_written(corpus, tmp_path):
    out = tmp_path / "run"
    result = _train(corpus, out, "--transpose", "2")
    assert result.exit_code == 2 and "--transpose moves pieces out of C major and A minor" in result.output
    assert not out.exists()
    result = _train(corpus, out, "--transpose", "2", "--keys-as-written", "--epochs", "1")
    assert result.exit_code == 0, result.output
    metadata = read_metadata(out / "model.keras")
    assert metadata["encoding"]["one_key"] is False and "Key_0" not in metadata["vocabulary"]
