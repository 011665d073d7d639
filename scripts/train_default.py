"""Train the model bundled with composer (default settings on midi_samples/, a fixed seed), or bundle a run.

    python scripts/train_default.py [--seed 1] [--work runs/default]
    python scripts/train_default.py --bundle RUN_DIR

Runs `composer train midi_samples/` with every default (the same code path a user
gets), then copies the finished model.keras into composer/bundled/default.keras,
which is what `composer generate` falls back to when no model is given. With
--bundle, a run made with the CLI (one trained longer with --init-from, say) is
bundled instead. Either way the bundled file records paths inside this repository
relative to it ("midi_samples"), not where the machine that made it kept them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from composer.artifacts import METADATA_ENTRY, MODEL_FILE, read_metadata
from composer.atomic import write_atomic
from composer.config import EncodingConfig, TrainConfig, config_from_dict
from composer.data.training_data import load_training_data
from composer.training.train import TrainRequest, train

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "composer" / "bundled" / "default.keras"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "default")
    parser.add_argument("--bundle", type=Path, help="Bundle this finished run's model instead of training one.")
    args = parser.parse_args()
    started = time.time()
    if args.bundle is None:
        os.chdir(ROOT)
        train(TrainRequest(data=Path("midi_samples"), out=args.work, training=TrainConfig(seed=args.seed), force=True))
    run = args.bundle or args.work
    bundle(run / MODEL_FILE)
    metadata = read_metadata(BUNDLED)
    print(
        f"bundled {BUNDLED.relative_to(ROOT)} ({BUNDLED.stat().st_size / 1e6:.1f} MB) "
        f"in {time.time() - started:.0f} s: "
        f"validation {metadata['metrics']['validation']['nll_per_event']:.4f} nats/event "
        f"(n-gram {metadata['metrics']['ngram_baseline']['nll_per_event']:.4f}), data {metadata['data']['folder']}"
    )
    return 0


def bundle(model: Path) -> None:
    """Copy ``model`` to the bundled path, its recorded paths made relative to the repository."""
    with zipfile.ZipFile(model) as source, tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "default.keras"
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
            for entry in source.infolist():
                data = source.read(entry)
                if entry.filename == METADATA_ENTRY:
                    data = json.dumps(_repository_relative(_with_pitch_ranges(json.loads(data))), indent=2).encode()
                target.writestr(entry, data)
        BUNDLED.parent.mkdir(exist_ok=True)
        write_atomic(BUNDLED, staged.read_bytes(), overwrite=True)


def _with_pitch_ranges(metadata: dict) -> dict:
    """``metadata`` with the instruments' pitch ranges over its training split, which runs of composer 0.11 and
    before did not record (``events.pitch_ranges``; the split is the run's own, a function of its files)."""
    if "pitch_ranges" in metadata["data"]:
        return metadata
    encoding = config_from_dict(EncodingConfig, metadata["encoding"])
    training = config_from_dict(TrainConfig, metadata["training"])
    split = load_training_data(ROOT / metadata["data"]["folder"], encoding, training).split
    if split["train_events"] != metadata["data"]["train_events"]:
        raise SystemExit("the run's training folder has changed since it trained: retrain it to bundle it")
    metadata["data"]["pitch_ranges"] = split["pitch_ranges"]
    return metadata


def _repository_relative(value):
    """``value`` (metadata) with every path inside this repository written relative to it."""
    if isinstance(value, dict):
        return {key: _repository_relative(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_repository_relative(item) for item in value]
    if isinstance(value, str) and value.startswith(str(ROOT) + os.sep):
        return str(Path(value).relative_to(ROOT))
    return value


if __name__ == "__main__":
    sys.exit(main())
