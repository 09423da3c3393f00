"""SHA3-224 fingerprints of jobs, orchestrations and files (upstream-compatible)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

FILE_CHUNK = 10240


def object_sha3_224(obj: Any) -> str:
    """Digest of ``json.dumps(obj)`` with default separators and key order kept."""
    return hashlib.sha3_224(json.dumps(obj).encode()).hexdigest()


def file_sha3_224(path: str, chunk_size: int = FILE_CHUNK) -> str:
    """Digest of a file's content, read in chunks."""
    digest = hashlib.sha3_224()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


_STAMPED: dict[str, tuple[int, int, str]] = {}


def stamped_file_sha3_224(path: str) -> str:
    """``file_sha3_224(path)``, remembered until the file's size or mtime changes (for files,
    such as component files, that are hashed again and again)."""
    stat = os.stat(path)
    known = _STAMPED.get(path)
    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
        return known[2]
    digest = file_sha3_224(path)
    _STAMPED[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest
