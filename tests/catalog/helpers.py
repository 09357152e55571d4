"""``dataset.json`` contents built by hand, in the shape ``Catalog.register`` reads."""

from __future__ import annotations

from typing import Any


def hex_id(prefix: str) -> str:
    """A 64-digit content id that starts with ``prefix``."""
    return (prefix + "0" * 64)[:64]


def info(dataset_id: str, name: str = "ocr-test", **changes: Any) -> dict[str, Any]:
    """A minimal ``dataset.json`` content, as ``assemble`` writes it."""
    base = {
        "id": dataset_id,
        "fingerprint": "f" * 64,
        "name": name,
        "kind": "ocr",
        "count": 12,
        "seed": 7,
        "spec": {"shard_size": 500, "text": {"source": "faker"}},
        "code_version": "0.1.0",
        "statistics": {"samples": 12, "rejections": {"low_contrast_background": 3}},
        "trigger": {"type": "manual"},
        "run": {"flow_run_id": "00000000-0000-0000-0000-000000000001"},
        "parent": None,
        "licences": ["OFL-1.1"],
        "inputs": [
            {
                "role": "font",
                "name": "DejaVuSans.ttf",
                "uri": "asset:fonts/DejaVuSans.ttf",
                "sha256": "a" * 64,
                "licence": "Bitstream-Vera",
                "attribution": "DejaVu fonts",
                "personal_data": False,
            },
            {
                "role": "texts",
                "name": "lines.txt",
                "uri": "file:///data/lines.txt",
                "sha256": "b" * 64,
                "licence": "unknown",
                "attribution": "",
                "personal_data": True,
            },
        ],
    }
    return base | changes


_FONT = {
    "role": "font",
    "name": "DejaVuSans.ttf",
    "uri": "asset:fonts/DejaVuSans.ttf",
    "sha256": "a" * 64,
    "licence": "Bitstream-Vera",
    "attribution": "DejaVu fonts",
    "personal_data": False,
}
_TEXTS = {
    "role": "texts",
    "name": "lines.txt",
    "uri": "file:///data/lines.txt",
    "sha256": "b" * 64,
    "licence": "unknown",
    "attribution": "",
    "personal_data": True,
}


def v1_records() -> list[dict[str, Any]]:
    """The records that the frozen schema-1 catalogs (data/catalog-v1.sql, data/postgres-v1.sql)
    hold, in ``list()`` order, as ``DatasetRecord.to_json`` gives them."""
    common = {
        "fingerprint": "f" * 64,
        "status": "complete",
        "code_version": "0.1.0",
        "flow_run_id": "00000000-0000-0000-0000-000000000001",
        # access rights came later: an older record has no owner and the level team
        "owner": "",
        "access": "team",
        "grants": [],
    }
    return [
        common
        | {
            "id": hex_id("0a1b"),
            "name": "ocr-test",
            "kind": "ocr",
            "path": "/data/ocr-test",
            "created": "2025-03-01T10:00:00+00:00",
            "count": 12,
            "seed": 7,
            "spec": {"shard_size": 500, "text": {"source": "faker"}},
            "statistics": {"samples": 12, "rejections": {"low_contrast_background": 3}},
            "trigger": {"type": "manual"},
            "parent_id": None,
            "licences": ["OFL-1.1"],
            "personal_data": True,
            "inputs": [_FONT, _TEXTS],
        },
        common
        | {
            "id": hex_id("0a1c"),
            "name": "ocr-test-more",
            "kind": "ocr",
            "path": "/data/ocr-test-more",
            "created": "2025-03-02T11:30:00+00:00",
            "count": 24,
            "seed": 2**63 - 1,
            "spec": {"a": {"y": True, "z": "é"}, "b": [1, 2.5, None]},
            "statistics": {"samples": 12, "rejections": {"low_contrast_background": 3}},
            "trigger": {
                "type": "diagnosis",
                "payload": {"variance": 0.12, "dataset": hex_id("0a1b")},
            },
            "parent_id": hex_id("0a1b"),
            "licences": ["OFL-1.1", "CC0-1.0"],
            "personal_data": True,
            "inputs": [
                {
                    "role": "dataset",
                    "name": "ocr-test",
                    "uri": "synth:" + hex_id("0a1b"),
                    "sha256": "c" * 64,
                    "licence": "OFL-1.1",
                    "attribution": "",
                    "personal_data": False,
                },
                _FONT,
                _TEXTS,
            ],
        },
        common
        | {
            "id": hex_id("5e5e"),
            "name": "speech-test",
            "kind": "speech",
            "path": "/data/speech-test",
            "created": "2025-03-02T11:30:00+00:00",
            "count": 12,
            "seed": 7,
            "spec": {"shard_size": 500, "text": {"source": "faker"}},
            "statistics": {"samples": 3, "rejections": {}},
            "trigger": {"type": "manual"},
            "flow_run_id": None,
            "parent_id": None,
            "licences": [],
            "personal_data": False,
            "inputs": [],
        },
    ]


def later_tables() -> set[str]:
    """The tables the migrations after schema 1 create."""
    import re

    from synth.catalog.sql import MIGRATIONS

    text = " ".join(t for v, t in MIGRATIONS.items() if v > 1)
    return set(re.findall(r"CREATE\s+TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)", text))
