"""Assemble a built dataset folder: metadata, recipes, statistics, content id, dataset.json, card.

Everything is streamed shard by shard; only the (relpath, sha256, size) list is held, to sort it
for the content id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.engine.plan import BuildPlan, Shard
from synth.engine.shard import shard_manifest_path, shard_stats_path
from synth.engine.stats import Stats
from synth.errors import SynthError
from synth.hashing import canonical_json, content_id

METADATA = "metadata.jsonl"
RECIPES = "recipes.jsonl"
DATASET_JSON = "dataset.json"


class IncompleteBuild(SynthError):
    """Some shards have no manifest: the build was interrupted; run it again to resume."""


@dataclass(frozen=True)
class Assembled:
    id: str
    path: Path
    count: int
    statistics: dict[str, Any]
    info: dict[str, Any]  # the content of dataset.json


def all_shards(plan: BuildPlan) -> list[Shard]:
    """Every shard of the dataset: the parent's (linked) and the new ones."""
    shards: list[Shard] = []
    if plan.parent:
        parent_info = json.loads((Path(plan.parent["path"]) / DATASET_JSON).read_text())
        shards = [Shard(s["number"], s["start"], s["stop"]) for s in parent_info["shards"]]
    return shards + plan.shards()


def missing_shards(plan: BuildPlan) -> list[Shard]:
    return [s for s in all_shards(plan) if not shard_manifest_path(plan, s).exists()]


def used_inputs(inputs: list[dict[str, Any]], stats: Stats) -> list[dict[str, Any]]:
    """Inputs the samples actually drew on: a role that ``describe`` counts keeps only the names
    that occur; roles it does not count (a text corpus, a parent) are kept whole."""
    out = []
    for item in inputs:
        counted = stats.counts.get(item["role"])
        if counted is None or item["name"] in counted:
            out.append(item)
    return out


def _write_lines_atomic(path: Path, lines: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
    os.replace(tmp, path)


def assemble(
    plan: BuildPlan, run: dict[str, Any] | None = None, extra: dict[str, Any] | None = None
) -> Assembled:
    """Write ``metadata.jsonl``, ``recipes.jsonl`` and ``dataset.json`` from the shard manifests.

    ``run`` holds facts about the run that made it (Prefect flow-run id, worker count); they go
    into ``dataset.json`` but not into the content id; so do ``extra`` entries (skipped inputs).
    """
    missing = missing_shards(plan)
    if missing:
        names = ", ".join(s.name for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise IncompleteBuild(
            f"{plan.out_dir}: {len(missing)} shard(s) not finished ({names}); run the build again"
        )
    shards = all_shards(plan)
    out = plan.out_dir
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    stats = Stats()
    count = 0

    def metadata_lines():
        nonlocal count
        recipes_tmp = out / f".{RECIPES}.tmp-{os.getpid()}"
        with open(recipes_tmp, "w", encoding="utf-8") as recipes:
            for shard in shards:
                with open(shard_manifest_path(plan, shard), encoding="utf-8") as f:
                    for line in f:
                        rec = json.loads(line)
                        files.extend((p, h, n) for p, h, n in rec["files"])
                        labels.update(canonical_json([rec["row"], rec["outputs"]]).encode())
                        labels.update(b"\n")
                        count += 1
                        recipes.write(
                            canonical_json(
                                {
                                    "index": rec["index"],
                                    "file_name": rec["row"]["file_name"],
                                    "recipe": rec["recipe"],
                                    "outputs": rec["outputs"],
                                }
                            )
                            + "\n"
                        )
                        yield json.dumps(rec["row"], ensure_ascii=False) + "\n"
                stats.merge(json.loads(shard_stats_path(plan, shard).read_text()))
        os.replace(recipes_tmp, out / RECIPES)

    _write_lines_atomic(out / METADATA, metadata_lines())
    if count != plan.count:
        raise IncompleteBuild(f"{out}: expected {plan.count} samples, found {count}")
    dataset_id = content_id(files, labels.hexdigest())
    statistics = stats.summary()
    info = {
        "id": dataset_id,
        "fingerprint": plan.fingerprint,
        "name": plan.name,
        "kind": plan.kind,
        "count": count,
        "seed": plan.seed,
        "shard_size": plan.shard_size,
        "spec": plan.spec,
        "code_version": plan.code_version,
        "libraries": plan.libraries,
        "inputs": used_inputs(plan.inputs, stats),
        "licences": sorted({i["licence"] for i in used_inputs(plan.inputs, stats)}),
        "parent": plan.parent,
        "trigger": plan.trigger,
        "run": run or {},
        "statistics": statistics,
        "files": {"metadata": METADATA, "recipes": RECIPES, "count": len(files)},
        "shards": [{"number": s.number, "start": s.start, "stop": s.stop} for s in shards],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    tmp = out / f".{DATASET_JSON}.tmp"
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / DATASET_JSON)
    return Assembled(dataset_id, out, count, statistics, info)


def iter_records(path: Path) -> Any:
    """Stream the full per-sample records (recipe and outputs) of a dataset folder."""
    with open(Path(path) / RECIPES, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)
