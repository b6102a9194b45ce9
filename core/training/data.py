"""MNIST for the trainer: find the four IDX files in a folder, decode them once with numpy,
keep them in memory, and hand out ready-to-train tensors (normalised, padded to the
network's input size), with the bundled real sample as the fallback.

Accepted layouts of a data folder (the first that has any of the four files wins):
``DIR/<name>.gz`` or ``DIR/<name>`` (uncompressed, also ``train-images.idx3-ubyte``
spelling), ``DIR/MNIST/raw/...`` (torchvision's own layout) and ``DIR/raw/...``.

No torch at import time: decoding is numpy only; torch is imported when tensors are asked
for. Every problem with a file (missing, truncated, wrong magic, counts that disagree)
raises DatasetError naming the file.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.common.errors import MlsysError

ENV_VAR = "MLSYS_MNIST_DIR"
MEAN, STD = 0.1307, 0.3081
IMAGE_SIZE = 28
NUM_CLASSES = 10
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "resources" / "mnist_sample"
FULL_SIZES = (60_000, 10_000)

# role -> canonical file stem; magic number and number of dimensions of its IDX header
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MAGIC = {"images": (0x0803, 3), "labels": (0x0801, 1)}
SUPPORTED_INPUTS = "1×28×28, 1×32×32 (padded with background) or 784 (flattened)"


class DatasetError(MlsysError, ValueError):
    """MNIST cannot be found, read or used as asked (names the file or the shape)."""


# ---------------------------------------------------------------------------------------
# Decoding IDX
# ---------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file is missing") from None
    except EOFError:
        raise DatasetError(f"{path}: the gzip file is truncated (it ends before its data "
                           f"does); download it again") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(f"{path}: not a valid gzip file ({exc}); download it "
                           f"again") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def decode_idx(data: bytes, kind: str, source: str = "data") -> np.ndarray:
    """An IDX ubyte array from raw bytes. ``kind`` is "images" (magic 0x803, N×H×W) or
    "labels" (magic 0x801, N); anything else about the bytes raises DatasetError."""
    magic, ndim = MAGIC[kind]
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{source}: only {len(data)} bytes, too short for an IDX "
                           f"{kind} header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DatasetError(f"{source}: wrong magic number 0x{found:08x} for MNIST {kind} "
                           f"(expected 0x{magic:08x}); is this the right file?")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    body = len(data) - 4 - 4 * ndim
    if body != expected:
        raise DatasetError(f"{source}: truncated or padded: the header says "
                           f"{'×'.join(map(str, dims))} = {expected:,} bytes of {kind}, the "
                           f"file has {body:,}")
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    if kind == "images" and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"{source}: images are {dims[1]}×{dims[2]}; MNIST images are "
                           f"{IMAGE_SIZE}×{IMAGE_SIZE}")
    if kind == "labels" and array.size and int(array.max()) >= NUM_CLASSES:
        raise DatasetError(f"{source}: label {int(array.max())} found; MNIST labels are "
                           f"0..{NUM_CLASSES - 1}")
    return array


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array (inverse of decode_idx; used to make the sample)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = MAGIC["images" if array.ndim == 3 else "labels"][0]
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big")
                                                   for d in array.shape)
    return header + array.tobytes()


# ---------------------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------------------
def _candidates(root: Path, stem: str) -> list[Path]:
    dotted = stem.replace("-idx", ".idx")  # train-images.idx3-ubyte, a common spelling
    return [root / name for s in (stem, dotted) for name in (s, s + ".gz")]


def _existing(root: Path, stem: str) -> Path | None:
    for path in _candidates(root, stem):
        if path.is_file():
            return path
    return None


def find_files(directory: str | os.PathLike) -> dict[str, Path]:
    """The four MNIST files in ``directory`` (any accepted layout), by role."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DatasetError(f"MNIST folder {directory} does not exist (or is not a folder)")
    for root in (directory, directory / "MNIST" / "raw", directory / "raw"):
        found = {role: _existing(root, stem) for role, stem in FILES.items()}
        if any(found.values()):
            missing = [f"{FILES[r]}.gz" for r, p in found.items() if p is None]
            if missing:
                raise DatasetError(f"{root}: file {', '.join(missing)} is missing (MNIST "
                                   f"needs all four files, .gz or uncompressed)")
            return found  # type: ignore[return-value]
    raise DatasetError(f"no MNIST files in {directory}: expected "
                       + ", ".join(f"{s}.gz" for s in FILES.values())
                       + " (or uncompressed, or torchvision's MNIST/raw/ layout)")


