"""The cache's arrays on disk: ``.npy`` files appended by plain writes and read by rows with positional reads.

Neither goes through a memory map on purpose: every page of a mapped file that a process touches
counts in its resident memory (RssFile) until the map is closed, so writing or reading 10 hours of
audio through ``np.memmap`` shows a peak RSS as large as the file. Plain ``write`` and ``pread``
go through the page cache instead, which the kernel reclaims and no process is charged for
(measured in docs/performance.md). The files stay ordinary ``.npy``: ``np.load(mmap_mode="r")``
reads them too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class RowWriter:
    """Rows of one shape and dtype appended to a new ``.npy`` file, its header rewritten on :meth:`close`.

    numpy pads a header so that its first dimension can grow in place (to 21 digits), so the final
    header has the length of the first and the rows never move.
    """

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> None:
        self.path, self.row_shape, self.dtype, self.rows = Path(path), tuple(row_shape), np.dtype(dtype), 0
        self._file = open(self.path, "wb")
        self._header()
        self._start = self._file.tell()

    def _header(self) -> None:
        np.lib.format.write_array_header_1_0(self._file, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                          "fortran_order": False, "shape": (self.rows, *self.row_shape)})

    def append(self, rows: np.ndarray) -> None:
        """Write ``rows`` ``[k, *row_shape]`` after those written before."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]} appended to {self.path.name} of rows {self.row_shape}")
        self._file.write(memoryview(rows.reshape(-1)).cast("B"))
        self.rows += len(rows)

    def close(self) -> None:
        """Write the final header; the file is then a complete ``.npy`` of ``[rows, *row_shape]``."""
        self._file.seek(0)
        self._header()
        if self._file.tell() != self._start:  # cannot happen with numpy's growth padding; never write a wrong file
            raise RuntimeError(f"the header of {self.path} changed length")
        self._file.close()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self._file.close()


HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class RowFile:
    """A ``.npy`` file of rows read by row number with ``pread``: safe from several threads at once."""

    def __init__(self, path: Path) -> None:
        self.path, self._fd = Path(path), -1
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in HEADER_READERS:
                raise ValueError(f"{self.path.name} is a .npy file of version {version}, not 1.0 or 2.0")
            shape, fortran, dtype = HEADER_READERS[version](f)
            self.offset = f.tell()
        if fortran or not shape:
            raise ValueError(f"{self.path.name} is not an array of rows")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        if os.path.getsize(self.path) < self.offset + self.shape[0] * self.row_bytes:
            raise ValueError(f"{self.path.name} is shorter than its header says (truncated)")
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (any order, repeats allowed) as a new ``[len(rows), *row_shape]`` array;
        consecutive rows are read in one call."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"rows {rows.min()}..{rows.max()} of {self.path.name}, which has {len(self)}")
        flat = memoryview(out.reshape(-1)).cast("B")
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for run in np.split(np.arange(len(rows)), breaks) if len(rows) else []:
            self._pread(flat[run[0] * self.row_bytes : (run[-1] + 1) * self.row_bytes],
                        self.offset + int(rows[run[0]]) * self.row_bytes)
        return out

    def _pread(self, into: memoryview, offset: int) -> None:
        while len(into):
            done = os.preadv(self._fd, [into], offset)
            if done == 0:
                raise OSError(f"{self.path} ended early")
            into, offset = into[done:], offset + done

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class Rows:
    """A selection of the rows of a :class:`RowFile`: what training reads per batch, without copying
    the whole selection first (``memmap[indices]`` would)."""

    def __init__(self, source: RowFile, rows: np.ndarray | None = None) -> None:
        self.source = source
        self.rows = np.arange(len(source)) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.source.shape[1:])

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.source.dtype.itemsize

    def read(self, positions: np.ndarray | slice | None = None) -> np.ndarray:
        """The rows at ``positions`` of this selection (None: all), as a new array."""
        return self.source.read(self.rows if positions is None else self.rows[positions])

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """Every row in order, ``size`` at a time."""
        for start in range(0, len(self), size):
            yield self.read(slice(start, start + size))

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)
