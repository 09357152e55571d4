"""The font pool: loading, glyph coverage that cannot produce tofu, and cached font objects.

A font may draw a character only when it is in its character map *and* renders with ink that
differs from the font's missing-glyph (.notdef) box (both checks cached per character), and a
letter only of a script the font is tagged for (``assets/fonts/styles.tsv``, whose tags are
checked against the character map at load; a font from a user's folder is tagged with the
scripts it covers). A line is drawn in a primary font with fallbacks for the characters it
lacks, as text engines do (``FontPool.plan``); a run of one font never splits a shaped cluster.
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
from synth.ocr.scripts import (
    COMMON,
    SCRIPTS,
    covered_scripts,
    is_letter,
    script_of,
    tagged_scripts_missing,
)

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
    scripts: frozenset[str] = frozenset(SCRIPTS)  # the scripts whose letters it may draw
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
        """In the cmap, of a script the font is tagged for (or common), and (for a visible
        character) drawn with ink that is not .notdef; a lower-case letter not by a font that
        draws it as a small capital (the image would show a capital under a lower-case
        label)."""
        known = self._drawable.get(ch)
        if known is not None:
            return known
        ok = ord(ch) in self.cmap
        if ok:
            script = script_of(ch)
            ok = script == COMMON or script in self.scripts
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


_JOINERS = frozenset("\u200c\u200d\u034f")


def clusters(text: str) -> list[tuple[int, int]]:
    """``text`` cut into (start, end) clusters that one font must draw whole: a character with
    its combining marks, variation selectors and joiners, and consonants joined by a virama
    (a Devanagari conjunct). Every other boundary may change font."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    i = 0
    while i < n:
        j = i + 1
        while j < n:
            ch, prev = text[j], text[j - 1]
            if (
                unicodedata.category(ch)[0] == "M"
                or ch in _JOINERS
                or 0xFE00 <= ord(ch) <= 0xFE0F
                or prev in _JOINERS
                or (unicodedata.combining(prev) == 9 and is_letter(ch))
            ):
                j += 1
            else:
                break
        spans.append((i, j))
        i = j
    return spans


_CHAR_INFO: dict[str, tuple[str, bool, bool]] = {}  # character -> (script, rtl, joins a cluster)


def _char_info(ch: str) -> tuple[str, bool, bool]:
    return (
        script_of(ch),
        unicodedata.bidirectional(ch) in ("R", "AL"),
        unicodedata.category(ch)[0] == "M"
        or ch in _JOINERS
        or 0xFE00 <= ord(ch) <= 0xFE0F
        or unicodedata.combining(ch) != 0,
    )


def main_script(text: str) -> str:
    """The script most of ``text``'s letters are in (the first one seen on a tie), or common."""
    counts: dict[str, int] = {}
    for ch in text:
        s = script_of(ch)
        if s != COMMON:
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return COMMON
    best = max(counts.values())
    return next(s for s in counts if counts[s] == best)


