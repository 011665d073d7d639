"""Music statistics of pieces, and how closely two sets of pieces agree on them (MGEval / muspy style).

Every feature is computed with numpy on the neutral Score, in beats, so a
generated piece and a reference file are measured on the same grid. A feature
that a piece cannot have (no notes, or only drums for the pitch features) is NaN:
a 0-d NaN for a scalar, an all-NaN vector for a histogram. Undefined is then
never mistaken for a real value, and compare_sets leaves such pieces out.

Drums are left out of the pitch features (a drum "pitch" names an instrument)
and of durations and polyphony (a drum note's length means nothing); onsets,
density and empty beats count every note, since drums are rhythm.

The features: pitch_class_histogram (12 bins from C), pitch_range (semitones),
scale_consistency, polyphony, duration_histogram and ioi_histogram (note values
1/16 .. 4 beats), note_density (notes per beat), empty_beat_rate and repetition;
each helper's docstring gives the exact definition.
"""

from __future__ import annotations

import math
import os

import numpy as np

from composer.corpus import find_midi_files
from composer.errors import ComposerError
from composer.midi_io import OUTPUT_PPQ, read_score
from composer.score import Score

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_VALUES_BEATS = 2.0 ** np.arange(-4, 3)  # 1/16 .. 4 beats, one bin per note value
NOTE_VALUE_LABELS = ("1/16", "1/8", "1/4", "1/2", "1", "2", "4")
MIN_DURATION_BEATS = 1 / OUTPUT_PPQ  # a zero-length note sounds for one tick, as midi_io writes it
REPEAT_STEPS_PER_BEAT = 12  # bar contents are compared on a grid that holds sixteenths and triplets
KDE_POINTS = 512
MIN_BANDWIDTH_FRACTION = 0.02  # of the pooled range: keeps a set of equal values from becoming a spike
KL_SMOOTHING = 1e-6

# Major and harmonic minor: natural minor has the same pitch set as its relative major, so it would add nothing.
_SCALE_STEPS = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11))
_SCALES = np.array([np.isin(np.arange(12), np.add(steps, root) % 12) for steps in _SCALE_STEPS for root in range(12)])
BIN_LABELS = {
    "pitch_class_histogram": PITCH_CLASS_NAMES,
    "duration_histogram": NOTE_VALUE_LABELS,
    "ioi_histogram": NOTE_VALUE_LABELS,
}


def piece_features(score: Score) -> dict[str, np.ndarray]:
    """Every feature of one piece: 0-d arrays for scalars, 1-d normalised arrays for histograms."""
    starts, ends, pitches = _note_arrays(score, drums=False)
    all_starts, all_ends, _ = _note_arrays(score, drums=True)
    features = {
        "pitch_class_histogram": _normalised(_pitch_class_counts(pitches)),
        "pitch_range": float(np.ptp(pitches)) if len(pitches) else math.nan,
        "scale_consistency": _scale_consistency(pitches),
        "polyphony": _polyphony(starts, ends),
        "duration_histogram": _note_value_histogram(ends - starts),
        "ioi_histogram": _note_value_histogram(np.diff(np.unique(all_starts))),
        "note_density": _note_density(all_starts, all_ends),
        "empty_beat_rate": _empty_beat_rate(all_starts, all_ends),
        "repetition": _repetition(starts, pitches, score),
    }
    return {name: np.asarray(value, dtype=np.float64) for name, value in features.items()}


def compare_sets(generated: list[Score], reference: list[Score]) -> dict:
    """Per feature: each set's distribution, their overlap area (1 = same) and KL(generated || reference)."""
    if not generated or not reference:
        raise ComposerError("both the generated and the reference set need at least one piece")
    columns = [[piece_features(score) for score in scores] for scores in (generated, reference)]
    features = {name: _compare_feature(name, *(_column(rows, name) for rows in columns)) for name in columns[0][0]}
    overlaps = [feature["overlap"] for feature in features.values() if feature["overlap"] is not None]
    return {
        "pieces": {"generated": len(generated), "reference": len(reference)},
        "features": features,
        "mean_overlap": float(np.mean(overlaps)) if overlaps else None,
    }


