"""OpenLineage events of builds, validated against the specification's JSON schemas."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.lineage.openlineage import events_path
from synth.ocr.spec import build_spec

SPEC_DIR = Path(__file__).resolve().parent.parent / "data" / "openlineage"
SPEC = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")


@pytest.fixture(scope="module")
def validate():
    schemas = [
        json.loads(p.read_text())
        for p in [SPEC_DIR / "OpenLineage.json", *sorted((SPEC_DIR / "facets").glob("*.json"))]
    ]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    core = schemas[0]
    checker = FormatChecker()
    known = {s["$id"] for s in schemas}

    def check(event: dict) -> None:
        Draft202012Validator(core, registry=registry, format_checker=checker).validate(event)
        facets = [*event["run"]["facets"].values(), *event["job"]["facets"].values()]
        for ds in event["inputs"] + event["outputs"]:
            facets += list(ds.get("facets", {}).values())
            facets += list(ds.get("outputFacets", {}).values())
        standard = 0
        for facet in facets:
            url = facet["_schemaURL"]
            if url.split("#")[0] in known:
                Draft202012Validator(
                    {"$ref": url}, registry=registry, format_checker=checker
                ).validate(facet)
                standard += 1
        assert standard >= 3

    return check


def _events(home: Path) -> list[dict]:
    return [json.loads(line) for line in events_path(home).read_text().splitlines()]


def test_a_build_emits_valid_start_and_complete_with_versions(tmp_path, validate):
    catalog = open_catalog(tmp_path)
    plan, gen = prepare("ocr", SPEC, seed=2, count=12, name="ol", home=tmp_path)
    rec = build(plan, gen, catalog).record
    start, complete = _events(tmp_path)
    for event in (start, complete):
        validate(event)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    out = complete["outputs"][0]
    assert out["facets"]["version"]["datasetVersion"] == rec.id
    stats = out["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == 12 and stats["fileCount"] == 12
    images = list(plan.out_dir.glob("shard-*/*"))
    assert len(images) == 12
    assert stats["size"] == sum(p.stat().st_size for p in images) > 0
    assert {f["name"] for f in out["facets"]["schema"]["fields"]} >= {"file_name", "text"}
    synth_facet = complete["run"]["facets"]["synth"]
    assert synth_facet["seed"] == 2 and synth_facet["spec"] == SPEC
    assert synth_facet["fingerprint"] == rec.fingerprint
    assert complete["run"]["facets"]["processingEngine"]["version"] == rec.code_version
    versions = {
        i["name"]: i["facets"]["version"]["datasetVersion"]
        for i in complete["inputs"]
        if "version" in i["facets"]
    }
    font_hashes = {
        i["uri"].removeprefix("asset:"): i["sha256"] for i in plan.inputs if i["role"] == "font"
    }
    assert font_hashes and all(versions[k] == v for k, v in font_hashes.items())
    info = json.loads((Path(rec.path) / "dataset.json").read_text())
    assert info["run"]["openlineage_run_id"] == start["run"]["runId"]
    # an expansion names its parent, with the parent's content id, among its inputs
    child = build(*prepare_expansion(rec, 3, home=tmp_path), catalog).record
    events = _events(tmp_path)
    assert len(events) == 4
    for event in events[2:]:
        validate(event)
    parents = [i for i in events[3]["inputs"] if i["name"] == rec.path]
    assert parents[0]["facets"]["version"]["datasetVersion"] == rec.id
    assert events[3]["outputs"][0]["facets"]["version"]["datasetVersion"] == child.id
    catalog.close()


def test_a_failed_build_emits_fail_with_the_error(tmp_path, validate):
    catalog = open_catalog(tmp_path)
    plan, gen = prepare("ocr", SPEC, seed=2, count=12, name="ol", home=tmp_path)

    def explode(*_a, **_k):
        raise RuntimeError("disk on fire")

    gen.render = explode  # the single-worker pool renders in this process with this generator
    import synth.engine.shard as shard_mod

    original = shard_mod.generator_for
    shard_mod.generator_for = lambda plan: gen
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            build(plan, gen, catalog)
    finally:
        shard_mod.generator_for = original
    start, failed = _events(tmp_path)
    validate(start)
    validate(failed)
    assert failed["eventType"] == "FAIL"
    assert failed["run"]["facets"]["errorMessage"]["message"] == "disk on fire"
    assert catalog.list() == []
    assert catalog.builds()[0]["status"] == "failed"
    catalog.close()


def test_events_are_posted_to_an_http_endpoint_when_configured(tmp_path, monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "event": json.loads(body)})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SYNTH_OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        catalog = open_catalog(tmp_path)
        build(*prepare("ocr", SPEC, seed=1, count=5, name="http", home=tmp_path), catalog)
        catalog.close()
    finally:
        server.shutdown()
    assert [r["path"] for r in received] == ["/api/v1/lineage"] * 2
    assert [r["event"] for r in received] == _events(tmp_path)


def test_inputs_are_listed_once_with_their_roles_and_licences(tmp_path, validate):
    from synth.speech.spec import build_spec as build_speech_spec

    spec = build_speech_spec({"noise_weights": {"babble": 1, "pink": 1}}).model_dump(mode="json")
    catalog = open_catalog(tmp_path)
    plan, gen = prepare("speech", spec, seed=1, count=4, name="ol", home=tmp_path)
    build(plan, gen, catalog)
    catalog.close()
    start, complete = _events(tmp_path)
    validate(start)
    validate(complete)
    keys = [(i["namespace"], i["name"]) for i in complete["inputs"]]
    assert len(keys) == len(set(keys))  # a clip that is also a babble talker is listed once
    tags = {
        (i["namespace"], i["name"]): {(t["key"], t["value"]) for t in i["facets"]["tags"]["tags"]}
        for i in complete["inputs"]
    }
    babble = [i for i in plan.inputs if i["role"] == "babble_speech"]
    assert babble
    for item in plan.inputs:
        if not item["uri"].startswith("asset:"):
            continue
        key = ("synth-assets", item["uri"].removeprefix("asset:"))
        assert ("licence", item["licence"]) in tags[key] and item["licence"] != "unknown"
        assert ("role", item["role"]) in tags[key]
    both = tags[("synth-assets", babble[0]["uri"].removeprefix("asset:"))]
    assert {("role", "clean_speech"), ("role", "babble_speech")} <= both
    assert tags[("procedural", "pink")] >= {("role", "noise"), ("licence", "CC0-1.0")}
