"""The code version recorded in every dataset: package version, plus the git commit in a checkout.

Library versions that change output bytes (Pillow's codecs, numpy's generators, Faker's word
lists, libsndfile) are part of the fingerprint too, so a dataset id never silently survives an
upgrade that changes its files.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

import synth

_OUTPUT_LIBRARIES = ("numpy", "pillow", "faker", "soundfile", "librosa")


@cache
def code_version() -> str:
    """``"0.1.0"`` from a wheel; ``"0.1.0+g<sha>"`` (``.dirty`` when modified) in a git checkout."""
    version = synth.__version__
    root = Path(synth.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return version
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "synth",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}" + (".dirty" if dirty else "")


@cache
def library_versions() -> dict[str, str]:
    out = {}
    for name in _OUTPUT_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out
