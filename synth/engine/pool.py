"""Run shards in worker processes, with per-worker sample counters for progress bars.

Each worker is its own single-process executor (a *slot*), started with ``spawn`` (a fork of a
process that runs threads, as a Prefect flow does, can deadlock). A worker keeps its generator,
and so its decoded assets, across shards.

A worker that dies mid-shard (killed, out of memory) breaks only its own slot: the slot is
replaced by a fresh process and only the shard that was in flight on it is rendered again, at
most ``max_retries`` times; shards on the other workers go on undisturbed. ``close(cancel=True)``
(Ctrl-C) terminates every worker at once: finished shards stay, unfinished ones have no manifest
and are rendered on the next run. A worker whose parent is killed outright (``kill -9``) exits by
itself within a quarter of a second.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from synth.engine.plan import BuildPlan, Shard
from synth.engine.shard import ShardResult, build_shard

log = logging.getLogger(__name__)

_counter: Any = None  # this worker's sample counter, set in each worker by the initializer

# One BLAS/OpenMP thread per worker: the pool is the parallelism, and a BLAS thread pool in each
# worker made large dot products 5-10x dearer in CPU time through contention.
ONE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

DEFAULT_MAX_RETRIES = 2  # renders of one shard after its worker died, before the build fails


class ShardCancelled(Exception):
    """The pool was closed (Ctrl-C, or another shard failed) while this shard was in flight."""


class WorkerDied(RuntimeError):
    """A shard's worker process died on every try."""


_PARENT_CHECK_S = 0.25  # how often a worker looks whether the process that started it lives


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent died (``kill -9``) stops within a quarter of a second instead of
    rendering on as an orphan beside the build that resumes it."""
    while True:
        time.sleep(_PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(counter: Any) -> None:
    global _counter
    _counter = counter
    # Ctrl-C in a terminal reaches the whole process group: the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-check", daemon=True
    ).start()


def single_threaded_blas() -> Any:
    """A context that holds BLAS to one thread in this process (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - it comes with scikit-learn, a librosa dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _count(n: int) -> None:
    _counter.value += n  # one writer per counter: this worker


def _run_shard(plan: BuildPlan, shard: Shard) -> ShardResult:
    return build_shard(plan, shard, progress=_count if _counter is not None else None)


def _in_process(plan: BuildPlan, shard: Shard, progress: Any) -> ShardResult:
    with single_threaded_blas():
        return build_shard(plan, shard, progress=progress)


class _Slot:
    """One worker process: a single-process executor and the sample counter it writes."""

    def __init__(self, ctx: Any) -> None:
        self.counter = ctx.RawValue("q", 0)
        self.executor = ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=_init_worker, initargs=(self.counter,)
        )
        self.shard: int | None = None  # the shard in flight

    def pids(self) -> list[int]:
        procs = getattr(self.executor, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.pid is not None]

    def terminate(self) -> None:
        """Stop the worker at once (it may be mid-shard) and release the executor."""
        procs = list((getattr(self.executor, "_processes", None) or {}).values())
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)


