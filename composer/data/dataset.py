"""Token sequences -> ``tf.data`` pipelines of windows for truncated backpropagation through time.

All pieces are joined into one stream (each piece runs Start ... End, so the
model also learns where pieces begin and end) and cut into windows of
``sequence_length + 1`` events: inputs are the first ``sequence_length``,
targets the same shifted by one. Every random choice (window order, window
offset, transposition) is a stateless function of (seed, epoch, window), so a
resumed run sees exactly the data the uninterrupted run would have seen.

With the LSTM state carried from window to window (``TrainConfig.carry_state``),
the stream is instead dealt out into lanes, one per batch row, read in order
(``lane_training_dataset``).
"""

from __future__ import annotations

import numpy as np

from composer.config import EncodingConfig, TrainConfig
from composer.context import PACKED_SIZE, context_size, stream_context, unpack
from composer.data.prepare import PITCHED_BIT
from composer.data.training_data import lane_steps
from composer.events import HOLD, PITCH, TEMPO, VELOCITY, pitched_note_mask, vocabulary
from composer.tf_runtime import tf


class TokenStream:
    """Pieces joined end to end, with the positions transposition may move and, for a network that reads
    context ``layout`` (0: none), the packed context after each event (``composer.context``)."""

    def __init__(self, sequences: list[np.ndarray], config: EncodingConfig, layout: int = 0) -> None:
        self.tokens = np.concatenate([np.asarray(s, dtype=np.int32) for s in sequences])
        self.bounds = np.cumsum([0] + [len(s) for s in sequences])  # piece i is tokens[bounds[i] : bounds[i + 1]]
        self.pitched = np.concatenate([pitched_note_mask(np.asarray(s), config) for s in sequences])
        self.layout = layout
        self.contexts = stream_context(self.tokens, config, layout) if layout else None

    def num_windows(self, length: int) -> int:
        return (len(self.tokens) - 1) // length


def training_dataset(stream: TokenStream, encoding: EncodingConfig, train: TrainConfig, initial_epoch: int = 0):
    """Shuffled, augmented, batched windows for epochs ``initial_epoch .. train.epochs - 1``."""
    length, count = train.sequence_length, stream.num_windows(train.sequence_length)
    tokens, pitched = tf.constant(stream.tokens), tf.constant(stream.pitched)
    contexts = None if stream.contexts is None else tf.constant(stream.contexts)
    augment = _augmenter(encoding, train)

    def window(epoch, index):
        seed = tf.stack([tf.cast(train.seed, tf.int64), epoch * 1_000_003 + index])
        jitter = tf.random.stateless_uniform([], seed, 0, length, dtype=tf.int64)
        start = tf.minimum(index * length + jitter, len(stream.tokens) - length - 1)
        events, shift = augment(tokens[start : start + length + 1], pitched[start : start + length + 1], seed)
        return _inputs(events, contexts, start, shift, stream.layout), events[1:]

    def epoch_batches(epoch):
        # batched per epoch, so every epoch is the same whole number of steps
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), [train.seed, epoch])
        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(lambda index: window(epoch, index), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(train.batch_size, drop_remainder=True)
            .take(train.steps_per_epoch or -1)
        )

    return tf.data.Dataset.range(initial_epoch, train.epochs).flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)


def validation_dataset(stream: TokenStream, train: TrainConfig):
    """Every validation window once, in order, unaugmented: a loss comparable across epochs."""
    length, count = train.sequence_length, stream.num_windows(train.sequence_length)
    starts = np.arange(count) * length
    windows = stream.tokens[starts[:, None] + np.arange(length + 1)]
    inputs = windows[:, :-1]
    if stream.contexts is not None:
        inputs = (inputs, unpack(stream.contexts[starts[:, None] + np.arange(length)], layout=stream.layout))
    return (
        tf.data.Dataset.from_tensor_slices((inputs, windows[:, 1:])).batch(train.batch_size).prefetch(tf.data.AUTOTUNE)
    )


