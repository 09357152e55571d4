"""Backgrounds: random crops of photos (crop first, then resize), generated fills (flat,
gradient, noise) or procedural documents (paper, forms, receipts, scans: ``synth.ocr.documents``).

Each photo is decoded once per worker process and kept as RGB.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from synth.assets import embedded_dir, embedded_record
from synth.errors import AssetError
from synth.hashing import sha256_file
from synth.ocr import documents

FILL_KINDS = ("flat", "gradient", "noise")
DOCUMENT_KINDS = documents.KINDS
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
_MIN_SIDE_PX = 16


@dataclass
class Photo:
    id: str
    path: str
    sha256: str
    licence: str
    attribution: str
    image: Image.Image  # RGB, decoded once

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@dataclass
class BackgroundPool:
    photos: list[Photo]
    skipped: list[dict[str, str]]


def to_rgb(im: Image.Image) -> Image.Image:
    """An opened image as 8-bit RGB. 16- and 32-bit greyscale (``I;16``, ``I``) is scaled from
    its 16-bit range to 8 bits, not clipped (Pillow's own conversion turns anything above 255
    white); an image with transparency is composited over white, as a viewer shows it, so
    the colours hidden under transparent pixels never show."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.asarray(im, dtype=np.float64)
        grey = np.clip(wide / 257.0, 0, 255).round().astype(np.uint8)  # 65535 -> 255
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode == "F":
        grey = np.clip(np.asarray(im, dtype=np.float64), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def load_photo(path: Path) -> Photo:
    """Decode one photo fully to RGB (see ``to_rgb``); a truncated or non-image file raises
    AssetError."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = to_rgb(im)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as err:
        raise AssetError(path, f"not a readable image ({err})") from None
    if min(rgb.size) < _MIN_SIDE_PX:
        raise AssetError(path, f"image is {rgb.size[0]}x{rgb.size[1]} px, below {_MIN_SIDE_PX} px")
    record = embedded_record(path)
    return Photo(
        id=path.name,
        path=str(path),
        sha256=sha256_file(path),
        licence=record.licence if record else "unknown",
        attribution=record.attribution if record else "",
        image=rgb,
    )


def load_background_pool(bg_dir: str | None, needed: bool) -> BackgroundPool:
    """The usable photos of ``bg_dir`` (None: embedded), sorted by name; bad files are skipped and
    listed. A folder with no usable photo is an error when ``needed`` (photos will be drawn) or
    when the folder was named (``bg_dir`` given): a folder a user names is never ignored."""
    folder = embedded_dir("backgrounds") if bg_dir is None else Path(bg_dir).expanduser()
    if not folder.exists():
        raise AssetError(folder, "backgrounds folder not found")
    if not folder.is_dir():
        raise AssetError(folder, "not a folder (expected a folder of .jpg/.png images)")
    photos: list[Photo] = []
    skipped: list[dict[str, str]] = []
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as err:
        raise AssetError(folder, f"cannot list the backgrounds folder ({err.strerror})") from None
    for path in files:
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append({"file": str(path), "reason": "not an image file (by extension)"})
            continue
        try:
            photos.append(load_photo(path))
        except AssetError as err:
            skipped.append({"file": str(path), "reason": err.problem})
    if (needed or bg_dir is not None) and not photos:
        detail = (
            f" ({len(skipped)} file(s) skipped; {Path(skipped[0]['file']).name}: "
            f"{skipped[0]['reason']})"
            if skipped
            else " (it is empty)"
        )
        raise AssetError(folder, f"no usable background image in this folder{detail}")
    return BackgroundPool(photos, skipped)


def sample_photo_crop(
    photo: Photo, size: tuple[int, int], scale_range: tuple[float, float], rng: np.random.Generator
) -> list[int]:
    """A crop box ``[x0, y0, x1, y1]`` of the output's aspect ratio, ``scale`` times its size
    where the photo allows (smaller photos are upscaled from their largest such crop)."""
    w, h = size
    pw, ph = photo.size
    fit = min(pw / w, ph / h)  # the largest scale that fits in the photo
    lo, hi = scale_range
    scale = min(float(rng.uniform(lo, hi)), fit)
    cw = max(1, min(pw, round(w * scale)))
    ch = max(1, min(ph, round(h * scale)))
    x0 = int(rng.integers(0, pw - cw + 1))
    y0 = int(rng.integers(0, ph - ch + 1))
    return [x0, y0, x0 + cw, y0 + ch]


def render_photo(photo: Photo, crop: list[int], size: tuple[int, int]) -> Image.Image:
    region = photo.image.crop(tuple(crop))
    if region.size != size:
        region = region.resize(size, Image.Resampling.BILINEAR)
    return region


def sample_generated(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """Parameters of a generated background: colours as RGB 0-255 lists; a document kind's
    are drawn by ``synth.ocr.documents``."""
    if kind in DOCUMENT_KINDS:
        return documents.sample_document(kind, rng)

    def colour() -> list[int]:
        return rng.integers(0, 256, size=3).tolist()

    if kind == "flat":
        return {"kind": "flat", "color": colour()}
    if kind == "gradient":
        return {
            "kind": "gradient",
            "color_from": colour(),
            "color_to": colour(),
            "vertical": bool(rng.random() < 0.5),
        }
    if kind == "noise":
        return {
            "kind": "noise",
            "color": colour(),
            "std": round(float(rng.uniform(5, 40)), 3),
            "seed": int(rng.integers(0, 2**31 - 1)),
        }
    raise ValueError(f"unknown generated background kind {kind!r}")


def gradient_line(params: dict[str, Any], size: tuple[int, int]) -> np.ndarray:
    """The colours along a gradient background (n x 3, uint8, read-only): rows if vertical,
    else columns. Cached: a sample's draw and its rendering ask for the same line."""
    w, h = size
    n = h if params["vertical"] else w
    return _gradient_line(tuple(params["color_from"]), tuple(params["color_to"]), n)


@functools.lru_cache(maxsize=8)
def _gradient_line(start: tuple[int, ...], stop: tuple[int, ...], n: int) -> np.ndarray:
    a = np.asarray(start, dtype=np.float32)
    b = np.asarray(stop, dtype=np.float32)
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    line = (a + (b - a) * t).round().astype(np.uint8)
    line.flags.writeable = False
    return line


def render_generated(params: dict[str, Any], size: tuple[int, int]) -> Image.Image:
    w, h = size
    kind = params["kind"]
    if kind in DOCUMENT_KINDS:
        return Image.fromarray(documents.render_document(params, size), "RGB")
    if kind == "flat":
        return Image.new("RGB", size, tuple(params["color"]))
    if kind == "gradient":
        line = gradient_line(params, size)
        # a one-pixel strip stretched without interpolation: the same pixels, far cheaper
        strip = line[:, None, :] if params["vertical"] else line[None, :, :]
        return Image.fromarray(np.ascontiguousarray(strip), "RGB").resize(
            size, Image.Resampling.NEAREST
        )
    if kind == "noise":
        noise_rng = np.random.default_rng(params["seed"])
        base = np.asarray(params["color"], dtype=np.float32)
        arr = base + noise_rng.normal(0.0, params["std"], size=(h, w, 1)).astype(np.float32)
        return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "RGB")
    raise ValueError(f"unknown generated background kind {kind!r}")
