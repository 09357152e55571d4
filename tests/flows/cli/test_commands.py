"""The ``synth`` command as a user runs it: a real process, a real Prefect server.

One small dataset is built once for the module (6 images, one shard) and read by the tests that
follow; the test that damages it puts every byte back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from flows.cli import build_parser
from synth.catalog import open_catalog
from synth.ocr.generator import OcrGenerator
from synth.ocr.spec import build_spec
from tests.conftest import synth_cmd

pytestmark = pytest.mark.slow

OCR_ARGS = ("ocr", "--count", "6", "--seed", "3", "--preset", "clean", "--json")


class Synth:
    """Runs ``synth`` in a subprocess with one data root (``$SYNTH_HOME``)."""

    def __init__(self, home: Path, api_url: str | None) -> None:
        self.home = home
        self.env = {**os.environ, "SYNTH_HOME": str(home)}
        if api_url:
            self.env["PREFECT_API_URL"] = api_url

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*synth_cmd(), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )

    def json(self, *args: str, code: int = 0) -> dict:
        proc = self(*args, "--json")
        assert proc.returncode == code, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, proc.stdout  # exactly one JSON object on stdout
        return json.loads(lines[0])


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def synth(prefect_api, tmp_path_factory) -> Synth:
    return Synth(tmp_path_factory.mktemp("cli-home"), prefect_api)


@pytest.fixture(scope="module")
def built(synth: Synth) -> tuple[subprocess.CompletedProcess, dict]:
    """``synth ocr --json`` run once: the process and its parsed output."""
    proc = synth(*OCR_ARGS)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(proc.stdout)


def test_ocr_json_prints_one_object_describing_the_dataset(synth, built):
    proc, out = built
    _no_traceback(proc)
    assert len(proc.stdout.splitlines()) == 1
    assert len(out["id"]) == 64 and int(out["id"], 16) >= 0
    assert out["count"] == 6 and out["kind"] == "ocr" and out["name"] == "ocr-clean"
    assert out["new"] is True
    assert (out["rendered_shards"], out["skipped_shards"]) == (1, 0)
    assert out["skipped_inputs"] == []
    path = Path(out["path"])
    assert path.parent == synth.home / "datasets"
    info = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
    assert (info["id"], info["count"], info["seed"]) == (out["id"], 6, 3)
    assert len(list(path.glob("shard-*/*.jpg"))) == 6
    rows = (path / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 6


def test_the_same_command_twice_registers_once(synth, built):
    _, first = built
    again = synth.json(*OCR_ARGS[:-1])
    assert again["new"] is False
    assert (again["id"], again["path"]) == (first["id"], first["path"])
    assert (again["rendered_shards"], again["skipped_shards"]) == (0, 1)
    listed = synth.json("datasets", "list")
    assert [d["id"] for d in listed["datasets"]] == [first["id"]]


def test_datasets_list_json_and_table(synth, built):
    _, out = built
    [row] = synth.json("datasets", "list")["datasets"]
    assert row["id"] == out["id"] and row["path"] == out["path"]
    assert (row["name"], row["kind"], row["count"], row["trigger"]) == (
        "ocr-clean",
        "ocr",
        6,
        "manual",
    )
    assert row["licences"] and "unknown" not in row["licences"]
    assert synth.json("datasets", "list", "--kind", "speech") == {"datasets": []}
    # --home names the same root as $SYNTH_HOME
    table = synth("datasets", "list", "--home", str(synth.home))
    assert table.returncode == 0
    assert out["id"][:12] in table.stdout and "ocr-clean" in table.stdout


def test_datasets_show_accepts_an_id_prefix(synth, built):
    _, out = built
    shown = synth.json("datasets", "show", out["id"][:8])
    assert shown["id"] == out["id"] and shown["path"] == out["path"]
    assert (shown["count"], shown["seed"], shown["status"]) == (6, 3, "complete")
    assert shown["flow_run_id"] and len(shown["flow_run_id"]) == 36
    fonts = [i for i in shown["inputs"] if i["role"] == "font"]
    assert fonts and all(len(i["sha256"]) == 64 and i["licence"] for i in fonts)
    human = synth("datasets", "show", out["id"][:8].upper())
    assert human.returncode == 0
    assert f"id           {out['id']}\n" in human.stdout


def test_datasets_verify_passes_then_names_each_changed_and_missing_file(synth, built):
    _, out = built
    ok = synth.json("datasets", "verify", out["id"][:10])
    assert ok["ok"] is True and ok["missing"] == [] and ok["changed"] == []
    assert ok["checked_files"] == 6

    root = Path(out["path"])
    first, second = sorted(root.glob("shard-*/*.jpg"))[:2]
    saved = {first: first.read_bytes(), second: second.read_bytes()}
    try:
        first.unlink()
        damaged = bytearray(saved[second])
        damaged[len(damaged) // 2] ^= 0xFF
        second.write_bytes(bytes(damaged))
        rel = lambda p: p.relative_to(root).as_posix()

        report = synth("datasets", "verify", out["id"][:10])
        assert report.returncode == 1, report.stderr
        _no_traceback(report)
        lines = report.stdout.splitlines()
        assert f"missing: {rel(first)}" in lines
        assert f"changed: {rel(second)}" in lines
        named = [line for line in lines if line.startswith(("missing: ", "changed: "))]
        assert all(rel(first) in line or rel(second) in line for line in named), named
        assert lines[-1].startswith(f"FAILED: {out['id'][:12]} ")

        # file hashes alone (no re-rendering): exactly the two damaged files
        as_json = synth.json("datasets", "verify", out["id"][:10], "--samples", "0", code=1)
        assert as_json["ok"] is False and as_json["id"] == out["id"]
        assert (as_json["missing"], as_json["changed"]) == ([rel(first)], [rel(second)])
    finally:
        for path, data in saved.items():
            path.write_bytes(data)
    assert synth.json("datasets", "verify", out["id"])["ok"] is True


def _sub_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from _sub_commands(sub, (*path, name))


@pytest.mark.parametrize(
    "command", [(), *_sub_commands(build_parser())], ids=lambda c: " ".join(c) or "synth"
)
def test_help_works_for_every_command(command):
    proc = subprocess.run([*synth_cmd(), *command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {' '.join(('synth', *command))} ")
    assert proc.stderr == ""


def test_a_bad_input_in_a_real_process_is_one_line_without_traceback(tmp_path):
    (tmp_path / "plain-file").write_text("not a folder")
    config = tmp_path / "c.json"
    config.write_text('{"fonts": {"size": 30}}')
    run = Synth(tmp_path / "unused", None)
    for args, expected in [
        (
            ("ocr", "--count", "2", "--config", str(config), "--json"),
            f"synth: error: {config}: unknown key 'fonts.size' "
            "(known: dir, not_for_scripts, size_px_range, styles)",
        ),
        (
            ("ocr", "--count", "2", "--home", str(tmp_path / "plain-file" / "sub"), "--json"),
            f"synth: error: {tmp_path / 'plain-file' / 'sub'}: cannot create the data folder "
            "(Not a directory)",
        ),
    ]:
        proc = run(*args)
        assert proc.returncode == 2
        assert proc.stderr == expected + "\n"
        message = expected.removeprefix("synth: error: ")
        assert json.loads(proc.stdout) == {"error": message, "exit_code": 2}
    assert not (tmp_path / "unused").exists()


def test_a_build_that_fails_registers_nothing(prefect_api, tmp_path):
    """Half the lines cannot be drawn in the one font given and redraws are off, so a sample
    fails once rendering is under way; the command fails in one line, nothing is listed and
    the unfinished folder is removed."""
    from synth.assets import embedded_dir
    from synth.errors import TooManyRejections
    from synth.rng import sample_rng

    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "Inconsolata.otf").write_bytes(
        (embedded_dir("fonts") / "Inconsolata.otf").read_bytes()
    )
    texts = tmp_path / "mixed.txt"
    texts.write_text("Good morning\nПривет мир\n" * 10, encoding="utf-8")
    config = {
        "fonts": {"dir": str(fonts)},
        "text": {"source": "file", "path": str(texts)},
        "max_retries": 1,
        "shard_size": 2,
        "color": {"min_contrast_ratio": 1.0},  # so that only texts, never backgrounds, fail
    }
    (tmp_path / "c.json").write_text(json.dumps(config))

    def first_failure(gen: OcrGenerator, seed: int) -> int | None:
        for index in range(12):
            try:
                gen.sample(index, sample_rng(seed, index))
            except TooManyRejections:
                return index
        return None

    gen = OcrGenerator(build_spec("default", config))
    seed, failing = next(
        (s, f) for s in range(500) if (f := first_failure(gen, s)) is not None and f >= 2
    )

    synth = Synth(tmp_path / "home", prefect_api)
    proc = synth("ocr", "--count", "12", "--seed", str(seed), "--config", str(tmp_path / "c.json"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(
        f"synth: error: {texts}: sample {failing}: no usable text in 1 draws"
    )
    assert synth.json("datasets", "list") == {"datasets": []}
    # The same spec would fail at the same sample again, so the shards done are not kept.
    assert not list((tmp_path / "home").glob("datasets/*"))
    catalog = open_catalog(tmp_path / "home")
    try:
        assert [b["status"] for b in catalog.builds()] == ["failed"]
    finally:
        catalog.close()


def test_look_ups_on_an_empty_data_root_create_nothing(tmp_path):
    """list, show, verify and lineage on a data root where nothing was built answer (an empty
    list, or one line naming the missing catalog) and leave the folder as it was."""
    home = tmp_path / "nothing-here"
    run = Synth(home, None)
    listed = run("datasets", "list", "--json")
    assert (listed.returncode, json.loads(listed.stdout)) == (0, {"datasets": []})
    table = run("datasets", "list")
    assert table.returncode == 0 and table.stdout.startswith("no datasets yet")
    table = run("datasets", "list", "--name", "nope", "--kind", "speech")
    assert (table.returncode, table.stdout) == (0, "no dataset matches --kind speech --name nope\n")
    for command in (("datasets", "show", "abcd"), ("datasets", "verify", "abcd")):
        proc = run(*command)
        _no_traceback(proc)
        assert proc.returncode == 2
        assert proc.stderr == (
            f"synth: error: {home / 'catalog.db'}: no catalog here: nothing has been built or "
            "imported under this data root (--home DIR or SYNTH_HOME picks another)\n"
        )
    assert not home.exists()
