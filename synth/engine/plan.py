"""A build plan: everything that fixes a dataset's bytes, cut into fixed-size shards.

Shard boundaries depend on ``shard_size`` only (never on the worker count), so sample paths and
the content id are the same however the shards are scheduled. ``prepare`` makes a plan and the
generator that checked its inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from synth.catalog.base import data_home
from synth.engine.generator import Generator, make_generator
from synth.errors import SynthError
from synth.hashing import canonical_json, sha256_json
from synth.version import code_version, library_versions

INTERNAL_DIR = "__synth__"  # Hugging Face loaders skip folders named with a double underscore


@dataclass(frozen=True)
class Shard:
    number: int
    start: int  # first sample index, inclusive
    stop: int  # last sample index, exclusive

    @property
    def name(self) -> str:
        return f"shard-{self.number:05d}"

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class BuildPlan:
    """A dataset version to build.

    ``spec`` is the validated spec as plain JSON; ``inputs`` are the lineage records of every input
    the generator may draw from. Samples ``[0, parent_count)`` come from ``parent`` (an expansion)
    and are linked, not re-rendered; samples ``[parent_count, count)`` are rendered.
    """

    kind: str
    name: str
    spec: dict[str, Any]
    seed: int
    count: int
    shard_size: int
    home: str
    inputs: list[dict[str, Any]]
    code_version: str = field(default_factory=code_version)
    libraries: dict[str, str] = field(default_factory=library_versions)
    parent: dict[str, Any] | None = None  # {"id", "path", "count"} of the dataset being expanded
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "manual"})
    renderer_version: int | None = None  # the kind's RENDERER_VERSION (None: a kind without one)

    @property
    def parent_count(self) -> int:
        return int(self.parent["count"]) if self.parent else 0

    @cached_property
    def fingerprint(self) -> str:
        """Hash of all that fixes the bytes: kind, spec, seed, count, shard size, input hashes,
        code, library and renderer versions, and the parent's content id. Known before
        building."""
        return sha256_json(
            {
                "kind": self.kind,
                "spec": self.spec,
                "seed": self.seed,
                "count": self.count,
                "shard_size": self.shard_size,
                "inputs": sorted((i["role"], i["uri"], i["sha256"]) for i in self.inputs),
                "code_version": self.code_version,
                "libraries": self.libraries,
                "parent": self.parent["id"] if self.parent else None,
                # Same spec, seed and inputs rendered another way must not share a folder or
                # resume into one; a kind without a renderer version keeps its fingerprint.
                **(
                    {"renderer_version": self.renderer_version}
                    if self.renderer_version is not None
                    else {}
                ),
            }
        )

    @property
    def out_dir(self) -> Path:
        return Path(self.home) / "datasets" / f"{self.name}-{self.fingerprint[:12]}"

    @property
    def internal_dir(self) -> Path:
        return self.out_dir / INTERNAL_DIR

    def shards(self) -> list[Shard]:
        """Shards of the samples to render. An expansion's new samples continue its parent's
        indices, in shards numbered after the parent's last one (``parent["next_shard"]``)."""
        first = self.parent_count
        number = int(self.parent.get("next_shard", 0)) if self.parent else 0
        out = []
        for start in range(first, self.count, self.shard_size):
            out.append(Shard(number, start, min(self.count, start + self.shard_size)))
            number += 1
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BuildPlan:
        d = {k: v for k, v in d.items() if k != "fingerprint"}
        return cls(**d)


_offered: dict[tuple[str, str], Generator] = {}


@contextlib.contextmanager
def generator_offered(kind: str, spec: dict[str, Any], gen: Generator) -> Iterator[None]:
    """While in this block, ``prepare`` of this kind and spec takes ``gen`` instead of making a
    generator (which loads and hashes every input) again: the command line checks the inputs
    with a generator before it starts a flow run in the same process, and the flow prepares
    the plan from its parameters alone."""
    key = (kind, canonical_json(spec))
    _offered[key] = gen
    try:
        yield
    finally:
        _offered.pop(key, None)


def prepare(
    kind: str,
    spec: dict[str, Any],
    *,
    seed: int,
    count: int,
    name: str,
    home: str | Path | None = None,
    trigger: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
    generator: Generator | None = None,
) -> tuple[BuildPlan, Generator]:
    """Validate the inputs by building the generator once, and fix the plan. ``generator``,
    when given, is one already built from this ``spec`` (its inputs checked)."""
    if count < 1:
        raise SynthError(f"count: must be >= 1, got {count}")
    if not 0 <= seed < 2**63:
        raise SynthError(f"seed: must be a whole number from 0 to 2**63 - 1, got {seed}")
    gen = generator or _offered.get((kind, canonical_json(spec))) or make_generator(kind, spec)
    plan = BuildPlan(
        kind=kind,
        name=name,
        spec=spec,
        seed=seed,
        count=count,
        shard_size=int(spec.get("shard_size", 500)),
        home=str(data_home(str(home) if home else None)),
        inputs=[i.to_json() for i in gen.inputs()],
        parent=parent,
        trigger=trigger or {"type": "manual"},
        renderer_version=getattr(gen, "renderer_version", None),
    )
    return plan, gen