class ShardPool:
    """``workers`` processes (or the calling process when ``workers == 1``) that render shards.

    ``run`` renders one shard and waits (call it from as many threads as there are workers);
    ``submit`` queues a shard and returns a future. ``done_samples`` counts samples done so far:
    rendered by any worker (a retried shard's lost samples are taken back) plus ``add_done``.
    """

    def __init__(self, workers: int, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.workers = workers
        self.max_retries = max_retries
        self.retried: list[int] = []  # shard numbers rendered again after their worker died
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._here = threading.Lock()  # the shard rendering in this process (workers == 1)
        self._cancel = threading.Event()
        self._added = 0  # add_done: skipped shards, and samples rendered in this process
        self._rendered_here = 0
        self._retired = 0  # samples counted by slots that were replaced
        self._slots: list[_Slot] = []
        self._free: queue.Queue[_Slot] = queue.Queue()
        self._threads: ThreadPoolExecutor | None = None
        if workers > 1:
            # Read by each worker's BLAS when it loads; the parent's BLAS is already loaded.
            for key, value in ONE_THREAD_ENV.items():
                os.environ.setdefault(key, value)
            for _ in range(workers):
                slot = _Slot(self._ctx)
                self._slots.append(slot)
                self._free.put(slot)
            self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shard")

    # -- progress ---------------------------------------------------------------------------------
    @property
    def done_samples(self) -> int:
        with self._lock:
            return self._added + self._retired + sum(int(s.counter.value) for s in self._slots)

    @property
    def rendered_samples(self) -> int:
        """Samples rendered by this pool (not those of shards found done): the rate's basis."""
        with self._lock:
            return (
                self._rendered_here + self._retired + sum(int(s.counter.value) for s in self._slots)
            )

    def add_done(self, n: int) -> None:
        with self._lock:
            self._added += n

    def _progress_here(self, n: int) -> None:
        with self._lock:
            self._added += n
            self._rendered_here += n
        if self._cancel.is_set():  # checked every few samples: Ctrl-C stops the shard promptly
            raise ShardCancelled("the build was interrupted")

    # -- work -------------------------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (none when rendering in this process)."""
        with self._lock:
            return [pid for s in self._slots for pid in s.pids()]

    def busy(self) -> dict[int, int]:
        """``{pid: shard number}`` of the workers that are rendering a shard now."""
        with self._lock:
            return {pid: s.shard for s in self._slots if s.shard is not None for pid in s.pids()}

    def _take_slot(self) -> _Slot:
        while True:
            if self._cancel.is_set():
                raise ShardCancelled("the build was interrupted")
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue

    def _replace(self, slot: _Slot, started_at: int) -> bool:
        """Swap a broken slot's executor for a fresh one; False when the pool is closing."""
        with self._lock:
            if self._cancel.is_set():
                return False
            # Samples the dead worker counted for shards it had finished stay counted.
            self._retired += started_at
            old = slot.executor
            slot.counter = self._ctx.RawValue("q", 0)
            slot.executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._ctx,
                initializer=_init_worker,
                initargs=(slot.counter,),
            )
        old.shutdown(wait=False, cancel_futures=True)
        return True

    def run(self, plan: BuildPlan, shard: Shard) -> ShardResult:
        """Render one shard and wait for it; a worker that dies costs a retry of this shard."""
        if not self._slots:
            # One worker is this process: one shard at a time, like a worker process. The
            # caller may wait on more shards than that; they queue here, in submission order
            # as far as they arrive in it, and never share the generator between threads.
            with self._here:
                if self._cancel.is_set():
                    raise ShardCancelled("the build was interrupted")
                return _in_process(plan, shard, self._progress_here)
        for attempt in range(self.max_retries + 1):
            slot = self._take_slot()
            started_at = int(slot.counter.value)
            try:
                with self._lock:
                    slot.shard = shard.number
                    executor = slot.executor
                fut = executor.submit(_run_shard, plan, shard)
                result = fut.result()
            except BrokenProcessPool as err:
                with self._lock:
                    slot.shard = None
                if not self._replace(slot, started_at):
                    raise ShardCancelled("the build was interrupted") from None
                self._free.put(slot)
                if attempt == self.max_retries:
                    raise WorkerDied(
                        f"{shard.name}: its worker process died {attempt + 1} time(s) "
                        "(out of memory? killed?); run the same command again to resume"
                    ) from err
                with self._lock:
                    self.retried.append(shard.number)
                log.warning(
                    "%s: a worker process died (%s); rendering the shard again (retry %d of %d)",
                    shard.name,
                    err,
                    attempt + 1,
                    self.max_retries,
                )
                continue
            except BaseException as err:
                with self._lock:
                    slot.shard = None
                self._free.put(slot)
                if self._cancel.is_set() and isinstance(err, Exception):
                    # the executor was shut down or the future cancelled by close()
                    raise ShardCancelled("the build was interrupted") from err
                raise
            with self._lock:
                slot.shard = None
            self._free.put(slot)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def submit(self, plan: BuildPlan, shard: Shard) -> Future[ShardResult]:
        if self._threads is not None:
            return self._threads.submit(self.run, plan, shard)
        fut: Future[ShardResult] = Future()
        try:
            fut.set_result(self.run(plan, shard))
        except BaseException as err:  # surfaced through the future, as from a process
            fut.set_exception(err)
        return fut

    def close(self, cancel: bool = False) -> None:
        """Release the workers: after the work (``cancel=False``), or at once, stopping shards in
        flight (``cancel=True``: Ctrl-C or a failure)."""
        if cancel:
            with self._lock:
                self._cancel.set()
                slots = list(self._slots)
            for slot in slots:
                slot.terminate()
        else:
            for slot in self._slots:
                slot.executor.shutdown(wait=True)
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=cancel)
            self._threads = None

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(cancel=exc_type is not None)
