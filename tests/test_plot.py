import numpy as np

from composer.render.plot import piano_roll_figure, plot_piano_roll
from composer.score import Note, Score, TimeSignature, Track


def _bar_lines(figure) -> list[float]:
    """The x of each vertical line (axvline draws two points; the legend's colour swatches have none)."""
    return sorted(float(line.get_xdata()[0]) for line in figure.axes[0].lines if len(line.get_xdata()) == 2)


def test_bar_lines_follow_a_change_of_meter():
    notes = (Note(0.0, 14.0, 60, 80),)
    score = Score(
        tracks=(Track(40, notes=notes),), time_signatures=(TimeSignature(0.0, 4, 4), TimeSignature(8.0, 3, 4))
    )
    assert _bar_lines(piano_roll_figure(score)) == [0.0, 4.0, 8.0, 11.0, 14.0]


def test_every_track_has_a_colour_of_its_own():
    tracks = tuple(Track(program, notes=(Note(0.0, 1.0, 60 + program, 80),)) for program in range(24))
    for count in (12, 24):
        legend = piano_roll_figure(Score(tracks=tracks[:count])).axes[0].get_legend()
        colours = {tuple(np.round(handle.get_color(), 3)) for handle in legend.legend_handles}
        assert len(colours) == count


def test_the_piano_roll_is_a_png(tmp_path):
    path = plot_piano_roll(Score(tracks=(Track(0, notes=(Note(0.0, 1.0, 60, 80),)),)), tmp_path / "roll.png")
    assert path.read_bytes().startswith(b"\x89PNG")
