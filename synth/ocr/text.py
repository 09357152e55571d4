"""Text sources: seeded Faker in chosen locales, or a user's file with one text per line.

Faker text is in the locale's own script (``synth.ocr.scripts``): words and sentences from the
locale's lorem word list where Faker's is in that script, else from another Faker locale of the
same language, else from an embedded word list (``assets/words/``); dates with the locale's
month names and order, numbers (and the digits of dates and addresses) in the locale's own
numerals for a share of lines; Faker's English scaffolding inside other locales' addresses and
company names ("Suite", "Inc", "and") removed. A line left with no letter of its script is
rejected as ``text_not_in_script``.

Every text is normalised at the edge: Unicode NFC, runs of whitespace folded to one space, the
optional charset applied, then the length range in characters enforced.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from faker import Faker

from synth.assets import embedded_dir
from synth.errors import AssetError, ConfigError
from synth.hashing import sha256_file
from synth.ocr.fonts import describe_chars
from synth.ocr.scripts import (
    CORE_LETTERS,
    MONTHS,
    NATIVE_DIGITS,
    is_letter,
    locale_script,
    script_of,
)
from synth.ocr.spec import TextSpec
from synth.rng import child_seed

if TYPE_CHECKING:
    from synth.ocr.fonts import FontPool

_WS = re.compile(r"\s+")
_DATE_START = datetime.date(1950, 1, 1)
_DATE_END = datetime.date(2025, 12, 31)


def normalise(text: str, charset: frozenset[str] | None = None) -> str:
    text = unicodedata.normalize("NFC", text)
    if charset is not None:
        text = "".join(ch for ch in text if ch in charset or ch.isspace())
    return _WS.sub(" ", text).strip()


def fit_length(text: str, lo: int, hi: int) -> str | None:
    """Cut ``text`` to at most ``hi`` characters at a word boundary (hard cut if it has none);
    None when it is shorter than ``lo``."""
    if len(text) > hi:
        cut = text[:hi]
        space = cut.rfind(" ")
        text = cut[:space] if space >= lo else cut
        text = text.rstrip()
    return text if len(text) >= lo else None


@lru_cache(maxsize=32)
def _faker(locale: str) -> Faker:
    try:
        return Faker(locale)
    except AttributeError:
        raise ConfigError(f"text.locales: unknown Faker locale '{locale}'") from None


# Where a language's own Faker locale has no lorem in its script, one that has.
_LOREM_LOCALE = {"ar": "ar_AA", "zh": "zh_CN", "fa": "fa_IR", "he": "he_IL", "th": "th_TH"}
# Embedded word lists (assets/words/<language>.txt), for languages no Faker lorem writes.
_WORD_LISTS = ("hi",)
_SENTENCE_END = {"zh": "。", "ja": "。", "hi": "।", "ne": "।", "mr": "।", "th": ""}
# Date orders by language, beside ISO 8601 (which every locale prints too).
_DATE_FORMATS = {
    "zh": ("{y}年{m}月{d}日", "{y}/{m}/{d}"),
    "ja": ("{y}年{m}月{d}日", "{y}/{m}/{d}"),
    "ko": ("{y}. {m}. {d}.",),
    "en": ("{m}/{d}/{y}", "{month} {d}, {y}"),
    "de": ("{d}.{m}.{y}", "{d}. {month} {y}"),
    "ru": ("{d}.{m}.{y}", "{d} {month} {y}"),
    "uk": ("{d}.{m}.{y}", "{d} {month} {y}"),
    "th": ("{d}/{m}/{be}", "{d} {month} {be}"),
}
_DATE_DEFAULT = ("{d}/{m}/{y}", "{d} {month} {y}")


@lru_cache(maxsize=32)
def _word_list(name: str) -> tuple[str, ...]:
    path = embedded_dir("words") / f"{name}.txt"
    with open(path, encoding="utf-8") as f:
        return tuple(w for w in (line.strip() for line in f) if w and not w.startswith("#"))


def _in_script(words: list[str] | tuple[str, ...], script: str) -> bool:
    letters = [ch for w in words for ch in w if is_letter(ch)]
    return bool(letters) and sum(script_of(ch) == script for ch in letters) > 0.9 * len(letters)


@lru_cache(maxsize=32)
def lorem_words(locale: str) -> tuple[tuple[str, ...] | None, str]:
    """The word list of ``locale``'s sentences and words, and where it comes from: None for
    Faker's own lorem (in the locale's script), another locale's Faker lorem, or an embedded
    list; (None, "faker:<locale>") also when nothing better exists (the draws then fail the
    script check and are counted)."""
    script = locale_script(locale)
    lang = locale.split("_")[0]
    own = _lorem_provider(_faker(locale))
    if own is None or _in_script(list(own.word_list[:200]), script):
        return None, f"faker:{locale}"
    other = _LOREM_LOCALE.get(lang)
    if other and other != locale:
        words = _lorem_provider(_faker(other))
        if words is not None and _in_script(list(words.word_list[:200]), script):
            return tuple(words.word_list), f"faker:{other}"
    if lang in _WORD_LISTS:
        return _word_list(lang), f"asset:words/{lang}.txt"
    return None, f"faker:{locale}"


@lru_cache(maxsize=64)
def locale_letters(locale: str) -> frozenset[str]:
    """The letters a locale writes its names and words in: those of 40 Faker names (drawn with
    a fixed seed) and of the first 200 words of its word list."""
    fake = _faker(locale)
    fake.seed_instance(0)
    words, _ = lorem_words(locale)
    text = " ".join([fake.name() for _ in range(40)] + list(words or ())[:200])
    return frozenset(ch for ch in text if is_letter(ch) and unicodedata.category(ch) != "Mn")


def _lorem_provider(fake: Faker):
    for p in fake.providers:
        if type(p).__module__.startswith("faker.providers.lorem"):
            return p
    return None


def _month_names(fake: Faker, locale: str) -> tuple[str, ...] | None:
    lang = locale.split("_")[0]
    if lang in MONTHS:
        return MONTHS[lang]
    for p in fake.providers:
        if type(p).__module__.startswith("faker.providers.date_time"):
            names = getattr(p, "MONTH_NAMES", None)
            if names:
                return tuple(names[f"{m:02d}"] for m in range(1, 13))
    return None


def _native(text: str, fake: Faker, locale: str) -> str:
    """``text`` with its digits in the locale's own numerals, for that locale's share of
    lines (drawn from the seeded Faker stream)."""
    native = NATIVE_DIGITS.get(locale.split("_")[0])
    if native is None or not any(ch.isdigit() for ch in text):
        return text
    digits, share = native
    if fake.random.random() >= share:
        return text
    return text.translate({ord("0") + k: digits[k] for k in range(10)})


def _drop_foreign(text: str, script: str) -> str:
    """``text`` without runs of letters of another script (Faker's English scaffolding in
    other locales' formats: "Suite", "Inc", "and", "OR")."""
    if not any(is_letter(ch) and script_of(ch) not in (script, "common") for ch in text):
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if is_letter(ch) and script_of(ch) not in (script, "common"):
            j = i
            while j < n and (is_letter(text[j]) and script_of(text[j]) not in (script, "common")):
                j += 1
            i = j
            continue
        out.append(ch)
        i += 1
    cleaned = _WS.sub(" ", "".join(out))
    # Commas and dots left alone by a removed word ("X, and Y" -> "X, Y"; "Inc." -> "").
    cleaned = re.sub(r"\s+([,.])(?=\s|$)", r"\1", cleaned)
    cleaned = re.sub(r"([,.])(\s*[,.])+", r"\1", cleaned)
    return cleaned.strip(" ,")


def _date(fake: Faker, locale: str) -> str:
    # A fixed range: Faker's own default ends today, so the same seed would change with time.
    day = fake.date_between_dates(date_start=_DATE_START, date_end=_DATE_END)
    lang = locale.split("_")[0]
    months = _month_names(fake, locale)
    formats = ("{y}-{m}-{d}", *_DATE_FORMATS.get(lang, _DATE_DEFAULT))
    if months is None:  # no month names known here: numeric forms only
        formats = tuple(f for f in formats if "{month}" not in f)
    fmt = fake.random_element(formats)
    return fmt.format(
        y=day.year,
        be=day.year + 543,  # the Thai solar calendar's Buddhist Era
        m=f"{day.month:02d}",
        d=f"{day.day:02d}",
        month=months[day.month - 1] if months else "",
    )


def _faker_text(fake: Faker, kind: str, locale: str = "en_US") -> str:
    words, _ = lorem_words(locale)
    lang = locale.split("_")[0]
    if kind == "sentence":
        text = fake.sentence(nb_words=int(fake.random_int(3, 10)), ext_word_list=words)
        end = _SENTENCE_END.get(lang)
        if end is not None and text.endswith("."):
            text = text[:-1].rstrip() + end
        return text
    if kind == "words":
        return " ".join(fake.words(nb=int(fake.random_int(1, 5)), ext_word_list=words))
    if kind == "name":
        return fake.name()
    if kind == "address":
        return _native(fake.address(), fake, locale)
    if kind == "company":
        return fake.company()
    if kind == "date":
        return _native(_date(fake, locale), fake, locale)
    if kind == "number":
        pattern = fake.random_element(("###", "#,###.##", "+## ### ### ###", "#%"))
        return _native(fake.numerify(pattern), fake, locale)
    if kind == "email":
        return fake.email()
    raise ValueError(f"unknown faker kind {kind!r}")


@dataclass(frozen=True)
class Drawn:
    text: str | None  # None: nothing usable was drawn (the reason says why)
    source: dict  # {"kind": "faker", "locale", "faker_kind", "seed"} or {"kind": "file", "line"}
    reason: str = ""


class TextSource:
    """Draws one text per call from the spec's source, with the sample's generator."""

    def __init__(self, spec: TextSpec) -> None:
        self.spec = spec
        self.charset = frozenset(spec.charset) if spec.charset else None
        self.lines: list[str] = []
        self.path: Path | None = None
        self.sha256 = ""
        if spec.source == "file":
            self._load_file(Path(spec.path).expanduser())
        else:
            for locale in spec.locales:
                _faker(locale)
                lorem_words(locale)

    def _load_file(self, path: Path) -> None:
        if not path.exists():
            raise AssetError(path, "text file not found")
        if not path.is_file():
            raise AssetError(path, "not a file (expected a UTF-8 text file, one text per line)")
        try:
            # utf-8-sig: a byte-order mark (Windows editors write one) is not part of line 1.
            raw = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise AssetError(path, f"not UTF-8 text (byte {err.start})") from None
        except OSError as err:
            raise AssetError(path, f"cannot read the text file ({err.strerror})") from None
        lo, hi = self.spec.length_chars_range
        kept = []
        for line in raw.splitlines():
            t = normalise(line, self.charset)
            if t and lo <= len(t) <= hi:
                kept.append(t)
        if not kept:
            raise AssetError(
                path,
                f"no line is usable: the file is empty or no line has {lo}-{hi} characters"
                + (" after the charset filter" if self.charset else ""),
            )
        self.lines = kept
        self.path = path
        self.sha256 = sha256_file(path)

    def require_drawable(self, fonts: FontPool) -> None:
        """Fail, naming the text file, when no font of ``fonts`` can draw any of its lines.

        Lines that some font draws are kept as they are; a line no font draws is only rejected
        (and counted) when a sample draws it. Stops at the first drawable line.
        """
        if self.path is None or not fonts.fonts:
            return
        probe = np.random.default_rng(0)  # whether a plan exists does not depend on its draws
        for line in self.lines:
            if fonts.plan(line, probe) is not None:
                return
        first = self.lines[0]
        missing = fonts.missing(first)
        why = (
            f"no font draws {describe_chars(missing)}"
            if missing
            else "each character exists in some font, but no font plan draws them all"
        )
        folder = Path(fonts.fonts[0].path).parent
        raise AssetError(
            self.path,
            f"no line can be drawn by any font in {folder} ({len(self.lines)} line(s); "
            f"e.g. {first[:40]!r}: {why})",
        )

    def draw(self, rng: np.random.Generator) -> Drawn:
        lo, hi = self.spec.length_chars_range
        if self.spec.source == "file":
            i = int(rng.integers(len(self.lines)))
            return Drawn(self.lines[i], {"kind": "file", "line": i})
        locale = self.spec.locales[int(rng.integers(len(self.spec.locales)))]
        kind = self.spec.faker_kinds[int(rng.integers(len(self.spec.faker_kinds)))]
        seed = child_seed(rng)
        fake = _faker(locale)
        fake.seed_instance(seed)
        script = locale_script(locale)
        words, _ = lorem_words(locale)
        raw = _faker_text(fake, kind, locale)
        if kind != "email":  # an e-mail address is ASCII in every locale
            raw = _drop_foreign(raw, script)
        source = {"kind": "faker", "locale": locale, "faker_kind": kind, "seed": seed}
        lettered = kind not in ("email", "number", "date")
        if lettered and not any(script_of(ch) == script for ch in raw):
            # e.g. ko_KR, whose Faker lorem is Latin and which has no word list here
            return Drawn(None, source, "text_not_in_script")
        text = normalise(raw, self.charset)
        # Too short: add words from the same seeded stream until the range is reached.
        for _ in range(8):
            if len(text) >= lo:
                break
            text = normalise(f"{text} {fake.word(ext_word_list=words)}", self.charset)
        fitted = fit_length(text, lo, hi)
        if fitted is None:
            return Drawn(None, source, "text_too_short")
        if lettered and self.charset is None and not any(script_of(ch) == script for ch in fitted):
            return Drawn(None, source, "text_not_in_script")
        return Drawn(fitted, source)

    def require_script_fonts(self, fonts: FontPool) -> None:
        """Fail, naming the locale, when no font of ``fonts`` draws its script's letters
        (a build would otherwise be all numbers and dates, or nothing)."""
        if self.spec.source != "faker":
            return
        for locale in self.spec.locales:
            script = locale_script(locale)
            core = CORE_LETTERS[script]
            folder = Path(fonts.fonts[0].path).parent if fonts.fonts else "the fonts"
            candidates = [f for f in fonts.fonts if f.can_draw_chars(set(core))]
            if not candidates:
                raise ConfigError(
                    f"text.locales: no allowed font in {folder} draws {script} letters, "
                    f"which locale '{locale}' writes in (add a font tagged '{script}', "
                    "or allow more font styles)"
                )
            # The script's core letters are not enough: Korean is CJK but Hangul, Armenian
            # letters are in no script the fonts are tagged for. A locale's own letters (of its
            # names and words) must be mostly in its script and drawn by one font.
            own = locale_letters(locale)
            if self.spec.charset is not None:
                own &= frozenset(self.spec.charset)
            if not own:
                continue
            foreign = [ch for ch in own if script_of(ch) not in (script, "latin")]
            drawn = max(sum(f.can_draw_char(ch) for ch in own) for f in candidates)
            if len(foreign) * 2 >= len(own) or drawn * 10 < len(own) * 9:
                missing = sorted(
                    (ch for ch in own if not any(f.can_draw_char(ch) for f in candidates)),
                    key=ord,
                ) or sorted(foreign, key=ord)
                raise ConfigError(
                    f"text.locales: no allowed font in {folder} draws the letters locale "
                    f"'{locale}' writes its names and words in ({describe_chars(missing[:4])}"
                    f"{f' and {len(missing) - 4} more' if len(missing) > 4 else ''}); add a "
                    "font that draws them, or choose another locale"
                )
