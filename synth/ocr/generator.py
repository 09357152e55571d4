"""The OCR generator: ``sample`` draws a recipe, ``render`` turns it into a JPEG/PNG and boxes.

Recipe (one per sample, JSON): text and where it came from; font id, sha256, size and layout
engine; padding; geometry (or ``{"applied": false}``); canvas size; background (photo id, sha256
and crop box, or generated parameters) and its luminance under the text; text colour with the
achieved contrast; effects; the worst character's contrast measured on the final image
(``legibility``); rejections counted by reason. ``render(recipe)`` is pure.
"""

from __future__ import annotations

import io
import json
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from synth.engine.generator import InputRef, Rendered, register_kind
from synth.errors import TooManyRejections
from synth.ocr import geometry as geo
from synth.ocr import handwriting
from synth.ocr.backgrounds import (
    DOCUMENT_KINDS,
    BackgroundPool,
    load_background_pool,
    render_generated,
    render_photo,
    sample_generated,
    sample_photo_crop,
)
from synth.ocr.bidi import visual_runs
from synth.ocr.color import generated_luminance_stats, luminance_stats, sample_text_color
from synth.ocr.fonts import (
    Font,
    FontPool,
    describe_chars,
    load_font_pool,
    main_script,
    needs_shaping,
)
from synth.ocr.glyphs import checked_line_mask, line_mask
from synth.ocr.layout import LineLayout, layout_line, layout_runs
from synth.ocr.legibility import measure as measure_legibility
from synth.ocr.spec import OcrSpec
from synth.ocr.text import TextSource
from synth.version import library_versions

_EXT = {"jpeg": ".jpg", "png": ".png"}

RENDERER_VERSION: int = 1
"""The OCR rendering's version, recorded in every recipe and in the dataset record. Bump it
with any change that renders a recipe to other bytes: verify then skips the re-render of older
datasets instead of calling them changed, and expand refuses to mix both renderings."""


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


@dataclass
class Composed:
    image: Image.Image
    mask: Image.Image | None  # the text's coverage (L), when asked for
    outputs: dict[str, Any]


