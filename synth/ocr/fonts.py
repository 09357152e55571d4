"""The font pool: loading, glyph coverage that cannot produce tofu, and cached font objects.

A font may draw a text only when every character is in its character map *and* renders with ink
that differs from the font's missing-glyph (.notdef) box. Both checks are cached per character.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont, features

from synth.assets import embedded_dir, embedded_record
from synth.errors import AssetError
from synth.hashing import sha256_file

FONT_EXTENSIONS = {".ttf", ".otf", ".ttc", ".woff", ".woff2"}
_CHECK_SIZE_PX = 32
# A code point no font maps: drawing it shows the font's .notdef glyph.
_NOTDEF_PROBE = "\U0010fffd"
HAS_RAQM = features.check("raqm")

# Scripts that need shaping or bidi (Arabic, Hebrew, Syriac, Thaana, Indic, Thai, Lao, Tibetan,
# Myanmar, Khmer, Arabic presentation forms): laid out with raqm.
_COMPLEX_RANGES = (
    (0x0590, 0x08FF),
    (0x0900, 0x0DFF),
    (0x0E00, 0x0FFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0xFB1D, 0xFDFF),
    (0xFE70, 0xFEFF),
)


_COMPLEX_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _COMPLEX_RANGES) + "]")


def needs_shaping(text: str) -> bool:
    """True when ``text`` holds a character of a script that needs complex shaping or bidi."""
    return _COMPLEX_RE.search(text) is not None


def is_rtl(text: str) -> bool:
    """True when the first strongly directional character of ``text`` is right-to-left."""
    for ch in text:
        d = unicodedata.bidirectional(ch)
        if d in ("R", "AL"):
            return True
        if d == "L":
            return False
    return False


def has_strong_ltr(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) == "L" for ch in text)


@dataclass
class Font:
    """One usable font file with its character map and per-character draw checks."""

    id: str  # file name, unique in the pool
    path: str
    sha256: str
    style: str
    licence: str
    attribution: str
    cmap: frozenset[int]
    kern_table: bool = True  # has a TrueType 'kern' table (the only kerning of basic layout)
    small_caps_lowercase: bool = False  # draws lower-case letters as small capitals
    _drawable: dict[str, bool] = field(default_factory=dict, repr=False)
    _notdef: bytes | None = field(default=None, repr=False)
    _known_good: set[str] = field(default_factory=set, repr=False)
    _objects: dict[tuple[int, str], ImageFont.FreeTypeFont] = field(
        default_factory=dict, repr=False
    )

    def get(self, size_px: int, layout: str = "basic") -> ImageFont.FreeTypeFont:
        """The cached FreeType font object of this file at ``size_px`` pixels."""
        key = (size_px, layout)
        obj = self._objects.get(key)
        if obj is None:
            engine = ImageFont.Layout.RAQM if layout == "raqm" else ImageFont.Layout.BASIC
            obj = ImageFont.truetype(self.path, size_px, layout_engine=engine)
            self._objects[key] = obj
        return obj

    def _mask_bytes(self, ch: str) -> tuple[tuple[int, int, int, int] | None, bytes]:
        font = self.get(_CHECK_SIZE_PX, "raqm" if HAS_RAQM else "basic")
        mask = font.getmask(ch)
        return mask.getbbox(), bytes(mask)

    def can_draw_char(self, ch: str) -> bool:
        """In the cmap, and (for a visible character) drawn with ink that is not .notdef; a
        lower-case letter not by a font that draws it as a small capital (the image would show
        a capital under a lower-case label)."""
        known = self._drawable.get(ch)
        if known is not None:
            return known
        ok = ord(ch) in self.cmap
        if ok and self.small_caps_lowercase and ch.islower():
            ok = False
        if ok and not ch.isspace() and unicodedata.category(ch)[0] != "Z":
            if self._notdef is None:
                self._notdef = self._mask_bytes(_NOTDEF_PROBE)[1]
            bbox, data = self._mask_bytes(ch)
            ok = bbox is not None and data != self._notdef
        self._drawable[ch] = ok
        return ok

    def can_draw(self, text: str, shaped: bool | None = None) -> bool:
        """Every character of ``text`` drawable; ``shaped`` is ``needs_shaping(text)`` when the
        caller knows it already."""
        if not HAS_RAQM and (needs_shaping(text) if shaped is None else shaped):
            return False
        return self.can_draw_chars(set(text))

    def can_draw_chars(self, chars: set[str]) -> bool:
        """Every character of the set ``chars`` drawable (shaping is the caller's check)."""
        if chars <= self._known_good:  # the common case: one set comparison
            return True
        if all(self.can_draw_char(ch) for ch in chars):
            self._known_good |= chars
            return True
        return False


@dataclass
class FontPool:
    fonts: list[Font]
    skipped: list[dict[str, str]]  # files left out, with the reason

    def candidates(self, text: str) -> list[Font]:
        """Fonts that can draw every character of ``text``, in pool order."""
        if not HAS_RAQM and needs_shaping(text):
            return []
        chars = set(text)  # once, not once per font
        return [f for f in self.fonts if f.can_draw_chars(chars)]


def _embedded_styles() -> dict[str, dict[str, str]]:
    """``styles.tsv`` by file name: ``style``, ``scripts`` and ``lowercase`` (``letters``, or
    ``small-caps`` for a font that draws lower-case letters as small capitals)."""
    path = embedded_dir("fonts") / "styles.tsv"
    with open(path, encoding="utf-8", newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}


def load_font(
    path: Path, style: str, licence: str, attribution: str, small_caps_lowercase: bool = False
) -> Font:
    """Open one font file; an unreadable or non-font file raises AssetError naming it."""
    try:
        ImageFont.truetype(str(path), _CHECK_SIZE_PX)
        tt = TTFont(str(path), lazy=True, fontNumber=0)
        cmap = tt.getBestCmap() or {}
        kern_table = "kern" in tt
        tt.close()
    except Exception as err:  # FreeType and fontTools raise many types for a bad file
        raise AssetError(path, f"not a usable font ({type(err).__name__}: {err})") from None
    if not cmap:
        raise AssetError(path, "font has no Unicode character map")
    return Font(
        id=path.name,
        path=str(path),
        sha256=sha256_file(path),
        style=style,
        licence=licence,
        attribution=attribution,
        cmap=frozenset(cmap),
        kern_table=kern_table,
        small_caps_lowercase=small_caps_lowercase,
    )


def load_font_pool(font_dir: str | None, styles: tuple[str, ...] | None) -> FontPool:
    """Every usable font of ``font_dir`` (None: the embedded fonts), sorted by file name.

    Unreadable files are skipped and listed in ``skipped`` with the reason; a folder with no
    usable font is an error.
    """
    embedded = font_dir is None
    folder = embedded_dir("fonts") if embedded else Path(font_dir).expanduser()
    if not folder.exists():
        raise AssetError(folder, "fonts folder not found")
    if not folder.is_dir():
        raise AssetError(folder, "not a folder (expected a folder of .ttf/.otf/.woff2 files)")
    style_of = _embedded_styles() if embedded else {}
    fonts: list[Font] = []
    skipped: list[dict[str, str]] = []
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as err:
        raise AssetError(folder, f"cannot list the fonts folder ({err.strerror})") from None
    for path in files:
        if path.suffix.lower() not in FONT_EXTENSIONS:
            if path.suffix.lower() not in {".tsv", ".txt", ".md"} or not embedded:
                skipped.append({"file": str(path), "reason": "not a font file (by extension)"})
            continue
        tags = style_of.get(path.name, {})
        style = tags.get("style", "unknown")
        if embedded and styles is not None and style not in styles:
            continue
        record = embedded_record(path)
        licence = record.licence if record else "unknown"
        attribution = record.attribution if record else ""
        small_caps = tags.get("lowercase") == "small-caps"
        try:
            fonts.append(load_font(path, style, licence, attribution, small_caps))
        except AssetError as err:
            skipped.append({"file": str(path), "reason": err.problem})
    if not fonts:
        detail = (
            f" ({len(skipped)} file(s) skipped; {Path(skipped[0]['file']).name}: "
            f"{skipped[0]['reason']})"
            if skipped
            else " (it is empty)"
        )
        raise AssetError(folder, f"no usable font in this folder{detail}")
    return FontPool(fonts, skipped)
