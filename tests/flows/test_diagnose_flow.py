"""The diagnose flow and the high-variance expansion on a real Prefect server: the local path,
the flow the event trigger runs (with its parameters as the trigger templates them), and the
trigger's definition. The event round trip through ``synth serve`` is in ``test_serve_e2e``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.diagnose import DiagnosisError, ErrorRates, diagnose
from synth.engine.build import build, prepare
from synth.errors import SynthError
from synth.ocr.spec import build_spec

# Prefect reads PREFECT_API_URL when it is first imported: start the session's server before any
# test here imports it, so no test falls back to a temporary in-process server.
pytestmark = pytest.mark.usefixtures("prefect_api")

SPEC = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")


def make_parent(home: Path, count: int = 20) -> str:
    """A small OCR dataset built without Prefect; returns its id."""
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("ocr", SPEC, seed=5, count=count, name="lines", home=home)
        return build(plan, gen, catalog).record.id
    finally:
        catalog.close()


def records(home: Path):
    catalog = open_catalog(home)
    try:
        return catalog.list()
    finally:
        catalog.close()


HIGH_VARIANCE = diagnose(ErrorRates(1, 2, 6))


# -- the trigger, without running anything ---------------------------------------------------
def test_the_trigger_expects_the_event_and_templates_the_payload_into_parameters():
    from flows.diagnose import EVENT, event_payload, high_variance_trigger

    trigger = high_variance_trigger("/data/root", workers=3)
    assert EVENT == "synth.diagnosis.high-variance"
    assert trigger.expect == {EVENT}
    assert trigger.match.model_dump() == {"prefect.resource.id": "synth.model.*"}
    # only events about this data root: another root served on the same server has its own
    tag = hashlib.sha256(b"/data/root").hexdigest()[:8]
    assert trigger.match_related.model_dump() == {
        "prefect.resource.id": f"synth.data-root.{tag}",
        "prefect.resource.role": "data-root",
    }
    assert high_variance_trigger("/data/other").match_related != trigger.match_related
    assert trigger.parameters == {
        "dataset_id": "{{ event.payload.dataset_id }}",
        "diagnosis": "{{ event.payload.diagnosis_json }}",
        "model": "{{ event.payload.model }}",
        "count": "{{ event.payload.count }}",
        "count_derived": "{{ event.payload.count_derived }}",
        "event_id": "{{ event.payload.event_id }}",
        "workers": 3,
        "home": "/data/root",
    }
    payload = event_payload(HIGH_VARIANCE, "crnn", "ab" * 32, 60, True, "e-1")
    # every templated key is in the payload, and the JSON text is the diagnosis record
    for value in trigger.parameters.values():
        if isinstance(value, str) and value.startswith("{{ event.payload."):
            assert value[len("{{ event.payload.") : -3] in payload
    assert json.loads(payload["diagnosis_json"]) == payload["diagnosis"] == HIGH_VARIANCE.record()


def test_via_picks_event_only_with_a_server(monkeypatch):
    import flows.plans as fd

    monkeypatch.setattr(fd, "server_configured", lambda: False)
    assert fd.resolve_via("auto") == "local" and fd.resolve_via("local") == "local"
    with pytest.raises(SynthError, match="via=event needs a Prefect server"):
        fd.resolve_via("event")
    monkeypatch.setattr(fd, "server_configured", lambda: True)
    assert fd.resolve_via("auto") == "event" and fd.resolve_via("local") == "local"
    with pytest.raises(SynthError, match="via='remote': expected auto, local or event"):
        fd.resolve_via("remote")


# -- flows on the server --------------------------------------------------------------------------
def test_the_triggered_flow_takes_its_parameters_as_text_or_objects(prefect_api, home):
    from flows.diagnose import expand_on_diagnosis

    parent = make_parent(home)
    record = HIGH_VARIANCE.record()
    # as the trigger passes them: the diagnosis as JSON text, the prefix of an id
    result = expand_on_diagnosis(
        dataset_id=parent[:10],
        diagnosis=json.dumps(record),
        model="crnn",
        count=5,
        event_id="0b5c3f0e-5d7e-4d1e-9c38-5e0c6a1c2d11",
        home=str(home),
    )
    rec = result["record"]
    assert result["created"] and rec["count"] == 25 and rec["parent_id"] == parent
    assert rec["trigger"] == {
        "type": "diagnosis",
        "model": "crnn",
        "diagnosis": record,
        "count": 5,
        "count_derived": False,
        "event": "synth.diagnosis.high-variance",
        "event_id": "0b5c3f0e-5d7e-4d1e-9c38-5e0c6a1c2d11",
    }
    # an object and no count: the size is derived from the gap, (4/2)^2 - 1 = 3 times 20,
    # at least the default min_count of 100
    derived = expand_on_diagnosis(dataset_id=parent, diagnosis=record, home=str(home))
    assert derived["record"]["count"] == 120
    assert derived["trigger"]["count"] == 100 and derived["trigger"]["count_derived"] is True
    assert derived["trigger"]["model"] == "unnamed" and "event_id" not in derived["trigger"]

    catalog = open_catalog(home)
    shown = catalog.get(rec["id"])
    catalog.close()
    assert shown.trigger["diagnosis"]["findings"] == ["high_variance"]


def test_the_triggered_flow_refuses_a_diagnosis_without_high_variance(prefect_api, home):
    from flows.diagnose import expand_on_diagnosis

    parent = make_parent(home)
    with pytest.raises(DiagnosisError, match="no high variance"):
        expand_on_diagnosis(
            dataset_id=parent, diagnosis=diagnose(ErrorRates(1, 5, 6)).record(), home=str(home)
        )
    forged = diagnose(ErrorRates(1, 5, 6)).record() | {"findings": ["high_variance"]}
    with pytest.raises(DiagnosisError, match="do not follow from its inputs"):
        expand_on_diagnosis(dataset_id=parent, diagnosis=forged, home=str(home))
    assert [r.id for r in records(home)] == [parent]


def test_diagnose_flow_expands_locally_only_on_high_variance(prefect_api, home):
    from flows.diagnose import diagnose as diagnose_flow

    parent = make_parent(home)
    nothing = diagnose_flow(
        human_error=1, train_error=5, val_error=6, dataset_id=parent, home=str(home), via="local"
    )
    assert nothing["action"] == "none" and nothing["expansion"] is None
    assert nothing["diagnosis"]["findings"] == ["high_bias"]
    assert nothing["reason"].startswith("no high variance (the variance gap 1 is not above 2")
    assert len(records(home)) == 1

    done = diagnose_flow(
        human_error=1,
        train_error=2,
        val_error=6,
        expansion={"min_count": 1},
        model="crnn-v2",
        dataset_id=parent[:8],
        home=str(home),
        via="local",
    )
    assert done["action"] == "expanded" and done["event"] is None
    rec = done["expansion"]["record"]
    assert rec["count"] == 80 and rec["parent_id"] == parent  # 20 + 3 * 20
    assert rec["trigger"]["type"] == "diagnosis" and rec["trigger"]["model"] == "crnn-v2"
    assert rec["trigger"]["diagnosis"]["inputs"] == {
        "human_error": 1,
        "train_error": 2,
        "val_error": 6,
        "test_error": None,
    }
    assert rec["trigger"]["count"] == 60 and rec["trigger"]["count_derived"] is True


# -- the command line ------------------------------------------------------------------------------
def test_cli_expand_records_the_diagnosis_in_the_new_version(run_synth, home):
    parent = make_parent(home)
    proc = run_synth(
        "diagnose", "--human-error", "1", "--train-error", "2", "--val-error", "6",
        "--expand", parent[:8], "--count", "7", "--model", "ocr-crnn", "--via", "local", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["findings"] == ["high_variance"] and out["event"] is None
    exp = out["expansion"]
    assert exp["count"] == 27 and exp["parent_id"] == parent and exp["new"] is True
    shown = json.loads(run_synth("datasets", "show", exp["id"][:12], "--json", check=True).stdout)
    assert shown["trigger"] == exp["trigger"]
    assert shown["trigger"]["model"] == "ocr-crnn" and shown["trigger"]["count"] == 7
    assert shown["trigger"]["diagnosis"]["variance"] == 4


def test_cli_expand_builds_nothing_without_high_variance_and_checks_the_id(run_synth, home):
    parent = make_parent(home)
    args = ("diagnose", "--human-error", "1", "--train-error", "5", "--val-error", "6")
    proc = run_synth(*args, "--expand", parent[:8])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "nothing built: no high variance (the variance gap 1 is not above 2 points); the finding "
        f"is high bias: dataset {parent[:12]} not expanded"
    )
    assert len(records(home)) == 1
    proc = run_synth(*args, "--expand", "feedbeef")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("synth: error: dataset id 'feedbeef': no such dataset")
