"""Learning per minute: short trainings of the default network under different batch shapes, side by side.

    python scripts/learning_speed.py [--data midi_samples] [--epochs 6] [--out /tmp/learning-speed]

Each probe is `composer train DATA --epochs N --seed 1 --transpose 6` with its own options. A probe reports the
whole-piece validation NLL per event and per note (the same figure at every window length), the
validation loss after each epoch and the training time, so probes compare at equal minutes as well as at
equal epochs. docs/quality.md ("Learning per minute") has the figures of one run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROBES = {
    "128 x 32 (composer 0.4)": ["--sequence-length", "128", "--batch-size", "32"],
    "128 x 32, no dropout": ["--sequence-length", "128", "--batch-size", "32", "--dropout", "0"],
    "128 x 32, learning rate 6e-3": ["--sequence-length", "128", "--batch-size", "32", "--learning-rate", "0.006"],
    "128 x 64, learning rate 6e-3": ["--sequence-length", "128", "--batch-size", "64", "--learning-rate", "0.006"],
    "128 x 16": ["--sequence-length", "128", "--batch-size", "16"],
    "64 x 32": ["--sequence-length", "64", "--batch-size", "32"],
    "64 x 16": ["--sequence-length", "64", "--batch-size", "16"],
    "64 x 8": ["--sequence-length", "64", "--batch-size", "8"],
}


def train(data: Path, out: Path, epochs: int, options: list[str]) -> dict:
    # --transpose 6: the probes were measured with the random transposition of the defaults then (docs/quality.md)
    command = [
        sys.executable,
        "-m",
        "composer.cli",
        "train",
        str(data),
        "--out",
        str(out),
        "--force",
        "--epochs",
        str(epochs),
        "--patience",
        str(epochs),
        "--seed",
        "1",
        "--transpose",
        "6",
        *options,
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "metadata.json").read_text())


def report(name: str, metadata: dict) -> str:
    validation = metadata["metrics"]["validation"]
    curve = " ".join(f"{loss:.2f}" for loss in metadata["history"]["val_loss"])
    minutes = metadata["training_seconds"] / 60
    return (
        f"| {name} | {minutes:.1f} min | {validation['nll_per_event']:.3f} / {validation['nll_per_note']:.2f} "
        f"| {curve} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("midi_samples"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("/tmp/learning-speed"))
    args = parser.parse_args()
    print("| windows x batch | training | validation NLL / event, / note | validation loss per epoch (windows) |")
    print("|---|---|---|---|")
    for number, (name, options) in enumerate(PROBES.items()):
        print(report(name, train(args.data, args.out / f"probe{number}", args.epochs, options)), flush=True)


if __name__ == "__main__":
    main()
