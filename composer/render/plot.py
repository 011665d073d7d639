"""Pictures for people: training loss curves, piano rolls and feature comparisons, written atomically as PNG."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from composer.atomic import write_atomic
from composer.midi_io import program_name
from composer.score import Score

MAX_PANEL_BINS = 12  # bins a feature panel can label side by side


def plot_losses(history: dict[str, list[float]], path: Path) -> Path:
    figure, axes = _figure((6, 4))
    epochs = range(1, len(history.get("loss", [])) + 1)
    for key, label in (("loss", "training (windows)"), ("val_loss", "validation (windows)")):
        axes.plot(epochs, history.get(key, []), marker="o", label=label)
    axes.set(xlabel="epoch", ylabel="NLL per event (nats)", title="composer training")
    axes.legend()
    return _save(figure, path, overwrite=True)


def plot_piano_roll(score: Score, path: Path, *, overwrite: bool = False) -> Path:
    return _save(piano_roll_figure(score), path, overwrite=overwrite)


def piano_roll_figure(score: Score):
    """One coloured bar per note, a colour of its own per track, time in beats with the score's bar lines
    (``Score.bar_lines``, so they follow meter changes as the MIDI file's do)."""
    figure, axes = _figure((12, 5))
    for track, colour in zip(score.tracks, _distinct_colours(len(score.tracks))):
        for note in track.notes:
            axes.add_patch(
                _patches().Rectangle(
                    (note.start, note.pitch - 0.4), note.end - note.start, 0.8, color=colour, alpha=0.8
                )
            )
        axes.plot([], [], color=colour, linewidth=6, label=track.name or program_name(track.program, track.is_drum))
    pitches = [n.pitch for t in score.tracks for n in t.notes] or [60]
    axes.set(
        xlim=(0, max(score.end_beat, 1)), ylim=(min(pitches) - 2, max(pitches) + 2), xlabel="beat", ylabel="MIDI pitch"
    )
    for line in score.bar_lines(score.end_beat):
        axes.axvline(line, color="grey", linewidth=0.5)
    axes.legend(loc="upper right", fontsize="small")
    return figure


def _distinct_colours(count: int) -> list:
    """Twenty paired colours, or as many evenly spaced hues when a score has more tracks: a colour never
    stands for two instruments."""
    import matplotlib

    if count <= 20:
        return [matplotlib.colormaps["tab20"](index) for index in range(count)]
    return [matplotlib.colormaps["hsv"](index / count) for index in range(count)]


def plot_feature_comparison(result: dict, path: Path, *, overwrite: bool = False) -> Path:
    """Small multiples of ``features.compare_sets``: each feature's generated and reference distributions."""
    features = result["features"]
    columns = 3
    rows = max(1, math.ceil(len(features) / columns))
    figure, grid = _figure((4 * columns, 3 * rows), nrows=rows, ncols=columns, squeeze=False)
    for axes, (name, feature) in zip(grid.flat, features.items()):
        draw = _draw_histograms if feature["kind"] == "histogram" else _draw_values
        draw(axes, feature)
        overlap = "n/a" if feature["overlap"] is None else f"{feature['overlap']:.2f}"
        axes.set_title(f"{name} (overlap {overlap})", fontsize="medium")
    for axes in list(grid.flat)[len(features) :]:
        axes.set_visible(False)
    figure.legend(*grid.flat[0].get_legend_handles_labels(), loc="upper center", ncols=2)
    # Fixed margins, not tight_layout or a tight bounding box: each would draw every panel once more.
    # The bottom inch and a half holds the last row's instrument names, written upwards.
    figure.subplots_adjust(left=0.05, right=0.98, bottom=1.5 / (3 * rows), top=1 - 0.25 / rows, hspace=0.4, wspace=0.3)
    return _save(figure, path, overwrite=overwrite, trim=False)


def _draw_histograms(axes, feature: dict) -> None:
    """The two mean histograms as side-by-side bars over the feature's bins; of a histogram with more bins than
    a panel can label (instruments), only the bins either set uses, their names written upwards."""
    bins = feature["bins"]
    means = [np.asarray(feature[side]["mean"] or np.zeros(len(bins))) for side in ("generated", "reference")]
    many = len(bins) > MAX_PANEL_BINS
    shown = np.flatnonzero(means[0] + means[1] > 0) if many else np.arange(len(bins))
    positions = np.arange(len(shown))
    for offset, side, mean in ((-0.2, "generated", means[0]), (0.2, "reference", means[1])):
        axes.bar(positions + offset, mean[shown], 0.4, label=side)
    axes.set_xticks(
        positions, [bins[b] for b in shown], fontsize="x-small" if many else "small", rotation=90 if many else 0
    )


def _draw_values(axes, feature: dict) -> None:
    """The two sets' per-piece values on shared bins, as densities when both sets have values."""
    values = [feature[side]["values"] for side in ("generated", "reference")]
    edges = np.histogram_bin_edges(values[0] + values[1], bins=12)  # 0..1 when neither set has a value
    axes.hist(values, bins=edges, density=bool(values[0] and values[1]), label=["generated", "reference"])
    axes.locator_params(axis="x", nbins=5)


def _figure(size, **grid):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size, **grid)


def _patches():
    import matplotlib.patches

    return matplotlib.patches


def _save(figure, path: Path, *, overwrite: bool, trim: bool = True) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight" if trim else None)
    plt.close(figure)
    return write_atomic(path, buffer.getvalue(), overwrite=overwrite)
