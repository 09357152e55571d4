"""The interface a dataset kind (OCR, speech) implements to plug into the engine.

A generator is built once per worker process from a spec. ``sample`` draws a recipe with the
sample's own RNG (all randomness lives there); ``render`` is a pure function of that recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np


@dataclass(frozen=True)
class InputRef:
    """One input of a dataset for lineage: an asset file, a corpus, or another dataset."""

    role: str  # e.g. "font", "background", "clean_speech", "noise", "texts", "parent"
    name: str  # the id recipes use for it, e.g. "DejaVuSans.ttf"
    uri: str  # "asset:fonts/DejaVuSans.ttf", "file:///abs/path", "dataset:<id>", "procedural:pink"
    sha256: str
    licence: str
    attribution: str = ""
    personal_data: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "uri": self.uri,
            "sha256": self.sha256,
            "licence": self.licence,
            "attribution": self.attribution,
            "personal_data": self.personal_data,
        }


@dataclass
class Rendered:
    """What ``render`` returns for one sample.

    ``files`` maps a path relative to the dataset folder to the encoded bytes; ``row`` is the flat
    ``metadata.jsonl`` row (it must hold ``file_name`` and ``text``); ``outputs`` holds values
    measured while rendering (boxes, achieved SNR) that go into the full per-sample record.
    """

    files: dict[str, bytes]
    row: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    kind: ClassVar[str]

    def inputs(self) -> list[InputRef]:
        """Every input the dataset may draw from, with hashes and licences."""
        ...

    def sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """Draw the JSON-serialisable recipe of sample ``index``. Bounded retries inside are
        counted in ``recipe["rejections"]`` by reason."""
        ...

    def render(self, recipe: dict[str, Any], stem: str) -> Rendered:
        """Render a recipe; ``stem`` is the sample's path without extension, e.g.
        ``"shard-00000/000000042"``. Same recipe, same bytes."""
        ...

    def describe(self, recipe: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        """Per-sample values for the dataset statistics: a string value is counted by value
        (e.g. ``{"font": "DejaVuSans.ttf"}``), a number is summarised (min, max, mean, std)."""
        ...


GeneratorFactory = Callable[[dict[str, Any]], Generator]

_REGISTRY: dict[str, GeneratorFactory] = {}


def register_kind(kind: str, factory: GeneratorFactory) -> None:
    _REGISTRY[kind] = factory


_BUILTIN = {"ocr": "synth.ocr.generator", "speech": "synth.speech.generator"}


def make_generator(kind: str, spec: dict[str, Any]) -> Generator:
    """Build the generator of ``kind`` from a spec dict; unknown kinds list the known ones."""
    if kind not in _REGISTRY and kind in _BUILTIN:
        # Imported on demand so that importing the engine pulls in neither Pillow nor librosa.
        import importlib

        importlib.import_module(_BUILTIN[kind])
    try:
        factory = _REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(set(_REGISTRY) | set(_BUILTIN)))
        raise ValueError(f"unknown dataset kind '{kind}' (known: {known})") from None
    return factory(spec)


LabelViews = Callable[[Path, Iterable[dict[str, Any]], dict[str, Any]], list[Path]]
"""Write a kind's views of a folder's labels (a NeMo manifest, Kaldi files) from its
``metadata.jsonl`` rows and the dataset's spec, without building a generator; returns the
paths written."""

_VIEWS: dict[str, LabelViews] = {}


def register_label_views(kind: str, write: LabelViews) -> None:
    _VIEWS[kind] = write


def label_views(kind: str) -> LabelViews | None:
    """The label views writer of ``kind`` (its module imported on demand), or None."""
    if kind not in _REGISTRY and kind in _BUILTIN:
        import importlib

        importlib.import_module(_BUILTIN[kind])
    return _VIEWS.get(kind)
