"""The training split as the batches a model sees: encoded tensors with the audio they came from.

A split of at most :data:`RESIDENT_BYTES` of audio lives whole on the device (the fast path):
whole segments are encoded once, in batches. A larger one stays in the data cache and is read
per batch (:class:`~audiozoo.data.store.Rows`: positional reads, never a memory map, so memory
stays flat however many hours it holds), a few batches ahead on a background thread; its whole
segments are encoded once into an encoded cache beside the audio (atomically, keyed by the rows
and the representation's state) and read per batch the same way. With ``crop_seconds`` every
step draws a random window from each clip of its batch — a new draw per step, a function of
(seed, step) only, so a resumed run draws the same — and encodes the batch on the device.

Both paths give a step the very same numbers: the same rows, crops, and encoding blocks.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from audiozoo.atomic import atomic_file, ensure_writable, remove_stale_temporaries
from audiozoo.data.store import RowFile, Rows, RowWriter
from audiozoo.model import Batch
from audiozoo.representation import Representation
from audiozoo.train import distributed

ENCODE_BATCH = 32
"""Clips per call of ``encode`` when a whole split is encoded: bounds the memory of the transform."""

RESIDENT_BYTES = 256 * 2**20
"""Audio of a split held whole on the device; a larger split is read from the cache per batch.
256 MiB is 5.9 hours at the report's 3150 Hz, 50 minutes at 22 050 Hz (docs/performance.md measures both)."""

PREFETCH = 2
"""Batches read ahead of the one being trained on."""


