import numpy as np
import pytest

from composer.config import EncodingConfig, TrainConfig
from composer.data.dataset import TokenStream, training_dataset, validation_dataset
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
        new, held = _tokens_of_kind(x0, PITCH), _tokens_of_kind(x0, "Hold")
        pitch = new | held
        assert held.any(), "the stream restates held notes"
        assert (x0[~pitch] == x1[~pitch]).all(), "only pitch events change"
        assert _tokens_of_kind(x1, PITCH)[new].all() and _tokens_of_kind(x1, "Hold")[held].all(), (
            "new and held notes stay what they are"
        )
        for row in range(4):
            drums, known = _drum_context(x0[row])
            assert (x0[row][drums] == x1[row][drums]).all(), "drums are never transposed"
            row_shifts = set((x1[row] - x0[row])[pitch[row] & known & ~drums].tolist())
            assert len(row_shifts) <= 1, "one interval per window"
            shifts |= row_shifts
    assert shifts <= set(range(-6, 7)) and len(shifts) > 5


def test_velocity_jitter_shifts_whole_windows_between_velocity_levels(stream):
    plain = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=0, seed=2)
    jittered = TrainConfig(sequence_length=64, batch_size=4, epochs=1, transpose_semitones=0, seed=2, velocity_jitter=2)
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


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from composer.data.prepare import PrepareRequest, prepare

    from midi_factory import write_toy_corpus

    root = tmp_path_factory.mktemp("cache")
    corpus = write_toy_corpus(root / "corpus", bad_files=False)
    prepare(PrepareRequest(corpus, root / "cache", valid_fraction=0.5, shards=4, workers=1))
    return root / "cache"


def _shard_batches(cache, training, steps, initial_epoch=0, context=None):
    from composer.data.dataset import shard_training_dataset
    from composer.data.prepare import read_manifest, shard_files

    shards = shard_files(cache, read_manifest(cache), "train")
    batches = shard_training_dataset(shards, steps, ENCODING, training, initial_epoch, context)
    return [(x.numpy(), y.numpy()) for x, y in batches]


def test_streamed_windows_come_whole_from_the_shards_and_resume_exactly(cache):
    from composer.data.prepare import iter_pieces, read_manifest

    training = TrainConfig(sequence_length=16, batch_size=4, epochs=3, transpose_semitones=0, seed=2)
    batches = _shard_batches(cache, training, steps=5)
    assert len(batches) == 15 and batches[0][0].shape == (4, 16)
    stream = np.concatenate(list(iter_pieces(cache, read_manifest(cache), "train")))
    text = stream.astype(np.int16).tobytes()
    for x, y in batches[::4]:
        assert np.array_equal(x[:, 1:], y[:, :-1])
        for inputs, targets in zip(x, y):
            assert np.concatenate([inputs, targets[-1:]]).astype(np.int16).tobytes() in text
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches[5:], _shard_batches(cache, training, 5, 1)))
    assert not np.array_equal(batches[0][0], batches[5][0])  # each epoch its own order


def test_streamed_windows_are_transposed_like_in_memory_ones(cache):
    training = TrainConfig(sequence_length=32, batch_size=4, epochs=1, transpose_semitones=6, seed=4)
    plain = _shard_batches(cache, TrainConfig(**{**training.to_dict(), "transpose_semitones": 0}), 5)
    moved = _shard_batches(cache, training, 5)
    pitches = _tokens_of_kind(plain[0][0], PITCH) | _tokens_of_kind(plain[0][0], "Hold")
    assert np.array_equal(pitches, _tokens_of_kind(moved[0][0], PITCH) | _tokens_of_kind(moved[0][0], "Hold"))
    assert not np.array_equal(plain[0][0][pitches], moved[0][0][pitches])
    assert np.array_equal(plain[0][0][~pitches], moved[0][0][~pitches])  # only pitches move


def _labelled_shards(folder, sizes):
    """Shard files whose every event is the shard's own label (token 20 + its number): a window tells its shard."""
    folder.mkdir()
    paths = [folder / f"{index:05d}.train.bin" for index in range(len(sizes))]
    for index, (path, size) in enumerate(zip(paths, sizes)):
        np.full(size, 20 + index, dtype="<u2").tofile(path)
    return paths


def _labels(dataset):
    return [set(np.unique(x.numpy()) - 20) for x, _ in dataset]


