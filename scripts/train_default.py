"""Train the model bundled with composer: default settings on midi_samples/, a fixed seed.

    python scripts/train_default.py [--seed 1] [--work runs/default]

Runs `composer train midi_samples/` with every default (the same code path a user
gets), then copies the finished model.keras into composer/models/default.keras,
which is what `composer generate` falls back to when no model is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from composer.config import TrainConfig
from composer.train import TrainRequest, train

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "composer" / "models" / "default.keras"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "default")
    args = parser.parse_args()
    started = time.time()
    os.chdir(ROOT)  # the model records its data folder as given: "midi_samples", not this machine's path
    summary = train(TrainRequest(data=Path("midi_samples"), out=args.work, training=TrainConfig(seed=args.seed),
                                 force=True))  # fmt: skip
    BUNDLED.parent.mkdir(exist_ok=True)
    shutil.copyfile(Path(summary["model"]), BUNDLED.with_suffix(".tmp"))
    BUNDLED.with_suffix(".tmp").replace(BUNDLED)
    valid, ngram = summary["validation"], summary["ngram"]
    print(f"bundled {BUNDLED.relative_to(ROOT)} ({BUNDLED.stat().st_size / 1e6:.1f} MB) in {time.time() - started:.0f} s: "
          f"validation {valid['nll_per_event']:.4f} nats/event (n-gram {ngram['nll_per_event']:.4f}), "
          f"{summary['epochs']} epochs, seed {args.seed}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
