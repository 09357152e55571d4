"""Geometric transforms of the text layer as one 3x3 homography, applied alike to pixels and boxes.

Boxes are moved with the same matrix as the pixels: each box's four corners are mapped, and its
axis-aligned box is the bounding box of the mapped quadrilateral, so it still encloses the ink.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Matrix = np.ndarray  # 3x3, float64


def translation(tx: float, ty: float) -> Matrix:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def homography_from_points(src: np.ndarray, dst: np.ndarray) -> Matrix:
    """The homography mapping four ``src`` points to four ``dst`` points (both 4x2)."""
    a = []
    b = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    h = np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def layer_homography(params: dict[str, Any], width: int, height: int) -> Matrix:
    """A horizontal scale (``scale_x``, when recorded: narrower or wider writing), horizontal
    skew (degrees) and rotation (degrees, counter-clockwise) about the layer's centre, then a
    perspective that moves each corner by the recorded fractions of the height."""
    cx, cy = width / 2, height / 2
    rot = math.radians(params["rotation_deg"])
    skew = math.tan(math.radians(params["skew_deg"]))
    c, s = math.cos(rot), math.sin(rot)
    affine = (
        translation(cx, cy)
        @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        @ np.array([[1.0, -skew, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        @ translation(-cx, -cy)
    )
    if "scale_x" in params:
        sx = float(params["scale_x"])
        affine = affine @ translation(cx, cy) @ np.diag([sx, 1.0, 1.0]) @ translation(-cx, -cy)
    shifts = params.get("perspective_shifts")
    if not shifts:
        return affine
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    moved = corners + np.asarray(shifts, dtype=np.float64) * height
    return affine @ homography_from_points(corners, moved)


def apply(m: Matrix, points: np.ndarray) -> np.ndarray:
    """Map an Nx2 array of points through homography ``m``."""
    p = np.hstack([points, np.ones((len(points), 1))]) @ m.T
    return p[:, :2] / p[:, 2:3]


def box_corners(box: list[float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def bounds(points: np.ndarray) -> list[float]:
    return [
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    ]


def pil_perspective_coeffs(m: Matrix) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data maps output pixels to input pixels: the inverse of ``m``."""
    inv = np.linalg.inv(m)
    inv = inv / inv[2, 2]
    return tuple(float(v) for v in inv.reshape(-1)[:8])