@pytest.mark.parametrize("replicas_per_worker", [1, 2])
def test_each_worker_reads_only_its_own_shards_and_a_batch_for_each_of_its_replicas(tmp_path, replicas_per_worker):
    import tensorflow as tf

    from composer.data.dataset import shard_training_dataset

    shards = _labelled_shards(tmp_path / "shards", [2000] * 4)
    training = TrainConfig(sequence_length=16, batch_size=8, epochs=2, transpose_semitones=0)
    for worker in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2 * replicas_per_worker
        )
        batches = list(shard_training_dataset(shards, 3, ENCODING, training, input_context=context))
        assert len(batches) == 2 * 3 * replicas_per_worker  # epochs x steps x this worker's replicas
        assert all(len(x) == 8 // (2 * replicas_per_worker) for x, _ in batches)  # the global batch, split
        assert set().union(*_labels(batches)) == {worker, worker + 2}


@pytest.mark.parametrize("replicas", [1, 2])
def test_validation_gives_the_same_windows_every_epoch(tmp_path, replicas):
    import tensorflow as tf

    from composer.data.dataset import shard_validation_dataset

    shards = _labelled_shards(tmp_path / "shards", [170, 0, 340])  # 10, 0 and 20 windows of 16 events
    training = TrainConfig(sequence_length=16, batch_size=4)
    context = tf.distribute.InputContext(num_replicas_in_sync=replicas)
    epochs = list(shard_validation_dataset(shards, 5, ENCODING, training, context).take(2 * 5 * replicas))
    first, second = epochs[: 5 * replicas], epochs[5 * replicas :]
    assert sum(len(x) for x, _ in first) == 5 * 4  # 5 global batches of 4 windows
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))


def _voice_matches_each_pitch(inputs, contexts) -> bool:
    """After a Pitch event of a pitched part, the context's last pitch of that part is the event's pitch:
    contexts line up with their events and move with them when transposed."""
    from composer.context import PITCHES
    from composer.events import pitched_note_mask

    checked = 0
    for events, context in zip(inputs, contexts):
        pitched = pitched_note_mask(events, ENCODING) & _tokens_of_kind(events, PITCH)
        named = np.cumsum(_tokens_of_kind(events, PROGRAM)) > 0  # the window names the part (drums or not)
        for position in np.flatnonzero(pitched & named):
            pitch = VOCAB.values[events[position]]
            if np.flatnonzero(context[position, PITCHES : 2 * PITCHES]).tolist() != [pitch]:
                return False
            checked += 1
    return checked > 0


def test_windows_come_with_the_context_of_their_events_transposed_alike():
    stream = TokenStream([np.array(encode(toy_score(seed), ENCODING)) for seed in range(3)], ENCODING, layout=2)
    training = TrainConfig(sequence_length=32, batch_size=4, epochs=1, transpose_semitones=6, seed=1)
    batches = [((x.numpy(), c.numpy()), y.numpy()) for (x, c), y in training_dataset(stream, ENCODING, training)]
    assert all(_voice_matches_each_pitch(x, c) for (x, c), _ in batches)
    pieces = [np.array(encode(toy_score(seed), ENCODING)) for seed in range(3)]
    plain = _batches(TokenStream(pieces, ENCODING), training)
    assert all(np.array_equal(x, p[0]) for ((x, _), _), p in zip(batches, plain))  # the events are as without context
    (inputs, contexts), _ = next(iter(validation_dataset(TokenStream(pieces, ENCODING, 2), training)))
    assert _voice_matches_each_pitch(inputs.numpy(), contexts.numpy())


def test_streamed_windows_come_with_the_context_of_their_events(cache):
    from composer.data.dataset import shard_training_dataset, shard_validation_dataset
    from composer.data.prepare import read_manifest, shard_files

    training = TrainConfig(sequence_length=32, batch_size=4, epochs=1, transpose_semitones=6, seed=4)
    manifest = read_manifest(cache)
    batches = shard_training_dataset(shard_files(cache, manifest, "train"), 5, ENCODING, training, layout=2)
    assert all(_voice_matches_each_pitch(x.numpy(), c.numpy()) for (x, c), _ in batches)
    validation = shard_validation_dataset(shard_files(cache, manifest, "valid"), 2, ENCODING, training, layout=2)
    assert all(_voice_matches_each_pitch(x.numpy(), c.numpy()) for (x, c), _ in validation.take(2))