def lane_training_dataset(
    stream: TokenStream, encoding: EncodingConfig, train: TrainConfig, steps: int, initial_epoch: int = 0
):
    """``steps`` batches per epoch for truncated BPTT that carries the LSTM state across windows.

    Each epoch joins the pieces in a new order, each transposed (and jittered) as a whole, and deals the
    result out into ``train.batch_size`` lanes; row r of a batch is the window of lane r that follows
    row r of the batch before. A stateful network thus starts every window with the state its previous
    window ended in, as it does when it generates, while gradients still stop at the window's edge.
    The order and the augmentation are stateless functions of (seed, epoch, piece), so a run resumed
    at an epoch boundary sees exactly the data the uninterrupted run would have seen.
    """
    augment = _augmenter(encoding, train)

    def batches():
        for epoch in range(initial_epoch, train.epochs):
            events, shifts, positions = _shuffled_pieces(stream, augment, train.seed, epoch)
            yield from _lane_batches(stream, events, shifts, positions, train, steps)

    return tf.data.Dataset.from_generator(batches, output_signature=_lane_signature(stream, train)).prefetch(2)


def lane_validation_dataset(stream: TokenStream, train: TrainConfig):
    """The whole validation stream in file order, unaugmented, dealt into lanes as ``lane_training_dataset``
    does: each window is scored from the state the one before it left, like a piece read from its start."""
    positions = np.arange(len(stream.tokens))
    steps = lane_steps(len(stream.tokens), train)
    batches = list(_lane_batches(stream, stream.tokens, np.zeros_like(positions), positions, train, steps))
    inputs, targets = [x for x, _ in batches], np.stack([y for _, y in batches])
    inputs = np.stack(inputs) if stream.contexts is None else tuple(np.stack(part) for part in zip(*inputs))
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


def _shuffled_pieces(stream: TokenStream, augment, seed: int, epoch: int):
    """(events, transposition of each event, its position in ``stream``): the pieces of one epoch, joined
    in a random order, each transposed and jittered as a whole."""
    order = np.random.default_rng([seed, epoch]).permutation(len(stream.bounds) - 1)
    events, shifts, positions = [], [], []
    for piece in order:
        span = np.arange(stream.bounds[piece], stream.bounds[piece + 1])
        piece_seed = tf.constant([seed, epoch * 1_000_003 + piece], tf.int64)
        moved, shift = augment(tf.constant(stream.tokens[span]), tf.constant(stream.pitched[span]), piece_seed)
        events.append(moved.numpy())
        shifts.append(np.full(len(span), int(shift)))
        positions.append(span)
    return np.concatenate(events), np.concatenate(shifts), np.concatenate(positions)


def _lane_batches(stream: TokenStream, events, shifts, positions, train: TrainConfig, steps: int):
    """The first ``steps`` (inputs, targets) batches of the stream dealt into ``train.batch_size`` lanes."""
    length, lanes = train.sequence_length, train.batch_size
    width = len(events) // lanes
    events, shifts, positions = (
        values[: lanes * width].reshape(lanes, width) for values in (events, shifts, positions)
    )
    for step in range(steps):
        window = slice(step * length, step * length + length + 1)
        inputs = events[:, window][:, :-1]
        if stream.contexts is not None:
            packed = stream.contexts[positions[:, window][:, :-1]]
            inputs = (inputs, _unpack_shifted(packed, shifts[:, window][:, :-1], stream.layout))
        yield inputs, events[:, window][:, 1:]


def _unpack_shifted(packed: np.ndarray, shifts: np.ndarray, layout: int) -> np.ndarray:
    """``unpack`` with a transposition per event (a window can join two pieces, transposed apart)."""
    unpacked = np.empty(shifts.shape + (context_size(layout),), np.float32)
    for shift in np.unique(shifts):
        at = shifts == shift
        unpacked[at] = unpack(packed[at], int(shift), layout)
    return unpacked


def _lane_signature(stream: TokenStream, train: TrainConfig):
    events = tf.TensorSpec((train.batch_size, train.sequence_length), tf.int32)
    if stream.contexts is None:
        return events, events
    context = tf.TensorSpec((train.batch_size, train.sequence_length, context_size(stream.layout)), tf.float32)
    return (events, context), events


