"""Render one shard: recipes, files and an atomically written shard manifest.

A shard is done only when its manifest exists. Its files are written first; a shard interrupted
before its manifest lands is rendered again from the start, overwriting what it had written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synth.engine.generator import Generator, make_generator
from synth.engine.plan import INTERNAL_DIR, BuildPlan, Shard
from synth.engine.stats import Stats
from synth.hashing import canonical_json, sha256_bytes
from synth.rng import sample_rng

ProgressFn = Callable[[int], None]

_PROGRESS_EVERY = 25  # samples between progress callbacks


@dataclass(frozen=True)
class ShardResult:
    shard: int
    samples: int
    rendered: bool  # False when the shard was already done (a resumed build)


def manifest_in(folder: Path, number: int) -> Path:
    """The manifest of shard ``number`` in dataset folder ``folder``."""
    return Path(folder) / INTERNAL_DIR / "shards" / f"{number:05d}.jsonl"


def stats_in(folder: Path, number: int) -> Path:
    return Path(folder) / INTERNAL_DIR / "shards" / f"{number:05d}.stats.json"


def shard_manifest_path(plan: BuildPlan, shard: Shard) -> Path:
    return manifest_in(plan.out_dir, shard.number)


def shard_stats_path(plan: BuildPlan, shard: Shard) -> Path:
    return stats_in(plan.out_dir, shard.number)


_GENERATORS: dict[tuple[str, str], Generator] = {}
_GENERATOR_CACHE_SIZE = 4


def _remember(key: tuple[str, str], gen: Generator) -> Generator:
    _GENERATORS.pop(key, None)
    _GENERATORS[key] = gen
    while len(_GENERATORS) > _GENERATOR_CACHE_SIZE:
        del _GENERATORS[next(iter(_GENERATORS))]  # the least recently used
    return gen


def generator_for(plan: BuildPlan) -> Generator:
    """The generator of ``plan``'s kind and spec: one per process and spec, so assets are
    decoded once and kept across shards."""
    key = (plan.kind, canonical_json(plan.spec))
    gen = _GENERATORS.get(key)
    if gen is None:
        gen = make_generator(plan.kind, json.loads(key[1]))
    return _remember(key, gen)


def adopt_generator(plan: BuildPlan, gen: Generator) -> None:
    """Let shards rendered in this process use ``gen`` (made by ``prepare`` for the same
    plan) instead of making their own, which would load every input a second time."""
    _remember((plan.kind, canonical_json(plan.spec)), gen)


def forget_generators() -> None:
    """Drop the generators kept in this process (and so their decoded inputs)."""
    _GENERATORS.clear()


def _write_file(path: str | Path, data: bytes) -> None:
    """Create or truncate ``path`` and write ``data``: plain system calls, a third of the CPU
    time of ``open()``'s buffered file object for one write of a whole file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def build_shard(plan: BuildPlan, shard: Shard, progress: ProgressFn | None = None) -> ShardResult:
    """Render every sample of ``shard`` into the dataset folder unless the shard is done."""
    manifest = shard_manifest_path(plan, shard)
    if manifest.exists():
        return ShardResult(shard.number, len(shard), rendered=False)
    gen = generator_for(plan)
    out_dir = plan.out_dir
    manifest.parent.mkdir(parents=True, exist_ok=True)
    (out_dir / shard.name).mkdir(parents=True, exist_ok=True)
    # Paths as strings in the loop: pathlib's joins cost ~10 us a file, more than the mkdir check.
    root = os.fspath(out_dir)
    made_dirs: set[str] = {os.path.join(root, shard.name)}
    stats = Stats()
    # Temporary files of an earlier attempt at this shard (a process killed mid-shard) go.
    for stale in manifest.parent.glob(f".{shard.number:05d}.*.tmp-*"):
        stale.unlink(missing_ok=True)
    tmp = manifest.with_name(f".{manifest.name}.tmp-{os.getpid()}")
    pending = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for index in range(shard.start, shard.stop):
            stem = f"{shard.name}/{index:09d}"
            recipe = gen.sample(index, sample_rng(plan.seed, index))
            rendered = gen.render(recipe, stem)
            files = []
            for relpath, data in rendered.files.items():
                path = os.path.join(root, relpath)
                parent = os.path.dirname(path)
                if parent not in made_dirs:
                    os.makedirs(parent, exist_ok=True)
                    made_dirs.add(parent)
                _write_file(path, data)
                files.append([relpath, sha256_bytes(data), len(data)])
            described = gen.describe(recipe, rendered.outputs)
            stats.add(described, recipe.get("rejections"))
            record = {
                "index": index,
                "files": files,
                "row": rendered.row,
                "recipe": recipe,
                "outputs": rendered.outputs,
            }
            out.write(canonical_json(record) + "\n")
            pending += 1
            if progress is not None and pending >= _PROGRESS_EVERY:
                progress(pending)
                pending = 0
        out.flush()
        os.fsync(out.fileno())
    write_atomic(shard_stats_path(plan, shard), canonical_json(stats.to_json()).encode())
    os.replace(tmp, manifest)
    if progress is not None and pending:
        progress(pending)
    return ShardResult(shard.number, len(shard), rendered=True)
