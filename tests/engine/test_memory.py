"""Bounded memory: assembly and verify stream the manifests; the content id is unchanged by it.

Big builds are a benchmark (bench/bench_memory.py); here the shard manifests of 2,000 and 16,000
samples are written directly (no rendering) and assembly's traced peak must not grow with N.
"""

from __future__ import annotations

import hashlib
import json
import random
import tracemalloc
from pathlib import Path

from synth.engine.assemble import (
    FILES_INDEX,
    INDEX_JSON,
    SortedFiles,
    assemble,
    content_id_sorted,
)
from synth.engine.generator import Rendered, register_kind
from synth.engine.plan import BuildPlan
from synth.engine.shard import shard_manifest_path, shard_stats_path
from synth.engine.stats import Stats
from synth.engine.verify import verify_dataset, verify_files, verify_quick
from synth.hashing import canonical_json, content_id


class _FakeGenerator:
    """Renders the fake samples below again, so that verify can re-render them."""

    kind = "memtest"

    def render(self, recipe, stem):
        files = {f"{stem}.wav": f"{stem}.wav-bytes".encode()}
        files[f"__target__/{stem}.wav"] = f"__target__/{stem}.wav-bytes".encode()
        return Rendered(files=files, row={})


register_kind("memtest", lambda spec: _FakeGenerator())