# ---------------------------------------------------------------------------------------
# The dataset object
# ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class MnistData:
    """Decoded MNIST (or the bundled sample): uint8 images N×28×28 and int64 labels,
    plus ready-to-train float tensors made on first use and kept."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path | None = None
    kind: str = "custom"  # "full", "sample" or "custom" (another MNIST-format subset)
    _tensors: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def train_size(self) -> int:
        return int(len(self.train_labels))

    @property
    def test_size(self) -> int:
        return int(len(self.test_labels))

    @property
    def name(self) -> str:
        sizes = f"{self.train_size:,}/{self.test_size:,}"
        if self.kind == "full":
            return f"MNIST (full, {sizes})"
        if self.kind == "sample":
            return f"bundled sample ({sizes})"
        return f"MNIST-format data ({sizes})"

    @property
    def description(self) -> str:
        """Which dataset is in use, for the GUI and the CLI."""
        if self.kind == "sample":
            return self.name
        return f"{self.name} from {self.source}" if self.source else self.name

    def label_counts(self, split: str = "train") -> list[int]:
        labels = self.train_labels if split == "train" else self.test_labels
        return np.bincount(labels, minlength=NUM_CLASSES).tolist()

    def tensors(self, split: str, size: int = IMAGE_SIZE):
        """(images float32 N×1×size×size normalised, labels int64 N) as torch tensors,
        made once per (split, size). ``size`` 32 pads each side with 2 background pixels."""
        if split not in ("train", "test"):
            raise DatasetError(f"split {split!r} is not allowed: use 'train' or 'test'")
        if size not in (IMAGE_SIZE, 32):
            raise DatasetError(f"image size {size} is not allowed: use 28 or 32")
        key = (split, size)
        with self._lock:
            if key not in self._tensors:
                self._tensors[key] = _to_tensors(
                    self.train_images if split == "train" else self.test_images,
                    self.train_labels if split == "train" else self.test_labels, size)
            return self._tensors[key]


def normalise(images_u8: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """uint8 N×28×28 → float32 N×1×size×size: (x/255 − mean)/std, padded with 0 pixels."""
    n = images_u8.shape[0]
    pad = (size - IMAGE_SIZE) // 2
    out = np.empty((n, 1, size, size), dtype=np.float32)
    if pad:
        out.fill((0.0 - MEAN) / STD)
    scale = np.float32(1.0 / (255.0 * STD))
    shift = np.float32(MEAN / STD)
    inner = out[:, 0, pad:pad + IMAGE_SIZE, pad:pad + IMAGE_SIZE]
    np.multiply(images_u8, scale, out=inner, dtype=np.float32)
    inner -= shift
    return out


def _to_tensors(images: np.ndarray, labels: np.ndarray, size: int):
    import torch
    return (torch.from_numpy(normalise(images, size)),
            torch.from_numpy(labels.astype(np.int64)))


# Decoded arrays by (path, size, mtime) so that reopening the same folder costs nothing.
_CACHE: dict[tuple, MnistData] = {}
_CACHE_LOCK = threading.Lock()


def _kind_of(directory: Path, data: MnistData) -> str:
    if directory.resolve() == SAMPLE_DIR.resolve():
        return "sample"
    if (data.train_size, data.test_size) == FULL_SIZES:
        return "full"
    return "custom"


def load_folder(directory: str | os.PathLike) -> MnistData:
    """MNIST from a folder (see the module docstring for the layouts); cached in memory."""
    directory = Path(directory).expanduser()
    files = find_files(directory)
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns)
                for p in files.values())
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    arrays = {role: decode_idx(_read_bytes(path), role.split("_")[1], str(path))
              for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise DatasetError(f"{files[split + '_images']} has {len(images):,} images but "
                               f"{files[split + '_labels']} has {len(labels):,} labels")
    data = MnistData(arrays["train_images"], arrays["train_labels"].astype(np.int64),
                     arrays["test_images"], arrays["test_labels"].astype(np.int64),
                     source=directory)
    data.kind = _kind_of(directory, data)
    with _CACHE_LOCK:
        _CACHE[key] = data
    return data


def load_sample() -> MnistData:
    """The small real MNIST sample shipped in core/resources/mnist_sample."""
    return load_folder(SAMPLE_DIR)


def configured_dir() -> Path | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def load_mnist(directory: str | os.PathLike | None = None) -> MnistData:
    """MNIST from ``directory``, else from $MLSYS_MNIST_DIR, else the bundled sample."""
    if directory is None or str(directory) == "":
        directory = configured_dir()
    if directory is None:
        return load_sample()
    return load_folder(directory)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# ---------------------------------------------------------------------------------------
# Input shapes
# ---------------------------------------------------------------------------------------
def input_layout(shape, network_name: str = "the network") -> tuple[int, bool]:
    """(image size, flatten?) for a network whose per-sample input shape is ``shape``:
    (1,28,28) → (28, False); (1,32,32) → (32, False); (784,) → (28, True)."""
    shape = tuple(int(d) for d in shape)
    if shape == (1, IMAGE_SIZE, IMAGE_SIZE):
        return IMAGE_SIZE, False
    if shape == (1, 32, 32):
        return 32, False
    if shape == (IMAGE_SIZE * IMAGE_SIZE,):
        return IMAGE_SIZE, True
    text = "×".join(map(str, shape)) or "a scalar"
    raise DatasetError(f"{network_name}'s input is {text}; MNIST training needs an input of "
                       f"{SUPPORTED_INPUTS}")


# ---------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------
Progress = Callable[[int, int, str], None]  # (files done, files in all, message)
CHUNK_BYTES = 64 * 1024
DOWNLOAD_TIMEOUT_S = 20
DOWNLOAD_ADVICE = "put the four .gz files in a folder and choose it"


@dataclass(frozen=True)
class DownloadProgress:
    """One step of ``download_steps``: ``files_done`` of ``files`` complete, and within
    the current file ``done_bytes`` of ``total_bytes`` (None when the server does not say)."""

    files_done: int
    files: int
    filename: str
    done_bytes: int
    total_bytes: int | None
    message: str


def _mnist_sources() -> tuple[list[str], list[tuple[str, str]]]:
    """torchvision's MNIST mirrors and (filename, md5) list."""
    try:
        from torchvision.datasets import MNIST
        return list(MNIST.mirrors), [tuple(r) for r in MNIST.resources]
    except Exception as exc:  # torchvision missing or changed
        raise DatasetError(f"cannot download MNIST: torchvision is not usable ({exc}); "
                           f"{DOWNLOAD_ADVICE}") from None