def _inputs(events, contexts, start, shift, layout: int):
    """The network's input for a window of ``events`` from ``start``: the events but the last, and beside
    them, when ``contexts`` holds the stream's packed contexts, theirs in ``layout``, transposed ``shift``
    semitones."""
    if contexts is None:
        return events[:-1]
    length = tf.shape(events)[0] - 1
    packed = contexts[start : start + tf.cast(length, start.dtype)]
    unpacked = tf.numpy_function(lambda p, s: unpack(p, s, layout), [packed, shift], tf.float32, stateful=False)
    return events[:-1], tf.ensure_shape(unpacked, [None, context_size(layout)])


def _augmenter(encoding: EncodingConfig, train: TrainConfig):
    """A function (window, pitched mask, seed) -> (window with random transposition and jitter, the
    transposition in semitones)."""
    vocab = vocabulary(encoding)
    pitch_first = vocab.ids[PITCH, encoding.min_pitch]
    hold_first = vocab.ids.get((HOLD, encoding.min_pitch), len(vocab))  # past every id when held notes are off
    span = encoding.max_pitch - encoding.min_pitch
    blocks = [
        _block(vocab, kind, jitter)
        for kind, jitter, enabled in [
            (VELOCITY, train.velocity_jitter, encoding.use_velocity),
            (TEMPO, train.tempo_jitter, encoding.use_tempo),
        ]
        if enabled and jitter
    ]

    def augment(events, pitched, seed):
        shift = tf.constant(0, tf.int32)
        if train.transpose_semitones:
            shift = _transposition(events, pitched, pitch_first, hold_first, span, train.transpose_semitones, seed)
            events = tf.where(pitched, events + shift, events)
        for number, (first, last, jitter) in enumerate(blocks, start=1):
            delta = tf.random.stateless_uniform([], seed + number, -jitter, jitter + 1, dtype=tf.int32)
            in_block = (events >= first) & (events <= last)
            events = tf.where(in_block, tf.clip_by_value(events + delta, first, last), events)
        return events, shift

    return augment


def _block(vocab, kind: str, jitter: int) -> tuple[int, int, int]:
    ids = vocab.block(kind)
    return int(ids[0]), int(ids[-1]), jitter


def _transposition(events, pitched, pitch_first: int, hold_first: int, span: int, semitones: int, seed):
    """A random interval that keeps every pitched note of the window (new and held: two blocks of the
    same pitches) in range when shifted by it."""
    offsets = tf.boolean_mask(tf.where(events >= hold_first, events - hold_first, events - pitch_first), pitched)
    has_pitches = tf.size(offsets) > 0
    low = tf.where(has_pitches, tf.maximum(-semitones, -tf.reduce_min(offsets)), 0)
    high = tf.where(has_pitches, tf.minimum(semitones, span - tf.reduce_max(offsets)), 0)
    return tf.random.stateless_uniform([], seed + 100, low, high + 1, dtype=tf.int32)


SHUFFLE_WINDOWS = 4096  # windows mixed across the shards being read; ~2 MB at 128 events
SHARDS_READ_AT_ONCE = 4


