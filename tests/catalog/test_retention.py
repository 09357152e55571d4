"""``synth datasets delete`` and ``where-used`` on real builds, on SQLite and on a real
PostgreSQL server: a speaker's clips imported in place, noisy speech built from them and
expanded twice, OCR lines built from their transcripts and expanded. In-process through
``flows.cli.main``: nothing here reaches Prefect."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.cli import main
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.importer import import_dataset, labels_file
from synth.ocr.spec import build_spec as build_ocr_spec
from synth.speech.spec import build_spec as build_speech_spec
from tests.speech.helpers import speechlike, write


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """``cli(*args)``: ``synth args`` in this process; returns (code, stdout, stderr)."""
    from flows.env import _DEFAULTS

    for key, value in _DEFAULTS.items():  # main() sets these; undo it after the test
        monkeypatch.setenv(key, os.environ.get(key, value))
    monkeypatch.delenv("SYNTH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)

    def call(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@dataclass
class World:
    home: Path
    corpus: Path  # the user's folder, imported in place
    clean: str  # the import's id
    noisy: str  # speech built from it (--clean ID)
    more: str  # noisy expanded
    most: str  # more expanded
    lines: str  # OCR built from the import's transcripts (--texts-from ID)
    longer: str  # lines expanded

    def folder(self, dataset_id: str) -> Path:
        catalog = open_catalog(self.home)
        try:
            return Path(catalog.get(dataset_id).path)
        finally:
            catalog.close()


@pytest.fixture
def world(place, tmp_path, monkeypatch) -> World:
    url = f"sqlite:///{place.target}" if place.backend == "sqlite" else place.target
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTH_CATALOG_URL", url)
    monkeypatch.setenv("SYNTH_HOME", str(home))
    corpus = tmp_path / "speaker-7"
    for i, text in enumerate(["first clip", "second clip here", "the third one"]):
        write(corpus / f"utt{i}.wav", speechlike(1.0 + 0.3 * i, seed=i))
        (corpus / f"utt{i}.txt").write_text(text + "\n", encoding="utf-8")
    catalog = open_catalog(home)
    try:
        clean, _ = import_dataset(
            corpus, "speech", catalog, home, name="speaker-7", licence="CC-BY-4.0"
        )
        spec = build_speech_spec(
            {"clean": str(corpus), "clean_dataset_id": clean.id, "clean_licence": "CC-BY-4.0"}
        ).model_dump(mode="json")
        noisy = build(*prepare("speech", spec, seed=1, count=3, name="noisy", home=home), catalog)
        more = build(*prepare_expansion(noisy.record, 2, home=home), catalog)
        most = build(*prepare_expansion(more.record, 2, home=home), catalog)
        texts = labels_file(clean, home)
        ocr = build_ocr_spec(
            "clean",
            {"text": {"source": "file", "path": str(texts), "dataset_id": clean.id}},
        ).model_dump(mode="json")
        lines = build(*prepare("ocr", ocr, seed=2, count=3, name="lines", home=home), catalog)
        longer = build(*prepare_expansion(lines.record, 2, home=home), catalog)
    finally:
        catalog.close()
    return World(
        home,
        corpus,
        clean.id,
        noisy.record.id,
        more.record.id,
        most.record.id,
        lines.record.id,
        longer.record.id,
    )


def _json(cli, *args: str, code: int = 0) -> dict:
    got, out, err = cli(*args, "--json")
    assert got == code, (out, err)
    return json.loads(out)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_where_used_finds_a_clip_two_generations_down_by_path_and_by_sha256(cli, world):
    clip = world.corpus / "utt1.wav"
    by_path = _json(cli, "datasets", "where-used", str(clip), "--home", str(world.home))
    found = {d["id"]: d for d in by_path["datasets"]}
    assert set(found) == {
        world.clean,
        world.noisy,
        world.more,
        world.most,
        world.lines,
        world.longer,
    }
    assert by_path["deleted"] == []
    # the OCR lines hold it only through the import's transcripts, then their expansion
    assert [(s["id"], s["relation"]) for s in found[world.longer]["chain"]] == [
        (world.clean, "imported file utt1.wav"),
        (world.lines, "texts input"),
        (world.longer, "expansion"),
    ]
    assert [(s["id"], s["relation"]) for s in found[world.most]["chain"]] == [
        (world.clean, "imported file utt1.wav"),
        (world.noisy, "clean_corpus input"),
        (world.more, "expansion"),
        (world.most, "expansion"),
    ]
    # it lists the clip itself too: one of the talkers of its babble noise (seeded draws)
    assert found[world.most]["direct"] == ["babble_speech input"]
    assert found[world.longer]["direct"] == []
    assert found[world.longer]["depth"] == 3 and found[world.clean]["depth"] == 1

    digest = _sha(clip)
    for ref in (digest, digest[:10], f"sha256:{digest}"):
        by_sha = _json(cli, "datasets", "where-used", ref, "--home", str(world.home))
        assert {d["id"] for d in by_sha["datasets"]} == set(found), ref
        chain = {d["id"]: d["chain"] for d in by_sha["datasets"]}[world.most]
        assert [s["id"] for s in chain] == [world.clean, world.noisy, world.more, world.most]
    # the folder: every dataset holding any file of it
    by_folder = _json(cli, "datasets", "where-used", str(world.corpus), "--home", str(world.home))
    assert {d["id"] for d in by_folder["datasets"]} == set(found)
    # a dataset id: what was built from it, at any depth
    by_id = _json(cli, "datasets", "where-used", world.noisy[:10], "--home", str(world.home))
    assert [(d["id"], d["depth"]) for d in by_id["datasets"]] == [
        (world.more, 1),
        (world.most, 2),
    ]
    assert by_id["matched_ids"] == [world.noisy]
    code, out, err = cli("datasets", "where-used", str(clip), "--home", str(world.home))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"6 datasets use {clip}:"
    assert (
        f"      via imported file utt1.wav: {world.clean[:12]} -> texts input: "
        f"{world.lines[:12]} -> expansion: {world.longer[:12]}"
    ) in lines


def test_where_used_of_a_file_no_dataset_holds_and_bad_refs(cli, world, tmp_path):
    other = tmp_path / "other.wav"
    other.write_bytes(b"RIFF")
    assert _json(cli, "datasets", "where-used", str(other))["datasets"] == []
    code, out, _ = cli("datasets", "where-used", str(other))
    assert (code, out) == (0, f"no dataset uses {other}\n")
    code, out, err = cli("datasets", "where-used", "abc123")
    assert code == 2 and out == ""
    assert err == (
        "synth: error: REF 'abc123': give at least 8 hex digits of a sha256 or dataset id\n"
    )


def test_delete_refuses_while_datasets_are_built_from_it(cli, world):
    folder = world.folder(world.noisy)
    code, out, err = cli("datasets", "delete", world.noisy[:12], "--home", str(world.home))
    assert code == 2 and out == ""
    assert err == (
        f"synth: error: dataset {world.noisy[:12]} (noisy): 2 datasets were built from it: "
        f"{world.more[:12]} (noisy), {world.most[:12]} (noisy); delete them first or give "
        "--with-descendants\n"
    )
    assert folder.is_dir() and world.folder(world.noisy) == folder  # nothing changed
    assert not (world.home / ".trash").exists()


def test_delete_with_descendants_removes_files_and_leaves_tombstones(cli, world, place):
    from synth.engine.retention import os_user

    folders = {i: world.folder(i) for i in (world.noisy, world.more, world.most)}
    got = _json(
        cli,
        "datasets",
        "delete",
        world.noisy[:12],
        "--with-descendants",
        "--reason",
        "speaker 7 withdrew consent",
        "--home",
        str(world.home),
    )
    assert [t["id"] for t in got["deleted"]] == [world.most, world.more, world.noisy]
    assert got["problems"] == []
    for t in got["deleted"]:
        assert t["reason"] == "speaker 7 withdrew consent"
        assert t["files"] == f"removed {folders[t['id']]}"
        assert t["path"] == str(folders[t["id"]]) and t["kind"] == "speech"
        assert t["inputs"] > 3
        assert t["deleted_by"] == os_user()
        assert t["deleted_role"] == (None if place.backend == "sqlite" else "synth")
    assert got["deleted"][-1]["name"] == "noisy"
    for folder in folders.values():
        assert not folder.exists()
    assert not (world.home / ".trash").exists()
    assert (world.home / "datasets").is_dir()  # the others' folders stay
    assert world.folder(world.lines).is_dir()

    listed = {d["id"] for d in _json(cli, "datasets", "list")["datasets"]}
    assert listed == {world.clean, world.lines, world.longer}
    # show, lineage and a second delete each say it is gone, in one line
    for args in (("show",), ("lineage",), ("delete",)):
        code, out, err = cli("datasets", *args, world.more[:12])
        assert code == 2 and out == "", args
        [line] = err.splitlines()
        assert f"dataset {world.more[:12]} (noisy) was deleted on " in line
        assert line.endswith(": speaker 7 withdrew consent"), line
    assert err.startswith("synth: error: cannot delete: dataset ")

    # the input's lineage still names what was built from it, as deleted
    code, out, _ = cli("datasets", "lineage", world.clean[:12])
    assert code == 0
    deleted = [line for line in out.splitlines() if "DELETED" in line]
    assert {line.split()[1] for line in deleted} == {i[:12] for i in folders}
    assert deleted[0].strip().startswith(f"input: {world.noisy[:12]}  noisy (DELETED on ")
    assert deleted[0].endswith(": speaker 7 withdrew consent)")
    lineage = _json(cli, "datasets", "lineage", world.clean[:12])
    [speech] = [d for d in lineage["descendants"] if d["id"] == world.noisy]
    assert speech["deleted"]["reason"] == "speaker 7 withdrew consent"
    assert [d["id"] for d in speech["descendants"]] == [world.more]

    graves = _json(cli, "datasets", "tombstones")["tombstones"]
    assert {t["id"] for t in graves} == set(folders)
    code, out, _ = cli("datasets", "tombstones")
    assert code == 0 and len(out.splitlines()) == 3
    assert f"{world.noisy[:12]}  noisy (speech, 3 samples): deleted on " in out

    # where-used names the deleted ones apart, with their tombstones
    used = _json(cli, "datasets", "where-used", str(world.corpus / "utt0.wav"))
    assert {d["id"] for d in used["datasets"]} == {world.clean, world.lines, world.longer}
    assert {d["id"] for d in used["deleted"]} == {world.noisy, world.more, world.most}
    assert all("speaker 7 withdrew consent" in d["deleted"] for d in used["deleted"])


def test_deleting_an_import_keeps_the_users_files(cli, world):
    before = {p.name: _sha(p) for p in sorted(world.corpus.iterdir())}
    index = world.home / "imports" / world.clean
    assert index.is_dir()
    got = _json(
        cli, "datasets", "delete", world.clean[:12], "--with-descendants", "--reason", "gone"
    )
    ids = [t["id"] for t in got["deleted"]]
    assert ids[-1] == world.clean and len(ids) == 6
    assert ids.index(world.longer) < ids.index(world.lines)  # descendants first
    assert ids.index(world.most) < ids.index(world.more) < ids.index(world.noisy)
    assert got["deleted"][-1]["files"] == (
        f"kept {world.corpus} (imported in place: the user's files, not synth's); "
        f"removed synth's index {index}"
    )
    assert {p.name: _sha(p) for p in sorted(world.corpus.iterdir())} == before
    assert not index.exists()
    assert _json(cli, "datasets", "list")["datasets"] == []
    code, out, err = cli("datasets", "delete", world.clean[:12])
    assert code == 2 and out == ""
    assert err.startswith(f"synth: error: cannot delete: dataset {world.clean[:12]} (speaker-7)")


def test_a_build_that_read_a_dataset_deleted_meanwhile_shows_it_deleted(cli, world):
    """A build that started before its input was deleted registers after: its show and lineage
    name the input as deleted, with the tombstone's time, user and reason."""
    from synth.engine.retention import delete_dataset

    catalog = open_catalog(world.home)
    try:
        source = catalog.get(world.longer)
        texts = labels_file(source, world.home)
        spec = build_ocr_spec(
            "clean",
            {"text": {"source": "file", "path": str(texts), "dataset_id": source.id}},
        ).model_dump(mode="json")
        plan, gen = prepare("ocr", spec, seed=5, count=2, name="late", home=world.home)

        def delete_meanwhile(_pool) -> None:
            delete_dataset(catalog, source.id, world.home, reason="superseded")

        late = build(plan, gen, catalog, on_pool=delete_meanwhile).record
    finally:
        catalog.close()
    assert not texts.exists()  # the label file --texts-from wrote went with it
    code, out, _ = cli("datasets", "show", late.id[:12])
    assert code == 0
    assert f"  {'':11} dataset {world.longer[:12]} (lines) was deleted on " in out
    assert out.rstrip().endswith(": superseded")
    shown = _json(cli, "datasets", "show", late.id[:12])
    [gone] = shown["deleted_inputs"]
    assert (gone["id"], gone["reason"], gone["name"]) == (world.longer, "superseded", "lines")
    assert gone["parent_id"] == world.lines  # the tombstone keeps its own lineage
    code, out, _ = cli("datasets", "lineage", late.id[:12])
    assert f"input: {world.longer[:12]}  lines (DELETED on " in out
    assert f"parent: {world.lines[:12]}  lines" in out


def test_the_delete_transaction_refuses_a_dataset_built_from_it_meanwhile(catalog):
    """The check inside the transaction: a version registered from it after the caller looked
    stops the delete with nothing changed, on both backends."""
    from synth.catalog.base import Tombstone
    from synth.errors import SynthError
    from tests.catalog.helpers import hex_id, info

    source, _ = catalog.register(info(hex_id("aa01"), name="source"), "/data/source")
    built = dict(info(hex_id("bb02"), name="built"))
    built["inputs"] = [
        {
            "role": "texts",
            "name": "source",
            "uri": f"dataset:{source.id}",
            "sha256": source.id,
            "licence": "OFL-1.1",
        }
    ]
    catalog.register(built, "/data/built")
    grave = Tombstone.of(source, by="me", role=None, reason="r", files="f", when="2026-01-01")
    with pytest.raises(SynthError) as err:
        catalog.delete([source], [grave])
    assert str(err.value) == (
        f"dataset {source.id[:12]}: datasets were built from it meanwhile "
        f"({hex_id('bb02')[:12]}); nothing deleted"
    )
    assert catalog.get(source.id) == source
    assert catalog.tombstones() == {}
    assert [link.child for link in catalog.children([source.id])] == [hex_id("bb02")]