def _fake_dataset(home: Path, count: int, with_files: bool = False) -> tuple[BuildPlan, str]:
    """Shard manifests of ``count`` speech-like samples (a mix and a ``__target__`` file each, so
    per-shard runs interleave in the merge); returns the plan and the expected content id."""
    plan = BuildPlan(
        kind="memtest",
        name="mem",
        spec={},
        seed=0,
        count=count,
        shard_size=500,
        home=str(home),
        inputs=[],
        code_version="test",
        libraries={},
    )
    all_files = []
    labels = hashlib.sha256()
    for shard in plan.shards():
        path = shard_manifest_path(plan, shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        stats = Stats()
        with open(path, "w", encoding="utf-8") as f:
            for i in range(shard.start, shard.stop):
                files = []
                for rel in (f"{shard.name}/{i:09d}.wav", f"__target__/{shard.name}/{i:09d}.wav"):
                    data = f"{rel}-bytes".encode()
                    if with_files:
                        (plan.out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                        (plan.out_dir / rel).write_bytes(data)
                    files.append([rel, hashlib.sha256(data).hexdigest(), len(data)])
                row = {"file_name": files[0][0], "text": f"utterance {i}"}
                outputs = {"snr_db": i % 20}
                rec = {"index": i, "files": files, "row": row, "recipe": {"i": i}, "outputs": {}}
                rec["outputs"] = outputs
                f.write(canonical_json(rec) + "\n")
                labels.update(canonical_json([row, outputs]).encode() + b"\n")
                all_files.extend(tuple(x) for x in files)
                stats.add({"snr_db": i % 20})
        shard_stats_path(plan, shard).write_text(json.dumps(stats.to_json()))
    return plan, content_id(all_files, labels.hexdigest())


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sorted_files_merges_runs_in_the_order_content_id_sorts_them(tmp_path):
    rng = random.Random(3)
    entries = [
        (f"{rng.choice(['a', 'b', '__t__/a', 'a/b'])}/{rng.randrange(10**6):07d}.x", f"{k:064x}", k)
        for k in range(3000)
    ]
    runs = SortedFiles(tmp_path, fan_in=3)  # forces merges of merges
    for k in range(0, len(entries), 97):
        runs.add(entries[k : k + 97])
    merged = list(runs.merged())
    assert merged == sorted(entries)
    assert content_id_sorted(iter(merged), "L") == content_id(entries, "L")


def test_assembly_memory_does_not_grow_with_the_sample_count(tmp_path):
    small, small_id = _fake_dataset(tmp_path / "small", 2_000)
    large, large_id = _fake_dataset(tmp_path / "large", 16_000)
    assemble(small)  # warm up imports and caches
    peaks = {}
    for name, plan in (("small", small), ("large", large)):
        peaks[name] = _traced_peak(lambda plan=plan: assemble(plan))
    # 8x the samples; a list of the manifest alone would add ~5 MB at 16,000 samples
    assert peaks["large"] < peaks["small"] * 1.5 + 512 * 1024, peaks
    info = json.loads((large.out_dir / "dataset.json").read_text())
    assert info["id"] == large_id and info["files"]["count"] == 32_000
    assert json.loads((small.out_dir / "dataset.json").read_text())["id"] == small_id


def test_assembly_writes_the_file_index_that_gives_the_content_id(tmp_path):
    plan, expected = _fake_dataset(tmp_path, 1_200)
    assembled = assemble(plan)
    assert assembled.id == expected
    lines = (plan.internal_dir / FILES_INDEX).read_text().splitlines()
    assert len(lines) == 2_400 and lines == sorted(lines)
    index = json.loads((plan.internal_dir / INDEX_JSON).read_text())
    assert index["id"] == expected and index["files"] == 2_400
    meta = (plan.out_dir / "metadata.jsonl").read_bytes()
    assert index["metadata_sha256"] == hashlib.sha256(meta).hexdigest()
    recipes = (plan.out_dir / "recipes.jsonl").read_bytes()
    for shard in index["shards"]:
        at = shard["recipes_offset"]
        first = json.loads(recipes[at : recipes.index(b"\n", at)])
        assert first["index"] == shard["start"]
    # no scratch files left behind
    assert not list(plan.internal_dir.glob(".assemble-*"))
    assert not list(plan.out_dir.glob(".*.tmp-*"))


def test_full_verify_memory_does_not_grow_with_the_sample_count(tmp_path):
    small, small_id = _fake_dataset(tmp_path / "small", 1_000, with_files=True)
    large, large_id = _fake_dataset(tmp_path / "large", 8_000, with_files=True)
    assemble(small)
    assemble(large)
    assert verify_files(small.out_dir, small_id).ok
    peak_small = _traced_peak(lambda: verify_files(small.out_dir, small_id))
    peak_large = _traced_peak(lambda: verify_files(large.out_dir, large_id))
    assert peak_large < peak_small * 1.5 + 512 * 1024, (peak_small, peak_large)


def test_quick_verify_checks_sizes_and_the_index_and_hashes_only_sampled_files(tmp_path):
    plan, expected = _fake_dataset(tmp_path, 1_500, with_files=True)
    assemble(plan)
    ok = verify_quick(plan.out_dir, expected, samples=0)
    assert ok.ok and ok.mode == "quick", ok.to_json()
    assert (ok.checked_files, ok.hashed_files) == (3_000, 0)

    # a truncated file is found by its size, without hashing it
    victim = plan.out_dir / "shard-00002" / "000001100.wav"
    victim.write_bytes(victim.read_bytes()[:-1])
    bad = verify_quick(plan.out_dir, expected, samples=0)
    assert bad.changed == ["shard-00002/000001100.wav"] and not bad.ok
    victim.write_bytes(b"shard-00002/000001100.wav-bytes")

    # the same size but other bytes: found when the sample is drawn (here: every sample)
    victim.write_bytes(b"shard-00002/000001100.wav-BYTES")
    assert verify_quick(plan.out_dir, expected, samples=0).ok  # sizes alone cannot see it
    drawn = verify_quick(plan.out_dir, expected, samples=1_500)
    assert drawn.hashed_files == 3_000 and len(drawn.rerendered) == 1_500
    assert drawn.changed == [
        "shard-00002/000001100.wav",
        "shard-00002/000001100.wav (re-rendered from its recipe: differs)",
    ]
    victim.write_bytes(b"shard-00002/000001100.wav-bytes")

    # an edited label in metadata.jsonl
    meta = plan.out_dir / "metadata.jsonl"
    saved = meta.read_bytes()
    meta.write_bytes(saved.replace(b"utterance 7", b"utterance 8", 1))
    assert verify_quick(plan.out_dir, expected, samples=0).changed == [
        "metadata.jsonl (labels differ from the shard manifests)"
    ]
    meta.write_bytes(saved)

    # an index that no longer gives the catalog's id
    index = plan.internal_dir / FILES_INDEX
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[:-1]) + "\n")
    broken = verify_quick(plan.out_dir, expected, samples=0)
    assert not broken.ok and "differs from the catalog's" in broken.problems[0]


def test_quick_verify_falls_back_to_the_full_check_without_an_index(tmp_path):
    plan, expected = _fake_dataset(tmp_path, 600, with_files=True)
    assemble(plan)
    (plan.internal_dir / INDEX_JSON).unlink()
    report = verify_dataset(plan.out_dir, expected, samples=0, quick=True)
    assert report.ok and report.mode == "full" and report.hashed_files == 1_200
