"""Writing systems: which script a character belongs to, which script a locale writes in, the
letters a font must map to be tagged for a script, and each locale's own digits and months.

Scripts are named as in ``assets/fonts/styles.tsv``: latin, greek, cyrillic, hebrew, arabic,
devanagari, thai, cjk (Han ideographs, kana, Hangul and CJK punctuation). A character outside
every script's blocks (digits, ASCII punctuation, spaces, symbols) is *common*: any font that
draws it may draw it in any line. Blocks, not the Unicode Script property (Python has none):
the few common characters inside a script's block (the Arabic comma, the danda) go with that
script, which the fonts tagged for it draw.
"""

from __future__ import annotations

import bisect
import unicodedata

COMMON = "common"
SCRIPTS = ("latin", "greek", "cyrillic", "hebrew", "arabic", "devanagari", "thai", "cjk")

# (first, last, script), sorted, non-overlapping.
_BLOCKS: tuple[tuple[int, int, str], ...] = tuple(
    sorted(
        [
            (0x0041, 0x005A, "latin"),
            (0x0061, 0x007A, "latin"),
            (0x00AA, 0x00AA, "latin"),
            (0x00BA, 0x00BA, "latin"),
            (0x00C0, 0x00D6, "latin"),
            (0x00D8, 0x00F6, "latin"),
            (0x00F8, 0x024F, "latin"),
            (0x0250, 0x02AF, "latin"),
            (0x1E00, 0x1EFF, "latin"),
            (0x2C60, 0x2C7F, "latin"),
            (0xA720, 0xA7FF, "latin"),
            (0xFB00, 0xFB06, "latin"),
            (0x0370, 0x03FF, "greek"),
            (0x1F00, 0x1FFF, "greek"),
            (0x0400, 0x052F, "cyrillic"),
            (0x1C80, 0x1C8F, "cyrillic"),
            (0x2DE0, 0x2DFF, "cyrillic"),
            (0xA640, 0xA69F, "cyrillic"),
            (0x0590, 0x05FF, "hebrew"),
            (0xFB1D, 0xFB4F, "hebrew"),
            (0x0600, 0x06FF, "arabic"),
            (0x0750, 0x077F, "arabic"),
            (0x0870, 0x08FF, "arabic"),
            (0xFB50, 0xFDFF, "arabic"),
            (0xFE70, 0xFEFF, "arabic"),
            (0x0900, 0x097F, "devanagari"),
            (0xA8E0, 0xA8FF, "devanagari"),
            (0x0E00, 0x0E7F, "thai"),
            (0x1100, 0x11FF, "cjk"),
            (0x2E80, 0x2FDF, "cjk"),
            (0x3000, 0x303F, "cjk"),
            (0x3040, 0x30FF, "cjk"),
            (0x3100, 0x31FF, "cjk"),
            (0x3200, 0x33FF, "cjk"),
            (0x3400, 0x4DBF, "cjk"),
            (0x4E00, 0x9FFF, "cjk"),
            (0xAC00, 0xD7AF, "cjk"),
            (0xF900, 0xFAFF, "cjk"),
            (0xFE30, 0xFE4F, "cjk"),
            (0xFF00, 0xFFEF, "cjk"),
            (0x20000, 0x3134F, "cjk"),
        ]
    )
)
_STARTS = [b[0] for b in _BLOCKS]


def script_of(ch: str) -> str:
    """The script of one character (see the module docstring), or ``"common"``."""
    cp = ord(ch)
    if cp < 0x41:
        return COMMON
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and cp <= _BLOCKS[i][1]:
        return _BLOCKS[i][2]
    return COMMON


def scripts_in(text: str) -> set[str]:
    """The scripts of ``text``'s characters, common left out."""
    out = {script_of(ch) for ch in text}
    out.discard(COMMON)
    return out


def _span(lo: int, hi: int, skip: tuple[int, ...] = ()) -> str:
    return "".join(chr(c) for c in range(lo, hi + 1) if c not in skip)


