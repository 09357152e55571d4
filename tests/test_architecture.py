"""House rules that keep the core honest: no Prefect in synth/, no global RNG in synth/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SYNTH = Path(__file__).resolve().parent.parent / "synth"


def _modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(SYNTH.parent).with_suffix("").parts)
        for p in SYNTH.rglob("*.py")
        if p.name != "__init__.py"
    )


def test_synth_never_imports_prefect():
    code = (
        "import importlib, sys\n"
        f"for m in {_modules()!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


_ALLOWED_NP_RANDOM = {"default_rng", "Generator", "SeedSequence", "PCG64"}


def test_no_global_random_state_in_synth():
    offenders = []
    for path in SYNTH.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                mod = getattr(node, "module", None)
                if "random" in names or mod == "random":
                    offenders.append(f"{path.name}:{node.lineno} imports random")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "random"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id in ("np", "numpy")
                and node.attr not in _ALLOWED_NP_RANDOM
            ):
                offenders.append(f"{path.name}:{node.lineno} np.random.{node.attr}")
    assert offenders == []
