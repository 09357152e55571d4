"""Training runs in the catalog, the same on SQLite and PostgreSQL: written at start, rewritten
at the end, found by prefix, listed by dataset."""

from __future__ import annotations

import pytest

from synth.catalog.runs import RunRecord
from synth.errors import NotFound
from tests.catalog.helpers import hex_id, info


def _run(run_id: str, dataset: str, **changes) -> RunRecord:
    base = {
        "id": run_id,
        "model": "cnn",
        "command": ["python", "train.py", "{path}"],
        "status": "running",
        "started": "2026-12-04T10:00:00.000+00:00",
        "log_path": f"/runs/{run_id}/log.txt",
        "datasets": [
            {"dataset_id": dataset, "role": "train", "split": None},
            {"dataset_id": dataset, "role": "validation", "split": "validation"},
        ],
    }
    return RunRecord(**{**base, **changes})


def test_a_run_is_rewritten_at_its_end_and_listed_by_dataset(catalog):
    ds = hex_id("d5d5")
    catalog.register(info(ds), "/data/d5")
    run = _run("ab" * 16, ds)
    catalog.add_run(run)
    assert catalog.get_run("abab").status == "running"
    run.status, run.ended, run.exit_code = "succeeded", "2026-12-04T10:05:00.000+00:00", 0
    run.metrics = {"train_error": 1.25, "val_error": 4.5}
    run.steps = [{"name": "val_error", "step": s, "value": 9.0 - s} for s in range(3)]
    run.hp, run.unit, run.trigger = {"lr": "0.1"}, "percent", {"type": "tune", "job": "j"}
    catalog.add_run(run)
    stored = catalog.get_run("ababab")
    assert stored.to_json() == run.to_json()
    other = _run("cd" * 16, hex_id("e0e0"), started="2026-12-04T09:00:00.000+00:00")
    catalog.add_run(other)
    assert [r.id for r in catalog.list_runs()] == [other.id, run.id]  # by start time
    assert [r.id for r in catalog.list_runs(ds)] == [run.id]
    assert catalog.runs_for_dataset(hex_id("e0e0"))[0].datasets[0]["dataset_id"] == hex_id("e0e0")


def test_run_ids_are_looked_up_by_a_unique_prefix(catalog):
    catalog.add_run(_run("ab120" + "0" * 27, hex_id("d1d1")))
    catalog.add_run(_run("ab121" + "0" * 27, hex_id("d1d1")))
    with pytest.raises(NotFound, match="run id 'ab1': give at least 4 characters"):
        catalog.get_run("ab1")
    with pytest.raises(
        NotFound, match="run id 'ab12' is ambiguous: it matches ab1200000000, ab1210"
    ):
        catalog.get_run("ab12")
    assert catalog.get_run("AB121").id == "ab121" + "0" * 27
    with pytest.raises(NotFound, match="run id 'ffff': no such run in "):
        catalog.get_run("ffff")
