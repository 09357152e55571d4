"""Run shards in a pool of worker processes, with a shared sample counter for progress bars.

Workers are started with ``spawn`` (a fork of a process that runs threads, as a Prefect flow does,
can deadlock). Each worker keeps its generator, and so its decoded assets, across shards.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from synth.engine.plan import BuildPlan, Shard
from synth.engine.shard import ShardResult, build_shard

_counter: Any = None  # the shared progress counter, set in each worker by the initializer

# One BLAS/OpenMP thread per worker: the pool is the parallelism, and a BLAS thread pool in each
# worker made large dot products 5-10x dearer in CPU time through contention.
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _init_worker(counter: Any) -> None:
    global _counter
    _counter = counter


def single_threaded_blas() -> Any:
    """A context that holds BLAS to one thread in this process (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - it comes with scikit-learn, a librosa dependency
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _count(n: int) -> None:
    with _counter.get_lock():
        _counter.value += n


def _run_shard(plan: BuildPlan, shard: Shard) -> ShardResult:
    return build_shard(plan, shard, progress=_count if _counter is not None else None)


class ShardPool:
    """``workers`` processes (or the calling process when ``workers == 1``) that render shards.

    ``done_samples`` counts samples rendered so far, across all workers.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        ctx = mp.get_context("spawn")
        if workers > 1:
            # Read by each worker's BLAS when it loads; the parent's BLAS is already loaded.
            for key, value in _ONE_THREAD.items():
                os.environ.setdefault(key, value)
        self._counter = ctx.Value("q", 0)
        self._executor: ProcessPoolExecutor | None = None
        if workers > 1:
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self._counter,),
            )

    @property
    def done_samples(self) -> int:
        return int(self._counter.value)

    def add_done(self, n: int) -> None:
        with self._counter.get_lock():
            self._counter.value += n

    def submit(self, plan: BuildPlan, shard: Shard) -> Future[ShardResult]:
        if self._executor is not None:
            return self._executor.submit(_run_shard, plan, shard)
        fut: Future[ShardResult] = Future()
        try:
            with single_threaded_blas():
                fut.set_result(build_shard(plan, shard, progress=self.add_done))
        except BaseException as err:  # surfaced through the future, as from a process
            fut.set_exception(err)
        return fut

    def run(self, plan: BuildPlan, shard: Shard) -> ShardResult:
        """Render one shard and wait for it (called from a Prefect task thread)."""
        return self.submit(plan, shard).result()

    def close(self, cancel: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=not cancel, cancel_futures=cancel)
            self._executor = None

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(cancel=exc_type is not None)
