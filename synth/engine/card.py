"""The human dataset card (``README.md``) with preview pictures, licences and attribution."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from synth.engine.assemble import seal_folder
from synth.engine.plan import INTERNAL_DIR

_TASK = {"ocr": "image-to-text", "speech": "automatic-speech-recognition"}
_LOADER = {"ocr": "imagefolder", "speech": "audiofolder"}


def front_matter(info: dict[str, Any], synthetic: bool = True) -> list[str]:
    """The Hugging Face card's YAML header: name, licence, task, tags."""
    return [
        "---",
        f"pretty_name: {info['name']}",
        f"license: {_licence_id(info['licences'])}",
        "task_categories:",
        f"- {_TASK.get(info['kind'], 'other')}",
        "tags:",
        *(["- synthetic"] if synthetic else []),
        "- synth",
        "---",
    ]


def _licence_id(licences: list[str]) -> str:
    if len(licences) == 1 and licences[0].lower() not in ("unknown",):
        return licences[0].lower()
    return "other"


def write_card(
    out_dir: Path,
    info: dict[str, Any],
    previews: list[tuple[str, str]],
    notes: list[str] | None = None,
) -> Path:
    """Write ``README.md`` in the dataset folder; ``previews`` are (relative path, caption),
    and consecutive captions ``"<group>: <label>"`` (contact sheets per script, per background
    kind) go under one ``By <group>`` heading; ``notes`` are the kind's own paragraphs on its
    files (the generator's ``card_notes``).

    Then seals the folder (``seal_folder``): the card, its pictures and every other file the
    assembly wrote are hashed, and the hash of that record goes into ``info["statistics"]``,
    which the catalog keeps. Write every picture before calling this: a file added under
    ``__synth__/`` afterwards is one ``verify`` calls unexpected."""
    kind = info["kind"]
    stats = info["statistics"]
    lines = [
        *front_matter(info),
        "",
        f"# {info['name']}",
        "",
        f"Synthetic {kind} dataset made by synth {info['code_version']}: "
        f"**{info['count']} samples**, seed {info['seed']}.",
        "",
        f"- id: `{info['id']}`",
        f"- fingerprint: `{info['fingerprint']}`",
        f"- trigger: {info['trigger'].get('type', 'manual')}",
    ]
    if info.get("parent"):
        lines.append(f"- expanded from: `{info['parent']['id']}`")
    lines += ["", "## Preview", ""]
    group = None
    for rel, caption in previews:
        # "script: Latin (40 of the first 100)": sheets of one group under one heading
        head, sep, label = caption.partition(": ")
        if sep and head != group:
            group = head
            lines += [f"### By {head}", ""]
        if sep:
            lines += [f"{label}:", ""]
        lines += [f"![{caption}]({rel})", ""]
    lines += [
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{_LOADER.get(kind, "imagefolder")}", data_dir="{out_dir.name}",',
        '                  split="train")',
        "```",
        "",
        f"`data_dir` is this folder, `{out_dir.name}`, as seen from where you run Python: the "
        "card names no absolute path, so a copy of the folder anywhere is the same bytes.",
        "",
        "`metadata.jsonl` holds one flat row per sample; `recipes.jsonl` holds everything drawn "
        "for each sample (replayable with `synth datasets verify`) and what was measured on it; "
        "`dataset.json` holds the spec, seed, code version and lineage.",
        "",
        *(line for note in notes or [] for line in (note, "")),
        "## Statistics",
        "",
    ]
    for key, n in stats["numbers"].items():
        lines.append(f"- {key}: mean {n['mean']}, min {n['min']}, max {n['max']}, std {n['std']}")
    for key, counts in stats["counts"].items():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        shown = ", ".join(f"{v} ({c})" for v, c in top)
        more = f", and {len(counts) - 8} more" if len(counts) > 8 else ""
        lines.append(f"- {key}: {shown}{more}")
    rej = stats.get("rejections") or {}
    lines.append(
        "- rejected draws: " + (", ".join(f"{k} {v}" for k, v in rej.items()) if rej else "none")
    )
    skipped = info.get("skipped_inputs") or []
    if skipped:
        lines.append(f"- inputs skipped or warned of: {len(skipped)} (listed in dataset.json)")
    lines += ["", "## Licences and attribution", ""]
    lines.append("Licences of the inputs used: " + ", ".join(info["licences"]) + ".")
    lines.append("")
    seen = set()
    for item in info["inputs"]:
        text = item.get("attribution")
        if text and text not in seen:
            seen.add(text)
            lines.append(f"- {item['name']}: {text}")
    lines.append("")
    path = out_dir / "README.md"
    tmp = out_dir / f".README.md.tmp-{os.getpid()}"
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    seal_folder(out_dir, info)
    return path


def preview_dir(out_dir: Path) -> Path:
    d = out_dir / INTERNAL_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d
