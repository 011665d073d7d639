"""Music statistics of pieces, and how closely two sets of pieces agree on them (MGEval / muspy style).

Every feature is computed with numpy on the neutral Score, in beats, so a
generated piece and a reference file are measured on the same grid. A feature
that a piece cannot have (no notes, or only drums for the pitch features) is NaN:
a 0-d NaN for a scalar, an all-NaN vector for a histogram. Undefined is then
never mistaken for a real value, and compare_sets leaves such pieces out.

Drums are left out of the pitch features (a drum "pitch" names an instrument)
and of durations and polyphony (a drum note's length means nothing); onsets,
density and empty beats count every note, since drums are rhythm.

The features: pitch_class_histogram (12 bins from C), pitch_class_entropy (bits),
pitch_range (semitones), scale_consistency, consonance, polyphony,
duration_histogram and ioi_histogram (note values 1/16 .. 4 beats), note_density
(notes per beat), empty_beat_rate, onsets_on_beat, onsets_on_eighth_grid,
repetition, parts and instruments (General MIDI programs, drums apart); each
helper's docstring gives the exact definition. Beside the per-feature overlaps,
two_sample_test asks whether a classifier can tell the two sets apart at all.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np

from composer.data.corpus import find_midi_files
from composer.errors import ComposerError
from composer.midi_io import OUTPUT_PPQ, program_name, read_score
from composer.scales import key_fit
from composer.score import Score

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_VALUES_BEATS = 2.0 ** np.arange(-4, 3)  # 1/16 .. 4 beats, one bin per note value
NOTE_VALUE_LABELS = ("1/16", "1/8", "1/4", "1/2", "1", "2", "4")
MIN_DURATION_BEATS = 1 / OUTPUT_PPQ  # a zero-length note sounds for one tick, as midi_io writes it
REPEAT_STEPS_PER_BEAT = 12  # bar contents are compared on a grid that holds sixteenths and triplets
KDE_POINTS = 512
MIN_BANDWIDTH_FRACTION = 0.02  # of the pooled range: keeps a set of equal values from becoming a spike
KL_SMOOTHING = 1e-6
GRID_TOLERANCE_BEATS = 1 / 48  # an onset this close to a grid line is on it (MIDI files drift by a few ticks)
CONSONANT_INTERVALS = (0, 3, 4, 7, 8, 9)  # unison/octave, thirds, fifth, sixths; the fourth (5) depends on the bass
FOURTH = 5
DRUM_BIN = 128  # instruments: bins 0-127 are General MIDI programs, the last one drums
RARE_SHARE = 0.02  # an instrument in fewer reference pieces than this is rare in the corpus
NEIGHBOURS = 5  # k of the two-sample test's k-nearest-neighbour classifier; odd, so a vote has no tie
TWO_SAMPLE_REPEATS = 10  # draws of the pieces compared, averaged: one draw of 20 from 350 is noisy
TWO_SAMPLE_MIN_PIECES = 3  # per set: fewer leave a piece fewer than NEIGHBOURS others to vote
OVERLAP_CONTROL_DRAWS = 5  # draws of reference pieces held out against the rest for the overlaps' control

BIN_LABELS = {
    "pitch_class_histogram": PITCH_CLASS_NAMES,
    "duration_histogram": NOTE_VALUE_LABELS,
    "ioi_histogram": NOTE_VALUE_LABELS,
    "instruments": tuple(program_name(program) for program in range(DRUM_BIN)) + ("drums",),
}


def piece_features(score: Score) -> dict[str, np.ndarray]:
    """Every feature of one piece: 0-d arrays for scalars, 1-d normalised arrays for histograms."""
    starts, ends, pitches = _note_arrays(score, drums=False)
    all_starts, all_ends, _ = _note_arrays(score, drums=True)
    features = {
        "pitch_class_histogram": _normalised(_pitch_class_counts(pitches)),
        "pitch_class_entropy": _entropy_bits(_pitch_class_counts(pitches)),
        "pitch_range": float(np.ptp(pitches)) if len(pitches) else math.nan,
        "scale_consistency": _scale_consistency(pitches),
        "consonance": _consonance(starts, ends, pitches),
        "polyphony": _polyphony(starts, ends),
        "duration_histogram": _note_value_histogram(ends - starts),
        "ioi_histogram": _note_value_histogram(np.diff(np.unique(all_starts))),
        "note_density": _note_density(all_starts, all_ends),
        "empty_beat_rate": _empty_beat_rate(all_starts, all_ends),
        "onsets_on_beat": _on_grid(all_starts, score, 1.0),
        "onsets_on_eighth_grid": _on_grid(all_starts, score, 0.5),
        "repetition": _repetition(starts, pitches, score),
        "parts": sum(1 for track in score.tracks if track.notes) or math.nan,
        "instruments": _instruments(score),
    }
    return {name: np.asarray(value, dtype=np.float64) for name, value in features.items()}


def compare_sets(generated: list[Score], reference: list[Score], *, seed: int = 0) -> dict:
    """Per feature: each set's distribution, their overlap area (1 = same) and KL(generated || reference);
    the instruments the generated set uses that are rare in the reference; and the two-sample test.

    Both sets are measured over the same span, each piece's first ``beats`` beats (the shorter of the two
    sets' median lengths): a longer piece modulates more, reaches further and has more bars that can
    return, so whole pieces of different lengths would differ by their length alone.
    """
    if not generated or not reference:
        raise ComposerError("both the generated and the reference set need at least one piece")
    beats = _common_length(generated, reference)
    rows = [[piece_features(_cut(score, beats)) for score in scores] for scores in (generated, reference)]
    columns = {name: (_column(rows[0], name), _column(rows[1], name)) for name in rows[0][0]}
    features = {name: _compare_feature(name, *pair) for name, pair in columns.items()}
    for side, values in zip(("generated", "reference"), columns["instruments"]):
        features["instruments"][side]["pieces_using"] = _pieces_using(values)
    return {
        "pieces": {"generated": len(generated), "reference": len(reference)},
        "beats": beats,
        "features": features,
        "mean_overlap": _mean_overlap(features),
        "overlap_control": _overlap_control(rows[1], len(generated), seed),
        "rare_instruments": _rare_instruments(*columns["instruments"]),
        **_two_sample(*map(_feature_matrix, rows), beats, seed),
    }


def _mean_overlap(features: dict[str, dict]) -> float | None:
    overlaps = [feature["overlap"] for feature in features.values() if feature["overlap"] is not None]
    return float(np.mean(overlaps)) if overlaps else None


def _overlap_control(reference_rows: list[dict], size: int, seed: int) -> dict | None:
    """The overlaps of ``size`` reference pieces held out against the other reference pieces, per feature
    averaged over OVERLAP_CONTROL_DRAWS draws: what real music of this corpus scores against itself, the
    ceiling to read a model's overlaps against (an overlap also falls with fewer pieces). None when the
    reference holds fewer than twice TWO_SAMPLE_MIN_PIECES pieces."""
    size = min(size, len(reference_rows) // 2)
    if size < TWO_SAMPLE_MIN_PIECES:
        return None
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(OVERLAP_CONTROL_DRAWS):
        order = rng.permutation(len(reference_rows))
        held, rest = ([reference_rows[i] for i in part] for part in (order[:size], order[size:]))
        draws.append({name: _compare_feature(name, _column(held, name), _column(rest, name)) for name in held[0]})
    per_draw = [_mean_overlap(draw) for draw in draws]
    return {
        "pieces": size,
        "draws": OVERLAP_CONTROL_DRAWS,
        "mean_overlap": float(np.mean(per_draw)),
        "mean_overlap_range": [min(per_draw), max(per_draw)],
        "features": {name: _mean_or_none([draw[name]["overlap"] for draw in draws]) for name in draws[0]},
    }


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


def two_sample_test(generated: list[Score], reference: list[Score], *, seed: int = 0) -> dict:
    """Classifier two-sample test: leave-one-out accuracy of a k-nearest-neighbour vote telling generated pieces
    from reference ones (0.5 = it cannot, 1.0 = always), beside the same test on two disjoint halves of the
    reference, which shows how far from 0.5 real music alone lands with this many pieces.

    Each piece is cut to its first ``beats`` beats (as compare_sets does), so that length alone tells
    nothing; a piece is then the vector of its scalar features and histogram bins, each column
    standardised over the pieces compared. A histogram thus has a say per bin: a difference spread over many
    bins (instruments, pitch classes) is that much more evidence. Each test draws equal numbers of pieces from
    both sides and is averaged over TWO_SAMPLE_REPEATS draws made with ``seed``. A test with fewer than
    TWO_SAMPLE_MIN_PIECES pieces a side is None.
    """
    beats = _common_length(generated, reference)
    rows = [[piece_features(_cut(score, beats)) for score in scores] for scores in (generated, reference)]
    return _two_sample(*map(_feature_matrix, rows), beats, seed)


def _two_sample(fake: np.ndarray, real: np.ndarray, beats: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pieces, halves = min(len(fake), len(real)), min(len(fake), len(real) // 2)

    def test(size: int, draw) -> float | None:
        if size < TWO_SAMPLE_MIN_PIECES:
            return None
        return float(np.mean([_knn_accuracy(*draw(size)) for _ in range(TWO_SAMPLE_REPEATS)]))

    def halves_of_real(size: int):
        order = rng.permutation(len(real))
        return real[order[:size]], real[order[size : 2 * size]]

    return {
        "two_sample_accuracy": test(pieces, lambda size: (_draw(rng, fake, size), _draw(rng, real, size))),
        "two_sample_control": test(halves, halves_of_real),
        "two_sample": {
            "beats": beats,
            "pieces_per_set": pieces,
            "control_pieces_per_set": halves,
            "neighbours": NEIGHBOURS,
            "repeats": TWO_SAMPLE_REPEATS,
            "seed": seed,
        },
    }


def _common_length(generated: list[Score], reference: list[Score]) -> float:
    """The span both sets are measured over: the shorter of their median lengths, in beats."""
    return min(float(np.median([score.end_beat for score in scores])) for scores in (generated, reference))


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
    """Markdown: the two-sample test, a table with one row a feature (histograms show their peak bin in place of
    a mean), and which instruments each set uses, flagging those the reference rarely has."""
    pieces = result["pieces"]
    lines = [
        "# Music statistics: generated vs reference",
        "",
        f"{pieces['generated']} generated and {pieces['reference']} reference pieces, each measured over its first "
        f"{result['beats']:g} beats; mean overlap {_number(result['mean_overlap'], '.3f')} "
        f"(1 = the sets cannot be told apart); {_format_overlap_control(result['overlap_control'])}",
        "",
        _format_two_sample(result),
        "",
        "| feature | overlap | real vs real | KL | generated mean | reference mean |",
        "|---|---|---|---|---|---|",
    ]
    control = (result["overlap_control"] or {}).get("features", {})
    for name, feature in result["features"].items():
        means = (_describe(feature, feature[side]["mean"]) for side in ("generated", "reference"))
        overlap, real, kl = (
            _number(feature["overlap"], ".3f"),
            _number(control.get(name), ".3f"),
            _number(feature["kl"]),
        )
        lines.append(f"| {name} | {overlap} | {real} | {kl} | {' | '.join(means)} |")
    return "\n".join(lines + ["", *_format_instruments(result)]) + "\n"


def _format_overlap_control(control: dict | None) -> str:
    if control is None:
        return "real vs real: n/a (too few reference pieces to hold some out)."
    low, high = control["mean_overlap_range"]
    return (
        f"real vs real {control['mean_overlap']:.3f} ({low:.3f}-{high:.3f}: {control['pieces']} reference "
        f"pieces held out against the rest, {control['draws']} draws)."
    )


def _format_two_sample(result: dict) -> str:
    setup = result["two_sample"]
    return (
        f"Two-sample test ({setup['neighbours']}-nearest neighbours, leave-one-out, first {setup['beats']:g} beats of "
        f"each piece): generated vs reference accuracy {_number(result['two_sample_accuracy'], '.3f')} "
        f"({setup['pieces_per_set']} pieces a side); real vs real {_number(result['two_sample_control'], '.3f')} "
        f"({setup['control_pieces_per_set']} a side). 0.5: the classifier cannot tell them apart; 1: always can."
    )


def _format_instruments(result: dict) -> list[str]:
    """Share of pieces using each instrument, then the generated pieces' instruments the reference rarely uses."""
    using = {side: result["features"]["instruments"][side]["pieces_using"] for side in ("generated", "reference")}
    lines = ["| instrument | generated pieces | reference pieces |", "|---|---|---|"]
    for name in dict.fromkeys([*using["generated"], *using["reference"]]):
        lines.append(f"| {name} | {using['generated'].get(name, 0):.1%} | {using['reference'].get(name, 0):.1%} |")
    rare = [
        f"{r['instrument']} in {r['generated_pieces']} of {result['pieces']['generated']} generated pieces "
        f"(reference {r['reference_share']:.1%})"
        for r in result["rare_instruments"]
    ]
    note = f"Instruments in fewer than {RARE_SHARE:.0%} of the reference pieces: "
    return [*lines, "", note + ("; ".join(rare) if rare else "none used by the generated pieces.")]


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
    return float(key_fit(_pitch_class_counts(pitches))) if len(pitches) else math.nan


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
    bars, positions = _bar_positions(starts, score)
    steps = np.round(positions * REPEAT_STEPS_PER_BEAT).astype(int)
    contents: dict[int, list[tuple[int, int]]] = {}
    for bar, step, pitch in zip(bars.tolist(), steps.tolist(), pitches.tolist()):
        contents.setdefault(bar, []).append((step, pitch))
    keys = [tuple(sorted(notes)) for _, notes in sorted(contents.items())]
    return 1.0 - len(set(keys)) / len(keys)


