"""Contact sheets that show a dataset's variety on its card: one per script and one per
background kind, drawn from the dataset's own images in metadata order (so the same dataset
gives the same sheets)."""

from __future__ import annotations

import io
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from synth.ocr.backgrounds import DOCUMENT_KINDS, FILL_KINDS

# Unicode name prefixes -> script names (the first word of a letter's name, mostly)
_SCRIPT_OF_PREFIX = {
    "CJK": "Han",
    "HIRAGANA": "Japanese kana",
    "KATAKANA": "Japanese kana",
    "HANGUL": "Hangul",
}
BACKGROUND_ORDER = ("photo", *FILL_KINDS, *DOCUMENT_KINDS)


def char_script(ch: str) -> str | None:
    """The script of one letter or mark (None for digits, punctuation, spaces and symbols)."""
    if not unicodedata.category(ch).startswith(("L", "M")):
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return None
    first = name.split()[0]
    return _SCRIPT_OF_PREFIX.get(first, first.capitalize())


def dominant_script(text: str) -> str:
    """The script most of a line's letters are in; 'Common' for a line of digits and signs."""
    counts = Counter(s for s in map(char_script, text) if s is not None)
    if not counts:
        return "Common"
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def variety_sheets(
    out_dir: Path, metadata: str = "metadata.jsonl", scan_rows: int = 5000, per_sheet: int = 8
) -> list[tuple[str, str]]:
    """Write ``__synth__/sheet-script-<name>.jpg`` and ``__synth__/sheet-background-<kind>.jpg``
    from the first ``scan_rows`` rows (up to ``per_sheet`` lines each); returns their
    (relative path, caption), scripts by frequency, background kinds in a fixed order."""
    from synth.engine.card import preview_dir

    by_script: dict[str, list[dict[str, Any]]] = {}
    by_kind: dict[str, list[dict[str, Any]]] = {}
    script_total: Counter[str] = Counter()
    kind_total: Counter[str] = Counter()
    with open(out_dir / metadata, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n >= scan_rows:
                break
            row = json.loads(line)
            script = dominant_script(row.get("text", ""))
            kind = row.get("background_kind") or _kind_of(row.get("background", ""))
            script_total[script] += 1
            kind_total[kind] += 1
            for groups, key in ((by_script, script), (by_kind, kind)):
                picked = groups.setdefault(key, [])
                if len(picked) < per_sheet:
                    picked.append(row)
    folder = preview_dir(out_dir)
    made: list[tuple[str, str]] = []
    scripts = sorted(by_script, key=lambda s: (-script_total[s], s))
    kinds = sorted(
        by_kind,
        key=lambda k: (
            BACKGROUND_ORDER.index(k) if k in BACKGROUND_ORDER else len(BACKGROUND_ORDER),
            k,
        ),
    )
    for prefix, names, groups, totals in (
        ("script", scripts, by_script, script_total),
        ("background", kinds, by_kind, kind_total),
    ):
        for name in names:
            path = folder / f"sheet-{prefix}-{_slug(name)}.jpg"
            path.write_bytes(contact_sheet(out_dir, groups[name], limit=per_sheet))
            caption = f"{prefix}: {name} ({totals[name]} of the first {sum(totals.values())})"
            made.append((path.relative_to(out_dir).as_posix(), caption))
    return made


def _kind_of(background: str) -> str:
    """A row from before ``background_kind`` was recorded: 'generated:<kind>' or a photo id."""
    return background.split(":", 1)[1] if background.startswith("generated:") else "photo"


def contact_sheet(out_dir: Path, records: Iterable[dict[str, Any]], limit: int = 24) -> bytes:
    """A JPEG grid of the first ``limit`` samples, each scaled to 48 px high, two columns."""
    thumbs = []
    for rec in records:
        with Image.open(out_dir / rec["file_name"]) as im:
            h = 48
            w = max(1, round(im.width * h / im.height))
            thumbs.append(im.convert("RGB").resize((min(w, 480), h), Image.Resampling.BILINEAR))
        if len(thumbs) >= limit:
            break
    cols = 2
    col_w = max((t.width for t in thumbs), default=1)
    rows = (len(thumbs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * col_w + (cols + 1) * 6, rows * 54 + 6), (255, 255, 255))
    for k, t in enumerate(thumbs):
        sheet.paste(t, (6 + (k % cols) * (col_w + 6), 6 + (k // cols) * 54))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=85)
    return buf.getvalue()
