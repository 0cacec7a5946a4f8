"""Rows of a stored feature matrix, read from its file only when a target asks for them.

A sequence cell's training sample on all of CoNLL-2003 is 203,621 token rows of 384 floats
(0.31 GB). Copied out of the memory map up front, or read through it, those rows stay in the
cell's memory for the whole fit, beside the 1.24 GB crfsuite holds; a target that reads its
input a sentence at a time (the CRF) needs none of it at once. :class:`FileRows` is that
input: positions into a ``.npy`` feature file, read with ``os.pread`` per request, so what was
read lives in the OS's page cache, never in the process (a mapped page, once touched, counts
in the reader's RSS until it is dropped).

It behaves as a read-only array for what targets do with feature rows: ``shape``, ``dtype``,
``ndim``, ``len``, ``rows[i:j]`` and ``rows[positions]`` (numpy arrays), ``np.asarray(rows)``
(all of them, one copy), and ``take(positions)`` (a ``FileRows`` of a subset, read nothing).
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np


class FileRows:
    """Rows ``positions`` (int64, into the file's matrix) of a C-ordered matrix at byte ``offset`` of ``path``."""

    def __init__(self, path: str, offset: int, row_shape: tuple[int, ...], dtype: Any, positions: np.ndarray,
                 file_id: tuple[int, int] | None = None):
        self.path = str(path)
        self.file_id = _file_id(os.stat(self.path)) if file_id is None else file_id  # the file these rows are of
        self.offset = int(offset)
        self.row_shape = tuple(int(n) for n in row_shape)
        self.dtype = np.dtype(dtype)
        self.positions = np.asarray(positions, dtype=np.int64)
        self._row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def of(cls, features: Any, positions: np.ndarray) -> Any:
        """``features[positions]``: a ``FileRows`` when ``features`` maps a whole ``.npy`` file, else a copy."""
        positions = np.asarray(positions, dtype=np.int64)
        if not _whole_file_map(features):
            return features[positions]
        if len(positions) and (positions.min() < 0 or positions.max() >= features.shape[0]):
            raise IndexError(f"row positions outside the {features.shape[0]} rows of {features.filename}")
        return cls(features.filename, features.offset, features.shape[1:], features.dtype, positions)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.positions), *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __len__(self) -> int:
        return len(self.positions)

    def take(self, positions: np.ndarray) -> FileRows:
        """The rows at ``positions`` of these rows, still unread."""
        return FileRows(self.path, self.offset, self.row_shape, self.dtype, self.positions[np.asarray(positions)],
                        self.file_id)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self._read(self.positions[[int(index)]])[0]
        return self._read(self.positions[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self._read(self.positions)
        return values if dtype is None else values.astype(dtype, copy=False)

    def _read(self, file_rows: np.ndarray) -> np.ndarray:
        """The file's rows ``file_rows``, one ``pread`` per run of consecutive rows."""
        file_rows = np.asarray(file_rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(file_rows), *self.row_shape), dtype=self.dtype)
        if not len(file_rows):
            return out
        starts = np.flatnonzero(np.diff(file_rows, prepend=file_rows[0] - 2) != 1)
        ends = np.append(starts[1:], len(file_rows))
        buffer = memoryview(out.reshape(-1).view(np.uint8))
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if _file_id(os.fstat(fd)) != self.file_id:
                raise OSError(f"{self.path} was replaced after its rows were taken; rerun the experiment")
            for start, end in zip(starts.tolist(), ends.tolist()):
                want, at = (end - start) * self._row_bytes, self.offset + int(file_rows[start]) * self._row_bytes
                got = os.preadv(fd, [buffer[start * self._row_bytes:end * self._row_bytes]], at)
                if got != want:
                    raise OSError(f"{self.path}: read {got} of {want} bytes at {at}; the feature file is truncated")
        finally:
            os.close(fd)
        return out

    def __repr__(self) -> str:
        return f"FileRows({len(self.positions)} rows of {self.row_shape} {self.dtype} from {self.path!r})"


def _whole_file_map(features: Any) -> bool:
    """A read-only memory map of a whole ``.npy`` matrix (as ``np.load(mmap_mode="r")`` gives), not a view of one."""
    return (isinstance(features, np.memmap) and isinstance(getattr(features, "base", None), mmap.mmap)
            and bool(getattr(features, "filename", None)) and features.flags.c_contiguous and features.ndim >= 2
            and hasattr(os, "preadv"))


def _file_id(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def take_rows(values: Any, positions: np.ndarray) -> Any:
    """``values[positions]``, unread (a ``FileRows``) from a ``FileRows`` or a whole ``.npy`` file's memory map."""
    return values.take(positions) if isinstance(values, FileRows) else FileRows.of(values, positions)


__all__ = ["FileRows", "take_rows"]