def _bar_positions(starts: np.ndarray, score: Score) -> tuple[np.ndarray, np.ndarray]:
    """Each onset's bar (an index into ``score.bar_lines``) and how many beats after that bar line it falls;
    an onset a hair before a bar line belongs to the bar that starts there."""
    bar_starts = np.array(score.bar_lines(float(starts.max())))
    bars = np.searchsorted(bar_starts, starts + GRID_TOLERANCE_BEATS, side="right") - 1
    return bars, starts - bar_starts[bars]


def _on_grid(starts: np.ndarray, score: Score, spacing: float) -> float:
    """Share of onsets within GRID_TOLERANCE_BEATS of a multiple of ``spacing`` beats after their bar line
    (1: on a beat, 0.5: on the eighth-note grid); counted from bar lines, so a pickup or a 3/8 bar moves the grid."""
    if not len(starts):
        return math.nan
    _, positions = _bar_positions(starts, score)
    return float(np.mean(np.abs(positions - spacing * np.round(positions / spacing)) <= GRID_TOLERANCE_BEATS))


def _entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of pitch-class counts, each note counted once whatever its length, so that it
    reads like the pitch-class histogram: 0 for one pitch class, log2(12) = 3.58 for all twelve equally often."""
    total = counts.sum()
    if not total:
        return math.nan
    used = counts[counts > 0]
    return float(np.log2(total) - (used * np.log2(used)).sum() / total)


def _consonance(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> float:
    """Share of consonant pairs among the pairs of pitched notes sounding together, as they begin.

    At each onset every new note is paired with every other note then sounding (each pair once). Interval
    classes 0, 3, 4, 7, 8, 9 (unison/octave, thirds, fifth, sixths) are consonant, and the fourth (5) too unless
    its lower note is the lowest note sounding, as in counterpoint. Four uniformly random pitches a beat score
    about 0.55, the Bach chorales of midi_samples/ 0.83 on average. NaN when no two notes ever sound together
    (a melody).
    """
    lower, upper, bass = _sounding_pairs(starts, ends, pitches)
    if not len(lower):
        return math.nan
    interval = (upper - lower) % 12
    consonant = np.isin(interval, CONSONANT_INTERVALS) | ((interval == FOURTH) & (lower != bass))
    return float(consonant.mean())


def _sounding_pairs(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """(lower pitch, upper pitch, lowest pitch sounding) of each pair sounding together at the later one's onset,
    as three rows; ``starts`` sorted."""
    pairs: list[tuple[int, int, int]] = []
    held: list[tuple[float, int]] = []  # (end, pitch) of the notes begun before the current onset
    onsets, firsts = np.unique(starts, return_index=True)
    for onset, first, stop in zip(onsets.tolist(), firsts.tolist(), [*firsts[1:].tolist(), len(starts)]):
        held = [(end, pitch) for end, pitch in held if end > onset]
        new = pitches[first:stop].tolist()
        others = [pitch for _, pitch in held]
        bass = min(others + new)
        for index, pitch in enumerate(new):
            pairs += [(min(pitch, other), max(pitch, other), bass) for other in others + new[index + 1 :]]
        held += zip(ends[first:stop].tolist(), new)
    return np.array(pairs, dtype=np.int64).reshape(-1, 3).T


def _instruments(score: Score) -> np.ndarray:
    """Each General MIDI program the piece plays (drums in the last bin) gets an equal share: a set's mean is
    then how instruments spread over its pieces, and a bin is non-zero exactly in the pieces that use it."""
    counts = np.zeros(DRUM_BIN + 1)
    counts[[DRUM_BIN if track.is_drum else track.program for track in score.tracks if track.notes]] = 1.0
    return _normalised(counts)


def _pieces_using(values: np.ndarray) -> dict[str, float]:
    """Share of the pieces (with notes) using each instrument, the most common first; unused ones left out."""
    shares = (values > 0).mean(axis=0) if len(values) else np.zeros(DRUM_BIN + 1)
    order = np.argsort(-shares, kind="stable")
    return {BIN_LABELS["instruments"][b]: float(shares[b]) for b in order if shares[b] > 0}


def _rare_instruments(generated: np.ndarray, reference: np.ndarray) -> list[dict]:
    """The instruments generated pieces play that fewer than RARE_SHARE of the reference pieces do, with how many
    generated pieces play each: a model should not make a corpus's oddities common."""
    used = (generated > 0).sum(axis=0)
    shares = (reference > 0).mean(axis=0) if len(reference) else np.zeros(DRUM_BIN + 1)
    rare = sorted(np.flatnonzero((used > 0) & (shares < RARE_SHARE)).tolist(), key=lambda b: -used[b])
    return [
        {
            "instrument": BIN_LABELS["instruments"][b],
            "program": "drums" if b == DRUM_BIN else b,
            "generated_pieces": int(used[b]),
            "reference_share": float(shares[b]),
        }
        for b in rare
    ]


