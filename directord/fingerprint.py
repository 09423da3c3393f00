"""SHA3-224 fingerprints of jobs, orchestrations and files (upstream-compatible)."""

from __future__ import annotations

import hashlib
import json
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
