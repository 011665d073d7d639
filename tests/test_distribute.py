import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.errors import ComposerError
from composer.training.distribute import Cluster, cluster_from_env
from composer.training.run_state import RunState

import tiny_training
from midi_factory import write_toy_corpus

pytestmark = pytest.mark.slow  # worker groups and strategies: TensorFlow in every test, and subprocess groups

TINY = [*tiny_training.TINY, "--layers", "1"]


def _train_args(data, out, *options):
    return tiny_training.train_args(data, out, "--layers", 1, *options)


def _tf_config(ports, task_type="worker", index=0, chief=False):
    addresses = [f"127.0.0.1:{port}" for port in ports]
    cluster = {"chief": addresses[:1], "worker": addresses[1:]} if chief else {"worker": addresses}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.mark.parametrize(
    "tf_config, expected",
    [
        (_tf_config([1, 2, 3], "worker", 0), Cluster("multi-worker", 3, 0)),
        (_tf_config([1, 2, 3], "worker", 2), Cluster("multi-worker", 3, 2)),
        (_tf_config([1, 2, 3], "chief", 0, chief=True), Cluster("multi-worker", 3, 0)),
        (_tf_config([1, 2, 3], "worker", 0, chief=True), Cluster("multi-worker", 3, 1)),
    ],
)
def test_tf_config_names_the_group_and_the_chief(monkeypatch, tf_config, expected):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert cluster_from_env("auto") == expected == cluster_from_env("multi-worker")
    assert expected.is_chief == (expected.index == 0)


def test_auto_trains_alone_without_a_group(monkeypatch):
    from composer.training.distribute import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_from_env("auto") == Cluster("auto")  # GPUs are counted only when training starts
    monkeypatch.setenv("TF_CONFIG", _tf_config([1]))
    assert cluster_from_env("auto") == Cluster("auto")
    assert cluster_from_env("none") == Cluster("none")
    from composer.tf_runtime import tf

    if len(tf.config.list_physical_devices("GPU")) < 2:  # CI's machine has none
        assert make_strategy(Cluster("auto")) == (None, "none")
    else:
        assert make_strategy(Cluster("auto"))[1] == "mirrored"


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "needs the TF_CONFIG environment variable"),
        ("{not json", "TF_CONFIG is not a valid worker-group description"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "not a valid"),
        (_tf_config([1, 2], "worker", 5), "task worker 5 is not in the cluster"),
    ],
)
def test_a_missing_or_broken_tf_config_is_refused(monkeypatch, tf_config, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ComposerError, match=message):
        cluster_from_env("multi-worker")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("distribute")
    corpus = write_toy_corpus(root / "corpus", bad_files=False)
    result = CliRunner().invoke(
        main,
        [
            "prepare",
            str(corpus),
            "--out",
            str(root / "cache"),
            "--shards",
            "4",
            "--valid-fraction",
            "0.5",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    return root / "cache"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_group(cache, out, *extra):
    ports = _free_ports(2)
    command = [
        sys.executable,
        "-m",
        "composer.cli",
        "train",
        str(cache),
        "--out",
        str(out),
        *TINY,
        "--distribute",
        "multi-worker",
        "--seed",
        "7",
        *extra,
    ]
    return [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TF_CONFIG": _tf_config(ports, "worker", index)},
        )
        for index in range(2)
    ]


def _finish(workers, timeout=300):
    outputs = [worker.communicate(timeout=timeout)[0] for worker in workers]
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output
    return outputs


def _fingerprint(output):
    return re.search(r"final weights fingerprint (\w+)", output).group(1)


def test_two_workers_train_in_step_and_only_the_chief_writes_the_model(cache, tmp_path):
    from composer.artifacts import read_metadata
    from composer.tf_runtime import keras
    from composer.training.distribute import weights_fingerprint

    out = tmp_path / "run"
    chief, worker = _finish(_start_group(cache, out, "--epochs", "2"))
    assert "the chief wrote the model" in worker and "model:" in chief
    assert _fingerprint(chief) == _fingerprint(worker)
    last = out / json.loads((out / "state.json").read_text())["checkpoint"]
    assert weights_fingerprint(keras.models.load_model(last, compile=False)) == _fingerprint(chief)
    # both workers saw the same (all-reduced) losses, so they took the same decisions
    assert re.findall(r"val_loss: [\d.]+", chief) == re.findall(r"val_loss: [\d.]+", worker)
    metadata = read_metadata(out / "model.keras")
    assert metadata["distribute"] == {"mode": "multi-worker", "workers": 2}
    assert metadata["data"]["folder"] == str(cache.resolve()) and metadata["data"]["shards"] == 4
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["checkpoints", "logs", "loss.png", "metadata.json", "model.keras", "state.json"]
    )