def _download_file(url: str, target: Path, md5: str | None, should_stop):
    """Fetch ``url`` into ``target`` (via a .part file, checked against ``md5``), yielding
    (bytes so far, total or None) per chunk. Returns early, leaving nothing, on stop."""
    import hashlib
    import urllib.request
    part = target.with_name(target.name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                open(part, "wb") as out:
            length = response.headers.get("Content-Length")
            total, done = (int(length) if length and length.isdigit() else None), 0
            while chunk := response.read(CHUNK_BYTES):
                if should_stop():
                    return
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                yield done, total
        if md5 and digest.hexdigest() != md5:
            raise DatasetError(f"{url}: checksum mismatch (the file is damaged)")
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)


def _fetch_from_mirrors(mirrors, filename, target, md5, should_stop, step):
    """Try each mirror in turn; yields DownloadProgress made by ``step``."""
    errors = []
    for mirror in mirrors:
        try:
            for done, total in _download_file(f"{mirror}{filename}", target, md5, should_stop):
                yield step(done, total)
            return
        except Exception as exc:  # URLError, HTTPError, checksum, timeouts, disk
            errors.append(f"{mirror}: {getattr(exc, 'reason', None) or exc}")
    reason = errors[-1] if errors else "no mirror"
    raise DatasetError(f"cannot download MNIST: {reason}; {DOWNLOAD_ADVICE}")


def download_steps(root: str | os.PathLike, should_stop: Callable[[], bool] = lambda: False,
                   mirrors: list[str] | None = None):
    """Download MNIST with torchvision's mirrors and checksums into ``root/MNIST/raw``:
    yields DownloadProgress per chunk, then the loaded MnistData last (nothing more when
    stopped). Without a network (or with failing mirrors) raises DatasetError saying what
    to do instead. Files already there are kept."""
    default_mirrors, resources = _mnist_sources()
    mirrors = default_mirrors if mirrors is None else mirrors
    raw = Path(root).expanduser() / "MNIST" / "raw"
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot download MNIST: cannot create {raw} "
                           f"({exc.strerror or exc}); {DOWNLOAD_ADVICE}") from None
    files = len(resources)
    for done, (filename, md5) in enumerate(resources):
        target = raw / filename
        if target.is_file():
            yield DownloadProgress(done + 1, files, filename, 0, None,
                                   f"{filename} already there")
            continue
        yield DownloadProgress(done, files, filename, 0, None, f"downloading {filename}")

        def step(got, total, done=done, filename=filename):
            return DownloadProgress(done, files, filename, got, total,
                                    f"downloading {filename}")
        yield from _fetch_from_mirrors(mirrors, filename, target, md5, should_stop, step)
        if should_stop():
            return
        yield DownloadProgress(done + 1, files, filename, 0, None, f"downloaded {filename}")
    yield load_folder(Path(root).expanduser())


def download_mnist(root: str | os.PathLike, progress: Progress | None = None) -> MnistData:
    """``download_steps`` to the end; ``progress(done, total, message)`` is called at the
    start and the end of each file."""
    data = None
    for item in download_steps(root):
        if isinstance(item, MnistData):
            data = item
        elif progress is not None and item.done_bytes == 0:
            progress(item.files_done, item.files, item.message)
    return data