# The letters a font must map to carry a script's tag: each script's basic alphabet (CJK: the
# kana and the most frequent ideographs of Chinese and Japanese text).
CORE_LETTERS: dict[str, str] = {
    "latin": _span(0x41, 0x5A) + _span(0x61, 0x7A),
    "greek": _span(0x391, 0x3A9, (0x3A2,)) + _span(0x3B1, 0x3C9),
    "cyrillic": _span(0x410, 0x44F),
    "hebrew": _span(0x5D0, 0x5EA),
    "arabic": _span(0x621, 0x63A) + _span(0x641, 0x64A),
    "devanagari": _span(0x905, 0x914) + _span(0x915, 0x939) + _span(0x93E, 0x94D),
    "thai": _span(0xE01, 0xE2E) + _span(0xE30, 0xE3A) + _span(0xE40, 0xE4E),
    "cjk": _span(0x3041, 0x3093)
    + _span(0x30A1, 0x30F3)
    + "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年日本語中文字",
}


def tagged_scripts_missing(cmap: frozenset[int] | set[int], script: str) -> str:
    """The core letters of ``script`` that ``cmap`` lacks (empty: the tag is true)."""
    return "".join(ch for ch in CORE_LETTERS[script] if ord(ch) not in cmap)


def covered_scripts(cmap: frozenset[int] | set[int], share: float = 1.0) -> frozenset[str]:
    """Every script of which ``cmap`` maps at least ``share`` of the core letters."""
    return frozenset(
        s
        for s in SCRIPTS
        if len(tagged_scripts_missing(cmap, s)) <= (1.0 - share) * len(CORE_LETTERS[s])
    )


# A locale's script, by language code; a language not listed writes in Latin.
_LANGUAGE_SCRIPT = {
    "ar": "arabic",
    "fa": "arabic",
    "ur": "arabic",
    "he": "hebrew",
    "hi": "devanagari",
    "ne": "devanagari",
    "mr": "devanagari",
    "th": "thai",
    "zh": "cjk",
    "ja": "cjk",
    "ko": "cjk",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "bg": "cyrillic",
    "mk": "cyrillic",
    "sr": "cyrillic",
    "kk": "cyrillic",
    "el": "greek",
}


def locale_script(locale: str) -> str:
    """The script a Faker locale (``ar_AA``, ``hi_IN``, ``zh_CN``) writes in."""
    lang = locale.split("_")[0].lower()
    if locale in ("sr_Latn_RS", "uz_UZ", "az_AZ"):
        return "latin"
    return _LANGUAGE_SCRIPT.get(lang, "latin")


# Native digits, and the share of number-bearing lines written with them (the rest use 0-9, as
# print in these places mostly does too).
NATIVE_DIGITS: dict[str, tuple[str, float]] = {
    "ar": ("٠١٢٣٤٥٦٧٨٩", 0.5),
    "fa": ("۰۱۲۳۴۵۶۷۸۹", 0.7),
    "ur": ("۰۱۲۳۴۵۶۷۸۹", 0.3),
    "hi": ("०१२३४५६७८९", 0.3),
    "ne": ("०१२३४५६७८९", 0.5),
    "mr": ("०१२३४५६७८९", 0.3),
    "th": ("๐๑๒๓๔๕๖๗๘๙", 0.3),
    "bn": ("০১২৩৪৫৬৭৮৯", 0.5),
}

# Month names where Faker's locale has none (facts, not text of anyone's).
MONTHS: dict[str, tuple[str, ...]] = {
    "hi": (
        "जनवरी",
        "फ़रवरी",
        "मार्च",
        "अप्रैल",
        "मई",
        "जून",
        "जुलाई",
        "अगस्त",
        "सितंबर",
        "अक्टूबर",
        "नवंबर",
        "दिसंबर",
    ),
    "he": (
        "ינואר",
        "פברואר",
        "מרץ",
        "אפריל",
        "מאי",
        "יוני",
        "יולי",
        "אוגוסט",
        "ספטמבר",
        "אוקטובר",
        "נובמבר",
        "דצמבר",
    ),
    "th": (
        "มกราคม",
        "กุมภาพันธ์",
        "มีนาคม",
        "เมษายน",
        "พฤษภาคม",
        "มิถุนายน",
        "กรกฎาคม",
        "สิงหาคม",
        "กันยายน",
        "ตุลาคม",
        "พฤศจิกายน",
        "ธันวาคม",
    ),
}


def is_letter(ch: str) -> bool:
    """A letter or a combining mark (the characters that carry a script)."""
    return unicodedata.category(ch)[0] in "LM"
