"""The multi-device check to run where a GPU machine is at hand (issue "Multi-machine training you can trust").

    python scripts/gpu_check.py [--work DIR] [--files 400] [--steps 60]

1. `composer train CACHE --distribute mirrored --mixed-precision` on the machine's GPUs: the cuDNN LSTM in
   float16 with float32 weights (refused, by design, when the machine has more than one GPU: see
   docs/distributed.md). Reports events/s and the validation loss.
2. The same training as a two-worker group on 127.0.0.1 (`--distribute multi-worker`, TF_CONFIG), both
   workers on the machine's GPUs with memory growth on: they must print the same validation losses and the
   same final weights fingerprint (the exit code says whether they did).

Everything runs through the `composer` command as a user runs it, on a synthetic corpus
(`scripts/make_synthetic_corpus.py`) prepared into a cache. On a machine without a GPU it runs on the CPU,
which checks the script, not the GPU. Prints one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSER = str(Path(sys.executable).parent / "composer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="where the corpus, cache and runs go")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--steps", type=int, default=60, help="steps per epoch (2 epochs)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    cache = _cache(work, args.files)
    common = ["--epochs", "2", "--steps-per-epoch", str(args.steps), "--seed", "5", "--batch-size", "64"]
    mirrored = _run(
        [
            COMPOSER,
            "train",
            str(cache),
            "--out",
            str(work / "mirrored"),
            "--force",
            "--distribute",
            "mirrored",
            "--mixed-precision",
            *common,
        ]
    )
    group = _group(cache, work / "group", common)
    report = {"gpus": _gpus(), "mirrored_mixed_precision": _figures(mirrored), "two_workers": group}
    print(json.dumps(report, indent=2))
    return 0 if group["same_losses"] and group["same_weights"] else 1


def _cache(work: Path, files: int) -> Path:
    corpus, cache = work / "corpus", work / "cache"
    if not cache.exists():
        _run([sys.executable, str(ROOT / "scripts" / "make_synthetic_corpus.py"), str(corpus), "--files", str(files)])
        _run([COMPOSER, "prepare", str(corpus), "--out", str(cache), "--shards", "4"])
    return cache


def _group(cache: Path, out: Path, common: list[str]) -> dict:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    command = [COMPOSER, "train", str(cache), "--out", str(out), "--force", "--distribute", "multi-worker", *common]
    environment = {**os.environ, "TF_FORCE_GPU_ALLOW_GROWTH": "true"}  # two processes share the GPUs
    workers = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**environment, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    outputs = [worker.communicate(timeout=1800)[0] for worker in workers]
    if any(worker.returncode for worker in workers):
        raise SystemExit("a worker failed:\n" + "\n".join(output[-3000:] for output in outputs))
    losses = [re.findall(r"val_loss: ([\d.]+)", output) for output in outputs]
    prints = [re.search(r"final weights fingerprint (\w+)", output).group(1) for output in outputs]
    return {
        "validation_losses": losses,
        "fingerprints": prints,
        "same_losses": losses[0] == losses[1],
        "same_weights": prints[0] == prints[1],
        **_figures(outputs[0]),
    }


def _figures(output: str) -> dict:
    rates = [float(rate) for rate in re.findall(r"events_per_s: ([\d.]+)", output)]
    return {"events_per_s": rates[-1] if rates else None, "val_loss": re.findall(r"val_loss: ([\d.]+)", output)}


def _gpus() -> list[str]:
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from composer.tf_runtime import tf; print([d.name for d in tf.config.list_physical_devices('GPU')])",
        ],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip().splitlines()[-1:] if found.returncode == 0 else []


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout + result.stderr


if __name__ == "__main__":
    sys.exit(main())
