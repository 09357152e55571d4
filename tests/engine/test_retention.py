"""Deleting versions on a real SQLite catalog and data root: the folder outside the data root,
the folder already gone, an expansion whose parent went while it was built, and the sweep of
what an interrupted delete left in ``.trash``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.retention import MOVED_JSON, TRASH_DIR, delete_dataset, sweep_trash
from synth.errors import Deleted, NotFound, SynthError
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 4}).model_dump(mode="json")


@pytest.fixture
def built(tmp_path):
    home = tmp_path / "home"
    catalog = open_catalog(home)
    record = build(*prepare("ocr", SPEC, seed=3, count=4, name="a", home=home), catalog).record
    yield catalog, home, record
    catalog.close()


def test_a_folder_outside_the_data_root_is_refused_and_nothing_changes(built, tmp_path):
    catalog, _, record = built
    other = tmp_path / "other-root"
    with pytest.raises(SynthError) as err:
        delete_dataset(catalog, record.id, other)
    assert str(err.value) == (
        f"{record.path}: dataset {record.id[:12]}'s folder is not under this data root's "
        f"{other / 'datasets'}; give its data root with --home (nothing deleted)"
    )
    assert catalog.get(record.id) == record and Path(record.path).is_dir()
    assert catalog.tombstones() == {}


def test_a_folder_already_gone_is_said_so_in_the_tombstone(built):
    catalog, home, record = built
    import shutil

    shutil.rmtree(record.path)
    result = delete_dataset(catalog, record.id[:10], home, reason="disk cleaned by hand")
    [grave] = result.tombstones
    assert grave.files == f"{record.path} was already gone"
    assert catalog.tombstones()[record.id].reason == "disk cleaned by hand"
    with pytest.raises(Deleted, match=r"was deleted on .* by .*: disk cleaned by hand$"):
        catalog.get(record.id[:10])


def test_an_expansion_whose_parent_is_deleted_while_it_builds_is_a_one_line_error(built):
    catalog, home, record = built
    plan, gen = prepare_expansion(record, 3, home=home)

    def delete_parent(_pool) -> None:
        delete_dataset(catalog, record.id, home, reason="withdrawn")

    with pytest.raises(SynthError) as err:
        build(plan, gen, catalog, on_pool=delete_parent)
    assert str(err.value) == (
        f"{record.path}: the parent dataset's folder is gone; the expansion cannot be "
        f"assembled (`synth datasets show {record.id[:12]}` says whether it was deleted)"
    )
    assert [r.id for r in catalog.list()] == []
    with pytest.raises(Deleted, match=r": withdrawn$"):
        catalog.get(record.id)


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def _interrupted(home: Path, dataset_id: str, folder: Path) -> Path:
    """What a delete that stopped between moving the folder aside and its commit leaves."""
    trash = home / TRASH_DIR / f"{dataset_id}-{_dead_pid()}"
    trash.mkdir(parents=True)
    folder.rename(trash / "0")
    moved = {"id": dataset_id, "moved": [{"from": str(folder), "to": "0"}]}
    (trash / MOVED_JSON).write_text(json.dumps(moved))
    return trash


def test_the_sweep_moves_back_a_live_versions_files_and_removes_a_deleted_ones(built):
    catalog, home, record = built
    folder = Path(record.path)
    files = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    trash = _interrupted(home, record.id, folder)
    assert not folder.exists()
    sweep_trash(catalog, home)  # the commit never happened: the record is live
    assert not trash.exists()
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == files

    second = build(*prepare("ocr", SPEC, seed=4, count=4, name="b", home=home), catalog).record
    result = delete_dataset(catalog, second.id, home)
    assert not Path(second.path).exists() and result.problems == []
    # a leftover of a delete that did commit: its files go at the next delete
    leftover = home / TRASH_DIR / f"{second.id}-{_dead_pid()}"
    leftover.mkdir(parents=True)
    (leftover / "0").mkdir()
    (leftover / MOVED_JSON).write_text(json.dumps({"id": second.id, "moved": []}))
    with pytest.raises(NotFound):
        catalog.get(second.id)
    sweep_trash(catalog, home)
    assert not leftover.exists()
    assert folder.is_dir()


def test_a_version_built_again_after_its_delete_is_live_beside_its_tombstone(built):
    catalog, home, record = built
    delete_dataset(catalog, record.id, home, reason="first")
    again = build(*prepare("ocr", SPEC, seed=3, count=4, name="a", home=home), catalog)
    assert again.created and again.record.id == record.id
    assert catalog.get(record.id).path == record.path and Path(record.path).is_dir()
    assert catalog.tombstones()[record.id].reason == "first"
    result = delete_dataset(catalog, record.id, home, reason="second")
    assert result.tombstones[0].reason == "second"
    assert catalog.tombstones()[record.id].reason == "second"  # the newest one
    with pytest.raises(Deleted, match=r": second$"):
        catalog.get(record.id)