def load_scores(folder: str | os.PathLike) -> tuple[dict[str, Score], dict[str, str]]:
    """The scores of every usable MIDI file below ``folder`` by path, and the skipped files with the reason.

    One listing of the folder names both, so a file added meanwhile cannot pair a name with another's score.
    """
    paths = find_midi_files(folder)
    if not paths:
        raise ComposerError(f"{folder}: no .mid or .midi files found; give the folder that holds the pieces")
    scores, skipped = {}, {}
    for path in paths:
        try:
            scores[str(path)] = read_score(path)
        except ComposerError as error:
            skipped[str(path)] = str(error).removeprefix(f"{path}: ")
    if not scores:
        first, reason = next(iter(skipped.items()))
        raise ComposerError(
            f"{folder}: none of the {len(paths)} MIDI files could be read (first: {first}: {reason}); "
            "give a folder that holds readable MIDI files"
        )
    return scores, skipped


def format_report(result: dict) -> str:
    """A Markdown table, one row a feature; histograms show their peak bin in place of a mean."""
    pieces = result["pieces"]
    lines = [
        "# Music statistics: generated vs reference",
        "",
        f"{pieces['generated']} generated and {pieces['reference']} reference pieces; "
        f"mean overlap {_number(result['mean_overlap'], '.3f')} (1 = the sets cannot be told apart).",
        "",
        "| feature | overlap | KL | generated mean | reference mean |",
        "|---|---|---|---|---|",
    ]
    for name, feature in result["features"].items():
        means = (_describe(feature, feature[side]["mean"]) for side in ("generated", "reference"))
        overlap, kl = _number(feature["overlap"], ".3f"), _number(feature["kl"])
        lines.append(f"| {name} | {overlap} | {kl} | {' | '.join(means)} |")
    return "\n".join(lines) + "\n"


def _note_arrays(score: Score, *, drums: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, pitches) of the notes, by onset; ends at least one tick after starts."""
    notes = sorted(note for track in score.tracks if drums or not track.is_drum for note in track.notes)
    starts = np.array([note.start for note in notes], dtype=np.float64)
    ends = np.array([note.end for note in notes], dtype=np.float64)
    pitches = np.array([note.pitch for note in notes], dtype=np.int64)
    return starts, np.maximum(ends, starts + MIN_DURATION_BEATS), pitches


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.full(len(counts), np.nan)


def _pitch_class_counts(pitches: np.ndarray) -> np.ndarray:
    return np.bincount(pitches % 12, minlength=12).astype(np.float64)


def _note_value_histogram(beats: np.ndarray) -> np.ndarray:
    """Counts per nearest note value on a log scale (a dotted quarter is nearer a half than a quarter)."""
    edges = np.sqrt(NOTE_VALUES_BEATS[:-1] * NOTE_VALUES_BEATS[1:])
    return _normalised(np.bincount(np.digitize(beats, edges), minlength=len(NOTE_VALUES_BEATS)).astype(np.float64))


def _scale_consistency(pitches: np.ndarray) -> float:
    """Largest fraction of pitched notes inside one of the 24 major / harmonic minor scales."""
    counts = _pitch_class_counts(pitches)
    return float((_SCALES @ counts).max() / counts.sum()) if len(pitches) else math.nan


def _polyphony(starts: np.ndarray, ends: np.ndarray) -> float:
    """Mean number of notes sounding at each distinct onset (1 for a melody); ``starts`` sorted."""
    if not len(starts):
        return math.nan
    onsets = np.unique(starts)
    sounding = np.searchsorted(starts, onsets, side="right") - np.searchsorted(np.sort(ends), onsets, side="right")
    return float(sounding.mean())


def _sounding_beats(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per whole beat from 0 to the end of the last note: how many notes sound during it."""
    changes = np.zeros(int(np.ceil(ends.max())) + 1)
    np.add.at(changes, np.floor(starts).astype(int), 1)
    np.add.at(changes, np.ceil(ends).astype(int), -1)
    return np.cumsum(changes)[:-1]


def _note_density(starts: np.ndarray, ends: np.ndarray) -> float:
    """Notes per beat, over the whole beats from 0 to the end of the last note."""
    return len(starts) / len(_sounding_beats(starts, ends)) if len(starts) else math.nan


