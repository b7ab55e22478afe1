"""The attachment store: content-addressed files under one directory.

A file is written to a temporary name, flushed to disk and renamed into place, so a crash
never leaves half a file under a real name; the same bytes uploaded twice are stored once.
Storing bytes already there renews the file's time, which is how a file no record refers to
yet (just uploaded, or reused) is told from an abandoned one (see ``discard``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


class AttachmentStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> tuple[str, str]:
        """Store ``data``; returns (sha256, path relative to the store)."""
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest[2:4]}/{digest}"
        target = self.root / relative
        try:
            if target.stat().st_size == len(data):
                os.utime(target)  # renewed: in use again, not to be discarded
                return digest, relative
        except FileNotFoundError:  # not there, or discarded this very moment: write it
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, relative

    def read(self, relative: str) -> bytes:
        return self._inside(relative).read_bytes()

    def _inside(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("path outside the attachment store")
        return path

    def files(self) -> Iterator[tuple[str, datetime]]:
        """Every stored file (relative path) and when it was last stored, in UTC."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            try:
                if path.is_file():
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    yield path.relative_to(self.root).as_posix(), modified
            except FileNotFoundError:  # gone meanwhile
                continue

    def discard(self, relative: str, *, unless_newer_than: datetime) -> bool:
        """Delete a file last stored before ``unless_newer_than``; False if it is gone or
        was stored again meanwhile (then it stays).

        The file is first moved aside: a ``put`` of the same bytes from then on finds it
        missing and writes it anew, and one that renewed it just before is seen in its time
        and the file is moved back.
        """
        path = self._inside(relative)
        aside = path.with_name(f".discard-{uuid.uuid4().hex}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return False
        if datetime.fromtimestamp(aside.stat().st_mtime, UTC) >= unless_newer_than:
            os.replace(aside, path)
            return False
        aside.unlink()
        return True
