import numpy as np
import pytest

from composer.config import EncodingConfig, TrainConfig
from composer.dataset import TokenStream, training_dataset, validation_dataset
from composer.events import DRUMS, PITCH, PROGRAM, VELOCITY, encode, vocabulary

from midi_factory import toy_score

ENCODING = EncodingConfig()
VOCAB = vocabulary(ENCODING)


@pytest.fixture(scope="module")
def stream():
    return TokenStream([np.array(encode(toy_score(seed), ENCODING)) for seed in range(3)], ENCODING)


def _batches(stream, training, initial_epoch=0):
    return [(x.numpy(), y.numpy()) for x, y in training_dataset(stream, ENCODING, training, initial_epoch)]


def _tokens_of_kind(batch, kind):
    return np.isin(batch, [t for t, k in enumerate(VOCAB.kinds) if k == kind])


def test_targets_are_the_inputs_shifted_by_one(stream):
    training = TrainConfig(sequence_length=16, batch_size=4, epochs=1, transpose_semitones=0)
    batches = _batches(stream, training)
    assert len(batches) == stream.num_windows(16) // 4
    for x, y in batches:
        assert x.shape == y.shape == (4, 16)
        assert (x[:, 1:] == y[:, :-1]).all()
    windows = {tuple(np.concatenate([x[i], y[i, -1:]])) for x, y in batches for i in range(4)}
    text = stream.tokens.tolist()
    assert all(_contains(text, list(w)) for w in list(windows)[:20]), "windows are slices of the stream"


def test_transposition_moves_pitched_notes_only_and_keeps_them_in_range(stream):
    plain = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=0, seed=1)
    moved = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=6, seed=1)
    shifts = set()
    for (x0, _), (x1, _) in zip(_batches(stream, plain), _batches(stream, moved)):
        pitch = _tokens_of_kind(x0, PITCH)
        assert (x0[~pitch] == x1[~pitch]).all(), "only pitch events change"
        assert _tokens_of_kind(x1, PITCH)[pitch].all(), "pitches stay pitches"
        for row in range(4):
            drums, known = _drum_context(x0[row])
            assert (x0[row][drums] == x1[row][drums]).all(), "drums are never transposed"
            row_shifts = set((x1[row] - x0[row])[pitch[row] & known & ~drums].tolist())
            assert len(row_shifts) <= 1, "one interval per window"
            shifts |= row_shifts
    assert shifts <= set(range(-6, 7)) and len(shifts) > 5


def test_velocity_jitter_shifts_whole_windows_between_velocity_levels(stream):
    plain = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=0, seed=2)
    jittered = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=0, seed=2,
                           velocity_jitter=2)  # fmt: skip
    deltas = set()
    for (x0, _), (x1, _) in zip(_batches(stream, plain), _batches(stream, jittered)):
        velocity = _tokens_of_kind(x0, VELOCITY)
        assert (x0[~velocity] == x1[~velocity]).all()
        assert _tokens_of_kind(x1, VELOCITY)[velocity].all()
        for row in range(4):
            deltas |= set((x1[row] - x0[row])[velocity[row]].tolist())
    assert deltas <= set(range(-2, 3)) and len(deltas) > 2


def test_epochs_are_reproducible_and_a_resumed_run_sees_the_same_data(stream):
    training = TrainConfig(sequence_length=16, batch_size=4, epochs=3, seed=7)
    full = _batches(stream, training)
    per_epoch = len(full) // 3
    again = _batches(stream, training)
    resumed = _batches(stream, training, initial_epoch=2)
    assert all((a[0] == b[0]).all() for a, b in zip(full, again))
    assert all((a[0] == b[0]).all() for a, b in zip(full[2 * per_epoch :], resumed))
    assert not (full[0][0] == full[per_epoch][0]).all(), "each epoch is shuffled anew"


def test_validation_windows_cover_the_stream_in_order(stream):
    training = TrainConfig(sequence_length=16, batch_size=5)
    inputs = np.concatenate([x.numpy() for x, _ in validation_dataset(stream, training)])
    assert inputs.shape == (stream.num_windows(16), 16)
    assert (inputs.reshape(-1) == stream.tokens[: inputs.size]).all()


def _drum_context(row):
    """(under drums, context known): the instrument is known from the window's first Program on."""
    drums, known, current = np.zeros(len(row), bool), np.zeros(len(row), bool), None
    for i, token in enumerate(row):
        if VOCAB.kinds[token] == PROGRAM:
            current = VOCAB.values[token]
        drums[i], known[i] = current == DRUMS, current is not None
    return drums, known


def _contains(haystack, needle):
    first = needle[0]
    return any(haystack[i : i + len(needle)] == needle for i, t in enumerate(haystack) if t == first)