def _empty_beat_rate(starts: np.ndarray, ends: np.ndarray) -> float:
    """Fraction of the whole beats from 0 to the end of the last note in which nothing sounds."""
    return float(np.mean(_sounding_beats(starts, ends) == 0)) if len(starts) else math.nan


def _repetition(starts: np.ndarray, pitches: np.ndarray, score: Score) -> float:
    """Fraction of the bars holding notes whose onsets and pitches repeat an earlier bar exactly."""
    if not len(starts):
        return math.nan
    bar_starts = np.array(score.bar_lines(float(starts.max())))
    bars = np.searchsorted(bar_starts, starts, side="right") - 1
    steps = np.round((starts - bar_starts[bars]) * REPEAT_STEPS_PER_BEAT).astype(int)
    contents: dict[int, list[tuple[int, int]]] = {}
    for bar, step, pitch in zip(bars.tolist(), steps.tolist(), pitches.tolist()):
        contents.setdefault(bar, []).append((step, pitch))
    keys = [tuple(sorted(notes)) for _, notes in sorted(contents.items())]
    return 1.0 - len(set(keys)) / len(keys)


def _column(rows: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    """One feature across pieces, (pieces,) or (pieces, bins), leaving out the pieces where it is undefined."""
    values = np.array([row[name] for row in rows])
    return values[~np.isnan(values.reshape(len(values), -1)).any(axis=1)]


def _compare_feature(name: str, generated: np.ndarray, reference: np.ndarray) -> dict:
    if not len(generated) or not len(reference):
        p = q = None
    elif generated.ndim == 1:
        p, q = _kde_pair(generated, reference)
    else:
        p, q = generated.mean(axis=0), reference.mean(axis=0)
    result = {
        "kind": "scalar" if generated.ndim == 1 else "histogram",
        "overlap": None if p is None else min(1.0, float(np.minimum(p, q).sum())),  # rounding can pass 1
        "kl": None if p is None else _kl(p, q),
        "generated": _summary(generated),
        "reference": _summary(reference),
    }
    return result | ({"bins": list(BIN_LABELS[name])} if name in BIN_LABELS else {})


def _summary(values: np.ndarray) -> dict:
    """Scalars keep every piece's value (for plots); histograms keep the mean over pieces."""
    mean = values.mean(axis=0).tolist() if len(values) else None
    return {"pieces": len(values), "mean": mean} | ({"values": values.tolist()} if values.ndim == 1 else {})


def _kde_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian KDEs of both sets as probabilities on one shared grid, so that sum(min(p, q)) is the overlap."""
    pooled = np.concatenate([a, b])
    span = float(np.ptp(pooled))
    floor = span * MIN_BANDWIDTH_FRACTION if span > 0 else 1.0
    widths = max(_silverman(a), floor), max(_silverman(b), floor)
    grid = np.linspace(pooled.min() - 4 * max(widths), pooled.max() + 4 * max(widths), KDE_POINTS)
    return _kde(a, widths[0], grid), _kde(b, widths[1], grid)


def _silverman(values: np.ndarray) -> float:
    quartiles = np.percentile(values, [25, 75])
    spread = min(float(values.std()), float(quartiles[1] - quartiles[0]) / 1.349) or float(values.std())
    return 0.9 * spread * len(values) ** -0.2


def _kde(values: np.ndarray, bandwidth: float, grid: np.ndarray) -> np.ndarray:
    density = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)
    return density / density.sum()


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats, both smoothed so that a bin one set never uses costs a lot but not infinity."""
    p, q = (p + KL_SMOOTHING) / (1 + KL_SMOOTHING * len(p)), (q + KL_SMOOTHING) / (1 + KL_SMOOTHING * len(q))
    return max(0.0, float(np.sum(p * np.log(p / q))))  # rounding can dip below 0


def _number(value: float | None, spec: str = ".3g") -> str:
    return "n/a" if value is None else format(value, spec)


def _describe(feature: dict, mean) -> str:
    if mean is None or feature["kind"] == "scalar":
        return _number(mean)
    peak = int(np.argmax(mean))
    return f"peak {feature['bins'][peak]} ({mean[peak]:.2f})"
