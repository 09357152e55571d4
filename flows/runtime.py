"""Process-wide state of the running build that a progress bar may read."""

from __future__ import annotations

from synth.engine.pool import ShardPool

_active: ShardPool | None = None


def set_active_pool(pool: ShardPool | None) -> None:
    global _active
    _active = pool


def active_pool() -> ShardPool | None:
    return _active
