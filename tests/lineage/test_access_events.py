"""A restricted dataset's OpenLineage events carry its id and access level, and none of its
paths, spec, texts or error messages; a team dataset's events are as before, with its level.
The events are validated against the specification's schemas, as every build's are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.catalog.access import ACCESS_ENV
from synth.engine.build import build, prepare
from synth.lineage.openlineage import events_path
from synth.ocr.spec import build_spec
from tests.lineage.test_openlineage import validate  # noqa: F401 (a fixture)


def _events(home: Path) -> list[dict]:
    return [json.loads(line) for line in events_path(home).read_text().splitlines()]


def _texts(tmp_path: Path) -> Path:
    path = tmp_path / "private-lines.txt"
    path.write_text("Ada Lovelace 12 Main Street\nCharles Babbage 7 Elm Road\n", encoding="utf-8")
    return path


def _spec(texts: Path) -> dict:
    config = {"shard_size": 10, "text": {"source": "file", "path": str(texts)}}
    return build_spec("clean", config).model_dump(mode="json")


@pytest.mark.parametrize("level", ["restricted", "private"])
def test_a_restricted_builds_events_hold_its_id_and_level_but_no_paths_or_texts(
    tmp_path,
    monkeypatch,
    validate,  # noqa: F811 (the fixture imported above)
    level,
):
    monkeypatch.setenv(ACCESS_ENV, level)
    home = tmp_path / "home"
    texts = _texts(tmp_path)
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("ocr", _spec(texts), seed=1, count=4, name="letters", home=home)
        record = build(plan, gen, catalog).record
    finally:
        catalog.close()
    assert record.access == level
    start, complete = _events(home)
    for event in (start, complete):
        validate(event)
        line = json.dumps(event)
        for secret in (str(tmp_path), "private-lines", "Ada Lovelace", "Main Street"):
            assert secret not in line
        assert event["run"]["facets"]["synth"]["access"] == level
        assert event["run"]["facets"]["synth"]["spec"] == {
            "withheld": f"withheld: the dataset is {level}"
        }
        [output] = event["outputs"]
        assert (output["namespace"], output["name"]) == ("synth", f"build/{plan.fingerprint}")
        texts_input = [d for d in event["inputs"] if d["namespace"] == "synth-input"]
        assert texts_input and all(len(d["name"]) == 64 for d in texts_input)  # sha256
    assert complete["outputs"][0]["facets"]["version"]["datasetVersion"] == record.id


def test_a_team_builds_events_name_its_paths_and_state_its_level(tmp_path, validate):  # noqa: F811
    home = tmp_path / "home"
    texts = _texts(tmp_path)
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("ocr", _spec(texts), seed=1, count=4, name="letters", home=home)
        assert build(plan, gen, catalog).record.access == "team"
    finally:
        catalog.close()
    _start, complete = _events(home)
    validate(complete)
    assert complete["run"]["facets"]["synth"]["access"] == "team"
    assert complete["outputs"][0]["name"] == str(plan.out_dir)
    assert str(texts) in json.dumps(complete)


def test_the_prefect_copies_of_a_restricted_dataset_name_no_path():
    from flows.build import _shown_uri, build_table

    record = {
        "id": "ab" * 32,
        "name": "letters",
        "kind": "ocr",
        "count": 4,
        "path": "/home/alice/secret/letters",
        "licences": ["CC0-1.0"],
        "access": "restricted",
        "statistics": {"rejections": {}},
    }
    table = build_table(record)
    assert {"field": "access", "value": "restricted"} in table
    assert "/home/alice" not in json.dumps(table)
    assert {"field": "path", "value": record["path"]} in build_table(record | {"access": "team"})
    texts = {"uri": "file:///home/alice/lines.txt", "sha256": "c" * 64}
    assert _shown_uri(texts, withheld=True) == "input:" + "c" * 64
    assert _shown_uri(texts, withheld=False) == texts["uri"]
    font = {"uri": "asset:fonts/DejaVuSans.ttf", "sha256": "d" * 64}
    assert _shown_uri(font, withheld=True) == font["uri"]


def test_a_restricted_builds_fail_event_withholds_the_message(tmp_path):
    from synth.errors import AssetError
    from synth.lineage.openlineage import LineageEmitter

    home = tmp_path / "home"
    texts = _texts(tmp_path)
    plan, _gen = prepare("ocr", _spec(texts), seed=1, count=4, name="letters", home=home)
    event = LineageEmitter(plan, access="private").fail(AssetError(texts, "not UTF-8"))
    message = event["run"]["facets"]["errorMessage"]["message"]
    assert message == "the build failed (its message is withheld: the dataset is private)"
    assert str(tmp_path) not in events_path(home).read_text()
