"""Write the digits example's inputs: scikit-learn's real handwritten digits as an imagefolder,
and a file of random digit lines for ``synth ocr --texts``.

``python examples/digits/prepare.py OUT [--lines N] [--seed S]`` writes

- ``OUT/real-digits/``: the 1,797 images of ``sklearn.datasets.load_digits`` (the test set of
  the UCI optical recognition of handwritten digits data, CC-BY-4.0, bundled in the wheel: no
  download) as 8x8 greyscale PNGs, ink dark on white, the pixel ``255 - round(v * 255 / 16)``
  for the 0..16 intensity ``v`` (``train.py`` reads ``v`` back exactly), with ``metadata.jsonl``
  rows ``{"file_name", "text", "label"}``: ready for
  ``synth datasets import OUT/real-digits --kind ocr --licence CC-BY-4.0``;
- ``OUT/digit-lines.txt``: ``N`` lines (default 5,000) of 3 to 8 random digits separated by a
  space, one line per text, for ``synth ocr --texts``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

LICENCE = "CC-BY-4.0"  # UCI ML repository, optdigits (the data load_digits ships)


def write_real_digits(out: Path) -> int:
    """The bundled real digits as an imagefolder in ``out``; returns how many."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (255 - np.rint(digits.images * (255 / 16))).clip(0, 255).astype(np.uint8)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (img, label) in enumerate(zip(images, digits.target, strict=True)):
        name = f"images/{i:04d}.png"
        Image.fromarray(img, "L").save(out / name)
        rows.append({"file_name": name, "text": str(int(label)), "label": int(label)})
    with open(out / "metadata.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return len(rows)


def write_digit_lines(path: Path, count: int, seed: int) -> None:
    """``count`` lines of 3..8 uniformly random digits, space-separated (digits written apart,
    as on a form: each character's box holds one digit)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(count):
            n = int(rng.integers(3, 9))
            f.write(" ".join(str(int(d)) for d in rng.integers(0, 10, size=n)) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--lines", type=int, default=5000, help="digit lines (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the digit lines")
    args = parser.parse_args(argv)
    if args.lines < 1:
        print("prepare.py: error: --lines must be at least 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = write_real_digits(out / "real-digits")
    write_digit_lines(out / "digit-lines.txt", args.lines, args.seed)
    print(f"real_digits={n} path={out / 'real-digits'} licence={LICENCE}")
    print(f"digit_lines={args.lines} path={out / 'digit-lines.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
