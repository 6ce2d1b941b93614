"""Training batches read from the cache per batch give the numbers of the split held whole, bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import audiozoo.train.batches as batches
from audiozoo import api
from audiozoo.train.batches import TrainingSet, held_out_batches
from audiozoo.train.trainer import batch_order
from conftest import write_music

CPU = torch.device("cpu")


@pytest.fixture
def prepared(tmp_path):
    for i in range(7):
        write_music(tmp_path / "music" / f"{i}.wav", 1.3, 8000, seed=i)
    data = api.prepare("folder", root=str(tmp_path / "music"), sample_rate=3150, clip_seconds=1.2, segments=2,
                       test_fraction=0.3, progress=False)
    train, test = data.split_indices()
    rep = api.get_representation("mel", sample_rate=3150)
    rep.fit(torch.from_numpy(block) for block in data.select(train).blocks(4))
    return data, train, test, rep


def same(a, b) -> bool:
    return torch.equal(a.x, b.x) and torch.equal(a.audio, b.audio)


@pytest.mark.parametrize("crop", [0, 700])
def test_streamed_batches_are_the_resident_ones_in_order_and_out_of_it(prepared, crop):
    data, train, _, rep = prepared
    before = TrainingSet(rep, np.asarray(data.segments[train]), CPU, crop, seed=3)  # how run.py built it until now
    resident = TrainingSet(rep, data.select(train), CPU, crop, seed=3, batch_size=3)
    streamed = TrainingSet(rep, data.select(train), CPU, crop, seed=3, batch_size=3, resident_bytes=0)
    assert not resident.streamed and streamed.streamed and not hasattr(streamed, "audio")  # nothing held whole
    step = 0
    for epoch in range(2):
        for index in batch_order(len(train), 3, 3, epoch):
            old = before.batch(index, step)
            assert same(old, resident.batch(index, step)) and same(old, streamed.batch(index, step))
            step += 1
    # Out of the planned order (as after a resume): read when asked, the same numbers.
    index = torch.tensor([4, 0, 4])
    assert same(before.batch(index, 1), streamed.batch(index, 1)) and same(before.batch(index, 9), streamed.batch(index, 9))


def test_streamed_reads_the_planned_batches_ahead_on_a_background_thread(prepared, monkeypatch):
    data, train, _, rep = prepared
    streamed = TrainingSet(rep, data.select(train), CPU, 700, seed=1, batch_size=2, resident_bytes=0)
    threads = []
    read = streamed._read

    def recorded(index):
        threads.append(threading.current_thread().name)
        return read(index)

    monkeypatch.setattr(streamed, "_read", recorded)
    streamed._ahead.read = recorded
    for step, index in enumerate(batch_order(len(train), 2, 1, 0)):
        streamed.batch(index, step)
    streamed._ahead.pool.shutdown(wait=True)
    assert threads[0] == threading.current_thread().name  # the first batch: nothing was planned yet
    assert all(name.startswith("audiozoo-data") for name in threads[1:])
    assert streamed.waited >= 0 and len(threads) == len(batch_order(len(train), 2, 1, 0)) + batches.PREFETCH


def test_the_encoded_cache_is_written_once_and_keyed_by_the_representation(prepared, monkeypatch):
    data, train, _, rep = prepared
    first = TrainingSet(rep, data.select(train), CPU, seed=0, resident_bytes=0)
    written = sorted(data.path.glob("encoded-*.npy"))
    assert len(written) == 1 and first.encoded.shape == (len(train), *rep.shape(data.segments.shape[1]))

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded again")

    with monkeypatch.context() as patched:
        patched.setattr(rep, "encode", no_encoding)
        TrainingSet(rep, data.select(train), CPU, seed=0, resident_bytes=0)  # reused
    rep.fit([torch.from_numpy(np.array(data.segments[:2]))])  # other statistics: another cache
    TrainingSet(rep, data.select(train), CPU, seed=0, resident_bytes=0)
    assert len(list(data.path.glob("encoded-*.npy"))) == 2 and not list(data.path.glob(".tmp-*"))


@pytest.mark.parametrize("crop", [0, 700])
def test_streamed_held_out_batches_are_the_resident_ones(prepared, crop):
    data, _, test, rep = prepared
    resident = held_out_batches(rep, np.asarray(data.segments[test]), CPU, 3, crop)
    streamed = held_out_batches(rep, data.select(test), CPU, 3, crop, resident_bytes=0)
    assert isinstance(resident, list) and not isinstance(streamed, list)
    for _ in range(2):  # every pass the same
        again = list(streamed)
        assert len(again) == len(resident) and all(same(a, b) for a, b in zip(resident, again))


def test_a_run_streamed_from_the_cache_has_the_curve_of_one_held_whole(tiny, monkeypatch):
    from audiozoo.train.run import run

    settings = {**tiny, "valid_every": 3, "crop_seconds": 0.25, "epochs": 2, "samples": 1, "reconstructions": 1}
    whole = run(progress=False, **settings)
    monkeypatch.setattr(batches, "RESIDENT_BYTES", 0)
    gets = []
    monkeypatch.setattr(batches.Prefetch, "get", lambda self, *args, real=batches.Prefetch.get: gets.append(1) or real(self, *args))
    streamed = run(progress=False, **{**settings, "name": "streamed"})
    assert len(gets) == len([r for r in whole.metrics if "loss" in r])  # every step read from the cache
    assert streamed.metrics and [{k: v for k, v in r.items() if k != "seconds"} for r in streamed.metrics] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in whole.metrics]
