"""Writing files safely: every file bpcore writes (models, the CLI's CSV
predictions, ``compare --plot`` PNGs) goes through :func:`atomic_write`, so a
reader sees the old file or the complete new one, never a partial one, and a
failed write leaves nothing behind."""

import contextlib
import os
import secrets

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Open a new temporary file next to ``path`` for writing (``mode`` "wb" or
    "w"; ``open_kwargs`` as for :func:`open`). When the block ends normally the
    file is flushed, fsynced and moved onto ``path`` with :func:`os.replace`;
    when it raises, the temporary file is removed and ``path`` is untouched, so
    readers only ever see the old file or the complete new one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 lets the umask decide the permissions, as for any new file.
            fd = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); directories cannot be opened on Windows."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
