"""Where a build runs: here without Prefect when no server is configured (nothing of Prefect is
imported), a flow run on the server when one is; the same dataset either way, the record saying
which. And what a flow run shows in Prefect: a table and a markdown artifact per build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flows.plans import prefect_api_url
from tests.conftest import REPO

# -- is a server configured? -----------------------------------------------------------------------


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {"PREFECT_HOME": str(tmp_path / "prefect-home"), **extra}


def test_no_url_anywhere_is_no_server(tmp_path):
    assert prefect_api_url(_clean_env(tmp_path), cwd=tmp_path) is None
    # Prefect's own default profile, "ephemeral", has no URL either
    (tmp_path / "prefect-home").mkdir()
    (tmp_path / "prefect-home" / "profiles.toml").write_text(
        'active = "ephemeral"\n[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
    )
    assert prefect_api_url(_clean_env(tmp_path), cwd=tmp_path) is None


def test_a_configured_server_that_does_not_answer_is_one_line_and_nothing_is_built(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    env = _clean_env(tmp_path, PREFECT_API_URL=url, SYNTH_HOME=str(tmp_path / "home"))
    env.pop("SYNTH_CATALOG_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ocr", "--count", "3"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"synth: error: PREFECT_API_URL={url}: the Prefect server does not answer ([Errno 111] "
        "Connection refused); start it (prefect server start), or unset PREFECT_API_URL "
        "(environment, .env, prefect.toml or the active Prefect profile) to build here "
        "without Prefect"
    ]
    assert not list((tmp_path / "home" / "datasets").glob("*/dataset.json"))


def test_the_url_is_read_where_prefect_reads_it(tmp_path):
    url = "http://127.0.0.1:4200/api"
    assert prefect_api_url(_clean_env(tmp_path, PREFECT_API_URL=url), cwd=tmp_path) == url
    assert prefect_api_url(_clean_env(tmp_path, PREFECT_API_URL=""), cwd=tmp_path) is None

    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "remote"\n'
        f'[profiles.remote]\nPREFECT_API_URL = "{url}"\n'
        '[profiles.other]\nPREFECT_API_URL = "http://other:4200/api"\n'
        "[profiles.bare]\n"
    )
    assert prefect_api_url(_clean_env(tmp_path), cwd=tmp_path) == url  # the active profile
    chosen = _clean_env(tmp_path, PREFECT_PROFILE="other")
    assert prefect_api_url(chosen, cwd=tmp_path) == "http://other:4200/api"
    assert prefect_api_url(_clean_env(tmp_path, PREFECT_PROFILE="bare"), cwd=tmp_path) is None
    elsewhere = tmp_path / "profiles-elsewhere.toml"
    elsewhere.write_text('active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://x/api"\n')
    moved = _clean_env(tmp_path, PREFECT_PROFILES_PATH=str(elsewhere))
    assert prefect_api_url(moved, cwd=tmp_path) == "http://x/api"

    # the working directory's files come before the profile, the environment before them
    work = tmp_path / "work"
    work.mkdir()
    (work / "prefect.toml").write_text('[api]\nurl = "http://toml/api"\n')
    assert prefect_api_url(_clean_env(tmp_path), cwd=work) == "http://toml/api"
    (work / ".env").write_text("# a comment\nPREFECT_API_URL='http://dotenv/api'\n")
    assert prefect_api_url(_clean_env(tmp_path), cwd=work) == "http://dotenv/api"
    env = _clean_env(tmp_path, PREFECT_API_URL="http://env/api")
    assert prefect_api_url(env, cwd=work) == "http://env/api"
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.prefect.api]\nurl = "http://pyproject/api"\n')
    assert prefect_api_url(_clean_env(tmp_path), cwd=project) == "http://pyproject/api"


# -- without a server: no Prefect at all -----------------------------------------------------------
_LOCAL_SESSION = """
import json, sys
from flows.cli import main
from synth.catalog import open_catalog

home, config = sys.argv[1], sys.argv[2]
codes = [main(["ocr", "--count", "30", "--seed", "4", "--preset", "clean",
               "--config", config, "--home", home, "--json"])]
