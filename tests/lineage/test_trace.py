"""Tracing ancestry and descendants, rendered as tree, Mermaid and DOT; diffs of two versions."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.importer import import_dataset, labels_file
from synth.lineage.trace import diff, render_dot, render_mermaid, render_tree, trace
from synth.ocr.spec import build_spec


@pytest.fixture
def family(tmp_path):
    home = tmp_path / "home"
    catalog = open_catalog(home)
    real = tmp_path / "real"
    real.mkdir()
    Image.new("RGB", (30, 10)).save(real / "a.png")
    (real / "metadata.jsonl").write_text(json.dumps({"file_name": "a.png", "text": "Real text"}))
    imported, _ = import_dataset(real, "ocr", catalog, home, name="real", licence="CC0-1.0")
    spec = build_spec(
        "clean",
        {
            "shard_size": 8,
            "text": {
                "source": "file",
                "path": str(labels_file(imported, home)),
                "dataset_id": imported.id,
            },
        },
    ).model_dump(mode="json")
    base = build(*prepare("ocr", spec, seed=1, count=10, name="syn", home=home), catalog).record
    trigger = {
        "type": "diagnosis",
        "model": "crnn-v2",
        "diagnosis": {"findings": ["high_variance"]},
    }
    grown = build(*prepare_expansion(base, 6, home=home, trigger=trigger), catalog).record
    yield catalog, imported, base, grown
    catalog.close()


def test_trace_walks_parents_inputs_and_children(family):
    catalog, imported, base, grown = family
    t = trace(catalog, grown.id[:10])
    assert t["id"] == grown.id and t["trigger"]["type"] == "diagnosis"
    relations = {(a["id"], a["relation"]) for a in t["ancestors"]}
    # an expansion keeps its parent's spec, and so its parent's dataset inputs
    assert relations == {(base.id, "parent"), (imported.id, "input")}
    parent = next(a for a in t["ancestors"] if a["relation"] == "parent")
    (grand,) = parent["ancestors"]
    assert grand["id"] == imported.id and grand["relation"] == "input"
    assert grand["licences"] == ["CC0-1.0"]
    fonts = [i for i in t["inputs"] if i["role"] == "font"]
    assert fonts and all(len(i["sha256"]) == 64 and i["licence"] for i in fonts)
    down = {d["id"]: d for d in trace(catalog, imported.id)["descendants"]}
    assert set(down) == {base.id, grown.id}
    assert down[base.id]["descendants"][0]["id"] == grown.id


def test_renderings_name_every_version(family):
    catalog, imported, base, grown = family
    t = trace(catalog, base.id)
    tree = render_tree(t)
    assert base.id[:12] in tree and imported.id[:12] in tree and grown.id[:12] in tree
    assert "diagnosis of crnn-v2" in tree
    mermaid = render_mermaid(t)
    assert mermaid.startswith("graph LR")
    assert f"d{imported.id[:12]} -->|input| d{base.id[:12]}" in mermaid
    assert f"d{base.id[:12]} -->|expansion / diagnosis of crnn-v2| d{grown.id[:12]}" in mermaid
    dot = render_dot(t)
    assert dot.startswith("digraph") and f'"{base.id[:12]}" -> "{grown.id[:12]}"' in dot


def test_diff_shows_counts_spec_and_distributions(family):
    _catalog, imported, base, grown = family
    d = diff(base, grown)
    assert d["count"] == [10, 16]
    assert d["trigger"][1]["type"] == "diagnosis"
    assert d["spec"] == {}  # an expansion keeps its parent's spec
    font_shares = d["distributions"]["font"]
    assert abs(sum(font_shares[0].values()) - 1) < 1e-3
    other = diff(imported, base)
    assert "imported.layout" in other["spec"]
