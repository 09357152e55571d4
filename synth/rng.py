"""Per-sample random generators.

The generator of sample ``i`` depends on (dataset seed, i) alone, never on global state,
iteration order, worker count or Python's salted ``hash()``.
"""

from __future__ import annotations

import numpy as np

# A fixed stream tag keeps per-sample streams apart from any other use of the same seed.
_SAMPLE_STREAM = 0x5EED


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws everything for sample ``index`` of a dataset built with ``seed``."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return np.random.default_rng([_SAMPLE_STREAM, seed, index])


def child_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit integer seed from ``rng`` for a library that wants a plain int (e.g. Faker)."""
    return int(rng.integers(0, 2**63 - 1))
