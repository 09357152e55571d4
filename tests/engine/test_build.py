"""The engine end to end without Prefect: ids across worker counts, resume, loaders, verify."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import threading
import time
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.engine.assemble import IncompleteBuild, assemble
from synth.engine.build import build, ensure_writable, prepare, run_build
from synth.engine.shard import build_shard, shard_manifest_path
from synth.engine.verify import verify_files
from synth.errors import AssetError
from synth.hashing import canonical_json, sha256_file
from synth.ocr.spec import build_spec

SPEC = build_spec("default", {"shard_size": 40}).model_dump(mode="json")


def _build(home: Path, workers: int = 1, count: int = 100, seed: int = 5):
    plan, gen = prepare("ocr", SPEC, seed=seed, count=count, name="t", home=home)
    catalog = open_catalog(home)
    try:
        return build(plan, gen, catalog, workers=workers), plan
    finally:
        catalog.close()


def _file_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.glob("shard-*/*"))
    }


def test_same_id_and_bytes_for_one_and_two_workers(tmp_path):
    one, plan1 = _build(tmp_path / "a", workers=1)
    two, plan2 = _build(tmp_path / "b", workers=2)
    assert one.record.id == two.record.id
    assert one.record.fingerprint == two.record.fingerprint
    assert _file_hashes(plan1.out_dir) == _file_hashes(plan2.out_dir)
    assert (plan1.out_dir / "metadata.jsonl").read_bytes() == (
        plan2.out_dir / "metadata.jsonl"
    ).read_bytes()
    assert one.record.count == 100
    assert len(_file_hashes(plan1.out_dir)) == 100
    assert [s.name for s in plan1.shards()] == ["shard-00000", "shard-00001", "shard-00002"]


def test_a_different_seed_gives_a_different_dataset(tmp_path):
    a, _ = _build(tmp_path / "a", seed=1, count=20)
    b, _ = _build(tmp_path / "b", seed=2, count=20)
    assert a.record.id != b.record.id


def test_resume_renders_only_unfinished_shards_and_gives_the_same_id(tmp_path):
    full, _ = _build(tmp_path / "full")
    plan, gen = prepare("ocr", SPEC, seed=5, count=100, name="t", home=tmp_path / "part")
    ensure_writable(plan)
    first = plan.shards()[0]
    build_shard(plan, first)
    # a shard killed half way: files written, no manifest
    second = plan.shards()[1]
    (plan.out_dir / second.name).mkdir(parents=True)
    (plan.out_dir / second.name / f"{second.start:09d}.jpg").write_bytes(b"partial")
    with pytest.raises(IncompleteBuild, match="2 shard"):
        assemble(plan)
    before = shard_manifest_path(plan, first).stat().st_mtime_ns
    catalog = open_catalog(tmp_path / "part")
    resumed = build(plan, gen, catalog)
    catalog.close()
    assert resumed.rendered_shards == 2 and resumed.skipped_shards == 1
    assert shard_manifest_path(plan, first).stat().st_mtime_ns == before
    assert resumed.record.id == full.record.id


def test_registering_the_same_build_twice_adds_nothing(tmp_path):
    first, _ = _build(tmp_path, count=30)
    second, _ = _build(tmp_path, count=30)
    assert first.created and not second.created
    assert second.rendered_shards == 0
    catalog = open_catalog(tmp_path)
    assert [r.id for r in catalog.list()] == [first.record.id]
    catalog.close()


def test_folder_loads_with_hugging_face_imagefolder(tmp_path):
    datasets = pytest.importorskip("datasets")
    _result, plan = _build(tmp_path, count=30)
    ds = datasets.load_dataset("imagefolder", data_dir=str(plan.out_dir), split="train")
    assert ds.num_rows == 30
    rows = [json.loads(line) for line in (plan.out_dir / "metadata.jsonl").open()]
    assert ds["text"] == [r["text"] for r in rows]
    assert ds[0]["image"].size == (rows[0]["width"], rows[0]["height"])
    assert set(ds.column_names) >= {"image", "text", "font", "background"}


def test_dataset_json_holds_the_lineage(tmp_path):
    result, plan = _build(tmp_path, count=60)
    info = json.loads((plan.out_dir / "dataset.json").read_text())
    assert info["id"] == result.record.id
    assert info["seed"] == 5 and info["count"] == 60 and info["kind"] == "ocr"
    assert info["spec"] == SPEC
    fonts_used = set(info["statistics"]["counts"]["font"])
    input_fonts = {i["name"] for i in info["inputs"] if i["role"] == "font"}
    assert fonts_used == input_fonts
    for item in info["inputs"]:
        assert item["licence"] and item["licence"] != "unknown"
        if item["role"] in ("font", "background"):
            assert len(item["sha256"]) == 64 and item["uri"].startswith("asset:")
    assert sum(info["statistics"]["counts"]["font"].values()) == 60
    card = (plan.out_dir / "README.md").read_text()
    assert result.record.id in card and "Licences" in card
    assert "Images: one text line each, JPEG; `text` is exactly what is drawn" in card
    assert (plan.out_dir / "__synth__" / "preview.jpg").stat().st_size > 1000
    recipes = [json.loads(line) for line in (plan.out_dir / "recipes.jsonl").open()]
    assert [r["index"] for r in recipes] == list(range(60))
    assert all("char_boxes" in r["outputs"] for r in recipes)


def test_verify_names_changed_and_missing_files(tmp_path):
    result, plan = _build(tmp_path, count=30)
    ok = verify_files(plan.out_dir, result.record.id)
    assert ok.ok and ok.checked_files == 30
    files = sorted(plan.out_dir.glob("shard-*/*.jpg"))
    files[0].unlink()
    data = bytearray(files[1].read_bytes())
    data[-10] ^= 0xFF
    files[1].write_bytes(bytes(data))
    bad = verify_files(plan.out_dir, result.record.id)
    assert not bad.ok
    rel = lambda p: p.relative_to(plan.out_dir).as_posix()
    assert bad.missing == [rel(files[0])]
    assert bad.changed == [rel(files[1])]


def test_verify_names_files_no_manifest_lists(tmp_path):
    """A stray file where the samples are (or beside the labels) is named: load_dataset would
    read it as a sample, or fail on it. Hidden files and the internal folder are not."""
    result, plan = _build(tmp_path, count=12)
    root = plan.out_dir
    first = sorted(root.glob("shard-*/*.jpg"))[0]
    (root / ".DS_Store").write_bytes(b"x")  # hidden: loaders skip it, so does verify
    (first.parent / ".thumb.jpg").write_bytes(first.read_bytes())
    (root / "__synth__" / "notes.txt").write_text("internal")
    assert verify_files(root, result.record.id).ok
    (first.parent / "copy.jpg").write_bytes(first.read_bytes())
    (first.parent / "sub").mkdir()
    (first.parent / "sub" / "deep.jpg").write_bytes(b"x")
    (root / "stray.png").write_bytes(b"x")
    report = verify_files(root, result.record.id)
    assert not report.ok and report.missing == [] and report.changed == []
    shard = first.parent.name
    assert report.extra == [f"{shard}/copy.jpg", f"{shard}/sub/deep.jpg", "stray.png"]
    assert report.actual_id == result.record.id  # the listed content itself is intact
    first.unlink()  # a missing file and an extra one at once: counts alone would cancel out
    both = verify_files(root, result.record.id)
    assert both.missing == [first.relative_to(root).as_posix()]
    assert both.extra == report.extra


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda info: info.update(licences=["CC0-1.0"]), "licences"),
        (lambda info: info.update(seed=info["seed"] + 1), "seed"),
        (lambda info: info["spec"].update(max_retries=3), "spec"),
        (lambda info: info["inputs"][0].update(sha256="0" * 64), "inputs"),
        (lambda info: info.update(parent={"id": "f" * 64}), "parent"),
    ],
)
def test_verify_names_a_lineage_field_edited_in_dataset_json(tmp_path, edit, named):
    from synth.engine.verify import verify_dataset

    result, plan = _build(tmp_path, count=8)
    record = result.record.to_json()
    assert verify_dataset(plan.out_dir, record["id"], samples=2, record=record).ok
    path = plan.out_dir / "dataset.json"
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info, indent=2))
    report = verify_dataset(plan.out_dir, record["id"], samples=2, record=record)
    assert not report.ok
    assert f"dataset.json: {named} differ from the catalog's record (edited since the build?)" in (
        report.problems
    )
    assert report.missing == []  # the samples themselves are intact; the file is named
    assert report.changed == ["dataset.json (edited since the build)"]


def test_verify_catches_an_edited_label(tmp_path):
    result, plan = _build(tmp_path, count=10)
    meta = plan.out_dir / "metadata.jsonl"
    meta.write_text(meta.read_text().replace('"text": "', '"text": "X', 1))
    report = verify_files(plan.out_dir, result.record.id)
    assert not report.ok
    assert report.changed == ["metadata.jsonl (labels differ from the shard manifests)"]


def test_assembled_lines_spliced_from_manifests_equal_the_encoded_ones(tmp_path):
    """Assembly splices the labels and recipe lines out of each manifest line's text; they must
    be the very strings that parsing and encoding again give, for real records and for a line
    of another shape (which takes the encoding path)."""
    from synth.engine.assemble import _label_and_recipe, split_record

    _, plan = _build(tmp_path, count=30)
    lines = []
    for shard in plan.shards():
        lines += shard_manifest_path(plan, shard).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30
    odd = json.loads(lines[0])
    odd["extra"] = {"é": [1.5, None]}  # an unknown key: not the spliceable shape
    lines.append(json.dumps(odd, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    lines.append(json.dumps(odd, indent=1))
    # Look-alikes of the top-level row key: in a string, nested in the recipe, nested in the row.
    tricky = json.loads(lines[1])
    tricky["recipe"]["note"] = ',"row":{"file_name":"x"}}'
    tricky["recipe"]["nested"] = {"a": 0, "row": {"b": [1, ',"row":']}}
    lines.append(canonical_json(tricky))
    tricky["row"]["row"] = 5
    lines.append(canonical_json(tricky))
    for line in lines:
        rec, label, recipe = split_record(line)
        full = json.loads(line)
        assert (rec["files"], rec["row"]) == (full["files"], full["row"])
        assert (label, recipe) == _label_and_recipe(full)
        assert json.loads(recipe)["file_name"] == rec["row"]["file_name"]
        assert json.loads(recipe)["recipe"] == full["recipe"]


class _ThreadRunner:
    """A shard runner of threads: renders shards with the real ``build_shard``, except those in
    ``bad``, which raise the input error they name once ``release`` is set. Records the order in
    which the core submitted shards."""

    def __init__(self, limit: int, bad: dict[int, str], release: threading.Event) -> None:
        self.limit, self.bad, self.release = limit, bad, release
        self.submitted: list[int] = []
        self.finished: list[int] = []

    @contextlib.contextmanager
    def open(self, plan):
        runner = self

        def render(shard):
            if shard.number in runner.bad:
                if shard.number != min(runner.bad):
                    # the highest failing shard fails first, at once
                    runner.release.set()
                else:
                    assert runner.release.wait(30)
                    time.sleep(0.2)
                raise AssetError(Path(f"input-{shard.number}"), runner.bad[shard.number])
            assert runner.release.wait(30)  # in flight while the others fail
            return build_shard(plan, shard)

        class Dispatch:
            limit = runner.limit

            def submit(self, shard):
                runner.submitted.append(shard.number)
                return pool.submit(render, shard)

            def wait(self, handles, block):
                done, _ = concurrent.futures.wait(
                    handles,
                    timeout=None if block else 0,
                    return_when=concurrent.futures.FIRST_COMPLETED,
                )
                return list(done)

            def result(self, handle):
                return handle.result()

            def skipped(self, samples):
                pass

            def finished(self, result):
                runner.finished.append(result.shard)

        with concurrent.futures.ThreadPoolExecutor(runner.limit) as pool:
            yield Dispatch()


def test_after_a_bad_input_no_shard_starts_the_ones_in_flight_finish_and_the_first_is_named(
    tmp_path,
):
    """The core's sequence, whoever renders: shard 2 fails first, shard 1 later; shard 0, in
    flight meanwhile, finishes; no shard after them starts; shard 1's error is the one raised
    (the first in sample order); the build is recorded as failed, a FAIL event sent and the
    unfinished folder removed (an input stopped it: resuming would stop there again)."""
    home = tmp_path / "home"
    spec = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
    plan, gen = prepare("ocr", spec, seed=3, count=60, name="t", home=home)
    runner = _ThreadRunner(
        3, {1: "unreadable (first)", 2: "unreadable (second)"}, threading.Event()
    )
    catalog = open_catalog(home)
    try:
        with pytest.raises(AssetError, match=r"input-1: unreadable \(first\)"):
            run_build(plan, gen, catalog, runner, {"orchestrator": "test"})
        assert runner.submitted == [0, 1, 2] and runner.finished == [0]
        assert catalog.list() == [] and catalog.builds()[0]["status"] == "failed"
        assert "input-1" in catalog.builds()[0]["error"]
    finally:
        catalog.close()
    assert not plan.out_dir.exists()
    events = (home / "lineage" / "openlineage.jsonl").read_text().splitlines()
    fail = json.loads(events[-1])
    assert fail["eventType"] == "FAIL"
    assert "input-1" in fail["run"]["facets"]["errorMessage"]["message"]


def test_the_local_build_records_how_it_ran(tmp_path):
    result, plan = _build(tmp_path, workers=2, count=20)
    info = json.loads((plan.out_dir / "dataset.json").read_text())
    assert {k: info["run"][k] for k in ("orchestrator", "flow_run_id", "runner", "workers")} == {
        "orchestrator": "local",
        "flow_run_id": None,
        "runner": "process",
        "workers": 2,
    }
    assert result.record.flow_run_id is None


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_no_import_cycle_between_build_expand_plan_and_lineage():
    root = Path(__file__).resolve().parents[2] / "synth"
    expand, plan = _imports(root / "engine/expand.py"), _imports(root / "engine/plan.py")
    assert not {m for m in expand | plan if m.startswith("synth.engine.build")}
    assert "synth.engine.plan.prepare" in expand  # the plan is made where plans are made
    lineage = set().union(*(_imports(p) for p in (root / "lineage").glob("*.py")))
    assert not {m for m in lineage if m.startswith("synth.engine")}