def shard_training_dataset(
    shards: list,
    steps: int,
    encoding: EncodingConfig,
    train: TrainConfig,
    initial_epoch: int = 0,
    input_context=None,
    layout: int = 0,
):
    """Windows streamed from a prepared cache's shards: ``steps`` global batches per epoch, never the whole
    corpus in memory.

    Every input pipeline (one per worker under tf.distribute, see ``input_context``) reads its
    own shards. Shard order, window offsets, window order and augmentation are stateless
    functions of (seed, epoch, shard, window), like the in-memory pipeline's. With a context ``layout``,
    each window comes with its events' contexts, worked out from the shard's pieces as it is read.
    """
    context = input_context or tf.distribute.InputContext()
    own = list(enumerate(map(str, shards)))[context.input_pipeline_id :: context.num_input_pipelines]
    indices, paths = tf.constant([i for i, _ in own], tf.int64), tf.constant([p for _, p in own])
    augment, length = _augmenter(encoding, train), train.sequence_length

    def shard_windows(epoch, index):
        seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.cast(train.seed, tf.int64), epoch]), indices[index]
        )
        tokens, pitched = _shard_events(paths[index])
        contexts = _shard_contexts(tokens, encoding, layout) if layout else None
        jitter = tf.random.stateless_uniform([], seed, 0, length, dtype=tf.int32)
        count = tf.maximum((tf.size(tokens) - 1 - jitter) // length, 0)
        starts = tf.random.experimental.stateless_shuffle(jitter + tf.range(count) * length, seed)

        def window(number):
            window_seed = tf.random.experimental.stateless_fold_in(seed, number)
            span = tf.range(starts[number], starts[number] + length + 1)
            events, shift = augment(tf.gather(tokens, span), tf.gather(pitched, span), window_seed)
            return _inputs(events, contexts, starts[number], shift, layout), events[1:]

        return tf.data.Dataset.range(tf.cast(count, tf.int64)).map(window)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(own), dtype=tf.int64), [train.seed, epoch])
        return (
            tf.data.Dataset.from_tensor_slices(order)
            .interleave(
                lambda index: shard_windows(epoch, index),
                cycle_length=min(SHARDS_READ_AT_ONCE, len(own)),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            .shuffle(SHUFFLE_WINDOWS, seed=train.seed)
            .batch(context.get_per_replica_batch_size(train.batch_size), drop_remainder=True)
            .take(steps * _replicas_per_pipeline(context))  # a step takes a batch for each replica
        )

    return tf.data.Dataset.range(initial_epoch, train.epochs).flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)


def shard_validation_dataset(
    shards: list, steps: int, encoding: EncodingConfig, train: TrainConfig, input_context=None, layout: int = 0
):
    """The cache's validation windows in order, unaugmented, split window by window between the input
    pipelines: ``steps`` batches per epoch, repeated, since Keras keeps one iterator across epochs."""
    context = input_context or tf.distribute.InputContext()
    length, batch = train.sequence_length, context.get_per_replica_batch_size(train.batch_size)

    def shard_windows(path):
        tokens, _ = _shard_events(path)
        count = tf.maximum((tf.size(tokens) - 1) // length, 0)  # a shard may hold no validation piece
        spans = tf.range(count)[:, None] * length + tf.range(length + 1)[None, :]
        windows = tf.gather(tokens, spans)
        inputs = windows[:, :-1]
        if layout:
            packed = tf.gather(_shard_contexts(tokens, encoding, layout), spans[:, :-1])
            unpacked = tf.numpy_function(lambda p: unpack(p, layout=layout), [packed], tf.float32, stateful=False)
            inputs = (inputs, tf.ensure_shape(unpacked, [None, length, context_size(layout)]))
        return tf.data.Dataset.from_tensor_slices((inputs, windows[:, 1:]))

    return (
        tf.data.Dataset.from_tensor_slices([str(path) for path in shards])
        .flat_map(shard_windows)
        .shard(context.num_input_pipelines, context.input_pipeline_id)
        .take(steps * _replicas_per_pipeline(context) * batch)
        .batch(batch)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def _replicas_per_pipeline(context) -> int:
    return max(1, context.num_replicas_in_sync // context.num_input_pipelines)


def _shard_contexts(tokens, encoding: EncodingConfig, layout: int):
    """The packed context after each event of a shard (pieces from their Start), worked out in NumPy."""
    packed = tf.numpy_function(
        lambda events: stream_context(events, encoding, layout), [tokens], tf.uint8, stateful=False
    )
    return tf.ensure_shape(packed, [None, PACKED_SIZE])


def _shard_events(path):
    """(tokens, pitched mask) of one shard file: uint16 events with the pitched flag in the top bit."""
    packed = tf.cast(tf.io.decode_raw(tf.io.read_file(path), tf.uint16), tf.int32)
    return packed % 2**PITCHED_BIT, packed >= 2**PITCHED_BIT
