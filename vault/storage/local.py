"""Blobs as files in a local directory: root/3f/9a/3f9a...; written via temp file + rename."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from vault.errors import BlobNotFound, StorageError, StorageUnavailable
from vault.storage.base import (
    TEMP_PREFIX,
    ClosingStream,
    StorageFull,
    check_chunks,
    is_blob_key,
    validate_key,
)

log = logging.getLogger(__name__)

_DIR_MODE = 0o700
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class LocalBlobStore:
    """A directory of blobs. Directories are created 0700 and files 0600.

    A put writes to ".tmp-*" in the blob's own directory, fsyncs it, renames it into place and
    fsyncs the directory, so a crash leaves either the whole blob or no blob (plus, at worst, a
    temp file that `sweep_temp_files` removes).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    # -- BlobStore ---------------------------------------------------------------------------------
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        target = self._path(key)
        it = check_chunks(chunks)
        with self._os_errors(f"could not write blob {key}"):
            self._make_dirs(target.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)  # mode 0600
        tmp = Path(tmp_name)
        written = 0
        closed = placed = False
        try:
            for chunk in it:  # the caller's exceptions propagate unchanged
                with self._os_errors(f"could not write blob {key}"):
                    written += _write_all(fd, chunk)
            with self._os_errors(f"could not write blob {key}"):
                os.fsync(fd)
                closed = True
                os.close(fd)
                os.replace(tmp, target)
                placed = True
                _fsync_dir(target.parent)
        except BaseException:
            if not closed:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                (target if placed else tmp).unlink()  # a put that failed leaves nothing under key
            raise
        return written

    def get(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        path = self._path(key)
        try:
            f = open(path, "rb")  # closed by the returned stream
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key} does not exist", key=key) from None
        except OSError as exc:
            raise self._error(f"could not read blob {key}", exc) from exc

        def read() -> bytes:
            try:
                return f.read(chunk_size)
            except OSError as exc:
                raise self._error(f"could not read blob {key}", exc) from exc

        return ClosingStream(read, f.close)

    def size(self, key: str) -> int:
        path = self._path(key)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key} does not exist", key=key) from None
        except OSError as exc:
            raise self._error(f"could not stat blob {key}", exc) from exc

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return path.is_file()
        except OSError as exc:
            raise self._error(f"could not stat blob {key}", exc) from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._os_errors(f"could not delete blob {key}"):
            try:
                path.unlink()
            except FileNotFoundError:
                return
            _fsync_dir(path.parent)

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root)
            for name in sorted(filenames):
                key = (rel_dir / name).as_posix()
                if is_blob_key(key):
                    yield key

    def check(self) -> None:
        """The root exists (created 0700 if missing) and a file can be created and removed in it."""
        try:
            self._make_dirs(self.root)
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX + "check-", dir=self.root)
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            raise StorageUnavailable(
                f"blob directory {self.root} is not usable: {exc.strerror or exc}"
            ) from exc

    def describe(self) -> str:
        return f"local:{self.root}"

    # -- maintenance -------------------------------------------------------------------------------
    def sweep_temp_files(self, older_than_s: float) -> int:
        """Remove ".tmp-*" files older than `older_than_s` (left by a killed process); return how many.

        Use an age well above the longest upload so an in-progress put is never swept.
        """
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = Path(dirpath) / name
                try:
                    if path.lstat().st_mtime > cutoff:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning("could not remove stale temp file %s: %s", path, exc)
                    continue
                removed += 1
        return removed

    # -- helpers -----------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        return self.root.joinpath(*key.split("/"))

    def _make_dirs(self, directory: Path) -> None:
        """Create `directory` and missing parents with mode 0700, fsyncing each new entry's parent."""
        missing: list[Path] = []
        d = directory
        while not d.is_dir():
            missing.append(d)
            if d.parent == d:
                break
            d = d.parent
        for d in reversed(missing):
            try:
                d.mkdir(mode=_DIR_MODE)
            except FileExistsError:
                continue
            _fsync_dir(d.parent)

    def _error(self, what: str, exc: OSError) -> StorageError:
        if exc.errno in _NO_SPACE:
            return StorageFull(
                f"blob store is full: {what}: no space left under {self.root}; free space or move "
                "the blob directory to a larger volume",
                root=str(self.root),
            )
        return StorageError(f"{what} under {self.root}: {exc.strerror or exc}", root=str(self.root))

    @contextlib.contextmanager
    def _os_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise self._error(what, exc) from exc


def _write_all(fd: int, chunk: bytes) -> int:
    view = memoryview(chunk).cast("B")
    total = len(view)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    return total


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
