"""What a restricted dataset's flow run shows in Prefect: its id and access level, no path, no
dataset card and none of its texts (a real Prefect server; docs/access.md)."""

from __future__ import annotations

import json
from pathlib import Path

from synth.catalog.access import ACCESS_ENV
from tests.flows.test_jobs import _artifacts


def test_a_restricted_build_publishes_its_id_and_level_but_no_path_or_texts(
    prefect_api, home, monkeypatch
):
    from flows.ocr import ocr_dataset

    monkeypatch.setenv(ACCESS_ENV, "restricted")
    out = ocr_dataset(count=4, seed=5, preset="clean", name="Secret_v1", home=str(home))
    rec = out["record"]
    assert rec["access"] == "restricted"
    [table] = _artifacts("dataset-secret-v1")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    values = {row["field"]: row["value"] for row in rows}
    assert values["dataset id"] == rec["id"] and values["access"] == "restricted"
    assert "path" not in values
    [card] = _artifacts("card-secret-v1")
    texts = [
        json.loads(line)["text"]
        for line in (Path(rec["path"]) / "metadata.jsonl").read_text().splitlines()
    ]
    for shown in (json.dumps(rows), card.data):
        assert str(home) not in shown and rec["path"] not in shown
        assert not [t for t in texts if t in shown]
    assert f"`{rec['id']}`" in card.data and "**restricted**" in card.data
