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
