from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from composer.config import EncodingConfig, TrainConfig
from composer.data.training_data import TrainingData, load_training_data, steps_per_epoch, validation_steps
from composer.errors import ComposerError
from composer.midi_io import write_score
from composer.score import TempoChange, TimeSignature

from midi_factory import toy_score


def _cache(train_tokens, valid_tokens):
    manifest = {"shard_tokens": {"train": train_tokens, "valid": valid_tokens}}
    return TrainingData({}, {}, np.zeros(1), [], [], cache=Path("cache"), manifest=manifest)


def _folder(train_events, valid_events):
    return TrainingData({}, {"train_events": train_events, "valid_events": valid_events}, np.zeros(1), [], [])


TRAINING = TrainConfig(sequence_length=10, batch_size=4)


def test_an_epoch_is_one_pass_over_the_windows():
    assert steps_per_epoch(_folder(401, 50), TRAINING) == 10  # 40 windows of 10 (+1 target) events
    # a shard's windows start at a random offset: 105 events hold 9 whole windows whatever it is
    assert steps_per_epoch(_cache([105, 105, 105, 105], [50]), TRAINING) == 9


def test_the_worker_with_the_fewest_windows_sets_the_pace():
    data = _cache([210, 110, 210, 110], [500])  # worker 0 reads shards 0 and 2 (40 windows), worker 1 20
    assert steps_per_epoch(data, TRAINING, pipelines=2) == 20 // 2  # each worker fills half of every batch
    assert validation_steps(data, TRAINING, pipelines=2) == 49 // 2 // 2
    assert validation_steps(data, TRAINING, pipelines=0) == -(-49 // 4)  # alone: every window, the last batch short


def test_steps_per_epoch_caps_training_and_validation_alike():
    data = _cache([1010, 1010], [1010])  # 200 training windows, 50 batches; 100 validation windows, 25 batches
    capped = TrainConfig(**{**TRAINING.to_dict(), "steps_per_epoch": 10})
    assert steps_per_epoch(data, capped) == 10
    assert validation_steps(data, capped, pipelines=0) == 5  # a fifth of the epoch, a fifth of the validation
    assert steps_per_epoch(data, TrainConfig(**{**TRAINING.to_dict(), "steps_per_epoch": 999})) == 50


@pytest.mark.parametrize(
    "data, pipelines, message",
    [
        (_cache([500], [500]), 2, "has 1 shards for 2 workers: prepare it again with --shards 2"),
        (_cache([500] * 3, [500]), 3, "--batch-size 4 does not split evenly between 3 workers"),
        (_cache([25, 25], [500]), 1, "too little data for one batch"),  # one window per shard, batches of 4
        (_folder(401, 5), 1, "too little data for one batch"),
    ],
)
def test_data_that_cannot_fill_an_epoch_is_refused(data, pipelines, message):
    with pytest.raises(ComposerError, match=message):
        steps_per_epoch(data, TRAINING, pipelines)


def test_training_records_the_meters_and_tempos_its_pieces_open_in_and_where_each_instrument_plays(tmp_path):
    openings = [((3, 4), 120), ((3, 4), 120), ((2, 4), 60), ((4, 4), 120)] * 3
    for index, (meter, qpm) in enumerate(openings):
        score = replace(
            toy_score(index), time_signatures=(TimeSignature(0, *meter),), tempos=(TempoChange(0, float(qpm)),)
        )
        write_score(score, tmp_path / "folder" / f"tune{index}.mid")
    data = load_training_data(
        tmp_path / "folder", EncodingConfig(), TrainConfig(), cache_dir=tmp_path / "cache", workers=1
    )
    assert sum(data.split["openings"].values()) == data.split["train_files"]
    assert set(data.split["openings"]) == {"3/4 q=120", "2/4 q=60", "4/4 q=120"}
    assert Counter(data.split["openings"]).most_common(1)[0][0] == "3/4 q=120"
    assert set(data.split["pitch_ranges"]) == {"0", "32"}, "the melody and the bass; the drums have no range"
    assert 36 <= data.split["pitch_ranges"]["32"][0] < data.split["pitch_ranges"]["32"][1] <= 47