def test_a_worker_killed_mid_epoch_stops_the_group_and_the_restarted_group_ends_where_an_unbroken_one_does(
    cache, tmp_path
):
    extra = ["--epochs", "4", "--patience", "4", "--steps-per-epoch", "40"]
    unbroken = _fingerprint(_finish(_start_group(cache, tmp_path / "unbroken", *extra))[0])
    out = tmp_path / "run"
    chief, worker = _start_group(cache, out, *extra)
    state_file, deadline = out / "state.json", time.time() + 240
    while not (state_file.exists() and json.loads(state_file.read_text())["epoch"] >= 1):
        assert time.time() < deadline and chief.poll() is None and worker.poll() is None, "the group stopped early"
        time.sleep(0.2)
    time.sleep(2)  # into the second epoch
    worker.kill()  # kill -9
    worker.wait()
    try:  # the chief usually fails its next collective step within seconds, but may wait in one longer
        output = chief.communicate(timeout=90)[0]
    except subprocess.TimeoutExpired:  # then the cluster restarts the whole group, as a JobSet does
        chief.kill()
        output = chief.communicate()[0] + "\n(killed while waiting)"
    done = json.loads(state_file.read_text())["epoch"]
    if chief.returncode == 2:
        assert (
            f"Error: worker 0: the group lost a worker during epoch {done + 1}" in output
            and "start every worker again with the same command" in output
            and "Traceback" not in output
        ), output
    else:
        assert "(killed while waiting)" in output, output

    chief, worker = _finish(_start_group(cache, out, *extra))  # no --resume: a cluster reruns the same command
    assert f"resuming after epoch {done} of 4" in chief and f"resuming after epoch {done} of 4" in worker
    assert _fingerprint(chief) == _fingerprint(worker) == unbroken
    assert len(json.loads(state_file.read_text())["history"]["val_loss"]) == 4


def test_a_group_without_a_common_seed_is_refused(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(2)))
    result = CliRunner().invoke(main, ["train", str(cache), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--seed is needed to train as a worker group" in result.output


def test_a_restarted_group_with_other_settings_is_refused_not_resumed(cache, tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    command = ["train", str(cache), "--out", str(out), "--seed", "1", *TINY]
    state = RunState(
        str(cache),
        EncodingConfig(),
        ModelConfig(units=16, embedding_dim=8, layers=1),
        TrainConfig(seed=1, batch_size=8, sequence_length=32, epochs=99),
        epoch=3,
    ).to_dict()
    del state["training"]["carry_state"]  # recorded by an older version: its default is no change
    (out / "state.json").write_text(json.dumps(state))
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(2)))
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert (
        "holds an unfinished run with other settings (epochs 99 there, 8 now): pass --resume to continue it as it was"
    ) in result.output
    assert json.loads((out / "state.json").read_text()) == state


def test_a_group_trains_from_a_prepared_cache_only(tmp_path, monkeypatch):
    corpus = write_toy_corpus(tmp_path / "corpus", bad_files=False)
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(2)))
    result = CliRunner().invoke(main, ["train", str(corpus), "--out", str(tmp_path / "run"), "--seed", "1"])
    assert result.exit_code == 2 and "a worker group trains from a prepared cache" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("source", ["folder", "cache"])
