"""Hypothesis strategies for scores: any notes, anywhere, on and off the grid, with tempo and meter changes."""

from hypothesis import strategies as st

from composer.score import Note, Score, TempoChange, TimeSignature, Track

beats = st.one_of(
    st.integers(0, 256).map(lambda k: k / 12),  # on the grid
    st.floats(0, 100, allow_nan=False, allow_infinity=False),  # anywhere
)
lengths = st.one_of(st.just(0.0), st.floats(0, 2), st.floats(0, 60))  # zero-length, short, very long


@st.composite
def notes(draw, pitches):
    start = draw(beats)
    return Note(start, start + draw(lengths), draw(pitches), draw(st.integers(1, 127)))


@st.composite
def tracks(draw):
    # a narrow pitch range makes same-pitch overlaps and duplicates common
    pitches = draw(st.sampled_from([st.integers(0, 127), st.integers(60, 62)]))
    return Track(
        program=draw(st.integers(0, 127)),
        is_drum=draw(st.booleans()),
        name=draw(st.text(max_size=8)),
        notes=tuple(draw(st.lists(notes(pitches), max_size=25))),
    )


scores = st.builds(
    Score,
    tracks=st.lists(tracks(), max_size=4).map(tuple),
    tempos=st.lists(st.builds(TempoChange, beats, st.floats(10, 400)), max_size=4).map(tuple),
    time_signatures=st.lists(
        st.builds(TimeSignature, beats, st.integers(1, 20), st.sampled_from([1, 2, 4, 8, 16, 32])), max_size=4
    ).map(tuple),
)
