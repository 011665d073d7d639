"""Measure the README's fine-tuning recipe on 30 folk tunes the bundled model never saw.

    python scripts/finetune_check.py [--model composer/bundled/default.keras] [--folder DIR] [--out RUN]
                                     [--collection ryansMammoth] [--tunes 30] [--force] [--json PATH]

The bundled model learned Bach chorales on strings; the README promises that
`composer train my-midi/ --init-from composer/bundled/default.keras --epochs 40 --patience 5 --sequence-length 128
--batch-size 32`
adapts it to a user's own small folder. This check builds such a folder from the
fiddle tunes of Ryan's Mammoth Collection bundled with music21 (the first usable
tunes in file-name order; one melody per file, on violin, an instrument the model
knows), runs exactly that command through the CLI, and reports:
the fine-tuned LSTM's NLL per event on the held-out tunes (the validation split
`composer train` makes itself) against the n-gram baseline fitted on the same
split, and how 40 samples of 400 events compare with the folder on scale fit,
onsets on the eighth-note and beat grids, parts and instruments. Targets: the
LSTM beats the n-gram; samples within 0.05 of the folder on scale fit and on
onsets on the eighth-note grid.

Ryan's rather than the Essen folk songs (--collection essenFolksong/erk10.abc builds
such a folder): an Essen song is some 125 events, so 30 of them (3,700 events) train only with
validation lent up to 30% of the folder, and leave too few training events for the recipe's
128 x 32 windows, where it stops.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

from music21 import converter, corpus, meter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_samples  # noqa: E402  (the chorale converter: to_score, pickup padding, Result)

from composer.artifacts import model_encoding  # noqa: E402
from composer.evaluation.evaluate import compare_music  # noqa: E402
from composer.midi_io import write_score  # noqa: E402

REPO = make_samples.REPO
DEFAULT_MODEL = REPO / "composer" / "bundled" / "default.keras"
# Reels, hornpipes, jigs and strathspeys for the fiddle, one per file, repeats written out: ~800 events a tune.
DEFAULT_COLLECTION = "ryansMammoth"
VIOLIN = 40  # the soprano program of the bundled model's chorales, so the model knows it
# the README's fine-tuning command; on a folder this small, windows of 128 in batches of 32 (a few steps an epoch)
# keep the samples nearer the folder than the training defaults do (docs/quality.md, "Fine-tuning on your own tunes")
RECIPE = {"epochs": 40, "patience": 5, "sequence-length": 128, "batch-size": 32}
SAMPLES, LENGTH = 40, 400  # 40 as the quality targets use: with 20 the eighth-grid figure moves by 0.05 between seeds
SHOWN = ("scale_consistency", "onsets_on_eighth_grid", "onsets_on_beat", "parts")
TOLERANCE = 0.05  # the bound on |samples - folder| for scale fit and the eighth-note grid


def tunes(collection: Path) -> list[tuple[Path, int, str]]:
    """(file, X: reference number, song) of each tune of an ABC file or a folder of them: a fixed order.

    The song is the Essen catalog number of the N: field without its variant letter
    (E0001A and E0001B are variants of the song E0001), else the tune's own number;
    prefixed with the file's name, so that only variants within one file share one.
    """
    found = []
    for path in sorted(collection.glob("*.abc")) if collection.is_dir() else [collection]:
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in re.split(r"^(?=X:)", text, flags=re.MULTILINE):
            number = re.match(r"X:\s*(\d+)", block)
            if number:
                catalog = re.search(r"^N:\s*(\S+?)[A-Z]?\s*$", block, flags=re.MULTILINE)
                found.append((path, int(number[1]), f"{path.stem}:{catalog[1] if catalog else number[1]}"))
    return sorted(found, key=lambda tune: (tune[0].name, tune[1]))


def convert_tune(source: Path, number: int, out: Path, overwrite: bool) -> tuple[str, make_samples.Result]:
    """(title, result) of writing tune ``number`` as a one-part violin MIDI file; failures are a skipped result.

    Stricter than the chorales: a tune whose repeats cannot be expanded is skipped
    rather than kept as written (there are plenty of others), and so is one with no
    or several meters, because the file states one meter at the start.
    """
    name = f"{source.stem}-{number:04d}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about harmless ABC details
            parsed = converter.parse(source, number=number, forceSource=True)
            title = " ".join((parsed.metadata.title or name).split()) if parsed.metadata else name
            title = title.title() if title.isupper() else title  # Essen titles are in capitals
            problem = _unsuitable(parsed)
            if problem:
                return title, make_samples.Result(name, "skipped", problem)
            score = make_samples.to_score(parsed.expandRepeats())
        score = replace(score, tracks=tuple(replace(track, program=VIOLIN, name="Violin") for track in score.tracks))
        if not score.num_notes:
            return title, make_samples.Result(name, "skipped", "no notes")
        write_score(score, out / f"{name}.mid", overwrite=overwrite)
    except Exception as error:  # music21 raises many types (ExpanderException, meter and measure errors)
        return name, make_samples.Result(name, "skipped", f"{type(error).__name__}: {error}")
    return title, make_samples.Result(name, "ok", "", score.num_notes)


def _unsuitable(parsed) -> str:
    """Why a parsed tune cannot become one violin part with one meter at the start, or '' when it can."""
    if len(parsed.parts) != 1:
        return f"{len(parsed.parts)} parts"
    meters = {ts.ratioString for ts in parsed.recurse().getElementsByClass(meter.TimeSignature)}
    if len(meters) != 1:
        return f"meters: {', '.join(sorted(meters)) or 'none'}"
    return ""


def corpus_path(name: str) -> Path:
    """A file or folder of music21's bundled corpus ('ryansMammoth', 'essenFolksong/erk10.abc')."""
    path = Path(corpus.__file__).parent / name
    return path if path.exists() else Path(corpus.getWork(name))


