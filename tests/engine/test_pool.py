"""The shard pool: a worker killed mid-shard costs only that shard; Ctrl-C stops workers at once."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import CancelledError

from synth.catalog import open_catalog
from synth.engine.build import build, ensure_writable, prepare
from synth.engine.pool import ShardCancelled, ShardPool, WorkerDied
from synth.engine.shard import shard_manifest_path
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 150}).model_dump(mode="json")


def _plan(home, count=600, seed=11):
    return prepare("ocr", SPEC, seed=seed, count=count, name="pool", home=home)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class _Build(threading.Thread):
    """``synth.engine.build.build`` in a thread, with its pool exposed."""

    def __init__(self, home, workers=2, **pool_kw):
        super().__init__(daemon=True)
        self.plan, self.gen = _plan(home)
        self.home = home
        self.workers = workers
        self.pool: ShardPool | None = None
        self.ready = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self.pool_kw = pool_kw

    def _on_pool(self, pool):
        for key, value in self.pool_kw.items():
            setattr(pool, key, value)
        self.pool = pool
        self.ready.set()

    def run(self):
        catalog = open_catalog(self.home)
        try:
            self.result = build(
                self.plan, self.gen, catalog, workers=self.workers, on_pool=self._on_pool
            )
        except BaseException as err:
            self.error = err
        finally:
            catalog.close()


def _busy_mid_shard(pool: ShardPool, timeout: float = 60) -> tuple[int, int]:
    """A (pid, shard) of a worker that has rendered part of its shard."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = pool.busy()
        if busy and pool.done_samples >= 25:
            pid, shard = next(iter(busy.items()))
            return pid, shard
        time.sleep(0.005)
    raise AssertionError("no worker got going in time")


def test_a_worker_killed_mid_shard_costs_only_that_shard(tmp_path):
    job = _Build(tmp_path / "killed")
    job.start()
    assert job.ready.wait(60)
    pid, shard = _busy_mid_shard(job.pool)
    os.kill(pid, signal.SIGKILL)
    job.join(180)
    assert not job.is_alive()
    assert job.error is None, repr(job.error)
    assert job.pool.retried == [shard]  # the other worker's shard went on undisturbed
    assert job.result.rendered_shards == 4
    assert job.pool.done_samples == 600  # the lost samples were taken back, not counted twice
    assert not _alive(pid)
    # The killed worker's half-written shard manifest went when the shard was rendered again.
    assert list(job.plan.out_dir.glob("__synth__/shards/.*.tmp-*")) == []

    plan, gen = _plan(tmp_path / "ref")
    catalog = open_catalog(tmp_path / "ref")
    reference = build(plan, gen, catalog, workers=1)
    catalog.close()
    assert job.result.record.id == reference.record.id


def test_a_shard_whose_worker_keeps_dying_fails_the_build_after_bounded_retries(tmp_path):
    job = _Build(tmp_path, max_retries=1)
    job.start()
    assert job.ready.wait(60)
    killed = 0
    deadline = time.monotonic() + 120
    while job.is_alive() and time.monotonic() < deadline:
        for pid in job.pool.busy():
            os.kill(pid, signal.SIGKILL)
            killed += 1
        time.sleep(0.05)
    job.join(30)
    assert isinstance(job.error, WorkerDied), repr(job.error)
    assert "died 2 time(s)" in str(job.error) and "run the same command again" in str(job.error)
    assert killed >= 2
    catalog = open_catalog(tmp_path)
    assert catalog.list() == []
    assert catalog.builds()[0]["status"] == "failed"
    catalog.close()


def test_closing_with_cancel_terminates_workers_at_once_and_keeps_finished_shards(tmp_path):
    plan, _gen = _plan(tmp_path)
    ensure_writable(plan)
    shards = plan.shards()
    pool = ShardPool(2)
    futures = [pool.submit(plan, s) for s in shards]
    futures[0].result(timeout=120)  # one shard done
    pids = pool.worker_pids()
    assert len(pids) == 2
    pending = [f for f in futures if not f.done()]
    started = time.monotonic()
    pool.close(cancel=True)
    assert time.monotonic() - started < 10
    assert not any(_alive(pid) for pid in pids)
    assert pending
    cancelled = 0
    for fut in pending:
        try:
            result = fut.result(timeout=10)
        except (ShardCancelled, CancelledError):
            cancelled += 1
        else:  # finished between the look and the close: then it is whole
            assert shard_manifest_path(plan, shards[result.shard]).exists()
    assert cancelled >= len(pending) - 2  # at most the two shards running at the close
    assert shard_manifest_path(plan, shards[0]).exists()
    assert not shard_manifest_path(plan, shards[-1]).exists()


def test_cancel_stops_a_shard_rendered_in_this_process_within_a_few_samples(tmp_path):
    plan, _gen = _plan(tmp_path)
    ensure_writable(plan)
    shard = plan.shards()[0]
    pool = ShardPool(1)
    outcome: list[BaseException] = []

    def render():
        try:
            pool.run(plan, shard)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=render)
    thread.start()
    deadline = time.monotonic() + 60
    while pool.done_samples == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    pool.close(cancel=True)
    thread.join(10)
    assert not thread.is_alive()
    assert outcome and isinstance(outcome[0], ShardCancelled)
    assert pool.done_samples < len(shard)
    assert not shard_manifest_path(plan, shard).exists()


def test_one_worker_renders_one_shard_at_a_time_however_many_threads_wait(tmp_path, monkeypatch):
    """With workers=1 the shards render in this process; callers waiting on more shards than
    that (the flow keeps one extra in flight) queue instead of sharing the generator."""
    import synth.engine.pool as pool_module

    plan, _gen = _plan(tmp_path, count=600)
    inside, most = 0, 0
    guard = threading.Lock()
    real = pool_module.build_shard

    def counting_build_shard(*args, **kwargs):
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(pool_module, "build_shard", counting_build_shard)
    with ShardPool(1) as pool:
        threads = [threading.Thread(target=pool.run, args=(plan, s)) for s in plan.shards()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert most == 1
    assert all(shard_manifest_path(plan, s).exists() for s in plan.shards())
    assert pool.done_samples == 600
