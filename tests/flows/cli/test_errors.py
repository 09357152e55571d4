"""Every user mistake gets one line on stderr naming the file or field, exit code 2, nothing on
stdout and nothing written. Run in-process through ``flows.cli.main``: none of these reaches
Prefect, so no server is needed (tests/flows/cli/test_commands.py checks the real process)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from synth.assets import embedded_dir
from synth.catalog import open_catalog
from tests.catalog.helpers import hex_id, info
from tests.conftest import synth_cmd


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """``cli(*args)`` runs ``synth args`` in this process and returns its code and output."""
    from flows.env import _DEFAULTS

    for key, value in _DEFAULTS.items():  # main() sets these; undo it after the test
        monkeypatch.setenv(key, os.environ.get(key, value))
    monkeypatch.delenv("SYNTH_HOME", raising=False)
    monkeypatch.delenv("SYNTH_CATALOG_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # a stray default ./synth-data lands here, not in the repo

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@dataclass
class Inputs:
    root: Path
    home: Path

    def __truediv__(self, name: str) -> Path:
        return self.root / name


@pytest.fixture
def bad(tmp_path: Path) -> Inputs:
    """Bad (and a few good) input files, as a user might hand them over."""
    rng = np.random.default_rng(0)
    fonts = tmp_path / "fonts-bad"
    fonts.mkdir()
    (fonts / "Corrupt.ttf").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (fonts / "notes.txt").write_text("not a font")
    backgrounds = tmp_path / "backgrounds-bad"
    backgrounds.mkdir()
    photo = (embedded_dir("backgrounds") / "coffee.jpg").read_bytes()
    (backgrounds / "cut.jpg").write_bytes(photo[:200])
    (backgrounds / "fake.png").write_text("not a picture")
    latin = tmp_path / "fonts-latin"
    latin.mkdir()
    shutil.copy(embedded_dir("fonts") / "Inconsolata.otf", latin / "Inconsolata.otf")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "cyrillic.txt").write_text("Привет мир\nДобрый день\n", encoding="utf-8")
    (tmp_path / "bogus.toml").write_text("shard_size = 10\nbogus = 1\n")
    (tmp_path / "broken.toml").write_text("[fonts\nsize_px_range = [1, 2]\n")
    (tmp_path / "plain-file").write_text("a regular file, not a folder")
    (tmp_path / "home-with-a-file").mkdir()
    (tmp_path / "home-with-a-file" / "datasets").write_text("a file where datasets would go")
    return Inputs(tmp_path, tmp_path / "home")


def _ocr(inputs: Inputs, *args: str) -> list[str]:
    return ["ocr", "--count", "2", "--home", str(inputs.home), *args]


OCR_CASES = {
    "fonts-folder-of-bad-files": (
        lambda b: _ocr(b, "--fonts", str(b / "fonts-bad")),
        lambda b: (
            f"synth: error: {b / 'fonts-bad'}: no usable font in this folder (2 file(s) "
            "skipped; Corrupt.ttf: not a usable font (OSError: unknown file format))"
        ),
    ),
    "backgrounds-folder-of-bad-files": (
        lambda b: _ocr(b, "--backgrounds", str(b / "backgrounds-bad")),
        lambda b: (
            f"synth: error: {b / 'backgrounds-bad'}: no usable background image in this "
            "folder (2 file(s) skipped; cut.jpg: not a readable image (Truncated File Read))"
        ),
    ),
    "backgrounds-with-a-preset-that-draws-none": (
        lambda b: _ocr(b, "--preset", "clean", "--backgrounds", str(embedded_dir("backgrounds"))),
        lambda b: (
            "synth: error: --backgrounds: the 'clean' preset draws no photo backgrounds "
            "(backgrounds.photo_prob = 0); use --preset default or set backgrounds.photo_prob in a "
            "--config file"
        ),
    ),
    "empty-texts-file": (
        lambda b: _ocr(b, "--texts", str(b / "empty.txt")),
        lambda b: (
            f"synth: error: {b / 'empty.txt'}: no line is usable: the file is empty or no "
            "line has 4-40 characters"
        ),
    ),
    "texts-and-texts-from": (
        lambda b: _ocr(b, "--texts", str(b / "cyrillic.txt"), "--texts-from", "abcd"),
        lambda b: "synth: error: --texts and --texts-from both name the texts: give one",
    ),
    "missing-texts-file": (
        lambda b: _ocr(b, "--texts", str(b / "nope.txt")),
        lambda b: f"synth: error: {b / 'nope.txt'}: text file not found",
    ),
    "texts-no-font-can-draw": (
        lambda b: _ocr(b, "--texts", str(b / "cyrillic.txt"), "--fonts", str(b / "fonts-latin")),
        lambda b: (
            f"synth: error: {b / 'cyrillic.txt'}: no line can be drawn by any font in "
            f"{b / 'fonts-latin'} (2 line(s); e.g. 'Привет мир': no font draws U+041F 'П', "
            "U+0432 'в', U+0435 'е', U+0438 'и', U+043C 'м', U+0440 'р', U+0442 'т')"
        ),
    ),
    "unknown-config-key": (
        lambda b: _ocr(b, "--config", str(b / "bogus.toml")),
        lambda b: (
            f"synth: error: {b / 'bogus.toml'}: unknown key 'bogus' (known: backgrounds, "
            "color, effects, fonts, geometry, max_retries, output, shard_size, text)"
        ),
    ),
    "malformed-config": (
        lambda b: _ocr(b, "--config", str(b / "broken.toml")),
        lambda b: (
            f"synth: error: {b / 'broken.toml'}: not valid TOML: Expected ']' at the end "
            "of a table declaration (at line 1, column 7)"
        ),
    ),
    "missing-config": (
        lambda b: _ocr(b, "--config", str(b / "nope.toml")),
        lambda b: f"synth: error: {b / 'nope.toml'}: config file not found",
    ),
    "data-root-under-a-regular-file": (
        lambda b: ["ocr", "--count", "2", "--home", str(b / "plain-file" / "sub")],
        lambda b: (
            f"synth: error: {b / 'plain-file' / 'sub'}: cannot create the data folder "
            "(Not a directory)"
        ),
    ),
    "datasets-folder-is-a-regular-file": (
        lambda b: ["ocr", "--count", "2", "--home", str(b / "home-with-a-file")],
        lambda b: (
            f"synth: error: {b / 'home-with-a-file' / 'datasets'}: cannot create the "
            "datasets folder (a file has that name)"
        ),
    ),
    "unknown-preset": (
        lambda b: _ocr(b, "--preset", "fancy"),
        lambda b: (
            "synth: error: unknown preset 'fancy' "
            "(known: clean, default, digits, document, handwriting)"
        ),
    ),
    "unknown-locale": (
        lambda b: _ocr(b, "--locale", "xx_XX"),
        lambda b: "synth: error: text.locales: unknown Faker locale 'xx_XX'",
    ),
    "count-zero": (
        lambda b: ["ocr", "--count", "0"],
        lambda b: (
            "synth ocr: error: argument --count: must be >= 1, got 0 (see 'synth ocr --help')"
        ),
    ),
    "count-not-a-number": (
        lambda b: ["ocr", "--count", "ten"],
        lambda b: (
            "synth ocr: error: argument --count: expected a whole number, got 'ten' "
            "(see 'synth ocr --help')"
        ),
    ),
    "count-missing": (
        lambda b: ["ocr"],
        lambda b: (
            "synth ocr: error: the following arguments are required: --count "
            "(see 'synth ocr --help')"
        ),
    ),
    "seed-negative": (
        lambda b: ["ocr", "--count", "2", "--seed", "-1"],
        lambda b: (
            "synth ocr: error: argument --seed: must be from 0 to 9223372036854775807, "
            "got -1 (see 'synth ocr --help')"
        ),
    ),
    "seed-too-large-for-the-catalog": (
        lambda b: ["ocr", "--count", "2", "--seed", str(2**63)],
        lambda b: (
            "synth ocr: error: argument --seed: must be from 0 to 9223372036854775807, "
            f"got {2**63} (see 'synth ocr --help')"
        ),
    ),
    "seed-not-a-number": (
        lambda b: ["ocr", "--count", "2", "--seed", "1.5"],
        lambda b: (
            "synth ocr: error: argument --seed: expected a whole number, got '1.5' "
            "(see 'synth ocr --help')"
        ),
    ),
    "workers-zero": (
        lambda b: ["ocr", "--count", "2", "--workers", "0"],
        lambda b: (
            "synth ocr: error: argument --workers: must be >= 1, got 0 (see 'synth ocr --help')"
        ),
    ),
    "name-that-leaves-the-data-root": (
        lambda b: _ocr(b, "--name", "../escape"),
        lambda b: (
            "synth ocr: error: argument --name: '../escape' is not a valid dataset name "
            "(expected 1-100 ASCII letters, digits, '.', '_' or '-', starting with a letter or "
            "digit) (see 'synth ocr --help')"
        ),
    ),
    "format-unknown": (
        lambda b: ["ocr", "--count", "2", "--format", "gif"],
        lambda b: (
            "synth ocr: error: argument --format: invalid choice: 'gif' (choose from "
            "'jpeg', 'png') (see 'synth ocr --help')"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(OCR_CASES))
def test_a_bad_ocr_input_is_one_line_exit_2_and_writes_nothing(cli, bad, case):
    make_args, make_expected = OCR_CASES[case]
    result = cli(*make_args(bad))
    assert result.code == 2
    assert result.out == ""
    assert result.err == make_expected(bad) + "\n"
    assert not (bad.home / "datasets").exists()
    assert not (bad.root / "synth-data").exists()
    assert (bad / "home-with-a-file" / "datasets").is_file()


@pytest.fixture
def catalog_home(tmp_path: Path) -> Path:
    """A catalog holding ids 12ab1..., 12ab2... (sharing a prefix) and 9f00..."""
    home = tmp_path / "catalog-home"
    catalog = open_catalog(home)
    for prefix in ("12ab1", "12ab2", "9f00"):
        catalog.register(info(hex_id(prefix)), str(tmp_path / prefix))
    catalog.close()
    return home


@pytest.mark.parametrize("command", ["show", "verify"])
def test_unknown_ambiguous_and_short_ids_are_named(cli, catalog_home, command):
    home = ["--home", str(catalog_home)]
    db = catalog_home / "catalog.db"
    unknown = cli("datasets", command, "ffff", *home)
    assert (unknown.code, unknown.out) == (2, "")
    assert unknown.err == f"synth: error: dataset id 'ffff': no such dataset in {db}\n"
    ambiguous = cli("datasets", command, "12AB", "--json", *home)
    message = (
        f"dataset id '12ab' is ambiguous: it matches {hex_id('12ab1')[:12]}, {hex_id('12ab2')[:12]}"
    )
    assert ambiguous.code == 2
    assert ambiguous.err == f"synth: error: {message}\n"
    # with --json, stdout holds one object in every case: here the error
    assert json.loads(ambiguous.out) == {"error": message, "exit_code": 2}
    short = cli("datasets", command, "12a", *home)
    assert (short.code, short.out) == (2, "")
    assert short.err == "synth: error: dataset id '12a': give at least 4 characters of the id\n"


def test_a_command_line_mistake_with_json_is_a_json_error_too(cli, catalog_home, tmp_path):
    # _fail() from inside a command (not a SynthError), and a config error, both as JSON
    texts = tmp_path / "t.txt"
    texts.write_text("a\n", encoding="utf-8")
    both = cli("ocr", "--count", "1", "--texts", str(texts), "--texts-from", "9f00", "--json")
    assert both.code == 2
    assert json.loads(both.out) == {
        "error": "--texts and --texts-from both name the texts: give one",
        "exit_code": 2,
    }
    config = tmp_path / "c.yaml"
    config.write_text("shard_size: true\n", encoding="utf-8")
    bad = cli("speech", "--count", "1", "--config", str(config), "--json", "--home", str(tmp_path))
    assert bad.code == 2
    assert json.loads(bad.out) == {
        "error": f"{config}: shard_size=true: Input should be a valid integer",
        "exit_code": 2,
    }
    assert bad.err == f"synth: error: {config}: shard_size=true: Input should be a valid integer\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("speech", "--count", "0"),
        ("speech", "--count", "2", "--snr-db", "5"),
        ("speech",),
        ("datasets", "verify", "x", "--samples", "-1"),
    ],
)
def test_a_mistake_the_argument_parser_finds_is_a_json_error_with_json(cli, argv):
    plain = cli(*argv)
    result = cli(*argv, "--json")
    assert plain.code == result.code == 2 and plain.out == ""
    assert result.err == plain.err and result.err.count("\n") == 1
    message = result.err.split(": error: ", 1)[1].rstrip("\n")
    assert json.loads(result.out) == {"error": message, "exit_code": 2}


def test_show_accepts_a_unique_prefix(cli, catalog_home):
    result = cli("datasets", "show", "9f00", "--home", str(catalog_home))
    assert result.code == 0
    assert f"id           {hex_id('9f00')}\n" in result.out


def test_verify_of_a_dataset_whose_folder_is_gone_fails_the_check(cli, catalog_home, tmp_path):
    result = cli("datasets", "verify", "9f00", "--home", str(catalog_home))
    assert result.code == 1
    problem, verdict = result.out.splitlines()
    assert problem == f"problem: {tmp_path / '9f00'}: dataset folder not found"
    assert verdict.startswith(f"FAILED: {hex_id('9f00')[:12]} (0 files")
    assert verdict.endswith(f" at {tmp_path / '9f00'}")


def test_a_negative_sample_count_for_verify_is_refused(cli, catalog_home):
    result = cli("datasets", "verify", "9f00", "--samples", "-2", "--home", str(catalog_home))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "synth datasets verify: error: argument --samples: must be >= 0, got -2 "
        "(see 'synth datasets verify --help')\n"
    )


def test_skipped_inputs_are_reported_on_stderr_and_in_the_json(capsys, tmp_path):
    from flows.cli.build import _report_build

    skipped = [
        {"file": str(tmp_path / "Corrupt.ttf"), "reason": "not a usable font (OSError: x)"},
        {"file": str(tmp_path / "cut.jpg"), "reason": "not a readable image (Truncated File Read)"},
    ]
    (tmp_path / "dataset.json").write_text(json.dumps({"skipped_inputs": skipped}))
    record = info(hex_id("abcd")) | {"path": str(tmp_path)}
    result = {"record": record, "created": True, "rendered_shards": 1, "skipped_shards": 0}
    assert _report_build(argparse.Namespace(json=True), result) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["skipped_inputs"] == skipped
    assert captured.err == (
        f"synth: warning: skipped {tmp_path / 'Corrupt.ttf'}: not a usable font (OSError: x)\n"
        f"synth: warning: skipped {tmp_path / 'cut.jpg'}: not a readable image "
        "(Truncated File Read)\n"
    )


def test_a_clean_dataset_whose_licence_predates_the_spdx_check_is_named(cli, tmp_path):
    home, folder = tmp_path / "old-home", tmp_path / "old-corpus"
    folder.mkdir()
    catalog = open_catalog(home)
    old = info(hex_id("cc0b"), kind="speech", licences=["CC BY 4.0", "MIT"])
    catalog.register(old, str(folder))
    catalog.close()
    result = cli("speech", "--count", "2", "--clean", "cc0b", "--home", str(home), "--json")
    message = (
        "--clean cc0b: dataset cc0b00000000 has the licence 'CC BY 4.0', stored before licences "
        "had to be SPDX expressions (ids like CC-BY-4.0 joined by AND, OR or WITH); give its "
        'licence as clean_licence in a --config file (e.g. clean_licence = "CC-BY-4.0")'
    )
    assert result.code == 2
    assert result.err == f"synth: error: {message}\n"
    assert json.loads(result.out) == {"error": message, "exit_code": 2}
    assert not (home / "datasets").exists()
    # clean_licence in a config file is the licence used: the check passes, the (empty) corpus
    # folder is what fails next
    config = tmp_path / "licence.toml"
    config.write_text('clean_licence = "CC-BY-4.0 AND MIT"\n', encoding="utf-8")
    given = cli("speech", "--count", "2", "--clean", "cc0b", "--home", str(home),
                "--config", str(config))  # fmt: skip
    assert given.code == 2
    assert given.err.startswith(f"synth: error: {folder}: no clean speech corpus found")


def test_a_corrupt_catalog_is_named(cli, tmp_path):
    home = tmp_path / "corrupt"
    home.mkdir()
    (home / "catalog.db").write_bytes(b"\x00garbage" * 512)
    result = cli("datasets", "list", "--json", "--home", str(home))
    message = f"{home / 'catalog.db'}: cannot open the catalog (file is not a database)"
    assert result.code == 2
    assert result.err == f"synth: error: {message}\n"
    assert json.loads(result.out) == {"error": message, "exit_code": 2}


def test_an_unknown_command_is_one_line(cli):
    result = cli("render")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("synth: error: argument command: invalid choice: 'render' ")
    assert result.err.count("\n") == 1
    nothing = cli("datasets")
    assert nothing.err == (
        "synth datasets: error: the following arguments are required: datasets_command "
        "(see 'synth datasets --help')\n"
    )


def test_diff_shows_long_category_values_in_full(cli, tmp_path):
    # cut to one width, "flite_rms_arctic_a0001" and "..._a0002" read as the same value
    home = tmp_path / "diff-home"
    catalog = open_catalog(home)
    counts = {"clean_speech": {"flite_rms_arctic_a0001": 3, "flite_rms_arctic_a0002": 1}}
    for prefix, stats in (("aaaa", counts), ("bbbb", {"clean_speech": {"x": 4}})):
        record = info(hex_id(prefix), statistics={"samples": 4, "counts": stats})
        catalog.register(record, str(tmp_path / prefix))
    catalog.close()
    result = cli("datasets", "diff", "aaaa", "bbbb", "--home", str(home))
    assert result.code == 0
    lines = result.out.splitlines()
    for value, share in (("a0001", "0.75"), ("a0002", "0.25")):
        i = lines.index(f"share clean_speech=flite_rms_arctic_{value}")
        assert lines[i + 1].split() == [share, "0"]
    assert "share clean_speech=x" in result.out


def test_a_bad_flag_value_names_the_flag_beside_the_field(cli, tmp_path):
    home = ["--home", str(tmp_path / "h")]
    snr = cli("speech", "--count", "2", "--snr-db", "20", "0", *home)
    assert snr.code == 2
    assert snr.err == (
        "synth: error: options: snr_db_range (--snr-db)=[20.0, 0.0]: Value error, expected "
        "low <= high, got [20.0, 0.0]\n"
    )
    # the same field set in a config file is named as the file's key, without a flag
    config = tmp_path / "c.toml"
    config.write_text("reverb_prob = 2.0\n", encoding="utf-8")
    from_file = cli("speech", "--count", "2", "--config", str(config), *home)
    assert from_file.err == (
        f"synth: error: {config}: reverb_prob=2.0: Input should be less than or equal to 1\n"
    )
    from_flag = cli("speech", "--count", "2", "--config", str(config), "--reverb-prob", "3", *home)
    assert "reverb_prob (--reverb-prob)=3.0: Input should be less than or equal to 1" in (
        from_flag.err
    )


def test_a_json_error_into_a_closed_pipe_keeps_its_exit_code_and_one_line(tmp_path):
    # `synth ... --json | head -0`: the reader is gone before the error object is written
    home = ["--home", str(tmp_path)]
    for argv in (["ocr", "--count", "0", "--json"], ["datasets", "show", "abcd9", "--json", *home]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run(
                [*synth_cmd(), *argv], stdout=write_end, stderr=subprocess.PIPE, text=True,
                timeout=120,
            )  # fmt: skip
        finally:
            os.close(write_end)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("synth")
        assert "Traceback" not in proc.stderr


def test_the_parser_s_json_errors_follow_each_call_and_abbreviations(cli):
    from flows.cli import build_parser

    assert cli("ocr", "--count", "0", "--json").out  # JSON object
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ocr", "--count", "0"])  # a later parse without --json
    assert cli("ocr", "--count", "0").out == ""
    abbreviated = cli("ocr", "--count", "0", "--js")
    assert json.loads(abbreviated.out)["exit_code"] == 2