def build_folder(collection: Path, folder: Path, count: int, overwrite: bool) -> tuple[list[dict], list[dict]]:
    """Write the first ``count`` usable tunes of ``collection`` to ``folder``; returns (written, skipped).

    Essen files hold many variants of one song; only the first usable one of each
    song is taken, so a held-out tune is never a variant of a training tune.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written, skipped, songs = [], [], set()
    for source, number, song in tunes(collection):
        if len(written) == count:
            break
        if song in songs:
            continue  # a variant of a song already in the folder; not worth a line in the report
        title, result = convert_tune(source, number, folder, overwrite)
        if result.status != "ok":
            skipped.append({"tune": result.source, "song": song, "reason": result.detail})
            continue
        songs.add(song)
        written.append({"file": f"{result.source}.mid", "song": song, "title": title, "notes": result.notes})
    if len(written) < count:
        raise SystemExit(f"error: only {len(written)} usable tunes in {collection}")
    return written, skipped


def check_folder(folder: Path, force: bool) -> None:
    """Refuse a folder inside the repository (it would end up in git) or one holding other MIDI files
    (composer train would learn them too); existing tunes need --force, like make_samples.py."""
    if folder.resolve().is_relative_to(REPO):
        raise SystemExit(f"error: {folder} is inside the repository; choose a folder outside it")
    existing = sorted(folder.glob("*.mid")) if folder.exists() else []
    if existing and not force:
        raise SystemExit(f"error: {folder} already holds {len(existing)} MIDI files; pass --force to rebuild it")
    for path in existing:  # --force: rebuild from scratch, so that no file from another selection stays
        path.unlink()


def train(folder: Path, model: Path, run: Path, seed: int, force: bool) -> float:
    """Run the README's recipe through the CLI, as a user would; returns the wall-clock seconds."""
    command = [
        str(Path(sys.executable).parent / "composer"),
        "train",
        str(folder),
        "--init-from",
        str(model),
        *[part for name, value in RECIPE.items() for part in (f"--{name}", str(value))],
        "--seed",
        str(seed),
        "--out",
        str(run),
    ] + (["--force"] if force else [])
    print("$ " + " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - started


def measure(folder: Path, run: Path, seed: int) -> dict:
    """The run's held-out NLL against the n-gram's, and its samples against the folder."""
    metadata, _ = model_encoding(run / "model.keras")
    music = compare_music(folder, model_path=run / "model.keras", samples=SAMPLES, num_events=LENGTH, seed=seed)
    return {
        "run": str(run),
        "epochs": len(metadata["history"].get("loss", [])),
        "training_seconds": metadata.get("training_seconds"),
        "data": {key: metadata["data"].get(key) for key in ("train_files", "valid_files", "valid_events")},
        "validation": metadata["metrics"]["validation"],
        "ngram": metadata["metrics"]["ngram_baseline"],
        "music": music,
    }


HEADER = (
    "| tunes (train / held out) | training | held-out NLL/event LSTM (n-gram) | scale fit samples (folder) "
    "| onsets on eighth grid | onsets on beat | parts | mean overlap | instruments in samples |"
)


def row(result: dict) -> str:
    """One markdown row; each music feature as 'samples (folder)'."""
    features = result["music"]["features"]
    shown = " | ".join(
        f"{features[name]['generated']['mean']:.3f} ({features[name]['reference']['mean']:.3f})" for name in SHOWN
    )
    using = features["instruments"]["generated"]["pieces_using"]
    instruments = ", ".join(f"{name} {share:.0%}" for name, share in using.items()) or "none"
    data = result["data"]
    return (
        f"| {result['tunes']} ({data['train_files']} / {data['valid_files']}) "
        f"| {result['epochs']} ep, {result['training_seconds'] / 60:.1f} min "
        f"| {result['validation']['nll_per_event']:.3f} ({result['ngram']['nll_per_event']:.3f}) | {shown} "
        f"| {result['music']['mean_overlap']:.3f} | {instruments} |"
    )


def verdict(result: dict) -> list[str]:
    """The issue's targets, each with whether this run meets it."""
    features = result["music"]["features"]
    lstm, ngram = result["validation"]["nll_per_event"], result["ngram"]["nll_per_event"]
    lines = [f"LSTM beats the n-gram on held-out tunes: {'yes' if lstm < ngram else 'NO'} ({lstm:.3f} vs {ngram:.3f})"]
    for name in ("scale_consistency", "onsets_on_eighth_grid"):
        gap = features[name]["generated"]["mean"] - features[name]["reference"]["mean"]
        lines.append(
            f"{name} within {TOLERANCE} of the folder: {'yes' if abs(gap) <= TOLERANCE else 'NO'} ({gap:+.3f})"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the model to fine-tune (--init-from)")
    parser.add_argument("--folder", type=Path, help="where to write the tunes (default: a new temporary folder)")
    parser.add_argument("--out", type=Path, help="the fine-tuning run's folder (default: a new temporary folder)")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION, help="a music21 corpus folder or ABC file of tunes")
    parser.add_argument("--tunes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="for training and for sampling")
    parser.add_argument("--force", action="store_true", help="replace the tunes in --folder and the run in --out")
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="folk-tunes-"))
    check_folder(folder, args.force)
    run = args.out or Path(tempfile.mkdtemp(prefix="folk-run-"))
    written, skipped = build_folder(corpus_path(args.collection), folder, args.tunes, args.force)
    print(f"{len(written)} tunes from {args.collection} in {folder}; skipped {len(skipped)}:")
    for entry in skipped:
        print(f"  {entry['tune']}: {entry['reason']}")
    wall_seconds = train(folder, args.model, run, args.seed, args.force)
    result = measure(folder, run, args.seed) | {
        "tunes": len(written),
        "folder": str(folder),
        "model": str(args.model),
        "train_command_seconds": wall_seconds,
        "written": written,
        "skipped": skipped,
    }
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    print(row(result))
    print("\n".join(verdict(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
