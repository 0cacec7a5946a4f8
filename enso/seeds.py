"""Seeds derived from what a thing is, never from the order work happens in."""

from __future__ import annotations

import hashlib

from enso.hashing import canonical_json


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from the identity of a cell: ``derive_seed(seed, dataset, size, resample)``."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little")