class OcrGenerator:
    kind = "ocr"
    renderer_version = RENDERER_VERSION

    def __init__(self, spec: dict[str, Any] | OcrSpec) -> None:
        self.spec = spec if isinstance(spec, OcrSpec) else OcrSpec.model_validate(spec)
        self.texts = TextSource(self.spec.text)
        self.fonts: FontPool = load_font_pool(
            self.spec.fonts.dir, self.spec.fonts.styles, self.spec.fonts.not_for_scripts
        )
        self.texts.require_script_fonts(self.fonts)
        self.font_by_id: dict[str, Font] = {f.id: f for f in self.fonts.fonts}
        bg = self.spec.backgrounds
        self.backgrounds: BackgroundPool = load_background_pool(bg.dir, needed=bg.photo_prob > 0)
        self.photo_by_id = {p.id: p for p in self.backgrounds.photos}
        # The last layout and background drawn by sample(), reused by render() of that recipe.
        self._layout_memo: tuple[tuple, LineLayout] | None = None
        self._bg_memo: tuple[str, Image.Image] | None = None
        # The encoded image and outputs of the last recipe sample() accepted (its legibility
        # was measured on them), reused by render() of that same recipe.
        self._render_memo: tuple[str, bytes, dict[str, Any]] | None = None

    # -- lineage -------------------------------------------------------------------------------
    def inputs(self) -> list[InputRef]:
        refs = [
            InputRef("font", f.id, _uri(f.path), f.sha256, f.licence, f.attribution)
            for f in self.fonts.fonts
        ]
        if self.spec.backgrounds.photo_prob > 0:
            refs += [
                InputRef("background", p.id, _uri(p.path), p.sha256, p.licence, p.attribution)
                for p in self.backgrounds.photos
            ]
        t = self.spec.text
        if t.source == "file" and t.dataset_id:
            refs.append(
                InputRef(
                    "texts",
                    t.dataset_id[:12],
                    f"dataset:{t.dataset_id}",
                    t.dataset_id,
                    "see dataset",
                )
            )
        elif t.source == "file":
            path = self.texts.path
            refs.append(InputRef("texts", path.name, _uri(str(path)), self.texts.sha256, "unknown"))
        else:
            faker_version = library_versions()["faker"]
            for locale in t.locales:
                refs.append(
                    InputRef(
                        "texts",
                        f"faker:{locale}",
                        f"faker:{locale}?version={faker_version}",
                        "",
                        "MIT",
                        "Faker (joke2k/faker), generated text",
                    )
                )
            refs += _word_list_inputs(t.locales)
        return refs

    def skipped_inputs(
        self,
        rejections: dict[str, int] | None = None,
        counts: dict[str, dict[str, int]] | None = None,
    ) -> list[dict[str, str]]:
        """Font and photo files left out, and each text category (Faker kind or file) whose
        draws were rejected more than ``TEXT_REJECTED_WARN`` of the time: the lines it made are
        ``counts["text_kind"]``, its rejections ``text:<kind>:<reason>``."""
        return self.fonts.skipped + self.backgrounds.skipped + text_warnings(rejections, counts)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """Draw a recipe whose final image is legible: each candidate is rendered and its worst
        character's contrast measured; one under ``color.min_char_contrast_ratio`` is redrawn
        (counted as ``illegible``)."""
        floor = self.spec.color.min_char_contrast_ratio
        rejections: dict[str, int] = {}
        worst = None
        for _ in range(self.spec.max_retries):
            recipe = self._draw(index, rng, rejections)
            data, outputs, legibility = self._render_measured(recipe)
            recipe["legibility"] = legibility
            if legibility["min_contrast_ratio"] >= floor:
                self._render_memo = (_recipe_key(recipe), data, outputs)
                return recipe
            rejections["illegible"] = rejections.get("illegible", 0) + 1
            worst = legibility
        raise TooManyRejections(
            f"sample {index}: no draw was legible in {self.spec.max_retries} tries (the last "
            f"one's worst {worst['unit'] if worst else 'character'} had contrast "
            f"{worst['min_contrast_ratio'] if worst else '?'} < color.min_char_contrast_ratio "
            f"{floor}; lower it, or use plainer backgrounds and milder effects)"
        )

    def _render_measured(self, recipe: dict[str, Any]) -> tuple[bytes, dict[str, Any], dict]:
        """Render a recipe and measure its legibility on the image as written (decoded again
        when lossy), under the text's coverage."""
        composed = self.compose(recipe, want_mask=True)
        data = _encode(composed.image, recipe)
        if recipe["format"] == "jpeg":
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                final = np.asarray(im)  # RGB: the encoder was given RGB
        else:
            final = np.asarray(composed.image)
        coverage = np.asarray(composed.mask) if composed.mask is not None else None
        if coverage is None:
            raise RuntimeError("compose(want_mask=True) returned no mask")
        legibility = measure_legibility(final, coverage, composed.outputs)
        return data, composed.outputs, legibility

    def _draw(
        self, index: int, rng: np.random.Generator, rejections: dict[str, int]
    ) -> dict[str, Any]:
        spec = self.spec

        def reject(reason: str) -> None:
            rejections[reason] = rejections.get(reason, 0) + 1

        last_text = ""
        for _ in range(spec.max_retries):
            drawn = self.texts.draw(rng)
            kind = _text_kind(drawn.source)
            if drawn.text is None:
                reject(drawn.reason)
                reject(f"text:{kind}:{drawn.reason}")
                continue
            last_text = drawn.text
            planned = self.fonts.plan(drawn.text, rng)
            if planned is None:
                reject("no_font_can_draw_text")
                reject(f"text:{kind}:no_font_can_draw_text")
                continue
            font, runs = planned
            break
        else:
            raise TooManyRejections(self._explain_text_failure(index, rejections, last_text))

        text = drawn.text
        lo, hi = spec.fonts.size_px_range
        size = int(rng.integers(lo, hi + 1))
        layout_engine = "raqm" if needs_shaping(text) else "basic"
        font_runs = [
            {"id": f.id, "sha256": f.sha256, "start": start, "end": end} for f, start, end in runs
        ]
        lay = self._layout(text, font, size, layout_engine, _runs_key(font_runs))
        hand = None
        if handwriting.enabled(spec.effects):
            hand = handwriting.sample(spec.effects, size, rng)
            lay = handwriting.padded(lay, hand["margin_px"])

        g = spec.geometry
        pad = [
            int(v) for v in rng.integers(g.padding_px_range[0], g.padding_px_range[1] + 1, size=4)
        ]
        geometry: dict[str, Any] = {"applied": False}
        if g.prob > 0 and rng.random() < g.prob:
            frac = float(rng.uniform(*g.perspective_frac_range))
            shifts = rng.uniform(-frac, frac, size=(4, 2)) if frac > 0 else None
            geometry = {
                "applied": True,
                "rotation_deg": _r(rng.uniform(*g.rotation_deg_range)),
                "skew_deg": _r(rng.uniform(*g.skew_deg_range)),
                "perspective_shifts": (
                    [[_r(x), _r(y)] for x, y in shifts] if shifts is not None else None
                ),
            }
            if tuple(g.scale_x_range) != (1.0, 1.0):  # recorded only when the spec varies it
                geometry["scale_x"] = _r(rng.uniform(*g.scale_x_range))
        matrix, canvas = _placement(lay, geometry, pad)
        text_region = _text_region(lay, matrix, canvas)

        bg_spec = spec.backgrounds
        for _ in range(spec.max_retries):
            if self.backgrounds.photos and rng.random() < bg_spec.photo_prob:
                photo = self.backgrounds.photos[int(rng.integers(len(self.backgrounds.photos)))]
                background = {
                    "kind": "photo",
                    "id": photo.id,
                    "sha256": photo.sha256,
                    "crop": sample_photo_crop(photo, canvas, bg_spec.crop_scale_range, rng),
                }
            elif bg_spec.document_prob > 0 and rng.random() < bg_spec.document_prob:
                kind = bg_spec.documents[int(rng.integers(len(bg_spec.documents)))]
                background = sample_generated(kind, rng)
            else:
                kind = bg_spec.generated[int(rng.integers(len(bg_spec.generated)))]
                background = sample_generated(kind, rng)
            if background["kind"] in ("flat", "gradient"):  # exact, without drawing it
                stats = generated_luminance_stats(background, canvas, text_region)
            else:
                stats = luminance_stats(self._background(background, canvas).crop(text_region))
            ink = (
                spec.color.ink_prob > 0
                and background["kind"] in DOCUMENT_KINDS
                and bool(rng.random() < spec.color.ink_prob)
            )
            color = sample_text_color(stats, spec.color.min_contrast_ratio, rng, ink=ink)
            if color is not None:
                break
            reject("low_contrast_background")
        else:
            raise TooManyRejections(
                f"sample {index}: no background allowed contrast >= "
                f"{spec.color.min_contrast_ratio} after {spec.max_retries} draws "
                "(lower color.min_contrast_ratio or add plainer backgrounds)"
            )

        e = spec.effects
        blur: dict[str, Any] = {"applied": False}
        if e.blur_prob > 0 and rng.random() < e.blur_prob:
            blur = {"applied": True, "radius_px": _r(rng.uniform(*e.blur_radius_px_range), 3)}
        noise: dict[str, Any] = {"applied": False}
        if e.noise_prob > 0 and rng.random() < e.noise_prob:
            noise = {
                "applied": True,
                "std": _r(rng.uniform(*e.noise_std_range), 3),
                "seed": int(rng.integers(0, 2**31 - 1)),
            }
        quality = None
        if spec.output.format == "jpeg":
            quality = int(rng.integers(e.jpeg_quality_range[0], e.jpeg_quality_range[1] + 1))

        return {
            "index": index,
            "renderer_version": RENDERER_VERSION,
            "text": text,
            "text_source": drawn.source,
            "font": {"id": font.id, "sha256": font.sha256},
            "font_runs": font_runs,
            "font_size_px": size,
            "layout": layout_engine,
            "padding_px": pad,
            "geometry": geometry,
            "canvas_px": list(canvas),
            "background": background,
            "background_luminance": stats,
            "text_color": color,
            "effects": {
                "blur": blur,
                "noise": noise,
                "jpeg_quality": quality,
                **({"handwriting": hand} if hand is not None else {}),
            },
            "format": spec.output.format,
            "rejections": rejections,
        }

    def _explain_text_failure(self, index: int, rejections: dict[str, int], text: str) -> str:
        where = self.texts.path if self.texts.path else "text source"
        reasons = ", ".join(
            f"{k}={v}" for k, v in sorted(rejections.items()) if not k.startswith("text:")
        )
        detail = ""
        if text and "no_font_can_draw_text" in rejections:
            missing = self.fonts.missing(text)
            shown = (
                f"no font draws {describe_chars(missing)}"
                if missing
                else "each character exists in some font, but no font plan draws them all"
            )
            detail = f"; e.g. {text[:40]!r}: {shown}"
        return (
            f"{where}: sample {index}: no usable text in {self.spec.max_retries} draws "
            f"({reasons}){detail}"
        )

    # -- rendering -----------------------------------------------------------------------------
    def _layout(
        self, text: str, font: Font, size: int, engine: str, runs: tuple | None = None
    ) -> LineLayout:
        """The line's layout in ``font``, or in the font ``runs`` ((id, start, end), see
        ``_runs_key``) when there are several."""
        key = (text, font.id, size, engine, runs)
        if self._layout_memo is not None and self._layout_memo[0] == key:
            return self._layout_memo[1]
        if runs is None:
            lay = layout_line(
                text, font.get(size, engine), shaped=engine == "raqm", kerning=font.kern_table
            )
        else:
            lay = layout_runs(text, self._segments(text, runs, size, engine), engine == "raqm")
        self._layout_memo = (key, lay)
        return lay

    def _runs_glyphs(
        self, lay: LineLayout, text: str, runs: tuple, size: int, engine: str
    ) -> tuple[Image.Image, tuple[int, int]]:
        """A line in several fonts: its coverage and offset from the anchor (as
        ``_line_glyphs``). Unshaped lines come from the glyph cache, each character in its
        run's font; shaped runs are drawn by Pillow (raqm), each at its whole-pixel offset."""
        segments = self._segments(text, runs, size, engine)
        if lay.pens is not None:
            per_char = [obj for obj, start, end, _, _ in segments for _ in range(end - start)]
            left, top, right, bottom = bbox = lay.bbox
            if right <= left or bottom <= top:
                return Image.new("L", (1, 1), 0), (0, 0)
            ink = line_mask(per_char[0], text, lay.pens, bbox, fonts=per_char)
            return Image.fromarray(ink, "L"), (left, top)
        layer = Image.new("L", (lay.width, lay.height), 0)
        draw = ImageDraw.Draw(layer)
        ox, oy = lay.origin
        for (obj, start, end, _, direction), off in zip(
            segments, lay.run_offsets or (), strict=True
        ):
            draw.text(
                (ox + int(off), oy),
                text[start:end],
                fill=255,
                font=obj,
                anchor="ls",
                direction=direction,
            )
        return layer, (-ox, -oy)

    def _segments(
        self, text: str, runs: tuple, size: int, engine: str
    ) -> list[tuple[ImageFont.FreeTypeFont, int, int, bool, str | None]]:
        """The runs as ``layout_runs`` takes them: font object, start, end, kerning and
        direction, in visual order (a line with right-to-left letters is reordered)."""
        if any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text):
            ordered = visual_runs(text, list(runs))
        else:
            ordered = [(fid, start, end, None) for fid, start, end in runs]
        out = []
        for fid, start, end, direction in ordered:
            f = self.font_by_id[fid]
            out.append((f.get(size, engine), start, end, f.kern_table, direction))
        return out

    def _background(self, params: dict[str, Any], canvas: tuple[int, int]) -> Image.Image:
        key = repr((params, canvas))
        if self._bg_memo is not None and self._bg_memo[0] == key:
            return self._bg_memo[1].copy()
        if params["kind"] == "photo":
            img = render_photo(self.photo_by_id[params["id"]], params["crop"], canvas)
        else:
            img = render_generated(params, canvas)
        self._bg_memo = (key, img)
        return img.copy()

    def compose(self, recipe: dict[str, Any], want_mask: bool = False) -> Composed:
        """Draw a recipe: the image, the text coverage mask (if asked) and the boxes."""
        font = self.font_by_id[recipe["font"]["id"]]
        size = recipe["font_size_px"]
        engine = recipe["layout"]
        text = recipe["text"]
        runs = _runs_key(recipe.get("font_runs"))  # recipes from before fallbacks: one font
        lay = self._layout(text, font, size, engine, runs)
        hand = recipe["effects"].get("handwriting")  # recipes from before it: none
        if hand is not None:
            lay = handwriting.padded(lay, hand["margin_px"])
        matrix, canvas = _placement(lay, recipe["geometry"], recipe["padding_px"])
        if list(canvas) != recipe["canvas_px"]:
            raise ValueError(f"recipe canvas {recipe['canvas_px']} != layout {list(canvas)}")
        image = self._background(recipe["background"], canvas)
        color = tuple(recipe["text_color"]["rgb"])
        ftobj = font.get(size, engine)
        if runs is None:
            glyphs = _line_glyphs(lay, ftobj, text, check=self.spec.fonts.dir is not None)
        else:
            glyphs = self._runs_glyphs(lay, text, runs, size, engine)
        mask = None
        hand_applied = handwriting.is_applied(hand)
        if recipe["geometry"]["applied"] or hand_applied:
            layer = Image.new("L", (lay.width, lay.height), 0)
            if glyphs is not None:  # the same pixels as drawing the text (see synth.ocr.glyphs)
                ink, (dx, dy) = glyphs
                layer.paste(ink, (lay.origin[0] + dx, lay.origin[1] + dy))
            else:
                ImageDraw.Draw(layer).text(lay.origin, text, fill=255, font=ftobj, anchor="ls")
            colour = None
            if hand_applied:
                layer, colour, lay = handwriting.apply(layer, lay, hand, color)
            if recipe["geometry"]["applied"]:
                coeffs = geo.pil_perspective_coeffs(matrix)
                mask = layer.transform(
                    canvas, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
                )
                if colour is not None:
                    colour = colour.transform(
                        canvas, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
                    )
            else:
                mask = Image.new("L", canvas, 0)
                mask.paste(layer, (int(matrix[0, 2]), int(matrix[1, 2])))
                if colour is not None:
                    placed = Image.new("RGB", canvas, color)
                    placed.paste(colour, (int(matrix[0, 2]), int(matrix[1, 2])))
                    colour = placed
            if colour is None:
                image.paste(color, (0, 0, *canvas), mask)
            else:
                image.paste(colour, (0, 0), mask)
        else:
            at = (matrix[0, 2] + lay.origin[0], matrix[1, 2] + lay.origin[1])
            whole = at[0] == int(at[0]) and at[1] == int(at[1])
            if glyphs is not None and whole:
                ink, (dx, dy) = glyphs
                corner = (int(at[0]) + dx, int(at[1]) + dy)
                image.paste(color, corner, ink)
                if want_mask:
                    mask = Image.new("L", canvas, 0)
                    mask.paste(ink, corner)
            else:
                ImageDraw.Draw(image).text(at, text, fill=color, font=ftobj, anchor="ls")
                if want_mask:
                    mask = Image.new("L", canvas, 0)
                    ImageDraw.Draw(mask).text(at, text, fill=255, font=ftobj, anchor="ls")
        fx = recipe["effects"]
        if fx["blur"]["applied"]:
            image = image.filter(ImageFilter.GaussianBlur(fx["blur"]["radius_px"]))
        if fx["noise"]["applied"]:
            noise_rng = np.random.default_rng(fx["noise"]["seed"])
            arr = np.asarray(image, dtype=np.float32)
            arr = arr + noise_rng.normal(0.0, fx["noise"]["std"], size=(*arr.shape[:2], 1))
            image = Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "RGB")
        return Composed(image, mask, _boxes(lay, matrix, canvas, recipe["geometry"]["applied"]))

    def render(self, recipe: dict[str, Any], stem: str) -> Rendered:
        memo = self._render_memo
        if memo is not None and memo[0] == _recipe_key(recipe):
            data, outputs = memo[1], memo[2]
        else:
            composed = self.compose(recipe)
            data, outputs = _encode(composed.image, recipe), composed.outputs
        file_name = stem + _EXT[recipe["format"]]
        bg = recipe["background"]
        row = {
            "file_name": file_name,
            "text": recipe["text"],
            "font": recipe["font"]["id"],
            "font_size_px": recipe["font_size_px"],
            "background": bg["id"] if bg["kind"] == "photo" else f"generated:{bg['kind']}",
            "width": recipe["canvas_px"][0],
            "height": recipe["canvas_px"][1],
            "contrast_ratio": recipe["text_color"]["contrast_ratio"],
            "background_kind": bg["kind"],
            "min_char_contrast_ratio": _legibility(recipe),
        }
        return Rendered({file_name: data}, row, outputs)

    def card_notes(self) -> list[str]:
        """The dataset card's paragraph on the images and their labels."""
        return [
            f"Images: one text line each, {self.spec.output.format.upper()}; `text` is exactly "
            "what is drawn, and `recipes.jsonl` holds each line's character, word and line "
            "boxes in image pixels."
        ]

    def preview(self, out_dir: Path, records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
        """Write the contact sheet of the first samples, then one per script and one per
        background kind (``synth.ocr.sheets``); returns their (relative path, caption)."""
        from synth.engine.card import preview_dir
        from synth.ocr.sheets import contact_sheet, variety_sheets

        path = preview_dir(out_dir) / "preview.jpg"
        path.write_bytes(contact_sheet(out_dir, records))
        return [
            (path.relative_to(out_dir).as_posix(), "the first samples"),
            *variety_sheets(out_dir),
        ]

    def describe(self, recipe: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        bg = recipe["background"]
        fx = recipe["effects"]
        return {
            "font": recipe["font"]["id"],
            "font_fallback": _fallback_note(recipe),
            "text_kind": _text_kind(recipe["text_source"]),
            "script": main_script(recipe["text"]),
            "background": bg["id"] if bg["kind"] == "photo" else f"generated:{bg['kind']}",
            "layout": recipe["layout"],
            "boxes": outputs["boxes_note"],
            "text_polarity": recipe["text_color"]["polarity"],
            "geometry": "applied" if recipe["geometry"]["applied"] else "none",
            "blur": "applied" if fx["blur"]["applied"] else "none",
            "noise": "applied" if fx["noise"]["applied"] else "none",
            **_hand_stats(fx.get("handwriting")),
            "contrast_ratio": recipe["text_color"]["contrast_ratio"],
            "background_kind": bg["kind"],
            "min_char_contrast_ratio": _legibility(recipe),
            "font_size_px": recipe["font_size_px"],
            "text_length_chars": len(recipe["text"]),
            "width_px": recipe["canvas_px"][0],
            "height_px": recipe["canvas_px"][1],
            "jpeg_quality": fx["jpeg_quality"],
        }


def _hand_stats(hand: dict[str, Any] | None) -> dict[str, str]:
    """The handwriting effects a line had, for the dataset's statistics (none before them)."""
    if hand is None:
        return {}
    return {f"hand_{k}": "applied" if hand[k]["applied"] else "none" for k in handwriting.KINDS}


def _recipe_key(recipe: dict[str, Any]) -> str:
    return json.dumps(recipe, sort_keys=True, separators=(",", ":"))


def _encode(image: Image.Image, recipe: dict[str, Any]) -> bytes:
    """The image file's bytes in the recipe's format."""
    buf = io.BytesIO()
    if recipe["format"] == "jpeg":
        image.save(buf, "JPEG", quality=recipe["effects"]["jpeg_quality"])
    else:
        image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _legibility(recipe: dict[str, Any]) -> float:
    """The recipe's measured worst-character contrast (recipes made before it was measured
    have none: their minimum is unknown, shown as 0)."""
    leg = recipe.get("legibility")
    return leg["min_contrast_ratio"] if leg else 0.0


def _line_glyphs(
    lay: LineLayout, font: ImageFont.FreeTypeFont, text: str, check: bool = False
) -> tuple[Image.Image, tuple[int, int]] | None:
    """An unshaped line's coverage from cached glyph bitmaps and its offset from the anchor;
    None (drawn by Pillow) for a shaped line, one without ink, or, with ``check`` (fonts from
    a user's folder), a font whose first line did not come out as Pillow draws it."""
    if lay.pens is None:
        return None
    left, top, right, bottom = bbox = lay.bbox
    if right <= left or bottom <= top:
        return None
    ink = (checked_line_mask if check else line_mask)(font, text, lay.pens, bbox)
    if ink is None:
        return None
    return Image.fromarray(ink, "L"), (left, top)


TEXT_REJECTED_WARN = 0.10  # share of a text category's draws rejected before a build warns


def text_warnings(
    rejections: dict[str, int] | None, counts: dict[str, dict[str, int]] | None
) -> list[dict[str, str]]:
    """One entry per text category rejected for more than ``TEXT_REJECTED_WARN`` of its draws
    (a build of lines in one script that silently lost its sentences or addresses)."""
    made = (counts or {}).get("text_kind", {})
    rejected: dict[str, dict[str, int]] = {}
    for key, k in (rejections or {}).items():
        if key.startswith("text:"):
            _, kind, reason = key.split(":", 2)
            rejected.setdefault(kind, {})[reason] = k
    out = []
    for kind in sorted(rejected):
        bad = sum(rejected[kind].values())
        draws = bad + made.get(kind, 0)
        if draws and bad / draws > TEXT_REJECTED_WARN:
            why = ", ".join(f"{r}={k}" for r, k in sorted(rejected[kind].items()))
            out.append(
                {
                    "file": f"text kind '{kind}'",
                    "reason": f"{bad} of {draws} draws rejected ({bad / draws:.0%}: {why})",
                }
            )
    return out


def _text_kind(source: dict[str, Any]) -> str:
    """A text's category: its Faker kind, or ``file``."""
    return source.get("faker_kind", source["kind"])


def _fallback_note(recipe: dict[str, Any]) -> str:
    """``none``, or the fallback fonts of a line drawn in several (``+``-joined, sorted)."""
    runs = recipe.get("font_runs") or []
    primary = recipe["font"]["id"]
    others = sorted({r["id"] for r in runs} - {primary})
    return "+".join(others) if others else "none"


def _runs_key(font_runs: list[dict[str, Any]] | None) -> tuple | None:
    """A recipe's ``font_runs`` as ((id, start, end), ...), or None for a line in one font."""
    if not font_runs or len(font_runs) == 1:
        return None
    return tuple((r["id"], r["start"], r["end"]) for r in font_runs)


def _word_list_inputs(locales: Iterable[str]) -> list[InputRef]:
    """The embedded word lists the locales' sentences and words are drawn from (languages no
    Faker lorem writes in their script), once each, with their hash and licence: the words
    are in the labels, so the list's licence is the dataset's too."""
    from synth.assets import manifest
    from synth.ocr.text import lorem_words

    refs: dict[str, InputRef] = {}
    for locale in locales:
        _, source = lorem_words(locale)
        rel = source.removeprefix("asset:")
        if rel != source and rel not in refs:
            rec = manifest()[rel]
            refs[rel] = InputRef("texts", rel, source, rec.sha256, rec.licence, rec.attribution)
    return list(refs.values())


def _uri(path: str) -> str:
    from synth.assets import embedded_record

    record = embedded_record(path)
    return f"asset:{record.path}" if record else f"file://{path}"


def _placement(lay: LineLayout, geometry: dict[str, Any], pad: list[int]):
    """The matrix from text-layer to canvas pixels, and the canvas size (w, h)."""
    if geometry["applied"]:
        h = geo.layer_homography(geometry, lay.width, lay.height)
        corners = geo.apply(h, geo.box_corners([0, 0, lay.width, lay.height]))
        x0, y0, x1, y1 = geo.bounds(corners)
        matrix = geo.translation(pad[0] - x0, pad[1] - y0) @ h
        canvas = (math.ceil(x1 - x0) + pad[0] + pad[2], math.ceil(y1 - y0) + pad[1] + pad[3])
    else:
        matrix = geo.translation(pad[0], pad[1])
        canvas = (lay.width + pad[0] + pad[2], lay.height + pad[1] + pad[3])
    return matrix, canvas


def _text_region(lay: LineLayout, matrix: np.ndarray, canvas: tuple[int, int]):
    if _is_translation(matrix):  # the same numbers as the general mapping (see _map_boxes)
        tx, ty = float(matrix[0, 2]), float(matrix[1, 2])
        lx0, ly0, lx1, ly1 = lay.line_box
        x0, y0, x1, y1 = lx0 + tx, ly0 + ty, lx1 + tx, ly1 + ty
    else:
        x0, y0, x1, y1 = geo.bounds(geo.apply(matrix, geo.box_corners(lay.line_box)))
    w, h = canvas
    box = (
        max(0, math.floor(x0)),
        max(0, math.floor(y0)),
        min(w, math.ceil(x1)),
        min(h, math.ceil(y1)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return (0, 0, w, h)
    return box


def _is_translation(matrix: np.ndarray) -> bool:
    return bool(
        matrix[0, 0] == 1.0
        and matrix[1, 1] == 1.0
        and matrix[2, 2] == 1.0
        and matrix[0, 1] == 0.0
        and matrix[1, 0] == 0.0
        and matrix[2, 0] == 0.0
        and matrix[2, 1] == 0.0
    )


def _map_boxes(matrix: np.ndarray, boxes: list[list[float]], canvas: tuple[int, int], quad: bool):
    """Map boxes ``[x0, y0, x1, y1]`` through ``matrix`` in one go: the enclosing pixel box of
    each mapped quadrilateral (clipped to the canvas) and, if asked, the quadrilaterals."""
    if not boxes:
        return [], ([] if quad else None)
    if not quad and _is_translation(matrix):
        # x*1 + y*0 + tx over a weight of exactly 1.0 is x + tx: the same numbers as the general
        # path below, without its dozen array operations (most lines are not warped).
        tx, ty = float(matrix[0, 2]), float(matrix[1, 2])
        w, h = canvas
        floor, ceil = math.floor, math.ceil
        out = []
        for x0, y0, x1, y1 in boxes:
            a, b, c, d = floor(x0 + tx), floor(y0 + ty), ceil(x1 + tx), ceil(y1 + ty)
            out.append([a if a > 0 else 0, b if b > 0 else 0, c if c < w else w, d if d < h else h])
        return out, None
    b = np.asarray(boxes, dtype=np.float64)
    n = len(b)
    xs = b[:, [0, 2, 2, 0]]  # corners (x0,y0) (x1,y0) (x1,y1) (x0,y1), as geo.box_corners
    ys = b[:, [1, 1, 3, 3]]
    pts = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(-1, 3) @ matrix.T
    pts = (pts[:, :2] / pts[:, 2:3]).reshape(n, 4, 2)
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    w, h = canvas
    aabb = np.stack(
        [
            np.maximum(0, np.floor(lo[:, 0])),
            np.maximum(0, np.floor(lo[:, 1])),
            np.minimum(w, np.ceil(hi[:, 0])),
            np.minimum(h, np.ceil(hi[:, 1])),
        ],
        axis=1,
    ).astype(np.int64)
    quads = None
    if quad:
        quads = [[[round(x, 2), round(y, 2)] for x, y in q] for q in pts.tolist()]
    return aabb.tolist(), quads


def _boxes(lay: LineLayout, matrix: np.ndarray, canvas: tuple[int, int], warped: bool):
    """Character, word and line boxes in canvas pixels ([x0, y0, x1, y1], x1/y1 exclusive),
    plus quadrilaterals when the layer was warped."""
    out: dict[str, Any] = {"boxes_note": lay.boxes_note}
    (line,), line_quads = _map_boxes(matrix, [lay.line_box], canvas, warped)
    out["line_box"] = line
    chars = None
    if lay.char_boxes is not None:
        inked = [i for i, b in enumerate(lay.char_boxes) if b is not None]
        mapped, _ = _map_boxes(matrix, [lay.char_boxes[i] for i in inked], canvas, False)
        chars = [None] * len(lay.char_boxes)
        for i, box in zip(inked, mapped, strict=True):
            chars[i] = box
    out["char_boxes"] = chars
    words, word_quads = (None, None)
    if lay.word_boxes is not None:
        words, word_quads = _map_boxes(matrix, lay.word_boxes, canvas, warped)
    out["word_boxes"] = words
    if warped:
        out["line_quad"] = line_quads[0]
        out["word_quads"] = word_quads
    return out


register_kind("ocr", OcrGenerator)
