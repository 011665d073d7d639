"""Time composer's network under Keras 3's own distribution API on JAX, against one process and TensorFlow.

    pip install "jax[cpu]"   # not a composer dependency: only this probe needs it
    python scripts/jax_engine_probe.py [--processes 2] [--steps 35] [--warmup 5]

Runs, back to back and in alternating order, one TensorFlow process, one JAX process under
``keras.distribution.DataParallel`` and a group of ``--processes`` JAX processes on 127.0.0.1
(``keras.distribution.initialize``, gloo collectives on CPU), each fitting the default network
(``composer.model.network.build_model``, no context) on the same random global batches. Prints seconds per step,
the group's speed against one process, and whether the group's processes logged identical losses.
docs/distributed.md ("The engine") has the figures and the decision they support.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="the global batch")
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=35)
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the timing")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", nargs=3, type=int, metavar=("PROCESSES", "INDEX", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="jax", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args)
    results = {}
    for round_ in range(args.rounds):
        runs = [("tensorflow", 1), ("jax", 1), ("jax", args.processes)]
        for backend, processes in runs if round_ % 2 == 0 else runs[::-1]:
            results.setdefault(f"{backend} x{processes}", []).append(_group(args, backend, processes))
    for name, rounds in results.items():
        agree = [r["identical_losses"] for r in rounds if r["identical_losses"] is not None]
        print(
            f"{name}: "
            + ", ".join(f"{r['s_per_step']:.3f} s/step" for r in rounds)
            + (f", losses identical across processes: {all(agree)}" if agree else "")
        )
    ratios = [
        group["s_per_step"] / alone["s_per_step"]
        for group, alone in zip(results[f"jax x{args.processes}"], results["jax x1"])
    ]
    print(f"{args.processes} JAX processes against one: " + ", ".join(f"{1 / r:.2f}x" for r in ratios))
    return 0


def _group(args, backend: str, processes: int) -> dict:
    """Run ``processes`` workers; their mean seconds per step and whether their per-step losses agree."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--backend",
            backend,
            "--batch",
            str(args.batch),
            "--sequence-length",
            str(args.sequence_length),
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
        ]
        workers = [
            subprocess.Popen([*command, "--worker", str(processes), str(index), str(port)], cwd=folder)
            for index in range(processes)
        ]
        if any(worker.wait() for worker in workers):
            raise SystemExit(f"a {backend} worker failed")
        reports = [json.loads((Path(folder) / f"worker-{index}.json").read_text()) for index in range(processes)]
    return {
        "s_per_step": sum(r["s_per_step"] for r in reports) / processes,
        "identical_losses": all(r["losses"] == reports[0]["losses"] for r in reports) if processes > 1 else None,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(args) -> int:
    processes, index, port = args.worker
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    keras.utils.set_random_seed(1)  # before initialize, which would otherwise agree on a random seed
    if args.backend == "jax":
        if processes > 1:
            keras.distribution.initialize(job_addresses=f"127.0.0.1:{port}", num_processes=processes, process_id=index)
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    from composer.config import ModelConfig
    from composer.model.network import build_model

    vocabulary = 400
    model = build_model(ModelConfig(context=0), vocabulary)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    tokens = np.random.default_rng(7).integers(0, vocabulary, (args.steps * args.batch, args.sequence_length + 1))
    batches = tf.data.Dataset.from_tensor_slices((tokens[:, :-1], tokens[:, 1:])).batch(args.batch)  # the global batch
    ends, losses = [], []
    log = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: (ends.append(time.perf_counter()), losses.append(float(logs["loss"])))
    )
    model.fit(batches, epochs=1, verbose=0, callbacks=[log], shuffle=False)
    timed = ends[args.warmup - 1 :]
    report = {"s_per_step": (timed[-1] - timed[0]) / (len(timed) - 1), "losses": losses}
    Path(f"worker-{index}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
