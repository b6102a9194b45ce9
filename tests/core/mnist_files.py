"""Write small MNIST-format folders from the bundled sample (tests of data and of the
commands that take --data)."""

from __future__ import annotations

import gzip
from pathlib import Path

from core.training.data import FILES, encode_idx


def write_set(folder: Path, sample, gz: bool = True, spelling=lambda stem: stem,
              n_train: int = 200, n_test: int = 100) -> Path:
    """A small MNIST-format folder made from the sample."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train_images": sample.train_images[:n_train],
             "train_labels": sample.train_labels[:n_train],
             "test_images": sample.test_images[:n_test],
             "test_labels": sample.test_labels[:n_test]}
    for role, array in parts.items():
        payload = encode_idx(array)
        name = spelling(FILES[role])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return folder
