"""The OCR dataset spec (ranges and pools) and its presets.

Ranges are ``*_range`` pairs ``(low, high)`` with the unit in the name; a degenerate range
``(x, x)`` always draws ``x``. Probabilities are in [0, 1].
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from synth.config import StrictModel, deep_merge, validate

FONT_STYLES = ("serif", "sans", "mono", "condensed", "handwriting", "script")
FILL_KINDS = ("flat", "gradient", "noise")
# synth.ocr.documents.KINDS (kept literal here: the spec imports no rendering code)
DOCUMENT_KINDS = ("paper", "lined", "squared", "form", "receipt", "scan", "photographed")
Prob = Field(ge=0.0, le=1.0)


def _check_range(value: tuple[float, float], lo: float | None = None, hi: float | None = None):
    a, b = value
    if a > b:
        raise ValueError(f"low {a} is above high {b}; expected (low, high)")
    if lo is not None and a < lo:
        raise ValueError(f"must be >= {lo}")
    if hi is not None and b > hi:
        raise ValueError(f"must be <= {hi}")
    return value


class TextSpec(StrictModel):
    """Where texts come from and which ones are kept."""

    source: Literal["faker", "file"] = "faker"
    locales: tuple[str, ...] = ("en_US",)
    faker_kinds: tuple[
        Literal["sentence", "words", "name", "address", "company", "date", "number", "email"], ...
    ] = ("sentence",)
    path: str | None = None  # a UTF-8 text file, one text per line (source = "file")
    dataset_id: str | None = None  # the catalog dataset the file's texts came from (lineage)
    length_chars_range: tuple[int, int] = (4, 40)
    charset: str | None = None  # keep only these characters (spaces always kept)

    @field_validator("length_chars_range")
    @classmethod
    def _length(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, lo=1, hi=500)

    @field_validator("locales", "faker_kinds")
    @classmethod
    def _nonempty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("must list at least one value")
        return v

    @model_validator(mode="after")
    def _file_needs_path(self) -> TextSpec:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs text.path (a file with one text per line)")
        return self


class FontSpec(StrictModel):
    dir: str | None = None  # None: the embedded fonts
    styles: tuple[Literal[FONT_STYLES], ...] | None = None  # embedded fonts only; None: all
    # font file -> scripts it is not drawn in here (a preset's fonts a reader misreads there)
    not_for_scripts: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    size_px_range: tuple[int, int] = (24, 48)

    @field_validator("size_px_range")
    @classmethod
    def _size(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, lo=6, hi=400)

    @field_validator("not_for_scripts")
    @classmethod
    def _scripts(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        from synth.ocr.scripts import SCRIPTS

        for font, scripts in v.items():
            unknown = [s for s in scripts if s not in SCRIPTS]
            if unknown:
                raise ValueError(
                    f"{font}: unknown script '{unknown[0]}' (known: {', '.join(SCRIPTS)})"
                )
        return v


class BackgroundSpec(StrictModel):
    """A photo with ``photo_prob``; otherwise a procedural document (one of ``documents``,
    uniformly) with ``document_prob``; otherwise a generated fill (one of ``generated``)."""

    dir: str | None = None  # None: the embedded photos
    photo_prob: float = Prob
    generated: tuple[Literal[FILL_KINDS], ...] = FILL_KINDS
    document_prob: float = Field(0.0, ge=0.0, le=1.0)  # of the backgrounds that are not photos
    documents: tuple[Literal[DOCUMENT_KINDS], ...] = DOCUMENT_KINDS
    crop_scale_range: tuple[float, float] = (1.0, 2.0)  # photo crop size / output size

    @field_validator("crop_scale_range")
    @classmethod
    def _scale(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.1, hi=20.0)

    @model_validator(mode="after")
    def _some_source(self) -> BackgroundSpec:
        if self.photo_prob < 1.0 and self.document_prob < 1.0 and not self.generated:
            raise ValueError(
                "photo_prob < 1 and document_prob < 1 need at least one generated background kind"
            )
        if self.photo_prob < 1.0 and self.document_prob > 0.0 and not self.documents:
            raise ValueError("document_prob > 0 needs at least one document kind in documents")
        return self


class ColorSpec(StrictModel):
    """``min_contrast_ratio`` (WCAG) is what the text colour is chosen for, against the
    background under the line before any effect. ``min_char_contrast_ratio`` is the legibility
    floor: the worst character's contrast measured on the final image (after geometry, blur,
    noise and JPEG; see ``synth.ocr.legibility``); a sample under it is redrawn and counted
    (rejection ``illegible``). 1.0 measures and records without rejecting."""

    min_contrast_ratio: float = Field(3.0, ge=1.0, le=21.0)
    min_char_contrast_ratio: float = Field(1.0, ge=1.0, le=21.0)
    # On a document background: the chance that the text is a pen or print ink (black, grey,
    # blues, red, green) rather than any colour.
    ink_prob: float = Field(0.0, ge=0.0, le=1.0)


class GeometrySpec(StrictModel):
    padding_px_range: tuple[int, int] = (4, 16)
    prob: float = Prob  # chance that rotation, skew and perspective are applied at all
    rotation_deg_range: tuple[float, float] = (0.0, 0.0)
    skew_deg_range: tuple[float, float] = (0.0, 0.0)
    perspective_frac_range: tuple[float, float] = (0.0, 0.0)  # corner shift / line height
    scale_x_range: tuple[float, float] = (1.0, 1.0)  # horizontal scale (narrower/wider writing)

    @field_validator("padding_px_range")
    @classmethod
    def _pad(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, lo=0, hi=500)

    @field_validator("rotation_deg_range", "skew_deg_range")
    @classmethod
    def _angle(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=-45.0, hi=45.0)

    @field_validator("scale_x_range")
    @classmethod
    def _scale_x(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.3, hi=3.0)

    @field_validator("perspective_frac_range")
    @classmethod
    def _persp(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.0, hi=0.5)


class EffectsSpec(StrictModel):
    blur_prob: float = Prob
    blur_radius_px_range: tuple[float, float] = (0.3, 1.2)
    noise_prob: float = Prob
    noise_std_range: tuple[float, float] = (2.0, 8.0)  # Gaussian noise, in 8-bit grey levels
    jpeg_quality_range: tuple[int, int] = (90, 90)
    # Handwriting-like effects on the text layer (synth.ocr.handwriting); lengths are fractions
    # of the font size. Stroke: the ink dilated (positive) or eroded (negative) by a disk of
    # radius frac * size px. Elastic: a smooth random displacement field whose largest shift is
    # alpha and whose smoothness (Gaussian sigma) is sigma. Pen: ink lightness varied by up to
    # color_jitter 8-bit levels and opacity by up to pressure (a fraction), smoothly.
    stroke_prob: float = Field(0.0, ge=0.0, le=1.0)
    stroke_radius_frac_range: tuple[float, float] = (-0.03, 0.06)
    # Set: the stroke effect writes with a pen this wide (a fraction of the font size) instead,
    # dilating or eroding each font's strokes to it (stroke_radius_frac_range is then unused).
    stroke_width_frac_range: tuple[float, float] | None = None
    elastic_prob: float = Field(0.0, ge=0.0, le=1.0)
    elastic_alpha_frac_range: tuple[float, float] = (0.02, 0.08)
    elastic_sigma_frac_range: tuple[float, float] = (0.15, 0.35)
    pen_prob: float = Field(0.0, ge=0.0, le=1.0)
    pen_color_jitter_range: tuple[float, float] = (0.0, 40.0)
    pen_pressure_range: tuple[float, float] = (0.0, 0.4)

    @field_validator("blur_radius_px_range", "noise_std_range")
    @classmethod
    def _pos(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.0, hi=50.0)

    @field_validator("stroke_width_frac_range")
    @classmethod
    def _pen_width(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if v is None else _check_range(v, lo=0.01, hi=0.5)

    @field_validator("stroke_radius_frac_range")
    @classmethod
    def _stroke(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=-0.2, hi=0.3)

    @field_validator("elastic_alpha_frac_range", "elastic_sigma_frac_range")
    @classmethod
    def _elastic(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.0, hi=2.0)

    @field_validator("pen_color_jitter_range")
    @classmethod
    def _jitter(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.0, hi=255.0)

    @field_validator("pen_pressure_range")
    @classmethod
    def _pressure(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, lo=0.0, hi=1.0)

    @field_validator("jpeg_quality_range")
    @classmethod
    def _q(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, lo=1, hi=100)


class OutputSpec(StrictModel):
    format: Literal["jpeg", "png"] = "jpeg"


class OcrSpec(StrictModel):
    text: TextSpec = TextSpec()
    fonts: FontSpec = FontSpec()
    backgrounds: BackgroundSpec = BackgroundSpec(photo_prob=0.7)
    color: ColorSpec = ColorSpec()
    geometry: GeometrySpec = GeometrySpec(prob=0.0)
    effects: EffectsSpec = EffectsSpec(blur_prob=0.0, noise_prob=0.0)
    output: OutputSpec = OutputSpec()
    max_retries: int = Field(20, ge=1, le=1000)  # redraws of one sample before the build fails
    shard_size: int = Field(500, ge=1, le=100_000)


PRESETS: dict[str, dict[str, Any]] = {
    # Print fonts, dark-on-light or light-on-dark generated backgrounds, WCAG AAA contrast, no
    # distortion: lines any good OCR engine reads back exactly. The measured floor (WCAG AA for
    # body text) only catches a line JPEG or a rounding spoiled.
    "clean": {
        "fonts": {
            "styles": ["serif", "sans", "mono", "condensed"],
            "size_px_range": [28, 48],
            # Tesseract's Arabic misreads DejaVu Sans's Arabic (mean CER 0.32 against 0.06 for
            # Noto Sans Arabic, measured on 20 lines each): Noto draws the clean Arabic lines.
            "not_for_scripts": {"DejaVuSans.ttf": ["arabic"]},
        },
        "backgrounds": {"photo_prob": 0.0, "generated": ["flat", "gradient"]},
        "color": {"min_contrast_ratio": 7.0, "min_char_contrast_ratio": 4.5},
        "geometry": {"prob": 0.0, "padding_px_range": [6, 16]},
        "effects": {"blur_prob": 0.0, "noise_prob": 0.0, "jpeg_quality_range": [95, 95]},
    },
    # Realistic variety: every font style; backgrounds 35% photos, 45.5% documents (paper,
    # forms, receipts, scans, photographed pages), 19.5% flat, gradient and noise fills; mild
    # rotation, skew and perspective, some blur and sensor noise, a spread of JPEG qualities.
    # The legibility floor 1.7 (worst character, measured on the final image with a texture
    # penalty; see synth.ocr.legibility) removes lines a reader cannot read whole: characters
    # lost over a highlight, a pole or a star (measured 1.0-1.4), thin script on brick (~1.6);
    # at 1.7-2 lines read, if with effort.
    "default": {
        "text": {
            "faker_kinds": ["sentence", "words", "name", "address", "company", "date", "number"]
        },
        "fonts": {"size_px_range": [20, 56]},
        "backgrounds": {"photo_prob": 0.35, "document_prob": 0.7},
        "color": {"min_contrast_ratio": 3.0, "min_char_contrast_ratio": 1.7, "ink_prob": 0.7},
        "geometry": {
            "prob": 0.5,
            "padding_px_range": [2, 20],
            "rotation_deg_range": [-3.0, 3.0],
            "skew_deg_range": [-10.0, 10.0],
            "perspective_frac_range": [0.0, 0.15],
        },
        "effects": {
            "blur_prob": 0.3,
            "blur_radius_px_range": [0.3, 1.2],
            "noise_prob": 0.3,
            "noise_std_range": [2.0, 8.0],
            "jpeg_quality_range": [60, 95],
        },
    },
    # Lines on paper only: plain, lined and squared paper, forms, receipts, scanned and
    # photographed pages (synth.ocr.documents), no photos or fills; every font style, the
    # default's geometry and effects, and a higher floor, as printed or written pages read.
    "document": {
        "text": {
            "faker_kinds": ["sentence", "words", "name", "address", "company", "date", "number"]
        },
        "fonts": {"size_px_range": [20, 56]},
        "backgrounds": {"photo_prob": 0.0, "document_prob": 1.0, "generated": []},
        "color": {"min_contrast_ratio": 3.0, "min_char_contrast_ratio": 2.0, "ink_prob": 0.8},
        "geometry": {
            "prob": 0.5,
            "padding_px_range": [2, 20],
            "rotation_deg_range": [-3.0, 3.0],
            "skew_deg_range": [-10.0, 10.0],
            "perspective_frac_range": [0.0, 0.15],
        },
        "effects": {
            "blur_prob": 0.3,
            "blur_radius_px_range": [0.3, 1.2],
            "noise_prob": 0.3,
            "noise_std_range": [2.0, 8.0],
            "jpeg_quality_range": [60, 95],
        },
    },
    # Handwritten lines (digits, notes, forms filled in by hand): the handwriting and script
    # fonts, on paper, lined and squared pages, scans and plain fills, in a slanting, narrower
    # or wider hand (skew, rotation, horizontal scale), every line with a wider pen (stroke
    # dilation) and elastic distortion, most with pen ink and pressure (synth.ocr.handwriting).
    "handwriting": {
        "text": {"faker_kinds": ["sentence", "words", "name", "address", "date", "number"]},
        "fonts": {"styles": ["handwriting", "script"], "size_px_range": [28, 52]},
        "backgrounds": {
            "photo_prob": 0.0,
            "document_prob": 0.6,
            "documents": ["paper", "lined", "squared", "scan"],
            "generated": ["flat", "gradient"],
        },
        "color": {"min_contrast_ratio": 3.0, "min_char_contrast_ratio": 2.0, "ink_prob": 0.9},
        "geometry": {
            "prob": 1.0,
            "padding_px_range": [4, 16],
            "rotation_deg_range": [-8.0, 8.0],
            "skew_deg_range": [-20.0, 20.0],
            "perspective_frac_range": [0.0, 0.05],
            "scale_x_range": [0.6, 1.0],
        },
        "effects": {
            "blur_prob": 0.2,
            "blur_radius_px_range": [0.3, 0.9],
            "noise_prob": 0.2,
            "noise_std_range": [2.0, 6.0],
            "jpeg_quality_range": [75, 95],
            "stroke_prob": 1.0,
            "stroke_radius_frac_range": [0.0, 0.10],
            "elastic_prob": 1.0,
            "elastic_alpha_frac_range": [0.04, 0.14],
            "elastic_sigma_frac_range": [0.2, 0.5],
            "pen_prob": 0.6,
            "pen_color_jitter_range": [0.0, 40.0],
            "pen_pressure_range": [0.0, 0.4],
        },
    },
}


# Handwritten digits (examples/digits): the handwriting preset written in every Latin font,
# print ones too (their flagged 1s and tailed 9s are a hand's as well). Measured with the
# example's rbf SVC on scikit-learn's real handwritten digits: real test error 0.1002 at
# 16,351 characters, against 0.1297 for the handwriting preset at 19,632 (C = 10).
PRESETS["digits"] = deep_merge(
    PRESETS["handwriting"],
    {"fonts": {"styles": ["handwriting", "script", "sans", "serif", "condensed", "mono"]}},
)


def build_spec(
    preset: str = "default",
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    source: str = "config",
    labels: dict[str, str] | None = None,
) -> OcrSpec:
    """The preset, then a config file's values, then command-line overrides, validated strictly
    (``labels`` name the flags that set fields, for the error)."""
    if preset not in PRESETS:
        from synth.errors import ConfigError

        raise ConfigError(f"unknown preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
    data = deep_merge(PRESETS[preset], config or {})
    data = deep_merge(data, overrides or {})
    return validate(OcrSpec, data, source, labels=labels)