def describe_chars(chars: str | set[str], limit: int = 10) -> str:
    """Characters named for an error: ``U+002E '.', U+3002 '。'`` (sorted, at most ``limit``)."""
    ordered = sorted(set(chars))
    shown = ", ".join(f"U+{ord(c):04X} {c!r}" for c in ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


FontRun = tuple["Font", int, int]  # a font and the [start, end) of the text it draws


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

    def missing(self, text: str) -> set[str]:
        """The characters of ``text`` that no font of the pool draws."""
        return {ch for ch in set(text) if not any(f.can_draw_char(ch) for f in self.fonts)}

    def plan(self, text: str, rng) -> tuple[Font, list[FontRun]] | None:
        """A primary font drawn among those that draw the letters of ``text``'s main script,
        and the runs of fonts (primary and fallbacks for the clusters it lacks) that draw the
        line, in logical order; None when no plan draws the line.

        A fallback is drawn among the fonts that draw every missing cluster (Latin-tagged
        fonts first, then the primary's style), else per cluster the first such font in pool
        order. Runs are in logical order; a line with right-to-left letters is put in visual
        order when drawn (``synth.ocr.bidi``). A line without letters is drawn in one font, a
        Latin-tagged one where one draws it (not a Devanagari font's digits in a Chinese
        dataset).
        """
        if not HAS_RAQM and needs_shaping(text):
            return None
        chars = set(text)
        scripts: dict[str, set[str]] = {}
        marked = False
        info = _CHAR_INFO
        for ch in chars:
            known = info.get(ch)
            if known is None:
                known = info[ch] = _char_info(ch)
            script, _, is_mark = known
            marked |= is_mark
            if script != COMMON:
                scripts.setdefault(script, set()).add(ch)
        if not scripts:
            whole = [f for f in self.fonts if f.can_draw_chars(chars)]
            if not whole:
                return None
            # digits and punctuation: general-purpose (Latin-tagged) fonts where one draws them
            whole = [f for f in whole if "latin" in f.scripts] or whole
            font = whole[int(rng.integers(len(whole)))]
            return font, [(font, 0, len(text))]
        main = next(iter(scripts)) if len(scripts) == 1 else main_script(text)
        if marked:
            spans = clusters(text)
            need: set[str] = set()
            for s, e in spans:
                piece = text[s:e]
                if any(script_of(ch) == main for ch in piece):
                    need.update(piece)
        else:
            spans = []  # one character each, made only if a fallback is needed
            need = scripts[main]
        primaries = [f for f in self.fonts if f.can_draw_chars(need)]
        if not primaries:
            return None
        primary = primaries[int(rng.integers(len(primaries)))]
        if primary.can_draw_chars(chars):
            return primary, [(primary, 0, len(text))]
        if not spans:
            spans = [(i, i + 1) for i in range(len(text))]
        lacking = [(s, e) for s, e in spans if not primary.can_draw_chars(set(text[s:e]))]
        wanted = {ch for s, e in lacking for ch in text[s:e]}
        others = [f for f in self.fonts if f is not primary]
        covering = [f for f in others if f.can_draw_chars(wanted)]
        chosen: dict[tuple[int, int], Font] = {}
        if covering:
            # General-purpose (Latin-tagged) fonts first, as a system's fallback list has them.
            general = [f for f in covering if "latin" in f.scripts] or covering
            alike = [f for f in general if f.style == primary.style] or general
            fallback = alike[int(rng.integers(len(alike)))]
            chosen = dict.fromkeys(lacking, fallback)
        else:
            for span in lacking:
                piece = set(text[span[0] : span[1]])
                fits = [f for f in others if f.can_draw_chars(piece)]
                if not fits:
                    return None
                alike = [f for f in fits if f.style == primary.style]
                chosen[span] = (alike or fits)[0]
        fonts = [chosen.get(span, primary) for span in spans]
        # A space between two clusters of one fallback goes with them: one run, not three.
        for k in range(1, len(spans) - 1):
            s, e = spans[k]
            if (
                fonts[k] is primary
                and text[s:e].isspace()
                and fonts[k - 1] is fonts[k + 1]
                and fonts[k - 1] is not primary
                and fonts[k - 1].can_draw_chars(set(text[s:e]))
            ):
                fonts[k] = fonts[k - 1]
        runs: list[FontRun] = []
        for (s, e), font in zip(spans, fonts, strict=True):
            if runs and runs[-1][0] is font:
                runs[-1] = (font, runs[-1][1], e)
            else:
                runs.append((font, s, e))
        return primary, runs


def _embedded_styles() -> dict[str, dict[str, str]]:
    """``styles.tsv`` by file name: ``style``, ``scripts`` and ``lowercase`` (``letters``, or
    ``small-caps`` for a font that draws lower-case letters as small capitals)."""
    path = embedded_dir("fonts") / "styles.tsv"
    with open(path, encoding="utf-8", newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}


def load_font(
    path: Path,
    style: str,
    licence: str,
    attribution: str,
    small_caps_lowercase: bool = False,
    scripts: tuple[str, ...] | None = None,
) -> Font:
    """Open one font file; an unreadable or non-font file raises AssetError naming it.

    ``scripts``: the font's script tags, each checked against its character map (a tag whose
    core letters the font lacks raises AssetError naming them); None: the scripts it covers
    (at least half of each script's core letters mapped, so an all-capitals font keeps Latin).
    """
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
    codes = frozenset(cmap)
    if scripts is None:
        tags = covered_scripts(codes, share=0.5)
    else:
        for script in scripts:
            if script not in SCRIPTS:
                raise AssetError(
                    path, f"unknown script tag '{script}' (known: {', '.join(SCRIPTS)})"
                )
            lacking = tagged_scripts_missing(codes, script)
            if lacking:
                raise AssetError(
                    path,
                    f"tagged '{script}' but its character map lacks {len(lacking)} of the "
                    f"script's core letters: {describe_chars(lacking, 5)}",
                )
        tags = frozenset(scripts)
    return Font(
        id=path.name,
        path=str(path),
        sha256=sha256_file(path),
        style=style,
        licence=licence,
        attribution=attribution,
        cmap=codes,
        kern_table=kern_table,
        small_caps_lowercase=small_caps_lowercase,
        scripts=tags,
    )


def load_font_pool(
    font_dir: str | None,
    styles: tuple[str, ...] | None,
    not_for_scripts: dict[str, tuple[str, ...]] | None = None,
) -> FontPool:
    """Every usable font of ``font_dir`` (None: the embedded fonts), sorted by file name.

    Unreadable files are skipped and listed in ``skipped`` with the reason; a folder with no
    usable font is an error. ``not_for_scripts``: font file name -> scripts it may not draw
    (taken from its tags).
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
        scripts = tuple(s for s in tags.get("scripts", "").split(",") if s) if tags else None
        try:
            fonts.append(load_font(path, style, licence, attribution, small_caps, scripts))
        except AssetError as err:
            skipped.append({"file": str(path), "reason": err.problem})
    for font in fonts:
        taken = (not_for_scripts or {}).get(font.id)
        if taken:
            font.scripts = font.scripts - frozenset(taken)
    if not fonts:
        detail = (
            f" ({len(skipped)} file(s) skipped; {Path(skipped[0]['file']).name}: "
            f"{skipped[0]['reason']})"
            if skipped
            else " (it is empty)"
        )
        raise AssetError(folder, f"no usable font in this folder{detail}")
    return FontPool(fonts, skipped)
