"""Text sources: seeded Faker in chosen locales, or a user's file with one text per line.

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

from synth.errors import AssetError, ConfigError
from synth.hashing import sha256_file
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


def _faker_text(fake: Faker, kind: str) -> str:
    if kind == "sentence":
        return fake.sentence(nb_words=int(fake.random_int(3, 10)))
    if kind == "words":
        return " ".join(fake.words(nb=int(fake.random_int(1, 5))))
    if kind == "name":
        return fake.name()
    if kind == "address":
        return fake.address()
    if kind == "company":
        return fake.company()
    if kind == "date":
        # A fixed range: Faker's own default ends today, so the same seed would change with time.
        day = fake.date_between_dates(date_start=_DATE_START, date_end=_DATE_END)
        return day.strftime(fake.random_element(("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y")))
    if kind == "number":
        return fake.numerify(fake.random_element(("###", "#,###.##", "+## ### ### ###", "#%")))
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
        for line in self.lines:
            if any(f.can_draw(line) for f in fonts.fonts):
                return
        first = self.lines[0]
        missing = sorted({ch for ch in first if not any(f.can_draw_char(ch) for f in fonts.fonts)})
        why = (
            f"no font draws {''.join(missing[:10])!r}"
            if missing
            else "each character exists in some font, but no single font has all of them"
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
        text = normalise(_faker_text(fake, kind), self.charset)
        # Too short: add words from the same seeded stream until the range is reached.
        for _ in range(8):
            if len(text) >= lo:
                break
            text = normalise(f"{text} {fake.word()}", self.charset)
        fitted = fit_length(text, lo, hi)
        source = {"kind": "faker", "locale": locale, "faker_kind": kind, "seed": seed}
        if fitted is None:
            return Drawn(None, source, "text_too_short")
        return Drawn(fitted, source)
