"""Reading and writing the user's files safely.

Reads take regular files only (never a device, a FIFO or a folder) and no more than a
stated number of bytes. Writes are atomic and durable: the data goes to a temporary file
beside the target, is flushed to disk, renamed over the target and the folder synced, so a
crash leaves either the old file or the new one, and never a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from core.common.errors import InputError, printable
from core.common.limits import FILE_BYTES, Limit


class FileReadError(InputError):
    """A file cannot be read: missing, not a regular file, too large or unreadable."""


def read_bytes_bounded(path: str | Path, limit: Limit = FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file no larger than ``limit`` (checked before reading, and
    again while reading, since the file may grow)."""
    name = printable(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileReadError(f"{name}: no such file") from None
    except OSError as exc:
        raise FileReadError(f"{name}: cannot be read ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileReadError(f"{name}: is not a regular file (a {what} must be an ordinary "
                                f"file, not a folder, device or pipe)")
        limit.check(os.fstat(fd).st_size, f"reading {name}")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit.value + 1)
    except OSError as exc:
        raise FileReadError(f"{name}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    limit.check(len(data), f"reading {name}")
    return data


def read_text_bounded(path: str | Path, limit: Limit = FILE_BYTES, what: str = "file") -> str:
    data = read_bytes_bounded(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileReadError(f"{printable(str(path))}: is not UTF-8 text (byte {exc.start})") \
            from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that needs a file name (torch.save,
    ONNX export, an image writer); on success it replaces ``path`` durably, on failure it
    is removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        _match_ordinary_permissions(tmp_path)
        os.replace(tmp_path, path)
        _fsync_folder(folder)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically and durably."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer(tmp_path)`` write the file, then put it in place atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _match_ordinary_permissions(path: Path) -> None:
    """mkstemp makes 0600; a saved file gets the permissions of an ordinary new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