parent = open_catalog(home).list()[0].id
codes.append(main(["expand", parent[:12], "--count", "10", "--home", home, "--json"]))
codes.append(main(["diagnose", "--human-error", "1", "--train-error", "2", "--val-error", "6",
                   "--expand", parent[:12], "--count", "20", "--home", home, "--json"]))
prefect = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
print(json.dumps({"codes": codes, "prefect": prefect}))
"""


def _local(tmp_path: Path, home: Path) -> dict:
    config = tmp_path / "shards.toml"
    config.write_text("shard_size = 10\n")
    env = _clean_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop("SYNTH_CATALOG_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", _LOCAL_SESSION, str(home), str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env or prefect.toml here
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    return {"outputs": [json.loads(line) for line in lines[:-1]], **json.loads(lines[-1])}


def _dataset_json(path: str) -> dict:
    return json.loads((Path(path) / "dataset.json").read_text(encoding="utf-8"))


def _events(home: Path) -> list[dict]:
    path = home / "lineage" / "openlineage.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _comparable(event: dict, home: Path) -> dict:
    """An OpenLineage event without what differs between two runs of one build: times, run
    ids, the Prefect parent facet, and the data root in paths."""
    text = json.dumps(event).replace(str(home), "<home>")
    event = json.loads(text)
    event.pop("eventTime")
    event["run"].pop("runId")
    event["run"]["facets"].pop("parent", None)
    return event


def test_without_a_server_builds_run_here_import_no_prefect_and_match_a_flow_run(
    tmp_path, prefect_api
):
    local_home = tmp_path / "local"
    local = _local(tmp_path, local_home)
    assert local["codes"] == [0, 0, 0]
    assert local["prefect"] == []  # not a single prefect module, for ocr, expand and diagnose
    built, expanded, diagnosed = local["outputs"]
    assert (built["count"], expanded["count"], diagnosed["expansion"]["count"]) == (30, 40, 50)
    info = _dataset_json(built["path"])
    assert info["run"]["orchestrator"] == "local" and info["run"]["flow_run_id"] is None
    assert info["run"]["runner"] == "process" and info["run"]["workers"] == 1
    assert _dataset_json(expanded["path"])["run"]["orchestrator"] == "local"
    assert diagnosed["expansion"]["trigger"]["type"] == "diagnosis"

    # the same build as a flow run on a real Prefect server: same id and lineage
    from flows.ocr import ocr_dataset

    flow_home = tmp_path / "flow"
    result = ocr_dataset(
        count=30, seed=4, preset="clean", config={"shard_size": 10}, home=str(flow_home)
    )
    rec = result["record"]
    assert rec["id"] == built["id"] and result["built"]["fingerprint"] == built["fingerprint"]
    assert rec["flow_run_id"] and len(rec["flow_run_id"]) == 36
    on_server = _dataset_json(result["built"]["path"])
    assert on_server["run"]["orchestrator"] == "prefect"
    assert on_server["run"]["flow_run_id"] == rec["flow_run_id"]
    for key in ("id", "fingerprint", "spec", "seed", "code_version", "libraries", "inputs"):
        assert on_server[key] == info[key], key
    for key in ("licences", "parent", "trigger", "files", "shards"):
        assert on_server[key] == info[key], key
    # The statistics match, seal included: the card names its folder, not the data root.
    assert on_server["statistics"] == info["statistics"]
    assert (Path(result["built"]["path"]) / "README.md").read_bytes() == (
        Path(built["path"]) / "README.md"
    ).read_bytes()

    local_events = [e for e in _events(local_home) if e["job"]["name"] == "ocr.ocr-clean"]
    flow_events = _events(flow_home)
    assert [e["eventType"] for e in flow_events] == ["START", "COMPLETE"]
    assert [_comparable(e, flow_home) for e in flow_events] == [
        _comparable(e, local_home) for e in local_events[:2]
    ]
    assert flow_events[0]["run"]["facets"]["parent"]["run"]["runId"] == rec["flow_run_id"]
    assert "parent" not in local_events[0]["run"]["facets"]


# -- artifacts -------------------------------------------------------------------------------------
def test_artifact_keys_are_lowercase_letters_digits_and_dashes():
    from flows.build import artifact_key

    assert artifact_key("ocr-default", "dataset") == "dataset-ocr-default"
    assert artifact_key("My_Lines.v2", "card") == "card-my-lines-v2"
    assert artifact_key("__", "card") == "card-dataset"


def _artifacts(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )


def test_a_build_on_a_server_publishes_what_it_made_as_artifacts(prefect_api, home):
    from flows.ocr import ocr_dataset

    first = ocr_dataset(count=12, seed=1, preset="default", name="Lines_v1", home=str(home))
    second = ocr_dataset(count=14, seed=1, preset="default", name="Lines_v1", home=str(home))
    tables = _artifacts("dataset-lines-v1")
    assert [a.type for a in tables] == ["table", "table"]  # two versions under one key
    assert [str(a.flow_run_id) for a in tables] == [
        second["record"]["flow_run_id"],
        first["record"]["flow_run_id"],
    ]
    rec = second["record"]
    rows = json.loads(tables[0].data) if isinstance(tables[0].data, str) else tables[0].data
    values = {row["field"]: row["value"] for row in rows}
    assert values["dataset id"] == rec["id"] and values["path"] == rec["path"]
    assert values["count"] == 14 and values["name"] == "Lines_v1" and values["kind"] == "ocr"
    assert values["licences"] == ", ".join(rec["licences"])
    rejections = rec["statistics"]["rejections"]
    assert {k[len("rejected: ") :]: v for k, v in values.items() if k.startswith("rejected: ")} == (
        rejections
    )
    assert rejections or values["rejected"] == 0

    cards = _artifacts("card-lines-v1")
    assert [a.type for a in cards] == ["markdown", "markdown"]
    summary = cards[0].data
    assert summary.startswith("# Lines_v1\n")
    assert f"- id: `{rec['id']}`" in summary and "**14 samples**" in summary
    assert "## Statistics" in summary and "## Licences and attribution" in summary
    assert "## Preview" not in summary and "pretty_name" not in summary  # no front matter
    assert f"`{first['record']['id']}`" in cards[1].data


# -- one spec check, one generator ---------------------------------------------------------------
def _counting_factories(monkeypatch) -> list[str]:
    """Every generator made from now on, by kind (the kinds' factories, wrapped)."""
    import importlib

    from synth.engine import generator as registry

    for module in ("synth.ocr.generator", "synth.speech.generator"):
        importlib.import_module(module)  # the kinds register themselves when imported

    made: list[str] = []
    for kind in ("ocr", "speech"):
        real = registry._REGISTRY[kind]

        def factory(spec, kind=kind, real=real):
            made.append(kind)
            return real(spec)

        monkeypatch.setitem(registry._REGISTRY, kind, factory)
    return made


def _cli(*args: str) -> dict:
    import contextlib
    import io

    from flows.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args, "--json"])
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue().splitlines()[-1])


def test_the_command_line_makes_one_generator_per_build_without_a_server(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.chdir(tmp_path)
    made = _counting_factories(monkeypatch)
    _cli("ocr", "--count", "3", "--preset", "clean", "--home", str(tmp_path / "h"))
    assert made == ["ocr"]
    _cli("speech", "--count", "3", "--home", str(tmp_path / "h"))
    assert made == ["ocr", "speech"]


def test_the_command_line_makes_one_generator_per_build_on_a_server(
    prefect_api, tmp_path, monkeypatch
):
    made = _counting_factories(monkeypatch)
    out = _cli("ocr", "--count", "3", "--preset", "clean", "--home", str(tmp_path / "h"))
    assert made == ["ocr"]  # the flow run in this process took the command's generator
    info = _dataset_json(out["path"])
    assert info["run"]["orchestrator"] == "prefect" and info["run"]["flow_run_id"]
