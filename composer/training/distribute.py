"""`composer train --distribute`: which tf.distribute strategy trains, and which worker writes the results.

A worker group is described by the standard TF_CONFIG variable (what Kubernetes
operators, Vertex AI and SageMaker set); every worker runs the same command and
only the chief writes the model. Reading TF_CONFIG needs no TensorFlow, so the
data is checked before any worker starts TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from composer import artifacts
from composer.errors import ComposerError
from composer.training import keras_seam

MODES = ("auto", "none", "mirrored", "multi-worker")
# The releases every strategy was tested with (pip specifiers); widen only after the distributed tests pass on more.
TESTED_VERSIONS = {"keras": ">=3.15,<3.16", "tensorflow": ">=2.21,<2.22"}


@dataclass(frozen=True)
class Cluster:
    """This process's place in the worker group: ``workers`` processes, this one numbered ``index`` (chief: 0)."""

    mode: str = "none"
    workers: int = 1
    index: int = 0

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def cluster_from_env(mode: str) -> Cluster:
    """The worker group ``mode`` asks for; ``auto`` is multi-worker when TF_CONFIG names several workers,
    else it stays ``auto`` until ``make_strategy`` counts the GPUs (without TensorFlow until then)."""
    raw = os.environ.get("TF_CONFIG", "")
    group = _parse_tf_config(raw) if raw else None
    if group and group.workers > 1 and mode in ("none", "mirrored"):  # each would think itself the chief
        raise ComposerError(
            f"TF_CONFIG describes a group of {group.workers} workers, but --distribute {mode} trains "
            "each process alone and every one would write --out: pass --distribute multi-worker "
            "(or auto), or unset TF_CONFIG"
        )
    if mode == "multi-worker" and not group:
        raise ComposerError(
            "--distribute multi-worker needs the TF_CONFIG environment variable that describes "
            "the worker group (see docs/distributed.md)"
        )
    cluster = group if group and (group.workers > 1 or mode == "multi-worker") else Cluster(mode)
    check_tested_versions(cluster.mode)
    return cluster


def check_tested_versions(mode: str) -> None:
    """Refuse a strategy on Keras or TensorFlow releases outside the tested range: earlier Keras 3 releases
    broke tf.distribute training (keras-team/keras#19891, #21061, #20568, #21467), and the multi-worker
    path patches Keras internals that a later release may change."""
    from packaging.specifiers import SpecifierSet  # a dependency of keras

    if mode not in ("mirrored", "multi-worker"):
        return
    installed = artifacts.package_versions()
    if not all(SpecifierSet(spec).contains(installed[name]) for name, spec in TESTED_VERSIONS.items()):
        tested = " and ".join(f"{name}{spec}" for name, spec in TESTED_VERSIONS.items())
        found = ", ".join(f"{name} {installed[name]}" for name in TESTED_VERSIONS)
        raise ComposerError(
            f"--distribute {mode} is tested only with {tested} (found {found}): "
            "install those releases, or train with --distribute none"
        )


def check_replicas(replicas: int, batch_size: int, mixed_precision: bool) -> None:
    """Refuse what ``replicas`` replicas (GPUs or workers) cannot train correctly."""
    if batch_size % replicas:
        raise ComposerError(
            f"--batch-size {batch_size} does not split evenly between {replicas} replicas (GPUs or workers)"
        )
    if mixed_precision and replicas > 1:  # Keras 3.15's LossScaleOptimizer checks one replica's gradients, unsummed
        raise ComposerError(
            f"--mixed-precision cannot train on {replicas} replicas (GPUs or workers): Keras's "
            "loss scaling decides whether a step overflowed from one replica's gradients, so an "
            "overflow on another would corrupt the weights. Train without --mixed-precision, "
            "or on one GPU"
        )


def make_strategy(cluster: Cluster):
    """(the tf.distribute strategy for ``cluster``, the mode it stands for); None trains on the default
    (single-device) strategy. Created before any other TensorFlow work, as MultiWorkerMirroredStrategy requires.
    """
    from composer.tf_runtime import tf

    mode = cluster.mode
    if mode == "auto":
        mode = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
        check_tested_versions(mode)
    if mode in ("mirrored", "multi-worker"):
        keras_seam.check()
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy(), mode
    if mode == "multi-worker":
        keras_seam.average_logs_over_the_group()
        return tf.distribute.MultiWorkerMirroredStrategy(), mode
    return None, mode


def ready_for_fit(model, strategy) -> None:
    """Build the optimizer inside the strategy's scope and skip Keras' symbolic build (``keras_seam``);
    fit then runs inside ``strategy.scope()``."""
    if strategy is None:
        return
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    keras_seam.skip_symbolic_build(model)


def agree_on_start(strategy, epoch: int, fingerprint: str) -> None:
    """Every worker of a group must resume from the same epoch with the same weights. Each reads state.json
    and its checkpoint on its own, so a worker restarted between the group's last step of an epoch and the
    chief's write of state.json would start one epoch apart and train on, silently out of step. The workers
    exchange (epoch, weights fingerprint) in one collective and all refuse together, so none waits for the
    others in a later collective."""
    from composer.tf_runtime import tf

    mine = tf.constant([[epoch, int(fingerprint[:12], 16)]], tf.int64)
    gathered = strategy.run(lambda: tf.distribute.get_replica_context().all_gather(mine, axis=0))
    starts = strategy.experimental_local_results(gathered)[0].numpy().tolist()
    if any(start != starts[0] for start in starts):
        places = {tuple(start): [index for index, other in enumerate(starts) if other == start] for start in starts}
        described = "; ".join(
            f"after epoch {epoch_done} with weights {weights:012x} on replicas {replicas}"
            for (epoch_done, weights), replicas in places.items()
        )
        raise ComposerError(
            f"the workers would resume from different places ({described}); stop the whole group "
            "and start it again with the same command"
        )


def lost_member(error: Exception, cluster: Cluster) -> bool:
    """Whether ``error`` is a collective step of a worker group failing because another worker stopped."""
    from composer.tf_runtime import tf

    failures = (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.CancelledError,
        tf.errors.DeadlineExceededError,
    )
    return cluster.workers > 1 and isinstance(error, failures)


def weights_fingerprint(model) -> str:
    """A short hash of every weight: equal on every worker when training kept them in sync."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()[:16]


def _parse_tf_config(raw: str) -> Cluster:
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        offset = {"chief": 0, "worker": len(chiefs)}[task["type"]]
        index = offset + int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ComposerError(
            f"TF_CONFIG is not a valid worker-group description ({error!r}); "
            'expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from None
    if not 0 <= index < len(chiefs) + len(workers):
        raise ComposerError(f"TF_CONFIG: task {task['type']} {task['index']} is not in the cluster it describes")
    return Cluster("multi-worker", len(chiefs) + len(workers), index)
