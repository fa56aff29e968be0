"""Follow a log file like ``tail -F``: across rotation (the path now names a new file) and
truncation, returning only complete lines.

The position is (inode, offset). When the path's inode changes, what is left of the old file (still
open) is read to its end first, then the new file from its start. A file shorter than the offset was
truncated: reading starts over from 0. A last line without its newline is left for the next read
(unless the file was rotated away, when it is final). A line longer than ``max_line`` is skipped and
counted in ``oversized``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["LogTail", "TailPosition"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class TailPosition:
    inode: int
    offset: int


class LogTail:
    """Reads new complete lines of ``path`` on each :meth:`read`."""

    def __init__(
        self,
        path: Path,
        position: TailPosition | None = None,
        *,
        start_at_end: bool = True,
        max_bytes: int = 8 * _CHUNK,
        max_line: int = _CHUNK,
    ) -> None:
        self.path = path
        self.start_at_end = start_at_end
        self.max_bytes = max_bytes
        self.max_line = max_line
        self.oversized = 0
        self.rotations = 0
        self.truncations = 0
        self._saved = position
        self._fh: BinaryIO | None = None
        self._inode: int | None = None
        self._offset = 0
        self._after_rotation = False

    @property
    def position(self) -> TailPosition | None:
        if self._inode is None:
            return self._saved
        return TailPosition(self._inode, self._offset)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def read(self) -> list[bytes]:
        """The complete lines written since the last read (at most about ``max_bytes``)."""
        lines: list[bytes] = []
        try:
            st = os.stat(self.path)
        except OSError:
            if self._fh is not None:  # rotated away and not yet recreated: finish the old file
                lines.extend(self._drain_old())
            return lines
        if self._fh is not None and st.st_ino != self._inode:
            lines.extend(self._drain_old())
            self.rotations += 1
        if self._fh is None:
            try:
                self._open(st)
            except OSError:
                return lines
        if st.st_size < self._offset:
            self.truncations += 1
            self._offset = 0
        assert self._fh is not None
        lines.extend(self._read(self._fh, final=False))
        return lines

    def _open(self, st: os.stat_result) -> None:
        fh = open(self.path, "rb")  # noqa: SIM115 - kept open across reads, like tail -F
        inode = os.fstat(fh.fileno()).st_ino
        saved = self._saved
        if self._after_rotation:
            offset = 0  # the new file after a rotation: from its start
        elif saved is None:
            offset = st.st_size if self.start_at_end else 0
        elif saved.inode == inode:
            offset = saved.offset
        else:
            offset = 0  # rotated while nobody was reading
            self.rotations += 1
        self._fh, self._inode, self._offset = fh, inode, offset
        self._after_rotation = False

    def _drain_old(self) -> list[bytes]:
        assert self._fh is not None
        lines = self._read(self._fh, final=True, limit=None)
        self.close()
        self._inode, self._offset = None, 0
        self._saved = None
        self._after_rotation = True
        return lines

    def _read(self, fh: BinaryIO, *, final: bool, limit: int | None = -1) -> list[bytes]:
        budget = self.max_bytes if limit == -1 else limit
        fh.seek(self._offset)
        out: list[bytes] = []
        carry = b""
        read = 0
        while budget is None or read < budget:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                if len(carry) > self.max_line:  # one enormous line: skip it
                    self.oversized += 1
                    self._offset += len(carry)
                    carry = b""
                continue
            out.extend(line for line in data[:cut].split(b"\n"))
            self._offset += cut + 1
            carry = data[cut + 1 :]
        if final and carry:
            out.append(carry)
            self._offset += len(carry)
        return [line.rstrip(b"\r") for line in out if line.strip()]
