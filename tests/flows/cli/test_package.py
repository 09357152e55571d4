"""The ``flows.cli`` package keeps its shape: no import cycles between its modules (imports
inside functions count), Prefect and the Prefect flows are never imported at module level, and
``--help`` and the catalog commands run without importing Prefect at all."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import flows.cli

PACKAGE = Path(flows.cli.__file__).resolve().parent
# Modules of flows/ that import Prefect when imported.
_PREFECT_MODULES = ("flows.build", "flows.serve", "flows.ocr", "flows.speech", "flows.expand",
                    "flows.diagnose")  # fmt: skip


def _name(path: Path) -> str:
    return "flows.cli" if path.name == "__init__.py" else f"flows.cli.{path.stem}"


def _imports(node: ast.AST, package: str) -> list[str]:
    """Every module an import statement under ``node`` names (``from a import b`` names ``a``
    and, when it is one, the sub-module ``a.b``)."""
    out: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            out += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:  # relative: resolve against the package
                base = ".".join([*package.split(".")[: len(package.split(".")) - n.level + 1],
                                 *([base] if base else [])])  # fmt: skip
            out.append(base)
            out += [f"{base}.{a.name}" for a in n.names]
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_name(p): p for p in PACKAGE.glob("*.py")}
    return {
        name: {m for m in _imports(ast.parse(path.read_text()), "flows.cli") if m in modules}
        - {name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_the_package_has_the_command_group_modules():
    names = sorted(p.name for p in PACKAGE.glob("*.py"))
    core = ["__init__.py", "__main__.py", "args.py", "config.py", "output.py"]
    assert set(core) <= set(names)
    assert {"build.py", "datasets.py", "ops.py", "runs.py"} <= set(names)
    # every other module is a command group, registered by the package's __init__
    init = (PACKAGE / "__init__.py").read_text()
    for name in sorted(set(names) - set(core)):
        text = (PACKAGE / name).read_text()
        assert "def register" in text, name
        assert f"{name[:-3]}.register" in init, name
    assert not (PACKAGE.parent / "cli.py").exists()
    assert not (PACKAGE.parent / "cli_ops.py").exists()


def test_no_import_cycles_in_the_package_function_level_imports_included():
    graph = _graph()
    assert _cycle(graph) is None, _cycle(graph)
    # The modules below the top never import the package itself (its __init__ assembles them).
    below = {n: d for n, d in graph.items() if n not in ("flows.cli", "flows.cli.__main__")}
    assert all("flows.cli" not in deps for deps in below.values()), below
    assert graph["flows.cli.datasets"] == {"flows.cli.args", "flows.cli.output"}
    assert graph["flows.cli.output"] == set()


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_prefect_or_a_prefect_flow_at_module_level():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for stmt in tree.body:  # module level, including top-level if/try blocks
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for mod in _imports(stmt, "flows.cli"):
                if mod.split(".")[0] == "prefect" or mod.startswith(_PREFECT_MODULES):
                    offenders.append(f"{path.name}: {mod}")
    assert offenders == []


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYNTH_HOME": str(tmp_path / "home")}
    env.pop("SYNTH_CATALOG_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=120,
    )  # fmt: skip


def test_help_and_the_catalog_commands_never_import_prefect(tmp_path):
    code = (
        "import contextlib, io, sys\n"
        "import flows.cli.args, flows.cli.build, flows.cli.config, flows.cli.datasets\n"
        "import flows.cli.ops, flows.cli.output\n"
        "from flows.cli import main\n"
        "codes = []\n"
        "for argv in (['datasets', 'list', '--json'], ['datasets', 'show', 'abcd'],\n"
        "             ['diagnose', '--human-error', '1', '--train-error', '2', '--val-error',\n"
        "              '3'], ['--help'], ['ocr', '--help'], ['serve', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), \\\n"
        "            contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            codes.append(main(argv))\n"
        "        except SystemExit as e:\n"
        "            codes.append(e.code)\n"
        "print(codes, sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\n"
    )
    proc = _run(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 2, 0, 0, 0, 0] []"


def test_python_m_flows_cli_reports_a_command_s_error_in_one_line(tmp_path):
    # Run as __main__, the package's error class is still the one main() catches.
    env = {**os.environ, "SYNTH_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "diagnose", "--count", "5", "--human-error", "1",
         "--train-error", "2", "--val-error", "9"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "synth: error: --count needs --expand ID\n"
