"""A network share that can stop answering, for the tests: a FUSE loopback of SOURCE mounted at
MOUNT (fusepy on libfuse 2), whose every operation waits while the file FREEZE exists, the way a
file system call into an SMB or NFS share whose server is gone does.

    python -m tests.fuseshare SOURCE MOUNT FREEZE     # in the foreground until unmounted

Only what a hot folder needs: listing, stat, create/open/read/write/fsync, rename, unlink, chmod.
"""

# ruff: noqa: PTH101, PTH102, PTH118

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import Any

from fuse import FUSE, FuseOSError, Operations  # type: ignore[import-untyped]


class FreezableLoopback(Operations):  # type: ignore[misc]
    def __init__(self, source: str, freeze: str) -> None:
        self.source = source
        self.freeze = freeze

    def _real(self, path: str) -> str:
        self._wait()
        return os.path.join(self.source, path.lstrip("/"))

    def _wait(self) -> None:
        while os.path.exists(self.freeze):
            time.sleep(0.05)

    def __call__(self, op: str, *args: Any) -> Any:
        try:
            return super().__call__(op, *args)
        except OSError as exc:
            raise FuseOSError(exc.errno or errno.EIO) from None

    def access(self, path: str, amode: int) -> None:
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        st = os.lstat(self._real(path))
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid", "st_ino")
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def statfs(self, path: str) -> dict[str, Any]:
        st = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize")
        return {key: getattr(st, key) for key in keys} | {"f_namemax": 255}

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._real(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self._real(path), uid, gid)

    def utimens(self, path: str, times: Any = None) -> None:
        os.utime(self._real(path), times)

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self._real(path), mode)

    def rmdir(self, path: str) -> None:
        os.rmdir(self._real(path))

    def unlink(self, path: str) -> None:
        os.unlink(self._real(path))

    def rename(self, old: str, new: str) -> None:
        os.replace(self._real(old), self._real(new))

    def truncate(self, path: str, length: int, fh: Any = None) -> None:
        os.truncate(self._real(path), length)

    def open(self, path: str, flags: int) -> int:
        return os.open(self._real(path), flags)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        self._wait()
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        self._wait()
        return os.pwrite(fh, data, offset)

    def flush(self, path: str, fh: int) -> None:
        self._wait()

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._wait()
        os.fsync(fh)

    def fsyncdir(self, path: str, datasync: int, fh: Any) -> None:
        self._wait()

    def release(self, path: str, fh: int) -> None:
        os.close(fh)


def main() -> None:
    source, mount, freeze = sys.argv[1:4]
    Path(mount).mkdir(parents=True, exist_ok=True)
    FUSE(FreezableLoopback(source, freeze), mount, foreground=True, nothreads=False, allow_other=True)


if __name__ == "__main__":
    main()
