"""Expansion: a new version holding a parent's samples plus new ones.

Sample indices continue after the parent's, so new samples differ from the parent's and are as
deterministic as any other. The parent's files and shard manifests are hard-linked (copied where
links are impossible), so the new folder loads on its own and nothing is rendered twice.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from synth.catalog.base import DatasetRecord
from synth.engine.assemble import DATASET_JSON
from synth.engine.expand_config import check_relocated_inputs, expansion_spec, planned_inputs
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, prepare
from synth.engine.shard import manifest_in, stats_in
from synth.errors import AssetError, SynthError
from synth.hashing import sha256_file


def parent_ref(record: DatasetRecord) -> dict[str, Any]:
    """What an expansion records of its parent; ``next_shard`` follows the parent's last shard."""
    info = check_parent_folder(record)
    next_shard = max((s["number"] for s in info["shards"]), default=-1) + 1
    return {
        "id": record.id,
        "path": record.path,
        "count": record.count,
        "name": record.name,
        "next_shard": next_shard,
    }


def check_parent_folder(record: DatasetRecord) -> dict[str, Any]:
    """The parent's ``dataset.json``; errors name the folder when it is gone or incomplete, the
    file and key when a value has the wrong shape, and the dataset when it was imported (its
    samples were not rendered by synth: there is nothing to continue)."""
    if record.trigger.get("type") == "import" or record.code_version == "import":
        raise SynthError(
            f"{record.id[:12]}: imported datasets cannot be expanded (its samples were not made "
            f"by synth); draw from it instead, e.g. `synth speech --clean {record.id[:12]}` or "
            f"`synth ocr --texts-from {record.id[:12]}`"
        )
    if record.trigger.get("type") == "split":
        raise SynthError(
            f"{record.id[:12]}: a split version cannot be expanded (new samples of the groups in "
            f"validation and test would leak into train); expand its parent "
            f"{(record.parent_id or '')[:12]} and split the expansion"
        )
    path = Path(record.path) / DATASET_JSON
    if not path.is_file():
        raise SynthError(f"{record.path}: the parent dataset's folder is missing or incomplete")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise SynthError(f"{path}: cannot be read as JSON ({err})") from None
    from synth.engine.verify import info_shape_problems

    problems = info_shape_problems(info, path)
    if problems:
        raise SynthError(problems[0])
    if info.get("id") != record.id:
        raise SynthError(f"{record.path}: dataset.json does not belong to {record.id[:12]}")
    return info


def check_same_renderer(record: DatasetRecord, info: dict[str, Any], current: int | None) -> None:
    """An expansion renders its new samples with this code's renderer: one that renders
    differently from the parent's would put two renderings in one dataset. A parent recording
    no version (built before versions were recorded) counts as v0, known to equal none."""
    from synth.engine.verify import built_renderer_version

    if current is None:
        return
    built = built_renderer_version(info)
    recorded = record.statistics.get("renderer_version")
    if isinstance(recorded, int) and recorded != built:
        built = recorded  # the catalog's word over the folder's
    if built != current:
        raise SynthError(
            f"{record.id[:12]}: built by {record.kind} renderer v{built}, this code renders "
            f"v{current}; expanding would mix both renderings in one dataset: build a new "
            "dataset instead"
        )


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)


def _check_parent_file(path: Path, digest: str, size: int, parent_id: str) -> None:
    """A parent's sample file must still be the one its manifest names: an expansion that
    linked a changed file would register the recorded hash over other bytes."""
    fix = f"run `synth datasets verify {parent_id[:12]}`"
    if not path.is_file():
        raise AssetError(path, f"missing from the parent dataset {parent_id[:12]}; {fix}")
    if path.stat().st_size != size or sha256_file(path) != digest:
        raise AssetError(
            path, f"changed since the parent dataset {parent_id[:12]} was built; {fix}"
        )


def link_parent(plan: BuildPlan) -> int:
    """Link every file and shard manifest of the parent into the new folder, each sample file
    checked against the sha256 and size its manifest records (a changed or missing one stops
    the expansion, naming it); returns the number of sample files linked. Idempotent (a
    resumed expansion links and checks only what is missing)."""
    if not plan.parent:
        return 0
    src_root = Path(plan.parent["path"])
    info = json.loads((src_root / DATASET_JSON).read_text(encoding="utf-8"))
    linked = 0
    for s in info["shards"]:
        manifest = manifest_in(src_root, s["number"])
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                for rel, digest, size in json.loads(line)["files"]:
                    if not (plan.out_dir / rel).exists():  # linked (and checked) before
                        _check_parent_file(src_root / rel, digest, size, plan.parent["id"])
                        _link(src_root / rel, plan.out_dir / rel)
                    linked += 1
        _link(stats_in(src_root, s["number"]), stats_in(plan.out_dir, s["number"]))
        _link(manifest, manifest_in(plan.out_dir, s["number"]))
    return linked


def prepare_expansion(
    record: DatasetRecord,
    count: int,
    *,
    home: str | Path | None = None,
    trigger: dict[str, Any] | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    source: str = "config",
) -> tuple[BuildPlan, Generator]:
    """The plan of ``record`` expanded by ``count`` new samples, with the parent's spec, seed and
    kind; ``config`` (from file ``source``) may give its inputs' new locations only (see
    ``synth.engine.expand_config``)."""
    if count < 1:
        raise SynthError(f"count: must be >= 1, got {count}")
    parent = parent_ref(record)
    spec = record.spec
    if config:
        spec = expansion_spec(record.spec, record.kind, config, source, record.id)
    plan, gen = prepare(
        record.kind,
        spec,
        seed=record.seed,
        count=record.count + count,
        name=name or record.name,
        home=home,
        trigger=trigger,
        parent=parent,
    )
    info = check_parent_folder(record)
    check_same_renderer(record, info, plan.renderer_version)
    check_inputs_unchanged(info, plan.inputs)
    if config:
        check_relocated_inputs(info, plan.inputs, planned_inputs(record.path))
    return plan, gen


def check_inputs_unchanged(parent_info: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    """Every input the parent recorded must have the content it had then: new samples drawn from
    a changed input (an edited transcript, a replaced noise clip) would sit beside the parent's
    samples made from the old one, the same clip under two labels. The error names the input
    and what to run."""
    now = {i["uri"]: i["sha256"] for i in inputs}
    parent_id = str(parent_info.get("id", ""))[:12]
    for item in parent_info.get("inputs", []):
        uri, recorded = item.get("uri"), item.get("sha256")
        current = now.get(uri)
        if current is not None and recorded is not None and current != recorded:
            if not uri.startswith("file://"):  # made by the code (procedural noise, an asset)
                raise SynthError(
                    f"{uri}: this code version makes it differently from the one that built "
                    f"the parent dataset {parent_id} ({parent_info.get('code_version')}): "
                    f"sha256 {current[:12]}, recorded {recorded[:12]}; expanding would mix "
                    "samples from both: build a new dataset instead"
                )
            where = uri[len("file://") :]
            raise SynthError(
                f"{where}: changed since the parent dataset {parent_id} was built (sha256 "
                f"{current[:12]}, recorded {recorded[:12]}); expanding would label samples from "
                f"both versions: restore it, or build a new dataset (`synth datasets verify "
                f"{parent_id}` lists every change)"
            )
