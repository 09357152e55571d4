"""Each registered dataset appears as a Prefect asset with its upstream assets; a rebuild of
the same version is a cached run and emits no second materialization."""

from __future__ import annotations

import json
import time
import urllib.request


def _events(api: str, prefix: str, resource: str) -> list[dict]:
    body = json.dumps(
        {
            "filter": {"event": {"prefix": [prefix]}, "resource": {"id": [resource]}},
            "limit": 50,
        }
    ).encode()
    req = urllib.request.Request(
        f"{api}/events/filter",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["events"]


def _wait_for_events(api: str, prefix: str, resource: str, at_least: int) -> list[dict]:
    deadline = time.monotonic() + 30  # the server writes events asynchronously
    events = _events(api, prefix, resource)
    while len(events) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)
        events = _events(api, prefix, resource)
    return events


def test_registered_dataset_is_materialized_once_with_its_inputs(prefect_api, home):
    from flows.build import asset_key
    from flows.ocr import ocr_dataset

    first = ocr_dataset(count=8, seed=21, preset="clean", home=str(home))
    again = ocr_dataset(count=8, seed=21, preset="clean", home=str(home))
    rec = first["record"]
    assert again["record"]["id"] == rec["id"] and not again["created"]
    key = asset_key(f"dataset:{rec['id']}")
    _wait_for_events(prefect_api, "prefect.asset.materialization", key, 1)
    time.sleep(2)  # room for a wrong second event to arrive
    materialized = _events(prefect_api, "prefect.asset.materialization", key)
    assert len(materialized) == 1
    event = materialized[0]
    assert event["event"] == "prefect.asset.materialization.succeeded"
    assert event["payload"]["dataset_id"] == rec["id"]
    assert event["payload"]["count"] == 8
    upstream = {
        r["prefect.resource.id"]
        for r in event["related"]
        if r.get("prefect.resource.role") == "asset"
    }
    expected = {asset_key(i["uri"]) for i in rec["inputs"]}
    assert expected and expected <= upstream
    assert any(k.startswith("synth://asset/fonts/") for k in upstream)


def test_asset_keys_are_valid_for_awkward_paths():
    from prefect.assets import Asset

    from flows.build import asset_key

    for uri in (
        "file:///tmp/my data/fonts #1/a'b.ttf",
        "faker:en_US?version=40.1",
        "asset:fonts/DejaVuSans.ttf",
        "dataset:" + "a" * 64,
        "procedural:pink",
    ):
        Asset(key=asset_key(uri))  # raises on an invalid key
    assert asset_key("asset:fonts/DejaVuSans.ttf") == "synth://asset/fonts/DejaVuSans.ttf"
    assert asset_key("faker:en_US?version=40.1") == "faker://en_US"
