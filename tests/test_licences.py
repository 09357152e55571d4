"""Licence values are SPDX license expressions (shape checked) or 'unknown'."""

from __future__ import annotations

import os

import pytest

from synth.errors import ConfigError
from synth.licences import licence_problem
from synth.speech.spec import SpeechSpec, build_spec


@pytest.mark.parametrize(
    "value",
    [
        "MIT",
        "CC-BY-4.0",
        "unknown",
        "MIT OR Apache-2.0",
        "(MIT OR Apache-2.0) AND CC0-1.0",
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
        "LicenseRef-our-terms",
    ],
)
def test_spdx_expressions_pass(value):
    assert licence_problem(value) is None


@pytest.mark.parametrize("value", ["CC BY 4.0", "MIT OR", "(MIT", "MIT)", "AND MIT", "MIT, GPL"])
def test_what_is_not_an_expression_is_named(value):
    assert licence_problem(value) == (
        f"'{value}' is not an SPDX licence expression (ids like CC-BY-4.0 joined by AND, OR or "
        "WITH), or 'unknown'"
    )
    assert licence_problem("  ") is not None


def test_a_new_speech_build_checks_its_licences_and_a_stored_spec_still_reads():
    with pytest.raises(ConfigError, match=r"noise_licence=\"CC BY\": Value error, 'CC BY' is not"):
        build_spec({"noise_licence": "CC BY"})
    assert build_spec({"clean_licence": "CC-BY-4.0 AND unknown"}).clean_licence
    # a dataset built before the check (its spec re-read for verify or expand) is not refused
    assert SpeechSpec.model_validate({"clean_licence": "CC BY"}).clean_licence == "CC BY"


def test_import_refuses_a_licence_that_is_not_an_expression(tmp_path, capsys, monkeypatch):
    from flows.cli import main
    from flows.env import _DEFAULTS

    for name, value in _DEFAULTS.items():  # main() sets these; undo it after the test
        monkeypatch.setenv(name, os.environ.get(name, value))
    monkeypatch.chdir(tmp_path)

    code = main(["datasets", "import", str(tmp_path), "--kind", "ocr", "--licence", "CC BY 4.0"])
    assert code == 2
    assert capsys.readouterr().err == (
        "synth: error: --licence: 'CC BY 4.0' is not an SPDX licence expression (ids like "
        "CC-BY-4.0 joined by AND, OR or WITH), or 'unknown'\n"
    )


def test_the_conjunction_of_licences_keeps_each_compound_one_term():
    from synth.licences import all_of

    joined = all_of(["CC0-1.0", "MIT OR Apache-2.0"])
    assert joined == "CC0-1.0 AND (MIT OR Apache-2.0)"
    assert licence_problem(joined) is None
    assert all_of([]) == "unknown" and all_of(["MIT"]) == "MIT"
