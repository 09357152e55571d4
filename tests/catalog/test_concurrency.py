"""Builds that open the catalog and register at the same moment, in separate processes, lose
nothing and duplicate nothing: the same for the SQLite file under a data root and the PostgreSQL
server."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from synth.catalog import open_catalog
from tests.catalog.helpers import hex_id, info


def _open(backend: str, target: str) -> Any:
    """The catalog as a build opens it: under a data root, or at a URL."""
    if backend == "sqlite":
        return open_catalog(target)
    return open_catalog(url=target)


def _build_in_process(backend: str, target: str, dataset_id: str, barrier: Any, out: Any) -> None:
    """One build: open the catalog, track the build, register its dataset, complete the build.
    The barrier lines the processes up twice: to open (and maybe migrate) at once, and to
    register at once."""
    try:
        barrier.wait(timeout=60)
        catalog = _open(backend, target)
        try:
            fingerprint = "f" + dataset_id[1:]  # one build per content id
            catalog.start_build(fingerprint, dataset_id[:4], "ocr", f"/data/{dataset_id}")
            barrier.wait(timeout=60)
            record, created = catalog.register(
                info(dataset_id, name=dataset_id[:4], fingerprint=fingerprint),
                f"/data/{dataset_id}",
            )
            catalog.end_build(fingerprint, "complete", record.id)
        finally:
            catalog.close()
        out.put((dataset_id, created))
    except BaseException as err:  # reported to the test rather than lost in the child
        barrier.abort()  # the others stop waiting for this one
        out.put((dataset_id, f"{type(err).__name__}: {err}"))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend, what to open): a fresh data root, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "home")
    return "postgres", request.getfixturevalue("pg_url")


def test_processes_registering_at_once_lose_nothing_and_duplicate_nothing(backend):
    kind, target = backend
    ctx = mp.get_context("spawn")
    shared = hex_id("5a5a")
    ids = [shared] * 4 + [hex_id(f"{n:04x}") for n in range(1, 5)]
    barrier = ctx.Barrier(len(ids))
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_build_in_process, args=(kind, target, i, barrier, out)) for i in ids
    ]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    errors = [r for r in results if not isinstance(r[1], bool)]
    # the first failure breaks the barrier for the others: show the cause, not the echoes
    assert [e for e in errors if not e[1].startswith("BrokenBarrierError")] == []
    assert errors == []
    assert sorted(created for i, created in results if i == shared) == [False, False, False, True]
    assert all(created for i, created in results if i != shared)

    catalog = _open(kind, target)
    try:
        records = catalog.list()
        assert sorted(r.id for r in records) == sorted(set(ids))
        assert all(len(r.inputs) == 2 for r in records)
        count = catalog.db.execute("SELECT COUNT(*) AS n FROM dataset_inputs").fetchone()["n"]
        assert count == 2 * len(set(ids))
        builds = catalog.builds()
        assert sorted((b["fingerprint"], b["status"], b["dataset_id"]) for b in builds) == sorted(
            ("f" + i[1:], "complete", i) for i in set(ids)
        )
    finally:
        catalog.close()