def encode_all(rep: Representation, clips: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Every clip encoded, in batches, as one tensor on ``device``."""
    out = [rep.encode(torch.as_tensor(np.asarray(chunk) if isinstance(chunk, np.ndarray) else chunk).to(device))
           for chunk in (clips[i : i + ENCODE_BATCH] for i in range(0, len(clips), ENCODE_BATCH))]
    return torch.cat(out)


def crop_offsets(lengths: int, crop: int, count: int, seed: int, step: int, device: torch.device) -> torch.Tensor:
    """``count`` window starts in ``[0, lengths - crop]`` for ``step``: the same draw whenever it is made."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step + 1)
    return torch.randint(0, lengths - crop + 1, (count,), generator=generator).to(device)


def windows(audio: torch.Tensor, starts: torch.Tensor, crop: int) -> torch.Tensor:
    """``audio[i, starts[i] : starts[i] + crop]`` for every row, in one gather on the device."""
    index = starts.unsqueeze(1) + torch.arange(crop, device=audio.device)
    return torch.gather(audio, 1, index)


def streamed(clips: np.ndarray | Rows, resident_bytes: int | None = None) -> bool:
    """Whether ``clips`` are read per batch from the cache rather than held whole (``resident_bytes``
    of audio at most; None: :data:`RESIDENT_BYTES`)."""
    limit = RESIDENT_BYTES if resident_bytes is None else resident_bytes
    return isinstance(clips, Rows) and clips.nbytes > limit


def resident(clips: np.ndarray | Rows, device: torch.device) -> torch.Tensor:
    """All of ``clips`` as one float32 tensor on ``device``, copied a block at a time from the cache."""
    if not isinstance(clips, Rows):
        return torch.as_tensor(np.asarray(clips), dtype=torch.float32).to(device)
    out = torch.empty(clips.shape, dtype=torch.float32, device=device)
    for start, block in zip(range(0, len(clips), ENCODE_BATCH), clips.blocks(ENCODE_BATCH)):
        out[start : start + len(block)] = torch.from_numpy(block)
    return out


class TrainingSet:
    """Clips ``[N, T]``; :meth:`batch` gives a :class:`Batch` of whole clips or of random crops on ``device``.

    ``batch_size`` lets a streamed set read the batches the trainer's seeded order asks for next
    while the model trains; a batch asked out of that order is read when asked, so the order the
    trainer gives always decides. ``waited``: seconds :meth:`batch` spent waiting for rows.
    """

    def __init__(self, rep: Representation, clips: np.ndarray | Rows, device: torch.device, crop: int = 0,
                 seed: int = 0, batch_size: int = 0, resident_bytes: int | None = None) -> None:
        self.rep, self.crop, self.seed, self.device, self.batch_size = rep, crop, seed, device, batch_size
        self.waited, self.streamed = 0.0, streamed(clips, resident_bytes)
        if not self.streamed:
            self.audio = resident(clips, device)
            self.x = None if crop else encode_all(rep, self.audio, device)
            return
        self.clips = clips
        self.encoded = None if crop else Rows(RowFile(encoded_cache(rep, clips, device)))
        self._ahead = Prefetch(self._read, self._planned, PREFETCH)
        self._orders: dict[int, list[torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.clips) if self.streamed else self.audio.shape[0]

    def batch(self, index: torch.Tensor, step: int) -> Batch:
        """The clips ``index`` for training step ``step + 1`` (their crops, when cropping)."""
        if self.streamed:
            started = time.perf_counter()
            audio, x = self._ahead.get(index, step)
            self.waited += time.perf_counter() - started
            audio = audio.to(self.device, non_blocking=True)
            x = None if x is None else x.to(self.device, non_blocking=True)
        else:
            audio = self.audio[index.to(self.audio.device)]
            x = None if self.crop else self.x[index.to(self.x.device)]
        if not self.crop:
            return Batch(x, audio, self.rep)
        starts = crop_offsets(audio.shape[1], self.crop, len(audio), self.seed, step, audio.device)
        audio = windows(audio, starts, self.crop)
        return Batch(self.rep.encode(audio), audio, self.rep)

    def _read(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The rows of ``index`` (and their encodings, for whole clips) from the cache, ready to copy to the device."""
        positions = index.numpy()
        tensors = [torch.from_numpy(self.clips.read(positions))]
        if self.encoded is not None:
            tensors.append(torch.from_numpy(self.encoded.read(positions)))
        if self.device.type == "cuda":
            tensors = [t.pin_memory() for t in tensors]
        return tensors[0], (tensors[1] if len(tensors) > 1 else None)

    def _planned(self, step: int) -> torch.Tensor | None:
        """The indices the trainer's seeded order gives step ``step + 1`` (None without a batch size)."""
        from audiozoo.train.trainer import batch_order  # the trainer imports this module

        if not self.batch_size:
            return None
        epoch, number = divmod(step, math.ceil(len(self) / self.batch_size))
        if epoch not in self._orders:
            self._orders = {epoch: batch_order(len(self), self.batch_size, self.seed, epoch)}
        return distributed.shard(self._orders[epoch][number])


class Prefetch:
    """``read(index)`` of the next few steps' planned indices on a background thread, while this one trains."""

    def __init__(self, read: Callable[[torch.Tensor], object], planned: Callable[[int], torch.Tensor | None],
                 depth: int) -> None:
        self.read, self.planned, self.depth = read, planned, depth
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audiozoo-data")
        self.pending: dict[int, tuple[torch.Tensor, Future]] = {}

    def get(self, index: torch.Tensor, step: int) -> object:
        """``read(index)``: from the background when it was planned for ``step``, else read now."""
        ahead = self.pending.pop(step, None)
        planned = ahead is not None and torch.equal(ahead[0], index)
        if not planned:  # another order than planned (a resumed run, say): start again from here
            for _, future in self.pending.values():
                future.cancel()
            self.pending.clear()
        result = ahead[1].result() if planned else self.read(index)
        for later in range(step + 1, step + 1 + self.depth):
            if later not in self.pending and (planned := self.planned(later)) is not None:
                self.pending[later] = (planned, self.pool.submit(self.read, planned))
        return result


def encoded_cache(rep: Representation, clips: Rows, device: torch.device) -> Path:
    """Every clip encoded once, in the blocks of :func:`encode_all` (so the same numbers), into a ``.npy``
    in the data cache entry of ``clips``; reused by any run with the same rows and representation state."""
    folder = clips.source.path.parent
    path = folder / f"encoded-{_encoding_key(rep, clips, device)}.npy"
    try:
        RowFile(path).close()
        return path
    except (OSError, ValueError):  # absent, or a copy cut short: (re)write it
        pass
    ensure_writable(folder, "the encoded cache in", "set data.cache_dir=PATH to a writable folder")
    remove_stale_temporaries(folder)
    with atomic_file(path) as tmp, torch.no_grad():
        blocks = (rep.encode(torch.from_numpy(block).to(device)).cpu().numpy() for block in clips.blocks(ENCODE_BATCH))
        first = next(blocks)
        with RowWriter(tmp, first.shape[1:], first.dtype) as writer:
            writer.append(first)
            for x in blocks:
                writer.append(x)
    return path


def _encoding_key(rep: Representation, clips: Rows, device: torch.device) -> str:
    digest = hashlib.sha256(f"{type(rep).__module__}.{type(rep).__qualname__} {rep.config} {device.type} "
                            f"{torch.__version__} {ENCODE_BATCH}".encode())
    digest.update(clips.rows.tobytes())
    for name, tensor in rep.state_dict().items():
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def held_out_batches(rep: Representation, clips: np.ndarray | Rows, device: torch.device, batch_size: int,
                     crop: int = 0, resident_bytes: int | None = None) -> list[Batch] | HeldOut:
    """The held-out clips (with ``crop``: every whole window of each, in order) encoded once, in batches;
    for a split too large to hold, a :class:`HeldOut` that reads and encodes them again on each pass."""
    if streamed(clips, resident_bytes):
        return HeldOut(rep, clips, device, batch_size, crop)
    audio = resident(clips, device)
    if crop:
        audio = audio.unfold(1, crop, crop).reshape(-1, crop)
    x = encode_all(rep, audio, device)
    return [Batch(x[i : i + batch_size], audio[i : i + batch_size], rep) for i in range(0, len(audio), batch_size)]


class HeldOut:
    """The batches of :func:`held_out_batches` for clips in the cache, made on each pass from
    the same windows, encoded in the same blocks: the same numbers, never all in memory."""

    def __init__(self, rep: Representation, clips: Rows, device: torch.device, batch_size: int, crop: int) -> None:
        self.rep, self.clips, self.device, self.batch_size, self.crop = rep, clips, device, batch_size, crop

    def __iter__(self) -> Iterator[Batch]:
        def pieces() -> Iterator[tuple[torch.Tensor]]:
            for block in self.clips.blocks(ENCODE_BATCH):
                audio = torch.from_numpy(block).to(self.device)
                yield (audio.unfold(1, self.crop, self.crop).reshape(-1, self.crop) if self.crop else audio,)

        encoded = ((self.rep.encode(audio), audio) for (audio,) in rechunk(pieces(), ENCODE_BATCH))
        for x, audio in rechunk(encoded, self.batch_size):
            yield Batch(x, audio, self.rep)


def rechunk(parts: Iterable[tuple[torch.Tensor, ...]], size: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Tuples of row-aligned tensors regrouped into ``size`` rows each (the last: what is left), in order."""
    held: list[tuple[torch.Tensor, ...]] = []
    count = 0
    for part in parts:
        held.append(part)
        count += len(part[0])
        while count >= size:
            joined = [torch.cat(column) for column in zip(*held)]
            yield tuple(column[:size] for column in joined)
            held, count = [tuple(column[size:] for column in joined)], count - size
    if count:
        yield tuple(torch.cat(column) for column in zip(*held))