def _cut(score: Score, beats: float) -> Score:
    """The piece's first ``beats`` beats: later notes left out, notes still sounding then cut short."""
    tracks = tuple(
        replace(track, notes=tuple(replace(n, end=min(n.end, beats)) for n in track.notes if n.start < beats))
        for track in score.tracks
    )
    return replace(score, tracks=tracks, length=min(score.length, beats))


def _feature_matrix(rows: list[dict[str, np.ndarray]]) -> np.ndarray:
    """The pieces' features as rows, a histogram's bins as columns of their own: (pieces, columns)."""
    return np.array([np.concatenate([np.ravel(value) for value in row.values()]) for row in rows]).reshape(
        len(rows), -1
    )


def _draw(rng: np.random.Generator, rows: np.ndarray, size: int) -> np.ndarray:
    return rows[rng.choice(len(rows), size, replace=False)]


def _knn_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    """Leave-one-out accuracy of a NEIGHBOURS-nearest-neighbour majority vote telling the rows of ``a`` from those
    of ``b``, in Euclidean distance over the standardised columns."""
    x = _standardised(np.concatenate([a, b]))
    labels = np.repeat([False, True], [len(a), len(b)])
    squared = (x**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * x @ x.T  # (pieces, pieces), without a (p, p, columns) array
    np.fill_diagonal(distances, np.inf)  # a piece never votes for itself
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :NEIGHBOURS]
    return float(np.mean((2 * labels[nearest].sum(axis=1) > NEIGHBOURS) == labels))


def _standardised(x: np.ndarray) -> np.ndarray:
    """Columns shifted and scaled to mean 0 and standard deviation 1 over their defined values; an undefined value
    (NaN) becomes 0, the mean, and a constant column all 0, so that neither moves a distance."""
    defined = ~np.isnan(x)
    count = np.maximum(defined.sum(axis=0), 1)
    centred = np.where(defined, x - np.where(defined, x, 0).sum(axis=0) / count, 0)
    spread = np.sqrt((centred**2).sum(axis=0) / count)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)


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