def test_mirrored_trains_from_a_folder_or_a_cache(cache, tmp_path, source):
    from composer.artifacts import read_metadata

    data = cache if source == "cache" else write_toy_corpus(tmp_path / "corpus", bad_files=False)
    out = tmp_path / "run"
    split = ["--valid-fraction", "0.5"] if source == "folder" else []  # a cache was split when it was prepared
    result = CliRunner().invoke(
        main,
        [
            "train",
            str(data),
            "--out",
            str(out),
            "--distribute",
            "mirrored",
            *TINY,
            "--epochs",
            "1",
            "--seed",
            "1",
            *split,
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_metadata(out / "model.keras")["distribute"] == {"mode": "mirrored", "workers": 1}


def test_a_worker_refuses_a_finished_run_as_the_chief_does(cache, tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text(json.dumps({"status": "finished"}))
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(2), "worker", 1))
    result = CliRunner().invoke(main, ["train", str(cache), "--out", str(out), "--seed", "1"])
    assert result.exit_code == 2 and "already holds a finished run; pass --force to replace it" in result.output


def test_a_single_worker_tf_config_needs_no_seed(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(1)))
    result = CliRunner().invoke(main, ["train", str(cache), "--out", str(tmp_path / "run"), *TINY, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "seed:" in result.output  # drawn and printed, as when training alone


@pytest.mark.parametrize("mode", ["none", "mirrored"])
def test_a_group_tf_config_without_a_group_strategy_is_refused(cache, tmp_path, monkeypatch, mode):
    monkeypatch.setenv("TF_CONFIG", _tf_config(_free_ports(2), "worker", 1))  # each would think itself the chief
    # unit first: a process let through would wait on the group instead of failing
    with pytest.raises(ComposerError, match="pass --distribute multi-worker"):
        cluster_from_env(mode)
    result = CliRunner().invoke(
        main, _train_args(cache, tmp_path / "run", "--distribute", mode, "--seed", 1, "--epochs", 1)
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert f"Error: TF_CONFIG describes a group of 2 workers, but --distribute {mode} trains" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "keras, tensorflow, refused",
    [
        ("3.15.1", "2.21.0", False),
        ("3.15.0", "2.21.3", False),
        ("3.14.0", "2.21.0", True),
        ("3.16.0", "2.21.0", True),
        ("3.15.1", "2.20.0", True),
        ("3.15.1", "2.22.0rc1", True),
    ],
)
def test_a_strategy_is_refused_outside_the_tested_releases(monkeypatch, keras, tensorflow, refused):
    from composer import artifacts
    from composer.training.distribute import check_tested_versions

    monkeypatch.setattr(artifacts, "package_versions", lambda: {"keras": keras, "tensorflow": tensorflow})
    check_tested_versions("none")  # training alone works on every release pyproject.toml admits
    for mode in ("mirrored", "multi-worker"):
        if refused:
            with pytest.raises(ComposerError, match=r"tested only with keras>=3\.15,<3\.16 and tensorflow>=2\.21,"):
                check_tested_versions(mode)
        else:
            check_tested_versions(mode)


def test_the_installed_releases_are_tested_and_others_are_refused_before_any_work(cache, tmp_path, monkeypatch):
    from composer import artifacts
    from composer.training.distribute import check_tested_versions

    check_tested_versions("multi-worker")  # what CI installs must be inside the range
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setattr(artifacts, "package_versions", lambda: {"keras": "3.3.3", "tensorflow": "2.16.1"})
    options = ["--distribute", "mirrored", "--seed", 1, "--epochs", 1]
    result = CliRunner().invoke(main, _train_args(cache, tmp_path / "run", *options))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "(found keras 3.3.3, tensorflow 2.16.1)" in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "replicas, batch_size, mixed_precision, message",
    [
        (1, 8, True, None),
        (2, 8, False, None),
        (3, 8, False, "--batch-size 8 does not split evenly between 3 replicas"),
        (2, 8, True, "--mixed-precision cannot train on 2 replicas"),
    ],
)
def test_replicas_refuse_what_they_cannot_train_correctly(replicas, batch_size, mixed_precision, message):
    from composer.training.distribute import check_replicas

    if message is None:
        check_replicas(replicas, batch_size, mixed_precision)
        return
    with pytest.raises(ComposerError, match=message):
        check_replicas(replicas, batch_size, mixed_precision)


AGREE = """
import sys
from composer.training.distribute import agree_on_start, cluster_from_env, make_strategy
from composer.errors import ComposerError
strategy, _ = make_strategy(cluster_from_env("multi-worker"))
try:
    agree_on_start(strategy, int(sys.argv[1]), sys.argv[2])
    print("agreed")
except ComposerError as error:
    print("refused:", error)
"""


@pytest.mark.parametrize(
    "starts, agreed",
    [
        ([(3, "ab12cd34ef56"), (3, "ab12cd34ef56")], True),
        ([(3, "ab12cd34ef56"), (4, "ab12cd34ef56")], False),
        ([(3, "ab12cd34ef56"), (3, "0012cd34ef56")], False),
    ],
)
def test_workers_resume_only_from_the_same_epoch_and_weights(starts, agreed):
    ports = _free_ports(2)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", AGREE, str(epoch), fingerprint],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TF_CONFIG": _tf_config(ports, "worker", index)},
        )
        for index, (epoch, fingerprint) in enumerate(starts)
    ]
    outputs = _finish(workers, timeout=120)
    if agreed:
        assert all("agreed" in output for output in outputs), outputs
    else:  # every worker refuses, none is left waiting in a collective
        assert all("refused: the workers would resume from different places" in output for output in outputs), outputs
        assert f"after epoch {starts[1][0]} with weights {starts[1][1]} on replicas [1]" in outputs[0]


PER_STEP = """
import sys
import numpy as np
from composer.training.distribute import cluster_from_env, make_strategy, ready_for_fit
from composer.tf_runtime import keras

strategy, _ = make_strategy(cluster_from_env("multi-worker"))
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
ready_for_fit(model, strategy)
worker = int(sys.argv[1])
x = np.full((16, 4), 1.0 + 10 * worker, np.float32)  # each worker its own data, so its own loss
losses = []
callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
with strategy.scope():
    model.fit(x, np.zeros((16, 1), np.float32), batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
print("losses", " ".join(f"{loss:.6g}" for loss in losses))
"""


def test_every_worker_sees_the_group_loss_at_every_step():
    """The NaN guard stops on a step's loss: a worker that saw only its own could stop while the others go on
    into a collective that never completes. With one replica per worker (this test, and the Kubernetes
    example) Keras hands each worker its own loss unless composer averages it over the group."""
    ports = _free_ports(2)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", PER_STEP, str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TF_CONFIG": _tf_config(ports, "worker", index)},
        )
        for index in range(2)
    ]
    losses = [re.search(r"losses (.*)", output).group(1) for output in _finish(workers, timeout=120)]
    assert losses[0] == losses[1] and len(losses[0].split()) == 2