def _lane_batches(stream, training, steps, initial_epoch=0):
    from composer.data.dataset import lane_training_dataset

    batches = lane_training_dataset(stream, ENCODING, training, steps, initial_epoch)
    return [(tuple(part.numpy() for part in x) if isinstance(x, tuple) else x.numpy(), y.numpy()) for x, y in batches]


def _lane(batches, row):
    """Row ``row``'s events over consecutive batches: every window's inputs, then the last window's last target."""
    return np.concatenate([x[row] for x, _ in batches] + [batches[-1][1][row, -1:]])


def _interval_to(segment, piece):
    """The interval that transposes ``piece`` into ``segment`` (every pitched event alike, nothing else moved),
    or None if it is not the piece."""
    from composer.events import pitched_note_mask

    if len(segment) != len(piece):
        return None
    pitched = pitched_note_mask(piece, ENCODING)
    moves = set((segment - piece)[pitched].tolist())
    return (moves or {0}).pop() if (segment[~pitched] == piece[~pitched]).all() and len(moves) <= 1 else None


def test_lanes_carry_on_from_batch_to_batch_through_whole_pieces_each_transposed_as_one():
    from composer.data.training_data import lane_steps
    from composer.events import START

    pieces = [np.array(encode(toy_score(seed, num_notes=40), ENCODING)) for seed in range(8)]
    stream = TokenStream(pieces, ENCODING)
    training = TrainConfig(sequence_length=16, batch_size=2, epochs=2, transpose_semitones=6, seed=1)
    steps = lane_steps(len(stream.tokens), training)
    batches = _lane_batches(stream, training, steps)
    assert len(batches) == 2 * steps and batches[0][0].shape == (2, 16)
    epochs, intervals, whole = (batches[:steps], batches[steps:]), set(), 0
    for epoch in epochs:
        for (_, before), (after, _) in zip(epoch, epoch[1:]):
            assert (after[:, 0] == before[:, -1]).all(), "each row goes on where the row before it stopped"
        for row in range(2):
            lane = _lane(epoch, row)
            starts = np.flatnonzero(lane == START)
            for begin, end in zip(starts, starts[1:]):
                found = [m for m in (_interval_to(lane[begin:end], piece) for piece in pieces) if m is not None]
                assert found, "a piece between two others is whole and transposed as one"
                intervals.add(found[0])
                whole += 1
    assert whole >= 8 and len(intervals) > 2
    assert not np.array_equal(_lane(epochs[0], 0), _lane(epochs[1], 0)), "each epoch deals the pieces anew"
    resumed = _lane_batches(stream, training, steps, initial_epoch=1)
    assert len(resumed) == steps
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(resumed, epochs[1]))


def test_lanes_come_with_the_context_of_their_events_transposed_alike():
    from composer.data.training_data import lane_steps

    stream = TokenStream([np.array(encode(toy_score(seed, num_notes=40), ENCODING)) for seed in range(8)], ENCODING, 2)
    training = TrainConfig(sequence_length=16, batch_size=2, epochs=1, transpose_semitones=6, seed=3)
    batches = _lane_batches(stream, training, lane_steps(len(stream.tokens), training))
    assert all(_voice_matches_each_pitch(x, c) for (x, c), _ in batches)


def test_validation_lanes_read_the_stream_in_order_unaugmented():
    from composer.context import unpack
    from composer.data.dataset import lane_validation_dataset
    from composer.data.training_data import lane_steps

    stream = TokenStream([np.array(encode(toy_score(seed, num_notes=40), ENCODING)) for seed in range(3)], ENCODING, 2)
    training = TrainConfig(sequence_length=16, batch_size=3, transpose_semitones=6, velocity_jitter=2)
    steps = lane_steps(len(stream.tokens), training)
    batches = list(lane_validation_dataset(stream, training))
    width = len(stream.tokens) // 3
    assert len(batches) == steps > 1
    for step, ((inputs, contexts), targets) in enumerate(batches):
        for row in range(3):
            start = row * width + step * 16
            np.testing.assert_array_equal(inputs[row], stream.tokens[start : start + 16])
            np.testing.assert_array_equal(targets[row], stream.tokens[start + 1 : start + 17])
            np.testing.assert_array_equal(contexts[row], unpack(stream.contexts[start : start + 16], layout=2))
