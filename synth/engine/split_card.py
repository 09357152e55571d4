"""The dataset card (``README.md``) of a split version: the splits, their groups and balance,
the leak check, how to load the three splits, and, for synthetic data, the warning that
validation and test should be real."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from synth.catalog import DatasetRecord
from synth.engine.card import _LOADER, front_matter
from synth.engine.split_assign import SPLITS


def write_split_card(
    out: Path, name: str, info: dict[str, Any], parent: DatasetRecord, synthetic: bool
) -> Path:
    """Write ``README.md`` into ``out`` (the folder to be called ``name``); returns its path."""
    s = info["statistics"]["splits"]
    kind = info["kind"]
    loader = _LOADER.get(kind, "imagefolder")
    lines = [
        *front_matter(info, synthetic),
        "",
        f"# {info['name']}",
        "",
        f"Train, validation and test splits of {kind} dataset `{parent.id[:12]}` "
        f"({parent.name}): **{info['count']} samples**, ratios "
        f"{' / '.join(str(r) for r in s['ratios'])}, seed {s['seed']}.",
        "",
        f"- id: `{info['id']}`",
        f"- split from: `{parent.id}`",
        f"- grouped by: {', '.join(s['group_by'])} (every group lies in one split)",
        f"- stratified by: {s['stratify_by'] or '-'}",
        f"- leak check: shared groups {s['shared_groups']}",
        "",
        "## Splits",
        "",
        "| split | samples | groups |",
        "|---|---:|---:|",
        *(f"| {k} | {s['counts'][k]} | {s['groups'][k]} |" for k in SPLITS),
        "",
    ]
    if s.get("balance_by"):
        values = sorted({v for k in SPLITS for v in s["balance"][k]})
        lines += [f"Balance of `{s['balance_by']}` per split:", ""]
        lines += ["| value | " + " | ".join(SPLITS) + " |", "|---|" + "---:|" * len(SPLITS)]
        lines += [
            f"| {v} | " + " | ".join(str(s["balance"][k].get(v, 0)) for k in SPLITS) + " |"
            for v in values[:50]
        ]
        if len(values) > 50:
            lines.append(f"\nand {len(values) - 50} more values (in dataset.json).")
        lines.append("")
    if synthetic:
        lines += [
            "**Validation and test are synthetic.** They measure how well a model fits synth's "
            "distribution, not the one it will meet: take validation and test sets from real "
            "data of that distribution.",
            "",
        ]
    lines += [
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{loader}", data_dir="{name}")',
        'train, validation, test = ds["train"], ds["validation"], ds["test"]',
        "```",
        "",
        f"`data_dir` is this folder, `{name}`. Each of `train/`, `validation/` and `test/` is an "
        f"{loader} with its own `metadata.jsonl`; the sample files are hard links to the "
        "parent's (copies where a link cannot cross devices), so the splits take no extra space"
        + (
            " (each split also has its own `manifest.nemo.jsonl`, and Kaldi and Lhotse files "
            "when the parent has them)"
            if kind == "speech" and synthetic
            else ""
        )
        + ". `dataset.json` holds the lineage"
        + (
            "; the recipes of the samples are in the parent's `recipes.jsonl`."
            if synthetic
            else "."
        ),
        "",
        "## Licences",
        "",
        "Licences of the inputs: " + ", ".join(info["licences"]) + ".",
        "",
    ]
    path = out / "README.md"
    tmp = out / f".README.md.tmp-{os.getpid()}"
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
