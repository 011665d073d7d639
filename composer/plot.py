"""Pictures for people: training loss curves and piano rolls, written atomically as PNG."""

from __future__ import annotations

import io
from pathlib import Path

from composer.atomic import write_atomic
from composer.midi_io import program_name
from composer.score import Score


def plot_losses(history: dict[str, list[float]], path: Path) -> Path:
    figure, axes = _figure((6, 4))
    epochs = range(1, len(history.get("loss", [])) + 1)
    for key, label in (("loss", "training (windows)"), ("val_loss", "validation (windows)")):
        axes.plot(epochs, history.get(key, []), marker="o", label=label)
    axes.set(xlabel="epoch", ylabel="NLL per event (nats)", title="composer training")
    axes.legend()
    return _save(figure, path, overwrite=True)


def plot_piano_roll(score: Score, path: Path, *, overwrite: bool = False) -> Path:
    """One coloured bar per note, a colour per track, time in beats with bar lines."""
    figure, axes = _figure((12, 5))
    for index, track in enumerate(score.tracks):
        colour = f"C{index % 10}"
        for note in track.notes:
            axes.add_patch(_patches().Rectangle((note.start, note.pitch - 0.4), note.end - note.start, 0.8,
                                                color=colour, alpha=0.8))  # fmt: skip
        axes.plot([], [], color=colour, linewidth=6, label=track.name or program_name(track.program, track.is_drum))
    pitches = [n.pitch for t in score.tracks for n in t.notes] or [60]
    axes.set(xlim=(0, max(score.end_beat, 1)), ylim=(min(pitches) - 2, max(pitches) + 2),
             xlabel="beat", ylabel="MIDI pitch")  # fmt: skip
    bar = score.time_signatures[0].numerator * 4 / score.time_signatures[0].denominator if score.time_signatures else 4
    for beat in range(0, int(score.end_beat) + 1, max(1, round(bar))):
        axes.axvline(beat, color="grey", linewidth=0.5)
    axes.legend(loc="upper right", fontsize="small")
    return _save(figure, path, overwrite=overwrite)


def _figure(size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def _patches():
    import matplotlib.patches

    return matplotlib.patches


def _save(figure, path: Path, *, overwrite: bool) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return write_atomic(path, buffer.getvalue(), overwrite=overwrite)
