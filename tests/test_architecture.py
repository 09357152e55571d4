"""House rules that keep the code honest: no Prefect in synth/, no global RNG in synth/, no import
cycles in synth/ and flows/."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

SYNTH = Path(__file__).resolve().parent.parent / "synth"
ROOT = SYNTH.parent


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


# -- import cycles ------------------------------------------------------------------------------
_MAX_CYCLES = 200  # enough to show; the search would grow fast in a tangled graph


def _module_files(root: Path) -> dict[str, Path]:
    """Every module under synth/ and flows/ by dotted name (a package by its ``__init__``)."""
    files = {}
    for top in ("synth", "flows"):
        for path in (root / top).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports anywhere in its file: at module level, in
    functions and under ``if TYPE_CHECKING`` alike. ``from pkg import name`` is an import of
    ``pkg.name`` when that is a module, else of ``pkg``; relative imports are resolved. The
    parent packages Python imports implicitly on the way to a module are not counted."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in known:  # import a.b.c where only a.b is ours
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    found.add(f"{source}.{alias.name}")
                elif source in known:
                    found.add(source)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports, for synth/ and flows/."""
    files = _module_files(root)
    known = set(files)
    return {module: _imported(module, path, known) for module, path in sorted(files.items())}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle once, starting and ending at its smallest node."""
    order = sorted(graph)
    cycles: list[list[str]] = []

    def walk(start: str, node: str, path: list[str], allowed: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if len(cycles) >= _MAX_CYCLES:
                return
            if nxt == start:
                cycles.append([*path, start])
            elif nxt in allowed and nxt not in path:
                walk(start, nxt, [*path, nxt], allowed)

    for i, start in enumerate(order):
        walk(start, start, [start], set(order[i + 1 :]))
    return cycles


def _unit(module: str) -> str:
    """The part of synth/ or flows/ a module belongs to: its subpackage, or itself."""
    return ".".join(module.split(".")[:2])


def import_cycles(root: Path = ROOT) -> list[str]:
    """Cycles between modules, then cycles between the subpackages of synth/ and flows/ (which
    a module-level view misses: ``engine.build`` -> ``lineage.openlineage`` ->
    ``engine.plan`` ties engine and lineage to each other), each as ``a -> b -> a``."""
    graph = import_graph(root)
    found = [" -> ".join(cycle) for cycle in _cycles(graph)]
    packages = {m for m, p in _module_files(root).items() if p.name == "__init__.py"}
    units: dict[str, set[str]] = {_unit(m): set() for m in graph}
    why: dict[tuple[str, str], str] = {}
    for module, targets in graph.items():
        for target in sorted(targets):
            a, b = _unit(module), _unit(target)
            if a != b:
                units[a].add(b)
                why.setdefault((a, b), f"{module} imports {target}")
    for cycle in _cycles(units):
        if not packages.intersection(cycle):
            continue  # plain modules only: the module-level cycle above shows it
        hops = "; ".join(why[a, b] for a, b in itertools.pairwise(cycle))
        found.append(f"{' -> '.join(cycle)} (packages: {hops})")
    return found


def test_the_import_graph_resolves_relative_and_submodule_imports(tmp_path):
    """The graph builder itself, on a small tree: relative imports, ``from pkg import module``,
    ``import a.b.c``, a function-level import, and a cycle between two subpackages."""
    files = {
        "synth/__init__.py": "",
        "synth/a/__init__.py": "from synth.a.x import f\n",
        "synth/a/x.py": "from . import y\nfrom .y import g\ndef f():\n    from synth.b import z\n",
        "synth/a/y.py": "import synth.b.z\nfrom synth.b import missing\nimport numpy\n",
        "synth/b/__init__.py": "",
        "synth/b/z.py": "from ..a import x\n",
        "flows/__init__.py": "",
        "flows/m.py": "from synth.a import y, f\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["synth.a"] == {"synth.a.x"}
    assert graph["synth.a.x"] == {"synth.a.y", "synth.b.z"}
    assert graph["synth.a.y"] == {"synth.b.z", "synth.b"}
    assert graph["synth.b.z"] == {"synth.a.x"}
    assert graph["flows.m"] == {"synth.a.y", "synth.a"}
    assert import_cycles(tmp_path) == [
        "synth.a.x -> synth.a.y -> synth.b.z -> synth.a.x",
        "synth.a.x -> synth.b.z -> synth.a.x",
        "synth.a -> synth.b -> synth.a (packages: synth.a.x imports synth.b.z; "
        "synth.b.z imports synth.a.x)",
    ]


def test_no_import_cycles():
    """synth/ and flows/ import in one direction only: a cycle, even through an import inside a
    function, makes modules that cannot be read, tested or moved one at a time."""
    cycles = import_cycles()
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
